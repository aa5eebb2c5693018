"""The calibrated preset: tier weights and half-lives fitted on a training period by maximum
agreement of estimated with realized liquidations, reported on a later held-out period.

Agreement of two series of hourly (or ``bin_ms``) liquidation notionals per side, ``e`` the
model's estimated (consumed) and ``r`` the realized: ``sum(min(e, r)) / max(sum e, sum r)``
in [0, 1]; 1 means the same USD at the same times on the same sides. The search is a small
grid: tier weights ``w_k ∝ w0_k · (L_k / 10) ** tilt`` for each tilt, times a common
half-life for every tier."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from numpy.typing import NDArray

from liqscope.domain.errors import InputError
from liqscope.model.config import ModelConfig
from liqscope.model.estimator import estimate
from liqscope.model.steps import Steps

HOUR_MS = 3_600_000
TILTS: tuple[float, ...] = (-1.0, -0.5, 0.0, 0.5, 1.0)
HALF_LIVES_H: tuple[float, ...] = (0.0, 6.0, 24.0, 72.0)


def agreement(est: NDArray[np.float64], real: NDArray[np.float64]) -> float:
    """``sum(min) / max(sums)`` of two non-negative arrays (NaN when both are empty)."""
    e = np.nan_to_num(est)
    r = np.nan_to_num(real)
    top = max(float(e.sum()), float(r.sum()))
    return float(np.minimum(e, r).sum() / top) if top > 0 else float("nan")


def _binned(steps: Steps, cons: NDArray[np.float64], sel: NDArray[np.bool_], bin_ms: int) -> tuple:
    b = (steps.ts[sel] - steps.ts[0]) // bin_ms
    nb = int(b.max()) + 1 if b.size else 0
    e = np.stack([np.bincount(b, weights=cons[sel, s], minlength=nb) for s in (0, 1)])
    r = np.stack(
        [
            np.bincount(b, weights=np.nan_to_num(a[sel]), minlength=nb)
            for a in (steps.liq_long_usd, steps.liq_short_usd)
        ]
    )
    return e.ravel(), r.ravel()


def config_for(base: ModelConfig, tilt: float, half_life_h: float) -> ModelConfig:
    """``base`` with tilted tier weights and one half-life for all tiers."""
    lev = np.asarray(base.leverages)
    w = np.asarray(base.tier_weights, dtype=np.float64) * (lev / 10.0) ** tilt
    w = w / w.sum()
    hl = None if half_life_h <= 0 else tuple(half_life_h * HOUR_MS for _ in base.leverages)
    return replace(
        base, name="calibrated", tier_weights=tuple(float(x) for x in w), half_lives_ms=hl
    )


@dataclass(frozen=True)
class Calibration:
    config: ModelConfig
    tilt: float
    half_life_h: float
    train_agreement: float
    test_agreement: float
    default_train_agreement: float
    default_test_agreement: float
    split_ms: int
    grid: list[dict[str, float]]

    def to_dict(self) -> dict[str, Any]:
        return {
            "tilt": self.tilt,
            "half_life_h": self.half_life_h,
            "tier_weights": list(self.config.tier_weights),
            "train_agreement": self.train_agreement,
            "test_agreement": self.test_agreement,
            "default_train_agreement": self.default_train_agreement,
            "default_test_agreement": self.default_test_agreement,
            "split_ms": self.split_ms,
            "grid": self.grid,
        }


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
