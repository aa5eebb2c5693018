"""Simulated Bybit v5 linear and OKX v5 SWAP: wire shapes and side/unit conventions vs truth."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Iterator
from typing import Any

import httpx
import numpy as np
import orjson
import pytest
import websockets

from liqscope.sim.exchange import SimExchanges
from liqscope.sim.exchange.toy import ToySource

ORIGIN = 1_760_000_000_000
START = ORIGIN + 3_600_000
CT_VAL = 0.01


def source(venue: str) -> ToySource:
    if venue == "okx":
        return ToySource("okx", "BTC-USDT-SWAP", ORIGIN, contract_size=CT_VAL, whole_seconds=True)
    return ToySource(venue, "BTCUSDT", ORIGIN)


@pytest.fixture(scope="module")
def sim() -> Iterator[SimExchanges]:
    with SimExchanges(source, start_ms=START, manual=True, venues=["bybit", "okx"]) as s:
        yield s


async def drain(ws: Any, quiet: float = 0.3, cap: int = 5000) -> list[Any]:
    out: list[Any] = []
    while len(out) < cap:
        try:
            raw = await asyncio.wait_for(ws.recv(), quiet)
        except TimeoutError:
            break
        out.append(raw if raw == "pong" else orjson.loads(raw))
    return out


def test_bybit_ws(sim: SimExchanges) -> None:
    url = sim.urls()["bybit"].ws
    topics = ["allLiquidation.BTCUSDT", "tickers.BTCUSDT", "publicTrade.BTCUSDT", "kline.1.BTCUSDT"]
    t0 = sim.clock.now_ms() + 1

    async def run() -> tuple[Any, Any, Any, list[Any]]:
        async with websockets.connect(url) as ws:
            await ws.send(orjson.dumps({"op": "subscribe", "args": topics, "req_id": "a"}))
            ack = orjson.loads(await asyncio.wait_for(ws.recv(), 2))
            await ws.send(orjson.dumps({"op": "subscribe", "args": ["nope.BTCUSDT"]}))
            nack = orjson.loads(await asyncio.wait_for(ws.recv(), 2))
            await ws.send(orjson.dumps({"op": "ping"}))
            pong = orjson.loads(await asyncio.wait_for(ws.recv(), 2))
            sim.advance(20_000)
            return ack, nack, pong, await drain(ws)

    ack, nack, pong, msgs = asyncio.run(run())
    t1 = sim.clock.now_ms() + 1
    assert ack["success"] is True and ack["op"] == "subscribe" and ack["req_id"] == "a"
    assert nack["success"] is False
    assert pong["op"] == "ping" and pong["ret_msg"] == "pong"
    tr = source("bybit").chunk(t0, t1)

    liqs = [d for m in msgs if m["topic"] == "allLiquidation.BTCUSDT" for d in m["data"]]
    assert len(liqs) == len(tr.liq_ts) > 0  # Bybit pushes all of them
    for d, ts, side, qty, bk in zip(
        liqs, tr.liq_ts, tr.liq_side, tr.liq_qty, tr.liq_bk_px, strict=True
    ):
        assert d["T"] == ts and d["s"] == "BTCUSDT"
        assert d["S"] == ("Buy" if side > 0 else "Sell")  # POSITION side: Buy = long liquidated
        assert isinstance(d["v"], str) and float(d["v"]) == pytest.approx(qty)
        assert isinstance(d["p"], str) and float(d["p"]) == pytest.approx(bk, rel=1e-7)
    batches = [m["ts"] for m in msgs if m["topic"] == "allLiquidation.BTCUSDT"]
    assert all(t % 500 == 0 for t in batches)
    assert len(sim["bybit"].sent) >= len(tr.liq_ts)

    tickers = [m for m in msgs if m["topic"] == "tickers.BTCUSDT"]
    assert [m["type"] for m in tickers[:2]] == ["snapshot", "delta"]
    d = tickers[0]["data"]
    for key in ("markPrice", "indexPrice", "openInterest", "fundingRate"):
        assert isinstance(d[key], str)
    assert float(d["markPrice"]) == pytest.approx(tr.mark_px[0], abs=0.01)
    assert float(d["openInterest"]) == pytest.approx(tr.oi_base[0])

    trades = [d for m in msgs if m["topic"] == "publicTrade.BTCUSDT" for d in m["data"]]
    assert [d["T"] for d in trades] == [int(t) for t in tr.trade_ts]
    assert [d["S"] for d in trades] == ["Buy" if t > 0 else "Sell" for t in tr.trade_taker]
    klines = [m["data"][0] for m in msgs if m["topic"] == "kline.1.BTCUSDT"]
    assert klines and all(isinstance(k["close"], str) and k["interval"] == "1" for k in klines)


def test_bybit_rest(sim: SimExchanges) -> None:
    rest = sim.urls()["bybit"].rest
    now = sim.clock.now_ms()
    r = httpx.get(
        f"{rest}/v5/market/open-interest",
        params={"category": "linear", "symbol": "BTCUSDT", "intervalTime": "5min", "limit": 4},
    ).json()
    assert r["retCode"] == 0
    rows = r["result"]["list"]
    assert len(rows) == 4 and r["result"]["nextPageCursor"]
    stamps = [int(x["timestamp"]) for x in rows]
    assert stamps == sorted(stamps, reverse=True) and stamps[0] <= now  # newest first
    for x in rows:
        assert float(x["openInterest"]) == pytest.approx(
            1000 + 0.5 * (int(x["timestamp"]) - ORIGIN) / 1000
        )
    page2 = httpx.get(
        f"{rest}/v5/market/open-interest",
        params={
            "category": "linear",
            "symbol": "BTCUSDT",
            "intervalTime": "5min",
            "limit": 4,
            "cursor": r["result"]["nextPageCursor"],
        },
    ).json()["result"]["list"]
    assert int(page2[0]["timestamp"]) == stamps[-1] - 300_000

    k = httpx.get(
        f"{rest}/v5/market/kline",
        params={"category": "linear", "symbol": "BTCUSDT", "interval": "1", "limit": 3},
    ).json()
    rows = k["result"]["list"]
    assert len(rows) == 3 and all(len(x) == 7 and all(isinstance(v, str) for v in x) for x in rows)
    assert int(rows[0][0]) > int(rows[1][0])  # newest first
    t = int(rows[1][0])
    tr = source("bybit").chunk(t, t + 60_000)
    assert float(rows[1][5]) == pytest.approx(tr.trade_qty.sum())
    assert float(rows[1][4]) == pytest.approx(tr.trade_px[-1])

    tiers = httpx.get(
        f"{rest}/v5/market/risk-limit", params={"category": "linear", "symbol": "BTCUSDT"}
    ).json()["result"]["list"]
    assert tiers[0]["isLowestRisk"] == 1
    prev_cap, prev_mmr, prev_ded = 0.0, 0.0, 0.0
    for x in tiers:  # mmDeduction follows the tier-consistency rule
        mmr, ded = float(x["maintenanceMargin"]), float(x["mmDeduction"] or 0)
        assert ded == pytest.approx(prev_ded + prev_cap * (mmr - prev_mmr))
        prev_cap, prev_mmr, prev_ded = float(x["riskLimitValue"]), mmr, ded
    bad = httpx.get(
        f"{rest}/v5/market/kline",
        params={"category": "linear", "symbol": "BTCUSDT", "interval": "1", "limit": 1001},
    ).json()
    assert bad["retCode"] != 0


def test_okx_ws(sim: SimExchanges) -> None:
    url = sim.urls()["okx"].ws
    inst = "BTC-USDT-SWAP"
    args = [
        {"channel": "liquidation-orders", "instType": "SWAP"},
        {"channel": "trades", "instId": inst},
        {"channel": "mark-price", "instId": inst},
        {"channel": "open-interest", "instId": inst},
    ]
    t_sub = sim.clock.now_ms()

    async def run() -> tuple[list[Any], list[Any], Any, Any]:
        async with websockets.connect(url) as ws:
            await ws.send(orjson.dumps({"op": "subscribe", "args": args}))
            first = await drain(ws)
            await ws.send("ping")
            pong = await asyncio.wait_for(ws.recv(), 2)
            await ws.send(orjson.dumps({"op": "subscribe", "args": [{"channel": "nope"}]}))
            err = orjson.loads(await asyncio.wait_for(ws.recv(), 2))
            sim.advance(20_000)
            return first, await drain(ws), pong, err

    first, msgs, pong, err = asyncio.run(run())
    assert pong == "pong" and err["event"] == "error"
    acks = [m for m in first if m.get("event") == "subscribe"]
    assert [a["arg"] for a in acks] == args
    snapshot = [m for m in first if "data" in m]  # first message: recent orders
    assert snapshot and snapshot[0]["arg"] == {"channel": "liquidation-orders", "instType": "SWAP"}
    assert all(int(d["ts"]) <= t_sub for d in snapshot[0]["data"][0]["details"])

    t1 = sim.clock.now_ms() + 1
    tr = source("okx").chunk(ORIGIN, t1)
    liq_msgs = [m for m in msgs if m.get("arg", {}).get("channel") == "liquidation-orders"]
    details = [d for m in liq_msgs for row in m["data"] for d in row["details"]]
    assert liq_msgs and liq_msgs[0]["data"][0]["instId"] == inst
    window = (tr.liq_ts > t_sub) & (tr.liq_ts < t1 - 1000)
    assert 0 < len(details) < int(window.sum())  # sampled: one per contract per second
    assert len({int(d["ts"]) // 1000 for d in details}) == len(details)
    for d in details:
        i = int(np.flatnonzero(tr.liq_ts == int(d["ts"]))[0])
        long_liq = tr.liq_side[i] > 0
        assert (d["side"], d["posSide"]) == (("sell", "long") if long_liq else ("buy", "short"))
        assert float(d["sz"]) * CT_VAL == pytest.approx(tr.liq_qty[i])  # contracts × ctVal
        assert float(d["bkPx"]) == pytest.approx(tr.liq_bk_px[i], rel=1e-7)
    assert any(d["posSide"] == "long" for d in details)

    trades = [d for m in msgs if m.get("arg", {}).get("channel") == "trades" for d in m["data"]]
    assert trades and all(isinstance(d["sz"], str) and isinstance(d["ts"], str) for d in trades)
    j = int(np.flatnonzero(tr.trade_ts == int(trades[0]["ts"]))[0])
    assert float(trades[0]["sz"]) * CT_VAL == pytest.approx(tr.trade_qty[j])
    ois = [d for m in msgs if m.get("arg", {}).get("channel") == "open-interest" for d in m["data"]]
    assert ois and float(ois[0]["oi"]) * CT_VAL == pytest.approx(float(ois[0]["oiCcy"]))


def test_okx_rest(sim: SimExchanges) -> None:
    rest = sim.urls()["okx"].rest
    inst = "BTC-USDT-SWAP"
    (row,) = httpx.get(f"{rest}/api/v5/public/instruments", params={"instType": "SWAP"}).json()[
        "data"
    ]
    assert row["instId"] == inst and row["ctVal"] == "0.01" and row["ctType"] == "linear"
    oi = httpx.get(
        f"{rest}/api/v5/public/open-interest", params={"instType": "SWAP", "instId": inst}
    ).json()["data"][0]
    assert float(oi["oi"]) * CT_VAL == pytest.approx(float(oi["oiCcy"]))
    c = httpx.get(
        f"{rest}/api/v5/market/candles", params={"instId": inst, "bar": "1m", "limit": 3}
    ).json()["data"]
    assert len(c) == 3 and c[0][8] == "0" and c[1][8] == "1"  # newest (open) first
    t = int(c[1][0])
    tr = source("okx").chunk(t, t + 60_000)
    assert float(c[1][6]) == pytest.approx(tr.trade_qty.sum())  # volCcy: base
    assert float(c[1][5]) * CT_VAL == pytest.approx(tr.trade_qty.sum())  # vol: contracts
    older = httpx.get(
        f"{rest}/api/v5/market/history-candles", params={"instId": inst, "after": t, "limit": 2}
    ).json()["data"]
    assert [int(x[0]) for x in older] == [t - 60_000, t - 120_000]
    tiers = httpx.get(
        f"{rest}/api/v5/public/position-tiers",
        params={"instType": "SWAP", "tdMode": "isolated", "instFamily": "BTC-USDT"},
    ).json()["data"]
    assert tiers[0]["tier"] == "1" and all(isinstance(x["maxSz"], str) for x in tiers)
    bad = httpx.get(f"{rest}/api/v5/market/candles", params={"instId": "X-USDT-SWAP"}).json()
    assert bad["code"] != "0"


def test_okx_lists_other_types_empty_and_serves_rubik_oi_history(sim: SimExchanges) -> None:
    rest = sim.urls()["okx"].rest
    inst = "BTC-USDT-SWAP"
    for kind in ("SPOT", "OPTION", "FUTURES", "MARGIN"):
        body = httpx.get(f"{rest}/api/v5/public/instruments", params={"instType": kind}).json()
        assert body == {"code": "0", "msg": "", "data": []}, kind
    bad = httpx.get(f"{rest}/api/v5/public/instruments", params={"instType": "MOON"}).json()
    assert bad["code"] != "0"
    url = f"{rest}/api/v5/rubik/stat/contracts/open-interest-history"
    now = sim.clock.now_ms()
    rows = httpx.get(url, params={"instId": inst, "period": "5m"}).json()["data"]
    stamps = [int(r[0]) for r in rows]
    assert stamps == sorted(stamps, reverse=True) and stamps[0] == now // 300_000 * 300_000
    assert all(t % 300_000 == 0 and t >= ORIGIN for t in stamps)
    for t, contracts, base, usd in rows:  # [ts, oi (contracts), oiCcy (base), oiUsd]
        expected = 1000.0 + 0.5 * (int(t) - ORIGIN) / 1000.0  # the toy source's OI at t
        assert float(base) == pytest.approx(expected) and float(
            contracts
        ) * CT_VAL == pytest.approx(expected)
        assert float(usd) > 0
    window = httpx.get(
        url, params={"instId": inst, "period": "5m", "begin": stamps[5], "end": stamps[1]}
    ).json()["data"]
    assert [int(r[0]) for r in window] == stamps[2:5]  # both bounds exclusive
    assert len(httpx.get(url, params={"instId": inst, "limit": 2}).json()["data"]) == 2
    assert httpx.get(url, params={"instId": inst, "period": "7m"}).json()["code"] != "0"


def test_bybit_honours_category_without_symbol_and_pages_risk_limits(sim: SimExchanges) -> None:
    rest = sim.urls()["bybit"].rest
    for path in ("instruments-info", "tickers"):
        for category in ("spot", "inverse", "option"):
            body = httpx.get(f"{rest}/v5/market/{path}", params={"category": category}).json()
            assert body["retCode"] == 0 and body["result"]["list"] == [], (path, category)
        linear = httpx.get(f"{rest}/v5/market/{path}", params={"category": "linear"}).json()
        assert [r["symbol"] for r in linear["result"]["list"]] == ["BTCUSDT"]
    ticker = linear["result"]["list"][0]
    for key in (
        "prevPrice24h",
        "highPrice24h",
        "lowPrice24h",
        "volume24h",
        "bid1Price",
        "ask1Price",
    ):
        assert ticker[key] != "", key
    assert float(ticker["bid1Price"]) < float(ticker["ask1Price"])
    risk = httpx.get(f"{rest}/v5/market/risk-limit", params={"category": "linear"}).json()
    assert risk["retCode"] == 0 and risk["result"]["list"][0]["symbol"] == "BTCUSDT"
    assert risk["result"]["nextPageCursor"] == ""
    again = httpx.get(
        f"{rest}/v5/market/risk-limit", params={"category": "linear", "cursor": "BTCUSDT"}
    ).json()
    assert again["result"]["list"] == risk["result"]["list"]
    bad = httpx.get(f"{rest}/v5/market/risk-limit", params={"category": "linear", "cursor": "x"})
    assert bad.json()["retCode"] != 0


def test_okx_candles_on_business_books_snapshot_then_updates(sim: SimExchanges) -> None:
    host = sim.urls()["okx"].ws.removesuffix("/ws/v5/public")
    inst = "BTC-USDT-SWAP"
    candle = {"channel": "candle1m", "instId": inst}
    books = {"channel": "books", "instId": inst}

    async def run() -> tuple[Any, Any, list[Any], list[Any]]:
        async with websockets.connect(f"{host}/ws/v5/public") as pub:
            await pub.send(orjson.dumps({"op": "subscribe", "args": [candle]}))
            refused = orjson.loads(await asyncio.wait_for(pub.recv(), 2))
            await pub.send(orjson.dumps({"op": "subscribe", "args": [books]}))
            async with websockets.connect(f"{host}/ws/v5/business") as biz:
                await biz.send(orjson.dumps({"op": "subscribe", "args": [books]}))
                wrong = orjson.loads(await asyncio.wait_for(biz.recv(), 2))
                await biz.send(orjson.dumps({"op": "subscribe", "args": [candle]}))
                sim.advance(3_000)
                return refused, wrong, await drain(biz), await drain(pub)

    refused, wrong, biz, pub = asyncio.run(run())
    assert refused["event"] == "error" and wrong["event"] == "error"
    bars = [m for m in biz if m.get("arg") == candle and "data" in m]
    assert len(bars) == 3 and all(len(m["data"][0]) == 9 for m in bars)
    book = [m for m in pub if m.get("arg") == books and "data" in m]
    assert [m["action"] for m in book] == ["snapshot", "update", "update"]
    assert book[0]["data"][0]["prevSeqId"] == -1
    for prev, cur in itertools.pairwise(book):
        assert cur["data"][0]["prevSeqId"] == prev["data"][0]["seqId"]
    levels = {lv[0]: lv[1] for lv in book[0]["data"][0]["bids"]}  # replay the deltas
    for m in book[1:]:
        for px, sz, *_ in m["data"][0]["bids"]:
            levels[px] = sz
        levels = {p: s for p, s in levels.items() if s != "0"}
        assert sorted(levels, key=float) == sorted(
            (lv[0] for lv in m["data"][0]["bids"] if lv[1] != "0"), key=float
        )
