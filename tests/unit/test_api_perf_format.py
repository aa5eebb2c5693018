"""Heatmap encodings (json / bin), O(1) cache hits, single flight and short histories."""

from __future__ import annotations

import asyncio
import gzip
import threading
import time
from typing import Any

import httpx
import numpy as np
from api_app import START_MS, asgi_get, asgi_ok, store_app

from liqscope.api import schemas
from liqscope.api.encoding import decode_bin, round_significant
from liqscope.api.params import HeatmapParams
from liqscope.api.views.heatmap import heatmap_body
from liqscope.domain.events import Liquidation
from liqscope.domain.types import PriceKind, Side
from liqscope.store.sqlite import SqliteStore

APP = store_app(minutes=1440, markets=(("binance", "BTCUSDT"), ("bybit", "BTCUSDT")))
PARAMS: dict[str, Any] = {"symbol": "BTCUSDT", "range": "24h", "width": 300, "height": 120}


def get(app: Any, path: str = "/api/heatmap", **params: Any) -> httpx.Response:
    return asgi_get(app, path, **params)


def ok(app: Any, **params: Any) -> dict[str, Any]:
    return asgi_ok(app, "/api/heatmap", **params)


def test_bin_format_decodes_to_the_json_matrix() -> None:
    j = ok(APP, **PARAMS)
    b = ok(APP, **PARAMS, format="bin")
    schemas.HeatmapResponse.model_validate(b)
    assert j["format"] == "json" and b["format"] == "bin"
    assert isinstance(b["z"], str) and isinstance(b["z_long"], str)
    z, zl = decode_bin(b)
    zj = np.array(j["z"], float)
    zlj = np.array(j["z_long"], float)
    assert z.shape == zj.shape == tuple(b["z_encoding"]["shape"])
    peak = zj.max()
    assert peak > 0
    # float16 relative to the peak: ~1/2048 of a value, plus json's rounding to whole USD
    assert np.all(np.abs(z - zj) <= np.maximum(zj * 1e-3, peak * 1e-6) + 1)
    # the long part is z x (share in 1/255): it carries z's own float16 error as well
    assert zl is not None and np.all(np.abs(zl - zlj) <= np.abs(z - zj) + zj / 255 + 1)
    for key in ("ts", "bucket_edges", "candles", "column_ms", "max", "provenance"):
        assert b[key] == j[key]
    r = get(APP, **PARAMS, format="bin")
    assert len(r.content) < len(get(APP, **PARAMS).content) / 3


def test_bad_format_is_422() -> None:
    r = get(APP, **PARAMS, format="xml")
    assert r.status_code == 422 and r.json()["detail"][0]["loc"][-1] == "format"


def heatmap(width: int, height: int, fmt: str) -> bytes:
    """The heatmap body of the 24h aggregate straight from the view (no HTTP)."""
    p = HeatmapParams(
        symbol="BTCUSDT",
        range_="24h",
        width=width,
        height=height,
        format=fmt,  # type: ignore[arg-type]  # a Literal in the schema
    )
    return heatmap_body(APP.state.context, p).raw


def test_cache_hit_returns_the_same_bytes_without_recomputing() -> None:
    ctx = APP.state.context
    first = heatmap(250, 100, "bin")
    runs = ctx.estimates.misses
    again = heatmap(250, 100, "bin")
    assert again is first  # the cached encoded body itself: no numpy work, no serialization
    json_body = heatmap(250, 100, "json")
    assert ctx.estimates.misses == runs  # the json encoding reuses the model run
    assert heatmap(250, 100, "json") is json_body


def test_identical_concurrent_requests_compute_once() -> None:
    ctx = APP.state.context
    before = ctx.responses.misses
    bodies: list[bytes] = []
    barrier = threading.Barrier(8)

    def run() -> None:
        barrier.wait()
        bodies.append(heatmap(222, 99, "bin"))

    threads = [threading.Thread(target=run) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert ctx.responses.misses == before + 1
    assert len(bodies) == 8 and all(b is bodies[0] for b in bodies)


def test_short_history_covers_the_part_of_the_window_with_data() -> None:
    app = store_app(minutes=360)
    for venues in ("all", "bybit"):
        d = ok(app, symbol="BTCUSDT", range="12h", venues=venues, width=100, height=50)
        assert d["note"] is None or "no stored data" not in d["note"], d["note"]
        assert len(d["ts"]) > 10 and np.nansum(np.array(d["z"], float)) > 0
        assert d["end"] - d["start"] == 12 * 3_600_000
        assert min(d["ts"]) >= START_MS - 3_600_000  # columns only where data exists
        assert "stored data starts" in d["note"]


def test_aggregate_skips_a_venue_without_candles_and_says_so() -> None:
    app = store_app(minutes=360, markets=(("binance", "BTCUSDT"),))
    path = app.state.service.backend.path
    with SqliteStore(path) as store:  # okx: liquidations only (no candles, no open interest)
        store.write_liquidations(
            [
                Liquidation(
                    "okx",
                    "BTC-USDT-SWAP",
                    START_MS + i * 600_000,
                    Side.LONG if i % 2 else Side.SHORT,
                    0.5,
                    60_000.0,
                    PriceKind.AVERAGE_FILL,
                    30_000.0,
                    True,
                )
                for i in range(30)
            ]
        )
    d = ok(app, symbol="BTCUSDT", range="12h", venues="all", width=100, height=50)
    assert d["venues"] == ["binance", "okx"] and d["aggregate"] is True
    assert len(d["ts"]) > 10 and np.nansum(np.array(d["z"], float)) > 0
    assert d["provenance"]["skipped_venues"] == ["okx"]
    assert "okx" in d["note"] and "binance" in d["note"]
    schemas.HeatmapResponse.model_validate(d)
    alone = ok(app, symbol="BTCUSDT", range="12h", venues="okx", width=100, height=50)
    assert alone["ts"] == [] and "no stored data" in alone["note"]


def get_raw(app: Any, headers: dict[str, str], **params: Any) -> httpx.Response:
    """A response as sent (not inflated): the body bytes and headers on the wire."""

    async def go() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with (
            httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as c,
            c.stream("GET", "/api/heatmap", params=params, headers=headers) as r,
        ):
            r._content = b"".join([part async for part in r.aiter_raw()])
            return r

    return asyncio.run(go())


def test_heatmap_gzip_is_made_once_and_sent_as_cached() -> None:
    gz = get_raw(APP, {"accept-encoding": "gzip, deflate"}, **PARAMS, format="bin")
    assert gz.status_code == 200
    assert gz.headers["content-encoding"] == "gzip"
    assert "accept-encoding" in gz.headers["vary"].lower()
    p = HeatmapParams(
        symbol="BTCUSDT",
        range_="24h",
        width=300,
        height=120,
        format="bin",
    )
    cached = heatmap_body(APP.state.context, p)
    assert cached.gzip is not None and gz.content == cached.gzip  # the cached gzip itself
    assert gzip.decompress(gz.content) == cached.raw
    again = get_raw(APP, {"accept-encoding": "gzip"}, **PARAMS, format="bin")
    assert again.content == gz.content and again.headers["etag"] == gz.headers["etag"]
    for refuse in ("identity", "gzip;q=0", "br"):
        plain = get_raw(APP, {"accept-encoding": refuse}, **PARAMS, format="bin")
        assert "content-encoding" not in plain.headers, refuse
        assert plain.content == cached.raw
        assert plain.headers["etag"] == gz.headers["etag"]  # weak: one validator for both


def test_heatmap_etag_revalidation_answers_304_without_body() -> None:
    first = get_raw(APP, {"accept-encoding": "gzip"}, **PARAMS)
    etag = first.headers["etag"]
    assert etag.startswith('W/"') and first.headers["cache-control"] == "no-cache"
    for match in (etag, etag.removeprefix("W/"), f'"other", {etag}', "*"):
        r = get_raw(APP, {"accept-encoding": "gzip", "if-none-match": match}, **PARAMS)
        assert r.status_code == 304, match
        assert r.content == b"" and r.headers["etag"] == etag
    stale = get_raw(APP, {"if-none-match": '"not-this-one"'}, **PARAMS)
    assert stale.status_code == 200 and stale.headers["etag"] == etag
    other = get_raw(APP, {}, **{**PARAMS, "height": 60})
    assert other.status_code == 200 and other.headers["etag"] != etag


def test_new_data_changes_the_etag() -> None:
    app = store_app(minutes=360, markets=(("binance", "BTCUSDT"),))
    params = {"symbol": "BTCUSDT", "range": "12h", "width": 100, "height": 50, "format": "bin"}
    etag = get_raw(app, {}, **params).headers["etag"]
    path = app.state.service.backend.path
    with SqliteStore(path) as store:
        store.write_liquidations(
            [
                Liquidation(
                    "binance",
                    "BTCUSDT",
                    START_MS + 359 * 60_000,  # recent: the live poller finds it
                    Side.LONG,
                    1.0,
                    60_000.0,
                    PriceKind.AVERAGE_FILL,
                    60_000.0,
                    True,
                )
            ]
        )
    time.sleep(0.3)  # the data version is re-read at most every 250 ms
    deadline = time.monotonic() + 20  # the new body is made in the background
    while (r := get_raw(app, {"if-none-match": etag}, **params)).status_code == 304:
        assert time.monotonic() < deadline, "the new data never changed the ETag"
        time.sleep(0.05)
    assert r.status_code == 200 and r.headers["etag"] != etag


def test_heatmap_candles_are_short_numbers() -> None:
    d = ok(APP, **PARAMS, format="bin")
    closes = [c for c in d["candles"]["close"] if c is not None]
    assert closes
    # 10 significant digits at most: no 17-digit float noise in the body
    assert all(len(repr(c).replace(".", "").lstrip("0")) <= 11 for c in closes)
    raw = np.array(closes, float)
    assert np.all(np.abs(round_significant(raw) - raw) <= np.abs(raw) * 1e-9)
