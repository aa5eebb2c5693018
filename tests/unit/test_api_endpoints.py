"""Every REST endpoint against the app (a real store through the ASGI transport)."""

from __future__ import annotations

import time
from typing import Any

import httpx
import numpy as np
import pytest
from api_app import START_MS, asgi_get, asgi_ok, store_app

from liqscope.api import schemas
from liqscope.domain.events import Liquidation, OpenInterest
from liqscope.domain.types import PriceKind, Side
from liqscope.store.sqlite import SqliteStore

APP = store_app(minutes=2 * 1440)
BACKEND = APP.state.service.backend


def get(path: str, app: Any = APP, **params: Any) -> httpx.Response:
    return asgi_get(app, path, **params)


def ok(path: str, **params: Any) -> dict[str, Any]:
    return asgi_ok(APP, path, **params)


def test_heatmap_reduced_to_width_and_height() -> None:
    d = ok("/api/heatmap", symbol="BTCUSDT", range="24h", width=200, height=80)
    schemas.HeatmapResponse.model_validate(d)
    z = np.array(d["z"], dtype=float)
    assert z.shape[0] <= 80 and z.shape[1] <= 200 and z.shape[1] > 10
    assert len(d["bucket_edges"]) == z.shape[0] + 1
    assert len(d["ts"]) == z.shape[1] == len(d["candles"]["close"])
    assert np.all(np.diff(d["bucket_edges"]) > 0)
    assert np.nansum(z) > 0 and d["units"] == "usd" and "USD" in d["units_label"]
    assert d["aggregate"] is True and d["provenance"]["lower_bound"] is True
    zl = np.array(d["z_long"], dtype=float)
    assert np.all(zl <= z + 1)


def test_heatmap_filters_change_the_grid() -> None:
    base = dict(symbol="BTCUSDT", range="24h", width=150, height=60, venues="bybit")
    full = np.nansum(np.array(ok("/api/heatmap", **base)["z"], float))
    high = np.nansum(np.array(ok("/api/heatmap", **base, tiers="50x,100x")["z"], float))
    longs = np.nansum(np.array(ok("/api/heatmap", **base, sides="long")["z"], float))
    assert 0 < high < full and 0 < longs < full
    rel = ok("/api/heatmap", **base, units="relative")
    assert rel["units"] == "relative" and np.nanmax(np.array(rel["z"], float)) <= 1.0


def test_heatmap_explicit_window_and_interval() -> None:
    start = BACKEND.data_range(["bybit"], "BTCUSDT")[0]  # type: ignore[index]
    d = ok(
        "/api/heatmap",
        symbol="BTCUSDT",
        venues="bybit",
        start=str(start + 3600_000),
        end=str(start + 7 * 3600_000),
        interval="5m",
        width=100,
        height=50,
    )
    assert d["start"] == start + 3600_000 and d["interval_ms"] == 300_000
    assert all(start + 3600_000 <= t < start + 7 * 3600_000 for t in d["ts"])


def test_heatmap_cell_split() -> None:
    d = ok("/api/heatmap", symbol="BTCUSDT", range="24h", width=100, height=50)
    z = np.array(d["z"], float)
    row, col = np.unravel_index(np.nanargmax(z), z.shape)
    c = ok(
        "/api/heatmap/cell",
        symbol="BTCUSDT",
        range="24h",
        ts=d["ts"][col],
        column_ms=d["column_ms"],
        price_lo=d["bucket_edges"][row],
        price_hi=d["bucket_edges"][row + 1],
        width=100,
    )
    schemas.CellResponse.model_validate(c)
    assert c["long"] + c["short"] > 0 and len(c["tiers"]) == 5


def test_map_profile() -> None:
    d = ok("/api/map", symbol="BTCUSDT", buckets=50)
    schemas.MapResponse.model_validate(d)
    n = len(d["bucket_edges"]) - 1
    assert 0 < n <= 50 and set(d["long"]) == set(d["tiers"])
    lo, hi = np.array(d["bucket_edges"][:-1]), np.array(d["bucket_edges"][1:])
    assert np.all(np.array(d["cum_long"])[lo > d["price"]] == 0)
    assert np.all(np.array(d["cum_short"])[hi <= d["price"]] == 0)
    assert max(d["cum_long"]) > 0 and max(d["cum_short"]) > 0
    for side in ("above", "below"):
        mp = d["max_pain"][side]
        assert mp is not None and (mp["price"] > d["price"]) == (side == "above")


def test_realized_bars_levels_feed() -> None:
    end = BACKEND.data_range(["bybit"], "BTCUSDT")[1] // 3600_000 * 3600_000  # type: ignore[index]
    win = {"start": str(end - 24 * 3600_000), "end": str(end)}
    b = ok("/api/liquidations/bars", symbol="BTCUSDT", interval="1h", **win)
    schemas.BarsResponse.model_validate(b)
    assert len(b["ts"]) == 24 and set(b["by_venue"]) == {"binance", "bybit", "okx"}
    assert b["by_venue"]["binance"]["lower_bound"] and not b["by_venue"]["bybit"]["lower_bound"]
    total = sum(b["long"]) + sum(b["short"])
    assert total > 0
    lv = ok("/api/liquidations/levels", symbol="BTCUSDT", buckets=30, **win)
    schemas.LevelsResponse.model_validate(lv)
    assert len(lv["long"]) == len(lv["bucket_edges"]) - 1 <= 30
    assert abs(sum(lv["long"]) + sum(lv["short"]) - total) < 1e-6 * total + 1
    f = ok("/api/liquidations/feed", symbol="BTCUSDT", limit=5, min_usd=10_000)
    schemas.FeedResponse.model_validate(f)
    assert len(f["items"]) == 5 and all(i["notional_usd"] >= 10_000 for i in f["items"])
    assert [i["ts"] for i in f["items"]] == sorted((i["ts"] for i in f["items"]), reverse=True)


def test_series_instruments_status() -> None:
    p = ok("/api/series/price", symbol="BTCUSDT", venue="okx", range="12h", interval="15m")
    schemas.PriceResponse.model_validate(p)
    assert len(p["ts"]) in (48, 49)  # a partial first candle when the window is not aligned
    o = ok("/api/series/oi", symbol="BTC-USDT-SWAP", range="24h", max_points=100)
    schemas.OIResponse.model_validate(o)
    assert 0 < len(o["ts"]) <= 100
    i = ok("/api/instruments")
    schemas.InstrumentsResponse.model_validate(i)
    okx = next(v for v in i["markets"][0]["venues"] if v["venue"] == "okx")
    assert okx["native_symbol"] == "BTC-USDT-SWAP"
    s = ok("/api/status")
    schemas.StatusResponse.model_validate(s)
    assert s["ok"] and {m["feed"] for m in s["markets"]} == {"sampled", "complete"}


@pytest.mark.parametrize(
    ("path", "params", "param"),
    [
        ("/api/heatmap", {"width": "abc"}, "width"),
        ("/api/heatmap", {"width": "5"}, "width"),
        ("/api/heatmap", {"height": "100000"}, "height"),
        ("/api/heatmap", {"range": "2d"}, "range"),
        ("/api/heatmap", {"units": "eur"}, "units"),
        ("/api/heatmap", {"tiers": "7x"}, "tiers"),
        ("/api/heatmap", {"sides": "up"}, "sides"),
        ("/api/heatmap", {"venues": "kraken"}, "venues"),
        ("/api/heatmap", {"preset": "nope"}, "preset"),
        ("/api/heatmap", {"start": "yesterday"}, "start"),
        ("/api/heatmap", {"start": "1700000000000", "end": "1690000000000"}, "end"),
        ("/api/heatmap", {"interval": "7m"}, "interval"),
        ("/api/map", {"buckets": "1"}, "buckets"),
        ("/api/map", {"window_pct": "nan"}, "window_pct"),
        ("/api/liquidations/bars", {"interval": "1s"}, "interval"),
        ("/api/liquidations/bars", {"min_usd": "-1"}, "min_usd"),
        ("/api/liquidations/levels", {"min_usd": "inf"}, "min_usd"),
        ("/api/series/price", {"venue": "binance,bybit"}, "venue"),
        ("/api/heatmap/cell", {"ts": "1", "price_lo": "2", "price_hi": "1"}, "price_hi"),
    ],
)
def test_bad_parameters_are_422_naming_them(path: str, params: dict[str, str], param: str) -> None:
    r = get(path, symbol="BTCUSDT", **params)
    assert r.status_code == 422, r.text
    detail = r.json()["detail"]
    assert any(d["loc"][-1] == param for d in detail), detail
    assert all(d["msg"] for d in detail)


def test_feed_limit_validated() -> None:
    r = get("/api/liquidations/feed", limit=0)
    assert r.status_code == 422 and r.json()["detail"][0]["loc"][-1] == "limit"


def test_missing_symbol_and_unknown_symbol() -> None:
    r = get("/api/heatmap")
    assert r.status_code == 422 and r.json()["detail"][0]["loc"][-1] == "symbol"
    r = get("/api/map", symbol="DOGEUSDT")
    assert r.status_code == 404 and "DOGEUSDT" in r.json()["detail"]
    r = get("/api/heatmap", symbol="BTCUSDT", venues="hyperliquid")
    assert r.status_code == 404 and "hyperliquid" in r.json()["detail"]


def test_empty_data_is_200_with_note() -> None:
    app = store_app(markets=())
    with SqliteStore(app.state.service.backend.path) as store:  # a market known, no data now
        store.write_open_interest(
            [OpenInterest("bybit", "ETHUSDT", START_MS - 86_400_000, 1.0, None)]
        )
    for path, extra in [
        ("/api/heatmap", {}),
        ("/api/map", {}),
        ("/api/liquidations/bars", {}),
        ("/api/liquidations/levels", {}),
        ("/api/liquidations/feed", {}),
        ("/api/series/price", {}),
        ("/api/series/oi", {}),
    ]:
        r = get(path, app=app, symbol="ETHUSDT", **extra)
        assert r.status_code == 200, (path, r.text)
        body = r.json()
        assert body["note"], path
    assert get("/api/heatmap", app=app, symbol="ETHUSDT").json()["z"] == []


def test_repeated_views_come_from_the_cache() -> None:
    app = store_app(minutes=1440)
    service = app.state.service
    backend = service.backend
    params = dict(symbol="BTCUSDT", range="12h", width=100, height=40)
    first = get("/api/heatmap", app=app, **params).content
    misses = service.responses.misses
    again = get("/api/heatmap", app=app, **params).content
    assert again == first and service.responses.misses == misses
    # new data changes the version: recomputed
    rng = backend.data_range(["bybit"], "BTCUSDT")
    assert rng is not None
    with SqliteStore(backend.path) as store:
        store.write_liquidations(
            [Liquidation("bybit", "BTCUSDT", rng[1], Side.LONG, 25.0, 40_000.0,
                         PriceKind.BANKRUPTCY, 1e6, False)]
        )  # fmt: skip
    time.sleep(0.3)  # the store backend re-reads its data version at most every 0.25 s
    # served the body held (at once) while one background run makes the new one
    deadline = time.monotonic() + 20
    while get("/api/heatmap", app=app, **params).content == first:
        assert time.monotonic() < deadline, "the new data never reached the heatmap"
        time.sleep(0.05)
    assert service.responses.misses == misses + 1


def test_openapi_lists_every_endpoint() -> None:
    paths = ok("/openapi.json")["paths"]
    for p in (
        "/api/heatmap",
        "/api/heatmap/cell",
        "/api/map",
        "/api/liquidations/bars",
        "/api/liquidations/levels",
        "/api/liquidations/feed",
        "/api/series/price",
        "/api/series/oi",
        "/api/instruments",
        "/api/status",
    ):
        assert p in paths
    assert get("/docs").status_code == 200


def test_static_ui_and_plotly_served() -> None:
    r = get("/")
    assert r.status_code == 200 and "liqscope" in r.text and "cdn" not in r.text.lower()
    js = get("/static/plotly.min.js")
    assert js.status_code == 200 and len(js.content) > 1_000_000
    assert get("/static/app.js").status_code == 200
    assert get("/static/style.css").status_code == 200


@pytest.mark.parametrize(
    ("path", "title"),
    [
        ("/", "liquidation heatmap"),
        ("/static/index.html", "liquidation heatmap"),
        ("/static/overview.html", "markets overview"),
        ("/static/scorecard.html", "accuracy scorecard"),
    ],
)
def test_pages_are_served_whole_with_the_shared_head(path: str, title: str) -> None:
    text = get(path).text
    assert text.startswith('<!doctype html>\n<html lang="en">\n<head>\n')
    assert f"<title>liqscope — {title}</title>" in text and "head.html" not in text
    head = text[: text.index("</head>")]
    assert head.count('href="/static/style.css"') == 1 and head.count("/static/palette.js") == 1
    assert text.count("<head>") == 1 and text.count("</head>") == 1


def test_query_endpoints_are_described_and_tagged() -> None:
    paths = ok("/openapi.json")["paths"]
    bars = paths["/api/liquidations/bars"]["get"]
    assert bars["tags"] == ["realized"] and bars["description"].startswith("Realized liquid")
    assert {q["name"] for q in bars["parameters"]} >= {"symbol", "venues", "range", "interval"}
    assert paths["/api/check"]["get"]["tags"] == ["signals"]
    assert "verdict" in paths["/api/check"]["get"]["description"]


def test_too_fine_an_interval_is_coarsened_with_a_note() -> None:
    """A window needing more bars than the limit gets the finest interval that fits."""
    b = ok("/api/liquidations/bars", symbol="BTCUSDT", range="1y", interval="1m")
    assert b["interval_ms"] > 60_000 and len(b["ts"]) <= 20_000
    assert "interval raised" in b["note"]
