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

from liqscope.domain.intervals import DAY_MS, HOUR_MS
from liqscope.domain.intervals import INTERVALS as DOMAIN_INTERVALS
from liqscope.sim.config import FUNDING_INTERVAL_MS
from liqscope.sim.exchange.history import (
    Candle,
    MarketHistory,
    candles,
    fmt_fixed,
    fmt_px,
    next_funding_ms,
    stamps,
)
from liqscope.sim.exchange.quotes import (
    book,
    day_stats,
    fmt_lot,
    liquidation,
    on_lot,
    top_of_book,
    wire_levels,
)
from liqscope.sim.exchange.server import (
    BadParam,
    Conn,
    Outgoing,
    SentLiquidation,
    VenueServer,
    choice_param,
    int_param,
    json_response,
    live_candles,
    second_marks,
)

INTERVALS = {k: ms for k, ms in DOMAIN_INTERVALS.items() if k not in ("3d", "1w")}
OI_PERIODS = {
    k: v
    for k, v in INTERVALS.items()
    if k in ("5m", "15m", "30m", "1h", "2h", "4h", "6h", "12h", "1d")
}
AGG_ID_BASE = 1_000_000_000
TRADE_ID_BASE = 5_000_000_000
LOT = 0.001  # BTCUSDT stepSize (base units)
TICK = 0.1
DEPTHS = (5, 10, 20)
# stream kinds (lower case) -> canonical spelling
_KINDS = {
    "aggtrade": "aggTrade",
    "trade": "trade",
    "markprice": "markPrice",
    "markprice@1s": "markPrice@1s",
    "forceorder": "forceOrder",
    "miniticker": "miniTicker",
    "ticker": "ticker",
    "bookticker": "bookTicker",
    "depth": "depth",
    **{f"depth{n}": f"depth{n}" for n in DEPTHS},
}
_SPEEDS = ("@100ms", "@250ms", "@500ms")


def _kline_weight(limit: int) -> int:
    return 1 if limit < 100 else 2 if limit < 500 else 5 if limit <= 1000 else 10


class BinanceServer(VenueServer):
    venue = "binance"
    lifetime_ms: ClassVar[int | None] = DAY_MS

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
            # the split URLs (/market/…, /public/…; ccxt.pro opens /market/ws/<n>)
            Mount("/market", routes=ws),
            Mount("/public", routes=ws),
            Route("/fapi/v1/ping", r(self._ping)),
            Route("/fapi/v1/time", r(self._time)),
            Route("/fapi/v1/exchangeInfo", r(self._exchange_info)),
            Route("/fapi/v1/klines", r(self._klines)),
            Route("/fapi/v1/markPriceKlines", r(self._series_klines("mark_px"))),
            Route("/fapi/v1/indexPriceKlines", r(self._series_klines("index_px"))),
            Route("/fapi/v1/openInterest", r(self._open_interest)),
            Route("/futures/data/openInterestHist", r(self._open_interest_hist)),
            Route("/fapi/v1/aggTrades", r(self._agg_trades)),
            Route("/fapi/v1/trades", r(self._trades)),
            Route("/fapi/v1/fundingRate", r(self._funding_rate)),
            Route("/fapi/v1/premiumIndex", r(self._premium_index)),
            Route("/fapi/v1/ticker/24hr", r(self._ticker_24hr)),
            Route("/fapi/v1/ticker/price", r(self._ticker_price)),
            Route("/fapi/v1/ticker/bookTicker", r(self._book_ticker)),
            Route("/fapi/v1/depth", r(self._depth)),
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
        low = kind.lower()
        for speed in _SPEEDS:  # depth update speeds: the simulator updates books every second
            if low.startswith("depth") and low.endswith(speed):
                low = low.removesuffix(speed)
        if low in _KINDS:
            return f"{sym}@{_KINDS[low]}"
        if kind.startswith("kline_") and kind[6:] in INTERVALS:  # case matters: 1m is not 1M
            return f"{sym}@{kind}"
        raise ValueError(f"unknown stream {name!r}")

    async def _ws_combined(self, ws: WebSocket) -> None:
        names = [s for s in ws.query_params.get("streams", "").split("/") if s]
        await self._open(ws, names, combined=True)

    async def _ws_raw(self, ws: WebSocket) -> None:
        path = ws.path_params.get("streams", "")
        # a bare number is a client's connection label (ccxt.pro: /market/ws/<n>), no stream
        names = [s for s in path.split("/") if s and not s.isdigit()]
        await self._open(ws, names, combined=False)

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
                for t, j in h.sec_rows(second_marks(t0, t1, every)):
                    p = self._mark(h, j, t)
                    out.append(Outgoing(topic, [p] if topic.startswith("!") else p))
        if f"{s}@trade" in wanted:
            i0, i1 = h.span("trade", t0, t1)
            out.extend(Outgoing(f"{s}@trade", self._trade_event(h, i)) for i in range(i0, i1))
        for topic in wanted:
            if topic.startswith(f"{s}@kline_"):
                out.extend(self._kline_events(h, topic, t0, t1))
        out.extend(self._quote_events(h, t0, t1, wanted))
        if f"{s}@forceOrder" in wanted or "!forceOrder@arr" in wanted:
            for e in second_marks(t0, t1, 1000):
                j0, j1 = h.span("liq", e - 1000, e)
                if j1 > j0:  # sampling: only the latest liquidation of the window is pushed
                    payload, liq = self._force_order(h, j1 - 1, e)
                    out.append(Outgoing(f"{s}@forceOrder", payload, (liq,)))
                    out.append(Outgoing("!forceOrder@arr", payload, (liq,)))
        return out

    def _quote_events(self, h: MarketHistory, t0: int, t1: int, wanted: set[str]) -> list[Outgoing]:
        """Tickers, book tickers and books, once per second."""
        s = h.symbol.lower()
        kinds = [k for k in ("miniTicker", "ticker", "bookTicker", "depth") if f"{s}@{k}" in wanted]
        kinds += [f"depth{n}" for n in DEPTHS if f"{s}@depth{n}" in wanted]
        out: list[Outgoing] = []
        if not kinds:
            return out
        for t in second_marks(t0, t1, 1000):
            if t <= h.start_ms:
                continue
            for kind in kinds:
                out.append(Outgoing(f"{s}@{kind}", self._quote(h, kind, t)))
        return out

    def _quote(self, h: MarketHistory, kind: str, t: int) -> dict[str, Any]:
        if kind in ("miniTicker", "ticker"):
            d = self._day(h, t)
            event = "24hrMiniTicker" if kind == "miniTicker" else "24hrTicker"
            keep = ("c", "o", "h", "l", "v", "q") if kind == "miniTicker" else tuple(d)
            return {"e": event, "E": t, "s": h.symbol, **{k: d[k] for k in keep}}
        if kind == "bookTicker":
            (bp, bq), (ap, aq) = top_of_book(h, t, TICK, LOT)
            u = t // 1000
            return {
                "e": "bookTicker", "u": u, "E": t, "T": t, "s": h.symbol, "b": fmt_px(bp),
                "B": fmt_lot(bq, LOT), "a": fmt_px(ap), "A": fmt_lot(aq, LOT),
            }  # fmt: skip
        depth = int(kind[5:]) if kind != "depth" else 20
        bids, asks = book(h, t, depth, TICK, LOT)
        u = t // 1000
        return {
            "e": "depthUpdate", "E": t, "T": t, "s": h.symbol, "U": u, "u": u, "pu": u - 1,
            "b": wire_levels(bids, LOT), "a": wire_levels(asks, LOT),
        }  # fmt: skip

    def _day(self, h: MarketHistory, t: int) -> dict[str, Any]:
        """The 24 h ticker fields (stream spelling)."""
        d = day_stats(h, t)
        change = d.last - d.open
        return {
            "p": fmt_px(change, d.last), "P": fmt_fixed(100 * change / d.open if d.open else 0, 3),
            "w": fmt_px(d.quote_volume / d.volume if d.volume else d.last), "c": fmt_px(d.last),
            "Q": fmt_lot(float(h.col("trade_qty")[d.last_index]), LOT) if d.count else "0",
            "o": fmt_px(d.open), "h": fmt_px(d.high), "l": fmt_px(d.low),
            "v": fmt_lot(d.volume, LOT) if d.count else "0", "q": fmt_fixed(d.quote_volume, 2),
            "O": d.open_ms, "C": d.close_ms,
            "F": TRADE_ID_BASE + d.first_index if d.count else -1,
            "L": TRADE_ID_BASE + d.last_index if d.count else -1, "n": d.count,
        }  # fmt: skip

    def _trade_event(self, h: MarketHistory, i: int) -> dict[str, Any]:
        ts = int(h.col("trade_ts")[i])
        rec = {"e": "trade", "E": ts, "T": ts, "s": h.symbol, "t": TRADE_ID_BASE + i}
        rec.update({k: v for k, v in self._trade_rec(h, i).items() if k in ("p", "q", "m")})
        return {**rec, "X": "MARKET"}

    def _trade_rec(self, h: MarketHistory, i: int) -> dict[str, Any]:
        """One trade as ``/fapi/v1/trades`` returns it."""
        px, qty = float(h.col("trade_px")[i]), on_lot(float(h.col("trade_qty")[i]), LOT)
        return {
            "id": TRADE_ID_BASE + i, "p": fmt_px(px), "q": fmt_lot(qty, LOT),
            "price": fmt_px(px), "qty": fmt_lot(qty, LOT), "quoteQty": fmt_fixed(px * qty, 4),
            "time": int(h.col("trade_ts")[i]), "m": bool(h.col("trade_taker")[i] < 0),
            "isBuyerMaker": bool(h.col("trade_taker")[i] < 0),
        }  # fmt: skip

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
                "q": fmt_lot(float(h.col("trade_qty")[i]), LOT),
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
        return [
            Outgoing(topic, {"e": "kline", "E": b, "s": h.symbol, "k": self._kline_obj(h, c, name)})
            for b, c in live_candles(h, t0, t1, INTERVALS[name])
        ]

    def _kline_obj(self, h: MarketHistory, c: Candle, name: str) -> dict[str, Any]:
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
            "v": fmt_lot(c.volume, LOT) if c.trades else "0",
            "n": c.trades,
            "x": c.closed,
            "q": fmt_fixed(c.quote_volume, 4),
            "V": fmt_lot(c.taker_buy_base, LOT) if c.taker_buy_base else "0",
            "Q": fmt_fixed(c.taker_buy_quote, 4),
            "B": "0",
        }

    def _force_order(
        self, h: MarketHistory, j: int, e: int
    ) -> tuple[dict[str, Any], SentLiquidation]:
        liq = liquidation(h, j, LOT)
        q = fmt_lot(liq.size, LOT)
        order = {
            "s": h.symbol,
            "S": "SELL" if liq.side > 0 else "BUY",  # the liquidation order closes the position
            "o": "LIMIT",
            "f": "IOC",
            "q": q,
            "p": fmt_px(liq.bk, liq.px),
            "ap": fmt_px(liq.px),
            "X": "FILLED",
            "l": q,
            "z": q,
            "T": liq.ts,
        }
        return {"e": "forceOrder", "E": e, "o": order}, self.sent_liquidation(h, liq, order)

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
        h = self.history(request.query_params.get("symbol"))
        _, iv = choice_param(request, "interval", INTERVALS, "Invalid interval.", -1120)
        limit = int_param(request, "limit", 500, 1, 1500) or 500
        now = self.clock.now_ms()
        rows = [
            [
                c.open_ms,
                fmt_px(c.open),
                fmt_px(c.high),
                fmt_px(c.low),
                fmt_px(c.close),
                fmt_lot(c.volume, LOT) if c.trades else "0",
                c.open_ms + c.interval_ms - 1,
                fmt_fixed(c.quote_volume, 4),
                c.trades,
                fmt_lot(c.taker_buy_base, LOT) if c.taker_buy_base else "0",
                fmt_fixed(c.taker_buy_quote, 4),
                "0",
            ]
            for c in candles(
                h,
                iv,
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
        return self._respond({"openInterest": fmt_lot(oi, LOT), "symbol": h.symbol, "time": now}, 1)

    async def _open_interest_hist(self, request: Request) -> Response:
        h = self.history(request.query_params.get("symbol"))
        _, step = choice_param(request, "period", OI_PERIODS, "Invalid period.", -1130)
        limit = int_param(request, "limit", 30, 1, 500) or 30
        now = self.clock.now_ms()
        start, end = int_param(request, "startTime"), int_param(request, "endTime")
        kept = now - 30 * DAY_MS  # only the last 30 days are kept
        times = stamps(h, step, now, max(kept, start or kept), end)
        rows = []
        for t, j in h.sec_rows(times[:limit] if start is not None else times[-limit:]):
            oi = float(h.col("oi_base")[j])
            rows.append(
                {
                    "symbol": h.symbol,
                    "sumOpenInterest": fmt_fixed(oi, 8),
                    "sumOpenInterestValue": fmt_fixed(oi * float(h.col("mark_px")[j]), 8),
                    "timestamp": t,
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
            if start is not None and end is not None and end - start > HOUR_MS:
                raise BadParam("More than 1 hours between startTime and endTime.", -1127)
            if start is None:
                start = end - HOUR_MS  # type: ignore[operator]  # end is set on this branch
            if end is None:
                end = start + HOUR_MS
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
        start, end = int_param(request, "startTime"), int_param(request, "endTime")
        times = stamps(h, FUNDING_INTERVAL_MS, now, start, end)
        rows = [
            {
                "symbol": h.symbol,
                "fundingTime": t,
                "fundingRate": fmt_fixed(float(h.col("funding_rate")[j]), 8),
                "markPrice": fmt_fixed(float(h.col("mark_px")[j]), 8),
            }
            for t, j in h.sec_rows(times[:limit] if start is not None else times[-limit:])
        ]
        return self._respond(rows, 1)

    async def _trades(self, request: Request) -> Response:
        """Recent trades (newest ``limit``)."""
        h = self.history(request.query_params.get("symbol"))
        limit = int_param(request, "limit", 500, 1, 1000) or 500
        _, n_now = h.span("trade", h.start_ms, self.clock.now_ms() + 1)
        rows = [self._trade_rec(h, i) for i in range(max(0, n_now - limit), n_now)]
        keys = ("id", "price", "qty", "quoteQty", "time", "isBuyerMaker")
        return self._respond([{k: r[k] for k in keys} for r in rows], 5)

    def _symbols(self, request: Request) -> list[MarketHistory]:
        """One symbol's history when ``symbol`` is given, else all."""
        symbol = request.query_params.get("symbol")
        return [self.history(symbol)] if symbol else list(self.histories.values())

    async def _premium_index(self, request: Request) -> Response:
        now = self.clock.now_ms()
        rows = []
        for h in self._symbols(request):
            j = h.sec_index(now)
            if j < 0:
                continue
            rows.append(
                {
                    "symbol": h.symbol,
                    "markPrice": fmt_fixed(float(h.col("mark_px")[j]), 8),
                    "indexPrice": fmt_fixed(float(h.col("index_px")[j]), 8),
                    "estimatedSettlePrice": fmt_fixed(float(h.col("index_px")[j]), 8),
                    "lastFundingRate": fmt_fixed(float(h.col("funding_rate")[j]), 8),
                    "interestRate": "0.00010000",
                    "nextFundingTime": next_funding_ms(now),
                    "time": now,
                }
            )
        one = request.query_params.get("symbol")
        return self._respond(rows[0] if one and rows else rows, 1 if one else 10)

    async def _ticker_24hr(self, request: Request) -> Response:
        now = self.clock.now_ms()
        names = {"p": "priceChange", "P": "priceChangePercent", "w": "weightedAvgPrice",
                 "c": "lastPrice", "Q": "lastQty", "o": "openPrice", "h": "highPrice",
                 "l": "lowPrice", "v": "volume", "q": "quoteVolume", "O": "openTime",
                 "C": "closeTime", "F": "firstId", "L": "lastId", "n": "count"}  # fmt: skip
        rows = [
            {"symbol": h.symbol, **{names[k]: v for k, v in self._day(h, now).items()}}
            for h in self._symbols(request)
        ]
        one = request.query_params.get("symbol")
        return self._respond(rows[0] if one else rows, 1 if one else 40)

    async def _ticker_price(self, request: Request) -> Response:
        now = self.clock.now_ms()
        rows = [
            {"symbol": h.symbol, "price": fmt_px(h.last_price_before(now + 1) or 0.0), "time": now}
            for h in self._symbols(request)
        ]
        return self._respond(rows[0] if request.query_params.get("symbol") else rows, 1)

    async def _book_ticker(self, request: Request) -> Response:
        now = self.clock.now_ms()
        rows = []
        for h in self._symbols(request):
            q = self._quote(h, "bookTicker", now)
            rows.append(
                {"symbol": h.symbol, "bidPrice": q["b"], "bidQty": q["B"], "askPrice": q["a"],
                 "askQty": q["A"], "time": now, "lastUpdateId": q["u"]}
            )  # fmt: skip
        return self._respond(rows[0] if request.query_params.get("symbol") else rows, 2)

    async def _depth(self, request: Request) -> Response:
        h = self.history(request.query_params.get("symbol"))
        limit = int_param(request, "limit", 500, 5, 1000) or 500
        if limit not in (5, 10, 20, 50, 100, 500, 1000):
            raise BadParam("Illegal characters found in parameter 'limit'.", -1100)
        now = self.clock.now_ms()
        bids, asks = book(h, now, min(limit, 100), TICK, LOT)
        body = {"lastUpdateId": now // 1000, "E": now, "T": now,
                "bids": wire_levels(bids, LOT), "asks": wire_levels(asks, LOT)}  # fmt: skip
        return self._respond(body, 2 if limit <= 50 else 5 if limit <= 100 else 10)

    def _series_klines(self, column: str) -> Any:
        async def handler(request: Request) -> Response:
            h = self.history(request.query_params.get("symbol"))
            _, iv = choice_param(request, "interval", INTERVALS, "Invalid interval.", -1120)
            limit = int_param(request, "limit", 500, 1, 1500) or 500
            rows = []
            for c in candles(
                h,
                iv,
                self.clock.now_ms(),
                start_ms=int_param(request, "startTime"),
                end_ms=int_param(request, "endTime"),
                limit=limit,
                column=column,
            ):
                o, hi, lo, cl = (fmt_px(x) for x in (c.open, c.high, c.low, c.close))
                t = c.open_ms
                rows.append([t, o, hi, lo, cl, "0", t + iv - 1, "0", 0, "0", "0", "0"])
            return self._respond(rows, _kline_weight(limit))

        return handler
