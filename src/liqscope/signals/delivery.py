"""Alert delivery: console/log, webhooks (JSON POST on a background worker with capped,
jittered retries and a bounded queue), a UI callback, and the alert table.

:meth:`Dispatcher.deliver` never blocks on the network: webhook posts are queued and a full
queue drops the alert for that webhook (counted in ``dropped``)."""

from __future__ import annotations

import contextlib
import json
import logging
import queue
import random
import sys
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any, Protocol

import httpx

from liqscope.signals.storage import SignalStore

log = logging.getLogger("liqscope.alerts")

AlertDict = dict[str, Any]


class Sink(Protocol):
    def send(self, alert: AlertDict) -> None: ...
    def close(self, timeout: float = 5.0) -> None: ...


class LogSink:
    """Writes each alert once: to the ``liqscope.alerts`` logger, or with ``console`` as one
    line on a stream (stdout) for interactive runs such as the demo."""

    def __init__(self, console: bool = False, stream: Any = None) -> None:
        self.console = console
        self.stream = stream

    def send(self, alert: AlertDict) -> None:
        rule, venue, symbol = alert["rule_id"], alert["venue"], alert["symbol"]
        if self.console:
            line = f"[alert] {rule} {venue} {symbol}: {alert['message']}"
            print(line, file=self.stream or sys.stdout, flush=True)
        else:
            log.warning("alert %s %s %s: %s", rule, venue, symbol, alert["message"])

    def close(self, timeout: float = 5.0) -> None:
        return None


class CallbackSink:
    """Calls ``fn(alert)`` (the API's UI hook); exceptions are logged, never raised."""

    def __init__(self, fn: Callable[[AlertDict], None]) -> None:
        self.fn = fn

    def send(self, alert: AlertDict) -> None:
        try:
            self.fn(alert)
        except Exception:
            log.exception("alert callback failed")

    def close(self, timeout: float = 5.0) -> None:
        return None


class StoreSink:
    """Stores every alert with what triggered it (``details``)."""

    def __init__(self, store: SignalStore) -> None:
        self.store = store

    def send(self, alert: AlertDict) -> None:
        try:
            self.store.add_alert(alert)
        except Exception:
            log.exception("could not store alert")

    def close(self, timeout: float = 5.0) -> None:
        return None


_STOP = object()


class WebhookSink:
    """POSTs each alert as JSON to ``url`` from a daemon worker thread.

    A failed post (connection error, timeout, non-2xx) is retried up to ``retries`` times
    after ``d/2 + U(0, d/2)`` seconds, ``d = min(backoff_cap, backoff_base * 2**attempt)``.
    The queue holds at most ``queue_size`` alerts; when full, new alerts are dropped."""

    def __init__(
        self,
        url: str,
        *,
        timeout: float = 5.0,
        retries: int = 3,
        backoff_base: float = 0.5,
        backoff_cap: float = 8.0,
        queue_size: int = 1000,
        headers: dict[str, str] | None = None,
        transport: httpx.BaseTransport | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.url = url
        self.retries = retries
        self.backoff_base = backoff_base
        self.backoff_cap = backoff_cap
        self.sent = 0
        self.failed = 0
        self.dropped = 0
        self.attempts = 0
        self._rng = rng or random.Random()
        self._q: queue.Queue[Any] = queue.Queue(maxsize=queue_size)
        self._stop = threading.Event()
        self._client = httpx.Client(timeout=timeout, headers=headers, transport=transport)
        self._thread = threading.Thread(target=self._run, name="liqscope-webhook", daemon=True)
        self._thread.start()

    def send(self, alert: AlertDict) -> None:
        try:
            self._q.put_nowait(alert)
        except queue.Full:
            self.dropped += 1
            log.warning("webhook queue full, alert %s dropped for %s", alert["rule_id"], self.url)

    def delay(self, attempt: int) -> float:
        d = min(self.backoff_cap, self.backoff_base * 2.0 ** min(attempt, 32))
        return d / 2 + self._rng.uniform(0.0, d / 2)

    def _post(self, alert: AlertDict) -> bool:
        body = json.dumps(alert, default=float).encode()
        for attempt in range(self.retries + 1):
            if self._stop.is_set() and attempt > 0:
                return False
            self.attempts += 1
            try:
                r = self._client.post(
                    self.url, content=body, headers={"content-type": "application/json"}
                )
                if 200 <= r.status_code < 300:
                    return True
                log.warning("webhook %s answered %s", self.url, r.status_code)
            except httpx.HTTPError as exc:
                log.warning("webhook %s failed: %s", self.url, type(exc).__name__)
            if attempt < self.retries and self._stop.wait(self.delay(attempt)):
                return False
        return False

    def _run(self) -> None:
        while True:
            item = self._q.get()
            try:
                if item is _STOP:
                    return
                if self._post(item):
                    self.sent += 1
                else:
                    self.failed += 1
            finally:
                self._q.task_done()

    def flush(self, timeout: float = 5.0) -> bool:
        """Wait until the queue is drained (True) or ``timeout`` passes (False)."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if self._q.unfinished_tasks == 0:
                return True
            time.sleep(0.01)
        return False

    def close(self, timeout: float = 5.0) -> None:
        """Stop the worker: pending alerts are delivered within ``timeout``, then abandoned."""
        with contextlib.suppress(queue.Full):
            self._q.put(_STOP, timeout=timeout)
        self._thread.join(timeout)
        self._stop.set()
        self._thread.join(0.1)
        if not self._thread.is_alive():
            self._client.close()


class Dispatcher:
    """Sends each alert to every sink; a failing sink never stops the others."""

    def __init__(self, sinks: Sequence[Sink] = ()) -> None:
        self.sinks: list[Sink] = list(sinks)
        self._lock = threading.Lock()

    def add(self, sink: Sink) -> None:
        with self._lock:
            self.sinks.append(sink)

    def remove(self, sink: Sink) -> None:
        with self._lock:
            if sink in self.sinks:
                self.sinks.remove(sink)

    def deliver(self, alert: AlertDict) -> None:
        with self._lock:
            sinks = list(self.sinks)
        for s in sinks:
            try:
                s.send(alert)
            except Exception:
                log.exception("alert sink %r failed", s)

    def close(self, timeout: float = 5.0) -> None:
        for s in self.sinks:
            s.close(timeout)
