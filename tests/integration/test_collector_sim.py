"""The live collector against the simulated Binance, Bybit and OKX servers on 127.0.0.1.

The servers replay a synthetic trace with a liquidation every 300 ms and count every liquidation
they actually put on a socket; the tests compare the store with that count while faults are
injected (disconnect, malformed frame, forced lifetime close, stall, 429, 418, kill -9).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from liqscope.cli.app import app
from liqscope.cli.status import history_missing
from liqscope.domain.events import Candle
from liqscope.domain.registry import instrument
from liqscope.ingest.collector import Collector, CollectorConfig, CollectorSpec
from liqscope.sim.exchange.history import ChunkSource
from liqscope.sim.exchange.runner import SimExchanges
from liqscope.sim.exchange.server import Fault, FaultKind, ServerOptions
from liqscope.sim.trace import TraceChunk
from liqscope.store.base import LiquidationQuery
from liqscope.store.sqlite import SqliteStore

pytestmark = pytest.mark.slow

SYMBOLS = {
    "binance": ("BTCUSDT", "ETHUSDT"),
    "bybit": ("BTCUSDT",),
    "okx": ("BTC-USDT-SWAP",),
    "hyperliquid": ("BTC",),
}
START_MS = 1_767_225_600_000  # 2026-01-01 00:00 UTC
PX = {"BTC": 100_000.0, "ETH": 3_000.0}


def synthetic(venue: str, symbol: str, start_ms: int, liq_every_ms: int = 300) -> ChunkSource:
    """A deterministic trace: a trade every 100 ms, a row per second, a liquidation every
    ``liq_every_ms`` alternating long/short, and one hour of history before ``start_ms``."""
    inst = instrument(venue, symbol)
    base = PX["ETH" if symbol.startswith("ETH") else "BTC"]
    state = {"t": start_ms - 3_600_000}

    def source(to_ms: int) -> TraceChunk:
        t0 = state["t"]
        t1 = max(to_ms, t0 + 60_000)
        t1 += -t1 % 1000
        state["t"] = t1
        tr = np.arange(t0 - t0 % 100 + (100 if t0 % 100 else 0), t1, 100, dtype=np.int64)
        px = base * (1 + 0.001 * np.sin(tr / 600_000.0))
        secs = np.arange(t0 - t0 % 1000 + (1000 if t0 % 1000 else 0), t1, 1000, dtype=np.int64)
        spx = base * (1 + 0.001 * np.sin(secs / 600_000.0))
        first = -(-t0 // liq_every_ms) * liq_every_ms
        lt = np.arange(first, t1, liq_every_ms, dtype=np.int64)
        n = lt // liq_every_ms
        side = np.where(n % 2 == 0, 1, -1).astype(np.int8)
        lpx = base * (1 + 0.001 * np.sin(lt / 600_000.0))
        return TraceChunk(
            venue=venue,
            symbol=symbol,
            instrument=inst,
            start_ms=t0,
            end_ms=t1,
            trade_ts=tr,
            trade_px=px,
            trade_qty=np.full(tr.shape, 0.5),
            trade_taker=np.where((tr // 100) % 2 == 0, 1, -1).astype(np.int8),
            sec_ts=secs,
            mark_px=spx,
            index_px=spx,
            funding_rate=np.full(secs.shape, 0.0001),
            oi_base=np.full(secs.shape, 1234.5),
            liq_ts=lt,
            liq_side=side,
            liq_qty=0.01 * (1 + n % 7).astype(np.float64),
            liq_px=lpx,
            liq_bk_px=lpx * (1 - 0.001 * side),
            liq_position_id=n,
        )

    return source


def make_sims(
    venues: tuple[str, ...], *, manual: bool, speed: float = 1.0, **opts: object
) -> SimExchanges:
    def sources(venue: str) -> list[ChunkSource]:
        return [synthetic(venue, s, START_MS if manual else now) for s in SYMBOLS[venue]]

    now = int(time.time() * 1000) // 1000 * 1000
    return SimExchanges(
        sources,
        start_ms=START_MS if manual else now,
        speed=speed,
        manual=manual,
        venues=venues,
        options=ServerOptions(pump_interval_s=0.02, **opts),  # type: ignore[arg-type]  # loose test kwargs
    )


def ws_base(sims: SimExchanges, venue: str) -> str:
    """The adapters append their venue path themselves: give them scheme://host:port only."""
    return f"ws://127.0.0.1:{sims.port(venue)}"


def specs(sims: SimExchanges, venues: tuple[str, ...]) -> list[CollectorSpec]:
    urls = sims.urls()
    return [CollectorSpec(v, SYMBOLS[v], None, ws_base(sims, v), urls[v].rest) for v in venues]


def fast_config(**kw: object) -> CollectorConfig:
    base: dict[str, object] = {
        "batch_max_ms": 30,
        "stall_timeout_s": 1.0,
        "backoff_base_s": 0.05,
        "backoff_cap_s": 0.3,
        "healthy_after_s": 1.0,
        "seed": 1,
        "backfill_days": 0.01,
        "oi_poll_s": 0.5,
        "rest_min_interval_s": 0.02,
        "open_timeout_s": 3.0,
        "protocol_ping_s": None,
    }
    base.update(kw)
    return CollectorConfig(**base)  # type: ignore[arg-type]  # loose test kwargs


def stored_keys(store: SqliteStore, venue: str) -> list[tuple[str, int, int]]:
    return [(r.symbol, r.ts, int(r.side)) for r in store.liquidations(LiquidationQuery([venue]))]


def sent_keys(sims: SimExchanges, venue: str) -> list[tuple[str, int, int]]:
    return [(e.symbol, e.ts_ms, e.side) for e in sims[venue].sent.events()]


async def until(cond: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


async def settle(collector: Collector, quiet_s: float = 0.4, timeout: float = 5.0) -> None:
    """Wait until no frame has arrived for ``quiet_s``."""
    deadline = time.monotonic() + timeout
    last = -1
    quiet_since = time.monotonic()
    while time.monotonic() < deadline:
        frames = sum(s.stats.frames for s in collector.supervisors)
        if frames != last:
            last, quiet_since = frames, time.monotonic()
        elif time.monotonic() - quiet_since >= quiet_s:
            return
        await asyncio.sleep(0.05)


@contextlib.contextmanager
def running(sims: SimExchanges) -> Iterator[SimExchanges]:
    sims.start()
    try:
        yield sims
    finally:
        sims.stop()


class Driver:
    """Moves manual simulated time forward in the background (sim time x5 wall).

    ``stop`` lets the step in progress finish (a cancelled ``to_thread`` would keep advancing
    the clock behind the test's back)."""

    def __init__(self, sims: SimExchanges, step_ms: int = 250, every_s: float = 0.05) -> None:
        self.sims, self.step_ms, self.every_s = sims, step_ms, every_s
        self.task: asyncio.Task[None] | None = None
        self.stopping = False

    async def _run(self) -> None:
        while not self.stopping:
            await asyncio.to_thread(self.sims.advance, self.step_ms)
            await asyncio.sleep(self.every_s)

    def start(self) -> None:
        self.task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        assert self.task is not None
        self.stopping = True
        await self.task


def test_every_sent_liquidation_stored_once_across_faults(tmp_path: Path) -> None:
    venues = ("binance", "bybit", "okx")
    sims = make_sims(venues, manual=True)
    store = SqliteStore(tmp_path / "c.sqlite")

    async def main() -> Collector:
        collector = Collector(specs(sims, venues), store, sims.clock, fast_config())
        stop = asyncio.Event()
        task = asyncio.create_task(collector.run(stop))
        driver = Driver(sims)
        driver.start()
        await until(lambda: all(len(sims[v].sent) >= 3 for v in venues), 10, "first liquidations")
        for fault in (
            Fault(FaultKind.DISCONNECT),
            Fault(FaultKind.MALFORMED),
            Fault(FaultKind.LIFETIME),
            Fault(FaultKind.STALL, seconds=1.6, drop=True),
        ):
            for v in venues:
                sims[v].inject(fault)
            await asyncio.sleep(1.0 if fault.kind is not FaultKind.STALL else 2.5)
        up = [s.stats.connects for s in collector.supervisors]
        await until(
            lambda: all(len(sims[v].sent) >= 12 for v in venues), 10, "liquidations after faults"
        )
        await driver.stop()
        await settle(collector)
        await until(lambda: _rest_idle(collector), 10, "REST jobs")
        stop.set()
        await task
        assert all(c >= 4 for c in up), up
        return collector

    with running(sims):
        collector = asyncio.run(asyncio.wait_for(main(), 40))

    for v in venues:
        sent = sent_keys(sims, v)
        stored = stored_keys(store, v)
        assert len(sent) >= 12
        assert sorted(stored) == sorted(set(sent)), v  # every sent one, exactly once
    assert collector.stats.malformed >= len(venues)
    gaps = store.gaps()
    for sup in collector.supervisors:  # every fault was seen as a loss...
        seen = " | ".join(sup.stats.reasons)
        assert "1001" in seen and "stall" in seen and "lifetime" in seen, seen
    # ...and recorded as a gap unless no simulated time passed before the resubscribe
    reasons = " | ".join(g.reason for g in gaps if g.stream == "liquidations")
    assert "stall" in reasons and "max connection lifetime" in reasons
    assert all(not g.backfilled for g in gaps if g.stream == "liquidations")
    candle_gaps = [g for g in gaps if g.stream == "candles:1m"]
    assert candle_gaps and all(g.backfilled for g in candle_gaps)  # Binance/Bybit klines by REST
    assert store.counts()["frames"] == collector.stats.frames
    assert store.counts()["open_interest"] > 0  # polled (Binance) or streamed
    assert store.integrity_check() == ["ok"]
    store.close()


def _rest_idle(collector: Collector) -> bool:
    return all(w.idle() for w in collector._rest.values())


def test_rollover_before_lifetime_and_backpressure_lose_nothing(tmp_path: Path) -> None:
    venues = ("binance",)
    # The server cuts connections after 2.5 s; the collector rolls over at 1.5 s.
    sims = make_sims(venues, manual=True, max_conn_lifetime_s=2.5)
    store = SqliteStore(tmp_path / "r.sqlite")
    cfg = fast_config(
        max_lifetime_s=2.5,
        rollover_margin_s=1.0,
        overlap_s=0.3,
        queue_max_frames=3,  # tiny queue: readers must wait for the writer
        batch_max_frames=2,
        backfill=False,
    )

    async def main() -> Collector:
        collector = Collector(specs(sims, venues), store, sims.clock, cfg)
        stop = asyncio.Event()
        task = asyncio.create_task(collector.run(stop))
        driver = Driver(sims, step_ms=500)
        driver.start()
        await until(lambda: collector.supervisors[0].stats.rollovers >= 3, 15, "3 rollovers")
        await driver.stop()
        await settle(collector)
        stop.set()
        await task
        return collector

    with running(sims):
        collector = asyncio.run(asyncio.wait_for(main(), 40))
    sup = collector.supervisors[0].stats
    assert sup.disconnects == 0, sup.reasons
    assert store.gaps() == []
    assert collector.stats.queue_full_waits > 0
    sent = sent_keys(sims, "binance")
    assert sorted(stored_keys(store, "binance")) == sorted(set(sent))
    assert sims["binance"].sent.sends > len(sent)  # the overlaps really delivered duplicates
    store.close()


def test_backfill_honours_retry_after_and_stops_on_ban(tmp_path: Path) -> None:
    venues = ("binance",)
    sims = make_sims(venues, manual=True)
    store = SqliteStore(tmp_path / "b.sqlite")
    cfg = fast_config(backfill_days=0.05, oi_poll_s=None, stall_timeout_s=30)

    async def main(inject: Fault, done: Callable[[Collector], bool]) -> tuple[Collector, float]:
        sims["binance"].inject(inject)
        collector = Collector(specs(sims, venues), store, sims.clock, cfg)
        stop = asyncio.Event()
        t0 = time.monotonic()
        task = asyncio.create_task(collector.run(stop))
        await until(lambda: done(collector), 15, "backfill")
        took = time.monotonic() - t0
        await asyncio.sleep(0.3)  # would the worker try again?
        stop.set()
        await task
        return collector, took

    def backfilled(c: Collector) -> bool:
        return _rest_idle(c) and c.stats.backfill_rows > 0

    def failed(c: Collector) -> bool:
        return c.stats.rest_errors > 0

    with running(sims):
        retry = Fault(FaultKind.HTTP_429, seconds=1.0, count=2)
        collector, took = asyncio.run(asyncio.wait_for(main(retry, backfilled), 30))
        assert collector.stats.rest_errors == 0
        assert collector.stats.backfill_rows >= 60  # 72 minutes of 1m candles
        assert took >= 2.0  # two Retry-After: 1 waits before the first rows
        ban = Fault(FaultKind.HTTP_418, seconds=60, count=5)
        banned, _ = asyncio.run(asyncio.wait_for(main(ban, failed), 30))
    assert banned.stats.rest_errors == 1
    assert banned._rest["binance"].client.requests_sent == 1  # paused: no hammering
    store.close()


def _collect_cmd(sims: SimExchanges, db: Path) -> list[str]:
    u = sims.urls()["binance"]
    return [
        sys.executable,
        "-c",
        "from liqscope.cli import main; main()",
        "collect",
        "--venue",
        "binance:BTCUSDT,ETHUSDT",
        "--url",
        f"binance={ws_base(sims, 'binance')},{u.rest}",
        "--db",
        str(db),
        "--stall-timeout",
        "2",
        "--backfill-days",
        "0",
        "--oi-poll",
        "0",
        "--status-every",
        "0",
        "--quiet",
    ]


def _count(db: Path) -> int:
    try:
        ro = SqliteStore(db, readonly=True)
    except Exception:
        return 0
    try:
        return len(ro.liquidations(LiquidationQuery(["binance"])))
    finally:
        ro.close()


def _wait_count(db: Path, n: int, proc: subprocess.Popen[bytes], timeout: float) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
        c = _count(db)
        if c >= n:
            return c
        time.sleep(0.1)
    raise AssertionError(f"fewer than {n} liquidations stored in {timeout} s")


def test_kill_9_and_restart_carries_on(tmp_path: Path) -> None:
    sims = make_sims(("binance",), manual=False, speed=1.0)
    db = tmp_path / "k.sqlite"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    with running(sims):
        cmd = _collect_cmd(sims, db)
        first = subprocess.Popen(cmd, stderr=subprocess.PIPE, env=env)
        try:
            _wait_count(db, 4, first, 20)
        finally:
            first.send_signal(signal.SIGKILL)
            first.wait(5)
        killed_ms = int(time.time() * 1000)
        at_kill = _count(db)
        time.sleep(1.5)  # downtime
        second = subprocess.Popen(cmd, stderr=subprocess.PIPE, env=env)
        try:
            _wait_count(db, at_kill + 4, second, 20)
        finally:
            second.send_signal(signal.SIGTERM)
            out = second.communicate(timeout=10)[1].decode()
        assert second.returncode == 0, out
        sent = sims["binance"].sent.events()
    store = SqliteStore(db)
    assert store.integrity_check() == ["ok"]
    stored = stored_keys(store, "binance")
    assert len(stored) == len(set(stored)) >= at_kill + 4
    sent_set = {(e.symbol, e.ts_ms, e.side) for e in sent}
    assert set(stored) <= sent_set
    down = [g for g in store.gaps("binance") if g.reason == "collector down"]
    liq_down = [g for g in down if g.stream == "liquidations"]
    assert {g.symbol for g in liq_down} == {"BTCUSDT", "ETHUSDT"}
    for g in liq_down:
        assert g.start_ms <= killed_ms <= g.end_ms
        assert g.end_ms - g.start_ms >= 1500
    # everything sent while a collector was connected (away from the downtime) is stored
    g = liq_down[0]
    margin = 2_500
    outside = {k for k in sent_set if k[1] < g.start_ms - margin or g.end_ms + margin < k[1]}
    last_stored = max(k[1] for k in stored)
    missing = {k for k in outside if k[1] < last_stored - margin} - set(stored)
    assert not missing
    store.close()


CandleRow = tuple[int, float, float, float, float, float, bool]


def _rows(candles: Iterable[Candle]) -> list[CandleRow]:
    return [(c.ts, c.open, c.high, c.low, c.close, c.volume, c.closed) for c in candles]


def _closed_candles(store: SqliteStore, venue: str, symbol: str) -> list[CandleRow]:
    return _rows(store.candles(venue, symbol, 60_000, 0, 2**62))


def test_okx_candles_backfilled_then_polled_over_rest(tmp_path: Path) -> None:
    """OKX streams no candles on its public WS: the collector back-fills them at start-up and
    then polls closed ones over REST; a failed poll becomes a back-filled gap."""
    venues = ("okx",)
    sims = make_sims(venues, manual=True)
    store = SqliteStore(tmp_path / "o.sqlite")
    symbol = SYMBOLS["okx"][0]
    cfg = fast_config(backfill_days=0.02, candle_poll_s=0.2, ban_pause_s=0.5, stall_timeout_s=5)

    def latest() -> int:
        return max((row[0] for row in _closed_candles(store, "okx", symbol)), default=0)

    async def main() -> tuple[Collector, int, list[CandleRow]]:
        collector = Collector(specs(sims, venues), store, sims.clock, cfg)
        stop = asyncio.Event()
        task = asyncio.create_task(collector.run(stop))
        await until(lambda: collector.stats.candle_polls >= 2, 10, "start-up backfill + polls")
        after_backfill = latest()
        driver = Driver(sims, step_ms=2_000)  # 40x: a simulated minute every 1.5 s
        driver.start()
        await until(lambda: latest() >= after_backfill + 2 * 60_000, 15, "polled candles")
        sims["okx"].inject(Fault(FaultKind.HTTP_418, seconds=1, count=1))
        await until(lambda: collector.stats.rest_errors >= 1, 10, "a failed poll")
        failed_at = latest()
        await until(lambda: latest() >= failed_at + 2 * 60_000, 15, "polling after the failure")
        await driver.stop()
        # Land mid-minute: the venue serves an open candle only once a trade is in it, and the
        # waits above end right after a minute closed (the race that made this test flaky).
        now = sims.clock.now_ms()
        await asyncio.to_thread(sims.advance, (30_000 - now % 60_000) % 60_000 or 60_000)
        polls = collector.stats.candle_polls
        await until(lambda: collector.stats.candle_polls > polls + 1, 10, "a final poll")
        await until(lambda: _rest_idle(collector), 10, "REST jobs")
        stop.set()
        await task
        # what the simulated exchange's REST serves now, through the adapter's client
        okx = collector._rest["okx"].adapter
        served = await okx.fetch_klines(symbol, "1m", 0, sims.clock.now_ms())
        return collector, after_backfill, _rows(served)

    with running(sims):
        collector, after_backfill, served = asyncio.run(asyncio.wait_for(main(), 60))
    stored = _closed_candles(store, "okx", symbol)
    ts = [r[0] for r in stored]
    assert len(ts) == len(set(ts))  # no duplicates
    assert all(r[-1] is True for r in stored)  # closed candles only
    assert ts == list(range(ts[0], ts[-1] + 60_000, 60_000))  # every minute, no hole
    assert ts[0] <= START_MS - int(0.02 * 86_400_000) + 60_000  # the start-up backfill reach
    assert ts[-1] >= after_backfill + 4 * 60_000  # new candles came in as time passed
    assert collector.stats.polled_candles >= 4
    served_closed = [r for r in served if r[-1] and ts[0] <= r[0] <= ts[-1]]
    assert stored == served_closed  # same candles as the exchange's REST, field for field
    assert served[-1][0] == ts[-1] + 60_000 and served[-1][-1] is False  # open one not stored
    gaps = [g for g in store.gaps("okx") if g.stream == "candles:1m"]
    assert gaps and all("polling failed" in g.reason and g.backfilled for g in gaps), gaps
    assert store.integrity_check() == ["ok"]
    store.close()


def test_open_interest_starts_at_the_history_window_for_every_venue(tmp_path: Path) -> None:
    """Live OI ticks are stored before the start-up backfill runs (the first REST request of
    each venue waits out a 429), yet every venue with OI history has OI from the start of the
    backfill window, not from the live start; a venue without it is labelled in ``status``."""
    venues = ("binance", "bybit", "okx", "hyperliquid")
    sims = make_sims(venues, manual=True)
    db = tmp_path / "h.sqlite"
    store = SqliteStore(db)
    days = 0.02
    window_start = START_MS - int(days * 86_400_000)

    async def main() -> Collector:
        for v in venues:
            sims[v].inject(Fault(FaultKind.HTTP_429, seconds=1.0, count=1))
        collector = Collector(
            specs(sims, venues), store, sims.clock, fast_config(backfill_days=days)
        )
        stop = asyncio.Event()
        task = asyncio.create_task(collector.run(stop))
        driver = Driver(sims)
        driver.start()
        await until(
            lambda: all(store.open_interest(v, SYMBOLS[v][0], START_MS, 2**62) for v in venues),
            10,
            "live open interest",
        )
        await asyncio.sleep(1.5)  # the 429s' Retry-After, then the backfill
        await driver.stop()
        await until(lambda: _rest_idle(collector), 15, "REST jobs")
        stop.set()
        await task
        return collector

    with running(sims):
        collector = asyncio.run(asyncio.wait_for(main(), 60))
    with_history = {"binance", "bybit", "okx"}  # OKX: the rubik endpoint
    missing = history_missing(store.gaps())
    for v in venues:
        for symbol in SYMBOLS[v]:
            oi = store.open_interest(v, symbol, 0, 2**62)
            assert oi, (v, symbol)
            if v in with_history:
                # from the window start (aligned to the 5m period), not from the live start
                assert oi[0].ts <= window_start + 5 * 60_000, (v, symbol, oi[0].ts - START_MS)
                assert (v, symbol, "open_interest") not in missing
            else:
                assert oi[0].ts >= START_MS  # nothing before the live start...
                assert (v, symbol, "open_interest") in missing  # ...and status says so
                assert f"{v} {symbol}" in collector.stats.oi_history_missing
    store.close()
    out = CliRunner().invoke(app, ["status", "--json", "--db", str(db)])
    assert out.exit_code == 0, out.output
    streams = {(r["venue"], r["symbol"], r["stream"]): r for r in json.loads(out.output)["streams"]}
    assert streams[("hyperliquid", "BTC", "open_interest")]["history_missing"]
    assert streams[("bybit", "BTCUSDT", "open_interest")]["history_missing"] is None


def test_a_silence_shorter_than_the_stall_timeout_is_a_gap(tmp_path: Path) -> None:
    """A 1 s stall (dropping frames) under a 10 s stall timeout: no reconnect, but the marks
    stream missed its cadence and the span is a recorded gap (there was none before)."""
    venues = ("binance",)
    sims = make_sims(venues, manual=True)
    store = SqliteStore(tmp_path / "c.sqlite")
    cfg = fast_config(
        stall_timeout_s=10.0, backfill=False, oi_poll_s=None, cadence_gap_s={"marks": 2.5}
    )

    async def main() -> Collector:
        collector = Collector(specs(sims, venues), store, sims.clock, cfg)
        stop = asyncio.Event()
        task = asyncio.create_task(collector.run(stop))
        driver = Driver(sims)
        driver.start()
        await until(lambda: len(sims["binance"].sent) >= 10, 10, "first liquidations")
        assert store.gaps() == []
        sims["binance"].inject(Fault(FaultKind.STALL, seconds=1.0, drop=True))
        await asyncio.sleep(2.5)
        await driver.stop()
        await settle(collector)
        stop.set()
        await task
        return collector

    with running(sims):
        collector = asyncio.run(asyncio.wait_for(main(), 40))
    assert collector.supervisors[0].stats.disconnects == 0  # the connection never dropped
    gaps = [g for g in store.gaps("binance") if g.stream == "marks"]
    assert {g.symbol for g in gaps} == {"BTCUSDT", "ETHUSDT"}, store.gaps()
    assert all("no marks for" in g.reason and g.end_ms - g.start_ms > 2_500 for g in gaps)
    store.close()
