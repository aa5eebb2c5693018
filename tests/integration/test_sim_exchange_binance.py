"""Simulated Binance USDⓈ-M: real server on 127.0.0.1, real websockets/httpx clients."""

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
START = ORIGIN + 3_600_000  # one hour of history before serving starts


@pytest.fixture(scope="module")
def sim() -> Iterator[SimExchanges]:
    with SimExchanges(
        {"binance": ToySource("binance", "BTCUSDT", ORIGIN)},
        start_ms=START,
        manual=True,
        venues=["binance"],
    ) as s:
        yield s


def truth(start: int, end: int) -> Any:
    return ToySource("binance", "BTCUSDT", ORIGIN).chunk(start, end)


async def drain(ws: Any, quiet: float = 0.3, cap: int = 5000) -> list[Any]:
    out: list[Any] = []
    while len(out) < cap:
        try:
            out.append(orjson.loads(await asyncio.wait_for(ws.recv(), quiet)))
        except TimeoutError:
            break
    return out


def test_combined_streams_shapes_and_sampling(sim: SimExchanges) -> None:
    streams = "btcusdt@aggTrade/btcusdt@markPrice@1s/btcusdt@kline_1m/btcusdt@forceOrder"
    url = f"{sim.urls()['binance'].ws}/stream?streams={streams}"
    t0 = sim.clock.now_ms() + 1

    async def run() -> list[Any]:
        async with websockets.connect(url) as ws:
            sim.advance(65_000)
            return await drain(ws)

    msgs = asyncio.run(run())
    t1 = sim.clock.now_ms() + 1
    assert msgs and all(set(m) == {"stream", "data"} for m in msgs)
    by: dict[str, list[Any]] = {}
    for m in msgs:
        by.setdefault(m["stream"], []).append(m["data"])

    tr = truth(t0, t1)
    trades = by["btcusdt@aggTrade"]
    assert len(trades) == len(tr.trade_ts)
    for d, ts, px, qty, taker in zip(
        trades, tr.trade_ts, tr.trade_px, tr.trade_qty, tr.trade_taker, strict=True
    ):
        assert d["e"] == "aggTrade" and d["s"] == "BTCUSDT" and d["T"] == ts
        assert isinstance(d["p"], str) and isinstance(d["q"], str) and isinstance(d["a"], int)
        assert float(d["p"]) == pytest.approx(px) and float(d["q"]) == pytest.approx(qty)
        assert d["m"] is bool(taker < 0)  # buyer is maker = the taker sold

    marks = by["btcusdt@markPrice@1s"]
    assert len(marks) == 65
    assert all(isinstance(d[k], str) for d in marks for k in "pirP")
    assert [d["E"] for d in marks] == [int(t) for t in tr.sec_ts]
    assert float(marks[0]["p"]) == pytest.approx(tr.mark_px[0])

    klines = by["btcusdt@kline_1m"]
    closed = [d for d in klines if d["k"]["x"]]
    assert len(closed) == 1 and closed[0]["k"]["i"] == "1m"
    k = closed[0]["k"]
    kt = truth(k["t"], k["T"] + 1)
    assert k["T"] - k["t"] == 59_999 and k["n"] == len(kt.trade_ts)
    assert float(k["v"]) == pytest.approx(kt.trade_qty.sum())
    assert float(k["o"]) == pytest.approx(kt.trade_px[0])
    assert float(k["c"]) == pytest.approx(kt.trade_px[-1])

    forced = by["btcusdt@forceOrder"]
    assert len(tr.liq_ts) > len(forced) > 0  # sampled: the truth keeps more
    seconds = [d["E"] // 1000 for d in forced]
    assert len(seconds) == len(set(seconds))  # at most one per symbol per second
    for d in forced:
        o = d["o"]
        assert isinstance(o["q"], str) and isinstance(o["ap"], str) and isinstance(o["T"], int)
        i = int(np.flatnonzero(tr.liq_ts == o["T"])[0])
        # the latest liquidation of its second is the one sent
        assert not ((tr.liq_ts > o["T"]) & (tr.liq_ts // 1000 == o["T"] // 1000)).any()
        assert o["S"] == ("SELL" if tr.liq_side[i] > 0 else "BUY")
        assert float(o["z"]) == pytest.approx(tr.liq_qty[i])
        assert float(o["ap"]) == pytest.approx(tr.liq_px[i], rel=1e-7)
        assert float(o["p"]) == pytest.approx(tr.liq_bk_px[i], rel=1e-7)
    longs = [d for d in forced if tr.liq_side[tr.liq_ts == d["o"]["T"]][0] > 0]
    assert longs and all(d["o"]["S"] == "SELL" for d in longs)
    sent = {e.ts_ms for e in sim["binance"].sent.events()}
    assert {d["o"]["T"] for d in forced} <= sent


def test_raw_stream_and_subscribe_method(sim: SimExchanges) -> None:
    base = sim.urls()["binance"].ws

    async def run() -> tuple[Any, Any, list[Any]]:
        async with (
            websockets.connect(f"{base}/ws/btcusdt@forceOrder") as raw,
            websockets.connect(f"{base}/ws") as sub,
        ):
            await sub.send(
                orjson.dumps({"method": "SUBSCRIBE", "params": ["!forceOrder@arr"], "id": 7})
            )
            ack = orjson.loads(await asyncio.wait_for(sub.recv(), 2))
            await sub.send(b"{not json")
            err = orjson.loads(await asyncio.wait_for(sub.recv(), 2))
            sim.advance(10_000)
            return ack, err, [await drain(raw), await drain(sub)]

    ack, err, (raw_msgs, sub_msgs) = asyncio.run(run())
    assert ack == {"result": None, "id": 7}
    assert "error" in err
    assert raw_msgs and all(m["e"] == "forceOrder" for m in raw_msgs)  # raw: not wrapped
    assert [m["o"] for m in raw_msgs] == [m["o"] for m in sub_msgs]


def test_rest_klines(sim: SimExchanges) -> None:
    rest = sim.urls()["binance"].rest
    now = sim.clock.now_ms()
    r = httpx.get(
        f"{rest}/fapi/v1/klines", params={"symbol": "BTCUSDT", "interval": "1m", "limit": 10}
    )
    assert r.status_code == 200 and int(r.headers["X-MBX-USED-WEIGHT-1M"]) >= 1
    rows = r.json()
    assert len(rows) == 10 and all(len(row) == 12 for row in rows)
    assert rows[-1][0] <= now <= rows[-1][6]  # last row is the open candle
    assert all(isinstance(row[i], str) for row in rows for i in (1, 2, 3, 4, 5, 7, 9, 10, 11))
    row = rows[-2]
    tr = truth(row[0], row[6] + 1)
    assert float(row[1]) == pytest.approx(tr.trade_px[0])
    assert float(row[2]) == pytest.approx(tr.trade_px.max())
    assert float(row[3]) == pytest.approx(tr.trade_px.min())
    assert float(row[4]) == pytest.approx(tr.trade_px[-1])
    assert float(row[5]) == pytest.approx(tr.trade_qty.sum())
    assert row[8] == len(tr.trade_ts)
    assert float(row[9]) == pytest.approx(tr.trade_qty[tr.trade_taker > 0].sum())

    start = (ORIGIN // 300_000 + 3) * 300_000
    r = httpx.get(
        f"{rest}/fapi/v1/klines",
        params={"symbol": "BTCUSDT", "interval": "5m", "startTime": start, "limit": 3},
    )
    assert [row[0] for row in r.json()] == [start, start + 300_000, start + 600_000]
    r = httpx.get(
        f"{rest}/fapi/v1/klines", params={"symbol": "BTCUSDT", "interval": "1m", "limit": 1501}
    )
    assert r.status_code == 400 and r.json()["code"] == -1130
    r = httpx.get(f"{rest}/fapi/v1/klines", params={"symbol": "NOPE", "interval": "1m"})
    assert r.status_code == 400 and r.json()["code"] == -1121
    r = httpx.get(f"{rest}/fapi/v1/klines", params={"symbol": "BTCUSDT", "interval": "7m"})
    assert r.status_code == 400


def test_rest_open_interest_and_history(sim: SimExchanges) -> None:
    rest = sim.urls()["binance"].rest
    now = sim.clock.now_ms()
    oi = httpx.get(f"{rest}/fapi/v1/openInterest", params={"symbol": "BTCUSDT"}).json()
    expected = 1000.0 + 0.5 * ((now - ORIGIN) // 1000)
    assert oi["symbol"] == "BTCUSDT" and isinstance(oi["openInterest"], str)
    assert float(oi["openInterest"]) == pytest.approx(expected) and oi["time"] == now

    rows = httpx.get(
        f"{rest}/futures/data/openInterestHist",
        params={"symbol": "BTCUSDT", "period": "5m", "limit": 6},
    ).json()
    assert len(rows) == 6
    stamps = [int(r["timestamp"]) for r in rows]
    assert all(isinstance(r["timestamp"], int) for r in rows)  # a number, as on the venue
    assert all(b - a == 300_000 for a, b in itertools.pairwise(stamps))
    assert stamps[-1] <= now and stamps[-1] % 300_000 == 0
    for r in rows:
        t = int(r["timestamp"])
        assert float(r["sumOpenInterest"]) == pytest.approx(1000.0 + 0.5 * (t - ORIGIN) / 1000)
        mark = 100_000.0 + 50.0 * np.sin(2 * np.pi * (t - ORIGIN) / 60_000)
        assert float(r["sumOpenInterestValue"]) == pytest.approx(
            float(r["sumOpenInterest"]) * mark, rel=1e-9
        )
    r = httpx.get(
        f"{rest}/futures/data/openInterestHist",
        params={"symbol": "BTCUSDT", "period": "5m", "limit": 501},
    )
    assert r.status_code == 400
    r = httpx.get(
        f"{rest}/futures/data/openInterestHist", params={"symbol": "BTCUSDT", "period": "2m"}
    )
    assert r.status_code == 400


def test_rest_agg_trades(sim: SimExchanges) -> None:
    rest = sim.urls()["binance"].rest
    now = sim.clock.now_ms()
    latest = httpx.get(f"{rest}/fapi/v1/aggTrades", params={"symbol": "BTCUSDT", "limit": 5})
    rows = latest.json()
    assert len(rows) == 5 and rows[-1]["T"] <= now
    assert [r["a"] for r in rows] == list(range(rows[0]["a"], rows[0]["a"] + 5))
    t0 = ORIGIN + 60_000
    rows = httpx.get(
        f"{rest}/fapi/v1/aggTrades",
        params={"symbol": "BTCUSDT", "startTime": t0, "endTime": t0 + 10_000, "limit": 1000},
    ).json()
    tr = truth(t0, t0 + 10_001)
    assert [r["T"] for r in rows] == [int(t) for t in tr.trade_ts]
    assert all(set(r) == {"a", "p", "q", "f", "l", "T", "m"} for r in rows)
    assert [r["m"] for r in rows] == [bool(t < 0) for t in tr.trade_taker]
    nxt = httpx.get(
        f"{rest}/fapi/v1/aggTrades",
        params={"symbol": "BTCUSDT", "fromId": rows[3]["a"], "limit": 2},
    ).json()
    assert nxt == rows[3:5]
    hour = httpx.get(  # exactly one hour is accepted, as on the venue (ccxt asks for it)
        f"{rest}/fapi/v1/aggTrades",
        params={"symbol": "BTCUSDT", "startTime": t0, "endTime": t0 + 3_600_000},
    )
    assert hour.status_code == 200 and hour.json()[0]["T"] >= t0
    bad = httpx.get(
        f"{rest}/fapi/v1/aggTrades",
        params={"symbol": "BTCUSDT", "startTime": t0, "endTime": t0 + 3_600_001},
    )
    assert bad.status_code == 400 and bad.json()["code"] == -1127
    bad = httpx.get(f"{rest}/fapi/v1/aggTrades", params={"symbol": "BTCUSDT", "limit": 1001})
    assert bad.status_code == 400
    future = httpx.get(
        f"{rest}/fapi/v1/aggTrades",
        params={"symbol": "BTCUSDT", "startTime": now + 1, "endTime": now + 60_000},
    ).json()
    assert future == []  # nothing after simulated now


def test_exchange_info(sim: SimExchanges) -> None:
    info = httpx.get(f"{sim.urls()['binance'].rest}/fapi/v1/exchangeInfo").json()
    (sym,) = info["symbols"]
    assert sym["symbol"] == "BTCUSDT" and sym["contractType"] == "PERPETUAL"
    assert {f["filterType"] for f in sym["filters"]} >= {"PRICE_FILTER", "LOT_SIZE"}
    assert isinstance(sym["maintMarginPercent"], str)


def test_split_paths_trade_ticker_and_book_streams(sim: SimExchanges) -> None:
    """ccxt.pro's URLs (/market/ws/<n>, /public/ws/<n>) and the market-data streams."""
    base = sim.urls()["binance"].ws
    streams = ["btcusdt@trade", "btcusdt@miniTicker", "btcusdt@bookTicker", "btcusdt@depth@100ms"]

    async def run() -> tuple[Any, list[Any]]:
        async with websockets.connect(f"{base}/public/ws/3") as ws:
            await ws.send(orjson.dumps({"method": "SUBSCRIBE", "params": streams, "id": 7}))
            ack = orjson.loads(await asyncio.wait_for(ws.recv(), 2))
            sim.advance(5_000)
            return ack, await drain(ws)

    t0 = sim.clock.now_ms() + 1
    ack, msgs = asyncio.run(run())
    assert ack == {"result": None, "id": 7}
    by = {
        e: [m for m in msgs if m.get("e") == e]
        for e in ("trade", "24hrMiniTicker", "bookTicker", "depthUpdate")
    }
    tr = truth(t0, sim.clock.now_ms() + 1)
    assert [m["T"] for m in by["trade"]] == [int(t) for t in tr.trade_ts]
    assert all(m["X"] == "MARKET" and isinstance(m["t"], int) for m in by["trade"])
    assert len(by["24hrMiniTicker"]) == 5 and float(by["24hrMiniTicker"][-1]["c"]) > 0
    for m in by["bookTicker"]:
        assert float(m["b"]) < float(m["a"])
    depth = by["depthUpdate"]
    assert len(depth) == 5 and all(d["pu"] == p["u"] for p, d in itertools.pairwise(depth))
    snap = httpx.get(
        f"{sim.urls()['binance'].rest}/fapi/v1/depth", params={"symbol": "BTCUSDT", "limit": 5}
    ).json()
    assert snap["lastUpdateId"] == depth[-1]["u"] and len(snap["bids"]) == 5
    for path in ("/market/ws/0", "/market/stream?streams=btcusdt@ticker"):

        async def opens(url: str = f"{base}{path}") -> bool:
            async with websockets.connect(url):
                return True

        assert asyncio.run(opens()), path


def test_rest_premium_index_ticker_and_mark_klines(sim: SimExchanges) -> None:
    rest = sim.urls()["binance"].rest
    now = sim.clock.now_ms()
    p = httpx.get(f"{rest}/fapi/v1/premiumIndex", params={"symbol": "BTCUSDT"}).json()
    assert p["symbol"] == "BTCUSDT" and p["time"] == now and float(p["markPrice"]) > 0
    assert p["nextFundingTime"] % (8 * 3_600_000) == 0 and p["nextFundingTime"] > now
    assert isinstance(httpx.get(f"{rest}/fapi/v1/premiumIndex").json(), list)
    t = httpx.get(f"{rest}/fapi/v1/ticker/24hr", params={"symbol": "BTCUSDT"}).json()
    i0, i1 = (int(x) for x in (t["firstId"], t["lastId"]))
    assert t["count"] == i1 - i0 + 1 > 0 and float(t["lowPrice"]) <= float(t["lastPrice"])
    rows = httpx.get(
        f"{rest}/fapi/v1/markPriceKlines",
        params={"symbol": "BTCUSDT", "interval": "1m", "limit": 3},
    ).json()
    assert len(rows) == 3 and rows[-1][0] == now // 60_000 * 60_000
    marks = truth(rows[0][0], rows[0][0] + 60_000).mark_px
    assert float(rows[0][4]) == pytest.approx(marks[-1], abs=0.01)
    assert float(rows[0][2]) == pytest.approx(marks.max(), abs=0.01)
