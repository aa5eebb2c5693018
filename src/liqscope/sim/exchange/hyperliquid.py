"""Simulated Hyperliquid perpetuals: WS ``/ws`` and ``POST /info``.

Wire facts (exchange-reference §5, Hyperliquid's API docs): one WS endpoint; the client sends
``{"method":"subscribe","subscription":{"type":"trades","coin":"BTC"}}`` and gets
``{"channel":"subscriptionResponse","data":{"method":"subscribe","subscription":{…}}}``, then
``{"channel":"trades","data":[{coin, side, px, sz, time, hash, tid, users}]}`` (``side`` ``B`` =
the taker bought, ``A`` = sold; ``px``/``sz`` strings, size in coin; ``users`` = [buyer, seller]),
``{"channel":"activeAssetCtx","data":{"coin","ctx":{markPx, oraclePx, funding, openInterest, …}}}``
(all strings, no timestamp) and ``{"channel":"candle","data":{t, T, s, i, o, c, h, l, v, n}}``.
``{"method":"ping"}`` is answered with ``{"channel":"pong"}``. Errors: ``{"channel":"error",
"data": "…"}``. There is **no public liquidation feed**: liquidations are visible only per user
(``clearinghouseState`` gives each open position's ``liquidationPx``).

REST is one route, ``POST /info`` with a JSON body ``{"type": …}``: ``meta``,
``metaAndAssetCtxs`` (``[meta, ctxs]`` aligned by index), ``spotMeta`` /
``spotMetaAndAssetCtxs`` (the USDC token, no spot pairs), ``perpDexs`` (``[null]``: the
default dex only), ``exchangeStatus``, ``candleSnapshot`` (``req``: coin, interval, startTime,
endTime; at most 5000 candles), ``fundingHistory`` (coin, startTime, endTime; hourly),
``l2Book`` (coin), ``userFills`` / ``userFillsByTime`` (the synthetic trade addresses) and
``clearinghouseState`` (``user``). The simulated market's
open positions are served one per synthetic address (Hyperliquid holds one position per coin
and account); ``GET /_sim/users`` lists the addresses with open positions.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable
from typing import Any

import numpy as np
import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route, WebSocketRoute
from starlette.websockets import WebSocket

from liqscope.domain.intervals import DAY_MS, HOUR_MS
from liqscope.domain.intervals import INTERVALS as DOMAIN_INTERVALS
from liqscope.sim.exchange.history import Candle, MarketHistory, align, candle, candles
from liqscope.sim.exchange.quotes import book
from liqscope.sim.exchange.server import (
    BadParam,
    Conn,
    Outgoing,
    VenueServer,
    json_response,
    second_marks,
)

__all__ = ["HyperliquidServer", "PositionsSource", "address", "fmt_hl_px", "fmt_hl_sz", "tid_base"]

# Hyperliquid's candle intervals: the common names but 6h.
INTERVALS: dict[str, int] = {k: ms for k, ms in DOMAIN_INTERVALS.items() if k != "6h"}
CANDLE_SNAPSHOT_LIMIT = 5000
# (szDecimals, maxLeverage) of the listed coins; others get (2, 10).
ASSETS: dict[str, tuple[int, int]] = {"BTC": (5, 40), "ETH": (4, 25), "SOL": (2, 20)}
_BAD_BODY = "Failed to deserialize the JSON body into the target type"
FUNDING_PERIOD_H = 8  # the simulator's funding_rate is per 8 h; Hyperliquid quotes hourly rates

TRADERS, MAKERS = 997, 89  # synthetic taker / maker addresses of the public trades
_TRADER_MUL, _MAKER_MUL = 7919, 104_729
FUNDING_HISTORY_LIMIT = 500

PositionsSource = Callable[[], Any]
"""``() -> liqscope.sim.market.Positions`` (the open positions of one coin, now)."""


def asset_info(coin: str) -> tuple[int, int]:
    return ASSETS.get(coin, (2, 10))


def _strip(s: str) -> str:
    """``"100453.000"`` -> ``"100453.0"``: no needless zeros, at least one decimal."""
    if "." not in s:
        return s + ".0"
    s = s.rstrip("0")
    return s + "0" if s.endswith(".") else s


def fmt_hl_px(px: float, sz_decimals: int = 5) -> str:
    """A perp price as Hyperliquid quotes it: at most 5 significant figures and at most
    ``6 - szDecimals`` decimals; whole numbers are always allowed."""
    if px <= 0 or not math.isfinite(px):
        return "0.0"
    dp = max(0, min(6 - sz_decimals, 4 - math.floor(math.log10(px))))
    return _strip(f"{round(px, dp):.{dp}f}")


def fmt_hl_sz(sz: float, sz_decimals: int = 5) -> str:
    """A size in coin with ``szDecimals`` decimals (at least one lot)."""
    lot = 10.0**-sz_decimals
    return _strip(f"{max(round(sz, sz_decimals), lot):.{sz_decimals}f}")


def fmt_num(x: float, max_dp: int = 10) -> str:
    return _strip(f"{x:.{max_dp}f}")


def address(kind: str, n: int) -> str:
    """A deterministic 0x address (40 hex digits) for synthetic user ``n`` of ``kind``."""
    return "0x" + hashlib.sha256(f"{kind}:{n}".encode()).hexdigest()[:40]


def _tx_hash(coin: str, i: int) -> str:
    return "0x" + hashlib.sha256(f"tx:{coin}:{i}".encode()).hexdigest()


def tid_base(coin: str) -> int:
    """The first trade id of ``coin``: a trade's ``tid`` is this + its index in the history."""
    return 10**14 + int(hashlib.sha256(coin.encode()).hexdigest()[:6], 16) * 10**7


def _bound_owner(fn: Any) -> Any:
    return getattr(fn, "__self__", None)


class HyperliquidServer(VenueServer):
    venue = "hyperliquid"
    lifetime_ms = None  # no documented maximum connection age
    malformed_frame = '{"channel":"trades","data":[{"px":'

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.by_coin: dict[str, MarketHistory] = {self.coin(h): h for h in self.histories.values()}
        # Open positions per coin: from the chunk source when it is a simulator's bound
        # ``Market.advance`` (the market knows its positions), else set by ``set_positions``.
        self.positions: dict[str, PositionsSource] = {}
        for coin, h in self.by_coin.items():
            owner = _bound_owner(getattr(h, "_source", None))
            if owner is not None and callable(getattr(owner, "open_positions", None)):
                self.positions[coin] = owner.open_positions
        from liqscope.sim.accounts import SimAccounts  # it imports this module's formats

        self.accounts = SimAccounts(self)  # margin accounts, trade users, the weight limit

    @staticmethod
    def coin(h: MarketHistory) -> str:
        """Hyperliquid names perps by coin: the trace's symbol for a Hyperliquid trace, else
        the instrument's base asset (BTCUSDT -> BTC)."""
        if h.instrument.venue == "hyperliquid":
            return h.symbol
        return h.instrument.base

    def set_positions(self, coin: str, source: PositionsSource) -> None:
        """Serve ``source()`` (``Positions``) as the open positions of ``coin``."""
        self.positions[coin] = source

    def routes(self) -> list[BaseRoute]:
        return [
            WebSocketRoute("/ws", self._ws),
            Route("/info", self.rest(self._info), methods=["POST"]),
        ]

    def control_routes(self) -> list[BaseRoute]:
        return [Route("/_sim/users", self._users)]

    def error_body(self, status: int, msg: str, code: int | str) -> Any:
        return {"error": msg}

    def liquidation_topic(self, symbol: str) -> str:
        return ""  # no public liquidation feed: nothing to subscribe to

    def liquidation_topics(self) -> list[str]:
        return []

    def state_topics(self) -> list[str]:
        """The asset contexts (open interest, mark, funding): the real venue serves no open
        interest history, only the current value."""
        return sorted(f"activeAssetCtx:{coin}" for coin in self.by_coin)

    # -- WS -----------------------------------------------------------------------------------
    async def _ws(self, ws: WebSocket) -> None:
        await self.serve_ws(ws, ())

    def _topic(self, sub: Any) -> str:
        if not isinstance(sub, dict):
            raise ValueError("subscription must be an object")
        kind, coin = sub.get("type"), sub.get("coin")
        if kind not in ("trades", "activeAssetCtx", "candle", "l2Book"):
            raise ValueError(f"unsupported subscription type {kind!r}")
        if coin not in self.by_coin:
            raise ValueError(f"unknown coin {coin!r}")
        if kind == "candle":
            interval = sub.get("interval")
            if interval not in INTERVALS:
                raise ValueError(f"unknown interval {interval!r}")
            return f"candle:{coin}:{interval}"
        return f"{kind}:{coin}"

    async def on_text(self, conn: Conn, text: str) -> None:
        try:
            msg = orjson.loads(text)
            method = msg["method"]
        except (orjson.JSONDecodeError, KeyError, TypeError):
            self._error(conn, f"Error parsing JSON into valid websocket request: {text[:200]}")
            return
        if method == "ping":
            conn.put('{"channel":"pong"}')
            return
        if method not in ("subscribe", "unsubscribe"):
            self._error(conn, f"Unknown method: {method}")
            return
        sub = msg.get("subscription")
        try:
            topic = self._topic(sub)
        except ValueError as exc:
            self._error(conn, f"Invalid subscription {orjson.dumps(sub).decode()}: {exc}")
            return
        if method == "subscribe" and topic in conn.topics:
            self._error(conn, f"Already subscribed: {orjson.dumps(sub).decode()}")
            return
        if method == "unsubscribe" and topic not in conn.topics:
            self._error(conn, f"Already unsubscribed: {orjson.dumps(sub).decode()}")
            return
        reply = {"channel": "subscriptionResponse", "data": {"method": method, "subscription": sub}}
        conn.put(orjson.dumps(reply).decode())
        if method == "subscribe":
            self.subscribe(conn, [topic])
        else:
            conn.topics.discard(topic)

    def _error(self, conn: Conn, text: str) -> None:
        conn.put(orjson.dumps({"channel": "error", "data": text}).decode())

    def emit(self, h: MarketHistory, t0: int, t1: int, wanted: set[str]) -> list[Outgoing]:
        coin = self.coin(h)
        out: list[Outgoing] = []
        topic = f"trades:{coin}"
        if topic in wanted:
            i0, i1 = h.span("trade", t0, t1)
            ts = h.col("trade_ts")
            i = i0
            while i < i1:  # one message per timestamp (a block), several trades each
                j = i + 1
                while j < i1 and ts[j] == ts[i]:
                    j += 1
                trades = [self._trade(h, coin, k) for k in range(i, j)]
                out.append(Outgoing(topic, {"channel": "trades", "data": trades}))
                i = j
        topic = f"activeAssetCtx:{coin}"
        if topic in wanted:
            j0, j1 = h.span("sec", t0, t1)
            for j in range(j0, j1):
                ctx = {"coin": coin, "ctx": self._ctx(h, coin, j)}
                out.append(Outgoing(topic, {"channel": "activeAssetCtx", "data": ctx}))
        topic = f"l2Book:{coin}"
        if topic in wanted:  # a full book each second
            for t in second_marks(max(t0, h.start_ms + 1), t1, 1000):
                data = self._l2_book({"coin": coin}, t)
                out.append(Outgoing(topic, {"channel": "l2Book", "data": data}))
        prefix = f"candle:{coin}:"
        for topic in sorted(t for t in wanted if t.startswith(prefix)):
            iv = INTERVALS[topic[len(prefix) :]]
            # every simulated second: the candle as of that second's end
            for e in second_marks(t0 + 1, t1 + 1, 1000):
                c = candle(h, align(e - 1, iv), iv, e)
                if c is not None:
                    bar = self._candle(coin, c, topic[len(prefix) :])
                    out.append(Outgoing(topic, {"channel": "candle", "data": bar}))
        return out

    def _trade(self, h: MarketHistory, coin: str, i: int) -> dict[str, Any]:
        szd, _ = asset_info(coin)
        buy = bool(h.col("trade_taker")[i] > 0)
        taker = address("trader", (_TRADER_MUL * i) % TRADERS)
        maker = address("maker", (_MAKER_MUL * i) % MAKERS)
        ts, qty = int(h.col("trade_ts")[i]), float(h.col("trade_qty")[i])
        users = self.accounts.trade_users(coin, ts, qty, buy)
        return {
            "coin": coin,
            "side": "B" if buy else "A",
            "px": fmt_hl_px(float(h.col("trade_px")[i]), szd),
            "sz": fmt_hl_sz(float(h.col("trade_qty")[i]), szd),
            "time": int(h.col("trade_ts")[i]),
            "hash": _tx_hash(coin, i),
            "tid": tid_base(coin) + i,
            "users": users or ([taker, maker] if buy else [maker, taker]),  # [buyer, seller]
        }

    def _ctx(self, h: MarketHistory, coin: str, j: int) -> dict[str, Any]:
        szd, _ = asset_info(coin)
        t = int(h.col("sec_ts")[j])
        mark = float(h.col("mark_px")[j])
        oracle = float(h.col("index_px")[j])
        prev = h.sec_index(t - DAY_MS)
        prev_px = float(h.col("mark_px")[max(prev, 0)])
        i0, i1 = h.span("trade", t - DAY_MS, t + 1)
        qty = h.col("trade_qty")[i0:i1]
        notional = float(np.dot(qty, h.col("trade_px")[i0:i1])) if i1 > i0 else 0.0
        mid = h.last_price_before(t + 1) or mark
        tick = 10.0 ** -max(0, min(6 - szd, 4 - math.floor(math.log10(mid))))
        return {
            "funding": fmt_num(float(h.col("funding_rate")[j]) / FUNDING_PERIOD_H),
            "openInterest": fmt_hl_sz(float(h.col("oi_base")[j]), szd),
            "prevDayPx": fmt_hl_px(prev_px, szd),
            "dayNtlVlm": fmt_num(notional, 6),
            "premium": fmt_num(mark / oracle - 1.0 if oracle > 0 else 0.0, 8),
            "oraclePx": fmt_hl_px(oracle, szd),
            "markPx": fmt_hl_px(mark, szd),
            "midPx": fmt_hl_px(mid, szd),
            "impactPxs": [fmt_hl_px(mid - tick, szd), fmt_hl_px(mid + tick, szd)],
            "dayBaseVlm": fmt_num(float(qty.sum()), szd),
        }

    def _candle(self, coin: str, c: Candle, interval: str) -> dict[str, Any]:
        szd, _ = asset_info(coin)
        return {
            "t": c.open_ms,
            "T": c.open_ms + c.interval_ms - 1,
            "s": coin,
            "i": interval,
            "o": fmt_hl_px(c.open, szd),
            "c": fmt_hl_px(c.close, szd),
            "h": fmt_hl_px(c.high, szd),
            "l": fmt_hl_px(c.low, szd),
            "v": fmt_num(c.volume, szd),
            "n": c.trades,
        }

    # -- REST ---------------------------------------------------------------------------------
    async def _info(self, request: Request) -> Response:
        try:
            body = orjson.loads(await request.body())
            kind = body["type"]
        except (orjson.JSONDecodeError, KeyError, TypeError):
            raise BadParam(_BAD_BODY, 0, 422) from None
        self.accounts.charge(request, str(kind))
        now = self.clock.now_ms()
        if kind == "metaAndAssetCtxs":
            return json_response(self._meta_and_ctxs())
        if kind == "meta":
            return json_response(self._meta_and_ctxs()[0])
        if kind in ("spotMeta", "spotMetaAndAssetCtxs"):
            usdc = {"name": "USDC", "szDecimals": 8, "weiDecimals": 8, "index": 0,
                    "tokenId": "0x" + "0" * 32, "isCanonical": True, "evmContract": None,
                    "fullName": None}  # fmt: skip
            meta = {"universe": [], "tokens": [usdc]}
            return json_response(meta if kind == "spotMeta" else [meta, []])
        if kind == "perpDexs":
            return json_response([None])
        if kind == "exchangeStatus":
            return json_response({"time": now, "specialStatuses": None})
        if kind == "candleSnapshot":
            return json_response(self._candle_snapshot(body.get("req")))
        if kind == "fundingHistory":
            return json_response(self._funding_history(body, now))
        if kind == "l2Book":
            return json_response(self._l2_book(body, now))
        if kind in ("userFills", "userFillsByTime"):
            return json_response(self._user_fills(body, now, by_time=kind == "userFillsByTime"))
        if kind == "clearinghouseState":
            return json_response(self.accounts.clearinghouse(body.get("user")))
        raise BadParam(_BAD_BODY, 0, 422)

    def _coin_history(self, body: dict[str, Any]) -> tuple[str, MarketHistory | None]:
        coin = body.get("coin")
        if not isinstance(coin, str):
            raise BadParam(_BAD_BODY, 0, 422)
        return coin, self.by_coin.get(coin)

    @staticmethod
    def _ms(body: dict[str, Any], key: str, default: int | None) -> int | None:
        raw = body.get(key)
        if raw is None:
            return default
        if isinstance(raw, bool) or not isinstance(raw, int):
            raise BadParam(_BAD_BODY, 0, 422)
        return raw

    def _funding_history(self, body: dict[str, Any], now: int) -> list[dict[str, Any]]:
        """Hourly funding (the simulator's 8 h rate / 8), oldest first, from ``startTime``."""
        coin, h = self._coin_history(body)
        start = self._ms(body, "startTime", None)
        if start is None:
            raise BadParam(_BAD_BODY, 0, 422)
        end = self._ms(body, "endTime", now) or now
        if h is None:
            return []
        first = -(-max(start, h.start_ms) // HOUR_MS) * HOUR_MS
        rows = []
        for t in range(first, min(end, now) + 1, HOUR_MS)[:FUNDING_HISTORY_LIMIT]:
            j = h.sec_index(t)
            if j >= 0:
                mark, index = float(h.col("mark_px")[j]), float(h.col("index_px")[j])
                rows.append(
                    {"coin": coin, "time": t,
                     "fundingRate": fmt_num(float(h.col("funding_rate")[j]) / FUNDING_PERIOD_H),
                     "premium": fmt_num(mark / index - 1.0 if index > 0 else 0.0, 8)}
                )  # fmt: skip
        return rows

    def _l2_book(self, body: dict[str, Any], now: int) -> dict[str, Any] | None:
        coin, h = self._coin_history(body)
        if h is None:
            return None
        szd, _ = asset_info(coin)
        mid = h.last_price_before(now + 1) or 1.0
        tick = 10.0 ** -max(0, min(6 - szd, 4 - math.floor(math.log10(mid))))
        bids, asks = book(h, now, 20, tick, 10.0**-szd)

        def side(levels: list[tuple[float, float]]) -> list[dict[str, Any]]:
            return [{"px": fmt_hl_px(p, szd), "sz": fmt_hl_sz(q, szd), "n": 1} for p, q in levels]

        return {"coin": coin, "time": now, "levels": [side(bids), side(asks)]}

    def _user_fills(self, body: dict[str, Any], now: int, by_time: bool) -> list[dict[str, Any]]:
        """The public trades a synthetic trade address took part in (newest first, at most
        2000; ``userFillsByTime``: from ``startTime``, oldest first)."""
        user = body.get("user")
        if not isinstance(user, str):
            raise BadParam(_BAD_BODY, 0, 422)
        role = self._trade_users().get(user.lower())
        if role is None:
            return []
        start = self._ms(body, "startTime", None) if by_time else None
        if by_time and start is None:
            raise BadParam(_BAD_BODY, 0, 422)
        end = self._ms(body, "endTime", now) or now
        kind, n = role
        mul, mod = (_TRADER_MUL, TRADERS) if kind == "trader" else (_MAKER_MUL, MAKERS)
        first = (n * pow(mul, -1, mod)) % mod  # the first trade index with this address
        fills: list[dict[str, Any]] = []
        for coin, h in self.by_coin.items():
            lo, hi = h.span("trade", start if start is not None else h.start_ms, min(end, now) + 1)
            idx = range(first + -(-(lo - first) // mod) * mod if lo > first else first, hi, mod)
            picked = idx[:2000] if by_time else idx[-2000:]
            fills.extend(self._fill(h, coin, i, kind == "trader") for i in picked)
        fills.sort(key=lambda f: int(f["time"]), reverse=not by_time)
        return fills[:2000]

    def _trade_users(self) -> dict[str, tuple[str, int]]:
        cache: dict[str, tuple[str, int]] | None = getattr(self, "_users_cache", None)
        if cache is None:
            cache = {address("trader", n): ("trader", n) for n in range(TRADERS)}
            cache.update({address("maker", n): ("maker", n) for n in range(MAKERS)})
            self._users_cache = cache
        return cache

    def _fill(self, h: MarketHistory, coin: str, i: int, taker: bool) -> dict[str, Any]:
        t = self._trade(h, coin, i)
        bought = (t["side"] == "B") == taker  # the user's own side
        return {
            "coin": coin, "px": t["px"], "sz": t["sz"], "side": "B" if bought else "A",
            "time": t["time"], "startPosition": "0.0",
            "dir": "Open Long" if bought else "Open Short", "closedPnl": "0.0",
            "hash": t["hash"], "oid": t["tid"], "crossed": taker, "fee": "0.0",
            "tid": t["tid"], "feeToken": "USDC",
        }  # fmt: skip

    def _meta_and_ctxs(self) -> list[Any]:
        now = self.clock.now_ms()
        universe, ctxs = [], []
        for coin, h in self.by_coin.items():
            j = h.sec_index(now)
            if j < 0:
                continue
            szd, lev = asset_info(coin)
            universe.append({"name": coin, "szDecimals": szd, "maxLeverage": lev})
            ctxs.append(self._ctx(h, coin, j))
        return [{"universe": universe}, ctxs]

    def _candle_snapshot(self, req: Any) -> list[dict[str, Any]]:
        if not isinstance(req, dict):
            raise BadParam(_BAD_BODY, 0, 422)
        interval = req.get("interval")
        if interval not in INTERVALS:
            raise BadParam(_BAD_BODY, 0, 422)
        try:
            start = int(req["startTime"])
            end = int(req["endTime"]) if req.get("endTime") is not None else None
        except (KeyError, TypeError, ValueError):
            raise BadParam(_BAD_BODY, 0, 422) from None
        h = self.by_coin.get(str(req.get("coin")))
        if h is None:
            return []
        now = self.clock.now_ms()
        iv = INTERVALS[interval]
        rows = candles(
            h, iv, now, start_ms=start, end_ms=end, limit=CANDLE_SNAPSHOT_LIMIT, offset_ms=0
        )
        # startTime selects candles that are open at or after it, like the real endpoint
        return [self._candle(self.coin(h), c, interval) for c in rows if c.open_ms >= start]

    def _open(self, coin: str) -> Any:
        src = self.positions.get(coin)
        if src is None:
            return None
        h = self.by_coin[coin]
        with h._lock:  # the source (a Market) is not safe while it advances
            return src()

    def user_addresses(self) -> dict[str, list[str]]:
        """Per coin, the synthetic addresses that hold an open position now."""
        out: dict[str, list[str]] = {}
        for coin in self.by_coin:
            pos = self._open(coin)
            if pos is not None:
                out[coin] = [address(f"pos:{coin}", int(p)) for p in pos.id]
        return out

    async def _users(self, request: Request) -> Response:
        self.sync_history()
        return json_response(self.user_addresses())
