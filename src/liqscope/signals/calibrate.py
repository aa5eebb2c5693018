"""The calibrated preset: tier weights and half-lives fitted on a training period by maximum
agreement of estimated with realized liquidations, reported on a later held-out period.

Agreement of two series of hourly (or ``bin_ms``) liquidation notionals per side, ``e`` the
model's estimated (consumed) and ``r`` the realized: ``sum(min(e, r)) / max(sum e, sum r)``
in [0, 1]; 1 means the same USD at the same times on the same sides. The search is a small
grid: tier weights ``w_k ∝ w0_k · (L_k / 10) ** tilt`` for each tilt, times a common
half-life for every tier.

On real data (:func:`calibrate_daily`) the figure is the pooled Spearman of predicted vs
realized daily long / short / total liquidations (:mod:`liqscope.signals.realdata`), the
grid adds the v2 book's turnover, and the choice is regularised (one-SE rule)."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from numpy.typing import NDArray

from liqscope.domain.errors import InputError
from liqscope.domain.intervals import DAY_MS, HOUR_MS
from liqscope.domain.records import Record
from liqscope.model.config import ModelConfig
from liqscope.model.estimator import estimate
from liqscope.model.steps import Steps
from liqscope.signals.realdata import (
    RealData,
    block_resample,
    daily_predictions,
    day_figures,
    day_masks,
)

TILTS: tuple[float, ...] = (-1.0, -0.5, 0.0, 0.5, 1.0)
HALF_LIVES_H: tuple[float, ...] = (0.0, 6.0, 24.0, 72.0)


def agreement(est: NDArray[np.float64], real: NDArray[np.float64]) -> float:
    """``sum(min) / max(sums)`` of two non-negative arrays (NaN when both are empty)."""
    e = np.nan_to_num(est)
    r = np.nan_to_num(real)
    top = max(float(e.sum()), float(r.sum()))
    return float(np.minimum(e, r).sum() / top) if top > 0 else float("nan")


def _binned(
    steps: Steps, cons: NDArray[np.float64], sel: NDArray[np.bool_], bin_ms: int
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    b = (steps.ts[sel] - steps.ts[0]) // bin_ms
    nb = int(b.max()) + 1 if b.size else 0
    e = np.stack([np.bincount(b, weights=cons[sel, s], minlength=nb) for s in (0, 1)])
    r = np.stack(
        [
            np.bincount(b, weights=np.nan_to_num(a[sel]), minlength=nb)
            for a in (steps.liq_long_usd, steps.liq_short_usd)
        ]
    )
    return e.ravel().astype(np.float64), r.ravel().astype(np.float64)


def config_for(base: ModelConfig, tilt: float, half_life_h: float) -> ModelConfig:
    """``base`` with tilted tier weights and one half-life for all tiers."""
    lev = np.asarray(base.leverages)
    w = np.asarray(base.tier_weights, dtype=np.float64) * (lev / 10.0) ** tilt
    w = w / w.sum()
    hl = None if half_life_h <= 0 else tuple(half_life_h * HOUR_MS for _ in base.leverages)
    return replace(
        base, name="calibrated", tier_weights=tuple(float(x) for x in w), half_lives_ms=hl
    )


class _Fit(Record):
    """Mixin for a fit whose JSON form is its fields, the config as tier weights and
    leverages."""

    __slots__ = ()

    def to_dict(self) -> dict[str, Any]:
        d = super().to_dict()
        cfg = d.pop("config")
        return {**d, "tier_weights": list(cfg["tier_weights"]), "leverages": list(cfg["leverages"])}


@dataclass(frozen=True)
class Calibration(_Fit):
    config: ModelConfig
    tilt: float
    half_life_h: float
    train_agreement: float
    test_agreement: float
    default_train_agreement: float
    default_test_agreement: float
    split_ms: int
    grid: list[dict[str, float]]


def calibrate(
    steps: Steps,
    base: ModelConfig,
    *,
    split_ms: int | None = None,
    tilts: tuple[float, ...] = TILTS,
    half_lives_h: tuple[float, ...] = HALF_LIVES_H,
    bin_ms: int = HOUR_MS,
) -> Calibration:
    """Fit on steps before ``split_ms`` (default: the middle), report on steps after.

    The model runs causally over the whole period for each candidate (the held-out part
    starts from the state the training part left); only the scoring is split."""
    if np.isnan(steps.liq_long_usd).all() and np.isnan(steps.liq_short_usd).all():
        raise InputError("calibration needs realized liquidations in the steps")
    split = int(split_ms if split_ms is not None else (steps.ts[0] + steps.ts[-1]) // 2)
    train = steps.ts < split
    test = ~train
    if train.sum() < 2 or test.sum() < 2:
        raise InputError("the split leaves too few steps on one side")

    def run(cfg: ModelConfig) -> tuple[float, float]:
        res = estimate(steps, replace(cfg, max_columns=16))
        cons = res.consumed.sum(axis=1)
        return (
            agreement(*_binned(steps, cons, train, bin_ms)),
            agreement(*_binned(steps, cons, test, bin_ms)),
        )

    d_train, d_test = run(base)
    grid = []
    best: tuple[float, float, float, float] | None = None
    for tilt in tilts:
        for hl in half_lives_h:
            tr, te = run(config_for(base, tilt, hl))
            grid.append({"tilt": tilt, "half_life_h": hl, "train": tr, "test": te})
            score = tr if tr == tr else -1.0
            if best is None or score > best[0]:
                best = (score, tilt, hl, te)
    assert best is not None
    _, tilt, hl, te = best
    return Calibration(
        config=config_for(base, tilt, hl),
        tilt=tilt,
        half_life_h=hl,
        train_agreement=best[0],
        test_agreement=te,
        default_train_agreement=d_train,
        default_test_agreement=d_test,
        split_ms=split,
        grid=grid,
    )


# ----------------------------------------------------------------------------- real days

TURNOVERS: tuple[float, ...] = (0.25, 0.5, 1.0, 2.0, 4.0)
LOW_LEVERAGE = 2.0
"""Effective leverage of the low tier added by the magnitude stage: cross-margin, hedged and
collateral-rich accounts (effective leverage 1-5x); its levels sit about 50 % from entry."""
AT_RISK_SHARES: tuple[float, ...] = tuple(
    m * 10.0**k for k in range(-4, 1) for m in (1.0, 2.0, 5.0) if m * 10.0**k <= 1.0
)
"""Candidate shares of new notional outside the low tier (1 = no low tier, the prior)."""
OI_SHARE = 0.07
"""Assumed share of the whole market's OI held on the venue whose OI drives the model
(Hyperliquid, late 2025: about 6.9 % of aggregate CEX perpetual OI as reported in the press;
a user-set assumption, not measured from our data)."""
OI_SHARE_RANGE: tuple[float, float] = (0.04, 0.12)
"""Range of :data:`OI_SHARE` over which the magnitude fit's sensitivity is reported."""
DAILY_HALF_LIVES_H: tuple[float, ...] = (0.0, 72.0)
LONG_SHARES: tuple[float, ...] = (0.3, 0.4, 0.5, 0.6, 0.7)


def complexity(tilt: float, turnover: float, half_life_h: float, base: ModelConfig) -> float:
    """Distance of a candidate from the prior (the base preset): ``|tilt|`` +
    ``|log2(turnover / base turnover)| / 2`` + 0.5 when a half-life is added."""
    t0 = base.turnover_per_day if base.turnover_per_day > 0 else 1.0
    return abs(tilt) + abs(math.log2(turnover / t0)) / 2 + (0.5 if half_life_h > 0 else 0.0)


@dataclass(frozen=True)
class DailyCalibration(_Fit):
    """A fit on real daily liquidations: the chosen config and its train/test figures."""

    config: ModelConfig
    tilt: float
    turnover_per_day: float
    half_life_h: float
    unknown_long_share: float
    at_risk_share: float
    """Share of new notional outside the low effective-leverage tier (stage 3)."""
    oi_share: float
    """The assumed market-OI share of the venue the magnitude stage fitted to."""
    sensitivity: dict[str, float]
    """``at_risk_share`` the magnitude stage picks for other assumed OI shares."""
    split_day: int
    objective_se: float
    train: dict[str, float]
    test: dict[str, float]
    default_train: dict[str, float]
    default_test: dict[str, float]
    grid: list[dict[str, float]]

    def to_dict(self) -> dict[str, Any]:
        """:class:`_Fit`'s form with ``sensitivity`` as ``at_risk_share_by_oi_share`` and
        the split day as ``split_day_ms``."""
        d = super().to_dict()
        d["at_risk_share_by_oi_share"] = d.pop("sensitivity")
        d["split_day_ms"] = d.pop("split_day") * DAY_MS
        return d


def with_low_tier(cfg: ModelConfig, at_risk: float) -> ModelConfig:
    """``cfg`` with a low effective-leverage tier (:data:`LOW_LEVERAGE`) holding ``1 -
    at_risk`` of new notional and the other tiers sharing ``at_risk`` in their proportions
    (``at_risk >= 1``: ``cfg`` unchanged). Views show the other tiers by default and the
    grid spans only their levels (the low tier's, ~50 % from price, would dominate every
    map and coarsen its buckets)."""
    if at_risk >= 1.0:
        return cfg
    if LOW_LEVERAGE in cfg.leverages:
        raise InputError(f"the base preset already has a {LOW_LEVERAGE:g}x tier")
    w = np.asarray(cfg.tier_weights, dtype=np.float64)
    w = at_risk * w / w.sum()
    hl = None if cfg.half_lives_ms is None else (0.0, *cfg.half_lives_ms)
    return replace(cfg, leverages=(LOW_LEVERAGE, *cfg.leverages),
                   tier_weights=(1.0 - at_risk, *(float(x) for x in w)), half_lives_ms=hl,
                   display_leverages=cfg.display_leverages or cfg.leverages,
                   grid_leverages=cfg.grid_leverages or cfg.leverages)  # fmt: skip


def magnitude_error(fig: dict[str, float], oi_share: float) -> float:
    """``|log(usd_ratio / oi_share)|``: how far predicted / realized USD is from the venue's
    assumed share of market OI (inf when nothing was predicted)."""
    r = fig["usd_ratio"]
    return abs(math.log(r / oi_share)) if r > 0 and math.isfinite(r) else math.inf


def objective(fig: dict[str, float]) -> float:
    """Calibration objective: mean pooled Spearman of daily long, short and total."""
    return (fig["long"] + fig["short"] + fig["total"]) / 3.0


@dataclass(frozen=True, eq=False)
class _Cand:
    params: tuple[float, ...]
    config: ModelConfig
    pred: dict[str, NDArray[np.float64]]
    train: dict[str, float]
    test: dict[str, float]


def _one_se(
    data: RealData,
    train: dict[str, NDArray[np.bool_]],
    cands: list[_Cand],
    score: Callable[[dict[str, float]], float],
    penalty: Callable[[_Cand], float],
    n_boot: int,
    block_days: int,
    rng: np.random.Generator,
) -> tuple[_Cand, float]:
    """The one-SE choice: of the candidates whose train ``score`` is below the best's by at
    most one paired block-bootstrap standard error of that difference, the one with the
    smallest ``penalty`` (ties: the higher score). Returns it and its SE."""
    points = [score(c.train) for c in cands]
    top = int(np.argmax(points))
    diffs = np.zeros((n_boot, len(cands)))
    for k in range(n_boot):
        idx, bdata = block_resample(data, train, block_days, rng)
        allsel = {c: np.ones(idx[c].shape[0], dtype=bool) for c in data.coins}
        objs = [
            score(day_figures({c: x.pred[c][idx[c]] for c in idx}, bdata, allsel)) for x in cands
        ]
        diffs[k] = [objs[top] - o for o in objs]
    se = np.nanstd(diffs, axis=0)
    ok = [i for i in range(len(cands)) if points[top] - points[i] <= se[i]]
    pick = min(ok, key=lambda i: (penalty(cands[i]), -points[i]))
    return cands[pick], float(se[pick])


def _cand(data: RealData, masks: dict[str, dict[str, NDArray[np.bool_]]], params: tuple[float, ...],
          cfg: ModelConfig) -> _Cand:  # fmt: skip
    pred, _ = daily_predictions(data, cfg)
    return _Cand(params, cfg, pred, day_figures(pred, data, masks["train"]),
                 day_figures(pred, data, masks["test"]))  # fmt: skip


def _grid_row(c: _Cand) -> dict[str, float]:
    keys = ("tilt", "turnover_per_day", "half_life_h", "unknown_long_share", "at_risk_share")
    row = dict(zip(keys, c.params, strict=False))
    row["train"], row["test"] = objective(c.train), objective(c.test)
    row["train_dominant_side_hit"] = c.train["dominant_side_hit"]
    row["test_dominant_side_hit"] = c.test["dominant_side_hit"]
    row["train_usd_ratio"], row["test_usd_ratio"] = c.train["usd_ratio"], c.test["usd_ratio"]
    return row


def calibrate_daily(
    data: RealData,
    base: ModelConfig,
    split_day: int,
    *,
    tilts: tuple[float, ...] = TILTS,
    turnovers: tuple[float, ...] = TURNOVERS,
    half_lives_h: tuple[float, ...] = DAILY_HALF_LIVES_H,
    long_shares: tuple[float, ...] = LONG_SHARES,
    at_risk_shares: tuple[float, ...] = AT_RISK_SHARES,
    oi_share: float = OI_SHARE,
    n_boot: int = 300,
    block_days: int = 3,
    seed: int = 0,
) -> DailyCalibration:
    """Fit tier tilt, turnover and a common half-life (objective: mean pooled Spearman of
    daily long/short/total), then the side split (the long share of the books' turnover
    when taker volume is unknown; objective: the dominant-side hit rate), then the magnitude
    (the share of new notional outside a low effective-leverage tier, :func:`with_low_tier`;
    objective: predicted / realized USD as close as possible to ``oi_share``, the venue's
    assumed share of market OI, in log terms) on the real days before ``split_day``; report
    the days from it on separately.

    Each stage is regularised by the one-standard-error rule (:func:`_one_se`): the
    candidate closest to the base preset (:func:`complexity`; for the side split,
    ``|p - 0.5|``; for the magnitude, the least low-tier mass) within one SE of the best,
    so a two-week fit does not wander on noise."""
    if not 0.0 < oi_share <= 1.0:
        raise InputError("the venue's share of market OI must be in (0, 1]")
    masks = day_masks(data, split_day)
    if not all(m.any() for m in masks["train"].values()) or not all(
        m.any() for m in masks["test"].values()
    ):
        raise InputError("the split leaves no days on one side for some coin")
    rng = np.random.default_rng(seed)
    cands = [
        _cand(data, masks, (tilt, tv, hl), replace(config_for(base, tilt, hl), turnover_per_day=tv))
        for tilt in tilts
        for tv in turnovers
        for hl in half_lives_h
    ]

    def distance(c: _Cand) -> float:
        return complexity(c.params[0], c.params[1], c.params[2], base)

    first, se = _one_se(data, masks["train"], cands, objective, distance, n_boot, block_days, rng)
    sides = [
        _cand(data, masks, (*first.params, p), replace(first.config, unknown_long_share=p))
        for p in long_shares
    ]
    pick, _ = _one_se(data, masks["train"], sides, lambda f: f["dominant_side_hit"],
                      lambda c: abs(c.params[3] - base.unknown_long_share), n_boot, block_days,
                      rng)  # fmt: skip
    mags = [
        _cand(data, masks, (*pick.params, a), with_low_tier(pick.config, a)) for a in at_risk_shares
    ]

    def fit_magnitude(share: float) -> _Cand:
        return _one_se(data, masks["train"], mags, lambda f: -magnitude_error(f, share),
                       lambda c: -c.params[4], n_boot, block_days, rng)[0]  # fmt: skip

    final = fit_magnitude(oi_share)
    sens = {f"{x:g}": fit_magnitude(x).params[4] for x in (OI_SHARE_RANGE[0], OI_SHARE_RANGE[1])}
    default_pred, _ = daily_predictions(data, base)
    tilt, tv, hl, share, at_risk = final.params
    return DailyCalibration(
        config=replace(final.config, name="calibrated"),
        tilt=tilt,
        turnover_per_day=tv,
        half_life_h=hl,
        unknown_long_share=share,
        at_risk_share=at_risk,
        oi_share=oi_share,
        sensitivity={**sens, f"{oi_share:g}": at_risk},
        split_day=split_day,
        objective_se=se,
        train=final.train,
        test=final.test,
        default_train=day_figures(default_pred, data, masks["train"]),
        default_test=day_figures(default_pred, data, masks["test"]),
        grid=[*(_grid_row(c) for c in (*cands, *sides, *mags))],
    )
