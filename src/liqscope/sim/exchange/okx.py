"""Simulated OKX v5 SWAP: ``/ws/v5/public`` and the v5 public/market REST endpoints.

Wire facts (exchange-reference §4): sizes are **contracts** (base = ``sz × ctVal``; the simulated
BTC-USDT-SWAP has ctVal 0.01 BTC), ``side`` is the liquidation *order* side (``buy`` = a short
was liquidated) with ``posSide`` giving the position, ``bkPx`` the bankruptcy price;
liquidation-orders are sampled (one per contract per second) and the first message after
subscribing is a snapshot of recent orders. Text ``ping`` is answered with ``pong``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route, WebSocketRoute
from starlette.websockets import WebSocket

from liqscope.sim.exchange.history import (
    Candle,
    MarketHistory,
    candles,
    fmt_fixed,
    fmt_px,
    fmt_qty,
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
HK = -8 * HOUR  # OKX's 6H and longer bars align to Hong Kong time unless suffixed "utc"
_BARS = {
    "1m": MINUTE,
    "3m": 3 * MINUTE,
    "5m": 5 * MINUTE,
    "15m": 15 * MINUTE,
    "30m": 30 * MINUTE,
    "1H": HOUR,
    "2H": 2 * HOUR,
    "4H": 4 * HOUR,
}
for _name, _ms in (("6H", 6 * HOUR), ("12H", 12 * HOUR), ("1D", 24 * HOUR)):
    _BARS[_name] = _ms
    _BARS[_name + "utc"] = _ms
CT_VAL = {"BTC": 0.01, "ETH": 0.1}
# Simulated position tiers in contracts (maxSz, MMR, max leverage); not OKX's live table.
TIERS = [
    (10_000, 0.004, 125),
    (20_000, 0.005, 100),
    (50_000, 0.007, 75),
    (100_000, 0.01, 50),
    (200_000, 0.02, 25),
    (400_000, 0.03, 20),
]
LIQ_SAMPLE_MS = 1000
OI_EVERY_MS = 3000


def okx_inst_id(h: MarketHistory) -> str:
    return f"{h.instrument.base}-{h.instrument.quote}-SWAP"


def ct_val(h: MarketHistory) -> float:
    """Contract value in base units: the instrument's own for OKX traces, else OKX's table."""
    inst = h.instrument
    if inst.venue == "okx" and inst.contract_size > 0:
        return float(inst.contract_size)
    return CT_VAL.get(inst.base, 1.0)


class OkxServer(VenueServer):
    venue = "okx"
    malformed_frame = '{"arg":{"channel":"trades"},"data":[{"px":'

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.by_inst = {okx_inst_id(h): h for h in self.histories.values()}

    def routes(self) -> list[BaseRoute]:
        r = self.rest
        return [
            WebSocketRoute("/ws/v5/public", self._ws),
            Route("/api/v5/public/time", r(self._time)),
            Route("/api/v5/public/instruments", r(self._instruments)),
            Route("/api/v5/public/open-interest", r(self._open_interest)),
            Route("/api/v5/public/mark-price", r(self._mark_price)),
            Route("/api/v5/public/position-tiers", r(self._tiers)),
            Route("/api/v5/public/liquidation-orders", r(self._liq_orders)),
            Route("/api/v5/market/candles", r(self._candles(300))),
            Route("/api/v5/market/history-candles", r(self._candles(100))),
        ]

    def error_body(self, status: int, msg: str, code: int | str) -> Any:
        if status in (418, 429):
            return {"code": "50011", "msg": "Too Many Requests", "data": []}
        return {"code": str(code) if isinstance(code, str) else "51000", "msg": msg, "data": []}

    @staticmethod
    def _ok(data: list[Any]) -> Response:
        return json_response({"code": "0", "msg": "", "data": data})

    def _inst(self, request: Request, required: bool = True) -> MarketHistory | None:
        inst = request.query_params.get("instId")
        if not inst:
            if required:
                raise BadParam("Parameter instId can not be empty", "50014", 200)
            return None
        h = self.by_inst.get(inst)
        if h is None:
            raise BadParam(f"Instrument ID {inst} does not exist", "51001", 200)
        return h

    # -- WS -----------------------------------------------------------------------------------
    async def _ws(self, ws: WebSocket) -> None:
        await self.serve_ws(ws, ())

    def _topic(self, arg: Any) -> str:
        if not isinstance(arg, dict):
            raise ValueError("arg must be an object")
        channel = arg.get("channel")
        if channel == "liquidation-orders":
            if arg.get("instType") != "SWAP":
                raise ValueError("instType must be SWAP")
            return "liquidation-orders:SWAP"
        if channel in ("trades", "mark-price", "open-interest"):
            if arg.get("instId") not in self.by_inst:
                raise ValueError(f"instId {arg.get('instId')} doesn't exist")
            return f"{channel}:{arg['instId']}"
        raise ValueError(f"channel {channel} doesn't exist")

    async def on_text(self, conn: Conn, text: str) -> None:
        if text == "ping":
            conn.put("pong")
            return
        try:
            msg = orjson.loads(text)
            op = msg["op"]
            args = msg["args"]
            topics = [self._topic(a) for a in args]
        except (orjson.JSONDecodeError, KeyError, TypeError) as exc:
            self._error(conn, "60012", f"Invalid request: {text[:200]} ({exc})")
            return
        except ValueError as exc:
            self._error(conn, "60018", f"Wrong URL or channel:{exc}")
            return
        if op not in ("subscribe", "unsubscribe"):
            self._error(conn, "60012", f"Invalid request: unknown op {op}")
            return
        for arg in args:
            reply = {"event": op, "arg": arg, "connId": conn.conn_id}
            conn.put(orjson.dumps(reply).decode())
        if op == "subscribe":
            self.subscribe(conn, topics)
        else:
            conn.topics.difference_update(topics)

    def _error(self, conn: Conn, code: str, msg: str) -> None:
        reply = {"event": "error", "code": code, "msg": msg, "connId": conn.conn_id}
        conn.put(orjson.dumps(reply).decode())

    def on_subscribed(self, conn: Conn, topics: Sequence[str]) -> None:
        if "liquidation-orders:SWAP" not in topics:
            return
        for h in self.histories.values():
            t1 = self._pushed_to(h)
            t0 = t1 - self.options.okx_snapshot_ms
            liqs = tuple(self._sampled(h, max(t0, h.start_ms), t1))
            if liqs:
                conn.put(orjson.dumps(self._liq_message(h, liqs)).decode(), liqs)

    def liquidation_topic(self, symbol: str) -> str:
        return "liquidation-orders:SWAP"

    def emit(self, h: MarketHistory, t0: int, t1: int, wanted: set[str]) -> list[Outgoing]:
        inst = okx_inst_id(h)
        out: list[Outgoing] = []
        arg = {"channel": "trades", "instId": inst}
        if f"trades:{inst}" in wanted:
            i0, i1 = h.span("trade", t0, t1)
            for i in range(i0, i1):
                out.append(Outgoing(f"trades:{inst}", {"arg": arg, "data": [self._trade(h, i)]}))
        if f"mark-price:{inst}" in wanted:
            for t in second_marks(t0, t1, 1000):
                j = h.sec_index(t)
                if j >= 0:
                    data = {
                        "instType": "SWAP",
                        "instId": inst,
                        "ts": str(t),
                        "markPx": fmt_px(float(h.col("mark_px")[j])),
                    }
                    out.append(
                        Outgoing(
                            f"mark-price:{inst}",
                            {"arg": {"channel": "mark-price", "instId": inst}, "data": [data]},
                        )
                    )
        if f"open-interest:{inst}" in wanted:
            for t in second_marks(t0, t1, OI_EVERY_MS):
                j = h.sec_index(t)
                if j >= 0:
                    out.append(
                        Outgoing(
                            f"open-interest:{inst}",
                            {
                                "arg": {"channel": "open-interest", "instId": inst},
                                "data": [self._oi(h, j, t)],
                            },
                        )
                    )
        if "liquidation-orders:SWAP" in wanted:
            for e in second_marks(t0, t1, LIQ_SAMPLE_MS):
                liqs = tuple(self._sampled(h, e - LIQ_SAMPLE_MS, e))
                if liqs:
                    out.append(
                        Outgoing("liquidation-orders:SWAP", self._liq_message(h, liqs), liqs)
                    )
        return out

    def _pushed_to(self, h: MarketHistory) -> int:
        """End of the last whole second whose sampled order is already public."""
        return min(self.clock.now_ms(), h.end_ms) // LIQ_SAMPLE_MS * LIQ_SAMPLE_MS

    def _sampled(self, h: MarketHistory, t0: int, t1: int) -> list[SentLiquidation]:
        """The latest liquidation of each whole second within ``[t0, t1)``."""
        out = []
        for e in second_marks(t0 + LIQ_SAMPLE_MS, t1 + LIQ_SAMPLE_MS, LIQ_SAMPLE_MS):
            j0, j1 = h.span("liq", max(t0, e - LIQ_SAMPLE_MS), min(t1, e))
            if j1 > j0:
                out.append(self._liq(h, j1 - 1))
        return out

    def _liq(self, h: MarketHistory, j: int) -> SentLiquidation:
        side = int(h.col("liq_side")[j])
        qty = float(h.col("liq_qty")[j])
        px = float(h.col("liq_px")[j])
        bk = float(h.col("liq_bk_px")[j])
        ts = int(h.col("liq_ts")[j])
        wire = {
            "bkLoss": "0",
            "bkPx": fmt_px(bk, px),
            "ccy": "",
            "posSide": "long" if side > 0 else "short",
            "side": "sell" if side > 0 else "buy",  # the order that closes the position
            "sz": fmt_qty(qty / ct_val(h), 0),
            "ts": str(ts),
        }
        return SentLiquidation(self.venue, h.symbol, j, ts, side, qty, px, bk, wire)

    def _liq_message(self, h: MarketHistory, liqs: tuple[SentLiquidation, ...]) -> dict[str, Any]:
        family = f"{h.instrument.base}-{h.instrument.quote}"
        return {
            "arg": {"channel": "liquidation-orders", "instType": "SWAP"},
            "data": [
                {
                    "details": [liq.wire for liq in liqs],
                    "instFamily": family,
                    "instId": okx_inst_id(h),
                    "instType": "SWAP",
                    "uly": family,
                }
            ],
        }

    def _trade(self, h: MarketHistory, i: int) -> dict[str, Any]:
        return {
            "instId": okx_inst_id(h),
            "tradeId": str(100_000_000 + i),
            "px": fmt_px(float(h.col("trade_px")[i])),
            "sz": fmt_qty(float(h.col("trade_qty")[i]) / ct_val(h), 0),
            "side": "buy" if h.col("trade_taker")[i] > 0 else "sell",  # taker side
            "ts": str(int(h.col("trade_ts")[i])),
            "count": "1",
        }

    def _oi(self, h: MarketHistory, j: int, t: int) -> dict[str, Any]:
        oi = float(h.col("oi_base")[j])
        return {
            "instType": "SWAP",
            "instId": okx_inst_id(h),
            "oi": fmt_qty(oi / ct_val(h), 0),
            "oiCcy": fmt_qty(oi),
            "oiUsd": fmt_fixed(oi * float(h.col("mark_px")[j]), 4),
            "ts": str(t),
        }

    # -- REST ---------------------------------------------------------------------------------
    def _swap(self, request: Request) -> None:
        if request.query_params.get("instType", "SWAP") != "SWAP":
            raise BadParam("Only instType SWAP is simulated", "51000", 200)

    async def _time(self, request: Request) -> Response:
        return self._ok([{"ts": str(self.clock.now_ms())}])

    async def _instruments(self, request: Request) -> Response:
        if request.query_params.get("instType") == "FUTURES":
            return self._ok([])  # the simulated venue lists no dated futures
        self._swap(request)
        h1 = self._inst(request, required=False)
        hs = [h1] if h1 is not None else list(self.histories.values())
        rows = []
        for h in hs:
            family = f"{h.instrument.base}-{h.instrument.quote}"
            rows.append(
                {
                    "instType": "SWAP",
                    "instId": okx_inst_id(h),
                    "uly": family,
                    "instFamily": family,
                    "baseCcy": "",
                    "quoteCcy": "",
                    "settleCcy": h.instrument.quote,
                    "ctVal": f"{ct_val(h):g}",
                    "ctMult": "1",
                    "ctValCcy": h.instrument.base,
                    "ctType": "linear",
                    "optType": "",
                    "stk": "",
                    "listTime": str(h.start_ms),
                    "expTime": "",
                    "lever": "100",
                    "tickSz": "0.1",
                    "lotSz": "0.01",
                    "minSz": "0.01",
                    "maxLmtSz": "100000000",
                    "maxMktSz": "12000",
                    "alias": "",
                    "state": "live",
                }
            )
        return self._ok(rows)

    async def _open_interest(self, request: Request) -> Response:
        self._swap(request)
        h1 = self._inst(request, required=False)
        hs = [h1] if h1 is not None else list(self.histories.values())
        now = self.clock.now_ms()
        return self._ok([self._oi(h, j, now) for h in hs if (j := h.sec_index(now)) >= 0])

    async def _mark_price(self, request: Request) -> Response:
        self._swap(request)
        h1 = self._inst(request, required=False)
        hs = [h1] if h1 is not None else list(self.histories.values())
        now = self.clock.now_ms()
        return self._ok(
            [
                {
                    "instType": "SWAP",
                    "instId": okx_inst_id(h),
                    "ts": str(now),
                    "markPx": fmt_px(float(h.col("mark_px")[j])),
                }
                for h in hs
                if (j := h.sec_index(now)) >= 0
            ]
        )

    async def _tiers(self, request: Request) -> Response:
        self._swap(request)
        q = request.query_params
        if q.get("tdMode") not in ("isolated", "cross"):
            raise BadParam("Parameter tdMode error", "51000", 200)
        family = q.get("instFamily") or q.get("uly")
        hs = [
            h
            for h in self.histories.values()
            if f"{h.instrument.base}-{h.instrument.quote}" == family
        ]
        if not hs:
            raise BadParam("Parameter instFamily error", "51000", 200)
        rows = []
        lo = 0
        for i, (hi, mmr, lev) in enumerate(TIERS, 1):
            rows.append(
                {
                    "uly": family,
                    "instFamily": family,
                    "instId": "",
                    "tier": str(i),
                    "minSz": str(lo if i == 1 else lo + 1),
                    "maxSz": str(hi),
                    "mmr": f"{mmr:g}",
                    "imr": f"{1 / lev:.4g}",
                    "maxLever": str(lev),
                    "optMgnFactor": "0",
                    "quoteMaxLoan": "",
                    "baseMaxLoan": "",
                }
            )
            lo = hi
        return self._ok(rows)

    async def _liq_orders(self, request: Request) -> Response:
        """Recent (sampled) liquidation orders, newest first; OKX keeps only recent ones."""
        self._swap(request)
        family = request.query_params.get("uly") or request.query_params.get("instFamily")
        limit = int_param(request, "limit", 100, 1, 100, "51000") or 100
        data = []
        for h in self.histories.values():
            if family and family != f"{h.instrument.base}-{h.instrument.quote}":
                continue
            t1 = self._pushed_to(h)
            liqs = self._sampled(h, max(h.start_ms, t1 - 7 * 24 * HOUR), t1)[::-1][:limit]
            if liqs:
                self.sent.record(liqs)
                data.extend(self._liq_message(h, tuple(liqs))["data"])
        return self._ok(data)

    def _candles(self, max_limit: int) -> Any:
        async def handler(request: Request) -> Response:
            h = self._inst(request)
            assert h is not None
            bar = request.query_params.get("bar", "1m")
            if bar not in _BARS:
                raise BadParam(f"Parameter bar error: {bar}", "51000", 200)
            limit = int_param(request, "limit", 100, 1, max_limit, "51000") or 100
            after, before = int_param(request, "after"), int_param(request, "before")
            iv = _BARS[bar]
            offset = HK if iv >= 6 * HOUR and not bar.endswith("utc") else 0
            now = self.clock.now_ms()
            end = after - 1 if after is not None else None  # after: records older than ts
            rows = candles(h, iv, now, start_ms=None, end_ms=end, limit=limit, offset_ms=offset)
            if before is not None:  # before: records newer than ts
                rows = [c for c in rows if c.open_ms > before]
            return self._ok([self._candle_row(h, c) for c in reversed(rows)])

        return handler

    def _candle_row(self, h: MarketHistory, c: Candle) -> list[str]:
        return [
            str(c.open_ms),
            fmt_px(c.open),
            fmt_px(c.high),
            fmt_px(c.low),
            fmt_px(c.close),
            fmt_qty(c.volume / ct_val(h), 0),
            fmt_qty(c.volume),
            fmt_fixed(c.quote_volume, 4),
            "1" if c.closed else "0",
        ]
