"""Webhook delivery: one alert per cooldown window; a dead webhook never blocks evaluation."""

from __future__ import annotations

import json
import logging
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest

from liqscope.signals.clusters import LevelMap
from liqscope.signals.delivery import CallbackSink, Dispatcher, LogSink, StoreSink, WebhookSink
from liqscope.signals.rules import AlertEngine, AlertRule, Observation
from liqscope.signals.storage import SignalStore

MIN = 60_000


def _map() -> LevelMap:
    long = np.zeros((1, 200))
    long[0, 95:98] = 5e6  # 99.5k-99.8k, right under price
    return LevelMap.from_profile(90_000.0, 100.0, long, np.zeros((1, 200)), 100_000.0, (10.0,))


def _obs(n: int) -> list[Observation]:
    m = _map()
    return [Observation(i * MIN, "binance", "BTCUSDT", 100_000.0, m) for i in range(n)]


class _Receiver:
    def __init__(self, hang: bool = False) -> None:
        self.bodies: list[dict] = []  # type: ignore[type-arg]
        outer = self

        class H(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["content-length"]))
                if hang:
                    time.sleep(30)
                outer.bodies.append(json.loads(body))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *a: object) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_webhook_gets_exactly_one_alert_per_cooldown_window(tmp_path) -> None:  # type: ignore[no-untyped-def]
    rx = _Receiver()
    hook = WebhookSink(rx.url, timeout=2.0)
    ui: list[dict] = []  # type: ignore[type-arg]
    store = SignalStore(tmp_path / "s.sqlite")
    disp = Dispatcher([hook, CallbackSink(ui.append), StoreSink(store)])
    rule = AlertRule("near", "proximity", params={"pct": 1.0}, cooldown_s=600)
    eng = AlertEngine([rule], disp)
    fired = [a for o in _obs(35) for a in eng.evaluate(o)]
    assert [a.ts // MIN for a in fired] == [0, 10, 20, 30]
    assert hook.flush(5.0)
    hook.close()
    rx.close()
    assert len(rx.bodies) == 4
    assert [b["ts"] // MIN for b in rx.bodies] == [0, 10, 20, 30]
    assert rx.bodies[0]["rule_id"] == "near" and rx.bodies[0]["details"]["clusters"]
    assert len(ui) == 4
    stored = store.alerts()
    assert len(stored) == 4 and stored[0]["details"]["clusters"][0]["cluster"]["side"] == "long"


@pytest.mark.parametrize("kind", ["closed_port", "hanging_server"])
def test_dead_webhook_does_not_block_evaluation(kind: str, caplog) -> None:  # type: ignore[no-untyped-def]
    rx = None
    if kind == "closed_port":
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{s.getsockname()[1]}/hook"
        s.close()
    else:
        rx = _Receiver(hang=True)
        url = rx.url
    hook = WebhookSink(url, timeout=1.0, retries=5, backoff_base=0.5, queue_size=3)
    disp = Dispatcher([hook, LogSink()])
    eng = AlertEngine([AlertRule("near", "proximity", params={"pct": 1.0}, cooldown_s=0)], disp)
    caplog.set_level(logging.WARNING, logger="liqscope.alerts")
    t = time.monotonic()
    fired = [a for o in _obs(500) for a in eng.evaluate(o)]
    elapsed = time.monotonic() - t
    assert len(fired) == 500
    assert elapsed < 5.0, f"evaluation took {elapsed:.1f}s"
    logged = [r for r in caplog.records if r.getMessage().startswith("alert near")]
    assert len(logged) == 500
    assert hook.dropped >= 490 and hook.sent == 0
    hook.close(timeout=0.5)
    if rx is not None:
        rx.close()
