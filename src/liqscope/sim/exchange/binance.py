"""Simulated Binance USDⓈ-M futures: fstream-style WS and the fapi REST endpoints we use.

Wire facts (exchange-reference §2): forceOrder is sampled (the latest liquidation per symbol per
1000 ms; the truth keeps all), ``S`` is the liquidation *order* side (SELL = a long was
liquidated), sizes are base units, ``p`` is the engine's limit (bankruptcy) price and ``ap`` the
average fill. Numbers are strings where Binance sends strings; ids and times are integers.
"""

from __future__ import annotations

import time
from typing import Any, ClassVar

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Mount, Route, WebSocketRoute
from starlette.websockets import WebSocket

from liqscope.sim.exchange.history import (
    MarketHistory,
    align,
    candle,
    candles,
    fmt_fixed,
    fmt_px,
    fmt_qty,
    next_funding_ms,
)
from liqscope.sim.exchange.server import (
    BadParam,
    Conn,
    Outgoing,
    SentLiquidation,
    VenueServer,
    int_param,
    json_response,
    second_marks,
)

MINUTE = 60_000
HOUR = 60 * MINUTE
DAY = 24 * HOUR
INTERVALS = {
    "1m": MINUTE,
    "3m": 3 * MINUTE,
    "5m": 5 * MINUTE,
    "15m": 15 * MINUTE,
    "30m": 30 * MINUTE,
    "1h": HOUR,
    "2h": 2 * HOUR,
    "4h": 4 * HOUR,
    "6h": 6 * HOUR,
    "8h": 8 * HOUR,
    "12h": 12 * HOUR,
    "1d": DAY,
}
OI_PERIODS = {
    k: v
    for k, v in INTERVALS.items()
    if k in ("5m", "15m", "30m", "1h", "2h", "4h", "6h", "12h", "1d")
}
AGG_ID_BASE = 1_000_000_000
TRADE_ID_BASE = 5_000_000_000


def _kline_weight(limit: int) -> int:
    return 1 if limit < 100 else 2 if limit < 500 else 5 if limit <= 1000 else 10


class BinanceServer(VenueServer):
    venue = "binance"
    lifetime_ms: ClassVar[int | None] = DAY

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._weight_minute = 0
        self._weight = 0

    # -- routes -------------------------------------------------------------------------------
    def routes(self) -> list[BaseRoute]:
        ws = [
            WebSocketRoute("/stream", self._ws_combined),
            WebSocketRoute("/ws", self._ws_raw),
            WebSocketRoute("/ws/{streams:path}", self._ws_raw),
        ]
        r = self.rest
        return [
            *ws,
            Mount("/market", routes=ws),  # the 2026 split URLs (/market/stream, /market/ws/…)
            Route("/fapi/v1/ping", r(self._ping)),
            Route("/fapi/v1/time", r(self._time)),
            Route("/fapi/v1/exchangeInfo", r(self._exchange_info)),
            Route("/fapi/v1/klines", r(self._klines)),
            Route("/fapi/v1/openInterest", r(self._open_interest)),
            Route("/futures/data/openInterestHist", r(self._open_interest_hist)),
            Route("/fapi/v1/aggTrades", r(self._agg_trades)),
            Route("/fapi/v1/fundingRate", r(self._funding_rate)),
        ]

    def error_body(self, status: int, msg: str, code: int | str) -> Any:
        if status == 418:
            return {"code": -1003, "msg": f"Way too many requests; IP banned. {msg}"}
        if status == 429:
            return {"code": -1003, "msg": f"Too many requests; {msg}"}
        return {"code": code, "msg": msg}

    def _respond(self, data: Any, weight: int) -> Response:
        minute = int(time.time() // 60)
        if minute != self._weight_minute:
            self._weight_minute, self._weight = minute, 0
        self._weight += weight
        return json_response(data, headers={"X-MBX-USED-WEIGHT-1M": str(self._weight)})

    # -- streams ------------------------------------------------------------------------------
    def canonical(self, name: str) -> str:
        """The canonical stream name, or ValueError for a stream this server does not know."""
        low = name.strip().lower()
        globals_ = {
            "!forceorder@arr": "!forceOrder@arr",
            "!markprice@arr": "!markPrice@arr",
            "!markprice@arr@1s": "!markPrice@arr@1s",
        }
        if low in globals_:
            return globals_[low]
        sym, _, kind = name.strip().partition("@")
        sym = sym.lower()
        if sym.upper() not in self.histories:
            raise ValueError(f"unknown symbol in stream {name!r}")
        kinds = {
            "aggtrade": "aggTrade",
            "markprice": "markPrice",
            "markprice@1s": "markPrice@1s",
            "forceorder": "forceOrder",
        }
        if kind.lower() in kinds:
            return f"{sym}@{kinds[kind.lower()]}"
        if kind.startswith("kline_") and kind[6:] in INTERVALS:  # case matters: 1m is not 1M
            return f"{sym}@{kind}"
        raise ValueError(f"unknown stream {name!r}")

    async def _ws_combined(self, ws: WebSocket) -> None:
        names = [s for s in ws.query_params.get("streams", "").split("/") if s]
        await self._open(ws, names, combined=True)

    async def _ws_raw(self, ws: WebSocket) -> None:
        path = ws.path_params.get("streams", "")
        await self._open(ws, [s for s in path.split("/") if s], combined=False)

    async def _open(self, ws: WebSocket, names: list[str], combined: bool) -> None:
        try:
            topics = [self.canonical(n) for n in names]
        except ValueError:
            await ws.close(1008)
            return
        await self.serve_ws(ws, topics, combined)

    def frame(self, conn: Conn, out: Outgoing) -> str:
        if conn.combined:
            return orjson.dumps({"stream": out.topic, "data": out.payload}).decode()
        return orjson.dumps(out.payload).decode()

    async def on_text(self, conn: Conn, text: str) -> None:
        try:
            msg = orjson.loads(text)
            method = msg["method"]
            req_id = msg.get("id")
            params = msg.get("params", [])
            if not isinstance(params, list):
                raise TypeError("params must be a list")
        except (orjson.JSONDecodeError, KeyError, TypeError):
            conn.put(orjson.dumps({"error": {"code": 3, "msg": "Invalid JSON"}}).decode())
            return
        if method in ("SUBSCRIBE", "UNSUBSCRIBE"):
            try:
                topics = [self.canonical(str(p)) for p in params]
            except ValueError as exc:
                err = {"error": {"code": 2, "msg": f"Invalid request: {exc}"}, "id": req_id}
                conn.put(orjson.dumps(err).decode())
                return
            if method == "SUBSCRIBE":
                self.subscribe(conn, topics)
            else:
                conn.topics.difference_update(topics)
            conn.put(orjson.dumps({"result": None, "id": req_id}).decode())
        elif method == "LIST_SUBSCRIPTIONS":
            conn.put(orjson.dumps({"result": sorted(conn.topics), "id": req_id}).decode())
        else:
            err = {
                "error": {"code": 2, "msg": f"Invalid request: unknown method {method!r}"},
                "id": req_id,
            }
            conn.put(orjson.dumps(err).decode())

    # -- emission -----------------------------------------------------------------------------
    def liquidation_topic(self, symbol: str) -> str:
        return f"{symbol.lower()}@forceOrder"

    def emit(self, h: MarketHistory, t0: int, t1: int, wanted: set[str]) -> list[Outgoing]:
        s = h.symbol.lower()
        out: list[Outgoing] = []
        if f"{s}@aggTrade" in wanted:
            i0, i1 = h.span("trade", t0, t1)
            for i in range(i0, i1):
                out.append(Outgoing(f"{s}@aggTrade", self._agg_trade(h, i, event=True)))
        for topic, every in (
            (f"{s}@markPrice@1s", 1000),
            (f"{s}@markPrice", 3000),
            ("!markPrice@arr@1s", 1000),
            ("!markPrice@arr", 3000),
        ):
            if topic in wanted:
                for t in second_marks(t0, t1, every):
                    j = h.sec_index(t)
                    if j >= 0:
                        p = self._mark(h, j, t)
                        out.append(Outgoing(topic, [p] if topic.startswith("!") else p))
        for topic in wanted:
            if topic.startswith(f"{s}@kline_"):
                out.extend(self._kline_events(h, topic, t0, t1))
        if f"{s}@forceOrder" in wanted or "!forceOrder@arr" in wanted:
            for e in second_marks(t0, t1, 1000):
                j0, j1 = h.span("liq", e - 1000, e)
                if j1 > j0:  # sampling: only the latest liquidation of the window is pushed
                    payload, liq = self._force_order(h, j1 - 1, e)
                    out.append(Outgoing(f"{s}@forceOrder", payload, (liq,)))
                    out.append(Outgoing("!forceOrder@arr", payload, (liq,)))
        return out

    def _agg_trade(self, h: MarketHistory, i: int, event: bool) -> dict[str, Any]:
        ts = int(h.col("trade_ts")[i])
        px = float(h.col("trade_px")[i])
        rec: dict[str, Any] = {}
        if event:
            rec = {"e": "aggTrade", "E": ts, "s": h.symbol}
        rec.update(
            {
                "a": AGG_ID_BASE + i,
                "p": fmt_px(px),
                "q": fmt_qty(float(h.col("trade_qty")[i])),
                "f": TRADE_ID_BASE + i,
                "l": TRADE_ID_BASE + i,
                "T": ts,
                "m": bool(h.col("trade_taker")[i] < 0),  # buyer is maker: the taker sold
            }
        )
        return rec

    def _mark(self, h: MarketHistory, j: int, t: int) -> dict[str, Any]:
        index = float(h.col("index_px")[j])
        return {
            "e": "markPriceUpdate",
            "E": t,
            "s": h.symbol,
            "p": fmt_fixed(float(h.col("mark_px")[j]), 8),
            "i": fmt_fixed(index, 8),
            "P": fmt_fixed(index, 8),
            "r": fmt_fixed(float(h.col("funding_rate")[j]), 8),
            "T": next_funding_ms(t),
        }

    def _kline_events(self, h: MarketHistory, topic: str, t0: int, t1: int) -> list[Outgoing]:
        name = topic.split("@kline_", 1)[1]
        iv = INTERVALS[name]
        out = []
        for b in second_marks(t0, t1, 1000):
            if b <= h.start_ms:
                continue
            c = candle(h, align(b - 1, iv), iv, b)
            if c is None:
                continue
            out.append(
                Outgoing(
                    topic, {"e": "kline", "E": b, "s": h.symbol, "k": self._kline_obj(h, c, name)}
                )
            )
        return out

    def _kline_obj(self, h: MarketHistory, c: Any, name: str) -> dict[str, Any]:
        return {
            "t": c.open_ms,
            "T": c.open_ms + c.interval_ms - 1,
            "s": h.symbol,
            "i": name,
            "f": TRADE_ID_BASE + c.first_index if c.trades else -1,
            "L": TRADE_ID_BASE + c.last_index if c.trades else -1,
            "o": fmt_px(c.open),
            "c": fmt_px(c.close),
            "h": fmt_px(c.high),
            "l": fmt_px(c.low),
            "v": fmt_qty(c.volume),
            "n": c.trades,
            "x": c.closed,
            "q": fmt_fixed(c.quote_volume, 4),
            "V": fmt_qty(c.taker_buy_base),
            "Q": fmt_fixed(c.taker_buy_quote, 4),
            "B": "0",
        }

    def _force_order(
        self, h: MarketHistory, j: int, e: int
    ) -> tuple[dict[str, Any], SentLiquidation]:
        side = int(h.col("liq_side")[j])
        qty = float(h.col("liq_qty")[j])
        px = float(h.col("liq_px")[j])
        bk = float(h.col("liq_bk_px")[j])
        ts = int(h.col("liq_ts")[j])
        q = fmt_qty(qty)
        order = {
            "s": h.symbol,
            "S": "SELL" if side > 0 else "BUY",  # the liquidation order closes the position
            "o": "LIMIT",
            "f": "IOC",
            "q": q,
            "p": fmt_px(bk, px),
            "ap": fmt_px(px),
            "X": "FILLED",
            "l": q,
            "z": q,
            "T": ts,
        }
        liq = SentLiquidation(self.venue, h.symbol, j, ts, side, qty, px, bk, order)
        return {"e": "forceOrder", "E": e, "o": order}, liq

    # -- REST ---------------------------------------------------------------------------------
    async def _ping(self, request: Request) -> Response:
        return self._respond({}, 1)

    async def _time(self, request: Request) -> Response:
        return self._respond({"serverTime": self.clock.now_ms()}, 1)

    async def _exchange_info(self, request: Request) -> Response:
        now = self.clock.now_ms()
        symbols = []
        for h in self.histories.values():
            inst = h.instrument
            symbols.append(
                {
                    "symbol": h.symbol,
                    "pair": h.symbol,
                    "contractType": "PERPETUAL",
                    "deliveryDate": 4133404800000,
                    "onboardDate": h.start_ms,
                    "status": "TRADING",
                    "maintMarginPercent": "2.5000",
                    "requiredMarginPercent": "5.0000",
                    "baseAsset": inst.base,
                    "quoteAsset": inst.quote,
                    "marginAsset": inst.quote,
                    "pricePrecision": 2,
                    "quantityPrecision": 3,
                    "baseAssetPrecision": 8,
                    "quotePrecision": 8,
                    "underlyingType": "COIN",
                    "underlyingSubType": [],
                    "triggerProtect": "0.0500",
                    "liquidationFee": "0.012500",
                    "marketTakeBound": "0.05",
                    "maxMoveOrderLimit": 10000,
                    "filters": [
                        {
                            "filterType": "PRICE_FILTER",
                            "minPrice": "0.10",
                            "maxPrice": "4529764",
                            "tickSize": "0.10",
                        },
                        {
                            "filterType": "LOT_SIZE",
                            "minQty": "0.001",
                            "maxQty": "1000",
                            "stepSize": "0.001",
                        },
                        {
                            "filterType": "MARKET_LOT_SIZE",
                            "minQty": "0.001",
                            "maxQty": "120",
                            "stepSize": "0.001",
                        },
                        {"filterType": "MAX_NUM_ORDERS", "limit": 200},
                        {"filterType": "MAX_NUM_ALGO_ORDERS", "limit": 10},
                        {"filterType": "MIN_NOTIONAL", "notional": "100"},
                        {
                            "filterType": "PERCENT_PRICE",
                            "multiplierUp": "1.0500",
                            "multiplierDown": "0.9500",
                            "multiplierDecimal": "4",
                        },
                    ],
                    "orderTypes": [
                        "LIMIT",
                        "MARKET",
                        "STOP",
                        "STOP_MARKET",
                        "TAKE_PROFIT",
                        "TAKE_PROFIT_MARKET",
                        "TRAILING_STOP_MARKET",
                    ],
                    "timeInForce": ["GTC", "IOC", "FOK", "GTX", "GTD"],
                }
            )
        body = {
            "timezone": "UTC",
            "serverTime": now,
            "futuresType": "U_MARGINED",
            "rateLimits": [
                {
                    "rateLimitType": "REQUEST_WEIGHT",
                    "interval": "MINUTE",
                    "intervalNum": 1,
                    "limit": 2400,
                },
                {"rateLimitType": "ORDERS", "interval": "MINUTE", "intervalNum": 1, "limit": 1200},
            ],
            "exchangeFilters": [],
            "assets": [{"asset": "USDT", "marginAvailable": True, "autoAssetExchange": "-10000"}],
            "symbols": symbols,
        }
        return self._respond(body, 1)

    async def _klines(self, request: Request) -> Response:
        q = request.query_params
        h = self.history(q.get("symbol"))
        name = q.get("interval")
        if name not in INTERVALS:
            raise BadParam("Invalid interval.", -1120)
        limit = int_param(request, "limit", 500, 1, 1500) or 500
        now = self.clock.now_ms()
        rows = [
            [
                c.open_ms,
                fmt_px(c.open),
                fmt_px(c.high),
                fmt_px(c.low),
                fmt_px(c.close),
                fmt_qty(c.volume),
                c.open_ms + c.interval_ms - 1,
                fmt_fixed(c.quote_volume, 4),
                c.trades,
                fmt_qty(c.taker_buy_base),
                fmt_fixed(c.taker_buy_quote, 4),
                "0",
            ]
            for c in candles(
                h,
                INTERVALS[name],
                now,
                start_ms=int_param(request, "startTime"),
                end_ms=int_param(request, "endTime"),
                limit=limit,
            )
        ]
        return self._respond(rows, _kline_weight(limit))

    async def _open_interest(self, request: Request) -> Response:
        h = self.history(request.query_params.get("symbol"))
        now = self.clock.now_ms()
        j = h.sec_index(now)
        oi = float(h.col("oi_base")[j]) if j >= 0 else 0.0
        return self._respond({"openInterest": fmt_qty(oi), "symbol": h.symbol, "time": now}, 1)

    async def _open_interest_hist(self, request: Request) -> Response:
        q = request.query_params
        h = self.history(q.get("symbol"))
        period = q.get("period")
        if period not in OI_PERIODS:
            raise BadParam("Invalid period.", -1130)
        limit = int_param(request, "limit", 30, 1, 500) or 30
        step = OI_PERIODS[period]
        now = self.clock.now_ms()
        lo_bound = max(now - 30 * DAY, h.start_ms)  # only the last 30 days are kept
        first = -(-lo_bound // step) * step
        last = align(now, step)
        start, end = int_param(request, "startTime"), int_param(request, "endTime")
        if end is not None:
            last = min(last, align(end, step))
        if start is not None:
            lo = max(first, -(-start // step) * step)
            stamps = range(lo, min(last, lo + (limit - 1) * step) + 1, step)
        else:
            stamps = range(max(first, last - (limit - 1) * step), last + 1, step)
        rows = []
        for t in stamps:
            j = h.sec_index(t)
            if j < 0:
                continue
            oi = float(h.col("oi_base")[j])
            rows.append(
                {
                    "symbol": h.symbol,
                    "sumOpenInterest": fmt_qty(oi),
                    "sumOpenInterestValue": fmt_fixed(oi * float(h.col("mark_px")[j]), 8),
                    "timestamp": str(t),
                }
            )
        return self._respond(rows, 0)

    async def _agg_trades(self, request: Request) -> Response:
        h = self.history(request.query_params.get("symbol"))
        limit = int_param(request, "limit", 500, 1, 1000) or 500
        from_id = int_param(request, "fromId")
        start, end = int_param(request, "startTime"), int_param(request, "endTime")
        now = self.clock.now_ms()
        _, n_now = h.span("trade", h.start_ms, now + 1)
        if from_id is not None:
            i0 = max(0, from_id - AGG_ID_BASE)
            i1 = min(n_now, i0 + limit)
        elif start is not None or end is not None:
            if start is not None and end is not None and end - start >= HOUR:
                raise BadParam("More than 1 hours between startTime and endTime.", -1127)
            if start is None:
                start = end - HOUR  # type: ignore[operator]  # end is set on this branch
            if end is None:
                end = start + HOUR
            i0, i1 = h.span("trade", start, min(end, now) + 1)
            i1 = min(i1, i0 + limit)
        else:
            i0, i1 = max(0, n_now - limit), n_now
        rows = [self._agg_trade(h, i, event=False) for i in range(i0, max(i0, i1))]
        return self._respond(rows, 20)

    async def _funding_rate(self, request: Request) -> Response:
        h = self.history(request.query_params.get("symbol"))
        limit = int_param(request, "limit", 100, 1, 1000) or 100
        now = self.clock.now_ms()
        step = 8 * HOUR
        start, end = int_param(request, "startTime"), int_param(request, "endTime")
        last = align(min(now, end) if end is not None else now, step)
        first = -(-max(h.start_ms, start or 0) // step) * step
        stamps = list(range(first, last + 1, step))
        stamps = stamps[:limit] if start is not None else stamps[-limit:]
        rows = []
        for t in stamps:
            j = h.sec_index(t)
            if j >= 0:
                rows.append(
                    {
                        "symbol": h.symbol,
                        "fundingTime": t,
                        "fundingRate": fmt_fixed(float(h.col("funding_rate")[j]), 8),
                        "markPrice": fmt_fixed(float(h.col("mark_px")[j]), 8),
                    }
                )
        return self._respond(rows, 1)
