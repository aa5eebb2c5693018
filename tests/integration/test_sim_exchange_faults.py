"""Faults of the simulated exchanges, the control endpoints, and the replay clock."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
import websockets

from liqscope.sim.exchange import Fault, FaultKind, ReplayClock, ServerOptions, SimExchanges
from liqscope.sim.exchange.toy import ToySource

ORIGIN = 1_760_000_000_000
START = ORIGIN + 600_000
STREAM = "/stream?streams=btcusdt@markPrice@1s/btcusdt@forceOrder"


def make(**kw: Any) -> SimExchanges:
    return SimExchanges(
        lambda v: ToySource(v, "BTCUSDT", ORIGIN),
        start_ms=START,
        manual=True,
        venues=["binance", "bybit"],
        **kw,
    )


@pytest.fixture
def sim() -> Iterator[SimExchanges]:
    with make(control=True) as s:
        yield s


async def recv_all(ws: Any, quiet: float = 0.3) -> list[str | bytes]:
    out: list[str | bytes] = []
    for _ in range(1000):
        try:
            out.append(await asyncio.wait_for(ws.recv(), quiet))
        except TimeoutError:
            break
    return out


def test_http_429_then_418_then_recovery(sim: SimExchanges) -> None:
    rest = sim.urls()["binance"].rest
    url = f"{rest}/fapi/v1/openInterest?symbol=BTCUSDT"
    sim["binance"].inject(Fault(FaultKind.HTTP_429, seconds=7, count=2))
    for _ in range(2):
        r = httpx.get(url)
        assert r.status_code == 429 and r.headers["Retry-After"] == "7"
        assert r.json()["code"] == -1003
    assert httpx.get(url).status_code == 200
    r = httpx.post(f"{rest}/_sim/fault", json={"kind": "http_418", "seconds": 120})
    assert r.status_code == 200
    r = httpx.get(url)
    assert r.status_code == 418 and r.headers["Retry-After"] == "120"
    assert httpx.get(url).status_code == 200
    assert httpx.post(f"{rest}/_sim/fault", json={"kind": "explode"}).status_code == 400


def test_disconnect_closes_every_client(sim: SimExchanges) -> None:
    urls = sim.urls()

    async def run() -> list[int | None]:
        async with (
            websockets.connect(urls["binance"].ws + STREAM) as a,
            websockets.connect(urls["bybit"].ws) as b,
        ):
            await b.send('{"op":"ping"}')
            await asyncio.wait_for(b.recv(), 2)
            sim["binance"].inject({"kind": "disconnect"})
            sim["bybit"].inject({"kind": "disconnect"})
            codes = []
            for ws in (a, b):
                with pytest.raises(websockets.ConnectionClosed) as exc:
                    for _ in range(100):
                        await asyncio.wait_for(ws.recv(), 2)
                codes.append(exc.value.rcvd.code if exc.value.rcvd else None)
            return codes

    assert asyncio.run(run()) == [1001, 1001]
    assert sim.wait_closed(2)


def test_malformed_frame_is_not_json(sim: SimExchanges) -> None:
    async def run() -> list[str | bytes]:
        async with websockets.connect(sim.urls()["binance"].ws + STREAM) as ws:
            sim.advance(2_000)
            sim["binance"].inject({"kind": "malformed"})
            sim.advance(2_000)
            return await recv_all(ws)

    frames = asyncio.run(run())
    bad = []
    for f in frames:
        try:
            orjson.loads(f)
        except orjson.JSONDecodeError:
            bad.append(f)
    assert len(bad) == 1 and len(frames) - len(bad) >= 4  # 4 marks (+ a forceOrder) around it


def test_stall_stops_messages_then_resumes(sim: SimExchanges) -> None:
    async def run() -> tuple[list[Any], list[Any], list[Any]]:
        async with websockets.connect(sim.urls()["binance"].ws + STREAM) as ws:
            sim.advance(1_000)
            before = await recv_all(ws, 0.2)
            sim["binance"].inject(Fault(FaultKind.STALL, seconds=0.6))
            sim.advance(3_000)
            during = await recv_all(ws, 0.3)  # socket open, nothing arrives
            await asyncio.sleep(0.4)
            sim.advance(1_000)
            after = await recv_all(ws, 0.3)
            return before, during, after

    before, during, after = asyncio.run(run())
    assert len(before) == 1 and during == [] and len(after) == 1


def test_lifetime_cut() -> None:
    with make(options=ServerOptions(max_conn_lifetime_s=0.3)) as sim:

        async def run() -> tuple[int | None, float]:
            t = time.monotonic()
            async with websockets.connect(sim.urls()["binance"].ws + STREAM) as ws:
                with pytest.raises(websockets.ConnectionClosed) as exc:
                    for _ in range(100):
                        await asyncio.wait_for(ws.recv(), 3)
            return (exc.value.rcvd.code if exc.value.rcvd else None), time.monotonic() - t

        code, took = asyncio.run(run())
        assert code == 1000 and 0.25 < took < 3


def test_sent_log_and_admin_endpoints(sim: SimExchanges) -> None:
    rest = sim.urls()["bybit"].rest

    async def run() -> None:
        async with websockets.connect(sim.urls()["bybit"].ws) as ws:
            await ws.send('{"op":"subscribe","args":["allLiquidation.BTCUSDT"]}')
            await asyncio.wait_for(ws.recv(), 2)
            r = httpx.post(f"{rest}/_sim/advance", json={"ms": 20_000})
            assert r.status_code == 200
            await recv_all(ws)

    asyncio.run(run())
    sent = httpx.get(f"{rest}/_sim/sent").json()
    truth = ToySource("bybit", "BTCUSDT", ORIGIN).chunk(START + 1, START + 20_001)
    assert sent["count"] == len(truth.liq_ts) == sent["sends"]
    assert [e["ts_ms"] for e in sent["events"]] == [int(t) for t in truth.liq_ts]
    assert sent["events"][0]["wire"]["S"] in ("Buy", "Sell")
    assert httpx.get(f"{rest}/_sim/clock").json()["now_ms"] == START + 20_000


def test_replay_clock_speed() -> None:
    class Wall:
        t = 0

        def now_ms(self) -> int:
            return self.t

    wall = Wall()
    clock = ReplayClock(1_000, speed=100, wall=wall)
    wall.t = 50
    assert clock.now_ms() == 1_000 + 5_000
    clock.advance(10)
    assert clock.now_ms() == 6_010
    with pytest.raises(ValueError):
        clock.set(0)
    assert clock.wall_seconds(24 * 3_600_000) == pytest.approx(864)


def test_wall_driven_servers_push_on_their_own() -> None:
    sim = SimExchanges(
        {"binance": ToySource("binance", "BTCUSDT", ORIGIN)},
        start_ms=START,
        speed=50,
        venues=["binance"],
    )
    with sim:

        async def run() -> list[Any]:
            async with websockets.connect(sim.urls()["binance"].ws + STREAM) as ws:
                return [orjson.loads(await asyncio.wait_for(ws.recv(), 2)) for _ in range(3)]

        msgs = asyncio.run(run())
    stamps = [m["data"]["E"] for m in msgs if m["stream"].endswith("markPrice@1s")]
    assert stamps == sorted(stamps) and len(stamps) >= 2


def test_control_routes_are_off_by_default() -> None:
    with make() as sim:
        rest = sim.urls()["binance"].rest
        for method, path in (
            ("POST", "/_sim/fault"),
            ("GET", "/_sim/sent"),
            ("GET", "/_sim/clock"),
        ):
            r = httpx.request(method, f"{rest}{path}", json={"kind": "disconnect"})
            assert r.status_code == 404 and "--control" in r.json()["error"], path
        assert httpx.get(f"{rest}/fapi/v1/openInterest?symbol=BTCUSDT").status_code == 200


def test_control_routes_answer_loopback_clients_only() -> None:
    with make(control=True) as sim:
        server = sim["binance"]

        async def ask(client: tuple[str, int]) -> list[int]:
            transport = httpx.ASGITransport(app=server, client=client)
            async with httpx.AsyncClient(transport=transport, base_url="http://sim") as http:
                fault = await http.post("/_sim/fault", json={"kind": "http_429", "count": 5})
                clock = await http.get("/_sim/clock")
                return [fault.status_code, clock.status_code]

        assert asyncio.run(ask(("192.0.2.7", 5000))) == [403, 403]
        assert asyncio.run(ask(("::ffff:10.0.0.1", 5000))) == [403, 403]
        rest = sim.urls()["binance"].rest
        assert httpx.get(f"{rest}/fapi/v1/openInterest?symbol=BTCUSDT").status_code == 200
        assert asyncio.run(ask(("127.0.0.1", 5000))) == [200, 200]
        assert httpx.get(f"{rest}/fapi/v1/openInterest?symbol=BTCUSDT").status_code == 429


def _cli_sim(*args: str) -> tuple[subprocess.Popen[str], dict[str, Any]]:
    cmd = [str(Path(sys.executable).parent / "liqscope"), "sim", "--venues", "binance",
           "--history", "0.05", "--run-for", "20", "--json", *args]  # fmt: skip
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    return proc, orjson.loads(proc.stdout.readline())


@pytest.mark.parametrize("control", [False, True])
def test_cli_sim_starts_at_wall_time_and_control_needs_the_flag(control: bool) -> None:
    before = time.time() * 1000
    proc, info = _cli_sim(*(["--control"] if control else []))
    try:
        assert before - 61_000 <= info["start_ms"] <= time.time() * 1000  # anchored to now
        assert info["start_ms"] % 60_000 == 0
        rest = info["venues"]["binance"]["rest"]
        r = httpx.post(f"{rest}/_sim/fault", json={"kind": "http_429", "count": 1})
        assert r.status_code == (200 if control else 404)
        oi = httpx.get(f"{rest}/fapi/v1/openInterest", params={"symbol": "BTCUSDT"})
        assert oi.status_code == (429 if control else 200)
    finally:
        proc.terminate()
        proc.communicate(timeout=20)


def test_cli_sim_serves_from_a_given_start() -> None:
    proc, info = _cli_sim("--start", "2025-10-10T06:30")
    try:
        assert info["start_ms"] == 1_760_077_800_000
        rest = info["venues"]["binance"]["rest"]
        now = httpx.get(f"{rest}/fapi/v1/time").json()["serverTime"]
        assert 1_760_077_800_000 <= now < 1_760_077_800_000 + 60_000
    finally:
        proc.terminate()
        proc.communicate(timeout=20)


def test_cli_sim_refuses_a_bad_start_in_one_line() -> None:
    cmd = [str(Path(sys.executable).parent / "liqscope"), "sim", "--start", "someday"]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    assert out.returncode == 2 and "--start 'someday' is not a date" in out.stderr
    assert "Traceback" not in out.stderr and len(out.stderr.strip().splitlines()) == 1
