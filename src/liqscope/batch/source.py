"""Where a batch reads its markets from: the lake (DuckDB) or a store (SQLite / PostgreSQL).

A :class:`Source` is a small picklable value sent to every worker; each worker opens its own
reader. Both readers give the estimator the same steps for the same rows.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from liqscope.domain.errors import InputError
from liqscope.domain.registry import market_of
from liqscope.lake import read as lake_read
from liqscope.model.steps import Steps
from liqscope.signals.scorecard import Realized, realized_from_store
from liqscope.store import is_server_url, open_store
from liqscope.store import readers as store_readers
from liqscope.store.base import Store

__all__ = ["Reader", "Source", "resolve_markets"]


class Reader(Protocol):
    """What a batch task reads: the steps and the realized liquidations of one venue's market."""

    def steps(self, venue: str, native: str, t0: int, t1: int, interval_ms: int) -> Steps | None:
        """Estimator steps on ``[t0, t1)`` (None when fewer than two)."""
        ...

    def realized(self, venue: str, native: str, t0: int, t1: int) -> Realized:
        """Realized liquidations on ``[t0, t1)``."""
        ...


class _LakeReader:
    def __init__(self, lake: lake_read.Lake) -> None:
        self.lake = lake

    def steps(self, venue: str, native: str, t0: int, t1: int, interval_ms: int) -> Steps | None:
        return lake_read.read_steps(self.lake, venue, native, t0, t1, interval_ms)

    def realized(self, venue: str, native: str, t0: int, t1: int) -> Realized:
        ts, side, price, usd, _ = self.lake.liquidations(venue, native, t0, t1)
        return Realized(ts, price, usd, side.astype(np.int64))


class _StoreReader:
    def __init__(self, store: Store) -> None:
        self.store = store

    def steps(self, venue: str, native: str, t0: int, t1: int, interval_ms: int) -> Steps | None:
        return store_readers.read_steps(self.store, venue, native, t0, t1, interval_ms)

    def realized(self, venue: str, native: str, t0: int, t1: int) -> Realized:
        return realized_from_store(self.store, venue, native, t0, t1)


@dataclass(frozen=True, slots=True)
class Source:
    """A lake folder or a store (file path or ``postgresql://`` URL); exactly one."""

    lake: str | None = None
    db: str | None = None

    def __post_init__(self) -> None:
        if (self.lake is None) == (self.db is None):
            raise InputError("give exactly one of --lake DIR or --db FILE|URL")
        if self.db is not None and not is_server_url(self.db) and not Path(self.db).is_file():
            raise InputError(f"no store at {self.db}")

    @property
    def label(self) -> str:
        return f"lake {self.lake}" if self.lake is not None else f"store {self.db}"

    @contextmanager
    def reader(self, threads: int | None = 1) -> Iterator[Reader]:
        """A reader for one worker (DuckDB limited to ``threads``: workers run in parallel)."""
        if self.lake is not None:
            with lake_read.Lake(Path(self.lake), threads=threads) as lake:
                yield _LakeReader(lake)
        else:
            assert self.db is not None
            with open_store(self.db, readonly=True) as store:
                yield _StoreReader(store)

    def markets(self) -> list[tuple[str, str]]:
        """``(venue, native symbol)`` of every market with candles."""
        if self.lake is not None:
            with lake_read.Lake(Path(self.lake)) as lake:
                return lake.markets("candles")
        assert self.db is not None
        with open_store(self.db, readonly=True) as store:
            return store.markets(("candles",))


def resolve_markets(
    stored: Sequence[tuple[str, str]], symbols: Sequence[str], venues: Sequence[str] | None
) -> list[tuple[str, Mapping[str, str]]]:
    """For each symbol (a market such as ``BTCUSDT`` or a native name), its market name and
    ``{venue: native symbol}`` on the venues asked for (None: every venue that has it)."""
    out: list[tuple[str, Mapping[str, str]]] = []
    for symbol in dict.fromkeys(s.strip().upper() for s in symbols if s.strip()):
        market = next(
            (market_of(v, s) for v, s in stored if symbol in (s.upper(), market_of(v, s))), symbol
        )
        have = {v: s for v, s in stored if market_of(v, s) == market}
        if not have:
            raise InputError(f"--symbols: no candles stored for {symbol}")
        if venues is None:
            out.append((market, have))
            continue
        missing = [v for v in venues if v not in have]
        if missing:
            raise InputError(
                f"--venues: no candles for {market} on {', '.join(missing)} "
                f"(stored on: {', '.join(have)})"
            )
        out.append((market, {v: have[v] for v in venues}))
    if not out:
        raise InputError("--symbols is empty")
    return out
