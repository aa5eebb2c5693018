"""The demo: the whole product, offline, on the built-in simulated market.

Simulated Binance, Bybit, OKX and Hyperliquid servers run on 127.0.0.1 and replay one
simulated market per coin (:data:`DEMO_COINS`, each on the venues that list it); liqscope
collects from them through the same venue adapters it uses for real venues, after pre-filling
the store with what a collector would have recorded over the simulated days of history
(:func:`prefill`), and serves the API and web UI.

Time: the live start is the wall clock floored to the minute when the demo starts
(:func:`~liqscope.sim.scenarios.anchor_ms`, as ``liqscope sim --start now``), the history the
``--days`` before it; the same seed gives the same market relative to that start. Simulated
time stands still while the history is built and runs at ``--speed`` from when collection
starts (:class:`HeldWall`), so it then runs ahead of the wall clock; ``liqscope status``
measures a running demo's ages on its simulated clock (``cli.options.demo_now_ms``). The scenario's
event (the ``cascade`` flush) starts ``flush_in_min`` simulated minutes after the live start,
whatever ``--days``. ``liqscope demo`` is the command-line face of :func:`run_demo`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import uvicorn

from liqscope.api.app import Settings, create_app
from liqscope.domain.clock import SYSTEM_CLOCK, Clock, ManualClock
from liqscope.domain.errors import InputError
from liqscope.domain.intervals import DAY_MS, MINUTE_MS
from liqscope.domain.registry import known_symbols, native_symbol
from liqscope.ingest.collector import CollectorConfig, CollectorSpec, run_collectors
from liqscope.ingest.hl_positions import poller_hooks
from liqscope.signals.live import live_hooks, rules_from
from liqscope.sim.exchange import ReplayClock, SimExchanges
from liqscope.sim.exchange.server import second_marks
from liqscope.sim.market import Market
from liqscope.sim.scenarios import (
    EVENTS,
    SCENARIOS,
    anchor_ms,
    regimes_with_event_at,
    venue_markets,
    venue_seed,
)
from liqscope.store import open_store
from liqscope.store.base import Store, WriteCounts
from liqscope.venues.registry import adapter

__all__ = [
    "DEMO_COINS",
    "DEMO_VENUES",
    "PREFILL_SAMPLE_MS",
    "DemoPlan",
    "HeldWall",
    "demo_markets",
    "prefill",
    "run_demo",
]

#: Coins the demo simulates: (initial price, crowd size relative to BTC).
DEMO_COINS: dict[str, tuple[float, float]] = {
    "BTC": (100_000.0, 1.0),
    "ETH": (4_000.0, 0.6),
    "SOL": (200.0, 0.4),
}
#: (venue, crowd size relative to Binance); a coin runs on each venue with a built-in
#: instrument for it (OKX has no SOL table). The first venue leads the coin's price path.
DEMO_VENUES: tuple[tuple[str, float], ...] = (
    ("binance", 1.0),
    ("bybit", 0.6),
    ("okx", 0.4),
    ("hyperliquid", 0.3),
)
#: Simulated ms between two recorded frames of a state stream in the pre-fill: one asset
#: context per coin a minute (the collector's default open-interest poll), not every push.
PREFILL_SAMPLE_MS = MINUTE_MS
#: Seconds the API server waits for open requests and connections when stopping.
GRACE_S = 5


@dataclass(frozen=True)
class DemoPlan:
    """What the demo runs, resolved from the options. ``pointer``: a file naming the running
    demo's store (written on start, removed on stop) so other commands find it."""

    scenario: str
    seed: int
    speed: float
    history_days: float
    db: Path
    alerts: Path | None = None
    live_alerts: bool = True
    webhooks: tuple[str, ...] = ()
    snapshot_every: int = 5
    flush_in_min: float = 5.0
    pointer: Path | None = None

    def __post_init__(self) -> None:
        if self.scenario not in SCENARIOS:
            raise InputError(
                f"unknown scenario {self.scenario!r} (expected one of {', '.join(SCENARIOS)})"
            )
        if self.speed <= 0 or self.history_days <= 0:
            raise InputError("--speed and --days must be > 0")
        if self.flush_in_min < 0:
            raise InputError("--flush-in must be >= 0 minutes")
        if self.alerts is not None:  # refuse a bad rules file before starting anything
            rules_from(self.alerts)

    @property
    def history_ms(self) -> int:
        """The pre-filled history, in whole simulated seconds."""
        return int(self.history_days * DAY_MS) // 1000 * 1000

    @property
    def has_event(self) -> bool:
        start, end = EVENTS[self.scenario]
        return end > start


class HeldWall:
    """A wall clock that stands still until :meth:`release`, then runs on from there: a
    :class:`ReplayClock` on it starts simulated time when live collection starts."""

    def __init__(self, wall: Clock = SYSTEM_CLOCK) -> None:
        self._wall = wall
        self._held_at = wall.now_ms()
        self._lag: int | None = None

    def release(self) -> None:
        if self._lag is None:
            self._lag = self._wall.now_ms() - self._held_at

    @property
    def released_ms(self) -> int | None:
        """Wall time of the release (None: still held)."""
        return None if self._lag is None else self._held_at + self._lag

    def now_ms(self) -> int:
        return self._held_at if self._lag is None else self._wall.now_ms() - self._lag


def demo_markets(plan: DemoPlan, live_ms: int) -> dict[tuple[str, str], Market]:
    """One market per (venue, native symbol): each coin of :data:`DEMO_COINS` on its venues
    along its own price path (BTC keeps ``plan.seed``), starting ``plan.history_days`` before
    ``live_ms`` (a whole second) with the scenario's event ``plan.flush_in_min`` after it. The
    markets depend on ``live_ms`` only by a shift in time."""
    history_s = plan.history_ms // 1000
    event_at = history_s + int(plan.flush_in_min * 60)
    regimes = regimes_with_event_at(plan.scenario, event_at)
    start_ms = live_ms - history_s * 1000
    out: dict[tuple[str, str], Market] = {}
    for i, (coin, (price, size)) in enumerate(DEMO_COINS.items()):
        venues = tuple(
            (venue, native, size * scale)
            for venue, scale in DEMO_VENUES
            if (venue, native := native_symbol(venue, f"{coin}USDT")) in known_symbols(venue)
        )
        seed = plan.seed if i == 0 else venue_seed(plan.seed, 1000 + i)
        out.update(
            venue_markets(
                plan.scenario, seed, venues, regimes=regimes, initial_price=price,
                start_ms=start_ms,
            )
        )  # fmt: skip
    return out


def prefill(sim: SimExchanges, store: Store, t0: int, t1: int) -> WriteCounts:
    """Store what a collector subscribed to every simulated venue from ``t0`` up to ``t1``
    (the live start, whose pushes come after it) would have recorded and the venue cannot
    give back over REST: the liquidations, and the state streams without a REST history
    (Hyperliquid's asset contexts: open interest, mark, funding).

    The demo stands in for that recording: each venue's frames, in its own wire format, go
    through the venue's parser. Liquidations are taken as sent (sampled where the venue
    samples); a state stream pushes every second and is kept once per
    :data:`PREFILL_SAMPLE_MS`, each frame stamped with its time as a collector stamps it on
    receipt (Hyperliquid's contexts carry no time). The other venues' open interest has a
    REST history: the collector's start-up back-fill fetches it.
    """
    counts = WriteCounts()
    for venue, urls in sim.urls().items():
        server = sim[venue]
        received = ManualClock(t1)
        parser = adapter(venue, ws_url=urls.ws, rest_url=urls.rest, clock=received)
        windows = [(t0, t1 + 1, server.liquidation_topics())]
        if state := server.state_topics():
            windows += [(t, t + 1, state) for t in second_marks(t0, t1 + 1, PREFILL_SAMPLE_MS)]
        events = []
        for start, end, topics in windows:
            if topics:
                received.set(end - 1)
                frames = server.past_frames(start, end, topics)
                events += [event for frame in frames for event in parser.parse(frame)]
        counts.add(store.write_events(events))
    return counts


def _utc(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M UTC")


def _guide(plan: DemoPlan, url: str, live_ms: int, symbols: list[str]) -> list[str]:
    """Where to look: the UI, which symbol, when the event comes, how to list alerts."""
    lines = [f"\n  open {url}/   (API docs: {url}/docs)"]
    if plan.has_event:
        flush_ms = live_ms + int(plan.flush_in_min * MINUTE_MS)
        wall_s = plan.flush_in_min * 60 / plan.speed
        lines.append(
            f"  watch BTCUSDT (also {', '.join(s for s in symbols if s != 'BTCUSDT')}): "
            f"the {plan.scenario} starts at {_utc(flush_ms)} simulated, about {wall_s:.0f} s "
            f"from now at {plan.speed:g}x; alerts fire as price nears the dense zones"
        )
    alerts_cmd = (
        "liqscope alerts" if plan.pointer is not None else f"liqscope alerts --db {plan.db}"
    )
    lines.append(f"  list alerts: {alerts_cmd}   (stored data: liqscope status)")
    lines.append("  Ctrl-C to stop.\n")
    return lines


def _write_pointer(plan: DemoPlan, url: str, live_ms: int, wall_ms: int) -> None:
    """The pointer: the store, the process, the URL, and the simulated clock (``live_start_ms``
    at wall time ``live_wall_ms``, then ``speed``; read by ``cli.options.demo_now_ms``)."""
    if plan.pointer is None:
        return
    flush = live_ms + int(plan.flush_in_min * MINUTE_MS) if plan.has_event else None
    record = {
        "db": str(plan.db.resolve()),
        "pid": os.getpid(),
        "url": url,
        "live_start_ms": live_ms,
        "live_wall_ms": wall_ms,
        "speed": plan.speed,
        "event_start_ms": flush,
        "scenario": plan.scenario,
    }
    plan.pointer.parent.mkdir(parents=True, exist_ok=True)
    tmp = plan.pointer.with_suffix(".tmp")
    tmp.write_text(json.dumps(record))
    tmp.replace(plan.pointer)


def _remove_pointer(plan: DemoPlan) -> None:
    """Remove the pointer file if it still names this process."""
    if plan.pointer is None or not plan.pointer.is_file():
        return
    with contextlib.suppress(OSError, ValueError):
        if json.loads(plan.pointer.read_text()).get("pid") == os.getpid():
            plan.pointer.unlink()


def _as_ctrl_c(_sig: int, _frame: object) -> None:
    signal.raise_signal(signal.SIGINT)


@contextlib.contextmanager
def _stop_signals() -> Iterator[None]:
    """Ctrl-C (SIGINT) and SIGTERM stop the demo cleanly however it was started, also when
    the parent left SIGINT ignored (a background job of a non-interactive shell): SIGINT
    raises KeyboardInterrupt (asyncio.run turns it into cancelling the main task) and SIGTERM
    does what Ctrl-C does. While serving, uvicorn's own handlers take both, stop the server
    and re-raise the signal on these handlers once it has stopped, so the store is closed
    and the pointer removed instead of the process dying on a default SIGTERM."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {
        signal.SIGINT: signal.signal(signal.SIGINT, signal.default_int_handler),
        signal.SIGTERM: signal.signal(signal.SIGTERM, _as_ctrl_c),
    }
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def run_demo(
    plan: DemoPlan,
    host: str,
    port: int,
    run_for: float,
    log_level: str,
    say: Callable[[str], None] = print,
) -> None:
    """Start the simulated exchanges, pre-fill the store, collect and serve until stopped
    (Ctrl-C, SIGTERM, or after ``run_for`` wall seconds); ``say`` prints the progress lines."""
    with _stop_signals(), contextlib.suppress(KeyboardInterrupt):
        _run_demo(plan, host, port, run_for, log_level, say)
    say("liqscope demo: stopped")


def _run_demo(
    plan: DemoPlan,
    host: str,
    port: int,
    run_for: float,
    log_level: str,
    say: Callable[[str], None],
) -> None:
    for suffix in ("", "-wal", "-shm"):  # the demo store is rebuilt on every run
        Path(f"{plan.db}{suffix}").unlink(missing_ok=True)
    plan.db.parent.mkdir(parents=True, exist_ok=True)

    say(f"liqscope demo: simulating {plan.history_days:g} days of history …")
    start_ms = anchor_ms()  # the live start: wall time now (to the minute)
    markets = demo_markets(plan, start_ms)
    sources: dict[str, list[Any]] = {}
    for (venue, _), market in markets.items():
        sources.setdefault(venue, []).append(market.advance)
    wall = HeldWall()
    clock = ReplayClock(start_ms, plan.speed, wall=wall)
    sim = SimExchanges(sources, start_ms=start_ms, clock=clock, venues=list(sources))
    sim.start(timeout=600)
    url = f"http://{host}:{port}"
    try:
        store = open_store(plan.db, clock=sim.clock)
        got = prefill(sim, store, start_ms - plan.history_ms, start_ms)
        say(
            f"  recorded from the venues' streams: {got.liquidations} historical liquidations, "
            f"{got.open_interest} open-interest samples (venues without OI history)"
        )
        specs = [
            CollectorSpec(
                venue,
                tuple(sym for v, sym in markets if v == venue),
                ws_url=f"ws://{sim.host}:{sim.port(venue)}",
                rest_url=sim.urls()[venue].rest,
            )
            for venue in sources
        ]
        config = CollectorConfig(
            backfill_days=plan.history_days + 0.01, oi_poll_s=5.0, candle_poll_s=5.0
        )
        state: dict[str, Any] = {}

        async def start_collecting(_app: Any) -> None:
            wall.release()  # simulated time starts now, with live collection
            _write_pointer(plan, url, start_ms, wall.released_ms or SYSTEM_CLOCK.now_ms())
            stop = asyncio.Event()
            task = asyncio.create_task(run_collectors(specs, store, sim.clock, stop, config=config))
            state.update(stop=stop, task=task)

        async def stop_collecting(_app: Any) -> None:
            if "stop" in state:
                state["stop"].set()
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(state["task"], 15)

        settings = Settings(db_path=str(plan.db), clock=sim.clock)
        settings.on_startup.append(start_collecting)
        settings.on_shutdown.append(stop_collecting)
        if "hyperliquid" in sources:  # measured positions (docs/hyperliquid-positions.md)
            hl = sim.urls()["hyperliquid"]
            coins = [sym for v, sym in markets if v == "hyperliquid"]
            start_poll, stop_poll = poller_hooks(hl.rest, hl.ws, store, sim.clock, coins)
            settings.on_startup.append(start_poll)
            settings.on_shutdown.append(stop_poll)
        if plan.live_alerts:
            start_alerts, stop_alerts = live_hooks(
                plan.db, rules_from(plan.alerts), webhooks=plan.webhooks, clock=sim.clock,
                interval_s=2.0, snapshot_every_min=plan.snapshot_every, console=True,
            )  # fmt: skip
            settings.on_startup.append(start_alerts)
            settings.on_shutdown.insert(0, stop_alerts)
        server = uvicorn.Server(
            uvicorn.Config(
                create_app(settings), host=host, port=port, log_level=log_level,
                timeout_graceful_shutdown=GRACE_S,
            )
        )  # fmt: skip
        say(f"  simulated market: {plan.scenario}, seed {plan.seed}, {plan.speed:g}x time")
        for venue, urls in sim.urls().items():
            names = ", ".join(sym for v, sym in markets if v == venue)
            say(f"  simulated {venue:11s} REST {urls.rest}  WS {urls.ws}  ({names})")
        say(f"  store: {plan.db}")
        symbols = [f"{coin}USDT" for coin in DEMO_COINS]
        for line in _guide(plan, url, start_ms, symbols):
            say(line)

        async def serve() -> None:
            task = asyncio.create_task(server.serve())
            # the server ends on Ctrl-C/SIGTERM (uvicorn's handlers) or after run_for
            done, _ = await asyncio.wait({task}, timeout=run_for if run_for > 0 else None)
            if not done:
                server.should_exit = True
            await task

        try:
            asyncio.run(serve())
        finally:
            store.close()
    finally:
        _remove_pointer(plan)
        sim.stop()
