"""Signals endpoints: stored alerts, the accuracy scorecard and the position check.

- ``GET /api/alerts?limit=&symbol=&rule=`` — fired alerts (newest first) from the store;
- ``GET /api/score?scenario=cascade&seed=1&hours=6`` — the scorecard on the built-in
  simulator, or ``GET /api/score?symbol=BTCUSDT&venue=binance&days=7`` on stored history
  (needs stored realized liquidations); results are cached;
- ``GET /api/check?symbol=&side=&entry=&leverage=[&qty=&venue=&days=&preset=&band=]`` — where a
  position's liquidation price sits on the current map (``signals.check.check_position``).

Bad parameters answer 422 naming the parameter; missing data 404.
"""

from __future__ import annotations

import importlib
import threading
from collections import OrderedDict
from dataclasses import replace
from pathlib import Path
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from liqscope.api.service import ApiError
from liqscope.domain.errors import InputError
from liqscope.model.presets import PRESETS

router = APIRouter(tags=["signals"])

SCENARIOS = ("calm", "trending", "squeeze", "cascade")
HOUR_MS = 3_600_000
DAY_MS = 86_400_000
STEP_MS = 60_000
CACHE_ITEMS = 32


def _signals(name: str) -> Any:
    """A ``liqscope.signals`` module (outside the strictly typed packages)."""
    return importlib.import_module(f"liqscope.signals.{name}")


def _json(obj: Any) -> Response:
    return Response(
        orjson.dumps(obj, option=orjson.OPT_SERIALIZE_NUMPY, default=float),
        media_type="application/json",
    )


def _clean(obj: Any) -> Any:
    """NaN/inf → None, recursively (JSON has neither)."""
    if isinstance(obj, float):
        return obj if obj == obj and obj not in (float("inf"), float("-inf")) else None
    if isinstance(obj, dict):
        return {k: _clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_clean(v) for v in obj]
    return obj


class _Cache:
    def __init__(self, size: int) -> None:
        self._items: OrderedDict[tuple[Any, ...], Any] = OrderedDict()
        self._lock = threading.Lock()
        self._size = size

    def get(self, key: tuple[Any, ...]) -> Any:
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
        return None

    def put(self, key: tuple[Any, ...], value: Any) -> None:
        with self._lock:
            self._items[key] = value
            while len(self._items) > self._size:
                self._items.popitem(last=False)


_SCORES = _Cache(CACHE_ITEMS)


def _db(request: Request) -> Path:
    path = getattr(request.app.state.settings, "db_path", None)
    if not path:
        raise ApiError(404, None, "no store configured")
    return Path(path)


def _presets(text: str) -> dict[str, Any]:
    names = [n.strip().lower() for n in text.split(",") if n.strip()]
    if not names:
        raise ApiError(422, "presets", "presets: give at least one preset")
    unknown = [n for n in names if n not in PRESETS]
    if unknown:
        raise ApiError(
            422, "presets", f"presets: unknown {', '.join(unknown)} (known: {', '.join(PRESETS)})"
        )
    return {n: PRESETS[n] for n in dict.fromkeys(names)}


def _native(venue: str, symbol: str) -> str:
    from liqscope.domain.registry import native_symbol

    try:
        return native_symbol(venue, symbol)
    except (InputError, KeyError, ValueError):
        return symbol


def _stored_steps(db: Path, venue: str, symbol: str, days: float) -> Any:
    from liqscope.store.sqlite import SqliteStore

    native = _native(venue, symbol)
    if not db.is_file():
        raise ApiError(404, "symbol", f"no data stored for {venue} {symbol}")
    with SqliteStore(db, readonly=True) as st:
        row = st._conn.execute(
            "SELECT MAX(ts) FROM candles WHERE venue = ? AND symbol = ?", (venue, native)
        ).fetchone()
        if row is None or row[0] is None:
            raise ApiError(404, "symbol", f"no candles stored for {venue} {symbol}")
        t1 = int(row[0]) - int(row[0]) % STEP_MS + STEP_MS
        t0 = t1 - int(days * DAY_MS)
        steps = st.steps(venue, native, t0, t1, STEP_MS).to_model(venue, native)
        if steps is None:
            raise ApiError(404, "symbol", f"{venue} {symbol}: too little stored data")
        sc = _signals("scorecard")
        realized = sc.realized_from_store(st, venue, native, int(steps.ts[0]), t1)
    return steps, realized


Limit = Annotated[int, Query(ge=1, le=1000, description="most recent alerts to return")]


@router.get("/api/alerts")
def list_alerts(
    request: Request,
    limit: Limit = 100,
    symbol: Annotated[str | None, Query(min_length=1, max_length=40)] = None,
    rule: Annotated[str | None, Query(min_length=1, max_length=100)] = None,
) -> Response:
    """Fired alerts (newest first) with what triggered them."""
    db = _db(request)
    if not db.is_file():
        return _json({"alerts": []})
    store_mod = _signals("storage")
    with store_mod.SignalStore(db, readonly=True) as ss:
        rows = ss.alerts(limit=limit, symbol=symbol, rule_id=rule)
    return _json(_clean({"alerts": rows}))


@router.get("/api/score")
def score(
    request: Request,
    scenario: Annotated[
        str | None, Query(max_length=20, description="simulator: calm|trending|squeeze|cascade")
    ] = None,
    seed: Annotated[int, Query(ge=0, le=1_000_000, description="simulator seed")] = 1,
    hours: Annotated[
        float, Query(ge=4, le=48, allow_inf_nan=False, description="simulated hours")
    ] = 24.0,
    symbol: Annotated[str | None, Query(min_length=1, max_length=40)] = None,
    venue: Annotated[str | None, Query(min_length=1, max_length=20)] = None,
    days: Annotated[float, Query(gt=0, le=90, allow_inf_nan=False)] = 7.0,
    presets: Annotated[str, Query(max_length=100)] = "all,high,calibrated",
    q: Annotated[float, Query(gt=0, lt=1, allow_inf_nan=False, description="hot share")] = 0.2,
    range_pct: Annotated[float, Query(gt=0, le=50, allow_inf_nan=False)] = 10.0,
) -> Response:
    """Share of realized liquidations in the predicted hot zones vs a matched baseline, with
    bootstrap CIs and false positives, per preset."""
    configs = _presets(presets)
    if scenario is not None and symbol is not None:
        raise ApiError(422, "scenario", "scenario: give either scenario or symbol+venue")
    if scenario is None and symbol is None:
        raise ApiError(422, "scenario", "scenario: give scenario, or symbol and venue")
    if scenario is not None and scenario not in SCENARIOS:
        raise ApiError(
            422, "scenario", f"scenario: unknown {scenario!r} (one of {', '.join(SCENARIOS)})"
        )
    if symbol is not None and venue is None:
        raise ApiError(422, "venue", "venue: required with symbol")
    sc = _signals("scorecard")
    if scenario is not None:
        key: tuple[Any, ...] = ("sim", scenario, seed, hours, tuple(configs), q, range_pct)
        hit = _SCORES.get(key)
        if hit is None:
            sim = sc.simulate(scenario, seed, hours)
            res = sc.sim_scorecards(
                sim, configs, q=q, range_pct=range_pct, block_ms=2 * HOUR_MS, n_boot=500
            )
            hit = _clean({"source": {"scenario": scenario, "seed": seed, "hours": hours}, **res})
            _SCORES.put(key, hit)
        return _json(hit)
    assert symbol is not None and venue is not None
    db = _db(request)
    stamp = db.stat().st_mtime_ns if db.is_file() else 0
    key = ("store", str(db), venue, symbol, days, tuple(configs), q, range_pct, stamp // 10**10)
    hit = _SCORES.get(key)
    if hit is None:
        steps, realized = _stored_steps(db, venue, symbol, days)
        if len(realized) == 0:
            raise ApiError(404, "symbol", f"no realized liquidations stored for {venue} {symbol}")
        models: dict[str, Any] = {}
        broken: Any = None
        for name, cfg in configs.items():
            est = sc.estimate(steps, replace(cfg, column_ms=HOUR_MS, max_columns=1_000_000))
            wm = sc.window_maps(est, steps, tiers=cfg.display_leverages)
            try:
                card = sc.score_windows(
                    wm, realized, q=q, range_pct=range_pct, block_ms=DAY_MS, n_boot=500
                )
            except InputError as exc:
                raise ApiError(404, "days", f"days: {exc}") from None
            models[name] = card.to_dict()
            if broken is None:
                broken = sc.score_windows(
                    sc.shuffled(wm), realized, q=q, range_pct=range_pct, block_ms=DAY_MS,
                    n_boot=500,
                ).to_dict()  # fmt: skip
        hit = _clean(
            {
                "source": {"venue": venue, "symbol": symbol, "days": days},
                "models": models,
                "broken_shuffled": broken,
            }
        )
        _SCORES.put(key, hit)
    return _json(hit)


@router.get("/api/check")
def check(
    request: Request,
    symbol: Annotated[str, Query(min_length=1, max_length=40)],
    side: Annotated[str, Query(max_length=10, description="long or short")],
    entry: Annotated[float, Query(gt=0, allow_inf_nan=False, description="entry price")],
    leverage: Annotated[float, Query(ge=1, le=1000, allow_inf_nan=False)],
    qty: Annotated[float | None, Query(gt=0, allow_inf_nan=False)] = None,
    venue: Annotated[str, Query(min_length=1, max_length=20)] = "binance",
    days: Annotated[float, Query(gt=0, le=90, allow_inf_nan=False)] = 7.0,
    preset: Annotated[str, Query(max_length=40)] = "all",
    band: Annotated[float, Query(gt=0, le=20, allow_inf_nan=False)] = 0.5,
) -> Response:
    """Exact liquidation price, estimated liquidation mass around it and a verdict."""
    if side.lower() not in ("long", "short"):
        raise ApiError(422, "side", "side: expected long or short")
    if preset.lower() not in PRESETS:
        raise ApiError(422, "preset", f"preset: unknown {preset!r}")
    steps, _ = _stored_steps(_db(request), venue, symbol, days)
    from liqscope.model.estimator import estimate

    res = estimate(steps, PRESETS[preset.lower()])
    clusters = _signals("clusters")
    lm = clusters.LevelMap.from_heatmap(res, -1).with_price(float(steps.close[-1]))
    try:
        rep = _signals("check").check_position(
            lm, venue=venue, symbol=steps.symbol or symbol, side=side.lower(), entry=entry,
            leverage=leverage, qty=qty, band_pct=band,
        )  # fmt: skip
    except InputError as exc:
        msg = str(exc)
        param = next((p for p in ("leverage", "entry", "qty", "side") if p in msg), "symbol")
        raise ApiError(422, param, f"{param}: {msg}") from None
    return _json(_clean(rep.to_dict()))
