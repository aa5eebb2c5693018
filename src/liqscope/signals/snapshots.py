"""Point-in-time snapshots: the map as known at time t, stored every N minutes.

A snapshot holds the live levels ``[n_tiers, 2, n_buckets]`` (float32, zlib-compressed) at
the *end* of a heatmap column (``ts`` = when it became known), with the grid, the model
configuration and the model version, so a backtest can use only what was known then.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import fields
from typing import Protocol

import numpy as np

from liqscope.domain.errors import InputError
from liqscope.model.config import MODEL_VERSION
from liqscope.model.estimator import EstimateResult, Heatmap
from liqscope.model.grid import PriceGrid
from liqscope.signals.clusters import LevelMap
from liqscope.store.base import SnapshotRecord


class SnapshotStore(Protocol):
    """What snapshots are saved to and read from: a store, or a ``SignalStore``."""

    def save_snapshots(self, snapshots: Sequence[SnapshotRecord]) -> int: ...
    def snapshots(
        self, venue: str, symbol: str, preset: str, t0: int, t1: int
    ) -> list[SnapshotRecord]: ...
    def snapshot_at(
        self, venue: str, symbol: str, preset: str, at_ms: int
    ) -> SnapshotRecord | None: ...


class Snapshot(SnapshotRecord):
    """A stored snapshot (``ts`` = when the map was known, the end of its column) with its
    grid and its levels as a :class:`LevelMap`."""

    __slots__ = ()

    @property
    def grid(self) -> PriceGrid:
        return PriceGrid(self.grid_origin, self.grid_step, self.grid_n)

    def level_map(self, tiers: Iterable[float] | None = None) -> LevelMap:
        idx = list(range(len(self.leverages)))
        if tiers is not None:
            want = [float(t) for t in tiers]
            idx = [i for i, lev in enumerate(self.leverages) if lev in want]
        lv = self.levels[idx].astype(np.float64)
        return LevelMap(
            self.price, self.grid_origin, self.grid_step, lv[:, 0], lv[:, 1],
            tuple(self.leverages[i] for i in idx), self.ts,
        )  # fmt: skip

    @classmethod
    def from_record(cls, r: SnapshotRecord) -> Snapshot:
        return cls(**{f.name: getattr(r, f.name) for f in fields(SnapshotRecord)})


def take_snapshots(hm: Heatmap, every_ms: int) -> list[Snapshot]:
    """Snapshots of ``hm`` at every column end that is a multiple of ``every_ms``
    (which must be a multiple of the column width)."""
    if every_ms <= 0 or every_ms % hm.column_ms:
        raise InputError(
            f"snapshot interval {every_ms} ms must be a multiple of the column width "
            f"{hm.column_ms} ms"
        )
    ends = hm.columns_ts + hm.column_ms
    cfg = hm.config.to_dict() if isinstance(hm, EstimateResult) else {}
    version = hm.model_version if isinstance(hm, EstimateResult) else MODEL_VERSION
    out = []
    for c in np.flatnonzero(ends % every_ms == 0).tolist():
        out.append(
            Snapshot(
                venue=hm.venue or "?",
                symbol=hm.symbol or "?",
                preset=hm.preset,
                ts=int(ends[c]),
                price=float(hm.column_close[c]),
                model_version=version,
                grid_origin=hm.grid.origin,
                grid_step=hm.grid.step,
                grid_n=hm.grid.n,
                leverages=tuple(hm.leverages),
                config=cfg,
                levels=np.array(hm.snapshots[c], dtype=np.float32),
            )
        )
    return out


def save_snapshots(store: SnapshotStore, snaps: Iterable[Snapshot]) -> int:
    """Store snapshots (one transaction); returns how many."""
    return store.save_snapshots(list(snaps))


def load_snapshots(
    store: SnapshotStore, venue: str, symbol: str, preset: str, t0: int, t1: int
) -> list[Snapshot]:
    """Snapshots known in ``[t0, t1)``, oldest first."""
    return [Snapshot.from_record(r) for r in store.snapshots(venue, symbol, preset, t0, t1)]


def snapshot_at(
    store: SnapshotStore, venue: str, symbol: str, preset: str, at_ms: int
) -> Snapshot | None:
    """The latest snapshot known at ``at_ms`` (never one from later)."""
    r = store.snapshot_at(venue, symbol, preset, at_ms)
    return None if r is None else Snapshot.from_record(r)
