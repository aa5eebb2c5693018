"""Live alert evaluation and automatic point-in-time snapshots while serving or collecting.

:class:`LiveAlerts` polls the store every ``interval_s`` seconds. For each stored market
(venue, symbol with 1-minute candles) with newly *closed* minutes it builds the map known at
the end of each new minute (:func:`~liqscope.model.estimate_market` with the preset's own grid
policy over the last ``lookback_ms`` of steps read by ``store.readers.read_steps``, one
column per minute: the map ``liqscope map`` and ``liqscope check`` show for the same
window), feeds the :class:`~liqscope.signals.rules.AlertEngine` one observation per minute
(rules with cooldown), and every ``snapshot_every_ms`` stores the map known then
(``signals.snapshots``, one per preset of ``snapshot_presets``) in the store's ``snapshots``
table. When a rule names ``venue = "aggregate"`` the venues of one venue-neutral market
(``registry.market_of``) are estimated together (one grid, their maps summed) and evaluated
as market ``("aggregate", market)`` with realized liquidations summed across venues (alert
``details["aggregate"]`` names the venues and which feeds are sampled, i.e. lower bounds).

On the first pass over a market the stored history is replayed muted
(``AlertEngine.warm``: it only warms the rules' history up: baselines, spike windows, σ);
alerts are delivered for minutes that close after that. A minute counts as closed once the
clock has passed its end. A stop asked during a pass ends it after the market in progress.

:func:`live_hooks` gives ``Settings.on_startup``/``on_shutdown`` hooks that run it as a
background task of the API app, delivering to the log, the ``alerts`` table, webhooks (the
non-blocking :class:`~liqscope.signals.delivery.WebhookSink` worker) and the UI
(``app.state.hub.publish_alert``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from liqscope.domain.clock import SYSTEM_CLOCK, Clock
from liqscope.domain.errors import InputError
from liqscope.domain.intervals import HOUR_MS, MINUTE_MS
from liqscope.domain.registry import market_of, sampled_feed
from liqscope.model.config import ModelConfig
from liqscope.model.estimator import Heatmap
from liqscope.model.market import estimate_market
from liqscope.model.presets import PRESETS
from liqscope.model.presets import preset as get_preset
from liqscope.model.steps import Steps
from liqscope.signals.clusters import LevelMap
from liqscope.signals.delivery import (
    AlertDict,
    CallbackSink,
    Dispatcher,
    LogSink,
    Sink,
    StoreSink,
    WebhookSink,
)
from liqscope.signals.rules import (
    AGGREGATE,
    Alert,
    AlertEngine,
    AlertRule,
    Observation,
    load_rules,
    observations,
)
from liqscope.signals.snapshots import Snapshot, save_snapshots, take_snapshots
from liqscope.signals.storage import SignalStore
from liqscope.store import is_server_url, open_store
from liqscope.store.base import Store
from liqscope.store.readers import read_steps

log = logging.getLogger("liqscope.alerts")

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


def aggregate_observations(
    hm: Heatmap,
    runs: Sequence[Steps],
    market: str,
    t_end: int,
    context: dict[str, Any] | None = None,
) -> Iterator[Observation]:
    """One ``aggregate`` observation per minute before ``t_end`` that any venue has: the
    aggregate map's column of that minute (1-minute columns: known at the minute's end), the
    mean of the venues' closes/highs/lows and the sum of their realized liquidations."""
    if hm.column_ms != MINUTE_MS:
        raise InputError("aggregate observations need 1-minute columns")
    col0 = int(hm.columns_ts[0]) // MINUTE_MS
    n = int(hm.columns_ts.shape[0])
    acc = np.zeros((6, n))  # close, high, low, count, long USD, short USD
    for s in runs:
        idx = s.ts // MINUTE_MS - col0
        ok = (idx >= 0) & (idx < n) & np.isfinite(s.close)
        i = idx[ok]
        np.add.at(acc[0], i, s.close[ok])
        np.add.at(acc[1], i, np.where(np.isfinite(s.high[ok]), s.high[ok], s.close[ok]))
        np.add.at(acc[2], i, np.where(np.isfinite(s.low[ok]), s.low[ok], s.close[ok]))
        np.add.at(acc[3], i, 1.0)
        np.add.at(acc[4], i, np.nan_to_num(s.liq_long_usd[ok]))
        np.add.at(acc[5], i, np.nan_to_num(s.liq_short_usd[ok]))
    for c in np.flatnonzero(acc[3] > 0).tolist():
        ts = (col0 + c) * MINUTE_MS
        if ts + MINUTE_MS > t_end:
            break
        k = acc[3, c]
        yield Observation(
            ts=ts,
            venue=AGGREGATE,
            symbol=market,
            price=float(acc[0, c] / k),
            levels=LevelMap.from_heatmap(hm, c),
            liq_long_usd=float(acc[4, c]),
            liq_short_usd=float(acc[5, c]),
            high=float(acc[1, c] / k),
            low=float(acc[2, c] / k),
            context=context,
        )


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
        interval_s: float = 5.0,
        snapshot_every_ms: int = 5 * MINUTE_MS,
        snapshot_presets: Sequence[str] | None = None,
        signal_store: SignalStore | None = None,
        markets: Sequence[tuple[str, str]] | None = None,
        stale_ms: int = 10 * MINUTE_MS,
    ) -> None:
        if interval_s <= 0:
            raise InputError("the alert evaluation interval must be > 0 s")
        if snapshot_every_ms < 0 or snapshot_every_ms % MINUTE_MS:
            raise InputError("the snapshot interval must be a whole number of minutes >= 0")
        if lookback_ms < 10 * MINUTE_MS:
            raise InputError("the alert lookback must be at least 10 minutes")
        if stale_ms < 0:
            raise InputError("the aggregate staleness limit must be >= 0")
        self.db = db_path
        """The store as given: a file path or a ``postgresql://`` URL (``store.open_store``)."""
        self.dispatcher = dispatcher or Dispatcher()
        self.engine = AlertEngine(rules, self.dispatcher)
        self.clock = clock
        self.preset = get_preset(preset).name
        self.config = self._config(self.preset)
        names = list(PRESETS) if snapshot_presets is None else list(snapshot_presets)
        self.snapshot_presets = list(dict.fromkeys(get_preset(n).name for n in names))
        """Presets stored as snapshots (default: every preset of ``model.presets.PRESETS``).
        Presets other than the alert preset are only estimated when a snapshot is due."""
        self.lookback_ms = lookback_ms
        self.interval_s = interval_s
        self.snapshot_every_ms = snapshot_every_ms
        self.signal_store = signal_store
        self.markets = list(markets) if markets is not None else None
        self.stale_ms = stale_ms
        self.done: dict[tuple[str, str], int] = {}
        """Per (venue, native symbol), and per ("aggregate", market): end of the last
        evaluated minute, epoch ms."""
        self.fired = 0
        self.snapshots = 0
        self.ticks = 0
        self._warned: set[str] = set()
        self._lock = threading.Lock()
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def _config(self, name: str) -> ModelConfig:
        """The preset with one column per minute (its own grid policy)."""
        return replace(get_preset(name), column_ms=MINUTE_MS, max_columns=10_000_000)

    def _wants_aggregate(self, market: str) -> bool:
        return any(r.venue == AGGREGATE and r.matches(AGGREGATE, market) for r in self.engine.rules)

    # ------------------------------------------------------------------ one pass
    def _stored_markets(self, store: Store) -> list[tuple[str, str, int]]:
        """``(venue, native symbol, last candle open)`` of markets with candles of 1 minute
        or less (restricted to :attr:`markets` when given)."""
        want = None if self.markets is None else set(self.markets)
        out = []
        for venue, symbol in store.markets(("candles",)):
            if want is not None and not {(venue, symbol), (venue, market_of(venue, symbol))} & want:
                continue
            ends = [
                r[1]
                for iv in store.candle_intervals(venue, symbol)
                if iv <= MINUTE_MS and (r := store.candle_range(venue, symbol, iv)) is not None
            ]
            if ends:
                out.append((venue, symbol, max(ends)))
        return out

    def tick(
        self, now_ms: int | None = None, stop: Callable[[], bool] | None = None
    ) -> list[Alert]:
        """Evaluate every market's newly closed minutes (each venue, then the aggregate of
        the market's venues when a rule asks for it); the alerts delivered. ``stop`` is
        asked before each venue and aggregate: once it says True the pass ends there (what
        is left is evaluated by the next pass)."""
        if not is_server_url(self.db) and not Path(self.db).is_file():
            return []
        now = self.clock.now_ms() if now_ms is None else now_ms
        closed_end = now - now % MINUTE_MS
        fired: list[Alert] = []
        with self._lock:
            self.ticks += 1
            with open_store(self.db, readonly=True, clock=self.clock) as store:
                groups: dict[str, list[tuple[str, str, int]]] = {}
                for venue, native, last in self._stored_markets(store):
                    groups.setdefault(market_of(venue, native), []).append((venue, native, last))
                halt = stop or (lambda: False)
                for market, members in groups.items():
                    if halt():
                        break
                    fired.extend(self._group(store, market, members, closed_end, halt))
        return fired

    def _estimate(self, steps: list[Steps], config: ModelConfig, what: str) -> Heatmap | None:
        """:func:`~liqscope.model.estimate_market` with the config's grid; None (logged once
        per reason) when nothing can be estimated."""
        try:
            est = estimate_market(steps, config)
        except InputError as exc:
            self._warn(f"{what}: {exc}")
            return None
        for venue, why in est.skipped.items():
            self._warn(f"{what}: {venue} left out ({why})")
        return est.heatmap

    def _warn(self, message: str) -> None:
        if message not in self._warned:
            self._warned.add(message)
            log.warning("live alerts: %s", message)

    def _group(
        self,
        store: Store,
        market: str,
        members: list[tuple[str, str, int]],
        closed_end: int,
        halt: Callable[[], bool],
    ) -> list[Alert]:
        """One venue-neutral market: each due venue's map, then the aggregate of its venues."""
        ends = {
            (v, n): min(last - last % MINUTE_MS + MINUTE_MS, closed_end) for v, n, last in members
        }
        due = [k for k, t in ends.items() if k not in self.done or t > self.done[k]]
        agg_key = (AGGREGATE, market)
        agg_members: list[tuple[str, str]] = []
        t_agg = 0
        if self._wants_aggregate(market):
            freshest = max(ends.values())
            # a venue whose data stopped does not hold the aggregate back (it is left out)
            agg_members = sorted(k for k, t in ends.items() if t >= freshest - self.stale_ms)
            t_agg = min(ends[k] for k in agg_members)
            if agg_key in self.done and t_agg <= self.done[agg_key]:
                agg_members = []
        steps: dict[tuple[str, str], Steps] = {}

        def read(key: tuple[str, str]) -> Steps | None:
            if key not in steps:
                got = read_steps(store, *key, ends[key] - self.lookback_ms, ends[key], MINUTE_MS)
                if got is not None:
                    steps[key] = got
            return steps.get(key)

        fired: list[Alert] = []
        for key in due:
            if halt():
                return self._count(fired)
            if read(key) is None:
                continue
            hm = self._estimate([steps[key]], self.config, f"{key[0]} {key[1]}")
            if hm is None:
                self.done[key] = ends[key]
                continue
            fired.extend(self._venue(key, hm, steps[key], market, ends[key]))
        if halt():
            return self._count(fired)
        runs = [s for k in agg_members if (s := read(k)) is not None]
        if runs:
            hm = self._estimate(runs, self.config, f"aggregate {market}")
            if hm is None:
                self.done[agg_key] = t_agg
            else:
                fired.extend(self._aggregate(market, hm, runs, t_agg))
        return self._count(fired)

    def _count(self, fired: list[Alert]) -> list[Alert]:
        self.fired += len(fired)
        return fired

    def _replay(self, obs: Iterable[Observation], done: int | None) -> list[Alert]:
        """Feed the engine; the first pass (``done`` None) is muted: it only fills history
        (``AlertEngine.warm``: the rules that only read history are not judged)."""
        fired: list[Alert] = []
        for o in obs:
            if done is None:
                self.engine.warm(o)
            elif o.ts >= done:
                fired.extend(self.engine.evaluate(o))
        return fired

    def _venue(
        self, key: tuple[str, str], hm: Heatmap, steps: Steps, market: str, t_end: int
    ) -> list[Alert]:
        venue = key[0]
        done = self.done.get(key)
        # later passes build only the new minutes' maps (earlier steps do not change them)
        i0 = 0 if done is None else int(np.searchsorted(steps.ts, done))
        fired: list[Alert] = []
        if i0 < len(steps):
            new = steps.slice(i0, len(steps)) if i0 else steps
            obs = (o for o in observations(hm, new, venue=venue, symbol=market) if o.ts < t_end)
            fired = self._replay(obs, done)
        if self.signal_store is not None and self.snapshot_every_ms:
            self._snapshots(key, hm, steps, t_end, done)
        self.done[key] = int(np.int64(t_end))
        return fired

    def _snapshots(
        self, key: tuple[str, str], hm: Heatmap, steps: Steps, t_end: int, done: int | None
    ) -> None:
        """Store the maps known at the snapshot times in ``(done, t_end]``, one per preset
        of :attr:`snapshot_presets` (other presets are estimated only when one is due)."""
        assert self.signal_store is not None

        def due(h: Heatmap) -> list[Snapshot]:
            snaps = [
                s
                for s in take_snapshots(h, self.snapshot_every_ms)
                if s.ts <= t_end and (done is None or s.ts > done)
            ]
            if done is None:
                snaps = snaps[-1:]  # what is known now; older ones were not taken live
            return [replace(s, venue=key[0], symbol=key[1]) for s in snaps]

        if not due(hm):
            return
        for name in self.snapshot_presets:
            what = f"snapshots {key[0]} {key[1]} {name}"
            h = hm if name == self.preset else self._estimate([steps], self._config(name), what)
            if h is not None:
                self.snapshots += save_snapshots(self.signal_store, due(h))

    def _aggregate(self, market: str, hm: Heatmap, runs: list[Steps], t_end: int) -> list[Alert]:
        """Aggregate rules on the sum of the market's venues (their maps on one grid summed,
        realized liquidations summed, price the mean close of the venues with the minute)."""
        key = (AGGREGATE, market)
        venues = sorted({s.venue or "?" for s in runs})
        sampled = [v for v in venues if sampled_feed(v)]
        context = {
            "aggregate": {
                "venues": venues,
                "sampled_venues": sampled,
                "realized_lower_bound": bool(sampled),
                "note": (
                    f"realized liquidations summed over {', '.join(venues)}"
                    + (
                        f"; sampled feed ({', '.join(sampled)}): totals are lower bounds"
                        if sampled
                        else ""
                    )
                ),
            }
        }
        obs = aggregate_observations(hm, runs, market, t_end, context)
        fired = self._replay(obs, self.done.get(key))
        self.done[key] = int(np.int64(t_end))
        return fired

    # ------------------------------------------------------------------ background task
    async def run(self, stop: asyncio.Event) -> None:
        """Call :meth:`tick` (in a worker thread) every ``interval_s`` until ``stop``."""
        while not stop.is_set():
            try:
                await asyncio.to_thread(self.tick, None, stop.is_set)
            except Exception:
                log.exception("live alert evaluation failed")
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(stop.wait(), self.interval_s)

    def start(self) -> None:
        """Run :meth:`run` as a task of the running event loop until :meth:`aclose`."""
        self._task = asyncio.create_task(self.run(self._stop))

    async def aclose(self, timeout: float = 30.0) -> None:
        """Stop the task started by :meth:`start` (waiting up to ``timeout`` s for a pass
        in progress), then close the sinks and the signal store."""
        if self._task is None:
            return
        self._stop.set()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._task, timeout)
        self._task = None
        await asyncio.to_thread(self.dispatcher.close, 2.0)
        if self.signal_store is not None:
            self.signal_store.close()


def live_hooks(
    db_path: str | Path,
    rules: Sequence[AlertRule],
    *,
    webhooks: Sequence[str] = (),
    clock: Clock = SYSTEM_CLOCK,
    interval_s: float = 5.0,
    snapshot_every_min: float = 5.0,
    preset: str = "all",
    snapshot_presets: Sequence[str] | None = None,
    console: bool = False,
) -> tuple[Callable[[Any], Any], Callable[[Any], Any]]:
    """``(on_startup, on_shutdown)`` hooks for ``api.app.Settings`` running :class:`LiveAlerts`
    as a background task of the app (``app.state.live_alerts``). ``snapshot_presets``: the
    presets stored as snapshots (None: every preset in ``model.presets.PRESETS``)."""
    for name in snapshot_presets or ():
        get_preset(name)  # unknown preset: InputError now, not in the background task
    if snapshot_every_min < 0 or snapshot_every_min != int(snapshot_every_min):
        raise InputError("--snapshot-every must be a whole number of minutes >= 0")
    for url in webhooks:
        if not url.startswith(("http://", "https://")):
            raise InputError(f"--webhook {url!r}: expected an http(s) URL")
    running: list[LiveAlerts] = []

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
            snapshot_every_ms=int(snapshot_every_min) * MINUTE_MS,
            snapshot_presets=snapshot_presets,
            signal_store=signal_store,
        )
        app.state.live_alerts = live
        live.start()
        running.append(live)

    async def stop(_app: Any) -> None:
        while running:
            await running.pop().aclose()

    return start, stop
