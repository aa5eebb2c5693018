"""The live collector against the simulated Hyperliquid on 127.0.0.1 (simulator: calm BTC).

Hyperliquid has no public liquidation feed: the collector streams trades, ``activeAssetCtx``
(mark, oracle, funding, open interest) and 1m candles over one WS connection and back-fills
candles with ``candleSnapshot``. The server drops every connection once; nothing is stored twice,
every trade outside the recorded gap is stored, and the closed candles equal the venue's REST.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from liqscope.domain.types import Side
from liqscope.ingest.collector import CollectorConfig, CollectorSpec, run_collectors
from liqscope.sim.exchange import Fault, FaultKind, ServerOptions, SimExchanges
from liqscope.sim.exchange.hyperliquid import tid_base
from liqscope.sim.market import Market
from liqscope.sim.scenarios import scenario
from liqscope.store.sqlite import SqliteStore
from liqscope.venues.base import Channel
from liqscope.venues.hyperliquid.rest import HyperliquidRest

pytestmark = pytest.mark.slow

VENUE = "hyperliquid"
CHANNELS = (Channel.TRADES, Channel.MARK_PRICE, Channel.OPEN_INTEREST, Channel.CANDLES)


def config() -> CollectorConfig:
    return CollectorConfig(
        batch_max_ms=30,
        stall_timeout_s=2.0,
        backoff_base_s=0.05,
        backoff_cap_s=0.3,
        healthy_after_s=1.0,
        seed=1,
        backfill_days=0.02,  # about 29 minutes of 1m candles by candleSnapshot
        oi_poll_s=None,  # OI is streamed (activeAssetCtx)
        rest_min_interval_s=0.02,
        open_timeout_s=3.0,
        protocol_ping_s=None,
    )


async def until(cond: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


def rows(store: SqliteStore, sql: str) -> list[tuple[object, ...]]:
    return list(store._conn.execute(sql).fetchall())


def count(store: SqliteStore, table: str) -> int:
    return int(rows(store, f"SELECT COUNT(*) FROM {table} WHERE venue = 'hyperliquid'")[0][0])


def test_collector_stores_hyperliquid_streams_once_across_a_disconnect(tmp_path: Path) -> None:
    market = Market(scenario("calm", venue=VENUE, symbol="BTC"), 7)
    start = market.now_ms + 3_600_000
    sims = SimExchanges(
        {VENUE: market.advance},
        start_ms=start,
        manual=True,
        venues=[VENUE],
        options=ServerOptions(pump_interval_s=0.02),
    )
    store = SqliteStore(tmp_path / "hl.sqlite")
    srv = sims[VENUE]

    async def drive(stop: asyncio.Event) -> None:
        while not stop.is_set():  # simulated time x5 wall
            await asyncio.to_thread(sims.advance, 250)
            await asyncio.sleep(0.05)

    async def main() -> tuple[int, int, list[tuple[object, ...]]]:
        spec = CollectorSpec(
            VENUE,
            ("BTC",),
            CHANNELS,
            ws_url=f"ws://127.0.0.1:{sims.port(VENUE)}",  # the adapter appends /ws
            rest_url=sims.urls()[VENUE].rest,
        )
        stop, stop_driver = asyncio.Event(), asyncio.Event()
        task = asyncio.create_task(run_collectors([spec], store, sims.clock, stop, config=config()))
        driver = asyncio.create_task(drive(stop_driver))
        await until(lambda: len(srv.conns) == 1, 10, "a connection")
        await until(lambda: count(store, "trades") >= 20, 20, "trades")
        await until(lambda: count(store, "candles") >= 25, 20, "the candle backfill")
        first_conn = next(iter(srv.conns)).conn_id
        srv.inject(Fault(FaultKind.DISCONNECT))
        await until(
            lambda: len(srv.conns) == 1 and next(iter(srv.conns)).conn_id != first_conn,
            10,
            "a reconnect",
        )
        n = count(store, "trades")
        await until(lambda: count(store, "trades") >= n + 20, 20, "trades after the reconnect")
        stop_driver.set()
        await driver
        last, quiet = -1, time.monotonic()
        while time.monotonic() - quiet < 0.6:  # wait until nothing more arrives
            c = count(store, "trades") + count(store, "marks")
            if c != last:
                last, quiet = c, time.monotonic()
            await asyncio.sleep(0.05)
        now = sims.clock.now_ms()
        rest = HyperliquidRest(sims.urls()[VENUE].rest, clock=sims.clock)
        try:
            served = await rest.klines("BTC", "1m", now - 3 * 3_600_000, now)
        finally:
            await rest.aclose()
        stop.set()
        stats = await task
        served_rows = [(c.ts, c.open, c.high, c.low, c.close, c.volume) for c in served if c.closed]
        return stats.malformed, stats.gaps_recorded, served_rows

    sims.start()
    try:
        malformed, gaps_recorded, served = asyncio.run(asyncio.wait_for(main(), 90))
    finally:
        sims.stop()

    h = srv.histories["BTC"]
    assert malformed == 0

    # trades: each once, equal to the truth, and every one outside the gap stored
    trades = rows(
        store,
        "SELECT trade_id, ts, price, qty, taker_side FROM trades "
        "WHERE venue = 'hyperliquid' ORDER BY ts",
    )
    ids = [str(r[0]) for r in trades]
    assert len(ids) == len(set(ids)) >= 40
    base = tid_base("BTC")  # a tid is a per-coin base + the trade's index in the history
    index = {int(i) - base for i in ids}
    for tid, ts, px, qty, side in trades:
        i = int(str(tid)) - base
        assert ts == int(h.col("trade_ts")[i])
        assert float(str(px)) == pytest.approx(float(h.col("trade_px")[i]), rel=5e-5)
        assert float(str(qty)) == pytest.approx(float(h.col("trade_qty")[i]), abs=1e-5)
        taker = Side.LONG if h.col("trade_taker")[i] > 0 else Side.SHORT
        assert int(str(side)) == int(taker)
    gaps = [g for g in store.gaps(VENUE) if g.stream == "trades"]
    assert gaps, store.gaps(VENUE)  # the disconnect was recorded as a loss
    assert gaps_recorded >= 1 and any("1001" in g.reason for g in gaps)
    lo, hi = min(index), max(index)
    missing = [i for i in range(lo, hi + 1) if i not in index]
    for i in missing:  # only trades from around the outage are missing
        t = int(h.col("trade_ts")[i])
        assert any(g.start_ms - 1000 <= t <= g.end_ms + 1000 for g in gaps), (t, gaps)

    # marks and open interest from activeAssetCtx (stamped with the receive time)
    marks = rows(
        store, "SELECT ts, mark, index_price, funding_rate FROM marks WHERE venue = 'hyperliquid'"
    )
    assert len(marks) >= 10 and len({m[0] for m in marks}) == len(marks)
    lo_px, hi_px = float(h.col("mark_px").min()), float(h.col("mark_px").max())
    assert all(lo_px * 0.9999 <= float(str(m[1])) <= hi_px * 1.0001 for m in marks)
    assert all(m[2] is not None and m[3] is not None for m in marks)
    oi = store.open_interest(VENUE, "BTC", 0, 2**62)
    assert len(oi) >= 10
    oi_lo, oi_hi = float(h.col("oi_base").min()), float(h.col("oi_base").max())
    assert all(oi_lo - 1e-5 <= r.oi_base <= oi_hi + 1e-5 for r in oi)

    # candles: backfilled + streamed, each minute once, closed ones equal to candleSnapshot
    stored = [
        (c.ts, c.open, c.high, c.low, c.close, c.volume)
        for c in store.candles(VENUE, "BTC", 60_000, 0, 2**62)
        if c.closed
    ]
    ts = [r[0] for r in stored]
    assert len(ts) >= 25
    assert ts == list(range(ts[0], ts[-1] + 60_000, 60_000))  # every minute, no hole
    assert stored == [r for r in served if ts[0] <= r[0] <= ts[-1]]
    assert store.integrity_check() == ["ok"]
    store.close()


def test_default_channels_collect_marks_oi_candles_and_no_liquidations(tmp_path: Path) -> None:
    """``CollectorSpec("hyperliquid", ("BTC",), ws_url=…, rest_url=…)``: the default channels
    (liquidations, marks, candles, OI) — Hyperliquid has no liquidation feed, which is skipped
    without error; trades are not a default channel."""
    market = Market(scenario("calm", venue=VENUE, symbol="BTC"), 11)
    sims = SimExchanges(
        {VENUE: market.advance},
        start_ms=market.now_ms + 600_000,
        manual=True,
        venues=[VENUE],
        options=ServerOptions(pump_interval_s=0.02),
    )
    store = SqliteStore(tmp_path / "d.sqlite")
    srv = sims[VENUE]

    async def main() -> int:
        spec = CollectorSpec(
            VENUE,
            ("BTC",),
            ws_url=f"ws://127.0.0.1:{sims.port(VENUE)}",
            rest_url=sims.urls()[VENUE].rest,
        )
        stop = asyncio.Event()
        task = asyncio.create_task(run_collectors([spec], store, sims.clock, stop, config=config()))
        await until(lambda: len(srv.conns) == 1, 10, "a connection")
        topics = next(iter(srv.conns)).topics
        for _ in range(40):
            await asyncio.to_thread(sims.advance, 250)
            await asyncio.sleep(0.05)
        await until(lambda: count(store, "marks") >= 8, 10, "marks")
        stop.set()
        stats = await task
        assert topics == {"activeAssetCtx:BTC", "candle:BTC:1m"}
        return stats.malformed + stats.rejected

    sims.start()
    try:
        errors = asyncio.run(asyncio.wait_for(main(), 60))
    finally:
        sims.stop()
    counts = store.counts()
    assert errors == 0
    assert counts["liquidations"] == 0 and counts["trades"] == 0
    assert counts["marks"] >= 8 and counts["open_interest"] >= 8 and counts["candles"] >= 9
    store.close()
