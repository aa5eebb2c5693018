"""End to end: ``liqscope demo`` starts the simulated venues, pre-fills, collects and serves,
and its live window tells the story: alerts name a dense zone before price gets there.

One demo runs for the module (about 40 s): short history, high speed, the flush a few
simulated minutes after live start. Everything is polled with deadlines."""

from __future__ import annotations

import itertools
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import httpx
import numpy as np
import pytest
from typer.testing import CliRunner

from liqscope.cli import commands
from liqscope.domain.intervals import DAY_MS, MINUTE_MS
from liqscope.domain.registry import native_symbol
from liqscope.signals.storage import SignalStore
from liqscope.store import open_store
from liqscope.store.base import AlertQuery

BIN = Path(sys.executable).parent / "liqscope"
VENUES = {"binance", "bybit", "okx", "hyperliquid"}
# Venues with a liquidation feed and open-interest history (Hyperliquid has neither).
FULL_VENUES = ("binance", "bybit", "okx")
SYMBOLS = {"BTCUSDT", "ETHUSDT", "SOLUSDT"}
SPEED = 60.0  # simulated seconds per wall second
DAYS = 0.3  # pre-filled history
OI_PERIOD_MS = 5 * MINUTE_MS  # the collector's OI back-fill period (CollectorConfig.oi_period)
FLUSH_IN_MIN = 10  # simulated minutes from live start to the flush (10 s of wall time)
RUN_FOR_S = 1200  # the demo's own safety stop, far beyond any wait below
STOP_WAIT_S = 90  # a stopped demo exits well within this (its shutdown hooks are bounded)

T = TypeVar("T")


@dataclass
class Demo:
    proc: subprocess.Popen[str]
    url: str
    home: Path
    env: dict[str, str]
    started_ms: int = 0  # wall time when the test started the demo

    def pointer(self) -> dict[str, Any]:
        return dict(json.loads((self.home / "demo-running.json").read_text()))

    def running(self) -> bool:
        return self.proc.poll() is None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for(what: str, check: Callable[[], T | None], demo: Demo, seconds: float) -> T:
    """Poll ``check`` until it returns a value (not None) or the deadline passes."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and demo.running():
        try:
            got = check()
        except (httpx.HTTPError, OSError, ValueError):
            got = None
        if got is not None:
            return got
        time.sleep(0.25)
    pytest.fail(f"{what}: not seen within {seconds:g} s (demo running: {demo.running()})")


def start_demo(cmd: list[str], env: dict[str, str]) -> subprocess.Popen[str]:
    """Start the demo with SIGINT ignored, as a background job of a non-interactive shell
    (CI) starts it: Ctrl-C must stop it all the same."""

    def ignore_sigint() -> None:
        signal.signal(signal.SIGINT, signal.SIG_IGN)

    return subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
        preexec_fn=ignore_sigint,
    )  # fmt: skip


def stopped_output(proc: subprocess.Popen[str]) -> str:
    """The output of a demo that was told to stop; fails (and kills it) if it is still
    running after STOP_WAIT_S: the stop was not honoured (--run-for is far longer)."""
    try:
        out, _ = proc.communicate(timeout=STOP_WAIT_S)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, _ = proc.communicate()
        pytest.fail(f"the demo did not stop within {STOP_WAIT_S} s of the signal:\n{out[-3000:]}")
    return out


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    home = tmp_path_factory.mktemp("home")
    port = free_port()
    env = {**os.environ, "LIQSCOPE_HOME": str(home)}
    cmd = [
        str(BIN), "demo", "--port", str(port), "--days", str(DAYS), "--speed", str(SPEED),
        "--flush-in", str(FLUSH_IN_MIN), "--run-for", str(RUN_FOR_S),
    ]  # fmt: skip
    # --run-for is only a safety net: the fixture stops the demo (Ctrl-C) when the tests end
    started_ms = time.time_ns() // 1_000_000
    proc = start_demo(cmd, env)
    d = Demo(proc, f"http://127.0.0.1:{port}", home, env, started_ms)
    try:
        yield d
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)  # what Ctrl-C does: a clean stop
        out = stopped_output(proc)
    assert proc.returncode == 0, out
    assert out.rstrip().endswith("liqscope demo: stopped"), out
    assert "open http://127.0.0.1" in out and "list alerts: liqscope alerts" in out, out
    assert "the cascade starts at" in out, out
    assert not (home / "demo-running.json").exists(), "the pointer outlived the demo"


def warned_before_reached(
    alert: dict[str, Any], db: Path, live_ms: int
) -> tuple[float, float, int] | None:
    """``(zone low, zone high, minute price first reached it)`` when the alert's nearest
    cluster was not touched between live start and the alert's minute and stored candles
    of the alert's venue reach it later; else None."""
    cluster = alert["details"]["clusters"][0]["cluster"]  # the nearest (ProximityWarning)
    low, high, long_side = float(cluster["low"]), float(cluster["high"]), cluster["side"] == "long"
    native = native_symbol(alert["venue"], alert["symbol"])
    with open_store(db, readonly=True) as store:
        bars = store.candles(alert["venue"], native, MINUTE_MS, live_ms, 2**62)
    if not bars:
        return None

    def inside(b: Any) -> bool:
        return bool(b.low <= high) if long_side else bool(b.high >= low)

    before = [b for b in bars if b.ts <= alert["ts"]]
    after = [b for b in bars if b.ts > alert["ts"]]
    if not before or before[-1].ts != alert["ts"] or any(inside(b) for b in before):
        return None  # (the alert's price is its minute's close: outside the zone)
    hit = next((b.ts for b in after if inside(b)), None)
    return None if hit is None else (low, high, hit)


def test_an_alert_names_the_zone_before_price_reaches_it(demo: Demo) -> None:
    pointer = wait_for("the demo's pointer file", demo.pointer, demo, 60)
    live_ms, flush_ms = int(pointer["live_start_ms"]), int(pointer["event_start_ms"])
    assert flush_ms - live_ms == FLUSH_IN_MIN * MINUTE_MS
    db = Path(pointer["db"])

    def story() -> tuple[dict[str, Any], tuple[float, float, int]] | None:
        with SignalStore(db, readonly=True) as st:
            alerts = st.alerts(AlertQuery(500, rule_id="near-cluster", since_ms=live_ms))
        for a in sorted(alerts, key=lambda a: a["ts"]):
            got = warned_before_reached(a, db, live_ms)
            if got is not None:
                return a, got
        return None

    alert, (low, high, hit_ms) = wait_for("an alert before its zone is hit", story, demo, 90)
    assert live_ms <= alert["ts"] < hit_ms
    assert alert["symbol"] in SYMBOLS
    assert low < high
    # the story plays in the live window: the flush is what takes price there
    assert hit_ms >= live_ms


def status_markets(demo: Demo) -> dict[tuple[str, str], dict[str, Any]]:
    status = httpx.get(f"{demo.url}/api/status", timeout=5).json()
    return {(m["venue"], m["symbol"]): m for m in status["markets"]}


def collecting(markets: dict[tuple[str, str], dict[str, Any]]) -> bool:
    """Every venue has markets of the three coins; the full venues have liquidations,
    candles and open interest for each of them."""
    by_venue = {v for v, _ in markets}
    full = [m for (v, _), m in markets.items() if v in FULL_VENUES]
    return (
        by_venue == VENUES
        and len(full) >= 8  # 3 coins on binance and bybit, 2 on okx
        and all(
            int(m["liquidations"]) > 0 and int(m["candles"]) > 0 and int(m["oi_points"]) > 0
            for m in full
        )
    )


def test_demo_serves_three_coins_on_four_venues_with_live_data(demo: Demo) -> None:
    markets = wait_for(
        "all venues collecting",
        lambda: m if collecting(m := status_markets(demo)) else None,
        demo,
        60,
    )
    assert markets[("binance", "BTCUSDT")]["lower_bound"] is True
    assert markets[("bybit", "BTCUSDT")]["lower_bound"] is False
    for symbol in sorted(SYMBOLS):
        heat = httpx.get(
            f"{demo.url}/api/heatmap",
            params={"symbol": symbol, "venues": "all", "range": "12h", "width": 80},
            timeout=60,
        )
        assert heat.status_code == 200, heat.text
        assert sum(map(sum, heat.json()["z"])) > 0, (symbol, heat.json().get("note"))
    page = httpx.get(demo.url, timeout=10)
    assert page.status_code == 200 and "plotly" in page.text.lower()
    # live data keeps flowing: a newer candle arrives
    first = int(markets[("binance", "BTCUSDT")]["last_ts"] or 0)
    wait_for(
        "a newer binance candle",
        lambda: (
            True
            if int(status_markets(demo)[("binance", "BTCUSDT")]["last_ts"] or 0) > first
            else None
        ),
        demo,
        30,
    )


def test_status_and_alerts_find_the_running_demo_without_flags(
    demo: Demo, monkeypatch: pytest.MonkeyPatch
) -> None:
    wait_for("the demo's pointer file", demo.pointer, demo, 60)
    db = demo.pointer()["db"]
    monkeypatch.setenv("LIQSCOPE_HOME", str(demo.home))
    for cmd in (["status", "--json"], ["alerts", "--json", "--limit", "5"]):
        out = CliRunner().invoke(commands(), cmd)
        assert out.exit_code == 0, out.output
        assert f"using the running demo's store {db}" in out.stderr
        json.loads(out.stdout)  # stdout stays plain JSON


def test_demo_polls_the_simulated_hyperliquid_positions(demo: Demo) -> None:
    """The demo runs the position poller: the measured source has accounts and positions."""

    def measured() -> dict[str, Any] | None:
        r = httpx.get(f"{demo.url}/api/measured/map", params={"symbol": "BTCUSDT"}, timeout=60)
        body = r.json() if r.status_code == 200 else None
        ok = body and body["coverage"] and body["coverage"]["accounts"]["polled"] > 0
        return body if ok and body["matched"] > 0 and sum(body["map"]["long_usd"]) > 0 else None

    body = wait_for("measured Hyperliquid positions", measured, demo, 90)
    assert body["label"].startswith("measured: ") and "coverage" in body["label"]
    assert body["coverage"]["accounts"]["known"] >= body["coverage"]["accounts"]["polled"]


def cli_status(demo: Demo, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """``liqscope status --json`` as a user runs it beside the demo (no flags)."""
    monkeypatch.setenv("LIQSCOPE_HOME", str(demo.home))
    out = CliRunner().invoke(commands(), ["status", "--json"])
    assert out.exit_code == 0, out.output
    return dict(json.loads(out.stdout))


def test_status_shows_open_interest_of_every_venue_from_the_prefill_start(
    demo: Demo, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 11: every venue's OI starts where the pre-filled window starts (Hyperliquid's
    from the recorded asset contexts, the others' from the REST back-fill), not at the live
    start; the demo's clock is the wall clock's, and status ages are small."""
    pointer = wait_for("the demo's pointer file", demo.pointer, demo, 60)
    live = int(pointer["live_start_ms"])
    prefill_start = live - int(DAYS * DAY_MS) // 1000 * 1000

    def every_venue_from_the_start() -> dict[str, Any] | None:
        status = cli_status(demo, monkeypatch)
        oi = [r for r in status["streams"] if r["stream"] == "open_interest"]
        full = {r["venue"] for r in oi} == VENUES and len(oi) == 11  # 3 + 3 + 2 + 3 markets
        early = all(r["first_ts"] < prefill_start + OI_PERIOD_MS for r in oi)
        return status if full and early else None

    def first_oi() -> str:  # what the failure shows
        rows = cli_status(demo, monkeypatch)["streams"]
        return ", ".join(
            f"{r['venue']} {r['symbol']} {(r['first_ts'] - live) / MINUTE_MS:+.0f} min"
            for r in rows
            if r["stream"] == "open_interest"
        )

    try:
        status = wait_for("OI of every venue from the pre-fill start", every_venue_from_the_start,
                          demo, 90)  # fmt: skip
    except pytest.fail.Exception:
        pytest.fail(f"first OI vs the live start ({DAYS * 24:g} h after the pre-fill start): "
                    f"{first_oi()}")  # fmt: skip
    for r in status["streams"]:
        if r["stream"] == "open_interest":
            assert r["history_missing"] is None, r  # Hyperliquid's history is recorded
    # the clock: the live start is the wall time the demo started (floored to the minute)
    assert demo.started_ms - MINUTE_MS <= live <= int(pointer["live_wall_ms"])
    assert int(pointer["live_wall_ms"]) - live < 5 * MINUTE_MS
    # ages on the demo's simulated clock: since live start it runs at SPEED
    wall_since_live = (time.time_ns() // 1_000_000 - int(pointer["live_wall_ms"])) / 1000
    assert live <= status["now_ms"] <= live + (wall_since_live + 5) * SPEED * 1000
    ages = [r["last_message_age_ms"] for r in status["streams"] if r["last_message_age_ms"]]
    assert ages and max(ages) < 10 * MINUTE_MS, ages


def test_open_interest_is_continuous_across_the_live_start(demo: Demo) -> None:
    """No seeded first-step OI at the live edge: each venue's OI is recorded up to the live
    start and its first live value differs from the last recorded one by no more than the
    market's own moves in the hour before."""
    pointer = wait_for("the demo's pointer file", demo.pointer, demo, 60)
    live, db = int(pointer["live_start_ms"]), Path(pointer["db"])

    def both_sides() -> dict[tuple[str, str], tuple[list[Any], list[Any]]] | None:
        out = {}
        with open_store(db, readonly=True) as store:
            for venue, symbol in store.markets(("open_interest",)):
                rows = store.open_interest(venue, symbol, live - 60 * MINUTE_MS, 2**62)
                after = [r for r in rows if r.ts > live]
                if not after:
                    return None
                out[(venue, symbol)] = ([r for r in rows if r.ts <= live], after)
        return out if {v for v, _ in out} == VENUES else None

    sides = wait_for("live OI on every venue", both_sides, demo, 90)
    for key, (before, after) in sorted(sides.items()):
        assert before, f"{key}: no open interest before the live start"
        assert live - before[-1].ts <= OI_PERIOD_MS, (key, live - before[-1].ts)
        moves = [abs(b.oi_base / a.oi_base - 1) for a, b in itertools.pairwise(before)]
        jump = abs(after[0].oi_base / before[-1].oi_base - 1)
        assert jump <= 2 * max(moves, default=0.0) + 0.005, (key, jump, max(moves, default=0))


def test_no_band_appears_at_the_live_edge(demo: Demo) -> None:
    """The aggregate heatmap's column at the live start is no brighter than the columns
    before it by more than the market's drift: no venue joins there with seeded positions."""
    pointer = wait_for("the demo's pointer file", demo.pointer, demo, 60)
    live = int(pointer["live_start_ms"])
    for symbol in sorted(SYMBOLS):

        def heat(symbol: str = symbol) -> tuple[list[int], Any, int] | None:
            r = httpx.get(
                f"{demo.url}/api/heatmap",
                params={"symbol": symbol, "venues": "all", "range": "12h", "width": 72},
                timeout=60,
            ).json()
            ts = [int(t) for t in r["ts"]]
            if len(ts) < 5 or ts[-1] <= live:  # a column after the edge's
                return None
            return ts, np.asarray(r["z"], dtype=float), int(r["column_ms"])

        ts, z, col_ms = wait_for(f"{symbol} heatmap past the live start", heat, demo, 60)
        totals = np.nansum(z, axis=1 if z.shape[0] == len(ts) else 0)
        assert totals.size == len(ts)
        edge = int(np.searchsorted(ts, live, "right")) - 1
        assert edge >= 3 and ts[edge] <= live < ts[edge] + col_ms, (edge, ts, live)
        before = float(totals[edge - 3 : edge].max())
        assert totals[edge] <= 1.08 * before, (symbol, totals[edge - 3 : edge + 2].tolist())


def test_sigterm_stops_the_demo_cleanly(tmp_path: Path) -> None:
    """SIGTERM (a service manager's stop) does what Ctrl-C does: the store is closed, the
    pointer removed, exit 0; not a process killed mid-write."""
    env = {**os.environ, "LIQSCOPE_HOME": str(tmp_path)}
    cmd = [
        str(BIN), "demo", "--port", str(free_port()), "--days", "0.02", "--speed", str(SPEED),
        "--no-live-alerts", "--run-for", str(RUN_FOR_S),
    ]  # fmt: skip
    proc = start_demo(cmd, env)
    d = Demo(proc, "", tmp_path, env)
    try:
        wait_for("the demo's pointer file", d.pointer, d, 120)
    finally:
        proc.send_signal(signal.SIGTERM)
        out = stopped_output(proc)
    assert proc.returncode == 0, out
    assert out.rstrip().endswith("liqscope demo: stopped"), out
    assert not (tmp_path / "demo-running.json").exists(), "the pointer outlived the demo"
    with open_store(tmp_path / "demo.sqlite", readonly=True) as store:
        assert store.integrity_check() == ["ok"]
