"""Live alerts inside the API server: a cascade written into the store while the server runs
reaches WebSocket clients as an ``alert`` message, is stored (``liqscope alerts --json``
lists it), and point-in-time snapshots accumulate meanwhile."""

from __future__ import annotations

import asyncio
import json
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import uvicorn
import websockets

from liqscope.api.app import Settings, create_app
from liqscope.domain.events import Candle, Liquidation, OpenInterest
from liqscope.domain.types import PriceKind, Side
from liqscope.signals.live import live_hooks, rules_from
from liqscope.signals.snapshots import snapshot_at
from liqscope.signals.storage import SignalStore
from liqscope.store.sqlite import SqliteStore

MIN = 60_000
HOUR = 3_600_000
VENUE, SYMBOL = "binance", "BTCUSDT"
CLI = [str(Path(sys.executable).parent / "liqscope")]


def sim_events(
    hours: float, venue: str = VENUE, sampled: bool = False
) -> tuple[list[list[Any]], np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    """The cascade scenario as per-minute store events: candles, OI, liquidations."""
    from liqscope.sim.market import Market
    from liqscope.sim.scenarios import scenario
    from liqscope.sim.truth import minute_steps

    m = Market(scenario("cascade", venue, SYMBOL), 1)
    ch = m.advance(m.now_ms + int(hours * HOUR))
    ms = minute_steps(ch, MIN)
    per_min: list[list[Any]] = [[] for _ in range(len(ms))]
    for i in range(len(ms)):
        t = int(ms.ts[i])
        if not np.isfinite(ms.close[i]):
            continue
        per_min[i].append(
            Candle(venue, SYMBOL, t, MIN, float(ms.open[i]), float(ms.high[i]), float(ms.low[i]),
                   float(ms.close[i]), float(ms.volume[i]), float(ms.taker_buy_volume[i]), True)
        )  # fmt: skip
        per_min[i].append(OpenInterest(venue, SYMBOL, t + MIN - 1, float(ms.oi_base[i]), None))
    idx = (ch.liq_ts - ms.ts[0]) // MIN
    for k in range(ch.liq_ts.shape[0]):
        i = int(idx[k])
        if 0 <= i < len(ms):
            px, qty = float(ch.liq_px[k]), float(ch.liq_qty[k])
            per_min[i].append(
                Liquidation(venue, SYMBOL, int(ch.liq_ts[k]), Side(int(ch.liq_side[k])), qty, px,
                            PriceKind.LIQUIDATION, px * qty, sampled)
            )  # fmt: skip
    usd = ch.liq_qty * ch.liq_px
    long_usd = np.bincount(idx[ch.liq_side > 0], weights=usd[ch.liq_side > 0], minlength=len(ms))
    return per_min, ms.ts, long_usd[: len(ms)]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def serve_and_listen(
    db: Path, rules: list[Any], batches: list[list[Any]]
) -> tuple[list[dict[str, Any]], Any]:
    """Serve ``db`` with live alerts (``rules``) on a real uvicorn, write ``batches`` (one
    simulated minute every 50 ms) while a /ws client listens; the alert messages received and
    the app's ``LiveAlerts``."""
    settings = Settings(db_path=str(db), poll_s=0.05)
    start, stop = live_hooks(db, rules, interval_s=0.2, snapshot_every_min=5)
    settings.on_startup.append(start)
    settings.on_shutdown.append(stop)
    app = create_app(settings)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    th = threading.Thread(target=server.run, daemon=True)
    th.start()
    deadline = time.monotonic() + 30
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.started

    messages: list[dict[str, Any]] = []

    async def listen_and_write() -> None:
        async with websockets.connect(f"ws://127.0.0.1:{port}/ws") as ws:
            loop = asyncio.get_running_loop()

            def writer() -> None:  # the collector: one simulated minute every 50 ms
                with SqliteStore(db) as st:
                    for batch in batches:
                        st.write_events(batch)
                        time.sleep(0.05)

            wtask = loop.run_in_executor(None, writer)
            end = time.monotonic() + 90
            while time.monotonic() < end:
                try:
                    raw = await asyncio.wait_for(ws.recv(), 1.0)
                except TimeoutError:
                    if wtask.done() and any(m.get("kind") == "cascade" for m in messages):
                        break
                    continue
                msg = json.loads(raw)
                if msg.get("type") == "alert":
                    messages.append(msg)
                    if msg.get("kind") == "cascade" and wtask.done():
                        break
            await wtask

    try:
        asyncio.run(listen_and_write())
        live = app.state.live_alerts
    finally:
        server.should_exit = True
        th.join(30)
    return messages, live


@pytest.fixture(scope="module")
def live_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    db = tmp_path_factory.mktemp("live") / "live.sqlite"
    per_min, ts, long_usd = sim_events(7.5)
    first_big = int(np.flatnonzero(long_usd > 1e6)[0])
    start_live = first_big - 60  # the server starts an hour before the cascade
    with SqliteStore(db) as store:
        store.write_events([e for batch in per_min[:start_live] for e in batch])

    messages, live = serve_and_listen(db, rules_from(None), per_min[start_live : first_big + 30])
    yield {
        "db": db,
        "messages": messages,
        "first_big_ts": int(ts[first_big]),
        "start_live_ts": int(ts[start_live]),
        "end_ts": int(ts[first_big + 30]),
        "live": live,
    }


def test_cascade_alert_reaches_websocket_clients(live_run: dict[str, Any]) -> None:
    msgs = live_run["messages"]
    assert msgs, "no alert message on /ws"
    assert all(m["type"] == "alert" and m["symbol"] == SYMBOL for m in msgs)
    casc = [m for m in msgs if m["kind"] == "cascade" and "long liquidation" in m["message"]]
    assert casc, f"no long cascade alert among {[m['message'] for m in msgs]}"
    c = casc[0]
    assert c["severity"] == "critical" and c["rule"] == "cascade" and c["data"]["reads"]
    # the scenario's event: the first minute with > $1M of long liquidations
    assert live_run["first_big_ts"] - 30 * MIN <= c["ts"] <= live_run["first_big_ts"] + 15 * MIN
    # nothing from the muted warm-up replay of stored history
    assert min(m["ts"] for m in msgs) >= live_run["start_live_ts"]


def test_fired_alerts_are_stored_and_listed_by_the_cli(live_run: dict[str, Any]) -> None:
    done = subprocess.run(
        [*CLI, "alerts", "--db", str(live_run["db"]), "--json"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    rows = json.loads(done.stdout)
    casc = [r for r in rows if r["condition"] == "cascade"]
    assert casc and casc[-1]["symbol"] == SYMBOL and casc[-1]["details"]["reads"]
    assert len(rows) == len(live_run["messages"])


def test_snapshots_accumulate_and_are_point_in_time(live_run: dict[str, Any]) -> None:
    with SignalStore(live_run["db"], readonly=True) as ss:
        rows = ss.snapshot_rows(VENUE, SYMBOL, "all", 0, 2**62)
        stamps = [int(r["ts"]) for r in rows]
        # one at start-up, then one every 5 minutes of the live part (90 minutes)
        assert len(stamps) >= 15
        assert all(t % (5 * MIN) == 0 for t in stamps)
        assert stamps == sorted(stamps)
        assert np.all(np.diff(stamps[1:]) == 5 * MIN)
        mid = stamps[len(stamps) // 2]
        for at, want in ((mid, mid), (mid + 4 * MIN, mid), (mid - 1, mid - 5 * MIN)):
            snap = snapshot_at(ss, VENUE, SYMBOL, "all", at)
            assert snap is not None and snap.ts == want
            assert snap.ts <= at
        assert snapshot_at(ss, VENUE, SYMBOL, "all", stamps[0] - 1) is None
        last = snapshot_at(ss, VENUE, SYMBOL, "all", 2**62)
        assert last is not None and last.levels.sum() > 0
        assert last.level_map().price > 0


def test_snapshots_are_taken_for_every_preset(live_run: dict[str, Any]) -> None:
    from liqscope.model.presets import PRESETS

    live = live_run["live"]
    assert live.snapshot_presets == list(PRESETS)
    with SignalStore(live_run["db"], readonly=True) as ss:
        counts = {p: len(ss.snapshot_rows(VENUE, SYMBOL, p, 0, 2**62)) for p in PRESETS}
        assert len(set(counts.values())) == 1 and counts["all"] >= 15, counts
        at = live_run["end_ts"]
        snaps = {p: snapshot_at(ss, VENUE, SYMBOL, p, at) for p in PRESETS}
    assert all(s is not None and s.preset == p for p, s in snaps.items())
    assert len({s.ts for s in snaps.values() if s is not None}) == 1
    lv = {p: s.levels for p, s in snaps.items() if s is not None}
    # each preset's own estimate: "calibrated" (its own turnover) places the same OI elsewhere
    # than "all"; "high" is "all" viewed through other tiers, so its stored levels are equal
    # (presets may model different tier sets: compare the mass per side and bucket)
    by_bucket = {p: v.sum(axis=0) for p, v in lv.items()}
    assert np.abs(by_bucket["calibrated"] - by_bucket["all"]).sum() > 1e-3 * lv["all"].sum()
    assert np.array_equal(lv["high"], lv["all"])


# ----------------------------------------------------------------------------- aggregate


@pytest.fixture(scope="module")
def aggregate_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """Two venues of one market (binance: sampled feed, bybit: complete) and rules for the
    aggregate only and for any venue."""
    from liqscope.signals.rules import AlertRule

    db = tmp_path_factory.mktemp("live_agg") / "agg.sqlite"
    bn, ts, long_usd = sim_events(7.5, "binance", sampled=True)
    by, ts_by, _ = sim_events(7.5, "bybit")
    assert np.array_equal(ts, ts_by)
    first_big = int(np.flatnonzero(long_usd > 1e6)[0])
    start_live = first_big - 60
    with SqliteStore(db) as store:
        store.write_events([e for batch in bn[:start_live] + by[:start_live] for e in batch])
    rules = [
        AlertRule("agg-cascade", "cascade", venue="aggregate", params={"min_usd": 1e5}),
        AlertRule("any-cascade", "cascade", symbol=SYMBOL, params={"min_usd": 1e5}),
    ]
    batches = [bn[i] + by[i] for i in range(start_live, first_big + 30)]
    messages, live = serve_and_listen(db, rules, batches)
    yield {
        "db": db,
        "messages": messages,
        "first_big_ts": int(ts[first_big]),
        "start_live_ts": int(ts[start_live]),
        "live": live,
    }


def test_aggregate_rule_fires_on_the_sum_of_venues(aggregate_run: dict[str, Any]) -> None:
    msgs = aggregate_run["messages"]
    agg = [m for m in msgs if m["rule"] == "agg-cascade"]
    assert agg, f"no aggregate alert among {[(m['rule'], m['venue']) for m in msgs]}"
    assert all(m["venue"] == "aggregate" and m["symbol"] == SYMBOL for m in agg)
    a = agg[0]
    assert a["kind"] == "cascade" and a["severity"] == "critical" and a["data"]["reads"]
    assert a["ts"] >= aggregate_run["start_live_ts"]
    assert (
        aggregate_run["first_big_ts"] - 30 * MIN
        <= a["ts"]
        <= aggregate_run["first_big_ts"] + 15 * MIN
    )
    info = a["data"]["aggregate"]
    assert info["venues"] == ["binance", "bybit"]
    assert info["sampled_venues"] == ["binance"] and info["realized_lower_bound"] is True
    assert "lower bound" in info["note"]
    # the aggregate's realized notional is the venues' sum: above either venue's own read
    long_read = next(r for r in a["data"]["reads"] if r["side"] == "long")
    per_venue = [m for m in msgs if m["rule"] == "any-cascade" and m["ts"] == a["ts"]]
    for m in per_venue:
        mine = next(r for r in m["data"]["reads"] if r["side"] == "long")
        assert long_read["usd"] > mine["usd"]
    # "*" venues never match the aggregate: per-venue rules fire for single venues only
    assert {m["venue"] for m in msgs if m["rule"] == "any-cascade"} <= {"binance", "bybit"}
    assert aggregate_run["live"].done.get(("aggregate", SYMBOL), 0) >= a["ts"] + MIN


# ----------------------------------------------------------------------------- first pass


def two_venue_store(db: Path, hours: float) -> int:
    """binance and bybit BTCUSDT for ``hours``; the end of the last stored minute."""
    with SqliteStore(db) as store:
        for venue in ("binance", "bybit"):
            per_min, ts, _ = sim_events(hours, venue)
            store.write_events([e for batch in per_min for e in batch])
    return int(ts[-1]) + MIN


def test_a_stop_during_a_pass_ends_it_after_the_market_in_progress(tmp_path: Path) -> None:
    from liqscope.signals.live import LiveAlerts
    from liqscope.signals.rules import AlertRule

    db = tmp_path / "two.sqlite"
    end = two_venue_store(db, 1.0)
    rules = [*rules_from(None), AlertRule("agg", "cascade", venue="aggregate")]
    live = LiveAlerts(db, rules, snapshot_presets=[])
    asked: list[int] = []

    def stop() -> bool:  # asked before each market: say stop once one is evaluated
        asked.append(len(live.done))
        return len(live.done) >= 1

    live.tick(now_ms=end, stop=stop)
    assert list(live.done) == [("binance", SYMBOL)] and asked[-1] == 1
    live.tick(now_ms=end)  # the next pass evaluates what the stopped one left
    assert set(live.done) == {("binance", SYMBOL), ("bybit", SYMBOL), ("aggregate", SYMBOL)}


def test_the_muted_warm_up_leaves_the_state_a_full_replay_leaves(tmp_path: Path) -> None:
    """``AlertEngine.warm`` (the first pass) then live minutes fire exactly what evaluating
    every warm-up minute (muted, cooldowns reset) then the same live minutes fires."""
    from liqscope.model.market import estimate_market
    from liqscope.signals.live import LiveAlerts
    from liqscope.signals.rules import AlertEngine, AlertRule, observations
    from liqscope.store import open_store
    from liqscope.store.readers import read_steps

    db = tmp_path / "two.sqlite"
    end = two_venue_store(db, 7.5)
    rules = [
        *rules_from(None),
        AlertRule("brk", "level_break", params={"min_usd": 1e4}, cooldown_s=0),
        AlertRule("mom", "momentum", cooldown_s=0),
        AlertRule("near", "proximity", params={"pct": 3.0}, cooldown_s=0),
        AlertRule("jump", "spike", params={"threshold": 1.0, "window": 240}, cooldown_s=0),
    ]
    cfg = LiveAlerts(db, rules).config
    with open_store(db, readonly=True) as store:
        steps = read_steps(store, VENUE, SYMBOL, end - 12 * HOUR, end, MIN)
    assert steps is not None
    obs = list(observations(estimate_market([steps], cfg).heatmap, steps))
    split = len(obs) - 150  # warm up to here, then 150 live minutes
    full, warm = AlertEngine(rules), AlertEngine(rules)
    for o in obs[:split]:
        full.evaluate(o)
        warm.warm(o)
    full.reset_cooldowns()
    got_full = [a.to_dict() for o in obs[split:] for a in full.evaluate(o)]
    got_warm = [a.to_dict() for o in obs[split:] for a in warm.evaluate(o)]
    kinds = {a["condition"] for a in got_full}
    assert kinds >= {"cascade", "proximity", "spike", "level_break"}, kinds
    assert got_warm == got_full
