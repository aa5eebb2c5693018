"""Hyperliquid measured positions: address discovery and a ``clearinghouseState`` poller.

Addresses come from the public trades stream (each trade names ``users`` = [buyer, seller])
and from a user-supplied list file (one ``0x`` address a line, ``#`` comments). The poller
spends a share of the venue's request-weight budget (1200 a minute per IP; one
``clearinghouseState`` weighs 2, ``metaAndAssetCtxs`` 20) and picks, each round, the accounts
most overdue: an account is due again after an interval that shrinks with its distance to
liquidation (near price: often) and is ranked by how overdue it is times its notional.
Never-polled accounts come first, largest trade notional first. A 429 closes the gate for a
capped exponential backoff. Every poll (an empty one too) goes to the store.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import re
from collections import deque
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from liqscope.domain.clock import Clock
from liqscope.domain.errors import InputError, VenueError
from liqscope.domain.events import MarkPrice, OpenInterest
from liqscope.ingest.backoff import Backoff
from liqscope.store.positions import (
    AccountPoll,
    PositionSnapshot,
    known_accounts,
    last_polls,
    record_accounts,
    record_polls,
)
from liqscope.venues.hyperliquid.parse import parse_trade_users
from liqscope.venues.hyperliquid.rest import HyperliquidRest

__all__ = [
    "CLEARINGHOUSE_WEIGHT",
    "META_WEIGHT",
    "VENUE_WEIGHT_PER_MIN",
    "Account",
    "ClientBudget",
    "PositionPoller",
    "poller_hooks",
    "read_address_file",
    "repoll_interval_ms",
]

log = logging.getLogger(__name__)
VENUE = "hyperliquid"
VENUE_WEIGHT_PER_MIN = 1200
CLEARINGHOUSE_WEIGHT = 2
META_WEIGHT = 20
_ADDRESS = re.compile(r"^0x[0-9a-fA-F]{40}$")
# (distance to liquidation as a fraction of mark, re-poll interval): nearer is polled sooner
REPOLL: tuple[tuple[float, int], ...] = (
    (0.02, 15_000),
    (0.05, 60_000),
    (0.10, 180_000),
    (math.inf, 600_000),
)


def repoll_interval_ms(distance: float | None) -> int:
    """How long an account may go unpolled given its nearest liquidation's distance."""
    if distance is None:
        return REPOLL[-1][1]
    return next(ms for edge, ms in REPOLL if distance < edge)


def read_address_file(path: str | Path) -> list[str]:
    """The addresses of a list file: one ``0x`` + 40 hex digits a line, ``#`` comments."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read address list {p}: {exc}") from None
    out: list[str] = []
    for n, line in enumerate(text.splitlines(), 1):
        item = line.split("#", 1)[0].strip()
        if not item:
            continue
        if not _ADDRESS.match(item):
            raise InputError(f"{p}:{n}: not a 0x address: {item[:60]!r}")
        out.append(item.lower())
    return list(dict.fromkeys(out))


class ClientBudget:
    """The weight this client allows itself in a sliding minute (``limit`` of the venue's
    1200, the rest left for other requests from the same IP)."""

    def __init__(self, limit: int = 1000, window_ms: int = 60_000) -> None:
        self.limit, self.window_ms = limit, window_ms
        self.spent: deque[tuple[int, int]] = deque()

    def available(self, now: int) -> int:
        while self.spent and self.spent[0][0] <= now - self.window_ms:
            self.spent.popleft()
        return self.limit - sum(w for _, w in self.spent)

    def take(self, now: int, weight: int) -> bool:
        if self.available(now) < weight:
            return False
        self.spent.append((now, weight))
        return True

    def next_free_ms(self, now: int, weight: int) -> int:
        """When ``weight`` fits again (``now`` if it fits now)."""
        if self.available(now) >= weight:
            return now
        need = weight - self.available(now)
        freed = 0
        for t, w in self.spent:
            freed += w
            if freed >= need:
                return t + self.window_ms
        return now + self.window_ms


@dataclass
class Account:
    """What the poller knows about one address."""

    address: str
    source: str
    hint_usd: float = 0.0  # trade notional seen (ranks accounts never polled)
    last_poll_ms: int | None = None
    notional_usd: float = 0.0  # open positions' notional at the last poll
    distance: float | None = None  # nearest liquidation, fraction of mark

    def score(self, now: int) -> float:
        """How urgently to poll: inf when never polled, else overdue ratio × size weight."""
        if self.last_poll_ms is None:
            return math.inf
        due = (now - self.last_poll_ms) / repoll_interval_ms(self.distance)
        return due * (1.0 + math.log10(1.0 + self.notional_usd / 10_000.0))


class PollStats:
    """What a poller has done: polls, positions seen, 429s, other errors, weight spent."""

    polls = positions = throttled = errors = weight = 0


class PositionPoller:
    """Discover Hyperliquid accounts and poll their positions into the store."""

    def __init__(
        self,
        rest: HyperliquidRest,
        store: object,
        clock: Clock,
        *,
        coins: Sequence[str] = (),
        budget: ClientBudget | None = None,
        meta_every_ms: int = 30_000,
        backoff: Backoff | None = None,
    ) -> None:
        self.rest = rest
        self.store = store
        self.clock = clock
        self.coins = tuple(coins)
        self.budget = budget or ClientBudget()
        self.meta_every_ms = meta_every_ms
        self.backoff = backoff or Backoff(base_s=2.0, cap_s=60.0)
        self.accounts: dict[str, Account] = {}
        self.marks: dict[str, float] = {}
        self.stats = PollStats()
        self.blocked_until_ms = 0
        self._meta_ms: int | None = None
        polled = last_polls(store, VENUE)
        for address, source in known_accounts(store, VENUE):  # resume what was stored
            self.accounts[address] = Account(address, source, last_poll_ms=polled.get(address))

    # -- discovery ----------------------------------------------------------------------------
    def add(self, addresses: Iterable[tuple[str, str, float]]) -> int:
        """Add ``(address, source, notional hint)``; returns how many were new."""
        fresh: list[tuple[str, str]] = []
        for address, source, usd in addresses:
            a = address.lower()
            acc = self.accounts.get(a)
            if acc is None:
                self.accounts[a] = Account(a, source, usd)
                fresh.append((a, source))
            else:
                acc.hint_usd += usd
        if fresh:
            record_accounts(self.store, VENUE, fresh, self.clock.now_ms())
        return len(fresh)

    def add_file(self, path: str | Path) -> int:
        return self.add((a, "file", 0.0) for a in read_address_file(path))

    def on_frame(self, frame: str | bytes) -> int:
        """Feed one WS frame; addresses of ``trades`` frames (in ``coins``, if given) are added."""
        users = parse_trade_users(frame)
        return self.add(
            (a, "trades", usd) for a, coin, usd in users if not self.coins or coin in self.coins
        )

    # -- polling ------------------------------------------------------------------------------
    def queue(self, now: int) -> list[Account]:
        """Accounts due now, most urgent first (never polled: largest trade notional first)."""
        due = [a for a in self.accounts.values() if a.score(now) >= 1.0]
        due.sort(key=lambda a: (-a.score(now), -a.hint_usd, a.address))
        return due

    async def _refresh_marks(self, now: int) -> None:
        if self._meta_ms is not None and now - self._meta_ms < self.meta_every_ms:
            return
        if not self.budget.take(now, META_WEIGHT):
            return
        self.stats.weight += META_WEIGHT
        events = await self.rest.asset_contexts()
        self._meta_ms = now
        for ev in events:
            if isinstance(ev, MarkPrice):
                self.marks[ev.symbol] = ev.mark
        write = getattr(self.store, "write_events", None)
        if callable(write):  # mark and OI beside the positions: coverage needs the venue's OI
            write([e for e in events if isinstance(e, (MarkPrice, OpenInterest))
                   and (not self.coins or e.symbol in self.coins)])  # fmt: skip

    def _throttled(self, now: int) -> None:
        self.stats.throttled += 1
        wait_ms = int(self.backoff.next_delay() * 1000)
        self.blocked_until_ms = now + wait_ms
        log.warning("hyperliquid: HTTP 429; pausing position polls for %.1f s", wait_ms / 1000)

    async def poll_round(self, max_polls: int | None = None) -> int:
        """Poll as many due accounts as the budget allows now; returns the polls made."""
        now = self.clock.now_ms()
        if now < self.blocked_until_ms:
            return 0
        try:
            await self._refresh_marks(now)
        except VenueError as exc:
            if "HTTP 429" in str(exc):  # the client is built with max_retries=0
                self._throttled(now)
                return 0
            raise
        done: list[AccountPoll] = []
        try:
            for acc in self.queue(now):
                if max_polls is not None and len(done) >= max_polls:
                    break
                if not self.budget.take(now, CLEARINGHOUSE_WEIGHT):
                    break
                self.stats.weight += CLEARINGHOUSE_WEIGHT
                try:
                    found = await self.rest.clearinghouse_state(acc.address)
                except VenueError as exc:
                    if "HTTP 429" in str(exc):
                        self._throttled(now)
                        break
                    self.stats.errors += 1
                    log.warning("hyperliquid: poll of %s failed: %s", acc.address, exc)
                    continue
                at = self.clock.now_ms()  # the answer's time (never before the account was seen)
                snaps = tuple(
                    PositionSnapshot(VENUE, acc.address, p.coin, at,
                                     p.size * (1 if p.side.value > 0 else -1), p.entry_px,
                                     p.leverage, p.leverage_type, p.liquidation_px,
                                     p.margin_used, p.position_value)
                    for p in found
                )  # fmt: skip
                self._update(acc, snaps, at)
                done.append(AccountPoll(VENUE, acc.address, at, snaps))
        finally:
            if done:
                record_polls(self.store, done)
                self.stats.polls += len(done)
                self.stats.positions += sum(len(p.positions) for p in done)
        if done and now >= self.blocked_until_ms:  # a round without a 429
            self.backoff.reset()
        return len(done)

    def _update(self, acc: Account, snaps: Sequence[PositionSnapshot], now: int) -> None:
        acc.last_poll_ms = now
        acc.notional_usd = sum(abs(s.size) * s.entry_px for s in snaps)
        dist: list[float] = []
        for s in snaps:
            mark = self.marks.get(s.coin) or (abs(s.position_value / s.size) if s.size else 0.0)
            if s.liquidation_px is not None and mark > 0:
                dist.append(abs(mark - s.liquidation_px) / mark)
        acc.distance = min(dist) if dist else None

    def next_wake_ms(self) -> int:
        """When the next poll round can do something."""
        now = self.clock.now_ms()
        at = max(self.blocked_until_ms, self.budget.next_free_ms(now, CLEARINGHOUSE_WEIGHT))
        return max(at, now + 250)

    async def run(self, stop: asyncio.Event) -> None:
        """Poll until ``stop`` is set, sleeping (wall time) until the budget frees up; a venue
        that stops answering pauses the polls for a capped back-off."""
        while not stop.is_set():
            try:
                await self.poll_round()
            except VenueError as exc:
                self.stats.errors += 1
                self.blocked_until_ms = self.clock.now_ms() + int(self.backoff.next_delay() * 1000)
                log.warning("hyperliquid: position polls paused: %s", exc)
            wait_s = (self.next_wake_ms() - self.clock.now_ms()) / 1000
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=max(wait_s, 0.25))

    async def watch_trades(self, ws_url: str, stop: asyncio.Event) -> None:
        """Follow the trades of ``coins`` on ``ws_url`` and add their ``users`` until
        ``stop``; reconnects with capped, jittered backoff."""
        import websockets

        from liqscope.venues.hyperliquid.streams import subscribe_messages

        subs = [{"type": "trades", "coin": c} for c in self.coins]
        retry = Backoff(base_s=0.5, cap_s=30.0)
        while not stop.is_set():
            try:
                async with websockets.connect(ws_url) as ws:
                    for m in subscribe_messages(subs):
                        await ws.send(m)
                    retry.reset()
                    while not stop.is_set():
                        try:
                            frame = await asyncio.wait_for(ws.recv(), timeout=1.0)
                        except TimeoutError:
                            continue
                        try:
                            self.on_frame(frame)
                        except VenueError as exc:
                            log.warning("hyperliquid: bad trades frame: %s", exc)
            except (OSError, websockets.WebSocketException) as exc:
                log.warning("hyperliquid: trades stream lost (%s); reconnecting", exc)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=retry.next_delay())


def poller_hooks(
    rest_url: str, ws_url: str | None, store: object, clock: Clock, coins: Sequence[str]
) -> tuple[Callable[[object], Awaitable[None]], Callable[[object], Awaitable[None]]]:
    """``(start, stop)`` app hooks running a poller (and its trades watcher on ``ws_url``)
    beside a server, as ``liqscope demo`` does against the simulated Hyperliquid."""
    running: list[tuple[asyncio.Event, HyperliquidRest, list[asyncio.Task[None]]]] = []

    async def start(_app: object) -> None:
        rest = HyperliquidRest(rest_url, clock=clock, max_retries=0)
        poller = PositionPoller(rest, store, clock, coins=coins)
        stop = asyncio.Event()
        tasks = [asyncio.create_task(poller.run(stop))]
        if ws_url is not None:
            tasks.append(asyncio.create_task(poller.watch_trades(ws_url, stop)))
        running.append((stop, rest, tasks))

    async def stop(_app: object) -> None:
        while running:
            ev, rest, tasks = running.pop()
            ev.set()
            for t in tasks:  # a round of polls can outlast a stop: end it now (the polls
                t.cancel()  # answered so far are recorded as the round unwinds)
            await asyncio.gather(*tasks, return_exceptions=True)
            await rest.aclose()

    return start, stop
