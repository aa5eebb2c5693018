"""Contract tests: ccxt, a real foreign client, against the simulated venues with its defaults.

ccxt (REST) and ccxt.pro (WebSockets) are pointed at the loopback servers by overriding their
``urls``; everything else is ccxt's default behaviour, including ``load_markets`` and windows
taken from the local clock (the simulator's clock starts at wall time). Every liquidation ccxt
parses must be one the simulator logged as sent: same side, price, base quantity and ms time.
"""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Iterator
from typing import Any

import pytest

ccxt = pytest.importorskip("ccxt", reason="ccxt is a dev dependency (pip install -e '.[dev]')")
ccxtpro = pytest.importorskip("ccxt.pro")

from liqscope.domain.registry import native_symbol  # noqa: E402
from liqscope.sim.exchange import SimExchanges, VenueUrls  # noqa: E402
from liqscope.sim.exchange.history import candle  # noqa: E402
from liqscope.sim.exchange.hyperliquid import address  # noqa: E402
from liqscope.sim.scenarios import anchor_ms, venue_markets  # noqa: E402

MIN = 60_000
# venue -> (ccxt id, unified symbol, lot in base units)
VENUES: dict[str, tuple[str, str, float]] = {
    "binance": ("binanceusdm", "BTC/USDT:USDT", 0.001),
    "bybit": ("bybit", "BTC/USDT:USDT", 0.001),
    "okx": ("okx", "BTC/USDT:USDT", 0.0001),  # 0.01 contracts of 0.01 BTC
    "hyperliquid": ("hyperliquid", "BTC/USDC:USDC", 0.00001),
}
# how each venue's liquidation record names the side ccxt reports, and which price ccxt reads
LIQ_SIDE = {  # ccxt side of a liquidated long
    "binance": "sell",  # S: the liquidation order
    "bybit": "buy",  # S: the position
    "okx": "sell",  # side: the liquidation order
}
LIQ_PRICE = {"binance": "ap", "bybit": "p", "okx": "bkPx"}


def point_ccxt(ex: Any, venue: str, urls: VenueUrls) -> Any:
    """Point a ccxt (or ccxt.pro) exchange at a simulated venue: every REST and WS URL."""
    rest = urls.rest
    host = "/".join(urls.ws.split("/", 3)[:3])  # ws://127.0.0.1:PORT
    api = ex.urls["api"]
    for key, value in list(api.items()):
        if key == "ws" or not isinstance(value, str):
            continue
        # Binance keeps the path (/fapi/v1, /futures/data, …); the others are a bare host
        api[key] = rest + "/" + value.split("/", 3)[3] if venue == "binance" else rest
    if "ws" in api:
        if venue == "binance":
            api["ws"] = {**api["ws"], "linear": f"{host}/ws"}
        elif venue == "bybit":
            api["ws"]["public"] = {k: f"{host}/v5/public/{k}" for k in api["ws"]["public"]}
        elif venue == "okx":
            api["ws"] = f"{host}/ws/v5"
        else:
            api["ws"]["public"] = urls.ws
    return ex


@pytest.fixture(autouse=True)
def _no_name_lookups(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """ccxt must not even resolve a real venue's host name (a DNS query leaves the machine)."""
    asked: list[str] = []
    real = socket.getaddrinfo

    def lookup(host: Any, *args: Any, **kwargs: Any) -> Any:
        name = host.decode() if isinstance(host, bytes) else str(host)
        if name not in ("127.0.0.1", "localhost", "::1"):
            asked.append(name)
            raise socket.gaierror(f"tests resolve loopback names only, not {name!r}")
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", lookup)
    yield asked
    assert not asked, f"ccxt tried to reach {sorted(set(asked))}"


@pytest.fixture(scope="module")
def sim() -> Iterator[SimExchanges]:
    """All four venues, serving from wall time into the cascade scenario's crash hour."""
    serve = anchor_ms()
    history = int(6.4 * 3_600_000)
    spec = tuple(
        (v, native_symbol(v, "BTCUSDT"), scale)
        for v, scale in (("binance", 1.0), ("bybit", 0.6), ("okx", 0.4), ("hyperliquid", 0.5))
    )
    markets = venue_markets("cascade", 3, spec, start_ms=serve - history)
    sources = {v: markets[(v, s)].advance for v, s, _ in spec}
    with SimExchanges(sources, start_ms=serve, speed=10, venues=list(sources)) as s:
        yield s


def exchange(sim: SimExchanges, venue: str, pro: bool = False) -> Any:
    name, _, _ = VENUES[venue]
    cls = getattr(ccxtpro if pro else ccxt, name)
    return point_ccxt(cls({"timeout": 10_000}), venue, sim.urls()[venue])


def on_lot(x: float, lot: float) -> bool:
    return abs(x / lot - round(x / lot)) < 1e-6


@pytest.mark.parametrize("venue", list(VENUES))
def test_rest_with_ccxt_defaults(sim: SimExchanges, venue: str) -> None:
    ex = exchange(sim, venue)
    _, symbol, lot = VENUES[venue]
    markets = ex.load_markets()
    assert symbol in markets and markets[symbol]["swap"]
    now = ex.milliseconds()

    since = now - 30 * MIN
    bars = ex.fetch_ohlcv(symbol, "1m", since=since)
    assert len(bars) >= 25 and bars[0][0] >= since - MIN
    h = next(iter(sim[venue].histories.values()))
    first = candle(h, bars[0][0], MIN, sim.clock.now_ms() + 1)
    assert first is not None and bars[0][4] == pytest.approx(first.close, rel=1e-5)

    oi = ex.fetch_open_interest(symbol)
    assert (oi["openInterestAmount"] or oi["openInterestValue"] or 0) > 0
    if venue == "hyperliquid":  # the venue has no OI history; ccxt says so
        assert not ex.has["fetchOpenInterestHistory"]
    else:
        hist = ex.fetch_open_interest_history(symbol, "5m", since=now - 3 * 3_600_000)
        assert len(hist) >= 30 and all(r["timestamp"] % (5 * MIN) == 0 for r in hist)
        assert all((r["openInterestAmount"] or r["openInterestValue"]) > 0 for r in hist)

    rate = ex.fetch_funding_rate(symbol)
    assert isinstance(rate["fundingRate"], float) and abs(rate["fundingRate"]) < 0.01

    params = {"user": address("maker", 0)} if venue == "hyperliquid" else {}
    window = 60 * MIN if venue == "hyperliquid" else 10 * MIN
    trades = ex.fetch_trades(symbol, since=now - window, params=params)
    assert trades and all(t["symbol"] == symbol and t["price"] > 0 for t in trades)
    assert all(on_lot(t["amount"] * (markets[symbol]["contractSize"] or 1), lot) for t in trades)


async def collect(watch: Any, want: int, timeout: float) -> list[Any]:
    out: list[Any] = []
    deadline = time.monotonic() + timeout
    while len(out) < want and time.monotonic() < deadline:
        out.extend(await asyncio.wait_for(watch(), max(0.1, deadline - time.monotonic())))
    return out


@pytest.mark.parametrize("venue", list(VENUES))
def test_websockets_with_ccxt_pro(sim: SimExchanges, venue: str) -> None:
    _, symbol, _ = VENUES[venue]

    async def run() -> tuple[list[Any], list[Any], list[Any], float]:
        ex = exchange(sim, venue, pro=True)
        try:
            markets = await ex.load_markets()
            trades = await collect(lambda: ex.watch_trades(symbol), 1, 20)
            bars = await collect(lambda: ex.watch_ohlcv(symbol, "1m"), 1, 20)
            liqs: list[Any] = []
            if venue in LIQ_SIDE:
                liqs = await collect(lambda: ex.watch_liquidations(symbol), 3, 30)
            else:
                assert not ex.has["watchLiquidations"]  # Hyperliquid publishes none
            return trades, bars, liqs, markets[symbol]["contractSize"] or 1.0
        finally:
            await ex.close()

    trades, bars, liqs, size = asyncio.run(run())
    assert trades and all(t["symbol"] == symbol for t in trades)
    assert bars and bars[-1][4] > 0
    if venue not in LIQ_SIDE:
        return
    assert len(liqs) >= 3, f"{venue}: too few liquidations seen"
    time.sleep(0.2)  # the server logs a send right after writing it
    sent: dict[int, list[Any]] = {}
    for e in sim[venue].sent.events():
        sent.setdefault(e.ts_ms, []).append(e)
    for liq in liqs:
        long_side = LIQ_SIDE[venue]
        matches = [
            e
            for e in sent.get(liq["timestamp"], [])
            if (long_side if e.side > 0 else other(long_side)) == liq["side"]
        ]
        assert len(matches) == 1, (venue, liq["info"])
        assert liq["price"] == float(matches[0].wire[LIQ_PRICE[venue]])
        base = liq["contracts"] * (liq["contractSize"] or size)
        assert base == pytest.approx(matches[0].qty_base, rel=1e-9)
    assert any(liq["timestamp"] % 1000 for liq in liqs)  # millisecond times, not whole seconds


def other(side: str) -> str:
    return "buy" if side == "sell" else "sell"
