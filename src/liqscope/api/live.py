"""The WebSocket hub: pushes new liquidations, closed heatmap columns and alerts.

New liquidations are found by polling the store for rows after the last id seen (every
``poll_s``), read in pages of ``PAGE`` rows until the store has no more, so a burst of any
size reaches every client that keeps up. Each client has a bounded queue; a client too slow
to keep up loses what overflowed and gets one ``gap`` message telling it to refetch.
Messages (JSON text frames):

- ``{"type": "hello", "last_id": …, "server_ms": …}`` once, on connect;
- ``{"type": "liquidation", "id", "venue", "symbol", "native_symbol", "ts", "side", "price",
  "qty", "notional_usd", "sampled"}`` (as the feed's items);
- ``{"type": "gap", "dropped": n, "last_id": …, "message": …}`` when messages were dropped:
  refetch ``/api/liquidations/feed`` (rows after ``last_id`` keep coming);
- ``{"type": "heatmap_column", "symbol", "venues", "preset", "ts", "price", "bucket_edges",
  "long", "short", "model_version"}`` when a new model column closes for a subscribed view;
- ``{"type": "alert", …}`` from :meth:`LiveHub.publish_alert`;
- ``{"type": "subscribed", …}`` / ``{"type": "error", "message"}`` in answer to a
  subscription. A refused subscription (unknown symbol, bad venue) leaves the previous one in
  force; a connection whose first subscription is refused receives no liquidations until a
  valid one.

A client may send ``{"type": "subscribe", "symbol": "BTCUSDT", "venues": "all" | [..],
"min_usd": 0, "preset": "all"}`` (the same keys are accepted as query parameters of ``/ws``)
or ``{"type": "ping"}``. Binary frames and frames that are not JSON objects are ignored.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson
from fastapi import WebSocket, WebSocketDisconnect

from liqscope.api.context import Context
from liqscope.api.errors import ApiError
from liqscope.api.params import MapParams
from liqscope.api.source import StoredLiquidation
from liqscope.api.views.map import map_body
from liqscope.api.views.realized import liquidation_json
from liqscope.domain.aio import text_frames
from liqscope.domain.records import Record

__all__ = ["Client", "LiveHub", "Subscription"]

log = logging.getLogger(__name__)

SEND_TIMEOUT_S = 5.0
QUEUE_MAX = 5000  # messages held per client (bounded memory)
PAGE = 1000  # rows read from the store at a time
PAGES_PER_TICK = 50
MAX_FRAME = 4096  # longest client frame read


@dataclass
class Subscription(Record):
    symbol: str | None = None  # market; None = every market
    venues: list[str] | None = None  # None = every venue
    min_usd: float = 0.0
    preset: str | None = None
    active: bool = True  # False: refused, nothing is pushed

    def wants(self, row: StoredLiquidation) -> bool:
        return (
            self.active
            and (self.symbol is None or row.market == self.symbol)
            and (self.venues is None or row.event.venue in self.venues)
            and row.event.notional_usd >= self.min_usd
        )

    def as_dict(self) -> dict[str, Any]:
        """What the ``subscribed`` reply states: every field but ``active``."""
        out = self.to_dict()
        del out["active"]
        return out


@dataclass(eq=False)
class Client:
    ws: WebSocket
    sub: Subscription = field(default_factory=Subscription)
    queue: asyncio.Queue[bytes] = field(default_factory=lambda: asyncio.Queue(QUEUE_MAX))
    dropped: int = 0

    def offer(self, payload: bytes, last_id: int | None = None) -> None:
        """Queue a message; on overflow the queue is emptied and a ``gap`` message queued."""
        if self.queue.full():
            lost = 0
            while not self.queue.empty():
                self.queue.get_nowait()
                lost += 1
            self.dropped += lost + 1
            gap = {
                "type": "gap",
                "dropped": lost + 1,
                "last_id": last_id,
                "message": "messages were dropped: refetch /api/liquidations/feed",
            }
            self.queue.put_nowait(orjson.dumps(gap))
            return
        self.queue.put_nowait(payload)

    def backlog(self) -> int:
        return self.queue.qsize()


class LiveHub:
    """Fan-out of live messages to WebSocket clients."""

    def __init__(self, ctx: Context, poll_s: float = 0.1, column_check_s: float = 1.0) -> None:
        self.ctx = ctx
        self.poll_s = poll_s
        self.column_check_s = column_check_s
        self.clients: set[Client] = set()
        self._tasks: list[asyncio.Task[None]] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._last_id = 0
        self._column_seen: dict[tuple[str, tuple[str, ...], str], int] = {}
        self._alert_ids = itertools.count(1)

    # -- lifecycle ------------------------------------------------------------------------------

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._last_id = await asyncio.to_thread(self.ctx.source.last_liquidation_id)
        self._tasks = [
            asyncio.create_task(self._poll_liquidations()),
            asyncio.create_task(self._poll_columns()),
        ]

    async def stop(self) -> None:
        for t in self._tasks:
            t.cancel()
        for t in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await t
        self._tasks = []

    # -- publishing -----------------------------------------------------------------------------

    def _broadcast(self, message: Mapping[str, Any]) -> None:
        payload = orjson.dumps(message)
        for c in list(self.clients):
            c.offer(payload, self._last_id)

    def publish_alert(self, alert: Mapping[str, Any]) -> None:
        """Push an alert to every client. Safe to call from any thread.

        ``alert`` should carry ``rule``, ``kind``, ``symbol``, ``venue``, ``severity`` (info |
        warning | critical), ``message`` and ``data``; ``ts`` defaults to now.
        """
        message: dict[str, Any] = {
            "type": "alert",
            "id": next(self._alert_ids),
            "ts": self.ctx.clock.now_ms(),
            "rule": None,
            "kind": None,
            "symbol": None,
            "venue": None,
            "severity": "info",
            "message": "",
            "data": {},
        }
        message.update({k: v for k, v in alert.items() if k != "type"})
        loop = self._loop
        if loop is None:
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            self._broadcast(message)
        else:
            loop.call_soon_threadsafe(self._broadcast, message)

    # -- pollers --------------------------------------------------------------------------------

    async def _poll_liquidations(self) -> None:
        source = self.ctx.source
        while True:
            await asyncio.sleep(self.poll_s)
            try:
                if not self.clients:  # stay current without work per row: only the id moves
                    self._last_id = await asyncio.to_thread(source.last_liquidation_id)
                    continue
                for _ in range(PAGES_PER_TICK):
                    rows = await asyncio.to_thread(source.liquidations_after, self._last_id, PAGE)
                    await self._push(rows)
                    if len(rows) < PAGE:
                        break
            except RuntimeError as exc:
                if "shutdown" in str(exc):  # the loop's executor is gone: the app is stopping
                    return
                log.exception("live: polling liquidations failed")
            except Exception:  # the store may be busy or rotating; try again next tick
                log.exception("live: polling liquidations failed")

    async def _push(self, rows: list[StoredLiquidation]) -> None:
        """Offer ``rows`` to the clients that want them, then let the senders drain."""
        for row in rows:
            self._last_id = max(self._last_id, row.id)
            payload: bytes | None = None
            for c in list(self.clients):
                if c.sub.wants(row):
                    payload = payload or orjson.dumps(
                        {"type": "liquidation", **liquidation_json(row)}
                    )
                    c.offer(payload, row.id)
        # back-pressure: give clients that keep up the time to take a page before the next
        for _ in range(100):
            if all(c.backlog() < QUEUE_MAX // 2 for c in self.clients):
                break
            await asyncio.sleep(0.01)

    async def _poll_columns(self) -> None:
        while True:
            await asyncio.sleep(self.column_check_s)
            views = {
                (c.sub.symbol, tuple(c.sub.venues or ()), c.sub.preset or "")
                for c in self.clients
                if c.sub.symbol is not None and c.sub.active
            }
            for symbol, venues, preset in views:
                if symbol is None:
                    continue
                try:
                    await self._check_column(symbol, venues, preset)
                except Exception:
                    log.exception("live: heatmap column check failed")

    async def _check_column(self, symbol: str, venues: tuple[str, ...], preset: str) -> None:
        ctx = self.ctx
        market, refs = ctx.resolve_market(symbol)
        venue_list = list(venues) or [m.venue for m in refs]
        rng = await asyncio.to_thread(ctx.source.data_range, venue_list, market)
        if rng is None:
            return
        key = (market, tuple(venue_list), preset)
        seen = self._column_seen.get(key)
        self._column_seen[key] = rng[1]
        if seen is None or rng[1] <= seen:
            return
        params = MapParams(
            symbol=market,
            venues=",".join(venue_list),
            preset=preset or None,
            range_="24h",
            buckets=400,
            window_pct=50.0,
        )
        body = await asyncio.to_thread(map_body, ctx, params)
        m = orjson.loads(body.raw)
        payload = orjson.dumps(
            {
                "type": "heatmap_column",
                "symbol": market,
                "venues": venue_list,
                "preset": m["preset"],
                "ts": m["ts"],
                "price": m["price"],
                "bucket_edges": m["bucket_edges"],
                "long": m["long_total"],
                "short": m["short_total"],
                "model_version": m["model_version"],
            }
        )
        for c in list(self.clients):
            if c.sub.symbol == market and tuple(c.sub.venues or ()) == venues:
                c.offer(payload, self._last_id)

    # -- one connection -------------------------------------------------------------------------

    def _subscription(self, data: Mapping[str, Any]) -> Subscription:
        """A checked subscription; ApiError names what is wrong."""
        ctx = self.ctx
        sub = Subscription()
        symbol = data.get("symbol")
        if symbol is not None and str(symbol).strip():
            if not isinstance(symbol, str) or len(symbol) > 40:
                raise ApiError(422, "symbol", "symbol must be a market name")
            sub.symbol, _ = ctx.resolve_market(symbol)
        venues = data.get("venues")
        if isinstance(venues, list):
            venues = ",".join(str(v) for v in venues)
        if venues is not None and str(venues).strip().lower() not in ("", "all"):
            names = [v.strip().lower() for v in str(venues).split(",") if v.strip()]
            unknown = [v for v in names if v not in ctx.known_venues()]
            if unknown or not names:
                raise ApiError(422, "venues", f"unknown venue {(unknown or [''])[0]!r}")
            sub.venues = names
        try:
            sub.min_usd = float(data.get("min_usd") or 0)
        except (TypeError, ValueError):
            raise ApiError(422, "min_usd", "min_usd must be a number") from None
        if not (math.isfinite(sub.min_usd) and sub.min_usd >= 0):
            raise ApiError(422, "min_usd", "min_usd must be a finite number >= 0")
        preset = data.get("preset")
        if preset:
            sub.preset = ctx.resolve_preset(str(preset))
        return sub

    async def _subscribe(self, client: Client, data: Mapping[str, Any], reply: bool) -> bool:
        """Replace the client's subscription; False (and an error message) when refused."""
        try:
            client.sub = await asyncio.to_thread(self._subscription, data)
        except ApiError as exc:
            client.offer(orjson.dumps({"type": "error", "message": exc.message}))
            return False
        if reply:
            client.offer(orjson.dumps({"type": "subscribed", **client.sub.as_dict()}))
        return True

    async def _message(self, client: Client, text: str) -> None:
        if len(text) > MAX_FRAME:
            client.offer(b'{"type":"error","message":"message too long"}')
            return
        try:
            data = orjson.loads(text)
        except orjson.JSONDecodeError:
            client.offer(b'{"type":"error","message":"invalid JSON"}')
            return
        if not isinstance(data, dict):
            client.offer(b'{"type":"error","message":"messages must be JSON objects"}')
        elif data.get("type", "subscribe") == "subscribe":
            await self._subscribe(client, data, reply=True)
        elif data.get("type") == "ping":
            client.offer(b'{"type":"pong"}')

    async def handle(self, ws: WebSocket) -> None:
        await ws.accept()
        client = Client(ws)
        query = dict(ws.query_params)
        if query and not await self._subscribe(client, query, reply=False):
            client.sub = Subscription(active=False)  # refused: nothing until a valid one
        self.clients.add(client)
        hello = {"type": "hello", "last_id": self._last_id, "server_ms": self.ctx.clock.now_ms()}
        sender = asyncio.create_task(self._sender(client, orjson.dumps(hello)))
        try:
            async for text in text_frames(ws.receive):  # binary frames are ignored
                await self._message(client, text)
        finally:
            self.clients.discard(client)
            sender.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await sender

    async def _sender(self, client: Client, hello: bytes) -> None:
        try:
            await client.ws.send_text(hello.decode())
            while True:
                payload = await client.queue.get()
                # asyncio.timeout, not wait_for: on 3.11 wait_for swallows a cancel that lands
                # as the send completes, and this loop would then outlive its connection
                async with asyncio.timeout(SEND_TIMEOUT_S):
                    await client.ws.send_text(payload.decode())
        except (TimeoutError, WebSocketDisconnect, RuntimeError):
            self.clients.discard(client)
            with contextlib.suppress(Exception):
                await client.ws.close()
