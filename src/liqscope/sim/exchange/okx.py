"""Simulated OKX v5 SWAP: ``/ws/v5/public`` and the v5 public/market REST endpoints.

Wire facts (exchange-reference §4): sizes are **contracts** (base = ``sz × ctVal``; the simulated
BTC-USDT-SWAP has ctVal 0.01 BTC), ``side`` is the liquidation *order* side (``buy`` = a short
was liquidated) with ``posSide`` giving the position, ``bkPx`` the bankruptcy price;
liquidation-orders are sampled (one per contract per second) and the first message after
subscribing is a snapshot of recent orders. Text ``ping`` is answered with ``pong``.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route, WebSocketRoute
from starlette.websockets import WebSocket

from liqscope.domain import registry
from liqscope.domain.errors import InputError
from liqscope.domain.intervals import HOUR_MS, MINUTE_MS
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

HK = -8 * HOUR_MS  # OKX's 6H and longer bars align to Hong Kong time unless suffixed "utc"
_BARS = {
    "1m": MINUTE_MS,
    "3m": 3 * MINUTE_MS,
    "5m": 5 * MINUTE_MS,
    "15m": 15 * MINUTE_MS,
    "30m": 30 * MINUTE_MS,
    "1H": HOUR_MS,
    "2H": 2 * HOUR_MS,
    "4H": 4 * HOUR_MS,
}
for _name, _ms in (("6H", 6 * HOUR_MS), ("12H", 12 * HOUR_MS), ("1D", 24 * HOUR_MS)):
    _BARS[_name] = _ms
    _BARS[_name + "utc"] = _ms
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
LOT = 0.01  # lotSz, contracts
TICK = 0.1
RUBIK_PERIODS = {"5m": 5 * MINUTE_MS, "1H": HOUR_MS, "1D": 24 * HOUR_MS}
LISTED = ("SPOT", "MARGIN", "SWAP", "FUTURES", "OPTION")  # only SWAP has instruments here


def _offset(bar: str, interval_ms: int) -> int:
    """Where bars of ``bar`` start: 6H and longer at Hong Kong midnight unless suffixed utc."""
    return HK if interval_ms >= 6 * HOUR_MS and not bar.endswith("utc") else 0


def _between(
    h: MarketHistory, step_ms: int, now_ms: int, request: Request, older: str, newer: str
) -> range:
    """The multiples of ``step_ms`` strictly between the ``older`` and ``newer`` timestamp
    parameters (OKX's exclusive ``before``/``after``, ``begin``/``end``), ascending."""
    lo, hi = int_param(request, older), int_param(request, newer)
    return stamps(
        h, step_ms, now_ms, None if lo is None else lo + 1, None if hi is None else hi - 1
    )


def okx_inst_id(h: MarketHistory) -> str:
    return f"{h.instrument.base}-{h.instrument.quote}-SWAP"


def ct_val(h: MarketHistory) -> float:
    """Contract value in base units: the instrument's own for OKX traces, else that of the
    registry's OKX linear swap of the same coin (1 when the registry has none)."""
    inst = h.instrument
    if inst.venue == "okx" and inst.contract_size > 0:
        return float(inst.contract_size)
    return _registry_ct_val(inst.base)


@functools.cache
def _registry_ct_val(base: str) -> float:
    try:
        return registry.instrument("okx", f"{base}-USDT-SWAP").contract_size
    except InputError:
        return 1.0


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
            WebSocketRoute("/ws/v5/business", self._ws),
            Route("/api/v5/public/time", r(self._time)),
            Route("/api/v5/market/tickers", r(self._tickers)),
            Route("/api/v5/market/ticker", r(self._tickers)),
            Route("/api/v5/market/trades", r(self._trades(500))),
            Route("/api/v5/market/history-trades", r(self._trades(100))),
            Route("/api/v5/market/books", r(self._books)),
            Route("/api/v5/public/funding-rate", r(self._funding_rate)),
            Route("/api/v5/public/funding-rate-history", r(self._funding_history)),
            Route("/api/v5/rubik/stat/contracts/open-interest-history", r(self._oi_history)),
            Route("/api/v5/public/instruments", r(self._instruments)),
            Route("/api/v5/public/open-interest", r(self._swaps_now(self._oi))),
            Route("/api/v5/public/mark-price", r(self._swaps_now(self._mark))),
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
        await self.serve_ws(ws, (), state={"business": ws.url.path.endswith("/business")})

    def _topic(self, arg: Any, business: bool = False) -> str:
        if not isinstance(arg, dict):
            raise ValueError("arg must be an object")
        channel = arg.get("channel")
        if isinstance(channel, str) and channel.startswith("candle"):
            if not business:  # candles moved to /ws/v5/business
                raise ValueError(f"channel {channel} doesn't exist on /ws/v5/public")
            if channel[6:] not in _BARS or arg.get("instId") not in self.by_inst:
                raise ValueError(f"channel {channel} instId {arg.get('instId')} doesn't exist")
            return f"{channel}:{arg['instId']}"
        if business:
            raise ValueError(f"channel {channel} doesn't exist on /ws/v5/business")
        if channel == "liquidation-orders":
            if arg.get("instType") != "SWAP":
                raise ValueError("instType must be SWAP")
            return "liquidation-orders:SWAP"
        if channel in ("trades", "mark-price", "open-interest", "tickers", "books5", "books"):
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
            topics = [self._topic(a, bool(conn.state.get("business"))) for a in args]
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
        for h in self.histories.values():  # the recent orders, one push per order
            t1 = self._pushed_to(h)
            t0 = t1 - self.options.okx_snapshot_ms
            for liq in self._sampled(h, max(t0, h.start_ms), t1):
                conn.put(orjson.dumps(self._liq_message(h, (liq,))).decode(), (liq,))

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
            arg = {"channel": "mark-price", "instId": inst}
            for t, j in h.sec_rows(second_marks(t0, t1)):
                data = [self._mark(h, j, t)]
                out.append(Outgoing(f"mark-price:{inst}", {"arg": arg, "data": data}))
        if f"open-interest:{inst}" in wanted:
            arg = {"channel": "open-interest", "instId": inst}
            for t, j in h.sec_rows(second_marks(t0, t1, OI_EVERY_MS)):
                data = [self._oi(h, j, t)]
                out.append(Outgoing(f"open-interest:{inst}", {"arg": arg, "data": data}))
        if "liquidation-orders:SWAP" in wanted:
            for e in second_marks(t0, t1, LIQ_SAMPLE_MS):
                for liq in self._sampled(h, e - LIQ_SAMPLE_MS, e):
                    msg = self._liq_message(h, (liq,))
                    out.append(Outgoing("liquidation-orders:SWAP", msg, (liq,)))
        out.extend(self._quote_events(h, t0, t1, wanted))
        return out

    def _quote_events(self, h: MarketHistory, t0: int, t1: int, wanted: set[str]) -> list[Outgoing]:
        """Tickers and books once per second; candles of the subscribed bars."""
        inst = okx_inst_id(h)
        out: list[Outgoing] = []
        for bar, iv in _BARS.items():
            topic = f"candle{bar}:{inst}"
            if topic in wanted:
                arg = {"channel": f"candle{bar}", "instId": inst}
                for _, c in live_candles(h, t0, t1, iv, _offset(bar, iv)):
                    out.append(Outgoing(topic, {"arg": arg, "data": [self._candle_row(h, c)]}))
        for t in second_marks(max(t0, h.start_ms + 1), t1, 1000):
            if f"tickers:{inst}" in wanted:
                data = [self._ticker(h, t)]
                arg = {"channel": "tickers", "instId": inst}
                out.append(Outgoing(f"tickers:{inst}", {"arg": arg, "data": data}))
            for channel, depth in (("books5", 5), ("books", 50)):
                if f"{channel}:{inst}" in wanted:
                    arg = {"channel": channel, "instId": inst}
                    msg: dict[str, Any] = {"arg": arg, "data": [self._book(h, t, depth)]}
                    if channel == "books":  # frame() sends a snapshot, then deltas
                        msg["prev"] = self._book(h, t - 1000, depth)
                    out.append(Outgoing(f"{channel}:{inst}", msg))
        return out

    def frame(self, conn: Conn, out: Outgoing) -> str:
        if not out.topic.startswith("books:"):
            return orjson.dumps(out.payload).decode()
        seen = conn.state.setdefault("books", set())
        now = dict(out.payload["data"][0])
        if out.topic not in seen:  # the first message of the channel: a snapshot
            seen.add(out.topic)
            data, action = {**now, "prevSeqId": -1}, "snapshot"
        else:  # an update: changed levels, and size 0 for the levels that left the book
            prev = out.payload["prev"]
            data, action = dict(now), "update"
            for side in ("asks", "bids"):
                have = {lv[0] for lv in now[side]}
                data[side] = now[side] + [
                    [lv[0], "0", "0", "0"] for lv in prev[side] if lv[0] not in have
                ]
        return orjson.dumps({"arg": out.payload["arg"], "action": action, "data": [data]}).decode()

    def _ticker(self, h: MarketHistory, t: int) -> dict[str, Any]:
        d = day_stats(h, t)
        cv = ct_val(h)
        (bp, bq), (ap, aq) = top_of_book(h, t, TICK, LOT * cv)
        i = d.last_index
        return {
            "instType": "SWAP", "instId": okx_inst_id(h), "last": fmt_px(d.last),
            "lastSz": fmt_lot(float(h.col("trade_qty")[i]) / cv, LOT) if i >= 0 else "0",
            "askPx": fmt_px(ap), "askSz": fmt_lot(aq / cv, LOT), "bidPx": fmt_px(bp),
            "bidSz": fmt_lot(bq / cv, LOT), "open24h": fmt_px(d.open), "high24h": fmt_px(d.high),
            "low24h": fmt_px(d.low), "volCcy24h": fmt_fixed(d.volume, 4),
            "vol24h": fmt_lot(d.volume / cv, LOT) if d.count else "0",
            "sodUtc0": fmt_px(d.open), "sodUtc8": fmt_px(d.open), "ts": str(t),
        }  # fmt: skip

    def _book(self, h: MarketHistory, t: int, depth: int) -> dict[str, Any]:
        cv = ct_val(h)
        bids, asks = book(h, t, depth, TICK, LOT * cv)

        def levels(side: list[tuple[float, float]]) -> list[list[str]]:
            return [[*lv, "0", "1"] for lv in wire_levels(side, LOT, cv)]

        return {"asks": levels(asks), "bids": levels(bids), "ts": str(t), "checksum": 0,
                "seqId": t // 1000, "prevSeqId": t // 1000 - 1}  # fmt: skip

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
        liq = liquidation(h, j, LOT, ct_val(h))  # sizes in contracts
        wire = {
            "bkLoss": "0",
            "bkPx": fmt_px(liq.bk, liq.px),
            "ccy": "",
            "posSide": "long" if liq.side > 0 else "short",
            "side": "sell" if liq.side > 0 else "buy",  # the order that closes the position
            "sz": fmt_lot(liq.size, LOT),
            "ts": str(liq.ts),
        }
        return self.sent_liquidation(h, liq, wire)

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
            "sz": fmt_lot(float(h.col("trade_qty")[i]) / ct_val(h), LOT),
            "side": "buy" if h.col("trade_taker")[i] > 0 else "sell",  # taker side
            "ts": str(int(h.col("trade_ts")[i])),
            "count": "1",
        }

    def _mark(self, h: MarketHistory, j: int, t: int) -> dict[str, Any]:
        px = fmt_px(float(h.col("mark_px")[j]))
        return {"instType": "SWAP", "instId": okx_inst_id(h), "ts": str(t), "markPx": px}

    def _oi(self, h: MarketHistory, j: int, t: int) -> dict[str, Any]:
        oi = float(h.col("oi_base")[j])
        return {
            "instType": "SWAP",
            "instId": okx_inst_id(h),
            "oi": fmt_lot(oi / ct_val(h), LOT),
            "oiCcy": fmt_fixed(oi, 4),
            "oiUsd": fmt_fixed(oi * float(h.col("mark_px")[j]), 4),
            "ts": str(t),
        }

    # -- REST ---------------------------------------------------------------------------------
    def _swap(self, request: Request) -> None:
        if request.query_params.get("instType", "SWAP") != "SWAP":
            raise BadParam("Only instType SWAP is simulated", "51000", 200)

    def _listed(self, request: Request) -> list[MarketHistory]:
        """The instruments of an ``instType`` (+ optional ``instId``) query: the simulated
        swaps for SWAP, none for the other types (this venue lists only swaps)."""
        kind = request.query_params.get("instType", "SWAP")
        if kind not in LISTED:
            raise BadParam(f"Parameter instType error: {kind}", "51000", 200)
        h1 = self._inst(request, required=False)
        if kind != "SWAP":
            return []
        return [h1] if h1 is not None else list(self.histories.values())

    async def _time(self, request: Request) -> Response:
        return self._ok([{"ts": str(self.clock.now_ms())}])

    async def _instruments(self, request: Request) -> Response:
        if "instType" not in request.query_params:
            raise BadParam("Parameter instType can not be empty", "50014", 200)
        hs = self._listed(request)
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

    async def _tickers(self, request: Request) -> Response:
        now = self.clock.now_ms()
        hs = self._listed(request) if "instType" in request.query_params else [self._need(request)]
        return self._ok([self._ticker(h, now) for h in hs])

    def _need(self, request: Request) -> MarketHistory:
        h = self._inst(request)
        assert h is not None  # required=True raises instead
        return h

    def _trades(self, max_limit: int) -> Any:
        async def handler(request: Request) -> Response:
            h = self._need(request)
            limit = int_param(request, "limit", 100, 1, max_limit, "51000") or 100
            after = int_param(request, "after")  # history-trades: ids older than this one
            _, n = h.span("trade", h.start_ms, self.clock.now_ms() + 1)
            hi = min(n, after - 100_000_000) if after is not None else n
            rows = [self._trade(h, i) for i in range(hi - 1, max(0, hi - limit) - 1, -1)]
            return self._ok(rows)

        return handler

    async def _books(self, request: Request) -> Response:
        h = self._need(request)
        depth = int_param(request, "sz", 1, 1, 400, "51000") or 1
        return self._ok([self._book(h, self.clock.now_ms(), min(depth, 100))])

    async def _funding_rate(self, request: Request) -> Response:
        h = self._need(request)
        now = self.clock.now_ms()
        j = h.sec_index(now)
        rate = fmt_fixed(float(h.col("funding_rate")[j]), 8) if j >= 0 else "0"
        nxt = next_funding_ms(now)
        return self._ok(
            [{"instType": "SWAP", "instId": okx_inst_id(h), "fundingRate": rate,
              "nextFundingRate": "", "fundingTime": str(nxt),
              "nextFundingTime": str(nxt + 8 * HOUR_MS),
              "method": "current_period", "maxFundingRate": "0.00375",
              "minFundingRate": "-0.00375", "premium": "0", "settFundingRate": rate,
              "settState": "settled", "interestRate": "0.0001", "impactValue": "20000",
              "formulaType": "withRate", "ts": str(now)}]
        )  # fmt: skip

    async def _funding_history(self, request: Request) -> Response:
        h = self._need(request)
        limit = int_param(request, "limit", 100, 1, 400, "51000") or 100
        times = _between(h, FUNDING_INTERVAL_MS, self.clock.now_ms(), request, "before", "after")
        rows = []
        for t, j in h.sec_rows(times[::-1][:limit]):  # newest first
            rate = fmt_fixed(float(h.col("funding_rate")[j]), 8)
            rows.append({"instType": "SWAP", "instId": okx_inst_id(h), "fundingRate": rate,
                         "realizedRate": rate, "fundingTime": str(t),
                         "method": "current_period", "formulaType": "withRate"})  # fmt: skip
        return self._ok(rows)

    async def _oi_history(self, request: Request) -> Response:
        """``rubik/stat/contracts/open-interest-history``: rows ``[ts, oi (contracts), oiCcy,
        oiUsd]``, newest first; ``begin`` and ``end`` are exclusive bounds."""
        h = self._need(request)
        _, step = choice_param(
            request, "period", RUBIK_PERIODS, "Parameter period error: {}", "51000", 200, "5m"
        )
        limit = int_param(request, "limit", 100, 1, 100, "51000") or 100
        times = _between(h, step, self.clock.now_ms(), request, "begin", "end")
        rows = []
        for t, j in h.sec_rows(times[::-1][:limit]):  # newest first
            oi = self._oi(h, j, t)
            rows.append([str(t), oi["oi"], oi["oiCcy"], oi["oiUsd"]])
        return self._ok(rows)

    def _swaps_now(self, row: Callable[[MarketHistory, int, int], dict[str, Any]]) -> Any:
        """A handler answering ``row(h, j, now)`` for the ``instId`` swap, or for every one."""

        async def handler(request: Request) -> Response:
            self._swap(request)
            h1 = self._inst(request, required=False)
            hs = [h1] if h1 is not None else list(self.histories.values())
            now = self.clock.now_ms()
            return self._ok([row(h, j, now) for h in hs if (j := h.sec_index(now)) >= 0])

        return handler

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
            liqs = self._sampled(h, max(h.start_ms, t1 - 7 * 24 * HOUR_MS), t1)[::-1][:limit]
            if liqs:
                self.sent.record(liqs)
                data.extend(self._liq_message(h, tuple(liqs))["data"])
        return self._ok(data)

    def _candles(self, max_limit: int) -> Any:
        async def handler(request: Request) -> Response:
            h = self._inst(request)
            assert h is not None
            bar, iv = choice_param(
                request, "bar", _BARS, "Parameter bar error: {}", "51000", 200, "1m"
            )
            limit = int_param(request, "limit", 100, 1, max_limit, "51000") or 100
            after, before = int_param(request, "after"), int_param(request, "before")
            offset = _offset(bar, iv)
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
            fmt_lot(c.volume / ct_val(h), LOT) if c.trades else "0",
            fmt_fixed(c.volume, 4),
            fmt_fixed(c.quote_volume, 4),
            "1" if c.closed else "0",
        ]
