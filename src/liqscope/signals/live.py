"""Live alert evaluation and automatic point-in-time snapshots while serving or collecting.

:class:`LiveAlerts` polls the store every ``interval_s`` seconds. For each stored market
(venue, symbol with 1-minute candles) with newly *closed* minutes it builds the map known at
the end of each new minute (the estimator over the last ``lookback_ms`` of stored steps,
one column per minute), feeds the :class:`~liqscope.signals.rules.AlertEngine` one
observation per minute (rules with cooldown), and every ``snapshot_every_ms`` stores the map
known then (``signals.snapshots``) in the store's ``snapshots`` table.

On the first pass over a market the stored history is replayed muted (it only warms the
rules' history up: baselines, spike windows, σ); alerts are delivered for minutes that close
after that. A minute counts as closed once the clock has passed its end.

:func:`live_hooks` gives ``Settings.on_startup``/``on_shutdown`` hooks that run it as a
background task of the API app, delivering to the log, the ``alerts`` table, webhooks (the
non-blocking :class:`~liqscope.signals.delivery.WebhookSink` worker) and the UI
(``app.state.hub.publish_alert``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
import threading
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from liqscope.domain.clock import SYSTEM_CLOCK, Clock
from liqscope.domain.errors import InputError
from liqscope.domain.registry import market_of
from liqscope.model.estimator import estimate
from liqscope.model.presets import preset as get_preset
from liqscope.signals.delivery import (
    AlertDict,
    CallbackSink,
    Dispatcher,
    LogSink,
    Sink,
    StoreSink,
    WebhookSink,
)
from liqscope.signals.rules import Alert, AlertEngine, AlertRule, load_rules, observations
from liqscope.signals.snapshots import save_snapshots, take_snapshots
from liqscope.signals.storage import SignalStore

log = logging.getLogger("liqscope.alerts")

STEP_MS = 60_000
HOUR_MS = 3_600_000

SEVERITY = {
    "cascade": "critical",
    "level_break": "warning",
    "proximity": "warning",
    "spike": "warning",
    "momentum": "info",
}


def default_rules() -> list[AlertRule]:
    """The built-in rule set used when no ``--alerts`` file is given: on every stored market,
    a cluster within 1 % of price, a ≥ 2× jump of the mass within ±2 %, and a cascade."""
    return [
        AlertRule("near-cluster", "proximity", params={"pct": 1.0}, cooldown_s=1800),
        AlertRule(
            "mass-spike", "spike", params={"band_pct": 2.0, "threshold": 2.0}, cooldown_s=1800
        ),
        AlertRule("cascade", "cascade", params={"min_usd": 100_000.0}, cooldown_s=900),
    ]


def rules_from(path: str | Path | None) -> list[AlertRule]:
    """Rules of ``path`` (TOML/JSON, see ``rules.load_rules``) or :func:`default_rules`."""
    if path is None:
        return default_rules()
    rules = load_rules(path)
    if not rules:
        raise InputError(f"rules file {path}: no rules")
    return rules


def ui_message(alert: AlertDict) -> dict[str, Any]:
    """The WebSocket ``alert`` message fields (``LiveHub.publish_alert``) of a fired alert."""
    return {
        "rule": alert["rule_id"],
        "kind": alert["condition"],
        "symbol": alert["symbol"],
        "venue": alert["venue"],
        "severity": SEVERITY.get(str(alert["condition"]), "info"),
        "message": alert["message"],
        "ts": alert["ts"],
        "price": alert.get("price"),
        "data": alert.get("details", {}),
    }


class LiveAlerts:
    """Evaluates alert rules and takes snapshots over a store that is being written to."""

    def __init__(
        self,
        db_path: str | Path,
        rules: Sequence[AlertRule],
        dispatcher: Dispatcher | None = None,
        *,
        clock: Clock = SYSTEM_CLOCK,
        preset: str = "all",
        lookback_ms: int = 12 * HOUR_MS,
        n_buckets: int = 400,
        interval_s: float = 5.0,
        snapshot_every_ms: int = 5 * STEP_MS,
        signal_store: SignalStore | None = None,
        markets: Sequence[tuple[str, str]] | None = None,
    ) -> None:
        if interval_s <= 0:
            raise InputError("the alert evaluation interval must be > 0 s")
        if snapshot_every_ms < 0 or snapshot_every_ms % STEP_MS:
            raise InputError("the snapshot interval must be a whole number of minutes >= 0")
        if lookback_ms < 10 * STEP_MS:
            raise InputError("the alert lookback must be at least 10 minutes")
        self.path = Path(db_path)
        self.dispatcher = dispatcher or Dispatcher()
        self.engine = AlertEngine(rules, self.dispatcher)
        self.clock = clock
        self.preset = preset
        self.config = replace(
            get_preset(preset), column_ms=STEP_MS, max_columns=10_000_000, n_buckets=n_buckets
        )
        self.lookback_ms = lookback_ms
        self.interval_s = interval_s
        self.snapshot_every_ms = snapshot_every_ms
        self.signal_store = signal_store
        self.markets = list(markets) if markets is not None else None
        self.done: dict[tuple[str, str], int] = {}
        """Per (venue, native symbol): end of the last evaluated minute, epoch ms."""
        self.fired = 0
        self.snapshots = 0
        self.ticks = 0
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ one pass
    def _stored_markets(self, conn: sqlite3.Connection) -> list[tuple[str, str, int]]:
        rows = conn.execute(
            "SELECT venue, symbol, MAX(ts) FROM candles WHERE interval_ms <= ? "
            "GROUP BY venue, symbol",
            (STEP_MS,),
        ).fetchall()
        want = None if self.markets is None else set(self.markets)
        out = []
        for venue, symbol, last in rows:
            if last is None:
                continue
            if want is not None and not {(venue, symbol), (venue, market_of(venue, symbol))} & want:
                continue
            out.append((str(venue), str(symbol), int(last)))
        return out

    def tick(self, now_ms: int | None = None) -> list[Alert]:
        """Evaluate every market's newly closed minutes; the alerts delivered."""
        from liqscope.store.sqlite import SqliteStore

        if not self.path.is_file():
            return []
        now = self.clock.now_ms() if now_ms is None else now_ms
        closed_end = now - now % STEP_MS
        fired: list[Alert] = []
        with self._lock:
            self.ticks += 1
            with SqliteStore(self.path, readonly=True, clock=self.clock) as store:
                for venue, native, last in self._stored_markets(store._conn):
                    t_end = min(last - last % STEP_MS + STEP_MS, closed_end)
                    done = self.done.get((venue, native))
                    if done is not None and t_end <= done:
                        continue
                    fired.extend(self._market(store, venue, native, t_end, done))
        return fired

    def _market(
        self, store: Any, venue: str, native: str, t_end: int, done: int | None
    ) -> list[Alert]:
        t0 = t_end - self.lookback_ms
        steps = store.steps(venue, native, t0, t_end, STEP_MS).to_model(venue, native)
        if steps is None or len(steps) < 2:
            return []
        try:
            hm = estimate(steps, self.config)
        except InputError as exc:
            log.warning("live alerts: %s %s: %s", venue, native, exc)
            self.done[(venue, native)] = t_end
            return []
        symbol = market_of(venue, native)
        fired: list[Alert] = []
        warm = done is None
        if warm:  # replay the stored history muted: it only fills the rules' history
            self.engine.dispatcher = Dispatcher()
        try:
            for obs in observations(hm, steps, venue=venue, symbol=symbol):
                if done is not None and obs.ts < done:
                    continue
                out = self.engine.evaluate(obs)
                if not warm:
                    fired.extend(out)
        finally:
            self.engine.dispatcher = self.dispatcher
        if warm:
            self.engine.reset_cooldowns(venue, symbol)
        self.fired += len(fired)
        if self.signal_store is not None and self.snapshot_every_ms:
            snaps = [
                s
                for s in take_snapshots(hm, self.snapshot_every_ms)
                if s.ts <= t_end and (done is None or s.ts > done)
            ]
            if done is None:
                snaps = snaps[-1:]  # what is known now; older ones were not taken live
            snaps = [replace(s, venue=venue, symbol=native) for s in snaps]
            self.snapshots += save_snapshots(self.signal_store, snaps)
        self.done[(venue, native)] = int(np.int64(t_end))
        return fired

    # ------------------------------------------------------------------ background task
    async def run(self, stop: asyncio.Event) -> None:
        """Call :meth:`tick` (in a worker thread) every ``interval_s`` until ``stop``."""
        while not stop.is_set():
            try:
                await asyncio.to_thread(self.tick)
            except Exception:
                log.exception("live alert evaluation failed")
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(stop.wait(), self.interval_s)


def live_hooks(
    db_path: str | Path,
    rules: Sequence[AlertRule],
    *,
    webhooks: Sequence[str] = (),
    clock: Clock = SYSTEM_CLOCK,
    interval_s: float = 5.0,
    snapshot_every_min: float = 5.0,
    preset: str = "all",
    console: bool = False,
) -> tuple[Callable[[Any], Any], Callable[[Any], Any]]:
    """``(on_startup, on_shutdown)`` hooks for ``api.app.Settings`` running :class:`LiveAlerts`
    as a background task of the app (``app.state.live_alerts``)."""
    if snapshot_every_min < 0 or snapshot_every_min != int(snapshot_every_min):
        raise InputError("--snapshot-every must be a whole number of minutes >= 0")
    for url in webhooks:
        if not url.startswith(("http://", "https://")):
            raise InputError(f"--webhook {url!r}: expected an http(s) URL")
    state: dict[str, Any] = {}

    async def start(app: Any) -> None:
        signal_store = SignalStore(db_path)
        hub = app.state.hub
        sinks: list[Sink] = [LogSink(console=console), StoreSink(signal_store)]
        sinks.extend(WebhookSink(u) for u in webhooks)
        sinks.append(CallbackSink(lambda a: hub.publish_alert(ui_message(a))))
        live = LiveAlerts(
            db_path,
            rules,
            Dispatcher(sinks),
            clock=clock,
            preset=preset,
            interval_s=interval_s,
            snapshot_every_ms=int(snapshot_every_min) * STEP_MS,
            signal_store=signal_store,
        )
        stop = asyncio.Event()
        app.state.live_alerts = live
        state.update(
            live=live, stop=stop, store=signal_store, task=asyncio.create_task(live.run(stop))
        )

    async def stop(_app: Any) -> None:
        if "stop" not in state:
            return
        state["stop"].set()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(state["task"], 30)
        await asyncio.to_thread(state["live"].dispatcher.close, 2.0)
        state["store"].close()

    return start, stop
