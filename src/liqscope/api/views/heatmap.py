"""``/api/heatmap`` and ``/api/heatmap/cell``: the model's heatmap reduced to the screen.

The body of a view is computed once per data version and kept (bytes, gzip, ETag); when a
writer stores new rows, readers get the body they had while one background thread computes
the new one (``Latest``), so writers do not slow readers.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np

from liqscope.api.context import (
    WARMUP_CAP,
    Context,
    ModelRun,
    Window,
    column_width,
    tier_label,
    view_head,
)
from liqscope.api.encoding import (
    F64,
    I64,
    Body,
    compact,
    dumps,
    encode_bin,
    reduce_buckets,
    reduce_columns,
    round_significant,
)
from liqscope.api.errors import ApiError
from liqscope.api.params import CellParams, HeatmapParams
from liqscope.domain.intervals import DAY_MS
from liqscope.model.steps import Steps as ModelSteps

__all__ = ["heatmap_body", "heatmap_cell", "model_window"]

SIDES = {"long": ["long"], "short": ["short"], "both": ["long", "short"], "all": ["long", "short"]}


def model_window(
    ctx: Context, venues: list[str], market: str, w: Window, step: int
) -> tuple[int, int]:
    """``[t0, t1)`` of the model run for a heatmap window: warm-up before it (half the
    window, at most a week, not before the stored data), whole steps. The warm-up starts on
    a whole day (of steps), so as the window moves on with new data the run's start stays
    put for a day and its kept columns apply (``api.columns``)."""
    unit = -(-DAY_MS // step) * step
    warm = (w.start - min(w.span // 2, WARMUP_CAP)) // unit * unit
    rng = ctx.source.data_range(venues, market)
    if rng is not None:
        warm = max(warm, rng[0] // step * step)
    t0 = min(warm // step * step, w.start // step * step)
    return t0, -(-w.end // step) * step


def _matrix(
    ctx: Context, key: tuple[Any, ...], run: ModelRun, levs: list[float], sides: list[str],
    height: int, split: bool, w: Window,
) -> tuple[I64, F64, F64 | None]:  # fmt: skip
    """Column starts inside the window and ``z[row, column]`` in USD (and the long side
    alone when ``split``): the screen's columns, reduced once per column (``ScreenColumns``)."""
    hm = run.estimate.heatmap
    tiers = hm.tier_indices(levs)
    side_idx = sorted({0 if s == "long" else 1 for s in sides})
    ts, z, z_long = ctx.screen.rows(key, run, tiers, side_idx, height, split)
    a, b = (int(i) for i in np.searchsorted(ts, (w.start, w.end)))
    long = None if z_long is None else np.ascontiguousarray(z_long[a:b].T)
    return ts[a:b], np.ascontiguousarray(z[a:b].T), long


def _column_candles(st: ModelSteps, col_ts: I64, col_ms: int) -> dict[str, Any]:
    """OHLC per heatmap column from the model input ``st`` (one venue's steps)."""
    n = col_ts.size
    o, h, lo, cl = (np.full(n, np.nan) for _ in range(4))
    if n:
        end = int(col_ts[-1]) + col_ms
        ok = np.isfinite(st.open) & np.isfinite(st.close) & (st.ts < end) & (st.ts >= col_ts[0])
        idx = np.searchsorted(col_ts, st.ts[ok], side="right") - 1
        inside = idx >= 0
        idx = idx[inside]
        co, ch, clo, cc = (a[ok][inside] for a in (st.open, st.high, st.low, st.close))
        if idx.size:
            np.fmax.at(h, idx, ch)
            np.fmin.at(lo, idx, clo)
            first = np.unique(idx, return_index=True)
            o[first[0]] = co[first[1]]
            last = np.unique(idx[::-1], return_index=True)
            cl[last[0]] = cc[::-1][last[1]]
    return {
        "ts": col_ts,
        "open": round_significant(o),
        "high": round_significant(h),
        "low": round_significant(lo),
        "close": round_significant(cl),
    }


def _encode(body: dict[str, Any], z: F64 | None, z_long: F64 | None, fmt: str) -> bytes:
    body = dict(body, format=fmt)
    if z is not None:
        if fmt == "bin":
            body.update(encode_bin(z, z_long))
        else:
            body["z"] = compact(z, body["units"])
            body["z_long"] = None if z_long is None else compact(z_long, body["units"])
    return dumps(body)


@dataclass(frozen=True, slots=True)
class _View:
    """A heatmap request resolved against the store."""

    market: str
    venues: list[str]
    aggregate: bool
    window: Window
    preset: str
    levs: list[float]
    step: int


def _resolve(ctx: Context, p: HeatmapParams | CellParams) -> _View:
    market, refs = ctx.resolve_market(p.market.symbol)
    venues, aggregate = ctx.resolve_venues(p.market.venues, market, refs)
    window = ctx.resolve_window(p.window, venues, market)
    preset = ctx.resolve_preset(p.model.preset)
    levs = ctx.resolve_tiers(p.model.tiers, preset)
    step = ctx.resolve_step(p.model.interval, window)
    return _View(market, venues, aggregate, window, preset, levs, step)


def heatmap_body(ctx: Context, p: HeatmapParams) -> Body:
    """The heatmap as a cached ``Body``; a repeated view is a few dictionary look-ups."""
    r = _resolve(ctx, p)
    market, venues, aggregate, window = r.market, r.venues, r.aggregate, r.window
    preset, levs, step = r.preset, r.levs, r.step
    sides = SIDES[p.sides or "both"]
    view = (
        "heatmap", market, tuple(venues), (p.range_, p.start, p.end), step, p.width,
        p.height, tuple(levs), tuple(sides), preset, p.units, p.split, p.format,
    )  # fmt: skip
    data_version = ctx.source.version(venues, market)
    version = (data_version, window)  # a range's window moves with the data

    def compute() -> Body:
        t0, t1 = model_window(ctx, venues, market, window, step)
        col_ms = column_width(window.start, window.end, p.width, step)
        run = ctx.model_run(venues, market, t0, t1, step, preset, col_ms)
        key = (tuple(venues), market, t0, step, preset, col_ms, tuple(levs), tuple(sides),
               p.height, p.split and len(sides) == 2)  # fmt: skip
        body, z, z_long = _heatmap(ctx, p, run, key, market, venues, aggregate, window, step,
                                   preset, levs, sides, data_version)  # fmt: skip
        return Body.of(_encode(body, z, z_long, p.format))

    return ctx.latest.get(view, version, compute)


def _heatmap(
    ctx: Context,
    p: HeatmapParams,
    run: ModelRun | None,
    key: tuple[Any, ...],
    market: str,
    venues: list[str],
    aggregate: bool,
    window: Window,
    step: int,
    preset: str,
    levs: list[float],
    sides: list[str],
    version: tuple[int, ...],
) -> tuple[dict[str, Any], F64 | None, F64 | None]:
    est = None if run is None else run.estimate
    skipped = [] if est is None else [v for v in venues if v in est.skipped]
    body: dict[str, Any] = {
        **view_head(market, venues, aggregate, window.start, window.end),
        "range": window.range_label,
        "interval_ms": step,
        "column_ms": step,
        "preset": preset,
        "tiers": [tier_label(x) for x in levs],
        "sides": sides,
        "units": p.units,
        "units_label": "USD notional per price bucket"
        if p.units == "usd"
        else "share of the largest cell in view (0..1)",
        "ts": [],
        "bucket_edges": [],
        "z": [],
        "z_long": None,
        "max": 0.0,
        "candles": {"ts": [], "open": [], "high": [], "low": [], "close": []},
        "model_version": None,
        "data_version": list(version),
        "provenance": ctx.provenance(venues, market, skipped),
        "note": None,
    }
    if run is None or est is None:
        body["note"] = "no stored data for this market and window"
        return body, None, None
    hm = est.heatmap
    body["model_version"] = est.model_version
    notes: list[str] = []
    if skipped:
        notes.append(
            f"no model data for {', '.join(skipped)} in this window: "
            f"the heatmap shows {', '.join(est.used)}"
        )
    split = key[-1]
    col_ts, matrix, lg = _matrix(ctx, key, run, levs, sides, p.height, split, window)
    if col_ts.size == 0:
        body["note"] = "no model columns in this window"
        return body, None, None
    edges = reduce_buckets(hm.grid.edges, np.zeros((0, hm.grid.n)), p.height)[0]
    ts, matrix, starts = reduce_columns(col_ts, matrix, p.width)
    col_ms = hm.column_ms * (int(starts[1] - starts[0]) if starts.size > 1 else 1)
    if int(ts[0]) > window.start + col_ms:
        notes.append(
            "stored data starts at "
            + datetime.fromtimestamp(int(ts[0]) / 1000, UTC).strftime("%Y-%m-%d %H:%MZ")
            + ": the heatmap covers the part of the window with data"
        )
    z_long = None if lg is None else reduce_columns(col_ts, lg, p.width)[1]
    peak = float(np.nanmax(matrix)) if matrix.size else 0.0
    if p.units == "relative" and peak > 0:
        matrix = matrix / peak
        z_long = None if z_long is None else z_long / peak
    candle_venue = est.used[0] if est.used else next(iter(run.steps))
    body.update(
        ts=ts,
        column_ms=col_ms,
        bucket_edges=edges,
        max=peak if p.units == "usd" else 1.0,
        max_usd=peak,
        candles=_column_candles(run.steps[candle_venue], ts, col_ms),
        note="; ".join(notes) or None,
    )
    return body, matrix, z_long


def heatmap_cell(ctx: Context, p: CellParams) -> bytes:
    """USD by tier and side in one (possibly merged) heatmap cell: the tooltip's split."""
    r = _resolve(ctx, p)
    market, venues, window, preset, levs, step = (
        r.market, r.venues, r.window, r.preset, r.levs, r.step
    )  # fmt: skip
    if p.price_hi <= p.price_lo:
        raise ApiError(422, "price_hi", "price_hi must be above price_lo")
    span = p.column_ms if p.column_ms is not None else step
    version = ctx.source.version(venues, market)
    key = ("cell", market, tuple(venues), (p.range_, p.start, p.end), step, preset,
           tuple(levs), p.ts, span, p.price_lo, p.price_hi, p.width)  # fmt: skip

    def compute() -> bytes:
        t0, t1 = model_window(ctx, venues, market, window, step)
        col_ms = column_width(window.start, window.end, p.width, step)
        run = ctx.model_run(venues, market, t0, t1, step, preset, col_ms)
        est = None if run is None else run.estimate
        out: dict[str, Any] = {"ts": p.ts, "price_lo": p.price_lo, "price_hi": p.price_hi}
        rows: list[dict[str, Any]] = []
        if est is not None:
            hm = est.heatmap
            at = p.ts + span // 2
            j = int(np.searchsorted(hm.columns_ts, at, "right") - 1)
            j = max(0, min(j, hm.columns_ts.size - 1))
            prof = hm.profile(j, tiers=levs)
            out["at"] = prof.ts
            mids = hm.grid.lower_edges + hm.grid.step / 2
            sel = (mids >= p.price_lo) & (mids < p.price_hi)
            for i, lev in enumerate(prof.leverages):
                rows.append(
                    {
                        "tier": tier_label(lev),
                        "long": float(np.round(prof.long[i, sel].sum(), 0)),
                        "short": float(np.round(prof.short[i, sel].sum(), 0)),
                    }
                )
        out["tiers"] = rows
        out["long"] = sum(r["long"] for r in rows)
        out["short"] = sum(r["short"] for r in rows)
        return dumps(out)

    raw: bytes = ctx.responses.get_versioned(key, (version, window), compute)
    return raw
