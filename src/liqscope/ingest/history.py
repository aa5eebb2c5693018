"""Gaps, backfill and REST polling of one collector run.

- **Gaps.** A connection loss or stall (reported by the supervisor), a collector that was down
  (the span since the last stored message), a failed or paused REST poll, and a streamed
  (venue, symbol, stream) that misses its expected cadence (:data:`DEFAULT_CADENCE_GAP_S`)
  each become a gap. Candle and open-interest gaps are back-filled over REST and marked
  ``backfilled`` only when the venue returned rows for them.
- **Start-up backfill.** The last stored row of each backfillable stream is read *before*
  anything live is written, and history is fetched from there (at most ``backfill_days``
  back) up to the **first live row** of the stream in this run (or now when none came yet),
  so a live tick written first cannot make the backfill see "up to date". A venue that
  offers no open-interest history gets a gap over the window it cannot fill, listed in
  ``stats.oi_history_missing`` and shown by ``liqscope status``.
- **Polling.** Current open interest where the venue streams none, closed 1-minute candles
  where the adapter declares candles in ``rest_polled_channels``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Iterable, Sequence
from dataclasses import dataclass
from typing import TypeVar

from liqscope.domain.clock import Clock
from liqscope.domain.errors import InputError, VenueError
from liqscope.domain.events import Candle, Event, OpenInterest
from liqscope.domain.intervals import DAY_MS, MINUTE_MS, interval_ms
from liqscope.store.base import Gap, Store
from liqscope.venues.base import BadValue, RestClient, VenueBanned, checked

from .config import (
    BACKFILLABLE_STREAMS,
    REASON_DOWN,
    CollectorConfig,
    CollectorStats,
    stream_key,
    stream_of,
)
from .rest_worker import RestWorker, offers

__all__ = ["REASON_NO_OI_HISTORY", "History", "Polled"]

log = logging.getLogger("liqscope.collect")

REASON_NO_OI_HISTORY = "open-interest history not offered by the venue"
REASON_HISTORY_FAILED = "start-up backfill failed"  # + ": <the venue's error>"

StreamId = tuple[str, str, str]  # (venue, symbol, stream)
_Row = TypeVar("_Row", Candle, OpenInterest)
_T = TypeVar("_T")


@dataclass(slots=True)
class Polled:
    """One (symbol, stream) the collector polls over REST instead of streaming it."""

    venue_name: str
    venue: str
    symbol: str
    stream: str
    every_s: float = 60.0
    next_open_ms: int | None = None  # candles: open time of the first one not stored yet
    last_ok_ms: int | None = None  # clock time of the last successful poll in this run
    failing: str | None = None  # why polling has failed since ``last_ok_ms`` (None: it has not)


class History:
    """Gap bookkeeping, backfill jobs and polling loops; REST goes through the workers."""

    def __init__(
        self,
        store: Store,
        clock: Clock,
        config: CollectorConfig,
        stats: CollectorStats,
        workers: dict[str, RestWorker],
    ) -> None:
        self.store = store
        self.clock = clock
        self.config = config
        self.stats = stats
        self.workers = workers
        self.restart_from: dict[str, dict[str, int]] = {}  # venue -> stream key -> last msg
        self.polled_oi: dict[str, list[Polled]] = {}
        self.polled_candles: dict[str, list[Polled]] = {}
        self.first_live: dict[StreamId, int] = {}  # event time of the first live row
        self._last_seen: dict[StreamId, int] = {}  # receive time of the latest live row
        self._covered_until: dict[StreamId, int] = {}  # end of the latest gap recorded
        self._pending: list[Gap] = []  # gaps the store could not take yet (it was failing)

    # -- gaps ----------------------------------------------------------------------------

    def record_gap(
        self,
        venue_name: str,
        venue: str,
        symbol: str,
        stream: str,
        start_ms: int,
        end_ms: int,
        reason: str,
        *,
        backfill: bool = True,
    ) -> None:
        if end_ms <= start_ms:
            return
        gap = Gap(venue, symbol, stream, start_ms, end_ms, reason)
        try:
            self.store.record_gap(gap)
        except Exception as exc:  # a failing store must not kill a connection: keep it
            self._pending.append(gap)
            log.error("gap %s %s %s not stored yet (%s)", venue, symbol, stream, exc)
        self.stats.gaps_recorded += 1
        sid = (venue, symbol, stream)
        self._covered_until[sid] = max(self._covered_until.get(sid, 0), end_ms)
        if backfill and self.config.backfill and stream in BACKFILLABLE_STREAMS:
            self.submit_gap_backfill(venue_name, venue, symbol, stream, start_ms, end_ms)

    def flush_pending(self) -> None:
        """Store the gaps kept while the store was failing (called after a good write)."""
        while self._pending:
            try:
                self.store.record_gap(self._pending[0])
            except Exception as exc:  # still failing: keep them for the next good write
                log.error("%d gaps not stored yet (%s)", len(self._pending), exc)
                return
            self._pending.pop(0)

    def on_first_up(
        self, venue_name: str, venue: str, keys: Iterable[tuple[str, str]], at_ms: int
    ) -> None:
        """First connection of this run: the time since the last stored message is a gap."""
        last = self.restart_from.get(venue, {})
        for symbol, stream in keys:
            since = last.get(stream_key(symbol, stream))
            if since is not None:
                self.record_gap(venue_name, venue, symbol, stream, since, at_ms, REASON_DOWN)

    def note_live(self, venue_name: str, events: Sequence[Event], received_ms: int) -> None:
        """Live rows of one frame: remember each stream's first row, find missed cadences."""
        cadence = self.config.cadence_gap_s
        for e in events:
            stream = stream_of(e)
            if stream is None:
                continue
            sid = (e.venue, e.symbol, stream)
            if stream in BACKFILLABLE_STREAMS and sid not in self.first_live:
                self.first_live[sid] = e.ts
            limit_s = cadence.get(stream)
            prev = self._last_seen.get(sid)
            self._last_seen[sid] = received_ms
            if limit_s is None or prev is None:
                continue
            silent_from = max(prev, self._covered_until.get(sid, 0))
            if received_ms - silent_from > limit_s * 1000:
                self.record_gap(
                    venue_name,
                    e.venue,
                    e.symbol,
                    stream,
                    silent_from,
                    received_ms,
                    f"no {stream} for {(received_ms - silent_from) / 1000:.0f} s "
                    f"(expected within {limit_s:g} s)",
                )

    # -- backfill ------------------------------------------------------------------------

    def submit_gap_backfill(
        self, venue_name: str, venue: str, symbol: str, stream: str, start_ms: int, end_ms: int
    ) -> None:
        worker = self.workers.get(venue_name)
        if worker is None:
            return
        cfg = self.config

        async def job(client: RestClient) -> None:
            floor = self.clock.now_ms() - int(cfg.gap_backfill_max_days * DAY_MS)
            complete = start_ms >= floor
            rows = await self.fetch(client, venue, symbol, stream, max(start_ms, floor), end_ms)
            if rows is None:
                return
            if not rows:
                log.warning(
                    "%s %s %s: the venue returned nothing for the gap from %d; it stays open",
                    venue_name,
                    symbol,
                    stream,
                    start_ms,
                )
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

    def submit_startup(self, todo: Iterable[tuple[str, str, str, str]]) -> None:
        """Back-fill each ``(venue_name, venue, symbol, stream)`` since its last stored row.

        Call before anything live is written: the last stored row is read here, now."""
        days = self.config.backfill_days
        for venue_name, venue, symbol, stream in dict.fromkeys(todo):
            now = self.clock.now_ms()
            window = now - int(days * DAY_MS)
            last = self._last_stored(venue, symbol, stream, window, now)
            self._submit_since(venue_name, venue, symbol, stream, max(window, last or window))

    def submit_open_gaps(self, venue_name: str, wanted: set[tuple[str, str]]) -> None:
        """Back-fill gaps left from earlier runs that were never back-filled."""
        venue = self.workers[venue_name].adapter.venue
        for gap in self.store.gaps(venue):
            if (
                not gap.backfilled
                and (gap.symbol, gap.stream) in wanted
                and gap.stream in BACKFILLABLE_STREAMS
                and gap.reason != REASON_NO_OI_HISTORY  # asking again changes nothing
            ):
                self.submit_gap_backfill(
                    venue_name, venue, gap.symbol, gap.stream, gap.start_ms, gap.end_ms
                )

    def _submit_since(
        self, venue_name: str, venue: str, symbol: str, stream: str, start: int
    ) -> None:
        async def job(client: RestClient) -> None:
            end = self.first_live.get((venue, symbol, stream)) or self.clock.now_ms()
            try:
                rows = await self.fetch(client, venue, symbol, stream, start, end)
            except (VenueError, InputError) as exc:
                # the history stays missing: a gap (retried at the next start), labelled
                self._history_missing(venue, symbol, stream)
                reason = f"{REASON_HISTORY_FAILED}: {exc}"
                self.record_gap(
                    venue_name, venue, symbol, stream, start, end, reason, backfill=False
                )
                raise
            within_s = self.config.cadence_gap_s.get(stream, 0.0)  # no gap within the cadence
            if rows is None and stream == "open_interest" and end - start > within_s * 1000:
                self._history_missing(venue, symbol, stream)
                log.warning("%s %s %s: %s", venue_name, symbol, stream, REASON_NO_OI_HISTORY)
                self.record_gap(
                    venue_name,
                    venue,
                    symbol,
                    stream,
                    start,
                    end,
                    REASON_NO_OI_HISTORY,
                    backfill=False,
                )
            elif rows:
                log.info("%s %s %s: back-filled %d rows", venue_name, symbol, stream, rows)

        self.workers[venue_name].submit(job)

    def _history_missing(self, venue: str, symbol: str, stream: str) -> None:
        if stream == "open_interest":
            self.stats.oi_history_missing.append(f"{venue} {symbol}")

    def _last_stored(self, venue: str, symbol: str, stream: str, t0: int, t1: int) -> int | None:
        if stream == "open_interest":
            oi = self.store.open_interest(venue, symbol, t0, t1 + 1)
            return max((r.ts for r in oi), default=None)
        candles = self.store.candles(venue, symbol, MINUTE_MS, t0, t1 + 1)
        return max((c.ts for c in candles), default=None)

    async def fetch(
        self, client: RestClient, venue: str, symbol: str, stream: str, start: int, end: int
    ) -> int | None:
        """Fetch and store one backfillable stream over [start, end).

        Returns how many rows the venue sent (None: the venue offers no such history)."""
        if end <= start:
            return 0
        if stream == "candles:1m":
            if not offers(client, "klines"):
                return None
            start -= start % MINUTE_MS
            candles = self._valid(await client.klines(symbol, "1m", start, end))
            sent = len(candles)
            if self.candles_polled(venue, symbol):
                # nothing streams the open candle's updates: keep only finished ones
                candles = [c for c in candles if c.closed]
            new = self.store.write_candles(candles)
        elif stream == "open_interest":
            if not offers(client, "open_interest_history"):
                return None
            step = interval_ms(self.config.oi_period)
            start -= start % step
            oi = await client.open_interest_history(symbol, self.config.oi_period, start, end)
            valid = self._valid(oi)
            sent = len(valid)
            new = self.store.write_open_interest(valid)
        else:
            return None
        self.stats.backfill_rows += new
        return sent

    def _valid(self, rows: list[_Row]) -> list[_Row]:
        """REST rows without the absurd ones (counted in ``stats.bad_values``, logged)."""
        out: list[_Row] = []
        for r in rows:
            try:
                checked([r])
            except BadValue as exc:
                self.stats.bad_values += 1
                log.warning("%s %s: REST row refused: %s", r.venue, r.symbol, exc)
                continue
            out.append(r)
        return out

    # -- polling -------------------------------------------------------------------------

    def candles_polled(self, venue: str, symbol: str) -> bool:
        return any(
            p.venue == venue and p.symbol == symbol
            for streams in self.polled_candles.values()
            for p in streams
        )

    async def poll_forever(self, venue_name: str, streams: Sequence[Polled]) -> None:
        """Poll ``streams`` (all OI or all candles) through the venue's REST worker."""
        worker = self.workers[venue_name]
        every = min(p.every_s for p in streams)
        once = self._poll_candles_once if streams[0].stream == "candles:1m" else self._poll_oi_once
        while True:
            done = asyncio.Event()

            async def job(client: RestClient, done: asyncio.Event = done) -> None:
                try:
                    await once(client, streams)
                finally:
                    done.set()

            worker.submit(job)
            await done.wait()
            await asyncio.sleep(every)

    async def _poll_oi_once(self, client: RestClient, streams: Sequence[Polled]) -> None:
        if not offers(client, "open_interest_now"):
            return
        for p in streams:
            now = self.clock.now_ms()
            row = await self._ask(p, streams, client.open_interest_now(p.symbol))
            if row is None:
                continue
            rows = self._valid([row])
            self.stats.oi_polls += 1
            self.store.write_open_interest(rows)
            for r in rows:
                self.first_live.setdefault((p.venue, p.symbol, p.stream), r.ts)
            self._polled_ok(p, now)

    async def _poll_candles_once(self, client: RestClient, streams: Sequence[Polled]) -> None:
        """One poll: every candle closed since the last one stored, for each stream.

        A failed poll leaves the cursor where it was, so the next successful one catches up;
        the span it could not see is then recorded as a gap (and back-filled, marked so).
        """
        if not offers(client, "klines"):
            return
        cfg = self.config
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
            got = await self._ask(p, streams, client.klines(p.symbol, "1m", start, now))
            if got is None:
                continue
            closed = [c for c in self._valid(got) if c.closed]
            new = self.store.write_candles(closed)
            self.stats.candle_polls += 1
            self.stats.polled_candles += new
            if closed:
                p.next_open_ms = max(p.next_open_ms, max(c.ts for c in closed) + MINUTE_MS)
            self._polled_ok(p, now)

    async def _ask(self, p: Polled, streams: Sequence[Polled], call: Awaitable[_T]) -> _T | None:
        """``await call`` for one poll of ``p``; None when it failed (noted). A ban is noted
        for every stream of the venue and raised: the worker pauses the venue's REST."""
        try:
            return await call
        except VenueBanned as exc:
            self._poll_failed(p, exc, streams)
            raise
        except (VenueError, InputError) as exc:
            self._poll_failed(p, exc)
            return None

    def _poll_failed(self, p: Polled, exc: BaseException, banned: Sequence[Polled] = ()) -> None:
        """Note a failed poll of ``p`` (and of ``banned``: the streams a ban now pauses)."""
        self.stats.rest_errors += 1
        if p.failing is None:
            log.warning("%s %s: %s poll failed: %s", p.venue_name, p.symbol, p.stream, exc)
        for q in (p, *banned):
            q.failing = q.failing or str(exc)

    def _polled_ok(self, p: Polled, now: int) -> None:
        """A successful poll: record the span polling missed as a gap, note the time."""
        key = stream_key(p.symbol, p.stream)
        if p.last_ok_ms is None:  # first success of this run: the collector was down before
            since = self.restart_from.get(p.venue, {}).get(key)
            if since is not None:
                self.record_gap(p.venue_name, p.venue, p.symbol, p.stream, since, now, REASON_DOWN)
        elif p.failing is not None:
            why = f"REST polling failed: {p.failing}"
            self.record_gap(p.venue_name, p.venue, p.symbol, p.stream, p.last_ok_ms, now, why)
        p.failing = None
        p.last_ok_ms = now
        self.store.touch_stream(p.venue, key, now, 1)

    def _last_closed_candle(self, venue: str, symbol: str, t0: int, t1: int) -> int | None:
        candles = self.store.candles(venue, symbol, MINUTE_MS, t0, t1 + 1)
        return max((c.ts for c in candles if c.closed), default=None)
