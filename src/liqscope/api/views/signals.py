"""Signals views: stored alerts, the accuracy scorecard and the position check.

- ``/api/alerts``: fired alerts (newest first) from the store;
- ``/api/score``: the scorecard on the built-in simulator (``scenario``) or on stored history
  (``symbol`` + ``venue``); results are cached under quantized keys (whole hours and days,
  ``q`` to 0.01, ``range_pct`` to 0.1) and computed one at a time (429 while busy);
- ``/api/check``: where a position's liquidation price sits on the current map
  (:func:`liqscope.signals.check.check_position`).
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any

from liqscope.api.cache import Budget, Cache
from liqscope.api.context import Context
from liqscope.api.encoding import dumps
from liqscope.api.errors import ApiError
from liqscope.api.params import CheckParams, ScoreParams
from liqscope.domain import registry
from liqscope.domain.errors import InputError
from liqscope.domain.intervals import DAY_MS, HOUR_MS, MINUTE_MS
from liqscope.domain.liqprice import check_leverage
from liqscope.domain.registry import native_symbol
from liqscope.model import estimate_market
from liqscope.model.presets import PRESETS
from liqscope.model.steps import Steps as ModelSteps
from liqscope.signals import scorecard as sc
from liqscope.signals.check import check_position
from liqscope.signals.clusters import LevelMap
from liqscope.signals.storage import alert_dict
from liqscope.store.base import AlertQuery
from liqscope.store.readers import read_steps, stored_candle_span

__all__ = ["SignalViews"]

SCORE_ITEMS = 32
N_BOOT = 500


def _clean(obj: Any) -> Any:
    """NaN/inf → None, recursively (JSON has neither)."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: _clean(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_clean(v) for v in obj]
    return obj


def _native(venue: str, symbol: str) -> str:
    try:
        return native_symbol(venue, symbol)
    except (InputError, KeyError, ValueError):
        return symbol


class SignalViews:
    """The signals endpoints over the API's store (``ctx.source``: a file or a server)."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.scores = Cache(SCORE_ITEMS)
        self.budget = Budget(1, 0.0)  # one scorecard at a time; others get 429 at once

    def _stored(self, venue: str, symbol: str, days: float) -> tuple[ModelSteps, sc.Realized]:
        """1-minute steps over the last ``days`` before the newest candle, and the realized
        liquidations over them."""
        native = _native(venue, symbol)
        st = self.ctx.source.store()
        span = stored_candle_span(st, venue, native)
        if span is None:
            raise ApiError(404, "symbol", f"no candles stored for {venue} {symbol}")
        t1 = span[1] + MINUTE_MS
        steps = read_steps(st, venue, native, t1 - int(days * DAY_MS), t1, MINUTE_MS)
        if steps is None:
            raise ApiError(404, "symbol", f"{venue} {symbol}: too little stored data")
        realized = sc.realized_from_store(st, venue, native, int(steps.ts[0]), t1)
        return steps, realized

    def alerts(self, limit: int, symbol: str | None, rule: str | None) -> bytes:
        records = self.ctx.source.store().alerts(AlertQuery(limit, symbol, rule))
        return dumps(_clean({"alerts": [alert_dict(r) for r in records]}))

    def score(self, p: ScoreParams) -> bytes:
        names = list(dict.fromkeys(n.strip() for n in p.presets.split(",") if n.strip()))
        configs = {n: PRESETS[n] for n in names}
        q, range_pct = round(p.q, 2), round(p.range_pct, 1)
        if p.scenario is not None and p.symbol is not None:
            raise ApiError(422, "scenario", "scenario: give either scenario or symbol+venue")
        if p.symbol is None:
            scenario = p.scenario or "cascade"
            key: tuple[Any, ...] = ("sim", scenario, p.seed, p.hours, tuple(names), q, range_pct)

            def sim() -> bytes:
                data = sc.simulate(scenario, p.seed, float(p.hours))
                res = sc.sim_scorecards(
                    data, configs, q=q, range_pct=range_pct, block_ms=2 * HOUR_MS, n_boot=N_BOOT
                )
                src = {"scenario": scenario, "seed": p.seed, "hours": p.hours}
                return dumps(_clean({"source": src, **res}))

            return self._cached(key, sim)
        symbol, venue = p.symbol, p.venue or "binance"
        stamp = self.ctx.source.version([venue], symbol)
        key = ("store", venue, symbol, p.days, tuple(names), q, range_pct, stamp)

        def stored() -> bytes:
            steps, realized = self._stored(venue, symbol, p.days)
            if len(realized) == 0:
                raise ApiError(
                    404, "symbol", f"no realized liquidations stored for {venue} {symbol}"
                )
            models: dict[str, Any] = {}
            broken: Any = None
            for name, cfg in configs.items():
                run = replace(cfg, column_ms=HOUR_MS, max_columns=1_000_000)
                hm = estimate_market([steps], run).heatmap
                wm = sc.window_maps(hm, steps, tiers=cfg.display_leverages)
                try:
                    card = sc.score_windows(
                        wm, realized, q=q, range_pct=range_pct, block_ms=DAY_MS, n_boot=N_BOOT
                    )
                    if broken is None:
                        broken = sc.score_windows(
                            sc.shuffled(wm), realized, q=q, range_pct=range_pct,
                            block_ms=DAY_MS, n_boot=N_BOOT,
                        ).to_dict()  # fmt: skip
                except InputError as exc:
                    raise ApiError(404, "days", f"days: {exc}") from None
                models[name] = card.to_dict()
            src = {"venue": venue, "symbol": symbol, "days": p.days}
            return dumps(_clean({"source": src, "models": models, "broken_shuffled": broken}))

        return self._cached(key, stored)

    def _cached(self, key: tuple[Any, ...], compute: Any) -> bytes:
        hit: bytes | None = self.scores.peek(key)
        if hit is not None:
            self.scores.touch(key)
            return hit
        raw: bytes = self.scores.get_or_compute(key, lambda: self.budget.run(compute, "score"))
        return raw

    def check(self, p: CheckParams) -> bytes:
        """As ``liqscope check``: leverage above the venue's cap for the size is refused
        (422) before the map is estimated (with ``qty``) or once the default size is known;
        a market with no stored data is a 404 first, as in every other view."""
        steps, _ = self._stored(p.venue, p.symbol, p.days)
        if p.qty is not None:
            self._within_cap(p, p.qty)
        est = estimate_market([steps], PRESETS[p.preset])
        lm = LevelMap.from_heatmap(est.heatmap, -1).with_price(float(steps.close[-1]))
        try:
            rep = check_position(
                lm, venue=p.venue, symbol=steps.symbol or p.symbol, side=p.side,
                entry=p.entry, leverage=p.leverage, qty=p.qty, band_pct=p.band,
            )  # fmt: skip
        except (InputError, ArithmeticError, ValueError) as exc:
            raise _check_error(exc) from None
        self._within_cap(p, rep.qty)
        return dumps(_clean(rep.to_dict()))

    @staticmethod
    def _within_cap(p: CheckParams, qty: float) -> None:
        try:
            native = _native(p.venue, p.symbol)
            tiers = registry.default_tiers(p.venue, native)
            check_leverage(registry.instrument(p.venue, native), tiers, p.entry, p.leverage, qty)
        except (InputError, ArithmeticError, ValueError) as exc:
            raise _check_error(exc) from None


def _check_error(exc: Exception) -> ApiError:
    """A refused position as a 422 naming the parameter at fault."""
    msg = str(exc)
    param = next((n for n in ("leverage", "entry", "qty", "side") if n in msg), "symbol")
    return ApiError(422, param, f"{param}: {msg}")
