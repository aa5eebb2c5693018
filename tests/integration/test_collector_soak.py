"""Bounded soak: the ``liqscope collect`` process killed with SIGKILL again and again while
the simulated Binance and Bybit inject faults (disconnects, malformed frames, stalls, 429s).

Every liquidation the simulator put on a socket is stored exactly once, or lies inside a gap
the collector recorded; the store passes its integrity check. Bounded: 12 kill cycles, about
a minute of wall time.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from liqscope.sim.exchange.runner import SimExchanges
from liqscope.sim.exchange.server import Fault, FaultKind
from liqscope.store.base import Gap, LiquidationQuery
from liqscope.store.sqlite import SqliteStore

pytestmark = pytest.mark.slow

VENUES = ("binance", "bybit")
SYMBOLS = {"binance": ("BTCUSDT", "ETHUSDT"), "bybit": ("BTCUSDT",)}
KILLS = 12
MARGIN_MS = 1_000  # event time vs the collector's receive-time gap bounds


def _cmd(sims: SimExchanges, db: Path) -> list[str]:
    urls = sims.urls()
    cmd = [sys.executable, "-c", "from liqscope.cli import main; main()", "collect"]
    for v in VENUES:
        cmd += ["--venue", f"{v}:{','.join(SYMBOLS[v])}"]
        cmd += ["--url", f"{v}=ws://127.0.0.1:{sims.port(v)},{urls[v].rest}"]
    return [
        *cmd,
        "--db", str(db), "--channels", "liquidations,mark_price", "--stall-timeout", "1",
        "--backfill-days", "0", "--oi-poll", "0", "--status-every", "0", "--quiet",
    ]  # fmt: skip


def _liquidations(db: Path) -> int:
    try:
        ro = SqliteStore(db, readonly=True)
    except Exception:
        return 0
    try:
        return len(ro.liquidations(LiquidationQuery(list(VENUES))))
    except Exception:
        return 0
    finally:
        ro.close()


class _Faults(threading.Thread):
    """Injects a random fault into a random venue every 0.4-1.0 s until stopped."""

    def __init__(self, sims: SimExchanges) -> None:
        super().__init__(daemon=True)
        self.sims, self.stop, self.count = sims, threading.Event(), 0
        self.rng = random.Random(7)

    def run(self) -> None:
        kinds = [
            Fault(FaultKind.DISCONNECT),
            Fault(FaultKind.MALFORMED),
            Fault(FaultKind.STALL, seconds=0.6, drop=True),
            Fault(FaultKind.HTTP_429, seconds=0.2, count=1),
        ]
        while not self.stop.wait(self.rng.uniform(0.4, 1.0)):
            self.sims[self.rng.choice(VENUES)].inject(self.rng.choice(kinds))
            self.count += 1


def _inside(ts: int, gaps: list[Gap]) -> bool:
    return any(g.start_ms - MARGIN_MS <= ts <= g.end_ms + MARGIN_MS for g in gaps)


def test_kill_9_soak_against_a_faulty_simulator(tmp_path: Path) -> None:
    from test_collector_sim import make_sims  # the deterministic trace of the collector tests

    sims: SimExchanges = make_sims(VENUES, manual=False, speed=1.0)
    db = tmp_path / "soak.sqlite"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    rng = random.Random(3)
    sims.start()
    faults = _Faults(sims)
    try:
        faults.start()
        cmd = _cmd(sims, db)
        for _ in range(KILLS):
            before = _liquidations(db)
            proc = subprocess.Popen(cmd, stderr=subprocess.PIPE, env=env)
            deadline = time.monotonic() + 8
            while time.monotonic() < deadline and _liquidations(db) <= before:
                assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
                time.sleep(0.1)
            time.sleep(rng.uniform(0.2, 0.8))  # killed at any point of its work
            proc.send_signal(signal.SIGKILL)
            proc.wait(5)
            if proc.stderr:
                proc.stderr.close()
            time.sleep(0.3)  # downtime
        faults.stop.set()
        faults.join()
        # a last, clean run: it records the downtime before it and stops on SIGTERM
        last = subprocess.Popen(cmd, stderr=subprocess.PIPE, env=env)
        before = _liquidations(db)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and _liquidations(db) <= before + 3:
            time.sleep(0.1)
        time.sleep(1.5)  # quiet: no fault is pending
        last.send_signal(signal.SIGTERM)
        err = last.communicate(timeout=15)[1].decode()
        assert last.returncode == 0, err
        sent = {v: sims[v].sent.events() for v in VENUES}
    finally:
        faults.stop.set()
        sims.stop()

    store = SqliteStore(db)
    assert store.integrity_check() == ["ok"]
    assert faults.count >= 10
    down = [g for g in store.gaps() if g.reason == "collector down"]
    assert len({g.start_ms for g in down}) >= KILLS  # every kill became a recorded gap
    for v in VENUES:
        stored = [(r.symbol, r.ts, int(r.side)) for r in store.liquidations(LiquidationQuery([v]))]
        assert len(stored) == len(set(stored)), v  # stored once
        keys = {(e.symbol, e.ts_ms, e.side) for e in sent[v]}
        assert set(stored) <= keys, v  # nothing invented
        gaps = {s: [g for g in store.gaps(v, s) if g.stream == "liquidations"] for s in SYMBOLS[v]}
        lost = sorted(k for k in keys - set(stored) if not _inside(k[1], gaps[k[0]]))
        assert not lost, (v, lost[:5], len(keys), len(stored))
        assert len(stored) >= len(keys) // 2, v  # most of it arrived
    store.close()
