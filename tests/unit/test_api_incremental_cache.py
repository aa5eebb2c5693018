"""Views served from incrementally updated state equal a fresh computation: the bars add the
liquidations stored since (by feed order, also those stored late for an old bar), and the
heatmap's model input is extended by the tail (``StepsCache``) rather than read again."""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import orjson
from api_app import START_MS, store_app

from liqscope.api.app import Settings, create_app
from liqscope.api.params import BarsParams, HeatmapParams
from liqscope.api.views.heatmap import heatmap_body, model_window
from liqscope.api.views.realized import bars_body
from liqscope.domain.clock import ManualClock
from liqscope.domain.events import Candle, Liquidation
from liqscope.domain.types import PriceKind, Side
from liqscope.store.sqlite import SqliteStore

MIN = 60_000
MINUTES = 1440
HEATMAP = {"symbol": "BTCUSDT", "range": "24h", "interval": "1m", "width": 200, "height": 80}
HEATMAP.update(format="bin", venues="binance")


def liq(venue: str, symbol: str, ts: int, side: Side, usd: float) -> Liquidation:
    return Liquidation(
        venue,
        symbol,
        ts,
        side,
        usd / 60_000,
        60_000.0,
        PriceKind.AVERAGE_FILL,
        usd,
        venue == "binance",
    )


def fresh_ctx(app: Any) -> Any:
    """A new app (empty caches) over the same store and clock."""
    ctx = app.state.context
    return create_app(Settings(db_path=str(ctx.source.path), clock=ctx.clock)).state.context


def wait_version(ctx: Any, venues: list[str]) -> None:
    """Until the source's cached data version (250 ms) shows the last write."""
    want = ctx.source.store().last_liquidation_seq()
    while ctx.source.version(venues, "BTCUSDT")[0] != want:
        time.sleep(0.05)


def bars(ctx: Any, **kw: Any) -> dict[str, Any]:
    p = BarsParams.model_validate({"symbol": "BTCUSDT", "range": "24h", "interval": "1h", **kw})
    body: dict[str, Any] = orjson.loads(bars_body(ctx, p))
    body.pop("provenance")
    return body


def test_bars_add_new_rows_and_equal_a_fresh_count() -> None:
    app = store_app(MINUTES, markets=(("binance", "BTCUSDT"), ("bybit", "BTCUSDT")))
    ctx = app.state.context
    end = START_MS + MINUTES * MIN
    first = bars(ctx, min_usd=1000)
    with SqliteStore(ctx.source.path) as w:
        w.write_liquidations(
            [
                liq("binance", "BTCUSDT", end - 30 * MIN, Side.LONG, 50_000.0),
                liq("bybit", "BTCUSDT", START_MS + 2 * 3600_000 + 5, Side.SHORT, 7_777.0),  # late
                liq("binance", "BTCUSDT", end - 20 * MIN, Side.SHORT, 500.0),  # under min_usd
                liq("binance", "ETHUSDT", end - 10 * MIN, Side.SHORT, 9_999.0),
            ]  # another market
        )
    wait_version(ctx, ["binance", "bybit"])
    again = bars(ctx, min_usd=1000)
    assert again["count"] == first["count"] + 2
    assert again == bars(fresh_ctx(app), min_usd=1000)
    assert again["by_venue"]["bybit"]["short"][2] - first["by_venue"]["bybit"]["short"][2] > 7_776


def test_heatmap_after_new_rows_equals_a_fresh_estimate() -> None:
    app = store_app(MINUTES, markets=(("binance", "BTCUSDT"),))
    ctx = app.state.context
    p = HeatmapParams.model_validate(HEATMAP)
    ctx.latest.wait_s = 5.0  # a refresh is done when the body comes back
    ctx.latest.min_interval_s = 0.0
    ctx.latest.cost_factor = 0.0
    heatmap_body(ctx, p)
    t0, t1 = model_window(
        ctx, ["binance"], "BTCUSDT", ctx.resolve_window(p.window, ["binance"], "BTCUSDT"), MIN
    )
    before = ctx.source.model_steps("binance", "BTCUSDT", t0, t1, MIN)
    end = START_MS + MINUTES * MIN
    with SqliteStore(ctx.source.path) as w:
        w.write_liquidations([liq("binance", "BTCUSDT", end - 90 * MIN, Side.LONG, 2e6)])
    wait_version(ctx, ["binance"])
    body = orjson.loads(heatmap_body(ctx, p).raw)
    cache = ctx.source.steps_cache
    assert cache.tail_reads >= 1  # the new run extended the held steps
    ref = orjson.loads(heatmap_body(fresh_ctx(app), p).raw)
    assert fresh_ctx(app).source.steps_cache.tail_reads == 0
    for k in ("data_version", "ts", "bucket_edges", "candles", "max"):
        assert body[k] == ref[k], k
    assert body["z"] == ref["z"]  # the encoded cells, byte for byte
    got = ctx.source.model_steps("binance", "BTCUSDT", t0, t1, MIN)  # the run's input
    want = fresh_ctx(app).source.model_steps("binance", "BTCUSDT", t0, t1, MIN)
    for f in ("ts", "close", "oi_base", "liq_long_usd", "liq_short_usd"):
        np.testing.assert_array_equal(getattr(got, f), getattr(want, f), err_msg=f)
    assert got.liq_long_usd.sum() - before.liq_long_usd.sum() == 2e6
    assert np.isfinite(body["max"]) and body["max"] > 0
    assert isinstance(ctx.clock, ManualClock)


def test_heatmap_columns_extended_from_state_equal_a_from_scratch_run() -> None:
    """New minutes (at the median close, so a fresh plan is the same plan) are estimated
    from the kept state; the body equals, byte for byte, a fresh app's full run."""
    app = store_app(MINUTES, markets=(("binance", "BTCUSDT"),))
    ctx = app.state.context
    ctx.latest.wait_s, ctx.latest.min_interval_s, ctx.latest.cost_factor = 5.0, 0.0, 0.0
    p = HeatmapParams.model_validate(HEATMAP)
    first = heatmap_body(ctx, p).raw
    columns = ctx.screen.reduced  # every column of the first run, reduced to the screen
    end = START_MS + MINUTES * MIN
    st = ctx.source.model_steps("binance", "BTCUSDT", START_MS, end, MIN)
    mid = float(np.median(st.close))
    with SqliteStore(ctx.source.path) as w:
        w.write_candles(
            [
                Candle("binance", "BTCUSDT", end + i * MIN, MIN, mid, mid, mid, mid, 1.0, 0.5, True)
                for i in range(24)
            ]
        )
        w.write_liquidations([liq("binance", "BTCUSDT", end + 5 * MIN, Side.LONG, 3e5)])
    wait_version(ctx, ["binance"])
    while ctx.source.data_range(["binance"], "BTCUSDT")[1] < end + 23 * MIN:
        time.sleep(0.05)
    while ctx.source.status()[0].last_ts < end + 23 * MIN:  # provenance (status cached 1 s)
        time.sleep(0.05)
    body = heatmap_body(ctx, p).raw
    assert body != first
    assert (ctx.columns.full_runs, ctx.columns.extended) == (1, 1)
    assert 0 < ctx.screen.reduced - columns < columns / 10  # the kept screen columns reused
    fresh = fresh_ctx(app)
    assert body == heatmap_body(fresh, p).raw
    assert (fresh.columns.full_runs, fresh.columns.extended) == (1, 0)


def test_a_venue_whose_steps_start_in_the_open_column_is_estimated() -> None:
    """A venue that only has steps in the open column (a collector that just started, e.g.
    Hyperliquid OI from the live start) is estimated with the others, not refused."""
    from dataclasses import replace as with_

    from test_model_state import venue_steps, window

    from liqscope.api.columns import ColumnRuns
    from liqscope.model import estimate_market, preset

    cfg = with_(preset("all"), column_ms=3_600_000)
    old = venue_steps("binance", 1)
    cut = int(old.ts[-1]) // 3_600_000 * 3_600_000
    new = window(venue_steps("bybit", 2), cut, int(old.ts[-1]) + 1)
    assert new is not None and len(new) >= 2
    runs = ColumnRuns()
    got = runs.run("view", {"binance": old, "bybit": new}, cfg, {}).estimate
    want = estimate_market([old, new], cfg)
    assert got.used == ("binance", "bybit")
    np.testing.assert_array_equal(got.heatmap.snapshots, want.heatmap.snapshots)
