"""Liquidation map export: one heatmap column as USD per price bucket and tier, with the
model's cumulative curves and the clusters found on it; CSV, JSON, Parquet or PNG."""

from __future__ import annotations

import csv
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import orjson
from numpy.typing import NDArray

from liqscope.domain.errors import InputError
from liqscope.export.png import (
    FOREGROUND,
    PALETTE,
    dollar_axis,
    figure,
    save,
    style_axes,
    tier_colour,
)
from liqscope.model.estimator import Heatmap

F64 = NDArray[np.float64]

MAP_FORMATS = (".png", ".csv", ".json", ".parquet")


@dataclass(frozen=True, slots=True, eq=False)
class MapTable:
    """A map cropped to a window around price and reduced to at most a number of buckets.

    ``long``/``short`` are ``[n_tiers, n_buckets]`` USD; bucket ``i`` is
    ``[bucket_edges[i], bucket_edges[i+1])``. ``cum_long[i]`` is the long USD liquidated if
    price falls to bucket ``i`` (0 above price), ``cum_short[i]`` the short USD if it rises
    there (0 below), as :meth:`Heatmap.profile` computes them on the model's grid.
    """

    ts: int
    """When the map is known (end of its column), epoch ms."""
    price: float
    bucket_edges: F64
    tiers: tuple[str, ...]
    long: F64
    short: F64
    cum_long: F64
    cum_short: F64
    meta: dict[str, Any] = field(default_factory=dict)
    """What the map is of: symbol, venues, preset, model version, clusters, key levels."""

    def totals(self) -> tuple[F64, F64]:
        """Long and short USD per bucket over the tiers."""
        return self.long.sum(axis=0), self.short.sum(axis=0)

    def columns(self) -> dict[str, F64]:
        """The table as named columns (one row per bucket)."""
        cols: dict[str, F64] = {
            "price_lo": self.bucket_edges[:-1],
            "price_hi": self.bucket_edges[1:],
        }
        for i, tier in enumerate(self.tiers):
            cols[f"long_{tier}"] = self.long[i]
        for i, tier in enumerate(self.tiers):
            cols[f"short_{tier}"] = self.short[i]
        long_total, short_total = self.totals()
        cols.update(
            long_total=long_total,
            short_total=short_total,
            cum_long=self.cum_long,
            cum_short=self.cum_short,
        )
        return cols

    def to_dict(self) -> dict[str, Any]:
        long_total, short_total = self.totals()
        return {
            **self.meta,
            "ts": self.ts,
            "price": self.price,
            "units": "usd",
            "bucket_edges": self.bucket_edges,
            "tiers": list(self.tiers),
            "long": {t: self.long[i] for i, t in enumerate(self.tiers)},
            "short": {t: self.short[i] for i, t in enumerate(self.tiers)},
            "long_total": long_total,
            "short_total": short_total,
            "cum_long": self.cum_long,
            "cum_short": self.cum_short,
        }


def _groups(n: int, max_buckets: int) -> NDArray[np.intp]:
    return np.arange(0, n, max(1, math.ceil(n / max_buckets)))


def map_table(
    hm: Heatmap,
    *,
    at: int = -1,
    tiers: Iterable[float] | None = None,
    window_pct: float = 15.0,
    max_buckets: int = 200,
    meta: Mapping[str, Any] | None = None,
) -> MapTable:
    """Column ``at`` of ``hm`` (tiers: None = the preset's display tiers) within
    ``±window_pct`` % of its price, adjacent buckets summed to at most ``max_buckets``."""
    if not (0 < window_pct <= 100) or max_buckets < 1:
        raise InputError("the map window must be in (0, 100] % and at least one bucket")
    prof = hm.profile(at, tiers)
    edges = hm.grid.edges
    lo, hi = prof.price * (1 - window_pct / 100), prof.price * (1 + window_pct / 100)
    sel = np.flatnonzero((edges[1:] > lo) & (edges[:-1] < hi))
    if sel.size == 0:
        raise InputError(f"no price buckets within ±{window_pct:g}% of the price")
    a, b = int(sel[0]), int(sel[-1]) + 1
    starts = _groups(b - a, max_buckets)
    last = np.r_[starts[1:], b - a] - 1  # last bucket of each group

    def summed(x: F64) -> F64:
        return np.asarray(np.add.reduceat(x[:, a:b], starts, axis=1), dtype=np.float64)

    return MapTable(
        ts=int(hm.columns_ts[at]) + int(hm.column_ms),
        price=float(prof.price),
        bucket_edges=np.r_[edges[a:b][starts], edges[b]],
        tiers=tuple(f"{lev:g}x" for lev in prof.leverages),
        long=summed(prof.long),
        short=summed(prof.short),
        # cumulative from price outwards: a group's value is that of its farthest bucket
        cum_long=prof.cum_long[a:b][starts],
        cum_short=prof.cum_short[a:b][last],
        meta=dict(meta or {}),
    )


def write_map(path: str | Path, table: MapTable) -> Path:
    """Write ``table`` by file suffix: JSON (everything), CSV or Parquet (one row per bucket;
    Parquet keeps the metadata), PNG (:func:`render_map_png`)."""
    p = Path(path)
    suffix = p.suffix.lower()
    if suffix == ".json":
        p.write_bytes(orjson.dumps(table.to_dict(), option=orjson.OPT_SERIALIZE_NUMPY))
    elif suffix == ".csv":
        cols = table.columns()
        with p.open("w", newline="", encoding="utf-8") as fh:
            w = csv.writer(fh)
            w.writerow(cols)
            w.writerows(zip(*(c.tolist() for c in cols.values()), strict=True))
    elif suffix == ".parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq

        meta = {b"liqscope": orjson.dumps({**table.meta, "ts": table.ts, "price": table.price})}
        pq.write_table(pa.table(table.columns()).replace_schema_metadata(meta), p)
    elif suffix == ".png":
        render_map_png(p, table)
    else:
        raise InputError(f"unsupported map format {suffix!r} (use {', '.join(MAP_FORMATS)})")
    return p


def render_map_png(path: str | Path, table: MapTable) -> Path:
    """Stacked bars of USD per bucket by tier, cumulative longs (red, below price) and shorts
    (green, above), the price and the max-pain levels; price axis in dollars."""
    edges = table.bucket_edges
    mids = (edges[:-1] + edges[1:]) / 2
    width = float(edges[1] - edges[0]) * 0.9
    fig, ax = figure(12, 6, 110)
    bottom = np.zeros(mids.shape[0])
    for i, tier in enumerate(table.tiers):
        vals = table.long[i] + table.short[i]
        ax.bar(mids, vals, width, bottom=bottom, color=tier_colour(tier), label=tier)
        bottom = bottom + vals
    ax2 = ax.twinx()
    below = mids < table.price
    if below.any():
        ax2.plot(
            mids[below], table.cum_long[below], color=PALETTE["long"], label="cumulative longs"
        )
    if (~below).any():
        ax2.plot(
            mids[~below], table.cum_short[~below], color=PALETTE["short"], label="cumulative shorts"
        )
    ax.axvline(table.price, color=PALETTE["price"], linestyle="--", linewidth=1)
    levels = table.meta.get("key_levels") or {}
    for name in ("max_pain_above", "max_pain_below"):
        c = levels.get(name)
        if c:
            ax.axvline(c["peak_price"], color=PALETTE["muted"], linestyle=":", linewidth=1)
            label = f" max pain {name.rsplit('_', 1)[1]}"
            ax.text(c["peak_price"], ax.get_ylim()[1] * 0.95, label, color=FOREGROUND)
    style_axes(ax, ax2)
    dollar_axis(ax.xaxis)
    dollar_axis(ax.yaxis)
    dollar_axis(ax2.yaxis)
    ax.set_xlabel("liquidation price", color=FOREGROUND)
    ax.set_ylabel("USD per bucket", color=FOREGROUND)
    ax2.set_ylabel("cumulative USD", color=FOREGROUND)
    m = table.meta
    ax.set_title(
        f"{m.get('symbol', '?')} liquidation map · {', '.join(m.get('venues', []))} · preset "
        f"{m.get('preset', '?')} · price ${table.price:,.2f}",
        color=FOREGROUND,
    )
    return save(fig, ax, path)
