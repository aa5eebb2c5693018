"""Simulated Hyperliquid: WS and /info shapes as documented, checked against the simulator's
truth, and read back through liqscope's Hyperliquid adapter (every frame must parse)."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from typing import Any

import httpx
import numpy as np
import orjson
import pytest
import websockets

from liqscope.domain.clock import ManualClock
from liqscope.domain.events import Candle, MarkPrice, OpenInterest, Trade
from liqscope.domain.types import Side
from liqscope.sim.exchange import SimExchanges
from liqscope.sim.exchange.hyperliquid import HyperliquidServer
from liqscope.sim.market import Market
from liqscope.sim.scenarios import scenario
from liqscope.venues.base import MalformedFrame
from liqscope.venues.hyperliquid import HyperliquidAdapter
from liqscope.venues.hyperliquid.parse import parse_frame
from liqscope.venues.hyperliquid.rest import HyperliquidRest

HEX40 = re.compile(r"^0x[0-9a-f]{40}$")
HEX64 = re.compile(r"^0x[0-9a-f]{64}$")
REL = 5e-5  # prices go out with 5 significant figures (whole numbers for BTC > 10 000)


@pytest.fixture(scope="module")
def market() -> Market:
    return Market(scenario("calm", venue="hyperliquid", symbol="BTC"), 3)


@pytest.fixture(scope="module")
def sim(market: Market) -> Iterator[SimExchanges]:
    start = market.now_ms + 3_600_000  # one simulated hour of history
    with SimExchanges(
        {"hyperliquid": market.advance},
        start_ms=start,
        manual=True,
        venues=["hyperliquid"],
        control=True,
    ) as s:
        yield s


def server(sim: SimExchanges) -> HyperliquidServer:
    srv = sim["hyperliquid"]
    assert isinstance(srv, HyperliquidServer)
    return srv


async def drain(ws: Any, quiet: float = 0.4, cap: int = 20_000) -> list[str]:
    out: list[str] = []
    while len(out) < cap:
        try:
            out.append(await asyncio.wait_for(ws.recv(), quiet))
        except TimeoutError:
            break
    return out


def info(sim: SimExchanges, body: dict[str, Any]) -> httpx.Response:
    return httpx.post(sim.urls()["hyperliquid"].rest + "/info", json=body, timeout=10)


def test_ws_frames_as_documented_and_parsed(sim: SimExchanges) -> None:
    url = sim.urls()["hyperliquid"].ws
    assert url.endswith("/ws")
    subs = [
        {"type": "trades", "coin": "BTC"},
        {"type": "activeAssetCtx", "coin": "BTC"},
        {"type": "candle", "coin": "BTC", "interval": "1m"},
    ]
    t0 = server(sim)._emitted_to["BTC"]  # pushed from here on

    async def run() -> tuple[list[Any], Any, Any, Any, list[str], Any]:
        async with websockets.connect(url) as ws:
            acks = []
            for sub in subs:
                await ws.send(orjson.dumps({"method": "subscribe", "subscription": sub}))
                acks.append(orjson.loads(await asyncio.wait_for(ws.recv(), 2)))
            await ws.send(orjson.dumps({"method": "subscribe", "subscription": subs[0]}))
            again = orjson.loads(await asyncio.wait_for(ws.recv(), 2))
            bad = {"type": "trades", "coin": "NOPE"}
            await ws.send(orjson.dumps({"method": "subscribe", "subscription": bad}))
            nack = orjson.loads(await asyncio.wait_for(ws.recv(), 2))
            await ws.send('{"method":"ping"}')
            pong = orjson.loads(await asyncio.wait_for(ws.recv(), 2))
            sim.advance(90_000)
            frames = await drain(ws)
            unsub = {"method": "unsubscribe", "subscription": subs[0]}
            await ws.send(orjson.dumps(unsub))
            unack = orjson.loads(await asyncio.wait_for(ws.recv(), 2))
            return acks, again, nack, pong, frames, unack

    acks, again, nack, pong, frames, unack = asyncio.run(run())
    t1 = server(sim)._emitted_to["BTC"]
    for ack, sub in zip(acks, subs, strict=True):
        assert ack == {
            "channel": "subscriptionResponse",
            "data": {"method": "subscribe", "subscription": sub},
        }
    assert again["channel"] == "error" and "Already subscribed" in again["data"]
    assert nack["channel"] == "error" and isinstance(nack["data"], str)
    assert pong == {"channel": "pong"}
    assert unack["channel"] == "subscriptionResponse"
    assert unack["data"]["method"] == "unsubscribe"

    h = server(sim).histories["BTC"]
    msgs = [orjson.loads(f) for f in frames]
    assert {m["channel"] for m in msgs} == {"trades", "activeAssetCtx", "candle"}

    # trades: every trade of the window, strings where the venue sends strings
    trades = [d for m in msgs if m["channel"] == "trades" for d in m["data"]]
    i0, i1 = h.span("trade", t0, t1)
    assert len(trades) == i1 - i0 > 0
    for d, i in zip(trades, range(i0, i1), strict=True):
        assert set(d) == {"coin", "side", "px", "sz", "time", "hash", "tid", "users"}
        assert d["coin"] == "BTC"
        assert isinstance(d["px"], str) and isinstance(d["sz"], str)
        assert type(d["time"]) is int and type(d["tid"]) is int
        assert d["time"] == int(h.col("trade_ts")[i])
        assert d["side"] == ("B" if h.col("trade_taker")[i] > 0 else "A")  # B = taker bought
        assert float(d["px"]) == pytest.approx(float(h.col("trade_px")[i]), rel=REL)
        assert float(d["sz"]) == pytest.approx(float(h.col("trade_qty")[i]), abs=1e-5)
        assert HEX64.match(d["hash"])
        assert len(d["users"]) == 2 and all(HEX40.match(u) for u in d["users"])
    assert len({d["tid"] for d in trades}) == len(trades)
    for m in msgs:  # one timestamp per message
        if m["channel"] == "trades":
            assert len({d["time"] for d in m["data"]}) == 1

    # activeAssetCtx: once per simulated second, every value a string
    ctxs = [m["data"] for m in msgs if m["channel"] == "activeAssetCtx"]
    j0, j1 = h.span("sec", t0, t1)
    assert len(ctxs) == j1 - j0 >= 89
    for c, j in zip(ctxs, range(j0, j1), strict=True):
        assert c["coin"] == "BTC"
        ctx = c["ctx"]
        for key in ("markPx", "oraclePx", "funding", "openInterest", "prevDayPx", "midPx"):
            assert isinstance(ctx[key], str), key
        assert float(ctx["markPx"]) == pytest.approx(float(h.col("mark_px")[j]), rel=REL)
        assert float(ctx["oraclePx"]) == pytest.approx(float(h.col("index_px")[j]), rel=REL)
        assert float(ctx["openInterest"]) == pytest.approx(float(h.col("oi_base")[j]), abs=1e-5)
        # Hyperliquid quotes the hourly rate; the simulator's rate is per 8 h
        assert float(ctx["funding"]) == pytest.approx(float(h.col("funding_rate")[j]) / 8)

    # candle: the documented object, integers for t/T/n and strings for prices/volume
    bars = [m["data"] for m in msgs if m["channel"] == "candle"]
    assert bars
    for b in bars:
        assert set(b) == {"t", "T", "s", "i", "o", "c", "h", "l", "v", "n"}
        assert b["T"] == b["t"] + 59_999 and b["s"] == "BTC" and b["i"] == "1m"
        assert all(isinstance(b[k], str) for k in "ochlv") and type(b["n"]) is int

    # the adapter reads every frame the server sent (acks, errors and pong give nothing)
    now = sim.clock.now_ms()
    events = [e for f in frames for e in parse_frame(f, now)]
    parsed_trades = [e for e in events if isinstance(e, Trade)]
    assert len(parsed_trades) == len(trades)
    for t, d in zip(parsed_trades, trades, strict=True):
        assert t.taker_side is (Side.LONG if d["side"] == "B" else Side.SHORT)
        assert t.trade_id == str(d["tid"]) and t.ts == d["time"]
    assert sum(isinstance(e, MarkPrice) for e in events) == len(ctxs)
    assert sum(isinstance(e, OpenInterest) for e in events) == len(ctxs)
    assert sum(isinstance(e, Candle) for e in events) == len(bars)
    for raw in (acks, again, pong, unack):
        for m in raw if isinstance(raw, list) else [raw]:
            if m["channel"] != "error":
                assert parse_frame(orjson.dumps(m).decode(), now) == []
    with pytest.raises(MalformedFrame):
        parse_frame(HyperliquidServer.malformed_frame, now)
    assert len(server(sim).sent) == 0  # no public liquidation feed


def test_info_endpoints_through_the_adapter(sim: SimExchanges, market: Market) -> None:
    sim.advance(5_000)
    meta, ctxs = info(sim, {"type": "metaAndAssetCtxs"}).json()
    assert len(meta["universe"]) == len(ctxs) == 1
    assert meta["universe"][0] == {"name": "BTC", "szDecimals": 5, "maxLeverage": 40}
    assert all(isinstance(v, str) for k, v in ctxs[0].items() if k != "impactPxs")

    now = sim.clock.now_ms()
    req = {"coin": "BTC", "interval": "1m", "startTime": now - 30 * 60_000, "endTime": now}
    rows = info(sim, {"type": "candleSnapshot", "req": req}).json()
    assert len(rows) in (30, 31)
    ts = [r["t"] for r in rows]
    assert ts == list(range(ts[0], ts[-1] + 60_000, 60_000)) and ts[0] >= req["startTime"]
    assert all(r["T"] == r["t"] + 59_999 and isinstance(r["o"], str) for r in rows)
    assert info(sim, {"type": "nope"}).status_code == 422
    assert info(sim, {"type": "candleSnapshot", "req": {"coin": "BTC"}}).status_code == 422

    users = httpx.get(sim.urls()["hyperliquid"].rest + "/_sim/users").json()["BTC"]
    open_pos = market.open_positions()
    assert len(users) == len(open_pos) > 0

    async def run() -> tuple[Any, ...]:
        rest = HyperliquidRest(sim.urls()["hyperliquid"].rest, clock=ManualClock(now))
        try:
            klines = await rest.klines("BTC", "1m", now - 30 * 60_000, now)
            ctx = await rest.asset_contexts()
            oi = await rest.open_interest_now("BTC")
            pos = await rest.clearinghouse_state(users[0])
            nobody = await rest.clearinghouse_state("0x" + "0" * 40)
        finally:
            await rest.aclose()
        return klines, ctx, oi, pos, nobody

    klines, ctx, oi, pos, nobody = asyncio.run(run())
    assert [c.ts for c in klines] == ts
    assert [c.closed for c in klines] == [r["T"] < now for r in rows]
    assert {type(e) for e in ctx} == {MarkPrice, OpenInterest}
    assert oi.oi_base == pytest.approx(float(ctxs[0]["openInterest"]), rel=1e-3)
    assert nobody == []
    assert len(pos) == 1
    p = pos[0]
    k = 0  # the first address belongs to the first open position (ids ascending)
    assert p.user == users[0] and p.coin == "BTC" and p.leverage_type == "isolated"
    assert p.side is (Side.LONG if open_pos.side[k] > 0 else Side.SHORT)
    assert p.size == pytest.approx(float(open_pos.qty[k]), abs=1e-5)
    assert p.liquidation_px == pytest.approx(float(open_pos.liq_px[k]), rel=REL)
    assert p.entry_px == pytest.approx(float(open_pos.entry_px[k]), rel=REL)
    # a long's liquidation price lies below its entry, a short's above
    assert (p.liquidation_px or 0) < p.entry_px if p.side is Side.LONG else True


def test_adapter_subscriptions_are_accepted(sim: SimExchanges) -> None:
    """What the adapter sends (URL, subscribe messages, ping) works against the server."""
    adapter = HyperliquidAdapter(ws_url=f"ws://127.0.0.1:{sim.port('hyperliquid')}")
    chans = adapter.ws_channels
    url = adapter.ws_url(["BTC"], chans)
    msgs = adapter.subscribe_messages(["BTC"], chans)

    async def run() -> list[str]:
        async with websockets.connect(url) as ws:
            for m in msgs:
                await ws.send(m)
            assert adapter.ping.message is not None
            await ws.send(adapter.ping.message)
            return await drain(ws, quiet=0.3)

    replies = asyncio.run(run())
    kinds = [orjson.loads(r)["channel"] for r in replies]
    assert kinds.count("subscriptionResponse") == len(msgs) == 3 and "pong" in kinds
    assert "error" not in kinds
    assert all(adapter.parse(r) == [] for r in replies)


def test_disconnect_fault_closes_with_1001(sim: SimExchanges) -> None:
    url = sim.urls()["hyperliquid"].ws

    async def run() -> int | None:
        async with websockets.connect(url) as ws:
            sub = {"type": "trades", "coin": "BTC"}
            await ws.send(orjson.dumps({"method": "subscribe", "subscription": sub}))
            await asyncio.wait_for(ws.recv(), 2)
            await asyncio.to_thread(sim["hyperliquid"].inject, {"kind": "disconnect"})
            with pytest.raises(websockets.ConnectionClosed):
                while True:
                    await asyncio.wait_for(ws.recv(), 3)
            return ws.close_code

    assert asyncio.run(run()) == 1001
    assert sim.wait_closed()
    assert np.all(np.diff(server(sim).histories["BTC"].col("trade_ts")) >= 0)
