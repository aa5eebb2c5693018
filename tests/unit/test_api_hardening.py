"""Hardening (issue 12): no 5xx for admitted input, a live feed that never silently drops,
a server safe by default, expensive endpoints bounded."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets
from api_app import store_app
from typer.testing import CliRunner

from liqscope.api.app import Settings, create_app
from liqscope.api.cache import Cache, Latest
from liqscope.domain.events import Liquidation
from liqscope.domain.types import PriceKind, Side
from liqscope.sim.synthetic import fill_store
from liqscope.store.sqlite import SqliteStore

MINUTE = 60_000
APP = store_app(minutes=1440, markets=(("binance", "BTCUSDT"),))


def get(path: str, app: Any = APP, headers: dict[str, str] | None = None, **params: Any) -> Any:
    async def go() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as c:
            return await c.get(path, params=params, headers=headers)

    return asyncio.run(go())


# -- no 5xx ------------------------------------------------------------------------------------


@pytest.mark.parametrize("height", [1200, 1999, 2000])
def test_tall_json_heatmaps_are_served(height: int) -> None:
    r = get("/api/heatmap", symbol="BTCUSDT", range="24h", height=height, format="json")
    assert r.status_code == 200, r.text
    assert 0 < len(r.json()["z"]) <= height


@pytest.mark.parametrize("qty", ["1e308", "1e12", "1e-300"])
def test_check_with_extreme_quantities_is_not_a_server_error(qty: str) -> None:
    r = get(
        "/api/check", symbol="BTCUSDT", side="long", entry="60000", leverage="10", qty=qty, days=1
    )
    assert r.status_code in (200, 422), r.text
    if qty == "1e308":
        assert r.status_code == 422 and "qty" in r.text


def test_schema_is_as_strict_as_the_validation() -> None:
    """What the validation refuses, the schema states (enums, patterns, bounds)."""
    spec = get("/openapi.json").json()
    params = {p["name"]: p["schema"] for p in spec["paths"]["/api/heatmap"]["get"]["parameters"]}
    assert set(params["format"].get("enum", [])) == {"json", "bin"}
    assert "enum" in params["range"].get("anyOf", [{}])[0]
    assert params["venues"]["anyOf"][0]["pattern"].startswith("^(?:all|")
    check = {p["name"]: p["schema"] for p in spec["paths"]["/api/check"]["get"]["parameters"]}
    assert check["qty"]["anyOf"][0]["maximum"] <= 1e12
    assert "429" in spec["paths"]["/api/score"]["get"]["responses"]


# -- safe by default ---------------------------------------------------------------------------


def test_foreign_host_is_refused_and_allow_list_is_configurable() -> None:
    assert get("/api/instruments", headers={"host": "evil.example"}).status_code == 400
    assert get("/api/instruments", headers={"host": "localhost:8000"}).status_code == 200
    db = APP.state.service.backend.path
    open_app = create_app(Settings(db_path=str(db), allowed_hosts=["liq.lan"]))
    assert get("/api/instruments", open_app, headers={"host": "liq.lan"}).status_code == 200
    assert get("/api/instruments", open_app, headers={"host": "evil.example"}).status_code == 400


def test_token_is_required_when_set() -> None:
    db = APP.state.service.backend.path
    app = create_app(Settings(db_path=str(db), token="s3cret"))
    assert get("/api/instruments", app).status_code == 401
    auth = {"authorization": "Bearer s3cret"}
    assert get("/api/instruments", app, headers=auth).status_code == 200
    assert get("/api/instruments", app, headers={"authorization": "Bearer nope"}).status_code == 401
    assert get("/static/app.js", app).status_code == 200  # assets carry no data
    page = get("/", app, token="s3cret")
    assert page.status_code == 200 and "liqscope_token=s3cret" in page.headers["set-cookie"]
    cookie = {"cookie": "liqscope_token=s3cret"}
    assert get("/api/status", app, headers=cookie).status_code == 200


def test_serve_beyond_loopback_needs_a_token(monkeypatch: pytest.MonkeyPatch) -> None:
    import uvicorn

    from liqscope.cli import commands

    ran: list[Any] = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: ran.append((app, kw)))
    monkeypatch.delenv("LIQSCOPE_TOKEN", raising=False)
    db = str(APP.state.service.backend.path)
    runner = CliRunner()
    base = ["serve", "--db", db, "--no-live-alerts"]
    env = {k: v for k, v in os.environ.items() if k != "LIQSCOPE_TOKEN"}
    cli = Path(sys.executable).with_name("liqscope")
    done = subprocess.run(
        [str(cli), *base, "--host", "0.0.0.0"], capture_output=True, text=True, env=env, timeout=60
    )
    assert done.returncode == 2 and "--token" in done.stderr, done.stderr
    assert "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) == 1
    r = runner.invoke(commands(), [*base, "--host", "0.0.0.0", "--token", "t0k"])
    assert r.exit_code == 0, r.output
    assert "WARNING" in r.output and ran and ran[-1][1]["host"] == "0.0.0.0"
    assert ran[-1][0].state.settings.token == "t0k"
    monkeypatch.setenv("LIQSCOPE_TOKEN", "from-env")
    r = runner.invoke(commands(), [*base, "--host", "10.1.2.3"])
    assert r.exit_code == 0 and ran[-1][0].state.settings.token == "from-env"
    assert "10.1.2.3" in ran[-1][0].state.settings.allowed_hosts


# -- bounded expensive endpoints ---------------------------------------------------------------


def test_score_keys_are_quantized_and_a_busy_server_answers_429(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from liqscope.signals import scorecard

    assert get("/api/score", scenario="calm", hours="4.5").status_code == 422
    assert get("/api/score", scenario="calm", seed=10**6).status_code == 422
    release = threading.Event()
    entered = threading.Event()
    real = scorecard.simulate

    def slow(*args: Any, **kw: Any) -> Any:
        entered.set()
        release.wait(30)
        return real(*args, **kw)

    monkeypatch.setattr(scorecard, "simulate", slow)
    first: list[Any] = []
    t = threading.Thread(
        target=lambda: first.append(get("/api/score", scenario="calm", hours=4, presets="all"))
    )
    t.start()
    assert entered.wait(30)
    busy = get("/api/score", scenario="calm", hours=4, seed=2, presets="all")
    assert busy.status_code == 429 and busy.headers["retry-after"]
    release.set()
    t.join(120)
    assert first[0].status_code == 200
    # the same card asked with a float that rounds to the same key is served from the cache
    views = APP.state.signals
    n = len(views.scores)
    again = get("/api/score", scenario="calm", hours=4, presets="all", q="0.2000001")
    assert again.status_code == 200 and len(views.scores) == n


def test_latest_serves_the_held_value_while_a_refresh_runs() -> None:
    latest: Latest[str] = Latest(Cache(8), wait_s=0.01)
    assert latest.get("view", 1, lambda: "v1") == "v1"
    gate = threading.Event()

    def slow() -> str:
        gate.wait(10)
        return "v2"

    assert latest.get("view", 2, slow) == "v1"  # at once, not after the slow computation
    gate.set()
    deadline = time.monotonic() + 10
    while latest.get("view", 2, slow) != "v2":
        assert time.monotonic() < deadline
        time.sleep(0.01)


# -- the live feed -----------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    import uvicorn

    db = tmp_path_factory.mktemp("live12") / "live.sqlite"
    start = (int(time.time() * 1000) - 600 * MINUTE) // MINUTE * MINUTE
    with SqliteStore(db) as store:
        fill_store(store, start, 600, markets=(("binance", "BTCUSDT"), ("bybit", "ETHUSDT")))
    app = create_app(Settings(db_path=str(db), poll_s=0.05))
    port = _free_port()
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    th = threading.Thread(target=srv.run, daemon=True)
    th.start()
    deadline = time.time() + 20
    while not srv.started:
        assert time.time() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    yield f"127.0.0.1:{port}", db
    srv.should_exit = True
    th.join(10)


def _rows(n: int, venue: str = "binance", symbol: str = "BTCUSDT") -> list[Liquidation]:
    now = int(time.time() * 1000)
    sampled = venue == "binance"
    kind = PriceKind.BANKRUPTCY
    return [
        Liquidation(venue, symbol, now + i, Side.LONG, 0.01, 6e4 + i, kind, 6e2 + i, sampled)
        for i in range(n)
    ]


async def _recv_until(ws: Any, kind: str, timeout: float = 5) -> dict[str, Any]:
    while True:
        m: dict[str, Any] = json.loads(await asyncio.wait_for(ws.recv(), timeout))
        if m["type"] == kind:
            return m


def test_a_burst_reaches_a_client_that_keeps_up(live: tuple[str, Path]) -> None:
    host, db = live

    async def go() -> int:
        async with websockets.connect(f"ws://{host}/ws?symbol=BTCUSDT") as ws:
            await _recv_until(ws, "hello")
            with SqliteStore(db) as store:
                store.write_liquidations(_rows(3000))  # one poll sees all 3,000
            got = 0
            while got < 3000:
                m = json.loads(await asyncio.wait_for(ws.recv(), 10))
                assert m["type"] != "gap"
                got += m["type"] == "liquidation"
            return got

    assert asyncio.run(go()) == 3000


def test_binary_and_bad_frames_are_ignored(live: tuple[str, Path]) -> None:
    host, _ = live

    async def go() -> list[dict[str, Any]]:
        async with websockets.connect(f"ws://{host}/ws") as ws:
            await _recv_until(ws, "hello")
            await ws.send(b"\x00\x01binary")
            await ws.send("[1, 2]")
            await ws.send(json.dumps({"type": "ping"}))
            return [await _recv_until(ws, "error"), await _recv_until(ws, "pong")]

    err, pong = asyncio.run(go())
    assert "objects" in err["message"] and pong["type"] == "pong"


def test_unknown_symbol_is_refused_not_subscribed_to_everything(live: tuple[str, Path]) -> None:
    host, db = live

    async def go() -> tuple[dict[str, Any], list[dict[str, Any]], dict[str, Any]]:
        async with websockets.connect(f"ws://{host}/ws?symbol=NOPEUSDT") as ws:
            await _recv_until(ws, "hello")
            err = await _recv_until(ws, "error")
            with SqliteStore(db) as store:
                store.write_liquidations(_rows(3))
            got: list[dict[str, Any]] = []
            with pytest.raises(TimeoutError):
                got.append(await _recv_until(ws, "liquidation", timeout=1.0))
            # a valid subscription, then a refused one: the valid one stays in force
            await ws.send(json.dumps({"type": "subscribe", "symbol": "ETHUSDT"}))
            await _recv_until(ws, "subscribed")
            await ws.send(json.dumps({"type": "subscribe", "symbol": "NOPE"}))
            await _recv_until(ws, "error")
            with SqliteStore(db) as store:
                store.write_liquidations(_rows(2) + _rows(1, "bybit", "ETHUSDT"))
            liq = await _recv_until(ws, "liquidation")
            return err, got, liq

    err, got, liq = asyncio.run(go())
    assert "unknown symbol" in err["message"] and got == []
    assert liq["symbol"] == "ETHUSDT"


def test_a_foreign_origin_cannot_open_the_live_feed(live: tuple[str, Path]) -> None:
    host, _ = live

    async def go(origin: str) -> str:
        async with websockets.connect(f"ws://{host}/ws", origin=origin) as ws:  # type: ignore[arg-type]  # websockets types Origin as a NewType
            return str(json.loads(await asyncio.wait_for(ws.recv(), 5))["type"])

    assert asyncio.run(go(f"http://{host}")) == "hello"
    with pytest.raises(websockets.exceptions.InvalidStatus):
        asyncio.run(go("http://evil.example"))


def test_a_slow_client_gets_a_gap_and_memory_stays_bounded() -> None:
    from liqscope.api.live import QUEUE_MAX, Client

    async def go() -> Client:
        c = Client(ws=None)  # type: ignore[arg-type]  # never sends: the slowest client
        for i in range(3 * QUEUE_MAX):
            c.offer(b'{"type":"liquidation"}', i)
        return c

    c = asyncio.run(go())
    assert c.queue.qsize() <= QUEUE_MAX and c.dropped > 0
    items = [c.queue.get_nowait() for _ in range(c.queue.qsize())]
    gaps = [json.loads(b) for b in items if b"gap" in b]
    assert gaps and gaps[0]["dropped"] > 0 and "refetch" in gaps[0]["message"]


def test_a_sender_cancelled_as_its_send_completes_stops() -> None:
    """A client's sender that is cancelled (its connection ended) just as a send completes
    ends, instead of waiting on its queue for ever (which held a server's shutdown)."""
    from liqscope.api.live import Client

    hub = APP.state.hub
    senders: list[asyncio.Task[None]] = []

    class Socket:  # the cancel lands while the send is completing
        async def send_text(self, text: str) -> None:
            if text != "hello":
                senders[0].cancel()

        async def close(self) -> None:
            pass

    async def go() -> bool:
        c = Client(ws=Socket())  # type: ignore[arg-type]  # the two calls the sender makes
        c.offer(b"{}")
        senders.append(asyncio.create_task(hub._sender(c, b"hello")))
        done, _ = await asyncio.wait(senders, timeout=5)
        senders[0].cancel()
        return senders[0] in done and senders[0].cancelled()

    assert asyncio.run(go())
