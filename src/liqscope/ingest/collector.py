"""The live collector: venue WebSockets -> raw-frame journal -> parsed events -> store.

Pipeline (all in one asyncio loop; see docs/collector.md):

1. every adapter is prepared (``await adapter.prepare()``: e.g. OKX contract values);
2. one :class:`~liqscope.ingest.supervisor.Supervisor` per venue connection reads frames and
   puts them on the writer's bounded queue (:mod:`.writer`: batches, one transaction each,
   bad frames isolated from good ones, a failing store retried, then fatal);
3. a connection loss or stall becomes a gap per (venue, symbol, stream); so does a stream
   that misses its cadence and the downtime of a collector that was killed (:mod:`.history`);
4. one REST worker per venue (:mod:`.rest_worker`) runs every REST call one at a time:
   start-up backfill up to each stream's first live row, gap backfill, open-interest polling
   where the venue streams none, candle polling where the adapter declares it.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import os
import random
import time
from collections.abc import Callable, Sequence
from typing import Any

from liqscope.domain.clock import SYSTEM_CLOCK, Clock
from liqscope.domain.errors import InputError, VenueError
from liqscope.store.base import Store
from liqscope.venues.base import Channel, VenueAdapter

from .backoff import Backoff
from .config import (
    BACKFILLABLE_STREAMS,
    DEFAULT_CHANNELS,
    STREAM_OF_CHANNEL,
    CollectorConfig,
    CollectorSpec,
    CollectorStats,
    parse_channels,
)
from .history import History, Polled
from .rest_worker import RestWorker
from .supervisor import AppPing, ConnectionPlan, Frame, Supervisor
from .writer import Item, Route, Writer

__all__ = [
    "BACKFILLABLE_STREAMS",
    "DEFAULT_CHANNELS",
    "STREAM_OF_CHANNEL",
    "AdapterFactory",
    "Collector",
    "CollectorConfig",
    "CollectorSpec",
    "CollectorStats",
    "parse_channels",
    "run_collectors",
]

log = logging.getLogger("liqscope.collect")

AdapterFactory = Callable[[CollectorSpec, Clock], VenueAdapter]


def _default_adapter(spec: CollectorSpec, clock: Clock) -> VenueAdapter:
    from liqscope.venues import registry

    overrides: dict[str, Any] = {}
    if spec.ws_url:
        overrides["ws_url"] = spec.ws_url
    if spec.rest_url:
        overrides["rest_url"] = spec.rest_url
    return registry.adapter(spec.venue, clock=clock, **overrides)


class _Listener:
    """Supervisor callbacks for one connection plan."""

    def __init__(self, collector: Collector, route: Route) -> None:
        self.collector = collector
        self.route = route
        self.seqs: dict[str, itertools.count[int]] = {}
        self.first_up = True

    async def on_frame(self, conn_id: str, received_ms: int, frame: Frame) -> None:
        counter = self.seqs.get(conn_id)
        if counter is None:
            counter = self.seqs[conn_id] = itertools.count()
        item = Item(self.route, conn_id, next(counter), received_ms, frame)
        await self.collector.writer.enqueue(item)

    def on_up(self, plan: ConnectionPlan, conn_id: str, at_ms: int) -> None:
        log.info("%s: connected and subscribed (%s)", plan.name, conn_id)
        for old in list(self.seqs)[:-2]:  # keep the live connection and one overlapping
            del self.seqs[old]
        if self.first_up:
            self.first_up = False
            r = self.route
            self.collector.history.on_first_up(r.venue_name, r.venue, r.keys, at_ms)

    def on_gap(self, plan: ConnectionPlan, start_ms: int, end_ms: int, reason: str) -> None:
        r = self.route
        for symbol, stream in r.keys:
            self.collector.history.record_gap(
                r.venue_name, r.venue, symbol, stream, start_ms, end_ms, reason
            )


class Collector:
    """Collects several venues into one store until stopped. See the module docstring."""

    def __init__(
        self,
        specs: Sequence[CollectorSpec],
        store: Store,
        clock: Clock = SYSTEM_CLOCK,
        config: CollectorConfig | None = None,
        *,
        adapter_factory: AdapterFactory | None = None,
    ) -> None:
        if not specs:
            raise InputError("nothing to collect: give at least one venue and symbol")
        self.specs = list(specs)
        self.store = store
        self.clock = clock
        self.config = cfg = config or CollectorConfig()
        self.stats = CollectorStats()
        self.run_id = f"{os.getpid():x}{time.time_ns() // 1_000_000 % 0xFFFFFF:06x}"
        self._rest: dict[str, RestWorker] = {}
        self.history = History(store, clock, cfg, self.stats, self._rest)
        self.writer = Writer(self.history)
        self.adapters: list[VenueAdapter] = []
        self._rng = random.Random(cfg.seed)
        factory = adapter_factory or _default_adapter
        self._routes: list[tuple[Route, ConnectionPlan]] = []
        for spec in self.specs:
            adapter = factory(spec, clock)
            self.adapters.append(adapter)
            self._plan_spec(spec, adapter)
        self.supervisors = [
            Supervisor(
                plan,
                _Listener(self, route),
                clock=self.clock,
                backoff=Backoff(
                    base_s=cfg.backoff_base_s,
                    cap_s=cfg.backoff_cap_s,
                    healthy_after_s=cfg.healthy_after_s,
                    rng=random.Random(self._rng.random()),
                ),
                run_id=self.run_id,
            )
            for route, plan in self._routes
        ]

    # -- planning ------------------------------------------------------------------------

    def _plan_spec(self, spec: CollectorSpec, adapter: VenueAdapter) -> None:
        cfg = self.config
        history = self.history
        symbols = tuple(dict.fromkeys(s.strip() for s in spec.symbols if s.strip()))
        if not symbols:
            raise InputError(f"{spec.venue}: no symbols given")
        wanted = tuple(spec.channels or DEFAULT_CHANNELS)
        ws_channels = [c for c in wanted if c in adapter.ws_channels]

        def poll(table: dict[str, list[Polled]], channel: Channel, every: float | None) -> None:
            streams = table.setdefault(spec.venue, [])
            have = {p.symbol for p in streams}
            stream = STREAM_OF_CHANNEL[channel]
            streams.extend(
                Polled(spec.venue, adapter.venue, s, stream, every or 60.0)
                for s in symbols
                if s not in have
            )

        if Channel.OPEN_INTEREST in wanted and Channel.OPEN_INTEREST not in adapter.ws_channels:
            poll(history.polled_oi, Channel.OPEN_INTEREST, cfg.oi_poll_s)
        rest_polled = {
            c for c in wanted if c not in adapter.ws_channels and c in adapter.rest_polled_channels
        }
        if Channel.CANDLES in rest_polled:
            poll(history.polled_candles, Channel.CANDLES, cfg.candle_poll_s)
        skipped = [
            str(c)
            for c in wanted
            if c not in adapter.ws_channels
            and c != Channel.OPEN_INTEREST
            and c not in (rest_polled & {Channel.CANDLES})
        ]
        if spec.channels and skipped:
            log.warning("%s: does not stream %s; skipped", spec.venue, ", ".join(skipped))
        if not ws_channels and not rest_polled & {Channel.CANDLES}:
            raise InputError(f"{spec.venue}: none of the requested channels is streamed")
        if spec.venue not in self._rest:
            self._rest[spec.venue] = RestWorker(spec.venue, adapter, cfg, self.stats)
        if not ws_channels:
            return  # everything requested is polled over REST: no connection
        ping = adapter.ping
        app_ping = (
            AppPing(ping.message, ping.interval_s)
            if ping.message is not None and ping.interval_s
            else None
        )
        lifetime = cfg.max_lifetime_s or adapter.max_connection_lifetime_s
        step = max(1, cfg.symbols_per_connection)
        for i in range(0, len(symbols), step):
            chunk = symbols[i : i + step]
            sp = adapter.stream_plan(chunk, ws_channels)
            rate = sp.max_messages_per_s
            plan = ConnectionPlan(
                name=f"{spec.venue}/{i // step}",
                url=sp.url,
                subscribe=tuple(sp.subscribe),
                app_ping=app_ping,
                protocol_ping_s=cfg.protocol_ping_s,
                max_lifetime_s=lifetime,
                rollover_margin_s=cfg.rollover_margin_s,
                overlap_s=cfg.overlap_s,
                stall_timeout_s=cfg.stall_timeout_s,
                open_timeout_s=cfg.open_timeout_s,
                subscribe_interval_s=(1.5 / rate) if rate else 0.0,
            )
            keys = tuple((s, STREAM_OF_CHANNEL[c]) for s in chunk for c in ws_channels)
            self._routes.append((Route(spec.venue, adapter.venue, adapter, keys), plan))

    @property
    def plans(self) -> list[ConnectionPlan]:
        return [plan for _, plan in self._routes]

    # -- running -------------------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> CollectorStats:
        """Collect until ``stop`` is set; flush everything received, then return the stats.

        Raises :class:`~liqscope.domain.errors.StoreError` when the store stayed failing for
        ``store_timeout_s``."""
        cfg = self.config
        history = self.history
        venues = [r.venue for r, _ in self._routes]
        venues += [
            p.venue
            for table in (history.polled_candles, history.polled_oi)
            for streams in table.values()
            for p in streams
        ]
        for venue in dict.fromkeys(venues):
            history.restart_from.setdefault(venue, dict(self.store.last_messages(venue)))
        await self._prepare_adapters()
        halt = asyncio.Event()  # set by the caller's stop or by a writer failure
        writer = asyncio.create_task(self.writer.run(), name="collector-writer")
        writer.add_done_callback(lambda _: halt.set())
        helpers = [asyncio.create_task(_relay(stop, halt))]
        helpers += [
            asyncio.create_task(w.run(), name=f"rest-{name}") for name, w in self._rest.items()
        ]
        if cfg.backfill:  # before anything live is written: see History.submit_startup
            self._submit_startup_backfill()
        for table, every in (
            (history.polled_oi, cfg.oi_poll_s),
            (history.polled_candles, cfg.candle_poll_s),
        ):
            if every:
                helpers += [
                    asyncio.create_task(history.poll_forever(venue, streams))
                    for venue, streams in table.items()
                ]
        try:
            results = await asyncio.gather(
                *(s.run(halt) for s in self.supervisors), return_exceptions=True
            )
            if not self.supervisors:  # REST polling only
                await halt.wait()
            for sup, res in zip(self.supervisors, results, strict=True):
                if isinstance(res, BaseException):
                    log.error("%s: supervisor failed: %r", sup.plan.name, res)
        finally:
            for task in helpers:
                task.cancel()
            for task in helpers:
                with contextlib.suppress(BaseException):
                    await task
            self.writer.stopping = True
            sentinel = asyncio.create_task(self.writer.queue.put(None))
            await asyncio.wait({sentinel, writer}, return_when=asyncio.FIRST_COMPLETED)
            sentinel.cancel()
            await writer  # re-raises a store failure
        log.info("collector stopped: %s", self.stats.summary())
        return self.stats

    async def _prepare_adapters(self) -> None:
        """``await adapter.prepare()`` on every adapter (e.g. OKX SWAP + FUTURES sizes)."""
        for spec, adapter in zip(self.specs, self.adapters, strict=True):
            try:
                async with asyncio.timeout(self.config.open_timeout_s):
                    await adapter.prepare()
            except (VenueError, InputError, TimeoutError) as exc:
                log.warning(
                    "%s: cannot prepare (%s); using built-in instrument facts", spec.venue, exc
                )

    def _submit_startup_backfill(self) -> None:
        history = self.history
        todo: list[tuple[str, str, str, str]] = []  # (venue_name, venue, symbol, stream)
        for route, _ in self._routes:
            streams = {st for _, st in route.keys} & BACKFILLABLE_STREAMS
            if route.venue_name in history.polled_oi:
                streams.add("open_interest")
            for symbol in dict.fromkeys(s for s, _ in route.keys):
                todo += [(route.venue_name, route.venue, symbol, st) for st in sorted(streams)]
        for table in (history.polled_candles, history.polled_oi):
            for streams_ in table.values():
                todo += [(p.venue_name, p.venue, p.symbol, p.stream) for p in streams_]
        history.submit_startup(todo)
        for venue_name in self._rest:
            wanted = {k for r, _ in self._routes if r.venue_name == venue_name for k in r.keys}
            for table in (history.polled_candles, history.polled_oi):
                wanted |= {(p.symbol, p.stream) for p in table.get(venue_name, ())}
            history.submit_open_gaps(venue_name, wanted)


async def _relay(source: asyncio.Event, target: asyncio.Event) -> None:
    await source.wait()
    target.set()


async def run_collectors(
    specs: Sequence[CollectorSpec],
    store: Store,
    clock: Clock = SYSTEM_CLOCK,
    stop_event: asyncio.Event | None = None,
    *,
    config: CollectorConfig | None = None,
    adapter_factory: AdapterFactory | None = None,
) -> CollectorStats:
    """Collect ``specs`` into ``store`` until ``stop_event`` is set (forever when None).

    For in-process use (``liqscope serve --collect``, ``liqscope demo``): run it as a task and
    set the event to stop; everything received before the stop is flushed to the store.
    """
    collector = Collector(specs, store, clock, config, adapter_factory=adapter_factory)
    return await collector.run(stop_event or asyncio.Event())
