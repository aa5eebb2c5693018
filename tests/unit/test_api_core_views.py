"""The API renders core objects (issue 9): one market estimate, the signals' clusters, the
preset's tiers, the store's gaps; and it reaches the store and the venues only through the
core's public interfaces."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
import numpy as np
from api_app import store_app

import liqscope.api
from liqscope.model import estimate_market
from liqscope.model.presets import PRESETS
from liqscope.signals.clusters import LevelMap, find_clusters
from liqscope.store.base import Gap
from liqscope.store.readers import read_steps, stored_candle_span
from liqscope.store.sqlite import SqliteStore

APP = store_app(minutes=2 * 1440, markets=(("binance", "BTCUSDT"), ("bybit", "BTCUSDT")))
DB = APP.state.service.backend.path
MINUTE = 60_000


def get(path: str, app: Any = APP, **params: Any) -> dict[str, Any]:
    async def go() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as c:
            return await c.get(path, params=params)

    r = asyncio.run(go())
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def test_preset_high_changes_the_heatmap_and_the_map() -> None:
    base = {"symbol": "BTCUSDT", "venues": "binance", "range": "24h", "width": 100, "height": 60}
    full = get("/api/heatmap", **base, preset="all")
    high = get("/api/heatmap", **base, preset="high")
    assert full["tiers"] == ["5x", "10x", "25x", "50x", "100x"]
    assert high["tiers"] == ["25x", "50x", "100x"]  # the preset's own tiers
    z_all, z_high = np.array(full["z"], float).sum(), np.array(high["z"], float).sum()
    assert 0 < z_high < z_all
    m_all = get("/api/map", symbol="BTCUSDT", venues="binance", preset="all")
    m_high = get("/api/map", symbol="BTCUSDT", venues="binance", preset="high")
    assert set(m_high["long"]) == {"25x", "50x", "100x"} and len(m_all["long"]) == 5
    assert sum(m_high["long_total"]) < sum(m_all["long_total"])
    # an explicit tier list still wins over the preset's
    one = get("/api/heatmap", **base, preset="high", tiers="10x")
    assert one["tiers"] == ["10x"]


def _core_clusters(venue: str, native: str, days: float) -> tuple[list[Any], float]:
    """Clusters as ``liqscope map`` / ``check`` find them: 1-minute steps over the last
    ``days`` before the newest candle, one market estimate, the signals' cluster finder."""
    with SqliteStore(DB, readonly=True) as st:
        span = stored_candle_span(st, venue, native)
        assert span is not None
        t1 = span[1] + MINUTE
        steps = read_steps(st, venue, native, t1 - int(days * 86_400_000), t1, MINUTE)
    assert steps is not None
    est = estimate_market([steps], PRESETS["all"])
    lm = LevelMap.from_heatmap(est.heatmap, -1)
    return find_clusters(lm), float(est.heatmap.grid.step)


def test_map_clusters_are_the_core_clusters_on_the_config_grid() -> None:
    m = get("/api/map", symbol="BTCUSDT", venues="bybit", range="24h", buckets=2000)
    clusters, step = _core_clusters("bybit", "BTCUSDT", 1.0)
    assert clusters, "the synthetic market has dense zones"
    above = [(c.low, c.high, round(c.usd, 0)) for c in clusters if c.side == "short"][:5]
    below = [(c.low, c.high, round(c.usd, 0)) for c in clusters if c.side == "long"][:5]
    got_above = [(c["price_lo"], c["price_hi"], c["usd"]) for c in m["clusters"]["above"]]
    got_below = [(c["price_lo"], c["price_hi"], c["usd"]) for c in m["clusters"]["below"]]
    assert got_above == above and got_below == below
    # the map's buckets are the model config's own grid (not an API-only bucket count)
    edges = np.array(m["bucket_edges"])
    assert np.allclose(np.diff(edges), step)
    largest = max((c for c in clusters if c.side == "long"), key=lambda c: c.usd)
    assert m["max_pain"]["below"]["usd"] == round(largest.usd, 0)


def test_status_keeps_gaps_that_were_not_refilled(tmp_path: Path) -> None:
    app = store_app(minutes=600, markets=(("binance", "BTCUSDT"), ("bybit", "BTCUSDT")))
    db = app.state.service.backend.path
    s0 = 1_760_000_000_000
    with SqliteStore(db) as st:
        # one outage: candles and liquidations both lost from s0; only candles come back
        st.record_gap(Gap("binance", "BTCUSDT", "candles:1m", s0, s0 + 60_000, "down"))
        st.record_gap(Gap("binance", "BTCUSDT", "liquidations", s0, s0 + 60_000, "down"))
        st.mark_gap_backfilled("binance", "BTCUSDT", "candles:1m", s0)
        # another venue's refilled gap at the same start says nothing about bybit's OI gap
        st.record_gap(Gap("bybit", "BTCUSDT", "open_interest", s0 + 1, s0 + 90_000, "down"))
        st.record_gap(Gap("binance", "BTCUSDT", "open_interest", s0 + 1, s0 + 5_000, "down"))
        st.mark_gap_backfilled("binance", "BTCUSDT", "open_interest", s0 + 1)
    status = {(m["venue"], m["symbol"]): m for m in get("/api/status", app=app)["markets"]}
    assert status[("binance", "BTCUSDT")]["gaps"] == [[s0, s0 + 60_000]]  # liquidations stay
    assert status[("bybit", "BTCUSDT")]["gaps"] == [[s0 + 1, s0 + 90_000]]
    prov = get("/api/heatmap", app=app, symbol="BTCUSDT", range="12h", width=50, height=20)
    gaps = {v["venue"]: v["gaps"] for v in prov["provenance"]["venues"]}
    assert gaps == {"binance": [[s0, s0 + 60_000]], "bybit": [[s0 + 1, s0 + 90_000]]}


def test_api_reads_through_public_interfaces_only() -> None:
    """No private store connection and no venue package behind the API."""
    root = Path(liqscope.api.__file__).parent
    for path in root.rglob("*.py"):
        text = path.read_text()
        assert "._conn" not in text, path
        assert "liqscope.venues" not in text, path
        assert "level_ratios" not in text and "aggregate(" not in text, path
