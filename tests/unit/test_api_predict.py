"""``/api/predict``: the model's predicted liquidations per interval (``model.predict`` over
the one market estimate) beside the store's realized bars, typed parameters, 4xx on bad input."""

from __future__ import annotations

from typing import Any

import httpx
import numpy as np
import pytest
from api_app import asgi_get, asgi_ok, store_app

from liqscope.model import estimate_market, preset
from liqscope.model.predict import combined, predicted_liquidations
from liqscope.store.readers import read_steps
from liqscope.store.sqlite import SqliteStore

APP = store_app(minutes=2 * 1440, markets=(("binance", "BTCUSDT"), ("bybit", "BTCUSDT")))
DB = APP.state.service.backend.path
HOUR = 3_600_000


def call(path: str, **params: Any) -> httpx.Response:
    return asgi_get(APP, path, **params)


def get(path: str, **params: Any) -> dict[str, Any]:
    return asgi_ok(APP, path, **params)


def test_predicted_rows_are_the_model_predict_of_the_market_estimate() -> None:
    body = get("/api/predict", symbol="BTCUSDT", range="24h", interval="1h")
    assert body["venues"] == ["binance", "bybit"] and body["interval_ms"] == HOUR
    ts = np.asarray(body["ts"], np.int64)
    assert ts.size >= 20 and (ts % HOUR == 0).all() and (np.diff(ts) > 0).all()
    # the same prediction straight from the core: store -> steps -> estimate_market -> predict
    m0, m1 = body["model_window"]
    with SqliteStore(DB, readonly=True) as st:
        steps = [
            read_steps(st, v, "BTCUSDT", m0, m1, body["model_step_ms"]) for v in body["venues"]
        ]
    est = estimate_market([s for s in steps if s is not None], preset("all"))
    want = combined([predicted_liquidations(r, HOUR) for r in est.venues.values()])
    sel = np.isin(want.ts, ts)
    np.testing.assert_allclose(body["long"], np.round(want.long_usd[sel], 2), rtol=1e-9)
    np.testing.assert_allclose(body["short"], np.round(want.short_usd[sel], 2), rtol=1e-9)
    total = np.add(body["by_venue"]["binance"]["long"], body["by_venue"]["bybit"]["long"])
    np.testing.assert_allclose(total, body["long"], atol=0.02)
    assert sum(body["long"]) + sum(body["short"]) > 0


@pytest.mark.parametrize(("rng", "interval"), [("24h", "1h"), ("30d", "1w")])
def test_realized_columns_are_the_realized_bars_on_the_same_intervals(
    rng: str, interval: str
) -> None:
    """Rows are the bars' intervals (weeks start on Monday in both)."""
    q = {"symbol": "BTCUSDT", "venues": "binance", "range": rng, "interval": interval}
    body = get("/api/predict", **q)
    bars = get("/api/liquidations/bars", **q)
    at = {t: i for i, t in enumerate(bars["ts"])}
    idx = [at[t] for t in body["ts"]]
    assert body["realized_long"] == [bars["long"][i] for i in idx]
    assert body["realized_short"] == [bars["short"][i] for i in idx]
    assert sum(body["realized_long"]) + sum(body["realized_short"]) > 0


def test_preset_and_tiers_change_the_prediction() -> None:
    q = {"symbol": "BTCUSDT", "venues": "binance", "range": "24h", "interval": "4h"}
    full = get("/api/predict", **q)
    high = get("/api/predict", **q, tiers="50x,100x")
    assert high["tiers"] == ["50x", "100x"] and full["tiers"] == "all"
    assert sum(high["long"]) + sum(high["short"]) < sum(full["long"]) + sum(full["short"])


def test_bad_input_is_a_4xx_naming_the_parameter() -> None:
    r = call("/api/predict", symbol="NOPEUSDT")
    assert r.status_code == 404 and "symbol" in r.text
    r = call("/api/predict", symbol="BTCUSDT", interval="7m")
    assert r.status_code == 422 and "interval" in r.text
    r = call("/api/predict", symbol="BTCUSDT", preset="nope")
    assert r.status_code == 422 and "preset" in r.text
    r = call("/api/predict", symbol="BTCUSDT", venues="okx")
    assert r.status_code == 404 and "okx" in r.text
    r = call("/api/predict", symbol="BTCUSDT", start="2025-10-10", end="2025-10-09")
    assert r.status_code == 422 and "end" in r.text


def test_the_route_is_in_the_openapi_schema() -> None:
    paths = get("/openapi.json")["paths"]
    params = {x["name"] for x in paths["/api/predict"]["get"]["parameters"]}
    assert {"symbol", "venues", "range", "start", "end", "interval", "preset", "tiers"} <= params
