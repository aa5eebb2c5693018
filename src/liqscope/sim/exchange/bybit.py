"""Simulated Bybit v5 linear: ``/v5/public/linear`` WS and the v5 market REST endpoints.

Wire facts (exchange-reference §3): ``allLiquidation.{symbol}`` pushes *all* liquidations in
500 ms batches; its ``S`` is the *position* side (``Buy`` = a long was liquidated, the opposite
of Binance) and ``p`` the bankruptcy price; sizes in base units; numbers as strings.
"""

from __future__ import annotations

import uuid
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route, WebSocketRoute
from starlette.websockets import WebSocket

from liqscope.domain.intervals import HOUR_MS, MINUTE_MS
from liqscope.domain.tiers import chain_tiers
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

INTERVALS = {
    "1": MINUTE_MS,
    "3": 3 * MINUTE_MS,
    "5": 5 * MINUTE_MS,
    "15": 15 * MINUTE_MS,
    "30": 30 * MINUTE_MS,
    "60": 60 * MINUTE_MS,
    "120": 120 * MINUTE_MS,
    "240": 240 * MINUTE_MS,
    "360": 360 * MINUTE_MS,
    "720": 720 * MINUTE_MS,
    "D": 1440 * MINUTE_MS,
}
OI_INTERVALS = {
    "5min": 5 * MINUTE_MS,
    "15min": 15 * MINUTE_MS,
    "30min": 30 * MINUTE_MS,
    "1h": 60 * MINUTE_MS,
    "4h": 240 * MINUTE_MS,
    "1d": 1440 * MINUTE_MS,
}
# A simulated risk-limit table (riskLimitValue USDT, MMR, max leverage); not Bybit's live one.
RISK_TIERS = [
    (2_000_000, 0.005, 100),
    (10_000_000, 0.01, 50),
    (20_000_000, 0.015, 33.33),
    (40_000_000, 0.02, 25),
    (80_000_000, 0.025, 20),
    (160_000_000, 0.03, 16.67),
]
LIQ_BATCH_MS = 500
LOT = 0.001  # BTCUSDT qtyStep (base units)
TICK = 0.1
CATEGORIES = ("linear", "inverse", "spot", "option")


class BybitServer(VenueServer):
    venue = "bybit"
    malformed_frame = '{"topic":"publicTrade.BTCUSDT","data":[{'

    def routes(self) -> list[BaseRoute]:
        r = self.rest
        return [
            WebSocketRoute("/v5/public/{category}", self._ws),
            Route("/v5/market/time", r(self._time)),
            Route("/v5/market/recent-trade", r(self._recent_trades)),
            Route("/v5/market/funding/history", r(self._funding_history)),
            Route("/v5/market/orderbook", r(self._orderbook)),
            Route("/v5/market/kline", r(self._kline)),
            Route("/v5/market/open-interest", r(self._open_interest)),
            Route("/v5/market/risk-limit", r(self._risk_limit)),
            Route("/v5/market/instruments-info", r(self._instruments)),
            Route("/v5/market/tickers", r(self._tickers)),
        ]

    def error_body(self, status: int, msg: str, code: int | str) -> Any:
        if status in (418, 429):
            return {
                "retCode": 10006,
                "retMsg": "Too many visits!",
                "result": {},
                "retExtInfo": {},
                "time": self.clock.now_ms(),
            }
        return {
            "retCode": code if isinstance(code, int) and code > 0 else 10001,
            "retMsg": msg,
            "result": {},
            "retExtInfo": {},
            "time": self.clock.now_ms(),
        }

    def _ok(self, result: Any) -> Response:
        return json_response(
            {
                "retCode": 0,
                "retMsg": "OK",
                "result": result,
                "retExtInfo": {},
                "time": self.clock.now_ms(),
            }
        )

    # -- WS -----------------------------------------------------------------------------------
    async def _ws(self, ws: WebSocket) -> None:
        if ws.path_params.get("category") not in CATEGORIES:
            await ws.close(1008)
            return
        await self.serve_ws(ws, ())  # only linear topics exist: the others list no symbols

    def _valid_topic(self, topic: str) -> bool:
        parts = topic.split(".")
        if len(parts) == 2 and parts[0] in ("publicTrade", "tickers", "allLiquidation"):
            return parts[1] in self.histories
        if len(parts) == 3 and parts[0] == "orderbook":
            return parts[1] in ("1", "50", "200", "500") and parts[2] in self.histories
        if len(parts) == 3 and parts[0] == "kline":
            return parts[1] in INTERVALS and parts[2] in self.histories
        return False

    async def on_text(self, conn: Conn, text: str) -> None:
        try:
            msg = orjson.loads(text)
            op = msg["op"]
        except (orjson.JSONDecodeError, KeyError, TypeError):
            reply = {
                "success": False,
                "ret_msg": "Invalid request",
                "conn_id": conn.conn_id,
                "op": "",
            }
            conn.put(orjson.dumps(reply).decode())
            return
        req_id = msg.get("req_id", "")
        base = {"conn_id": conn.conn_id, "req_id": req_id, "op": op}
        if op == "ping":
            conn.put(orjson.dumps({"success": True, "ret_msg": "pong", **base}).decode())
        elif op in ("subscribe", "unsubscribe"):
            args = msg.get("args", [])
            bad = [a for a in args if not isinstance(a, str) or not self._valid_topic(a)]
            if bad or not isinstance(args, list):
                reply = {
                    "success": False,
                    "ret_msg": f"error:handler not found,topics:{bad}",
                    **base,
                }
            else:
                if op == "subscribe":
                    self.subscribe(conn, args)
                else:
                    conn.topics.difference_update(args)
                reply = {"success": True, "ret_msg": "", **base}
            conn.put(orjson.dumps(reply).decode())
        else:
            reply = {"success": False, "ret_msg": f"Invalid op {op!r}", **base}
            conn.put(orjson.dumps(reply).decode())

    def frame(self, conn: Conn, out: Outgoing) -> str:
        if out.topic.startswith("tickers."):  # the first ticker message is a snapshot
            seen = conn.state.setdefault("ticker_snapshot", set())
            kind = "delta" if out.topic in seen else "snapshot"
            seen.add(out.topic)
            return orjson.dumps({**out.payload, "type": kind}).decode()
        return orjson.dumps(out.payload).decode()

    def liquidation_topic(self, symbol: str) -> str:
        return f"allLiquidation.{symbol}"

    def emit(self, h: MarketHistory, t0: int, t1: int, wanted: set[str]) -> list[Outgoing]:
        s = h.symbol
        out: list[Outgoing] = []
        topic = f"publicTrade.{s}"
        if topic in wanted:  # one message per matching timestamp
            i0, i1 = h.span("trade", t0, t1)
            ts = h.col("trade_ts")
            i = i0
            while i < i1:
                j = i
                while j + 1 < i1 and ts[j + 1] == ts[i]:
                    j += 1
                data = [self._trade(h, k) for k in range(i, j + 1)]
                out.append(
                    Outgoing(
                        topic, {"topic": topic, "type": "snapshot", "ts": int(ts[i]), "data": data}
                    )
                )
                i = j + 1
        topic = f"tickers.{s}"
        if topic in wanted:
            for t, j in h.sec_rows(second_marks(t0, t1)):
                msg = {"topic": topic, "ts": t, "cs": t, "data": self._ticker(h, j, t)}
                out.append(Outgoing(topic, msg))
        for depth in ("1", "50", "200", "500"):
            topic = f"orderbook.{depth}.{s}"
            if topic in wanted:
                for t in second_marks(max(t0, h.start_ms + 1), t1, 1000):
                    out.append(Outgoing(topic, self._book_msg(h, topic, int(depth), t)))
        for name, iv in INTERVALS.items():
            topic = f"kline.{name}.{s}"
            if topic in wanted:
                for b, c in live_candles(h, t0, t1, iv):
                    data = [self._kline_obj(c, name, b)]
                    out.append(
                        Outgoing(topic, {"topic": topic, "type": "snapshot", "ts": b, "data": data})
                    )
        topic = f"allLiquidation.{s}"
        if topic in wanted:
            for e in second_marks(t0, t1, LIQ_BATCH_MS):
                j0, j1 = h.span("liq", e - LIQ_BATCH_MS, e)
                if j1 > j0:
                    liqs = tuple(self._liq(h, j) for j in range(j0, j1))
                    msg = {
                        "topic": topic,
                        "type": "snapshot",
                        "ts": e,
                        "data": [liq.wire for liq in liqs],
                    }
                    out.append(Outgoing(topic, msg, liqs))
        return out

    def _book_msg(self, h: MarketHistory, topic: str, depth: int, t: int) -> dict[str, Any]:
        """A full book each second, sent as a snapshot (a client may always reset on one)."""
        bids, asks = book(h, t, min(depth, 50), TICK, LOT)
        return {
            "topic": topic, "type": "snapshot", "ts": t, "cts": t,
            "data": {"s": h.symbol, "b": wire_levels(bids, LOT), "a": wire_levels(asks, LOT),
                     "u": t // 1000, "seq": t // 1000},
        }  # fmt: skip

    def _trade(self, h: MarketHistory, i: int) -> dict[str, Any]:
        px = float(h.col("trade_px")[i])
        prev = float(h.col("trade_px")[i - 1]) if i > 0 else px
        return {
            "T": int(h.col("trade_ts")[i]),
            "s": h.symbol,
            "S": "Buy" if h.col("trade_taker")[i] > 0 else "Sell",  # taker side
            "v": fmt_lot(float(h.col("trade_qty")[i]), LOT),
            "p": fmt_px(px),
            "L": "PlusTick" if px > prev else "MinusTick" if px < prev else "ZeroPlusTick",
            "i": str(uuid.UUID(int=i)),
            "BT": False,
        }

    def _oi_fields(self, oi: float, mark: float) -> dict[str, str]:
        if self.options.bybit_two_sided_oi:
            return {
                "openInterest": fmt_lot(2 * oi, LOT),
                "singleOpenInterest": fmt_lot(oi, LOT),
                "openInterestValue": fmt_fixed(2 * oi * mark, 2),
            }
        return {"openInterest": fmt_lot(oi, LOT), "openInterestValue": fmt_fixed(oi * mark, 2)}

    def _ticker(self, h: MarketHistory, j: int, t: int) -> dict[str, Any]:
        mark = float(h.col("mark_px")[j])
        last = h.last_price_before(t + 1) or mark
        d = day_stats(h, t)
        hour_ago = h.last_price_before(t - HOUR_MS + 1) or d.open
        (bp, bq), (ap, aq) = top_of_book(h, t, TICK, LOT)
        return {
            "symbol": h.symbol,
            "lastPrice": fmt_px(last),
            "indexPrice": fmt_px(float(h.col("index_px")[j])),
            "markPrice": fmt_px(mark),
            "prevPrice24h": fmt_px(d.open),
            "price24hPcnt": f"{(last / d.open - 1) if d.open else 0:.6f}",
            "highPrice24h": fmt_px(d.high),
            "lowPrice24h": fmt_px(d.low),
            "prevPrice1h": fmt_px(hour_ago),
            **self._oi_fields(float(h.col("oi_base")[j]), mark),
            "turnover24h": fmt_fixed(d.quote_volume, 4),
            "volume24h": fmt_lot(d.volume, LOT) if d.count else "0",
            "fundingRate": fmt_fixed(float(h.col("funding_rate")[j]), 8),
            "nextFundingTime": str(next_funding_ms(t)),
            "predictedDeliveryPrice": "",
            "basisRate": "",
            "deliveryFeeRate": "",
            "deliveryTime": "0",
            "ask1Size": fmt_lot(aq, LOT),
            "bid1Price": fmt_px(bp),
            "ask1Price": fmt_px(ap),
            "bid1Size": fmt_lot(bq, LOT),
            "basis": "",
            "fundingIntervalHour": "8",
            "fundingCap": "0.005",
        }

    def _kline_obj(self, c: Candle, name: str, now: int) -> dict[str, Any]:
        return {
            "start": c.open_ms,
            "end": c.open_ms + c.interval_ms - 1,
            "interval": name,
            "open": fmt_px(c.open),
            "close": fmt_px(c.close),
            "high": fmt_px(c.high),
            "low": fmt_px(c.low),
            "volume": fmt_lot(c.volume, LOT) if c.trades else "0",
            "turnover": fmt_fixed(c.quote_volume, 4),
            "confirm": c.closed,
            "timestamp": now,
        }

    def _liq(self, h: MarketHistory, j: int) -> SentLiquidation:
        liq = liquidation(h, j, LOT)
        wire = {
            "T": liq.ts,
            "s": h.symbol,
            "S": "Buy" if liq.side > 0 else "Sell",  # position side
            "v": fmt_lot(liq.size, LOT),
            "p": fmt_px(liq.bk, liq.px),
        }
        return self.sent_liquidation(h, liq, wire)

    # -- REST ---------------------------------------------------------------------------------
    def _category(self, request: Request) -> str:
        category = request.query_params.get("category", "linear")
        if category not in CATEGORIES:
            raise BadParam("Illegal category", 10001, 200)
        return category

    def _linear(self, request: Request) -> MarketHistory:
        if self._category(request) != "linear":
            raise BadParam("Illegal category", 10001, 200)
        try:
            return self.history(request.query_params.get("symbol"))
        except BadParam as exc:
            raise BadParam(exc.msg, 10001, 200) from None

    def _listed(self, request: Request) -> list[MarketHistory]:
        """The instruments a list endpoint covers: one symbol, every linear one, or none for
        the categories the simulated venue does not list (spot, inverse, option)."""
        if request.query_params.get("symbol"):
            return [self._linear(request)]
        return list(self.histories.values()) if self._category(request) == "linear" else []

    async def _time(self, request: Request) -> Response:
        now = self.clock.now_ms()
        return self._ok({"timeSecond": str(now // 1000), "timeNano": str(now * 1_000_000)})

    async def _kline(self, request: Request) -> Response:
        h = self._linear(request)
        _, iv = choice_param(request, "interval", INTERVALS, "Invalid period!", 10001, 200)
        limit = int_param(request, "limit", 200, 1, 1000, 10001) or 200
        rows = candles(
            h,
            iv,
            self.clock.now_ms(),
            start_ms=int_param(request, "start"),
            end_ms=int_param(request, "end"),
            limit=limit,
        )
        data = [
            [
                str(c.open_ms),
                fmt_px(c.open),
                fmt_px(c.high),
                fmt_px(c.low),
                fmt_px(c.close),
                fmt_lot(c.volume, LOT) if c.trades else "0",
                fmt_fixed(c.quote_volume, 4),
            ]
            for c in reversed(rows)
        ]
        return self._ok({"symbol": h.symbol, "category": "linear", "list": data})

    async def _open_interest(self, request: Request) -> Response:
        h = self._linear(request)
        _, step = choice_param(
            request, "intervalTime", OI_INTERVALS, "Invalid intervalTime", 10001, 200
        )
        limit = int_param(request, "limit", 50, 1, 200, 10001) or 50
        now = self.clock.now_ms()
        end = int_param(request, "endTime")
        cursor = request.query_params.get("cursor")
        if cursor:
            try:
                end = int(cursor.removeprefix("end:")) - 1
            except ValueError:
                raise BadParam("Invalid cursor", 10001, 200) from None
        times = stamps(h, step, now, int_param(request, "startTime"), end)[::-1]  # newest first
        page, rest = times[:limit], times[limit:]
        rows = []
        for t, j in h.sec_rows(page):
            oi = self._oi_fields(float(h.col("oi_base")[j]), float(h.col("mark_px")[j]))
            rows.append(
                {k: v for k, v in oi.items() if k != "openInterestValue"} | {"timestamp": str(t)}
            )
        next_cursor = f"end:{page[-1]}" if rest and page else ""
        return self._ok(
            {"symbol": h.symbol, "category": "linear", "list": rows, "nextPageCursor": next_cursor}
        )

    async def _risk_limit(self, request: Request) -> Response:
        """Risk limits of one symbol or (no symbol) of every listed one, one page per symbol
        (``nextPageCursor`` names the next symbol)."""
        hs = self._listed(request)
        cursor = request.query_params.get("cursor")
        if cursor:
            names = [h.symbol for h in hs]
            if cursor not in names:
                raise BadParam("Invalid cursor", 10001, 200)
            hs = hs[names.index(cursor) :]
        rows = self._risk_rows(hs[0]) if hs else []
        next_cursor = hs[1].symbol if len(hs) > 1 else ""
        return self._ok({"category": "linear", "list": rows, "nextPageCursor": next_cursor})

    def _risk_rows(self, h: MarketHistory) -> list[dict[str, Any]]:
        """The risk-limit rows, ``mmDeduction`` by the tier-consistency rule (Binance's cum)."""
        return [
            {
                "id": i,
                "symbol": h.symbol,
                "riskLimitValue": str(t.cap),
                "maintenanceMargin": f"{t.mmr:g}",
                "initialMargin": f"{1 / t.max_leverage:.4f}",
                "isLowestRisk": 1 if i == 1 else 0,
                "maxLeverage": f"{t.max_leverage:.2f}",
                "mmDeduction": "" if i == 1 else f"{t.maint_amount:g}",
            }
            for i, t in enumerate(chain_tiers(RISK_TIERS), 1)
        ]

    async def _instruments(self, request: Request) -> Response:
        category = self._category(request)
        hs = self._listed(request)
        rows = [
            {
                "symbol": h.symbol,
                "contractType": "LinearPerpetual",
                "status": "Trading",
                "baseCoin": h.instrument.base,
                "quoteCoin": h.instrument.quote,
                "settleCoin": h.instrument.quote,
                "launchTime": str(h.start_ms),
                "priceScale": "2",
                "leverageFilter": {
                    "minLeverage": "1",
                    "maxLeverage": "100.00",
                    "leverageStep": "0.01",
                },
                "priceFilter": {"minPrice": "0.10", "maxPrice": "1999999.80", "tickSize": "0.10"},
                "lotSizeFilter": {
                    "maxOrderQty": "1190.000",
                    "minOrderQty": "0.001",
                    "qtyStep": "0.001",
                    "minNotionalValue": "5",
                },
                "fundingInterval": 480,
            }
            for h in hs
        ]
        return self._ok({"category": category, "list": rows, "nextPageCursor": ""})

    async def _tickers(self, request: Request) -> Response:
        category = self._category(request)
        now = self.clock.now_ms()
        rows = [
            self._ticker(h, j, now) for h in self._listed(request) if (j := h.sec_index(now)) >= 0
        ]
        return self._ok({"category": category, "list": rows})

    async def _recent_trades(self, request: Request) -> Response:
        h = self._linear(request)
        limit = int_param(request, "limit", 500, 1, 1000, 10001) or 500
        _, n = h.span("trade", h.start_ms, self.clock.now_ms() + 1)
        rows = []
        for i in range(n - 1, max(0, n - limit) - 1, -1):  # newest first
            t = self._trade(h, i)
            rows.append(
                {"execId": t["i"], "symbol": h.symbol, "price": t["p"], "size": t["v"],
                 "side": t["S"], "time": str(t["T"]), "isBlockTrade": False, "isRPITrade": False}
            )  # fmt: skip
        return self._ok({"category": "linear", "list": rows})

    async def _funding_history(self, request: Request) -> Response:
        h = self._linear(request)
        limit = int_param(request, "limit", 200, 1, 200, 10001) or 200
        start, end = int_param(request, "startTime"), int_param(request, "endTime")
        times = stamps(h, FUNDING_INTERVAL_MS, self.clock.now_ms(), start, end)[::-1][:limit]
        rows = [
            {"symbol": h.symbol, "fundingRate": fmt_fixed(float(h.col("funding_rate")[j]), 8),
             "fundingRateTimestamp": str(t)}
            for t, j in h.sec_rows(times)  # newest first
        ]  # fmt: skip
        return self._ok({"category": "linear", "list": rows})

    async def _orderbook(self, request: Request) -> Response:
        h = self._linear(request)
        limit = int_param(request, "limit", 25, 1, 500, 10001) or 25
        now = self.clock.now_ms()
        bids, asks = book(h, now, min(limit, 200), TICK, LOT)
        result = {"s": h.symbol, "b": wire_levels(bids, LOT), "a": wire_levels(asks, LOT),
                  "ts": now, "u": now // 1000, "seq": now // 1000, "cts": now}  # fmt: skip
        return self._ok(result)
