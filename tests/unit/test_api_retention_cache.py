"""Cached views notice rows deleted by retention, and a long history keeps its run's start:
the incremental steps reader, the bars and the heatmap answer what a fresh read does after
``delete_older_than``; a window that moves on with new data still extends its kept columns."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from api_app import START_MS, store_app
from test_api_incremental_cache import HEATMAP, bars, fresh_ctx, liq
from test_api_steps_cache import same

from liqscope.api.params import HeatmapParams
from liqscope.api.views.heatmap import heatmap_body, model_window
from liqscope.domain.events import Candle
from liqscope.domain.intervals import DAY_MS, HOUR_MS
from liqscope.domain.types import Side
from liqscope.sim.synthetic import fill_store
from liqscope.store.readers import StepsCache, first_stored
from liqscope.store.sqlite import SqliteStore

MIN = 60_000


def wait_moved(ctx: Any, venues: list[str], old: tuple[int, ...]) -> None:
    """Until the source's cached data version (250 ms) differs from ``old``."""
    deadline = time.monotonic() + 10
    while ctx.source.version(venues, "BTCUSDT") == old:
        assert time.monotonic() < deadline, "the data version never moved"
        time.sleep(0.05)


@pytest.mark.parametrize("tables", [("liquidations",), ("candles", "open_interest")])
def test_steps_cache_rereads_after_retention(tmp_path: Path, tables: tuple[str, ...]) -> None:
    """Rows deleted inside the held steps (liquidations only, or candles and OI only) are
    gone from the next read, as from a fresh one."""
    db = tmp_path / "s.sqlite"
    end = START_MS + 2 * DAY_MS
    with SqliteStore(db) as st:
        fill_store(st, START_MS, 2 * 1440, markets=(("binance", "BTCUSDT"),))
    cache = StepsCache()
    with SqliteStore(db) as writer, SqliteStore(db, readonly=True) as reader:
        held = cache.steps(reader, "binance", "BTCUSDT", START_MS, end, MIN)
        before = first_stored(reader, "binance", "BTCUSDT")
        cutoff = START_MS + 6 * HOUR_MS  # a quarter of the window
        deleted = writer.delete_older_than(dict.fromkeys(tables, 1), cutoff + DAY_MS)
        assert all(deleted[t] > 0 for t in tables)
        assert first_stored(reader, "binance", "BTCUSDT") != before
        got = cache.steps(reader, "binance", "BTCUSDT", START_MS, end, MIN)
        same(got, reader.steps("binance", "BTCUSDT", START_MS, end, MIN))
        assert cache.full_reads == 2
        if tables == ("liquidations",):
            early = got.ts < cutoff
            assert held.liq_long_usd[early].sum() > 0 and got.liq_long_usd[early].sum() == 0


def test_bars_drop_rows_deleted_by_retention() -> None:
    app = store_app(1440, markets=(("binance", "BTCUSDT"),))
    ctx = app.state.context
    first = bars(ctx)
    version = ctx.source.version(["binance"], "BTCUSDT")
    cutoff = START_MS + 12 * HOUR_MS  # half of the 24 h window
    with SqliteStore(ctx.source.path) as w:
        assert w.delete_older_than({"liquidations": 1}, cutoff + DAY_MS)["liquidations"] > 0
    wait_moved(ctx, ["binance"], version)
    again = bars(ctx)
    assert again["count"] < first["count"]
    assert again == bars(fresh_ctx(app))
    early = np.array(again["ts"]) < cutoff
    assert np.array(again["long"])[early].sum() == np.array(again["short"])[early].sum() == 0
    assert np.array(first["long"])[early].sum() > 0


def test_heatmap_after_retention_equals_a_fresh_app() -> None:
    """Liquidations deleted under a cached heatmap: the refreshed body is a fresh app's."""
    app = store_app(1440, markets=(("binance", "BTCUSDT"),))
    ctx = app.state.context
    ctx.latest.wait_s, ctx.latest.min_interval_s, ctx.latest.cost_factor = 5.0, 0.0, 0.0
    p = HeatmapParams.model_validate(HEATMAP)
    first = heatmap_body(ctx, p).raw
    version = ctx.source.version(["binance"], "BTCUSDT")
    with SqliteStore(ctx.source.path) as w:
        w.delete_older_than({"liquidations": 1}, START_MS + 12 * HOUR_MS + DAY_MS)
    wait_moved(ctx, ["binance"], version)
    body = heatmap_body(ctx, p).raw
    assert body != first
    assert body == heatmap_body(fresh_ctx(app), p).raw


def test_long_history_keeps_the_run_start_and_extends_its_columns() -> None:
    """Three days stored, a 24 h window: the warm-up starts on a whole day, so new minutes
    extend the kept run (and the kept screen columns) instead of a full run each time. New
    minutes come in two rounds, the first ending inside a column: the column that was open
    is reduced again, and every body equals a fresh app's byte for byte."""
    app = store_app(3 * 1440, markets=(("binance", "BTCUSDT"),))
    ctx = app.state.context
    ctx.latest.wait_s, ctx.latest.min_interval_s, ctx.latest.cost_factor = 5.0, 0.0, 0.0
    p = HeatmapParams.model_validate(HEATMAP)
    end = START_MS + 3 * DAY_MS

    def window() -> tuple[int, int]:
        w = ctx.resolve_window(p.window, ["binance"], "BTCUSDT")
        return model_window(ctx, ["binance"], "BTCUSDT", w, MIN)

    t0, _ = window()
    assert t0 % DAY_MS == 0 and START_MS < t0 < end - DAY_MS  # inside the data, not clamped
    body = heatmap_body(ctx, p).raw
    columns = ctx.screen.reduced
    st = ctx.source.model_steps("binance", "BTCUSDT", START_MS, end, MIN)
    mid = float(np.median(st.close))
    for k, (a, b) in enumerate([(0, 5), (5, 24)]):  # 5 minutes end inside a column
        with SqliteStore(ctx.source.path) as w:
            hi = mid * 1.001
            w.write_candles(
                [
                    Candle("binance", "BTCUSDT", end + i * MIN, MIN, mid, hi, mid, mid, 1, 0, True)
                    for i in range(a, b)
                ]
            )
            w.write_liquidations([liq("binance", "BTCUSDT", end + (b - 1) * MIN, Side.SHORT, 4e5)])
        last = end + (b - 1) * MIN
        while ctx.source.data_range(["binance"], "BTCUSDT")[1] < last:
            time.sleep(0.05)
        while ctx.source.status()[0].last_ts < last:  # provenance (status cached 1 s)
            time.sleep(0.05)
        assert window()[0] == t0  # the window moved on, the run's start did not
        before, body = body, heatmap_body(ctx, p).raw
        assert body != before
        assert (ctx.columns.full_runs, ctx.columns.extended) == (1, k + 1)
        fresh = fresh_ctx(app)
        assert body == heatmap_body(fresh, p).raw
        assert fresh.columns.full_runs == 1 and fresh.screen.reduced > columns  # all reduced
    assert 0 < ctx.screen.reduced - columns < columns / 10  # only the columns from the cut on


def test_oldest_stored_times_move_with_retention(any_store: Any) -> None:
    """``first_stored`` (``Store.min_ts`` by index seeks) on both backends: the oldest
    candle, OI point and liquidation of a market, moved by retention; none is -1."""
    st = any_store
    assert first_stored(st, "binance", "BTCUSDT") == (-1, -1, -1)
    fill_store(st, START_MS, 600, markets=(("binance", "BTCUSDT"),), liquidations_per_day=2000)
    first = first_stored(st, "binance", "BTCUSDT")
    assert first[0] == START_MS and min(first) >= START_MS
    assert st.candle_range("binance", "BTCUSDT", MIN) == (START_MS, START_MS + 599 * MIN)
    cutoff = START_MS + 5 * HOUR_MS
    st.delete_older_than({"liquidations": 1, "open_interest": 1}, cutoff + DAY_MS)
    after = first_stored(st, "binance", "BTCUSDT")
    assert after[0] == first[0] and after[1] >= cutoff and after[2] >= cutoff
