"""Accuracy on real data: hourly steps (one venue's 1h candles + Hyperliquid OI) against
real daily long/short liquidations (all venues), with trivial baselines.

Files (``shared/data/real``, see its README): ``candles-1h-*.csv`` (``venue,coin,ts,o,h,l,c,v``),
``hyperliquid-oi-1h-*.csv`` (``coin,ts,oi_usd``), ``daily-liquidations-*.csv``
(``date,coin,total_usd,long_usd,short_usd,liq_count``). Steps are the candles at the OI
timestamps; OI in USD is converted to base units at the step's typical price
``(h + l + c) / 3``. The candles carry no taker-buy volume (the long share is unknown).

Figures (docs/methodology.md): the *pooled Spearman* of predicted vs real daily values,
each coin's days ranked within the coin (ranks scaled to (0, 1]) and the pairs of all coins
pooled into one Pearson correlation of ranks. OI is one venue, the totals all venues, so
only ranks are compared. Confidence intervals: paired block bootstrap over days (the same
resampled days for the model and every baseline).
"""

from __future__ import annotations

import csv
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from liqscope.domain.errors import InputError
from liqscope.domain.intervals import DAY_MS
from liqscope.model.config import ModelConfig
from liqscope.model.estimator import EstimateResult, estimate, shortcut_ratios
from liqscope.model.predict import bin_by_interval, predicted_liquidations
from liqscope.model.steps import Steps

F64 = NDArray[np.float64]
I64 = NDArray[np.int64]
COINS: tuple[str, ...] = ("BTC", "ETH", "SOL")
PRIOR_RANGE = 0.2
"""The no-data distance prior spreads each side's OI over ``PRIOR_RANGE`` (20 %) of price
with density growing linearly with distance."""
BASELINES: tuple[str, ...] = (
    "oi_open_low_high_open",
    "oi_range_by_sign",
    "flat_1_over_l",
    "distance_prior",
)


def default_folder() -> Path:
    """``<repo parent>/shared/data/real`` (the repository is ``src/liqscope/..``'s parent)."""
    return Path(__file__).resolve().parents[3].parent / "shared" / "data" / "real"


@dataclass(frozen=True, eq=False)
class CoinDays:
    """One coin: its steps and the real daily liquidations (days present in the file)."""

    coin: str
    steps: Steps
    day: I64
    """Day index ``ts // DAY_MS`` of each real day."""
    long_usd: F64
    short_usd: F64


@dataclass(frozen=True, eq=False)
class RealData:
    coins: Mapping[str, CoinDays]
    candle_venue: str


def _one(folder: Path, pattern: str) -> Path:
    hits = sorted(folder.glob(pattern))
    if not hits:
        raise InputError(f"no file {pattern} in {folder}")
    return hits[-1]


def _day_index(text: str) -> int:
    d = date.fromisoformat(text.strip())
    return int(datetime(d.year, d.month, d.day, tzinfo=UTC).timestamp() * 1000) // DAY_MS


def read_daily_csv(path: Path) -> dict[str, dict[int, tuple[float, float]]]:
    """``coin -> day index -> (long_usd, short_usd)`` from a daily-totals CSV
    (``date,coin,long_usd,short_usd``; other columns ignored)."""
    out: dict[str, dict[int, tuple[float, float]]] = {}
    try:
        with path.open(newline="") as fh:
            for i, row in enumerate(csv.DictReader(fh), start=2):
                try:
                    out.setdefault(row["coin"].strip().upper(), {})[_day_index(row["date"])] = (
                        float(row["long_usd"]),
                        float(row["short_usd"]),
                    )
                except (KeyError, ValueError, AttributeError):
                    raise InputError(
                        f"{path.name} line {i}: need date (YYYY-MM-DD), coin, long_usd, short_usd"
                    ) from None
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror}") from None
    return out


def load_real(
    folder: Path | None = None, candle_venue: str = "binance", coins: Sequence[str] = COINS
) -> RealData:
    """Steps and real daily liquidations of ``coins`` (venue ``hyperliquid``, symbol = coin:
    the OI and its margin rules are Hyperliquid's; the price path is ``candle_venue``'s)."""
    folder = folder or default_folder()
    if not folder.is_dir():
        raise InputError(f"real data folder {folder} not found")
    oi: dict[str, dict[int, float]] = {}
    with _one(folder, "hyperliquid-oi-1h-*.csv").open(newline="") as fh:
        for row in csv.DictReader(fh):
            oi.setdefault(row["coin"], {})[int(row["ts"])] = float(row["oi_usd"])
    candles: dict[str, list[tuple[float, ...]]] = {}
    with _one(folder, "candles-1h-*.csv").open(newline="") as fh:
        for row in csv.DictReader(fh):
            if row["venue"] == candle_venue and int(row["ts"]) in oi.get(row["coin"], {}):
                candles.setdefault(row["coin"], []).append(
                    (float(row["ts"]), *(float(row[k]) for k in "ohlcv"))
                )
    daily = read_daily_csv(_one(folder, "daily-liquidations-*.csv"))
    out: dict[str, CoinDays] = {}
    for coin in coins:
        if coin not in candles or coin not in daily:
            raise InputError(f"no {candle_venue} candles or daily liquidations for {coin}")
        a = np.asarray(sorted(candles[coin]), dtype=np.float64)
        ts = a[:, 0].astype(np.int64)
        o, h, low, c, v = a[:, 1:].T
        oi_usd = np.asarray([oi[coin][int(t)] for t in ts])
        steps = Steps(
            ts=ts, open=o, high=h, low=low, close=c, volume=v,
            taker_buy_volume=np.full(ts.shape[0], np.nan),
            oi_base=oi_usd / ((h + low + c) / 3.0), venue="hyperliquid", symbol=coin,
        )  # fmt: skip
        days = np.unique(ts // DAY_MS)
        days = np.asarray([d for d in days if int(d) in daily[coin]], dtype=np.int64)
        out[coin] = CoinDays(
            coin,
            steps,
            days,
            np.asarray([daily[coin][int(d)][0] for d in days]),
            np.asarray([daily[coin][int(d)][1] for d in days]),
        )
    return RealData(out, candle_venue)


# ----------------------------------------------------------------------------- figures


def within_ranks(x: F64) -> F64:
    """Average ranks of ``x`` scaled to (0, 1]."""
    order = np.argsort(x, kind="mergesort")
    r = np.empty(x.shape[0])
    r[order] = np.arange(1, x.shape[0] + 1)
    _, inv, cnt = np.unique(x, return_inverse=True, return_counts=True)
    avg = np.bincount(inv, weights=r) / cnt
    out: F64 = avg[inv] / x.shape[0]
    return out


def pooled_spearman(pred: Sequence[F64], real: Sequence[F64]) -> float:
    """Pearson correlation of the pooled within-group ranks (one group per coin)."""
    p = np.concatenate([within_ranks(a) for a in pred])
    r = np.concatenate([within_ranks(b) for b in real])
    if p.size < 3 or p.std() == 0 or r.std() == 0:
        return float("nan")
    return float(np.corrcoef(p, r)[0, 1])


def _daily(cd: CoinDays, ts: I64, per_step: F64) -> F64:
    """Sums of ``per_step [n, 2]`` over each real day of ``cd`` (0 for days without steps)."""
    starts, sums = bin_by_interval(ts, per_step, DAY_MS)
    pos = {int(s) // DAY_MS: i for i, s in enumerate(starts)}
    out = np.zeros((cd.day.shape[0], 2))
    for j, d in enumerate(cd.day):
        if int(d) in pos:
            out[j] = sums[pos[int(d)]]
    return out


def prior_share(x: F64) -> F64:
    """Share of a side's mass the no-data distance prior puts within relative distance
    ``x`` of price (density growing linearly with distance up to ``PRIOR_RANGE``)."""
    out: F64 = np.minimum(x / PRIOR_RANGE, 1.0) ** 2
    return out


def baseline_steps(steps: Steps, name: str) -> F64:
    """Per-step ``[n, 2]`` long/short predictions of a baseline that needs no model."""
    oi = steps.oi_base * (steps.high + steps.low + steps.close) / 3.0
    down = (steps.open - steps.low) / steps.close
    up = (steps.high - steps.open) / steps.close
    if name == "oi_open_low_high_open":
        return np.stack([oi * down, oi * up], axis=1)
    if name == "oi_range_by_sign":
        rng = oi * (steps.high - steps.low) / steps.close
        neg = steps.close < steps.open
        return np.stack([np.where(neg, rng, 0.0), np.where(neg, 0.0, rng)], axis=1)
    if name == "distance_prior":
        return np.stack([oi * prior_share(down), oi * prior_share(up)], axis=1)
    raise InputError(f"unknown baseline {name!r}")


def flat_config(config: ModelConfig) -> ModelConfig:
    """The naive open-source method: flat 1/L levels, equal tier weights, the v1 book."""
    n = len(config.leverages)
    return replace(config, name="flat_1_over_l", tier_weights=(1.0,) * n, book="net",
                   half_lives_ms=None, closing="proportional")  # fmt: skip


def run_coin(cd: CoinDays, config: ModelConfig, *, flat: bool = False) -> EstimateResult:
    """The estimator on one coin's steps (few columns: only the accounting is used)."""
    cfg = replace(config, max_columns=32, column_ms=None)
    if flat:
        cfg = flat_config(cfg)
        return estimate(cd.steps, cfg, ratios=shortcut_ratios(cfg, mmr=0.0))
    return estimate(cd.steps, cfg)


def daily_predictions(
    data: RealData, config: ModelConfig, *, flat: bool = False
) -> tuple[dict[str, F64], dict[str, F64]]:
    """``(predicted [days, 2], live/OI [steps, 2])`` per coin."""
    pred, ratio = {}, {}
    for coin, cd in data.coins.items():
        res = run_coin(cd, config, flat=flat)
        p = predicted_liquidations(res, DAY_MS)
        per_day = np.stack([p.long_usd, p.short_usd], axis=1)
        pred[coin] = _daily(cd, p.ts, per_day)
        ratio[coin] = res.invariant()[1]
    return pred, ratio


def day_figures(
    pred: Mapping[str, F64], data: RealData, sel: Mapping[str, NDArray[np.bool_]]
) -> dict[str, float]:
    """Pooled Spearman long/short/total, dominant-side hit rate and ``usd_ratio`` (predicted
    / realized USD, both sides, all selected days; one venue's OI vs all venues' totals)."""
    coins = list(data.coins)
    real = {c: np.stack([data.coins[c].long_usd, data.coins[c].short_usd], axis=1) for c in coins}
    out = {}
    for k, name in ((0, "long"), (1, "short")):
        out[name] = pooled_spearman(
            [pred[c][sel[c], k] for c in coins], [real[c][sel[c], k] for c in coins]
        )
    out["total"] = pooled_spearman(
        [pred[c][sel[c]].sum(axis=1) for c in coins], [real[c][sel[c]].sum(axis=1) for c in coins]
    )
    dom = [
        np.sign(pred[c][sel[c], 0] - pred[c][sel[c], 1])
        == np.sign(real[c][sel[c], 0] - real[c][sel[c], 1])
        for c in coins
    ]
    out["dominant_side_hit"] = float(np.concatenate(dom).mean())
    got = sum(float(pred[c][sel[c]].sum()) for c in coins)
    want = sum(float(real[c][sel[c]].sum()) for c in coins)
    out["usd_ratio"] = got / want if want > 0 else math.nan
    return out


def evaluate(
    data: RealData,
    config: ModelConfig,
    *,
    split_day: int | None = None,
    n_boot: int = 500,
    block_days: int = 3,
    seed: int = 0,
) -> dict[str, Any]:
    """Model vs the four baselines on the real days: pooled Spearman long/short/total and
    dominant-side hit rate, on all days and (with ``split_day``) before/after it, with
    paired block-bootstrap 95 % intervals; live/OI range per side; the swept-mass check."""
    preds: dict[str, dict[str, F64]] = {}
    preds["model"], ratio = daily_predictions(data, config)
    preds["flat_1_over_l"], _ = daily_predictions(data, config, flat=True)
    for name in BASELINES:
        if name == "flat_1_over_l":
            continue
        preds[name] = {
            c: _daily(cd, cd.steps.ts, baseline_steps(cd.steps, name))
            for c, cd in data.coins.items()
        }
    rng = np.random.default_rng(seed)
    out: dict[str, Any] = {"config": config.name, "candle_venue": data.candle_venue, "periods": {}}
    for pname, sel in day_masks(data, split_day).items():
        point = {m: day_figures(p, data, sel) for m, p in preds.items()}
        # paired block bootstrap: the same resampled day blocks for every method
        draws: dict[str, dict[str, list[float]]] = {m: {} for m in preds}
        for _ in range(n_boot):
            idx, bdata = block_resample(data, sel, block_days, rng)
            allsel = {c: np.ones(idx[c].shape[0], dtype=bool) for c in data.coins}
            fm = day_figures({c: preds["model"][c][idx[c]] for c in data.coins}, bdata, allsel)
            for m, p in preds.items():
                f = fm if m == "model" else day_figures({c: p[c][idx[c]] for c in p}, bdata, allsel)
                for k, v in f.items():
                    draws[m].setdefault(k, []).append(v)
                    draws[m].setdefault(f"lift_{k}", []).append(fm[k] - v)
        per: dict[str, Any] = {"days": int(sum(int(s.sum()) for s in sel.values()))}
        for m in preds:
            per[m] = {}
            for k, v in point[m].items():
                arr = np.asarray(draws[m][k], dtype=np.float64)
                arr = arr[np.isfinite(arr)]
                lo, hi = np.percentile(arr, [2.5, 97.5]) if arr.size else (math.nan, math.nan)
                per[m][k] = {"value": v, "ci_low": float(lo), "ci_high": float(hi)}
                if m != "model":
                    lift = np.asarray(draws[m][f"lift_{k}"], dtype=np.float64)
                    lift = lift[np.isfinite(lift)]
                    per[m][k]["model_minus_ci"] = (
                        [float(x) for x in np.percentile(lift, [2.5, 97.5])] if lift.size else None
                    )
        out["periods"][pname] = per
    allr = np.concatenate([r for r in ratio.values()])
    out["live_over_oi"] = {
        "long": [float(np.nanmin(allr[:, 0])), float(np.nanmax(allr[:, 0]))],
        "short": [float(np.nanmin(allr[:, 1])), float(np.nanmax(allr[:, 1]))],
    }
    out["swept_density"] = swept_density(data, config)
    return out


def swept_density(data: RealData, config: ModelConfig) -> dict[str, float]:
    """Do realized liquidations fall where the map is denser than the no-data prior?

    For each real day, the map known at the day's start (the state after the previous
    day) is read at that moment's price ``p0``: its share of the natural-side mass within
    ``PRIOR_RANGE`` of ``p0`` that lies inside the price range the day then swept (longs
    in [low, p0], shorts in [p0, high]), against the distance prior's share of the same
    range. Returned: the realized-USD-weighted mean of both shares and their ratio (> 1:
    the realized clusters sat in bins denser than the prior)."""
    wm = ws = wp = 0.0
    for cd in data.coins.values():
        cfg = replace(config, column_ms=DAY_MS, max_columns=1_000_000)
        res = estimate(cd.steps, cfg)
        snaps = res.snapshots.sum(axis=1, dtype=np.float64)  # [C, 2, B]
        mids = res.grid.origin + res.grid.step * (np.arange(res.grid.n) + 0.5)
        col = {int(t) // DAY_MS: i for i, t in enumerate(res.columns_ts)}
        st = cd.steps
        for j, d in enumerate(cd.day):
            c = col.get(int(d))
            if c is None or c == 0:
                continue
            sel = st.ts // DAY_MS == d
            p0 = float(res.column_close[c - 1])
            lo, hi = float(st.low[sel].min()), float(st.high[sel].max())
            dist = np.abs(mids / p0 - 1.0)
            near = dist <= PRIOR_RANGE
            long_m = np.where((mids < p0) & near, snaps[c - 1, 0], 0.0)
            short_m = np.where((mids >= p0) & near, snaps[c - 1, 1], 0.0)
            tot = long_m.sum() + short_m.sum()
            if tot <= 0:
                continue
            swept = long_m[mids >= lo].sum() + short_m[mids <= hi].sum()
            x_lo, x_hi = max(0.0, 1 - lo / p0), max(0.0, hi / p0 - 1)
            prior = 0.5 * float(prior_share(np.asarray([x_lo, x_hi])).sum())
            w = float(cd.long_usd[j] + cd.short_usd[j])
            wm += w * swept / tot
            wp += w * prior
            ws += w
    if ws <= 0:
        return {"map_share": math.nan, "prior_share": math.nan, "ratio": math.nan}
    return {
        "map_share": wm / ws,
        "prior_share": wp / ws,
        "ratio": (wm / wp) if wp > 0 else math.nan,
    }


def block_resample(
    data: RealData, sel: Mapping[str, NDArray[np.bool_]], block_days: int, rng: np.random.Generator
) -> tuple[dict[str, I64], RealData]:
    """One block-bootstrap draw of the selected days: blocks of ``block_days`` calendar
    days drawn with replacement (the same blocks for every coin). Returns each coin's day
    indices and the resampled data (predictions are resampled with the same indices)."""
    days = np.unique(np.concatenate([cd.day[sel[c]] for c, cd in data.coins.items()]))
    blocks = np.unique(days // block_days)
    pick = rng.choice(blocks, size=blocks.shape[0])
    idx = {
        c: np.concatenate([np.flatnonzero(sel[c] & (cd.day // block_days == b)) for b in pick])
        for c, cd in data.coins.items()
    }
    sub = {
        c: replace(
            cd, day=cd.day[idx[c]], long_usd=cd.long_usd[idx[c]], short_usd=cd.short_usd[idx[c]]
        )
        for c, cd in data.coins.items()
    }
    return idx, RealData(sub, data.candle_venue)


def day_masks(data: RealData, split_day: int | None) -> dict[str, dict[str, NDArray[np.bool_]]]:
    """``{"all"|"train"|"test": {coin: mask over the coin's days}}``."""
    out = {"all": {c: np.ones(cd.day.shape[0], dtype=bool) for c, cd in data.coins.items()}}
    if split_day is not None:
        out["train"] = {c: cd.day < split_day for c, cd in data.coins.items()}
        out["test"] = {c: cd.day >= split_day for c, cd in data.coins.items()}
    return out


def model_figures(
    data: RealData, config: ModelConfig, split_day: int | None = None
) -> dict[str, dict[str, float]]:
    """The model's point figures (no bootstrap) per period: the calibration objective."""
    pred, _ = daily_predictions(data, config)
    return {p: day_figures(pred, data, sel) for p, sel in day_masks(data, split_day).items()}


def day_of(text: str) -> int:
    """Day index of an ISO date ``YYYY-MM-DD`` (clear error otherwise)."""
    try:
        return _day_index(text)
    except ValueError:
        raise InputError(f"not a date (YYYY-MM-DD): {text!r}") from None


def coin_days(steps: Steps, daily: Mapping[int, tuple[float, float]], name: str) -> CoinDays:
    """One market's steps with its realized daily ``{day index: (long, short)}`` (days
    without steps are dropped)."""
    have = set((steps.ts // DAY_MS).tolist())
    days = np.asarray(sorted(d for d in daily if d in have), dtype=np.int64)
    if days.shape[0] < 4:
        raise InputError(f"{name}: fewer than 4 days with both steps and realized liquidations")
    return CoinDays(
        name,
        steps,
        days,
        np.asarray([daily[int(d)][0] for d in days]),
        np.asarray([daily[int(d)][1] for d in days]),
    )


def daily_from_events(ts: I64, usd: F64, side: I64) -> dict[int, tuple[float, float]]:
    """Realized events (side +1 long, -1 short) summed per UTC day."""
    out: dict[int, list[float]] = {}
    for t, u, s in zip((ts // DAY_MS).tolist(), usd.tolist(), side.tolist(), strict=True):
        out.setdefault(int(t), [0.0, 0.0])[0 if s > 0 else 1] += u
    return {d: (v[0], v[1]) for d, v in out.items()}
