"""A deliberately plain implementation of the estimator semantics, used only by tests.

No numba, no scale factors, no pointers: levels live in a dict keyed by
``(pool, group, side, bucket)`` holding true USD amounts, and every rule of
docs/methodology.md is applied literally. It is slow; never use it for real data.
Bucketing goes through :meth:`PriceGrid.index_of`, the canonical mapping.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from liqscope.model.config import ModelConfig
from liqscope.model.estimator import (
    _long_share,
    _typical,
    book_turnover,
    column_width_ms,
    fill_oi_holes,
    group_layout,
    oi_price,
)
from liqscope.model.grid import PriceGrid
from liqscope.model.steps import Steps


@dataclass
class ReferenceResult:
    """Plain lists mirroring :class:`EstimateResult`'s arrays."""

    columns_ts: list[int]
    snapshots: list[list[list[list[float]]]]  # [col][tier][side][bucket]
    consumed: list[list[list[float]]]  # [step][tier][side]
    live: list[list[float]]
    opened: list[list[float]]
    closed: list[list[float]]
    decayed: list[list[float]]
    calibrated: list[list[float]]


def _entry_points(
    lo: float, hi: float, close: float, peak: float, k: int, profile: list[float] | None
) -> list[tuple[float, float]]:
    if not hi > lo:
        return [(close, 1.0)]
    pts = []
    for i in range(k):
        x = lo + (i + 0.5) * (hi - lo) / k
        if profile is not None:
            w = profile[i]
        elif x <= peak:
            w = (x - lo) / (peak - lo) if peak > lo else 1.0
        else:
            w = (hi - x) / (hi - peak) if hi > peak else 1.0
        pts.append((x, max(w, 0.0)))
    total = sum(w for _, w in pts)
    if total <= 0:
        return [(x, 1.0 / k) for x, _ in pts]
    return [(x, w / total) for x, w in pts]


def reference_estimate(
    steps: Steps,
    config: ModelConfig,
    ratios: NDArray[np.float64],
    grid: PriceGrid,
    *,
    long_share: NDArray[np.float64] | None = None,
    volume_profile: NDArray[np.float64] | None = None,
) -> ReferenceResult:
    """Run the model the slow, obvious way."""
    n = len(steps)
    weights, tiers_of = group_layout(config)
    n_g = len(weights)
    n_t = len(config.leverages)
    nb = grid.n
    share = _long_share(steps, config, long_share)
    typical = _typical(steps)
    oi, _ = fill_oi_holes(steps.oi_base)
    oi_px = oi_price(steps, config)
    turn, _ = book_turnover(steps.ts, steps.volume, oi * oi_px, share, config)
    book_oi = config.book == "oi"
    hl = list(config.half_lives_ms or [0.0] * n_t)
    recent = config.closing == "recent"
    col_ms = config.column_ms or column_width_ms(
        int(steps.ts[0]), int(steps.ts[-1]), config.max_columns
    )
    col0 = int(steps.ts[0]) // col_ms
    n_c = int(steps.ts[-1]) // col_ms - col0 + 1
    levels: dict[tuple[int, int, int, int], float] = {}
    out = ReferenceResult(
        columns_ts=[(col0 + c) * col_ms for c in range(n_c)],
        snapshots=[],
        consumed=[],
        live=[],
        opened=[],
        closed=[],
        decayed=[],
        calibrated=[],
    )

    def side_live(side: int, pool: int | None = None) -> float:
        return sum(
            v for (p, _, s, _), v in levels.items() if s == side and (pool is None or p == pool)
        )

    def scale_side(side: int, factor: float, pool: int | None = None) -> None:
        for key in levels:
            if key[2] == side and (pool is None or key[0] == pool):
                levels[key] *= factor

    for t in range(n):
        ts = int(steps.ts[t])
        consumed = [[0.0, 0.0] for _ in range(n_t)]
        opened = [0.0, 0.0]
        closed = [0.0, 0.0]
        decayed = [0.0, 0.0]
        calibrated = [0.0, 0.0]
        # (1) consumption
        il = grid.index_of(float(steps.low[t]))
        ih = grid.index_of(float(steps.high[t]))
        for key in list(levels):
            _, g, s, b = key
            if (s == 0 and il <= b) or (s == 1 and ih >= b):
                consumed[int(tiers_of[g])][s] += levels.pop(key)
        # OI change and each book's target
        if t > 0:
            d_oi = float(oi[t] - oi[t - 1])
        else:
            d_oi = float(oi[0]) if config.seed_initial_oi else 0.0
        px = float(oi_px[t])
        close = float(steps.close[t])
        target = float(oi[t]) * px if (t > 0 or config.seed_initial_oi) else 0.0
        # (2) closing: v1 on falling OI; v2 the gross closing flow (half turnover minus the
        # change of the book minus what liquidations already closed), at least the excess
        for s in range(2):
            real = float((steps.liq_long_usd, steps.liq_short_usd)[s][t])
            if math.isfinite(real) and config.use_realized_liquidations:
                acc = real
            else:
                acc = sum(consumed[k][s] for k in range(n_t))
            total = side_live(s)
            if book_oi:
                prev = out.live[t - 1][s] if t > 0 else 0.0
                rem = max(0.5 * (float(turn[t, s]) - (target - prev)) - acc, total - target)
            elif d_oi < 0:
                rem = -d_oi * px - acc
            else:
                continue
            if rem <= 0 or total <= 0:
                continue
            rem = min(rem, total)
            closed[s] = rem
            if recent:
                l0 = side_live(s, 0)
                l1 = side_live(s, 1)
                r0 = min(rem, l0)
                if l0 > 0:
                    scale_side(s, 1.0 - r0 / l0, 0)
                if rem - r0 > 0 and l1 > 0:
                    scale_side(s, 1.0 - (rem - r0) / l1, 1)
            else:
                scale_side(s, 1.0 - rem / total)
        # (2b) the recent pool becomes older after the first closing of a new window
        if (
            recent
            and t > 0
            and ts // config.recent_window_ms != int(steps.ts[t - 1]) // (config.recent_window_ms)
        ):
            for (p, g, s, b), v in list(levels.items()):
                if p == 0:
                    del levels[(p, g, s, b)]
                    levels[(1, g, s, b)] = levels.get((1, g, s, b), 0.0) + v
        # (3) decay
        if t > 0:
            dt = float(ts - int(steps.ts[t - 1]))
            for key in levels:
                h = hl[int(tiers_of[key[1]])]
                if h > 0:
                    f = 2.0 ** (-dt / h)
                    decayed[key[2]] += levels[key] * (1 - f)
                    levels[key] *= f
        # (4) opening: v1 on rising OI, v2 each book up to its target
        if book_oi:
            amounts = [target - side_live(0), target - side_live(1)]
        elif d_oi > 0:
            n_usd = d_oi * px
            amounts = [2 * share[t] * n_usd, 2 * (1 - share[t]) * n_usd]
        else:
            amounts = [0.0, 0.0]
        if amounts[0] > 0 or amounts[1] > 0:
            prof = None if volume_profile is None else list(volume_profile[t])
            pts = _entry_points(
                float(steps.low[t]),
                float(steps.high[t]),
                close,
                float(typical[t]),
                config.entry_points,
                prof,
            )
            for x, w in pts:
                for g in range(n_g):
                    for s in range(2):
                        amt = amounts[s] * w * weights[g]
                        if amt <= 0:
                            continue
                        b = min(max(grid.index_of(x * float(ratios[g, s])), 0), nb - 1)
                        key = (0 if recent else 1, g, s, b)
                        levels[key] = levels.get(key, 0.0) + amt
                        opened[s] += amt
        # (5) calibration
        if config.calibrate_to_oi:
            for s in range(2):
                cur = side_live(s)
                if cur > 0:
                    goal = float(oi[t]) * px
                    scale_side(s, goal / cur)
                    calibrated[s] = goal - cur
        out.consumed.append(consumed)
        out.opened.append(opened)
        out.closed.append(closed)
        out.decayed.append(decayed)
        out.calibrated.append(calibrated)
        out.live.append([side_live(0), side_live(1)])
        # (6) snapshots: state at the end of each column, carried over empty columns
        c = ts // col_ms - col0
        c_next = n_c if t == n - 1 else int(steps.ts[t + 1]) // col_ms - col0
        if c_next != c:
            snap = [[[0.0] * nb for _ in range(2)] for _ in range(n_t)]
            for (_, g, s, b), v in levels.items():
                snap[int(tiers_of[g])][s][b] += v
            for _ in range(c, c_next):
                out.snapshots.append([[list(row) for row in tier] for tier in snap])
    return out
