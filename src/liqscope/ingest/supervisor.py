"""Supervision of one venue WebSocket connection: connect, subscribe, keep alive, reconnect.

A :class:`Supervisor` owns one logical connection described by a :class:`ConnectionPlan` and
keeps it alive until told to stop:

- connects with ``websockets``, sends the plan's subscribe messages (paced, to stay under a
  venue's incoming-message limit), and hands every received frame to its listener;
- keeps the connection alive the venue's way: protocol pings (``websockets`` answers server pings
  and sends its own), plus an optional application ping sent every ``interval_s`` (Bybit
  ``{"op":"ping"}``) or only after ``interval_s`` without any message (OKX text ``ping``);
- treats ``stall_timeout_s`` without a frame as a dead connection;
- reconnects after any loss with capped, jittered exponential backoff (:mod:`.backoff`) and
  reports the span it was blind as a gap: from the last frame received to the moment the new
  subscription was sent;
- before the venue's maximum connection lifetime, opens a second connection, subscribes it, lets
  both run for ``overlap_s`` and only then closes the old one ("make before break"): nothing is
  missed, the overlap yields duplicates that idempotent writes absorb, and no gap is reported.

The listener's ``on_frame`` may block (the collector's bounded queue is full): reading pauses,
which is the backpressure policy; the time spent blocked does not count as a stall.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol
from urllib.parse import urlsplit

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidURI

from liqscope.domain.clock import SYSTEM_CLOCK, Clock
from liqscope.ingest.backoff import Backoff

log = logging.getLogger("liqscope.collect")

Frame = str | bytes


@dataclass(frozen=True, slots=True)
class AppPing:
    """An application-level keepalive message."""

    payload: str
    interval_s: float
    only_when_idle: bool = False  # OKX: send only after interval_s without any message


@dataclass(frozen=True, slots=True)
class ConnectionPlan:
    """Everything needed to open and keep one venue connection."""

    name: str  # unique and stable, e.g. "binance/0"; used in logs and the frames journal
    url: str
    subscribe: tuple[Frame, ...] = ()
    app_ping: AppPing | None = None
    protocol_ping_s: float | None = 20.0  # websockets' own ping; None disables it
    max_lifetime_s: float | None = None  # venue drops the connection after this long
    rollover_margin_s: float = 600.0  # roll over this long before max_lifetime_s
    overlap_s: float = 2.0  # both connections run this long during a rollover
    stall_timeout_s: float = 60.0
    open_timeout_s: float = 10.0
    subscribe_interval_s: float = 0.12  # pause between subscribe messages
    max_frame_bytes: int = 16 * 1024 * 1024

    def rollover_after_s(self) -> float | None:
        if self.max_lifetime_s is None:
            return None
        margin = min(self.rollover_margin_s, self.max_lifetime_s / 2)
        return self.max_lifetime_s - margin


class Listener(Protocol):
    """What a supervisor reports to. ``on_frame`` may await (backpressure)."""

    async def on_frame(self, conn_id: str, received_ms: int, frame: Frame) -> None: ...

    def on_up(self, plan: ConnectionPlan, conn_id: str, at_ms: int) -> None: ...

    def on_gap(self, plan: ConnectionPlan, start_ms: int, end_ms: int, reason: str) -> None: ...


@dataclass(slots=True)
class SupervisorStats:
    connects: int = 0
    failed_connects: int = 0
    disconnects: int = 0
    stalls: int = 0
    rollovers: int = 0
    app_pings: int = 0
    frames: int = 0
    reasons: list[str] = field(default_factory=list)


class _Ended(Exception):
    """Internal: why a connection's read loop ended."""

    def __init__(self, reason: str, stall: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.stall = stall


_ROLLOVER = "rollover"
_STOPPED = "stopped"
_ROLLOVER_RETRY_S = 30.0


def _proxy_for(url: str) -> str | bool | None:
    """Loopback URLs never go through an environment proxy; others honour it."""
    host = urlsplit(url).hostname or ""
    if host in ("localhost", "127.0.0.1", "::1") or host.startswith("127."):
        return None
    return True


class Supervisor:
    """Keeps one :class:`ConnectionPlan` connected until ``stop`` is set."""

    def __init__(
        self,
        plan: ConnectionPlan,
        listener: Listener,
        *,
        clock: Clock = SYSTEM_CLOCK,
        backoff: Backoff | None = None,
        run_id: str = "",
        connect_fn: Callable[..., Awaitable[ClientConnection]] = connect,
    ) -> None:
        self.plan = plan
        self.listener = listener
        self.clock = clock
        self.backoff = backoff or Backoff()
        self.stats = SupervisorStats()
        self.last_error: str | None = None
        self._run_id = run_id
        self._serial = itertools.count(1)
        self._connect = connect_fn
        self._active: set[ClientConnection] = set()
        self._overlaps: set[asyncio.Task[None]] = set()
        self._last_rx_ms = 0

    async def run(self, stop: asyncio.Event) -> None:
        """Connect, read and reconnect until ``stop`` is set; then close cleanly."""
        loop = asyncio.get_running_loop()
        watcher = asyncio.create_task(self._close_all_on(stop))
        lost_ms: int | None = None
        lost_reason = ""
        ws: ClientConnection | None = None
        conn_id = ""
        started = rollover_at = 0.0
        after = self.plan.rollover_after_s()
        try:
            while not stop.is_set():
                if ws is None:
                    opened = await self._open_with_retry(stop)
                    if opened is None:
                        break
                    ws, conn_id = opened
                    if lost_ms is not None:
                        self.listener.on_gap(self.plan, lost_ms, self.clock.now_ms(), lost_reason)
                        lost_ms = None
                    started = loop.time()
                    rollover_at = started + after if after is not None else float("inf")
                try:
                    outcome = await self._read(ws, conn_id, stop, rollover_at)
                except _Ended as end:
                    self.backoff.connection_ended(loop.time() - started)
                    self.stats.disconnects += 1
                    self.stats.stalls += int(end.stall)
                    self.stats.reasons.append(end.reason)
                    lost_ms, lost_reason = self._last_rx_ms, end.reason
                    log.warning("%s: connection lost (%s)", self.plan.name, lost_reason)
                    await self._close(ws)
                    ws = None
                    if not await _sleep(stop, self.backoff.next_delay()):
                        break
                    continue
                if outcome == _STOPPED:
                    break
                # Rollover: make the new connection before breaking the old one.
                new = await self._try_open()
                if new is None:
                    log.warning(
                        "%s: rollover connect failed (%s); keeping the old connection",
                        self.plan.name,
                        self.last_error,
                    )
                    rollover_at = loop.time() + _ROLLOVER_RETRY_S
                    continue
                self.stats.rollovers += 1
                log.info("%s: rolled over to a new connection", self.plan.name)
                self._start_overlap(ws, conn_id, stop)
                ws, conn_id = new
                started = loop.time()
                rollover_at = started + after if after is not None else float("inf")
        finally:
            watcher.cancel()
            for task in list(self._overlaps):
                task.cancel()
            for task in list(self._overlaps):
                with contextlib.suppress(BaseException):
                    await task
            if ws is not None:
                await self._close(ws)

    # -- connection lifecycle ----------------------------------------------------------------

    async def _close_all_on(self, stop: asyncio.Event) -> None:
        await stop.wait()
        for ws in list(self._active):
            await self._close(ws)

    async def _try_open(self) -> tuple[ClientConnection, str] | None:
        plan = self.plan
        try:
            ws = await asyncio.wait_for(
                self._connect(
                    plan.url,
                    open_timeout=plan.open_timeout_s,
                    ping_interval=plan.protocol_ping_s,
                    ping_timeout=plan.protocol_ping_s,
                    close_timeout=2,
                    max_size=plan.max_frame_bytes,
                    max_queue=64,
                    proxy=_proxy_for(plan.url),
                    compression=None,
                ),
                timeout=plan.open_timeout_s + 1,
            )
        except (OSError, TimeoutError, InvalidHandshake, InvalidURI, ConnectionClosed) as exc:
            self.stats.failed_connects += 1
            self.last_error = _describe(exc)
            return None
        self._active.add(ws)
        try:
            for i, message in enumerate(plan.subscribe):
                if i:
                    await asyncio.sleep(plan.subscribe_interval_s)
                await ws.send(message)
        except (ConnectionClosed, OSError) as exc:
            self.stats.failed_connects += 1
            self.last_error = f"closed while subscribing: {_describe(exc)}"
            await self._close(ws)
            return None
        self.stats.connects += 1
        conn_id = f"{plan.name}#{self._run_id}.{next(self._serial)}"
        now = self.clock.now_ms()
        self._last_rx_ms = now
        self.listener.on_up(plan, conn_id, now)
        return ws, conn_id

    async def _open_with_retry(self, stop: asyncio.Event) -> tuple[ClientConnection, str] | None:
        while not stop.is_set():
            opened = await self._try_open()
            if opened is not None:
                self.last_error = None
                return opened
            delay = self.backoff.next_delay()
            log.warning(
                "%s: cannot connect to %s (%s); retrying in %.1f s",
                self.plan.name,
                self.plan.url,
                self.last_error,
                delay,
            )
            if not await _sleep(stop, delay):
                return None
        return None

    async def _close(self, ws: ClientConnection) -> None:
        self._active.discard(ws)
        with contextlib.suppress(Exception):
            await asyncio.wait_for(ws.close(), timeout=3)

    def _start_overlap(self, ws: ClientConnection, conn_id: str, stop: asyncio.Event) -> None:
        """Keep reading the old connection for ``overlap_s``, then close it."""

        async def drain() -> None:
            deadline = asyncio.get_running_loop().time() + self.plan.overlap_s
            with contextlib.suppress(_Ended):
                await self._read(ws, conn_id, stop, deadline)
            await self._close(ws)

        task = asyncio.create_task(drain(), name=f"{self.plan.name}-overlap")
        self._overlaps.add(task)
        task.add_done_callback(self._overlaps.discard)

    async def _read(
        self, ws: ClientConnection, conn_id: str, stop: asyncio.Event, until: float
    ) -> str:
        """Read frames until ``stop`` (returns "stopped") or loop time ``until`` ("rollover").

        Raises ``_Ended`` when the connection is closed, errors or stalls.
        """
        plan = self.plan
        loop = asyncio.get_running_loop()
        last_rx = last_ping = loop.time()
        ping = plan.app_ping
        listener = self.listener
        clock = self.clock
        while True:
            now = loop.time()
            if stop.is_set():
                return _STOPPED
            if now >= until:
                return _ROLLOVER
            if now - last_rx >= plan.stall_timeout_s:
                raise _Ended(f"stall: no message for {plan.stall_timeout_s:g} s", stall=True)
            deadline = min(until, last_rx + plan.stall_timeout_s)
            if ping is not None:
                ping_at = (max(last_rx, last_ping) if ping.only_when_idle else last_ping) + (
                    ping.interval_s
                )
                if now >= ping_at:
                    try:
                        await ws.send(ping.payload)
                    except ConnectionClosed as exc:
                        raise _Ended(_describe(exc)) from None
                    self.stats.app_pings += 1
                    last_ping = now
                    continue
                deadline = min(deadline, ping_at)
            try:
                async with asyncio.timeout_at(deadline):
                    frame = await ws.recv()
            except TimeoutError:
                continue
            except (ConnectionClosed, OSError) as exc:
                if stop.is_set():
                    return _STOPPED
                raise _Ended(_describe(exc)) from None
            received_ms = clock.now_ms()
            self._last_rx_ms = received_ms
            self.stats.frames += 1
            await listener.on_frame(conn_id, received_ms, frame)
            last_rx = loop.time()  # time blocked on backpressure is not a stall


async def _sleep(stop: asyncio.Event, seconds: float) -> bool:
    """Sleep unless stopped first; True when the sleep ran to its end."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=seconds)
    return not stop.is_set()


def _describe(exc: BaseException) -> str:
    if isinstance(exc, ConnectionClosed):
        rcvd = exc.rcvd
        if rcvd is None:
            return "connection dropped without a close frame"
        return f"closed by server (code {rcvd.code}{', ' + rcvd.reason if rcvd.reason else ''})"
    text = str(exc) or type(exc).__name__
    return text.splitlines()[0][:200]


async def run_supervisors(supervisors: Sequence[Supervisor], stop: asyncio.Event) -> None:
    """Run several supervisors until ``stop``; one failing does not stop the others."""
    await asyncio.gather(*(s.run(stop) for s in supervisors), return_exceptions=True)
