"""The signals endpoints (/api/alerts, /api/score, /api/check) through the ASGI transport."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest
from api_app import asgi_get, asgi_ok, store_app

from liqscope.signals.storage import SignalStore

APP = store_app(minutes=3 * 1440, liquidations_per_day=600, markets=(("binance", "BTCUSDT"),))
DB = APP.state.service.backend.path


def get(path: str, **params: Any) -> httpx.Response:
    return asgi_get(APP, path, **params)


def ok(path: str, **params: Any) -> dict[str, Any]:
    return asgi_ok(APP, path, **params)


def test_alerts_lists_stored_alerts_newest_first() -> None:
    with SignalStore(DB) as ss:
        for i in range(3):
            ss.add_alert(
                {"rule_id": f"r{i}", "venue": "binance", "symbol": "BTCUSDT",
                 "condition": "cascade", "ts": 1_000 + i, "price": 1.0,
                 "message": f"m{i}", "details": {"i": i}}
            )  # fmt: skip
    rows = ok("/api/alerts", limit=2)["alerts"]
    assert [r["rule_id"] for r in rows] == ["r2", "r1"]
    assert rows[0]["details"] == {"i": 2} and rows[0]["message"] == "m2"
    assert [r["rule_id"] for r in ok("/api/alerts", rule="r0")["alerts"]] == ["r0"]


@pytest.mark.parametrize(
    ("path", "params", "param"),
    [
        ("/api/alerts", {"limit": "0"}, "limit"),
        ("/api/alerts", {"limit": "x"}, "limit"),
        ("/api/score", {"scenario": "moon"}, "scenario"),
        ("/api/score", {"scenario": "cascade", "hours": "1000"}, "hours"),
        ("/api/score", {"scenario": "cascade", "seed": "-1"}, "seed"),
        ("/api/score", {"scenario": "cascade", "presets": "nope"}, "presets"),
        ("/api/score", {"scenario": "cascade", "q": "1.5"}, "q"),
        ("/api/score", {"symbol": "BTCUSDT", "venue": "binance", "days": "nan"}, "days"),
        ("/api/check", {"side": "long", "entry": "1", "leverage": "10"}, "symbol"),
        ("/api/check", {"symbol": "BTCUSDT", "side": "up", "entry": "1", "leverage": "10"},
         "side"),
        ("/api/check", {"symbol": "BTCUSDT", "side": "long", "entry": "-5", "leverage": "10"},
         "entry"),
        ("/api/check", {"symbol": "BTCUSDT", "side": "long", "entry": "1", "leverage": "0"},
         "leverage"),
        ("/api/check", {"symbol": "BTCUSDT", "side": "long", "entry": "1", "leverage": "10",
                        "qty": "inf"}, "qty"),
        ("/api/check", {"symbol": "BTCUSDT", "side": "long", "entry": "1", "leverage": "10",
                        "preset": "zzz"}, "preset"),
    ],
)  # fmt: skip
def test_bad_parameters_are_422_naming_them(path: str, params: dict[str, str], param: str) -> None:
    r = get(path, **params)
    assert r.status_code == 422, r.text
    detail = r.json()["detail"]
    assert any(d["loc"][-1] == param for d in detail), detail


def test_unknown_market_is_404_not_5xx() -> None:
    r = get("/api/check", symbol="DOGEUSDT", side="long", entry=1, leverage=10)
    assert r.status_code == 404 and "DOGEUSDT" in r.json()["detail"]
    r = get("/api/score", symbol="DOGEUSDT", venue="binance")
    assert r.status_code == 404


def test_simulator_scorecard_per_preset_with_cis_and_cache() -> None:
    t = time.perf_counter()
    body = ok("/api/score", scenario="cascade", seed=1, hours=6)
    first = time.perf_counter() - t
    assert body["source"] == {"scenario": "cascade", "seed": 1, "hours": 6.0}
    assert set(body["models"]) == {"all", "high", "calibrated"}
    for card in (*body["models"].values(), body["broken_shuffled"], body["oracle_true_profile"]):
        hs, bs = card["hot_share"], card["baseline_share"]
        assert 0 <= hs["ci_low"] <= hs["value"] <= hs["ci_high"] <= 1
        assert 0 <= bs["value"] <= 1
        assert card["false_positives"] <= card["zones_reached"]
    t = time.perf_counter()
    again = ok("/api/score", scenario="cascade", seed=1, hours=6)
    assert again == body
    assert time.perf_counter() - t < max(0.2, first / 5)  # cached


def test_stored_scorecard_and_position_check() -> None:
    body = ok("/api/score", symbol="BTCUSDT", venue="binance", days=3, presets="all")
    assert body["source"]["venue"] == "binance" and set(body["models"]) == {"all"}
    card = body["models"]["all"]
    assert card["realized_usd"] > 0 and card["windows"] > 10
    rep = ok("/api/check", symbol="BTCUSDT", side="long", entry=60_000, leverage=20)
    price = rep["price"]
    assert price > 0 and 0 < rep["liq_price"] < 60_000
    assert rep["verdict"] in ("liquidated", "inside_largest", "inside_cluster", "near_cluster",
                              "clear")  # fmt: skip
    short = ok("/api/check", symbol="BTCUSDT", side="short", entry=price, leverage=50, qty=0.1)
    assert short["liq_price"] > price


def test_scorecard_page_served_and_linked() -> None:
    page = get("/static/scorecard.html")
    assert page.status_code == 200 and "/static/scorecard.js" in page.text
    assert "/static/style.css" in page.text and "/static/plotly.min.js" in page.text
    assert get("/static/scorecard.js").status_code == 200
    assert "/static/scorecard.html" in get("/").text
    paths = ok("/openapi.json")["paths"]
    assert {"/api/alerts", "/api/score", "/api/check"} <= set(paths)
