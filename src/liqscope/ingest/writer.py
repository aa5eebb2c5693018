"""The collector's single writer: bounded queue -> batches -> journal + events in the store.

- Readers put frames on one **bounded** queue; when it is full they wait (the socket stops
  being read, TCP pushes back on the venue). Every wait is counted and logged.
- The writer takes frames in batches (``batch_max_frames`` or ``batch_max_ms``, whichever
  first), parses each with its venue adapter (a malformed frame or one with absurd values is
  counted, logged as one line and skipped; its raw bytes stay in the journal) and stores the
  batch in **one transaction**: raw frames, events (idempotent), per-stream message times.
- A batch the store refuses is stored again frame by frame, so one bad frame never costs the
  good ones: a frame whose events are refused while the frame alone can still be journaled
  is kept without its events and counted as a bad value.
- When even a bare frame cannot be written the *store is failing* (disk full, locked, gone):
  the batch is retried with capped backoff while frames wait in the queue, and
  ``stats.store_failing`` says so. If it has not recovered after ``store_timeout_s`` (or the
  collector is stopping) the writer raises :class:`StoreError` and the collector stops (the
  CLI exits non-zero).
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass

from liqscope.domain.errors import StoreError
from liqscope.domain.events import Event
from liqscope.store.base import RawFrame, WriteCounts
from liqscope.venues.base import BadValue, MalformedFrame, SubscriptionRejected, VenueAdapter

from .backoff import Backoff
from .config import stream_key
from .history import History
from .supervisor import Frame

__all__ = ["Item", "Route", "Writer"]

log = logging.getLogger("liqscope.collect")


@dataclass(frozen=True, slots=True)
class Route:
    """Where a connection's frames go: its adapter and the (symbol, stream) pairs it carries."""

    venue_name: str  # registry name, for logs
    venue: str  # venue written on events and gaps
    adapter: VenueAdapter
    keys: tuple[tuple[str, str], ...]  # (symbol, stream)


@dataclass(slots=True)
class Item:
    route: Route
    conn_id: str
    seq: int
    received_ms: int
    frame: Frame


class Writer:
    """Owns the queue and the only code path that writes live frames to the store."""

    def __init__(self, history: History) -> None:
        """The writer of ``history``'s collector run: its store, clock, config and counters."""
        self.history = history
        self.store, self.clock = history.store, history.clock
        self.config = cfg = history.config
        self.stats = history.stats
        self.queue: asyncio.Queue[Item | None] = asyncio.Queue(maxsize=cfg.queue_max_frames)
        self._backoff = Backoff(base_s=cfg.store_retry_base_s, cap_s=cfg.store_retry_cap_s)
        self.stopping = False  # set by the collector: a failing store then fails at once

    # -- queue ---------------------------------------------------------------------------

    async def enqueue(self, item: Item) -> None:
        queue = self.queue
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

    async def _next_batch(self) -> tuple[list[Item], bool]:
        """Up to ``batch_max_frames`` items within ``batch_max_ms``; True when stopping."""
        queue = self.queue
        cfg = self.config
        loop = asyncio.get_running_loop()
        first = await queue.get()
        if first is None:  # the stop sentinel
            return [], True
        batch = [first]
        deadline = loop.time() + cfg.batch_max_ms / 1000
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
                return batch, True
            batch.append(item)
        return batch, False

    # -- writing -------------------------------------------------------------------------

    async def run(self) -> None:
        """Write batches until the stop sentinel; raise :class:`StoreError` on a dead store."""
        done = False
        while not done:
            batch, done = await self._next_batch()
            if batch:
                await self._store_with_retry(batch)

    async def _store_with_retry(self, batch: list[Item]) -> None:
        stats = self.stats
        parsed = [(it, self._parse(it)) for it in batch]
        loop = asyncio.get_running_loop()
        since: float | None = None
        self._backoff.reset()
        while True:
            try:
                self._flush(parsed)
            except Exception as exc:  # even a bare frame cannot be written: the store fails
                stats.store_errors += 1
                now = loop.time()
                if since is None:
                    since = now
                    stats.store_failing_since_ms = self.clock.now_ms()
                    log.error("store failing (%s); %d frames wait, retrying", exc, len(batch))
                stats.store_failing = str(exc).splitlines()[0] if str(exc) else repr(exc)
                limit = self.config.store_timeout_s
                if self.stopping:
                    raise StoreError(
                        f"stopping with the store failing; {len(batch)} frames not stored: "
                        f"{stats.store_failing}"
                    ) from None
                if limit is not None and now - since >= limit:
                    raise StoreError(
                        f"the store has been failing for {now - since:.0f} s "
                        f"(--store-timeout {limit:g}): {stats.store_failing}"
                    ) from None
                delay = self._backoff.next_delay()
                if limit is not None:
                    delay = min(delay, max(0.0, since + limit - now))
                await asyncio.sleep(delay)
                continue
            if since is not None:
                log.warning("store recovered after %.1f s", loop.time() - since)
                stats.store_failing = None
                stats.store_failing_since_ms = None
            break
        self.history.flush_pending()
        for it, events in parsed:
            if events:
                self.history.note_live(it.route.venue_name, events, it.received_ms)

    def _parse(self, it: Item) -> list[Event]:
        try:
            return it.route.adapter.parse(it.frame)
        except SubscriptionRejected as exc:
            self.stats.rejected += 1
            log.error("%s: subscription rejected: %s", it.conn_id, exc)
        except BadValue as exc:
            self._bad_value(it, str(exc))
        except MalformedFrame as exc:
            self._malformed(it, str(exc))
        except Exception as exc:  # a parser bug: keep the frame, skip it, say so
            self._malformed(it, f"{type(exc).__name__}: {exc}")
        return []

    def _flush(self, parsed: list[tuple[Item, list[Event]]]) -> None:
        """Store the batch in one transaction; if its content is refused, frame by frame
        (a refused frame is journaled without its events, which leave ``parsed``)."""
        try:
            counts = self._write(parsed)
        except Exception:
            counts = WriteCounts()
            for i, (it, events) in enumerate(parsed):
                try:
                    counts.add(self._write([(it, events)]))
                except Exception as refused:
                    if not events:
                        raise  # a bare frame failed: the store itself is failing
                    counts.add(self._write([(it, [])]))  # raises too if the store fails
                    self._bad_value(it, f"refused by the store: {refused}")
                    parsed[i] = (it, [])
        stats = self.stats
        stats.frames += len(parsed)
        stats.batches += 1
        stats.events_parsed += sum(len(e) for _, e in parsed)
        stats.new_rows.add(counts)

    def _write(self, parsed: Sequence[tuple[Item, list[Event]]]) -> WriteCounts:
        store = self.store
        frames: list[RawFrame] = []
        per_route: dict[Route, tuple[int, int]] = {}
        for it, _ in parsed:
            raw = it.frame.encode() if isinstance(it.frame, str) else bytes(it.frame)
            frames.append(RawFrame(it.route.venue, it.received_ms, it.conn_id, it.seq, raw))
            last, n = per_route.get(it.route, (0, 0))
            per_route[it.route] = (max(last, it.received_ms), n + 1)
        with store.transaction():
            journaled = store.append_frames(frames) if self.config.journal else 0
            counts = store.write_events(list(itertools.chain.from_iterable(e for _, e in parsed)))
            for route, (last, n) in per_route.items():
                for symbol, stream in route.keys:
                    store.touch_stream(route.venue, stream_key(symbol, stream), last, n)
        self.stats.frames_journaled += journaled
        return counts

    def _bad_value(self, item: Item, reason: str) -> None:
        self.stats.bad_values += 1
        self._log_skipped(item, "frame with bad values refused", reason, self.stats.bad_values)

    def _malformed(self, item: Item, reason: str) -> None:
        self.stats.malformed += 1
        self._log_skipped(item, "malformed frame skipped", reason, self.stats.malformed)

    @staticmethod
    def _log_skipped(item: Item, what: str, reason: str, n: int) -> None:
        if n <= 100 or n % 1000 == 0:
            raw = item.frame if isinstance(item.frame, str) else repr(item.frame)
            log.warning(
                "%s: %s (%s) [%d so far]: %.80s",
                item.conn_id,
                what,
                reason,
                n,
                raw.replace("\n", " "),
            )
