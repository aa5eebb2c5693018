"""The live collector: venue WebSockets -> raw-frame journal -> parsed events -> store.

Pipeline (all in one asyncio loop; see docs/collector.md):

1. one :class:`~liqscope.ingest.supervisor.Supervisor` per venue connection reads frames and puts
   them on one **bounded** queue. When the queue is full the reader waits (the socket stops being
   read, TCP pushes back on the venue); every wait is counted and logged — nothing is dropped.
2. one writer takes frames in batches (``batch_max_frames`` or ``batch_max_ms``, whichever first)
   and, in **one transaction** per batch: journals every raw frame (first statement), parses each
   frame with the venue adapter (a malformed frame is counted, logged as one line and skipped —
   its raw bytes stay in the journal), writes the events idempotently and updates the per-stream
   last-message times. A batch is stored whole or not at all.
3. a connection loss or stall becomes a gap per (venue, symbol, stream) from the last frame
   received to the moment the new subscription was sent; a collector that was down (killed,
   stopped) records the span since the last stored message time as a gap when it comes back.
   Candle and open-interest gaps are back-filled over REST and marked ``backfilled``; liquidation,
   mark-price and trade gaps cannot be back-filled and stay visible.
4. one REST worker per venue runs every REST call (start-up backfill since the last stored row,
   gap backfill, open-interest polling when the venue streams none, candle polling where the
   adapter declares candles in ``rest_polled_channels``) one at a time, with a minimum pause
   between calls; the REST client itself honours 429/Retry-After and stops on 418.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import os
import random
import sqlite3
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from liqscope.domain.clock import SYSTEM_CLOCK, Clock
from liqscope.domain.errors import InputError, VenueError
from liqscope.domain.events import Event
from liqscope.domain.intervals import DAY_MS, MINUTE_MS
from liqscope.store.base import Gap, RawFrame, Store, WriteCounts
from liqscope.venues.base import (
    Channel,
    MalformedFrame,
    RestClient,
    SubscriptionRejected,
    VenueAdapter,
    interval_ms,
)

from .backoff import Backoff
from .supervisor import AppPing, ConnectionPlan, Frame, Supervisor

__all__ = [
    "BACKFILLABLE_STREAMS",
    "DEFAULT_CHANNELS",
    "STREAM_OF_CHANNEL",
    "AdapterFactory",
    "Collector",
    "CollectorConfig",
    "CollectorSpec",
    "CollectorStats",
    "run_collectors",
]

log = logging.getLogger("liqscope.collect")


STREAM_OF_CHANNEL: Mapping[Channel, str] = {
    Channel.LIQUIDATIONS: "liquidations",
    Channel.TRADES: "trades",
    Channel.MARK_PRICE: "marks",
    Channel.OPEN_INTEREST: "open_interest",
    Channel.CANDLES: "candles:1m",
}
"""Gap/coverage stream name (the store's table, with the interval for candles) per channel."""

BACKFILLABLE_STREAMS = frozenset({"candles:1m", "open_interest"})
"""Streams a venue's REST API can fill in after a gap. Liquidations never can."""

DEFAULT_CHANNELS: tuple[Channel, ...] = (
    Channel.LIQUIDATIONS,
    Channel.MARK_PRICE,
    Channel.CANDLES,
    Channel.OPEN_INTEREST,
)
"""Collected when a spec names no channels (each where the venue offers it)."""

REASON_DOWN = "collector down"


@dataclass(frozen=True, slots=True)
class CollectorSpec:
    """One venue and the symbols to collect there.

    ``venue`` is a registry name (``binance``, ``binance_coinm``, ``bybit``, ``okx``).
    ``channels`` None means :data:`DEFAULT_CHANNELS`. ``ws_url``/``rest_url`` override the
    venue's base URLs (a simulated exchange on 127.0.0.1).
    """

    venue: str
    symbols: tuple[str, ...]
    channels: tuple[Channel, ...] | None = None
    ws_url: str | None = None
    rest_url: str | None = None


@dataclass(frozen=True, slots=True)
class CollectorConfig:
    """Tunables; the defaults suit a real venue, tests shrink the timeouts."""

    batch_max_frames: int = 1000
    batch_max_ms: int = 100
    queue_max_frames: int = 20_000
    journal: bool = True
    stall_timeout_s: float = 60.0
    protocol_ping_s: float | None = 20.0
    backoff_base_s: float = 0.5
    backoff_cap_s: float = 30.0
    healthy_after_s: float = 60.0
    seed: int | None = None  # jitter RNG seed (tests)
    max_lifetime_s: float | None = None  # override the venue's max connection lifetime
    rollover_margin_s: float = 600.0
    overlap_s: float = 2.0
    symbols_per_connection: int = 50
    backfill: bool = True
    backfill_days: float = 2.0  # start-up backfill reaches back at most this far
    gap_backfill_max_days: float = 30.0
    oi_period: str = "5m"
    oi_poll_s: float | None = 60.0  # REST polling of current OI where no OI stream (None: off)
    candle_poll_s: float | None = 60.0  # REST polling of closed 1m candles where the adapter
    # declares candles in ``rest_polled_channels`` (None: off; start-up backfill still runs)
    rest_min_interval_s: float = 0.25  # pause between two REST jobs of one venue
    ban_pause_s: float = 300.0  # no REST to a venue for this long after an HTTP 418 (IP ban)
    open_timeout_s: float = 10.0


@dataclass(slots=True)
class CollectorStats:
    """Counters of one collector run (read them while it runs, e.g. for a status page)."""

    frames: int = 0
    frames_journaled: int = 0
    batches: int = 0
    malformed: int = 0
    rejected: int = 0
    events_parsed: int = 0
    new_rows: WriteCounts = field(default_factory=WriteCounts)
    gaps_recorded: int = 0
    gaps_backfilled: int = 0
    backfill_rows: int = 0
    oi_polls: int = 0
    candle_polls: int = 0
    polled_candles: int = 0  # new closed candles stored by candle polling
    rest_errors: int = 0
    queue_full_waits: int = 0
    queue_full_seconds: float = 0.0
    queue_peak: int = 0

    def summary(self) -> str:
        return (
            f"{self.frames} frames, {self.new_rows.total} new rows "
            f"({self.new_rows.liquidations} liquidations), {self.malformed} malformed, "
            f"{self.gaps_recorded} gaps ({self.gaps_backfilled} back-filled), "
            f"{self.queue_full_waits} queue-full waits"
        )


@dataclass(frozen=True, slots=True)
class _Route:
    """Where a connection's frames go: its adapter and the (symbol, stream) pairs it carries."""

    venue_name: str  # registry name, for logs
    venue: str  # venue written on events and gaps
    adapter: VenueAdapter
    keys: tuple[tuple[str, str], ...]  # (symbol, stream)


@dataclass(slots=True)
class _Polled:
    """One (symbol, stream) the collector polls over REST instead of streaming it."""

    venue_name: str
    venue: str
    symbol: str
    stream: str
    next_open_ms: int | None = None  # open time of the first candle not stored yet
    last_ok_ms: int | None = None  # clock time of the last successful poll in this run
    failing: str | None = None  # why polling has failed since ``last_ok_ms`` (None: it has not)


@dataclass(slots=True)
class _Item:
    route: _Route
    conn_id: str
    seq: int
    received_ms: int
    frame: Frame


AdapterFactory = Callable[[CollectorSpec, Clock], VenueAdapter]


def _default_adapter(spec: CollectorSpec, clock: Clock) -> VenueAdapter:
    from liqscope.venues import registry

    overrides: dict[str, Any] = {}
    if spec.ws_url:
        overrides["ws_url"] = spec.ws_url
    if spec.rest_url:
        overrides["rest_url"] = spec.rest_url
    return registry.adapter(spec.venue, clock=clock, **overrides)


def _offers(client: RestClient, method: str) -> bool:
    """Whether the venue's REST client implements ``method`` (declared by overriding it)."""
    return getattr(type(client), method) is not getattr(RestClient, method)


def _stream_key(symbol: str, stream: str) -> str:
    return f"{symbol}:{stream}"


def last_message_times(store: Store, venue: str) -> dict[str, int]:
    """Last received time per ``symbol:stream`` key of ``venue`` from the store's stats table.

    The Store interface has no reader for it yet; use one when it appears, else read the table
    through a read-only connection of the same file.
    """
    reader = getattr(store, "last_messages", None)
    if callable(reader):
        return dict(reader(venue))
    try:
        conn = sqlite3.connect(f"{store.path.resolve().as_uri()}?mode=ro", uri=True)
    except sqlite3.Error:
        return {}
    try:
        rows = conn.execute(
            "SELECT stream, last_received_ms FROM messages_stats WHERE venue = ?", (venue,)
        ).fetchall()
    except sqlite3.Error:
        return {}
    finally:
        conn.close()
    return {str(s): int(t) for s, t in rows}


class _Listener:
    """Supervisor callbacks for one connection plan."""

    def __init__(self, collector: Collector, route: _Route) -> None:
        self.collector = collector
        self.route = route
        self.seqs: dict[str, itertools.count[int]] = {}
        self.first_up = True

    async def on_frame(self, conn_id: str, received_ms: int, frame: Frame) -> None:
        counter = self.seqs.get(conn_id)
        if counter is None:
            counter = self.seqs[conn_id] = itertools.count()
        await self.collector._enqueue(_Item(self.route, conn_id, next(counter), received_ms, frame))

    def on_up(self, plan: ConnectionPlan, conn_id: str, at_ms: int) -> None:
        log.info("%s: connected and subscribed (%s)", plan.name, conn_id)
        for old in list(self.seqs)[:-2]:  # keep the live connection and one overlapping
            del self.seqs[old]
        if self.first_up:
            self.first_up = False
            self.collector._on_first_up(self.route, at_ms)

    def on_gap(self, plan: ConnectionPlan, start_ms: int, end_ms: int, reason: str) -> None:
        for symbol, stream in self.route.keys:
            self.collector._record_gap(self.route, symbol, stream, start_ms, end_ms, reason)


class _RestWorker:
    """Runs one venue's REST jobs one at a time, paced."""

    def __init__(self, collector: Collector, route_venue: str, adapter: VenueAdapter) -> None:
        self.collector = collector
        self.venue_name = route_venue
        self.adapter = adapter
        self.jobs: asyncio.Queue[Callable[[RestClient], Awaitable[None]]] = asyncio.Queue()

    def submit(self, job: Callable[[RestClient], Awaitable[None]]) -> None:
        self.jobs.put_nowait(job)

    busy: bool = False
    paused_until: float = 0.0

    async def run(self) -> None:
        cfg = self.collector.config
        loop = asyncio.get_running_loop()
        last = -1e9
        async with self.adapter.rest() as client:
            self.client = client
            while True:
                job = await self.jobs.get()
                self.busy = True
                try:
                    wait = max(last + cfg.rest_min_interval_s, self.paused_until) - loop.time()
                    if wait > 0:
                        await asyncio.sleep(wait)
                    await job(client)
                except (VenueError, InputError) as exc:
                    self.collector.stats.rest_errors += 1
                    if _is_ban(exc):
                        self.paused_until = loop.time() + cfg.ban_pause_s
                        log.error(
                            "%s: REST banned by the venue (%s); pausing REST for %.0f s",
                            self.venue_name,
                            exc,
                            cfg.ban_pause_s,
                        )
                    else:
                        log.warning("%s: REST: %s", self.venue_name, exc)
                except Exception as exc:  # a bug in one job must not stop the worker
                    self.collector.stats.rest_errors += 1
                    log.exception("%s: REST job failed: %s", self.venue_name, exc)
                finally:
                    last = loop.time()
                    self.busy = False
                    self.jobs.task_done()

    def idle(self) -> bool:
        return not self.busy and self.jobs.empty()


def _is_ban(exc: BaseException) -> bool:
    """An IP ban (HTTP 418). The REST client reports it only as a VenueError message."""
    return "HTTP 418" in str(exc)


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
        self.config = config or CollectorConfig()
        self.stats = CollectorStats()
        self.run_id = f"{os.getpid():x}{time.time_ns() // 1_000_000 % 0xFFFFFF:06x}"
        self._queue: asyncio.Queue[_Item | None] | None = None
        self._rest: dict[str, _RestWorker] = {}
        self._polled_oi: dict[str, list[str]] = {}
        self._polled_candles: dict[str, list[_Polled]] = {}
        self._restart_from: dict[str, dict[str, int]] = {}
        self._rng = random.Random(self.config.seed)
        factory = adapter_factory or _default_adapter
        self._routes: list[tuple[_Route, ConnectionPlan]] = []
        for spec in self.specs:
            self._plan_spec(spec, factory(spec, clock))
        cfg = self.config
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
        symbols = tuple(dict.fromkeys(s.strip() for s in spec.symbols if s.strip()))
        if not symbols:
            raise InputError(f"{spec.venue}: no symbols given")
        wanted = tuple(spec.channels or DEFAULT_CHANNELS)
        ws_channels = [c for c in wanted if c in adapter.ws_channels]
        if Channel.OPEN_INTEREST in wanted and Channel.OPEN_INTEREST not in adapter.ws_channels:
            polled = self._polled_oi.setdefault(spec.venue, [])
            polled.extend(s for s in symbols if s not in polled)
        rest_polled = {
            c for c in wanted if c not in adapter.ws_channels and c in adapter.rest_polled_channels
        }
        if Channel.CANDLES in rest_polled:
            streams = self._polled_candles.setdefault(spec.venue, [])
            have = {p.symbol for p in streams}
            stream = STREAM_OF_CHANNEL[Channel.CANDLES]
            streams.extend(
                _Polled(spec.venue, adapter.venue, s, stream) for s in symbols if s not in have
            )
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
            self._rest[spec.venue] = _RestWorker(self, spec.venue, adapter)
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
            route = _Route(spec.venue, adapter.venue, adapter, keys)
            self._routes.append((route, plan))

    @property
    def plans(self) -> list[ConnectionPlan]:
        return [plan for _, plan in self._routes]

    # -- running -------------------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> CollectorStats:
        """Collect until ``stop`` is set; flush everything received, then return the stats."""
        cfg = self.config
        self._queue = asyncio.Queue(maxsize=cfg.queue_max_frames)
        venues = [r.venue for r, _ in self._routes]
        venues += [p.venue for streams in self._polled_candles.values() for p in streams]
        for venue in venues:
            if venue not in self._restart_from:
                self._restart_from[venue] = last_message_times(self.store, venue)
        await self._prepare_adapters()
        halt = asyncio.Event()  # set by the caller's stop or by a writer failure
        writer = asyncio.create_task(self._writer(), name="collector-writer")
        writer.add_done_callback(lambda _: halt.set())
        helpers = [asyncio.create_task(_relay(stop, halt))]
        helpers += [
            asyncio.create_task(w.run(), name=f"rest-{name}") for name, w in self._rest.items()
        ]
        if cfg.backfill:
            self._submit_startup_backfill()
        if cfg.oi_poll_s:
            helpers += [
                asyncio.create_task(self._poll_oi(venue, symbols, cfg.oi_poll_s))
                for venue, symbols in self._polled_oi.items()
            ]
        if cfg.candle_poll_s:
            helpers += [
                asyncio.create_task(self._poll_candles(venue, streams, cfg.candle_poll_s))
                for venue, streams in self._polled_candles.items()
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
            if not writer.done():
                await self._queue.put(None)
            await writer  # re-raises a store failure
        log.info("collector stopped: %s", self.stats.summary())
        return self.stats

    async def _prepare_adapters(self) -> None:
        """Let adapters that need venue facts before parsing (OKX contract values) load them."""
        for name, worker in self._rest.items():
            load = getattr(worker.adapter, "load_instruments", None)
            if not callable(load):
                continue
            try:
                async with asyncio.timeout(self.config.open_timeout_s):
                    count = await load()
                log.info("%s: loaded %s instruments", name, count)
            except (VenueError, InputError, TimeoutError) as exc:
                log.warning("%s: cannot load instruments (%s); using built-in sizes", name, exc)

    async def _enqueue(self, item: _Item) -> None:
        queue = self._queue
        assert queue is not None
        try:
            queue.put_nowait(item)
        except asyncio.QueueFull:
            self.stats.queue_full_waits += 1
            t0 = time.monotonic()
            if self.stats.queue_full_waits == 1 or self.stats.queue_full_waits % 100 == 0:
                log.warning(
                    "queue full (%d frames): reading paused until the store catches up "
                    "(%d waits so far)",
                    queue.maxsize,
                    self.stats.queue_full_waits,
                )
            await queue.put(item)
            self.stats.queue_full_seconds += time.monotonic() - t0
        size = queue.qsize()
        if size > self.stats.queue_peak:
            self.stats.queue_peak = size

    async def _writer(self) -> None:
        queue = self._queue
        assert queue is not None
        cfg = self.config
        loop = asyncio.get_running_loop()
        max_wait = cfg.batch_max_ms / 1000
        done = False
        while not done:
            first = await queue.get()
            if first is None:  # the stop sentinel
                break
            batch: list[_Item] = [first]
            deadline = loop.time() + max_wait
            while len(batch) < cfg.batch_max_frames:
                try:
                    item = queue.get_nowait()
                except asyncio.QueueEmpty:
                    remaining = deadline - loop.time()
                    if remaining <= 0:
                        break
                    try:
                        async with asyncio.timeout(remaining):
                            item = await queue.get()
                    except TimeoutError:
                        break
                if item is None:
                    done = True
                    break
                batch.append(item)
            try:
                self._flush(batch)
            except Exception:
                # The store refused the batch (disk full, locked too long): say so loudly and
                # stop; the span becomes a gap on the next start.
                log.exception("store write failed; %d frames not stored", len(batch))
                raise

    def _flush(self, batch: list[_Item]) -> None:
        """Journal, parse and store one batch in one transaction."""
        store = self.store
        stats = self.stats
        frames: list[RawFrame] = []
        events: list[Event] = []
        per_route: dict[_Route, tuple[int, int]] = {}
        for it in batch:
            raw = it.frame.encode() if isinstance(it.frame, str) else bytes(it.frame)
            frames.append(RawFrame(it.route.venue, it.received_ms, it.conn_id, it.seq, raw))
            last, n = per_route.get(it.route, (0, 0))
            per_route[it.route] = (max(last, it.received_ms), n + 1)
        with store.transaction():
            if self.config.journal:
                stats.frames_journaled += store.append_frames(frames)
            for it in batch:
                try:
                    events.extend(it.route.adapter.parse(it.frame))
                except SubscriptionRejected as exc:
                    stats.rejected += 1
                    log.error("%s: subscription rejected: %s", it.conn_id, exc)
                except MalformedFrame as exc:
                    self._malformed(it, str(exc))
                except Exception as exc:  # a parser bug: keep the frame, skip it, say so
                    self._malformed(it, f"{type(exc).__name__}: {exc}")
            counts = store.write_events(events)
            for route, (last, n) in per_route.items():
                for symbol, stream in route.keys:
                    store.touch_stream(route.venue, _stream_key(symbol, stream), last, n)
        stats.frames += len(batch)
        stats.batches += 1
        stats.events_parsed += len(events)
        stats.new_rows.add(counts)

    def _malformed(self, item: _Item, reason: str) -> None:
        self.stats.malformed += 1
        n = self.stats.malformed
        if n <= 100 or n % 1000 == 0:
            raw = item.frame if isinstance(item.frame, str) else repr(item.frame)
            log.warning(
                "%s: malformed frame skipped (%s) [%d so far]: %.80s",
                item.conn_id,
                reason,
                n,
                raw.replace("\n", " "),
            )

    # -- gaps and backfill ---------------------------------------------------------------

    def _record_gap(
        self, route: _Route, symbol: str, stream: str, start_ms: int, end_ms: int, reason: str
    ) -> None:
        self._record_venue_gap(
            route.venue_name, route.venue, symbol, stream, start_ms, end_ms, reason
        )

    def _record_venue_gap(
        self,
        venue_name: str,
        venue: str,
        symbol: str,
        stream: str,
        start_ms: int,
        end_ms: int,
        reason: str,
    ) -> None:
        if end_ms <= start_ms:
            return
        self.store.record_gap(Gap(venue, symbol, stream, start_ms, end_ms, reason))
        self.stats.gaps_recorded += 1
        if self.config.backfill and stream in BACKFILLABLE_STREAMS:
            self._submit_gap_backfill(venue_name, venue, symbol, stream, start_ms, end_ms)

    def _on_first_up(self, route: _Route, at_ms: int) -> None:
        """First connection of this run: the time since the last stored message is a gap."""
        last = self._restart_from.get(route.venue, {})
        for symbol, stream in route.keys:
            since = last.get(_stream_key(symbol, stream))
            if since is not None:
                self._record_gap(route, symbol, stream, since, at_ms, REASON_DOWN)

    def _submit_gap_backfill(
        self, venue_name: str, venue: str, symbol: str, stream: str, start_ms: int, end_ms: int
    ) -> None:
        worker = self._rest.get(venue_name)
        if worker is None:
            return
        cfg = self.config

        async def job(client: RestClient) -> None:
            floor = self.clock.now_ms() - int(cfg.gap_backfill_max_days * DAY_MS)
            complete = start_ms >= floor
            rows = await self._fetch(
                client, venue_name, symbol, stream, max(start_ms, floor), end_ms
            )
            if rows is None:
                return
            if complete:
                self.store.mark_gap_backfilled(venue, symbol, stream, start_ms)
                self.stats.gaps_backfilled += 1
            log.info(
                "%s %s %s: gap back-filled (%d rows)%s",
                venue_name,
                symbol,
                stream,
                rows,
                "" if complete else " partly: older than the backfill limit",
            )

        worker.submit(job)

    def _submit_startup_backfill(self) -> None:
        cfg = self.config
        seen: set[tuple[str, str, str]] = set()
        todo: list[tuple[str, str, str, str]] = []  # (venue_name, venue, symbol, stream)
        for route, _ in self._routes:
            streams = {st for _, st in route.keys} & BACKFILLABLE_STREAMS
            symbols = dict.fromkeys(s for s, _ in route.keys)
            if route.venue_name in self._polled_oi:
                streams.add("open_interest")
            for symbol in symbols:
                todo += [(route.venue_name, route.venue, symbol, st) for st in sorted(streams)]
        for streams_ in self._polled_candles.values():
            todo += [(p.venue_name, p.venue, p.symbol, p.stream) for p in streams_]
        for venue_name, venue, symbol, stream in todo:
            key = (venue_name, symbol, stream)
            if key in seen:
                continue
            seen.add(key)
            self._submit_since_last(venue_name, venue, symbol, stream, cfg.backfill_days)
        # gaps left from earlier runs that were never back-filled
        for venue_name, worker in self._rest.items():
            venue = worker.adapter.venue
            wanted = {k for r, _ in self._routes if r.venue_name == venue_name for k in r.keys}
            wanted |= {(p.symbol, p.stream) for p in self._polled_candles.get(venue_name, ())}
            for gap in self.store.gaps(venue):
                if (
                    not gap.backfilled
                    and (gap.symbol, gap.stream) in wanted
                    and (gap.stream in BACKFILLABLE_STREAMS)
                ):
                    self._submit_gap_backfill(
                        venue_name, venue, gap.symbol, gap.stream, gap.start_ms, gap.end_ms
                    )

    def _submit_since_last(
        self, venue_name: str, venue: str, symbol: str, stream: str, days: float
    ) -> None:
        worker = self._rest[venue_name]

        async def job(client: RestClient) -> None:
            now = self.clock.now_ms()
            start = now - int(days * DAY_MS)
            last = self._last_stored(venue, symbol, stream, start, now)
            if last is not None:
                start = max(start, last)
            rows = await self._fetch(client, venue_name, symbol, stream, start, now)
            if rows:
                log.info("%s %s %s: back-filled %d rows", venue_name, symbol, stream, rows)

        worker.submit(job)

    def _last_stored(self, venue: str, symbol: str, stream: str, t0: int, t1: int) -> int | None:
        if stream == "open_interest":
            oi = self.store.open_interest(venue, symbol, t0, t1 + 1)
            return max((r.ts for r in oi), default=None)
        candles = self.store.candles(venue, symbol, MINUTE_MS, t0, t1 + 1)
        return max((c.ts for c in candles), default=None)

    async def _fetch(
        self, client: RestClient, venue_name: str, symbol: str, stream: str, start: int, end: int
    ) -> int | None:
        """Fetch and store one backfillable stream over [start, end); rows new, None if not
        offered by the venue."""
        if end <= start:
            return 0
        if stream == "candles:1m":
            if not _offers(client, "klines"):
                return None
            start -= start % MINUTE_MS
            candles = await client.klines(symbol, "1m", start, end)
            if self._candles_polled(venue_name, symbol):
                # nothing streams the open candle's updates: keep only finished ones
                candles = [c for c in candles if c.closed]
            new = self.store.write_candles(candles)
        elif stream == "open_interest":
            if not _offers(client, "open_interest_history"):
                return None
            step = interval_ms(self.config.oi_period)
            start -= start % step
            oi = await client.open_interest_history(symbol, self.config.oi_period, start, end)
            new = self.store.write_open_interest(oi)
        else:
            return None
        self.stats.backfill_rows += new
        return new

    async def _poll_oi(self, venue_name: str, symbols: Sequence[str], every_s: float) -> None:
        """Poll current open interest of ``symbols`` through the venue's REST worker."""
        worker = self._rest[venue_name]
        while True:
            done = asyncio.Event()

            async def job(client: RestClient, done: asyncio.Event = done) -> None:
                try:
                    if not _offers(client, "open_interest_now"):
                        return
                    rows = []
                    for symbol in symbols:
                        try:
                            rows.append(await client.open_interest_now(symbol))
                        except (VenueError, InputError) as exc:
                            self.stats.rest_errors += 1
                            log.warning("%s %s: open interest poll: %s", venue_name, symbol, exc)
                    self.stats.oi_polls += 1
                    self.store.write_open_interest(rows)
                finally:
                    done.set()

            worker.submit(job)
            await done.wait()
            await asyncio.sleep(every_s)

    def _candles_polled(self, venue_name: str, symbol: str) -> bool:
        return any(p.symbol == symbol for p in self._polled_candles.get(venue_name, ()))

    async def _poll_candles(
        self, venue_name: str, streams: Sequence[_Polled], every_s: float
    ) -> None:
        """Poll closed 1-minute candles of ``streams`` through the venue's REST worker."""
        worker = self._rest[venue_name]
        while True:
            done = asyncio.Event()

            async def job(client: RestClient, done: asyncio.Event = done) -> None:
                try:
                    await self._poll_candles_once(client, streams)
                finally:
                    done.set()

            worker.submit(job)
            await done.wait()
            await asyncio.sleep(every_s)

    async def _poll_candles_once(self, client: RestClient, streams: Sequence[_Polled]) -> None:
        """One poll: every candle closed since the last one stored, for each stream.

        A failed poll leaves the cursor where it was, so the next successful one catches up;
        the span it could not see is then recorded as a gap (and back-filled, marked so).
        """
        if not _offers(client, "klines"):
            return
        cfg = self.config
        ban: BaseException | None = None
        for p in streams:
            now = self.clock.now_ms()
            floor = now - int(cfg.gap_backfill_max_days * DAY_MS)
            if p.next_open_ms is None:
                lookback = now - int(max(cfg.backfill_days, 1 / 24) * DAY_MS)
                last = self._last_closed_candle(p.venue, p.symbol, max(lookback, floor), now)
                p.next_open_ms = (
                    last + MINUTE_MS if last is not None else now - now % MINUTE_MS - MINUTE_MS
                )
            start = max(p.next_open_ms, floor)
            try:
                candles = await client.klines(p.symbol, "1m", start, now)
            except (VenueError, InputError) as exc:
                self.stats.rest_errors += 1
                if p.failing is None:
                    log.warning("%s %s: candle poll failed: %s", p.venue_name, p.symbol, exc)
                p.failing = p.failing or str(exc)
                if _is_ban(exc):
                    ban = exc
                    break
                continue
            closed = [c for c in candles if c.closed]
            new = self.store.write_candles(closed)
            self.stats.candle_polls += 1
            self.stats.polled_candles += new
            if closed:
                p.next_open_ms = max(p.next_open_ms, max(c.ts for c in closed) + MINUTE_MS)
            self._polled_ok(p, now)
        if ban is not None:
            raise ban  # the worker pauses the venue's REST

    def _polled_ok(self, p: _Polled, now: int) -> None:
        """A successful poll: record the span polling missed as a gap, note the time."""
        key = _stream_key(p.symbol, p.stream)
        if p.last_ok_ms is None:  # first success of this run: the collector was down before
            since = self._restart_from.get(p.venue, {}).get(key)
            if since is not None:
                self._record_venue_gap(
                    p.venue_name, p.venue, p.symbol, p.stream, since, now, REASON_DOWN
                )
        elif p.failing is not None:
            self._record_venue_gap(
                p.venue_name,
                p.venue,
                p.symbol,
                p.stream,
                p.last_ok_ms,
                now,
                f"REST polling failed: {p.failing}",
            )
        p.failing = None
        p.last_ok_ms = now
        self.store.touch_stream(p.venue, key, now, 1)

    def _last_closed_candle(self, venue: str, symbol: str, t0: int, t1: int) -> int | None:
        candles = self.store.candles(venue, symbol, MINUTE_MS, t0, t1 + 1)
        return max((c.ts for c in candles if c.closed), default=None)


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


def parse_channels(text: str | Iterable[str]) -> tuple[Channel, ...]:
    """``"liquidations,mark_price"`` -> channels; :class:`InputError` on an unknown name."""
    names = text.split(",") if isinstance(text, str) else list(text)
    out: list[Channel] = []
    for name in (n.strip().lower() for n in names):
        if not name:
            continue
        try:
            out.append(Channel(name))
        except ValueError:
            known = ", ".join(c.value for c in Channel)
            raise InputError(f"unknown channel {name!r} (expected some of {known})") from None
    if not out:
        raise InputError("no channels given")
    return tuple(dict.fromkeys(out))
