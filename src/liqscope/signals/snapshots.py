"""Point-in-time snapshots: the map as known at time t, stored every N minutes.

A snapshot holds the live levels ``[n_tiers, 2, n_buckets]`` (float32, zlib-compressed) at
the *end* of a heatmap column (``ts`` = when it became known), with the grid, the model
configuration and the model version, so a backtest can use only what was known then.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from liqscope.domain.errors import InputError
from liqscope.model.config import MODEL_VERSION
from liqscope.model.estimator import EstimateResult, Heatmap
from liqscope.model.grid import PriceGrid
from liqscope.signals.clusters import LevelMap
from liqscope.signals.storage import SignalStore

CODEC = "zlib-f32"


@dataclass(frozen=True, eq=False)
class Snapshot:
    venue: str
    symbol: str
    preset: str
    ts: int
    """When the map was known (end of its column), epoch ms."""
    price: float
    grid: PriceGrid
    leverages: tuple[float, ...]
    levels: NDArray[np.float32]
    """``[n_tiers, 2, n_buckets]`` USD; side 0 = long."""
    model_version: str = MODEL_VERSION
    config: dict[str, Any] = field(default_factory=dict)

    def level_map(self, tiers: Iterable[float] | None = None) -> LevelMap:
        idx = list(range(len(self.leverages)))
        if tiers is not None:
            want = [float(t) for t in tiers]
            idx = [i for i, lev in enumerate(self.leverages) if lev in want]
        lv = self.levels[idx].astype(np.float64)
        return LevelMap(
            self.price, self.grid.origin, self.grid.step, lv[:, 0], lv[:, 1],
            tuple(self.leverages[i] for i in idx), self.ts,
        )  # fmt: skip

    def to_row(self) -> dict[str, Any]:
        data = np.ascontiguousarray(self.levels, dtype=np.float32)
        return {
            "venue": self.venue,
            "symbol": self.symbol,
            "preset": self.preset,
            "ts": self.ts,
            "price": self.price,
            "model_version": self.model_version,
            "grid_origin": self.grid.origin,
            "grid_step": self.grid.step,
            "grid_n": self.grid.n,
            "leverages": json.dumps(list(self.leverages)),
            "config": json.dumps(self.config, default=str),
            "codec": CODEC,
            "data": zlib.compress(data.tobytes(), 6),
        }

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Snapshot:
        if row["codec"] != CODEC:
            raise InputError(f"unknown snapshot codec {row['codec']!r}")
        levs = tuple(float(x) for x in json.loads(row["leverages"]))
        n = int(row["grid_n"])
        arr = np.frombuffer(zlib.decompress(row["data"]), dtype=np.float32)
        return cls(
            venue=row["venue"],
            symbol=row["symbol"],
            preset=row["preset"],
            ts=int(row["ts"]),
            price=float(row["price"]),
            grid=PriceGrid(float(row["grid_origin"]), float(row["grid_step"]), n),
            leverages=levs,
            levels=arr.reshape(len(levs), 2, n).copy(),
            model_version=row["model_version"],
            config=json.loads(row["config"]),
        )


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
                grid=hm.grid,
                leverages=hm.leverages,
                levels=np.array(hm.snapshots[c], dtype=np.float32),
                model_version=version,
                config=cfg,
            )
        )
    return out


def save_snapshots(store: SignalStore, snaps: Iterable[Snapshot]) -> int:
    n = 0
    for s in snaps:
        store.put_snapshot(s.to_row())
        n += 1
    return n


def load_snapshots(
    store: SignalStore, venue: str, symbol: str, preset: str, t0: int, t1: int
) -> list[Snapshot]:
    """Snapshots known in ``[t0, t1)``, oldest first."""
    return [Snapshot.from_row(r) for r in store.snapshot_rows(venue, symbol, preset, t0, t1)]


def snapshot_at(
    store: SignalStore, venue: str, symbol: str, preset: str, at_ms: int
) -> Snapshot | None:
    """The latest snapshot known at ``at_ms`` (never one from later)."""
    row = store.latest_snapshot_row(venue, symbol, preset, at_ms)
    return None if row is None else Snapshot.from_row(row)
