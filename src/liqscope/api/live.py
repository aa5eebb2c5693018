"""The WebSocket hub: pushes new liquidations, closed heatmap columns and alerts.

New liquidations are found by polling the store for rows after the last id seen (every
``poll_s``, 100 ms by default), so the feed works whether the collector runs in this process or
in another one writing the same SQLite file. Messages (JSON text frames):

- ``{"type": "hello", "last_id": …, "server_ms": …}`` once, on connect;
- ``{"type": "liquidation", "id", "venue", "symbol", "native_symbol", "ts", "side", "price",
  "qty", "notional_usd", "sampled"}``;
- ``{"type": "heatmap_column", "symbol", "venues", "preset", "ts", "price", "bucket_edges",
  "long", "short", "model_version"}`` when a new model column closes for a subscribed view;
- ``{"type": "alert", "id", "ts", "rule", "kind", "symbol", "venue", "severity", "message",
  "data"}`` from ``LiveHub.publish_alert`` (the alerting engine calls it);
- ``{"type": "error", "message"}`` in answer to a bad subscription.

A client may send ``{"type": "subscribe", "symbol": "BTCUSDT", "venues": "all" | [..],
"min_usd": 0, "preset": "all"}`` (the same keys are accepted as query parameters of ``/ws``).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson
from fastapi import WebSocket, WebSocketDisconnect

from liqscope.api.backend import LiquidationRow
from liqscope.api.service import ApiError, Service

log = logging.getLogger(__name__)

SEND_TIMEOUT_S = 2.0
QUEUE_MAX = 1000


@dataclass
class Subscription:
    symbol: str | None = None  # market; None = every market
    venues: list[str] | None = None  # None = every venue
    min_usd: float = 0.0
    preset: str | None = None

    def wants(self, row: LiquidationRow) -> bool:
        return (
            (self.symbol is None or row.market == self.symbol)
            and (self.venues is None or row.venue in self.venues)
            and row.notional_usd >= self.min_usd
        )


@dataclass(eq=False)
class Client:
    ws: WebSocket
    sub: Subscription = field(default_factory=Subscription)
    queue: asyncio.Queue[bytes] = field(default_factory=lambda: asyncio.Queue(QUEUE_MAX))
    dropped: int = 0

    def offer(self, payload: bytes) -> None:
        """Queue a message; a client too slow to keep up loses its oldest messages."""
        if self.queue.full():
            with contextlib.suppress(asyncio.QueueEmpty):
                self.queue.get_nowait()
                self.dropped += 1
        self.queue.put_nowait(payload)


def liquidation_message(row: LiquidationRow) -> dict[str, Any]:
    return {
        "type": "liquidation",
        "id": row.id,
        "venue": row.venue,
        "symbol": row.market,
        "native_symbol": row.native_symbol,
        "ts": row.ts,
        "side": "long" if row.side > 0 else "short",
        "price": row.price,
        "qty": row.qty,
        "notional_usd": row.notional_usd,
        "sampled": row.sampled,
    }


class LiveHub:
    """Fan-out of live messages to WebSocket clients."""

    def __init__(self, service: Service, poll_s: float = 0.1, column_check_s: float = 1.0) -> None:
        self.service = service
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
        self._last_id = await asyncio.to_thread(self.service.backend.last_liquidation_id)
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
            c.offer(payload)

    def publish_alert(self, alert: Mapping[str, Any]) -> None:
        """Push an alert to every client. Safe to call from any thread.

        ``alert`` should carry ``rule``, ``kind`` (proximity | spike | cascade | …), ``symbol``,
        ``venue``, ``severity`` (info | warning | critical), ``message`` and ``data``; ``ts``
        defaults to now.
        """
        message: dict[str, Any] = {
            "type": "alert",
            "id": next(self._alert_ids),
            "ts": self.service.clock.now_ms(),
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
        backend = self.service.backend
        while True:
            await asyncio.sleep(self.poll_s)
            if not self.clients:
                # stay current without work per row: only the id moves
                try:
                    self._last_id = await asyncio.to_thread(backend.last_liquidation_id)
                except Exception:  # the store may be busy or rotating; try again next tick
                    log.exception("live: reading last liquidation id failed")
                continue
            try:
                rows = await asyncio.to_thread(backend.liquidations_after, self._last_id, 5000)
            except Exception:
                log.exception("live: polling liquidations failed")
                continue
            for row in rows:
                self._last_id = max(self._last_id, row.id)
                payload = orjson.dumps(liquidation_message(row))
                for c in list(self.clients):
                    if c.sub.wants(row):
                        c.offer(payload)

    async def _poll_columns(self) -> None:
        while True:
            await asyncio.sleep(self.column_check_s)
            views = {
                (c.sub.symbol, tuple(c.sub.venues or ()), c.sub.preset or "")
                for c in self.clients
                if c.sub.symbol is not None
            }
            for symbol, venues, preset in views:
                if symbol is None:
                    continue
                try:
                    await self._check_column(symbol, venues, preset)
                except Exception:
                    log.exception("live: heatmap column check failed")

    async def _check_column(self, symbol: str, venues: tuple[str, ...], preset: str) -> None:
        svc = self.service
        market, infos = svc.resolve_market(symbol)
        venue_list = list(venues) or [m.venue for m in infos]
        rng = await asyncio.to_thread(svc.backend.data_range, venue_list, market)
        if rng is None:
            return
        key = (market, tuple(venue_list), preset)
        seen = self._column_seen.get(key)
        self._column_seen[key] = rng[1]
        if seen is None or rng[1] <= seen:
            return
        body = await asyncio.to_thread(
            svc.liq_map,
            market,
            ",".join(venue_list),
            "24h",
            None,
            None,
            preset or None,
            400,
            50.0,
            None,
        )
        m = orjson.loads(body)
        message = {
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
        payload = orjson.dumps(message)
        for c in list(self.clients):
            if c.sub.symbol == market and tuple(c.sub.venues or ()) == venues:
                c.offer(payload)

    # -- one connection -------------------------------------------------------------------------

    def _subscription(self, data: Mapping[str, Any]) -> Subscription:
        sub = Subscription()
        symbol = data.get("symbol")
        if symbol:
            market, _ = self.service.resolve_market(str(symbol))
            sub.symbol = market
        venues = data.get("venues")
        if isinstance(venues, list):
            venues = ",".join(str(v) for v in venues)
        if venues and str(venues).lower() != "all":
            names = [v.strip().lower() for v in str(venues).split(",") if v.strip()]
            unknown = [v for v in names if v not in self.service.known_venues()]
            if unknown:
                raise ApiError(422, "venues", f"unknown venue {unknown[0]!r}")
            sub.venues = names
        min_usd = data.get("min_usd", 0)
        try:
            sub.min_usd = float(min_usd or 0)
        except (TypeError, ValueError):
            raise ApiError(422, "min_usd", "min_usd must be a number") from None
        if not sub.min_usd >= 0 or sub.min_usd == float("inf"):
            raise ApiError(422, "min_usd", "min_usd must be a finite number >= 0")
        preset = data.get("preset")
        if preset:
            sub.preset = self.service.resolve_preset(str(preset))
        return sub

    async def handle(self, ws: WebSocket) -> None:
        await ws.accept()
        client = Client(ws)
        try:
            client.sub = await asyncio.to_thread(self._subscription, dict(ws.query_params))
        except ApiError as exc:
            await ws.send_text(orjson.dumps({"type": "error", "message": exc.message}).decode())
        self.clients.add(client)
        sender = asyncio.create_task(self._sender(client))
        try:
            await ws.send_text(
                orjson.dumps(
                    {
                        "type": "hello",
                        "last_id": self._last_id,
                        "server_ms": self.service.clock.now_ms(),
                    }
                ).decode()
            )
            while True:
                text = await ws.receive_text()
                try:
                    data = orjson.loads(text)
                    if not isinstance(data, dict):
                        raise ApiError(422, None, "messages must be JSON objects")
                    if data.get("type", "subscribe") == "subscribe":
                        client.sub = await asyncio.to_thread(self._subscription, data)
                        client.offer(orjson.dumps({"type": "subscribed", **_sub_dict(client.sub)}))
                    elif data.get("type") == "ping":
                        client.offer(b'{"type":"pong"}')
                except (orjson.JSONDecodeError, ApiError) as exc:
                    msg = exc.message if isinstance(exc, ApiError) else "invalid JSON"
                    client.offer(orjson.dumps({"type": "error", "message": msg}))
        except WebSocketDisconnect:
            pass
        finally:
            self.clients.discard(client)
            sender.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await sender

    async def _sender(self, client: Client) -> None:
        try:
            while True:
                payload = await client.queue.get()
                await asyncio.wait_for(client.ws.send_text(payload.decode()), SEND_TIMEOUT_S)
        except (TimeoutError, WebSocketDisconnect, RuntimeError):
            self.clients.discard(client)
            with contextlib.suppress(Exception):
                await client.ws.close()


def _sub_dict(sub: Subscription) -> dict[str, Any]:
    return {
        "symbol": sub.symbol,
        "venues": sub.venues,
        "min_usd": sub.min_usd,
        "preset": sub.preset,
    }
