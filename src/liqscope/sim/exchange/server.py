"""What every simulated venue shares: connections, the pump, faults, the sent-liquidation log.

A venue subclasses :class:`VenueServer` and supplies its REST routes, how a WS path and a client
message map to topics, and ``emit``: the wire messages for one simulated time window. The base
class pushes those messages to subscribed connections, one sender task per connection (the only
writer to its socket), applies faults, and records every liquidation actually sent.
"""

from __future__ import annotations

import asyncio
import itertools
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any, ClassVar, cast

import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket, WebSocketDisconnect

from liqscope.domain.aio import text_frames
from liqscope.domain.net import is_loopback
from liqscope.sim.exchange.history import Candle, MarketHistory, ReplayClock, align, candle
from liqscope.sim.exchange.quotes import Liq

__all__ = [
    "BadParam",
    "Conn",
    "Fault",
    "FaultKind",
    "Outgoing",
    "SentLiquidation",
    "SentLog",
    "ServerOptions",
    "VenueServer",
    "json_response",
]


def json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps(data), status, headers, media_type="application/json")


class BadParam(Exception):
    """A request parameter the venue would reject; ``code`` is the venue's error code."""

    def __init__(self, msg: str, code: int | str = 0, status: int = 400) -> None:
        super().__init__(msg)
        self.msg = msg
        self.code = code
        self.status = status


class FaultKind(StrEnum):
    DISCONNECT = "disconnect"  # close every WS connection now (close code 1001)
    STALL = "stall"  # send nothing for `seconds` (wall), sockets stay open
    MALFORMED = "malformed"  # one frame that is not valid JSON to every connection
    LIFETIME = "lifetime"  # close every connection as at the max-lifetime cut
    HTTP_429 = "http_429"  # next `count` REST requests: 429 + Retry-After
    HTTP_418 = "http_418"  # next `count` REST requests: 418 (IP ban) + Retry-After


@dataclass(frozen=True)
class Fault:
    """One injected fault. ``seconds``: stall length or Retry-After; ``count``: HTTP requests.

    ``drop``: during a stall, messages are lost (True) or delivered late (False).
    """

    kind: FaultKind
    seconds: float = 5.0
    count: int = 1
    drop: bool = True

    @classmethod
    def from_json(cls, data: Any) -> Fault:
        if not isinstance(data, dict) or "kind" not in data:
            raise ValueError('expected {"kind": ...}')
        try:
            kind = FaultKind(str(data["kind"]).replace("-", "_"))
        except ValueError:
            names = ", ".join(k.value for k in FaultKind)
            raise ValueError(f"unknown fault {data['kind']!r} (expected one of {names})") from None
        seconds = float(data.get("seconds", 5.0))
        count = int(data.get("count", 1))
        if seconds < 0 or count < 0:
            raise ValueError("seconds and count must be >= 0")
        return cls(kind, seconds, count, bool(data.get("drop", True)))


@dataclass(frozen=True)
class SentLiquidation:
    """A liquidation the server put on the wire, with the truth it came from.

    ``key`` = (symbol, truth index) identifies the truth event; ``wire`` is the venue's record
    exactly as sent (one element of the message, not the envelope).
    """

    venue: str
    symbol: str
    truth_index: int
    ts_ms: int
    side: int  # +1 long liquidated, -1 short
    qty_base: float  # as sent: on the lot grid, in base units (the truth keeps the exact size)
    fill_px: float
    bankruptcy_px: float
    wire: dict[str, Any]

    @property
    def key(self) -> tuple[str, int]:
        return (self.symbol, self.truth_index)


class SentLog:
    """Every liquidation each server actually sent: unique events plus a send counter."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._events: dict[tuple[str, int], SentLiquidation] = {}
        self.sends = 0  # liquidation records written to sockets, duplicates included

    def record(self, liqs: Iterable[SentLiquidation]) -> None:
        with self._lock:
            for liq in liqs:
                self.sends += 1
                self._events.setdefault(liq.key, liq)

    def events(self) -> list[SentLiquidation]:
        """Unique sent liquidations, in the order first sent."""
        with self._lock:
            return list(self._events.values())

    def __len__(self) -> int:
        with self._lock:
            return len(self._events)

    def to_json(self) -> dict[str, Any]:
        events = self.events()
        return {"count": len(events), "sends": self.sends, "events": [asdict(e) for e in events]}


@dataclass(frozen=True)
class Outgoing:
    """One message for every connection subscribed to ``topic``."""

    topic: str
    payload: Any
    liqs: tuple[SentLiquidation, ...] = ()


@dataclass
class ServerOptions:
    """Knobs shared by all venues (wall seconds unless stated)."""

    host: str = "127.0.0.1"
    ping_interval_s: float | None = 20.0  # protocol-level server pings (None: off)
    ping_timeout_s: float | None = 20.0
    max_conn_lifetime_s: float | None = None  # None: the venue's own limit scaled by speed
    pump_interval_s: float = 0.02
    okx_snapshot_ms: int = 60_000  # sim ms of recent orders in OKX's first liquidation message
    bybit_two_sided_oi: bool = False  # openInterest = both sides, singleOpenInterest = one side
    control: bool = False  # serve the /_sim/* control routes (to loopback clients only)


@dataclass(frozen=True)
class _Close:
    code: int
    reason: str


_seq = itertools.count()


@dataclass(eq=False)
class Conn:
    """One WS client. Only its sender task writes to the socket."""

    ws: WebSocket
    conn_id: str
    combined: bool = False
    topics: set[str] = field(default_factory=set)
    state: dict[str, Any] = field(default_factory=dict)
    opened: float = field(default_factory=time.monotonic)
    closing: bool = False
    queue: asyncio.PriorityQueue[tuple[int, int, Any]] = field(
        default_factory=asyncio.PriorityQueue
    )

    def put(self, text: str, liqs: tuple[SentLiquidation, ...] = ()) -> None:
        self.queue.put_nowait((1, next(_seq), (text, liqs)))

    def close(self, code: int, reason: str) -> None:
        if not self.closing:
            self.closing = True
            self.queue.put_nowait((0, next(_seq), _Close(code, reason)))


Handler = Callable[[Request], Awaitable[Response]]


class VenueServer(ABC):
    """One simulated venue: a Starlette app (REST + WS + admin) over replayed histories."""

    venue: ClassVar[str]
    lifetime_ms: ClassVar[int | None] = None  # the venue's max connection age, simulated ms
    malformed_frame: ClassVar[str] = '{"e":"aggTrade","E":'

    def __init__(
        self,
        histories: Sequence[MarketHistory],
        clock: ReplayClock,
        options: ServerOptions | None = None,
    ) -> None:
        self.clock = clock
        self.options = options or ServerOptions()
        now = clock.now_ms()
        for h in histories:
            h.ensure(now + 1)
        self.histories: dict[str, MarketHistory] = {h.symbol: h for h in histories}
        self.conns: set[Conn] = set()
        self.sent = SentLog()
        self._emitted_to = {s: min(now + 1, h.end_ms) for s, h in self.histories.items()}
        self._stall_until = 0.0
        self._stall_drop = True
        self._http_fault: tuple[int, int, float] | None = None  # status, remaining, retry-after
        self._conn_ids = itertools.count(1)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._tick_lock = threading.Lock()
        control = [*self._admin_routes(), *self.control_routes()]
        self._starlette = Starlette(routes=[*self.routes(), *control])

    # -- venue hooks ------------------------------------------------------------------------
    @abstractmethod
    def routes(self) -> list[BaseRoute]:
        """REST and WS routes of the venue."""

    @abstractmethod
    def emit(self, h: MarketHistory, t0: int, t1: int, wanted: set[str]) -> list[Outgoing]:
        """Messages for events of ``h`` with ``t0 <= ts < t1``, only for ``wanted`` topics."""

    @abstractmethod
    async def on_text(self, conn: Conn, text: str) -> None:
        """A client message (subscribe, ping, …)."""

    @abstractmethod
    def error_body(self, status: int, msg: str, code: int | str) -> Any:
        """The venue's JSON error body."""

    def control_routes(self) -> list[BaseRoute]:
        """Venue-specific ``/_sim/*`` routes (served only with ``ServerOptions.control``)."""
        return []

    def frame(self, conn: Conn, out: Outgoing) -> str:
        """The text sent to ``conn`` for ``out`` (venues wrap or adapt per connection)."""
        return orjson.dumps(out.payload).decode()

    def on_subscribed(self, conn: Conn, topics: Sequence[str]) -> None:  # noqa: B027 - optional hook
        """Called after topics were added (OKX sends its liquidation snapshot here)."""

    # -- ASGI ---------------------------------------------------------------------------------
    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].startswith("/_sim"):
            refusal = self._control_refusal(scope)
            if refusal is not None:
                await refusal(scope, receive, send)
                return
        elif scope["type"] == "http":
            fault = self._take_http_fault()
            if fault is not None:
                status, retry_after = fault
                msg = "Too many requests" if status == 429 else "IP banned until later"
                headers = {"Retry-After": str(max(0, round(retry_after)))}
                body = self.error_body(status, msg, -1003)
                await json_response(body, status, headers)(scope, receive, send)
                return
        await self._starlette(scope, receive, send)

    def rest(self, fn: Handler) -> Handler:
        """Wrap a REST handler: bring history up to now, turn BadParam into the venue's error."""

        async def handler(request: Request) -> Response:
            self.sync_history()
            try:
                return await fn(request)
            except BadParam as exc:
                return json_response(self.error_body(exc.status, exc.msg, exc.code), exc.status)

        return handler

    def liquidation_topics(self) -> list[str]:
        """The topics a client subscribes to for every liquidation this venue publishes."""
        return sorted({self.liquidation_topic(symbol) for symbol in self.histories})

    @abstractmethod
    def liquidation_topic(self, symbol: str) -> str:
        """The liquidation topic of ``symbol`` (as named in ``emit``)."""

    def state_topics(self) -> list[str]:
        """Topics pushing current state (open interest, mark) that the venue keeps no REST
        history of, so a collector has only what it recorded; default: none."""
        return []

    def past_frames(self, t0: int, t1: int, topics: Iterable[str]) -> list[str]:
        """The frames a client subscribed to ``topics`` would have received for ``[t0, t1)``.

        A journal of the past in the venue's wire format: the demo pre-fills a store with it
        through the same parsers the collector uses. Nothing is counted as sent."""
        conn = Conn(cast(WebSocket, None), f"{self.venue}-replay", combined=True)
        wanted = set(topics)
        frames: list[str] = []
        for h in self.histories.values():
            h.ensure(t1)
            outs = self.emit(h, t0, t1, wanted)
            frames.extend(self.frame(conn, out) for out in outs if out.topic in wanted)
        return frames

    def sync_history(self) -> None:
        now = self.clock.now_ms()
        for h in self.histories.values():
            h.ensure(now + 1)

    # -- WS plumbing --------------------------------------------------------------------------
    async def serve_ws(
        self,
        ws: WebSocket,
        topics: Iterable[str],
        combined: bool = False,
        state: dict[str, Any] | None = None,
    ) -> None:
        """Run one WS connection already subscribed to ``topics`` (``state``: per-connection
        venue data, e.g. which endpoint it opened)."""
        self._loop = asyncio.get_running_loop()
        await ws.accept()
        conn = Conn(ws, f"{self.venue}-{next(self._conn_ids)}", combined)
        conn.topics.update(topics)
        conn.state.update(state or {})
        self.conns.add(conn)
        sender = asyncio.create_task(self._sender(conn))
        try:
            async for text in text_frames(ws.receive, binary=True):
                await self.on_text(conn, text)
        except (WebSocketDisconnect, RuntimeError):
            pass
        finally:
            self.conns.discard(conn)
            sender.cancel()

    async def _sender(self, conn: Conn) -> None:
        try:
            while True:
                _, _, item = await conn.queue.get()
                if isinstance(item, _Close):
                    await conn.ws.close(item.code, item.reason)
                    return
                text, liqs = item
                wait = self._stall_until - time.monotonic()
                if wait > 0:
                    if self._stall_drop:
                        continue
                    await asyncio.sleep(wait)
                await conn.ws.send_text(text)
                if liqs:
                    self.sent.record(liqs)
        except (WebSocketDisconnect, RuntimeError, OSError):
            return

    def subscribe(self, conn: Conn, topics: Sequence[str]) -> None:
        new = [t for t in topics if t not in conn.topics]
        conn.topics.update(topics)
        if new:
            self.on_subscribed(conn, new)

    # -- the pump -----------------------------------------------------------------------------
    def lifetime_s(self) -> float | None:
        if self.options.max_conn_lifetime_s is not None:
            return self.options.max_conn_lifetime_s
        if self.lifetime_ms is None:
            return None
        return self.clock.wall_seconds(self.lifetime_ms)

    def tick(self) -> None:
        """Push everything that happened since the last tick; close over-age connections."""
        with self._tick_lock:
            t1 = self.clock.now_ms() + 1
            wanted: set[str] = set()
            for c in self.conns:
                wanted |= c.topics
            for symbol, h in self.histories.items():
                h.ensure(t1)
                # push only what the source has produced: a second-granular source delivers
                # second s once simulated time has passed its end
                t0, end = self._emitted_to[symbol], min(t1, h.end_ms)
                if end > t0:
                    self._emitted_to[symbol] = end
                    if wanted:
                        self.broadcast(self.emit(h, t0, end, wanted))
        limit = self.lifetime_s()
        if limit is not None:
            cut = time.monotonic() - limit
            for c in list(self.conns):
                if c.opened < cut:
                    c.close(1000, "max connection lifetime reached")

    def broadcast(self, outs: Iterable[Outgoing]) -> None:
        for out in outs:
            for c in self.conns:
                if out.topic in c.topics and not c.closing:
                    c.put(self.frame(c, out), out.liqs)

    async def pump(self) -> None:
        """Tick forever (cancel to stop)."""
        self._loop = asyncio.get_running_loop()
        while True:
            self.tick()
            await asyncio.sleep(self.options.pump_interval_s)

    # -- faults -------------------------------------------------------------------------------
    def apply_fault(self, fault: Fault) -> None:
        """Apply a fault now. Call from the server's loop (see ``inject`` for other threads)."""
        if fault.kind is FaultKind.DISCONNECT:
            for c in list(self.conns):
                c.close(1001, "simulated disconnect")
        elif fault.kind is FaultKind.LIFETIME:
            for c in list(self.conns):
                c.close(1000, "max connection lifetime reached")
        elif fault.kind is FaultKind.STALL:
            self._stall_until = time.monotonic() + fault.seconds
            self._stall_drop = fault.drop
        elif fault.kind is FaultKind.MALFORMED:
            for c in self.conns:
                c.put(self.malformed_frame)
        elif fault.kind in (FaultKind.HTTP_429, FaultKind.HTTP_418):
            status = 429 if fault.kind is FaultKind.HTTP_429 else 418
            self._http_fault = (status, fault.count, fault.seconds)

    def inject(self, fault: Fault | dict[str, Any], timeout: float = 5.0) -> None:
        """Thread-safe: apply ``fault`` in the server's loop and wait until it is applied."""
        f = fault if isinstance(fault, Fault) else Fault.from_json(fault)
        self.call(lambda: self.apply_fault(f), timeout)

    def call(self, fn: Callable[[], None], timeout: float = 5.0) -> None:
        """Run ``fn`` in the server's loop (directly when already there or not running)."""
        loop = self._loop
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if loop is None or running is loop or not loop.is_running():
            fn()
            return

        async def run() -> None:
            fn()

        asyncio.run_coroutine_threadsafe(run(), loop).result(timeout)

    def _take_http_fault(self) -> tuple[int, float] | None:
        if self._http_fault is None:
            return None
        status, remaining, retry_after = self._http_fault
        if remaining <= 0:
            self._http_fault = None
            return None
        self._http_fault = (status, remaining - 1, retry_after) if remaining > 1 else None
        return status, retry_after

    # -- admin routes -------------------------------------------------------------------------
    def _control_refusal(self, scope: Scope) -> Response | None:
        """Why a ``/_sim/*`` request is refused (off, or not from loopback); None: allowed."""
        if not self.options.control:
            msg = "simulator control routes are off (start the simulator with --control)"
            return json_response({"error": msg}, 404)
        client = scope.get("client")
        if not is_loopback(client[0] if client else None):
            return json_response({"error": "simulator control routes answer loopback only"}, 403)
        return None

    def _admin_routes(self) -> list[BaseRoute]:
        async def fault(request: Request) -> Response:
            try:
                f = Fault.from_json(orjson.loads(await request.body()))
            except (ValueError, TypeError, orjson.JSONDecodeError) as exc:
                return json_response({"error": str(exc)}, 400)
            self.apply_fault(f)
            return json_response({"ok": True, "fault": asdict(f)})

        async def sent(request: Request) -> Response:
            return json_response(self.sent.to_json())

        async def clock(request: Request) -> Response:
            return json_response({"now_ms": self.clock.now_ms(), "speed": self.clock.speed})

        async def advance(request: Request) -> Response:
            try:
                ms = int(orjson.loads(await request.body())["ms"])
                self.clock.advance(ms)
            except (ValueError, TypeError, KeyError, orjson.JSONDecodeError) as exc:
                return json_response({"error": f'expected {{"ms": >= 0}}: {exc}'}, 400)
            self.tick()
            return json_response({"now_ms": self.clock.now_ms()})

        async def conns(request: Request) -> Response:
            return json_response(
                [{"id": c.conn_id, "topics": sorted(c.topics)} for c in self.conns]
            )

        return [
            Route("/_sim/fault", fault, methods=["POST"]),
            Route("/_sim/sent", sent),
            Route("/_sim/clock", clock),
            Route("/_sim/advance", advance, methods=["POST"]),
            Route("/_sim/connections", conns),
        ]

    # -- helpers for venues -------------------------------------------------------------------
    def sent_liquidation(self, h: MarketHistory, liq: Liq, wire: dict[str, Any]) -> SentLiquidation:
        """The record of ``liq`` sent as ``wire`` (the venue's record of it)."""
        return SentLiquidation(
            self.venue, h.symbol, liq.index, liq.ts, liq.side, liq.qty, liq.px, liq.bk, wire
        )

    def history(self, symbol: str | None) -> MarketHistory:
        if not symbol:
            raise BadParam("symbol is required", -1102)
        h = self.histories.get(symbol.upper())
        if h is None:
            raise BadParam(f"unknown symbol {symbol!r}", -1121)
        return h


def second_marks(t0: int, t1: int, every_ms: int = 1000) -> range:
    """Multiples of ``every_ms`` in ``[t0, t1)``."""
    first = -(-t0 // every_ms) * every_ms
    return range(first, t1, every_ms)


def live_candles(
    h: MarketHistory, t0: int, t1: int, interval_ms: int, offset_ms: int = 0
) -> list[tuple[int, Candle]]:
    """``(t, candle)``: the candle open at each whole second ``t`` of ``[t0, t1)`` after the
    history's start, as the venues' kline streams push it every second."""
    out = []
    for t in second_marks(max(t0, h.start_ms + 1), t1):
        c = candle(h, align(t - 1, interval_ms, offset_ms), interval_ms, t)
        if c is not None:
            out.append((t, c))
    return out


def choice_param(
    request: Request,
    name: str,
    choices: Mapping[str, int],
    msg: str,
    code: int | str,
    status: int = 400,
    default: str = "",
) -> tuple[str, int]:
    """A query parameter that must be a key of ``choices`` (an interval or period name):
    ``(key, value)``; else :class:`BadParam` with ``msg`` (``{}`` = what was sent)."""
    raw = request.query_params.get(name, default)
    if raw not in choices:
        raise BadParam(msg.format(raw), code, status)
    return raw, choices[raw]


def int_param(
    request: Request,
    name: str,
    default: int | None = None,
    lo: int | None = None,
    hi: int | None = None,
    code: int | str = -1130,
) -> int | None:
    """An integer query parameter, checked against ``[lo, hi]``."""
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise BadParam(f"Data sent for parameter '{name}' is not valid.", code) from None
    if (lo is not None and value < lo) or (hi is not None and value > hi):
        raise BadParam(f"Data sent for parameter '{name}' is not valid.", code)
    return value
