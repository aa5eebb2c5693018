"""The template every venue implements, and the pieces all venues share.

A venue package (``venues/<name>/``) has the same four modules:

- ``parse``: pure functions ``bytes | str -> list[Event]`` (no I/O, no clock unless passed in);
- ``streams``: how to connect (URL, subscribe messages, ping policy, lifetime) — described only,
  the collector drives the socket;
- ``rest``: an async ``httpx`` client for backfill, subclassing :class:`RestClient`;
- ``rules``: venue facts (contract sizes, interval names, limits).

and an ``__init__`` exporting one :class:`VenueAdapter` subclass that *declares* its capabilities.
Shared code asks the adapter (``adapter.liquidations_sampled``, ``adapter.ws_channels``, …) and
never branches on a venue's name.
"""

from __future__ import annotations

import asyncio
import logging
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, ClassVar, Protocol

import httpx
import orjson

from liqscope.domain import registry
from liqscope.domain.clock import SYSTEM_CLOCK, Clock
from liqscope.domain.errors import InputError, VenueError
from liqscope.domain.events import Candle, Event, OpenInterest
from liqscope.domain.instruments import Instrument
from liqscope.domain.types import Side
from liqscope.store.guard import check_events

__all__ = [
    "BadValue",
    "Channel",
    "Frame",
    "MalformedFrame",
    "PingPolicy",
    "RestClient",
    "Sleeper",
    "StreamPlan",
    "SubscriptionRejected",
    "UnknownInstrument",
    "VenueAdapter",
    "VenueBanned",
    "VenueStreams",
    "checked",
    "kline_candle",
    "load_json",
    "load_object",
    "op_subscribe",
    "read_fields",
    "side_of",
    "windows",
]

log = logging.getLogger("liqscope.venues")

Sleeper = Callable[[float], Awaitable[None]]
Frame = bytes | str


class MalformedFrame(VenueError):
    """A frame that is not JSON, lacks a field or has a field of the wrong type.

    The collector counts and skips these; the message is a short reason.
    """


class BadValue(MalformedFrame):
    """A frame whose values parse but cannot be real (infinite, <= 0, a time before 2017 or
    more than a day ahead). The collector counts it as a reject; nothing of it is stored."""


def checked(events: list[Event], now_ms: int | None = None) -> list[Event]:
    """``events`` unchanged, or :class:`BadValue` naming the first absurd field.

    The bounds are the store's (:mod:`liqscope.store.guard`); ``now_ms`` defaults to the
    system clock (the upper bound is now + 1 day)."""
    if events:
        try:
            check_events(events, SYSTEM_CLOCK.now_ms() if now_ms is None else now_ms)
        except InputError as exc:
            why = str(exc).partition(": ")[2] or str(exc)
            raise BadValue(why.split("; nothing", 1)[0]) from None
    return events


class VenueBanned(VenueError):
    """HTTP 418: the venue banned this IP for ignoring its rate limits.

    ``retry_after_s`` is the venue's ``Retry-After`` when it sent one."""

    def __init__(self, message: str, retry_after_s: float | None = None) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class UnknownInstrument(MalformedFrame):
    """A frame about an instrument whose contract size the adapter does not know yet."""


class SubscriptionRejected(VenueError):
    """The venue answered a subscribe request with an error (bad symbol, bad channel)."""


class Channel(StrEnum):
    """What a stream carries, in our terms (each adapter maps these to venue topics)."""

    LIQUIDATIONS = "liquidations"
    TRADES = "trades"
    MARK_PRICE = "mark_price"
    OPEN_INTEREST = "open_interest"
    CANDLES = "candles"  # 1-minute candles


@dataclass(frozen=True, slots=True)
class PingPolicy:
    """How a connection is kept alive.

    ``interval_s``/``message``: the client sends ``message`` every ``interval_s`` seconds
    (None: the client does not need to send application pings).
    ``server_pings``: the server sends pings (WebSocket control frames, answered by
    ``websockets`` automatically) and drops clients that do not answer.
    """

    interval_s: float | None
    message: str | None
    server_pings: bool


@dataclass(frozen=True, slots=True)
class StreamPlan:
    """Everything the collector needs to open, feed and recycle one connection."""

    url: str
    subscribe: list[Frame]
    ping: PingPolicy
    max_lifetime_s: float | None  # reconnect before this (None: no documented limit)
    max_messages_per_s: float | None = None  # client -> server messages (subscribes, pings)
    channels: frozenset[Channel] = field(default_factory=frozenset)


def load_json(frame: Frame) -> Any:
    """``orjson.loads`` with the error turned into :class:`MalformedFrame`."""
    try:
        return orjson.loads(frame)
    except orjson.JSONDecodeError:
        raise MalformedFrame("not JSON") from None


_BAD_FIELD = (TypeError, ValueError, AttributeError, IndexError, OverflowError, InputError)


def read_fields(what: str, read: Callable[..., list[Event]], *args: Any) -> list[Event]:
    """``read(*args)``: the events a parser reads from a message, with a missing field raised as
    :class:`MalformedFrame` ``"<what>: missing field 'x'"`` and a field of the wrong type or
    value as ``"<what>: bad field (…)"``."""
    try:
        return read(*args)
    except KeyError as exc:
        raise MalformedFrame(f"{what}: missing field {exc.args[0]!r}") from None
    except _BAD_FIELD as exc:
        raise MalformedFrame(f"{what}: bad field ({exc})") from None


def side_of(sides: Mapping[str, Side], value: Any, what: str) -> Side:
    """The side the venue's word ``value`` stands for in ``sides``; :class:`MalformedFrame`
    naming ``what`` for a word it does not use."""
    side = sides.get(value)
    if side is None:
        raise MalformedFrame(f"{what}: unknown side {value!r}")
    return side


def load_object(frame: Frame) -> dict[str, Any]:
    """A frame that must be one JSON object (every WS message of the venues here)."""
    msg = load_json(frame)
    if type(msg) is not dict:
        raise MalformedFrame("frame is not a JSON object")
    return msg


def _single(value: str | Iterable[str]) -> list[str]:
    return [value] if isinstance(value, str) else list(value)


class RestClient:
    """Async REST client shared by the venues: base URL, retries, rate limits, errors.

    - 429: log, sleep ``Retry-After`` seconds (or an exponential back-off when absent) through
      the injectable ``sleeper`` and retry, at most ``max_retries`` times; 5xx likewise;
    - 418: log and stop with :class:`VenueBanned` (carrying ``Retry-After``): the caller
      pauses every request to the venue;
    - unreachable host / timeout: :class:`VenueError` naming the host;
    - venue-level error bodies (checked by :meth:`_check_body`): :class:`VenueError`.

    Subclasses implement the backfill methods they support and leave the rest raising.
    """

    venue: ClassVar[str]
    default_base_url: ClassVar[str]
    max_retries_default: ClassVar[int] = 4

    def __init__(
        self,
        base_url: str | None = None,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        sleeper: Sleeper | None = None,
        clock: Clock | None = None,
        timeout_s: float = 10.0,
        max_retries: int | None = None,
    ) -> None:
        self.base_url = (base_url or self.default_base_url).rstrip("/")
        self._client = httpx.AsyncClient(
            base_url=self.base_url,
            transport=transport,
            timeout=timeout_s,
            headers={"Accept": "application/json", "User-Agent": "liqscope"},
        )
        self._sleep: Sleeper = sleeper or asyncio.sleep
        self.clock: Clock = clock or SYSTEM_CLOCK
        self.max_retries = self.max_retries_default if max_retries is None else max_retries
        self.requests_sent = 0

    async def __aenter__(self) -> RestClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._client.aclose()

    # -- hooks ---------------------------------------------------------------------------

    def _after_response(self, response: httpx.Response) -> float:
        """Seconds to pause after ``response`` before the next request (rate-limit pacing)."""
        return 0.0

    def _check_body(self, body: Any) -> Any:
        """Raise on a venue-level error inside a 200 reply; return the useful part."""
        return body

    # -- transport -----------------------------------------------------------------------

    async def _request(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        json_body: Any = None,
    ) -> Any:
        attempt = 0
        while True:
            try:
                if json_body is None:
                    response = await self._client.request(method, path, params=params)
                else:
                    response = await self._client.request(
                        method,
                        path,
                        params=params,
                        content=orjson.dumps(json_body),
                        headers={"Content-Type": "application/json"},
                    )
            except httpx.TimeoutException:
                raise VenueError(f"{self.venue}: {self.base_url} did not answer in time") from None
            except httpx.TransportError as exc:
                raise VenueError(f"{self.venue}: cannot reach {self.base_url} ({exc})") from None
            self.requests_sent += 1
            pause = self._after_response(response)
            status = response.status_code
            if status == 418:
                wait = _header_seconds(response)
                log.error(
                    "%s: HTTP 418 on %s: this IP is banned for ignoring rate limits%s",
                    self.venue,
                    path,
                    f" (Retry-After {wait:.0f} s)" if wait is not None else "",
                )
                raise VenueBanned(
                    f"{self.venue}: HTTP 418 — this IP is banned by the venue for ignoring "
                    "rate limits; stop and wait before retrying",
                    wait,
                )
            if status == 429 or status >= 500:
                if attempt >= self.max_retries:
                    raise VenueError(
                        f"{self.venue}: HTTP {status} on {path} after {attempt + 1} attempts"
                    )
                wait = _retry_after(response, attempt)
                log.warning(
                    "%s: HTTP %d on %s; retrying in %.1f s (attempt %d of %d)",
                    self.venue,
                    status,
                    path,
                    wait,
                    attempt + 1,
                    self.max_retries,
                )
                await self._sleep(wait)
                attempt += 1
                continue
            if status >= 400:
                raise VenueError(f"{self.venue}: HTTP {status} on {path}: {_short(response)}")
            try:
                body = orjson.loads(response.content)
            except orjson.JSONDecodeError:
                raise VenueError(f"{self.venue}: {path} answered with non-JSON") from None
            if pause > 0:
                await self._sleep(pause)
            return self._check_body(body)

    # -- backfill API (override what the venue offers) -------------------------------------

    async def klines(self, symbol: str, interval: str, start_ms: int, end_ms: int) -> list[Candle]:
        """Candles whose open time lies in [start_ms, end_ms), oldest first."""
        raise VenueError(f"{self.venue}: candle backfill is not offered")

    async def open_interest_history(
        self, symbol: str, period: str, start_ms: int, end_ms: int
    ) -> list[OpenInterest]:
        """Open-interest samples with ts in [start_ms, end_ms), oldest first."""
        raise VenueError(f"{self.venue}: open-interest history is not offered")

    async def open_interest_now(self, symbol: str) -> OpenInterest:
        """The current open interest of ``symbol``."""
        raise VenueError(f"{self.venue}: current open interest is not offered")

    async def instruments(self) -> list[Instrument]:
        """The venue's perpetual instruments with their contract sizes."""
        raise VenueError(f"{self.venue}: instrument listing is not offered")

    async def tiers(self, symbol: str) -> Any:
        """The venue's public maintenance-margin tier JSON for ``symbol``, passed through."""
        raise VenueError(f"{self.venue}: public tier tables are not offered")


def _header_seconds(response: httpx.Response) -> float | None:
    """The ``Retry-After`` header in seconds (None when absent or not a number)."""
    value = response.headers.get("Retry-After")
    if value is None:
        return None
    try:
        seconds = float(value)
    except ValueError:
        return None
    return max(0.0, seconds) if seconds == seconds and seconds != float("inf") else None


def _retry_after(response: httpx.Response, attempt: int) -> float:
    seconds = _header_seconds(response)
    return float(min(60, 2**attempt)) if seconds is None else seconds


def _short(response: httpx.Response) -> str:
    text = response.text.strip().replace("\n", " ")
    return text[:200] or response.reason_phrase


def windows(start_ms: int, end_ms: int, step_ms: int) -> list[tuple[int, int]]:
    """Split [start_ms, end_ms) into consecutive half-open windows of at most ``step_ms``."""
    if end_ms <= start_ms:
        return []
    return [(s, min(s + step_ms, end_ms)) for s in range(start_ms, end_ms, step_ms)]


def op_subscribe(items: Sequence[Any], per_message: int) -> list[str]:
    """``{"op": "subscribe", "args": [...]}`` messages of at most ``per_message`` items each
    (the shape Bybit and OKX share)."""
    return [
        orjson.dumps({"op": "subscribe", "args": list(items[i : i + per_message])}).decode()
        for i in range(0, len(items), per_message)
    ]


def kline_candle(
    venue: str,
    symbol: str,
    step_ms: int,
    row: Sequence[Any],
    volume: Any,
    taker_buy: Any,
    closed: bool,
) -> Candle:
    """A candle from a REST kline row laid out ``[open time, open, high, low, close, …]``
    (Binance, Bybit and OKX share it). Raises IndexError/TypeError/ValueError when unreadable."""
    return Candle(
        venue,
        symbol,
        int(row[0]),
        step_ms,
        float(row[1]),
        float(row[2]),
        float(row[3]),
        float(row[4]),
        float(volume),
        None if taker_buy is None else float(taker_buy),
        closed,
    )


class VenueStreams(Protocol):
    """What each venue's ``streams`` module declares: the channels its WS carries, its
    keep-alive, the URL of a connection, what it subscribes to and the messages doing it."""

    CHANNELS: frozenset[Channel]
    PING: PingPolicy

    def ws_url(self, base: str, symbols: Sequence[str]) -> str: ...

    def subscriptions(self, symbols: Sequence[str], channels: Iterable[Channel]) -> Sequence[Any]:
        """The venue's names (or objects) of ``symbols`` × ``channels``."""
        ...

    def subscribe_messages(self, items: Sequence[Any], /) -> list[str]:
        """The messages subscribing a connection to ``items``."""
        ...


class VenueAdapter(ABC):
    """One venue: what it offers (declared), how to connect, how to read its frames, REST.

    Subclasses set the class attributes and implement :meth:`parse`; ``venue``, ``name`` and
    ``default_rest_url`` follow from ``rest_class`` (unless set), ``ws_channels`` and ``ping``
    from ``streams``, the feed facts from ``domain.registry``.
    ``ws_url``/``rest_url`` overrides point the adapter at a simulated exchange on 127.0.0.1.
    """

    name: ClassVar[str]  # registry name, e.g. "binance_coinm"; default: ``venue``
    venue: ClassVar[str]  # the venue written on events; default: ``rest_class.venue``
    default_ws_url: ClassVar[str]
    default_rest_url: ClassVar[str]  # ``rest_class.default_base_url``
    # From domain.registry for ``venue`` (set on each subclass that names its venue):
    has_liquidation_feed: ClassVar[bool]
    liquidations_sampled: ClassVar[bool]  # True: totals from the feed are lower bounds
    streams: ClassVar[VenueStreams]  # the venue's ``streams`` module
    ws_channels: ClassVar[frozenset[Channel]]  # channels the WS can carry (``streams``)
    # Channels the WS above does not carry but the REST API serves, which a collector should
    # poll over REST instead (OKX candles: their WS channel lives on another endpoint).
    rest_polled_channels: ClassVar[frozenset[Channel]] = frozenset()
    ping: ClassVar[PingPolicy]  # from ``streams``
    max_connection_lifetime_s: ClassVar[float | None] = None  # None: no documented limit
    max_messages_per_s: ClassVar[float | None] = None
    rest_class: ClassVar[type[RestClient]]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "rest_class" in cls.__dict__:  # the REST client names the venue and its URL
            cls.default_rest_url = cls.rest_class.default_base_url
            if "venue" not in cls.__dict__:
                cls.venue = cls.rest_class.venue
            if "name" not in cls.__dict__:
                cls.name = cls.venue
        if "venue" in cls.__dict__:
            cls.has_liquidation_feed = registry.has_liquidation_feed(cls.venue)
            cls.liquidations_sampled = registry.sampled_feed(cls.venue)
        if "streams" in cls.__dict__:
            cls.ws_channels = cls.streams.CHANNELS
            cls.ping = cls.streams.PING

    def __init__(
        self,
        *,
        ws_url: str | None = None,
        rest_url: str | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        sleeper: Sleeper | None = None,
        clock: Clock | None = None,
    ) -> None:
        self.ws_base_url = (ws_url or self.default_ws_url).rstrip("/")
        self.rest_base_url = (rest_url or self.default_rest_url).rstrip("/")
        self._transport = transport
        self._sleeper = sleeper
        self.clock: Clock = clock or SYSTEM_CLOCK

    # -- streams -------------------------------------------------------------------------

    def ws_url(self, symbols: Sequence[str], channels: Iterable[Channel]) -> str:
        """The URL to connect to for these symbols and channels."""
        return self.streams.ws_url(self.ws_base_url, symbols)

    def subscribe_messages(
        self, symbols: Sequence[str], channels: Iterable[Channel]
    ) -> list[Frame]:
        """Messages to send right after connecting (and after every reconnect)."""
        st = self.streams
        return list(st.subscribe_messages(st.subscriptions(symbols, channels)))

    def stream_plan(self, symbols: str | Sequence[str], channels: Iterable[Channel]) -> StreamPlan:
        """URL + subscribe messages + keep-alive + lifetime for one connection."""
        syms = _single(symbols)
        chans = frozenset(Channel(c) for c in channels)
        self.check_channels(chans)
        return StreamPlan(
            url=self.ws_url(syms, chans),
            subscribe=self.subscribe_messages(syms, chans),
            ping=self.ping,
            max_lifetime_s=self.max_connection_lifetime_s,
            max_messages_per_s=self.max_messages_per_s,
            channels=chans,
        )

    def check_channels(self, channels: Iterable[Channel]) -> None:
        """Raise :class:`InputError` for channels this venue's WS does not carry."""
        missing = sorted(str(c) for c in channels if c not in self.ws_channels)
        if missing:
            offered = ", ".join(sorted(str(c) for c in self.ws_channels))
            raise InputError(
                f"{self.name} does not stream {', '.join(missing)} (offers: {offered})"
            )

    async def prepare(self) -> None:
        """Load what parsing needs before streaming (e.g. contract sizes); default: nothing.

        Call once before connecting; failures raise :class:`VenueError`.
        """
        return None

    # -- parsing -------------------------------------------------------------------------

    @abstractmethod
    def parse(self, frame: Frame) -> list[Event]:
        """Normalised events of one WS frame; [] for replies, pongs and unknown events.

        Raises :class:`MalformedFrame` for frames that cannot be read.
        """

    # -- REST ----------------------------------------------------------------------------

    def rest(self) -> RestClient:
        """A new REST client for this venue (close it, or use ``async with``)."""
        return self.rest_class(
            self.rest_base_url, transport=self._transport, sleeper=self._sleeper, clock=self.clock
        )

    async def fetch_klines(
        self, symbol: str, interval: str, start_ms: int, end_ms: int
    ) -> list[Candle]:
        """Backfill candles with open time in [start_ms, end_ms)."""
        async with self.rest() as client:
            return await client.klines(symbol, interval, start_ms, end_ms)

    async def fetch_open_interest(
        self, symbol: str, period: str, start_ms: int, end_ms: int
    ) -> list[OpenInterest]:
        """Backfill open interest with ts in [start_ms, end_ms)."""
        async with self.rest() as client:
            return await client.open_interest_history(symbol, period, start_ms, end_ms)

    async def fetch_tiers(self, symbol: str) -> Any:
        """The venue's public tier JSON, untouched (read by ``liqscope.domain.tiers``)."""
        async with self.rest() as client:
            return await client.tiers(symbol)
