"""The API over a real SQLite store, and the WebSocket push, on a real uvicorn at 127.0.0.1."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets

from liqscope.api.app import Settings, create_app
from liqscope.domain.events import Liquidation
from liqscope.domain.types import PriceKind, Side
from liqscope.sim.synthetic import fill_store
from liqscope.store.sqlite import SqliteStore

MINUTE = 60_000


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path, Any]]:
    import uvicorn

    db = tmp_path_factory.mktemp("live") / "live.sqlite"
    start = (int(time.time() * 1000) - 1440 * MINUTE) // MINUTE * MINUTE
    with SqliteStore(db) as store:
        fill_store(store, start, 1440, markets=(("binance", "BTCUSDT"), ("okx", "BTC-USDT-SWAP")))
    app = create_app(Settings(db_path=str(db), poll_s=0.05))
    port = _free_port()
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    th = threading.Thread(target=srv.run, daemon=True)
    th.start()
    deadline = time.time() + 20
    while not srv.started:
        assert time.time() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    yield f"127.0.0.1:{port}", db, app
    srv.should_exit = True
    th.join(10)


def test_store_backed_endpoints(server: tuple[str, Path, Any]) -> None:
    host, _, _ = server
    with httpx.Client(base_url=f"http://{host}", timeout=120) as c:
        i = c.get("/api/instruments").json()
        venues = {v["venue"]: v["native_symbol"] for v in i["markets"][0]["venues"]}
        assert i["markets"][0]["symbol"] == "BTCUSDT"
        assert venues == {"binance": "BTCUSDT", "okx": "BTC-USDT-SWAP"}
        h = c.get(
            "/api/heatmap",
            params={"symbol": "BTCUSDT", "range": "12h", "width": 300, "height": 120},
        ).json()
        assert h["aggregate"] and h["model_version"] and len(h["z"]) <= 120 and len(h["ts"]) > 0
        assert sum(v or 0 for row in h["z"] for v in row) > 0
        one = c.get(
            "/api/heatmap",
            params={
                "symbol": "BTCUSDT",
                "venues": "okx",
                "range": "12h",
                "width": 300,
                "height": 120,
                "tiers": "25x",
            },
        ).json()
        assert one["venues"] == ["okx"] and one["tiers"] == ["25x"]
        m = c.get("/api/map", params={"symbol": "BTCUSDT", "range": "24h"}).json()
        assert m["price"] > 0 and m["max_pain"]["below"] is not None
        for path in ("/api/liquidations/bars", "/api/liquidations/levels"):
            body = c.get(path, params={"symbol": "BTCUSDT", "range": "24h"}).json()
            assert body["lower_bound"] and sum(body["long"]) > 0
        f = c.get("/api/liquidations/feed", params={"symbol": "BTCUSDT", "limit": 3}).json()
        assert len(f["items"]) == 3
        s = c.get("/api/status").json()
        assert {m["venue"] for m in s["markets"]} == {"binance", "okx"}
        assert c.get("/api/heatmap", params={"symbol": "ETHUSDT"}).status_code == 404


def test_ws_pushes_new_liquidations_and_alerts(server: tuple[str, Path, Any]) -> None:
    host, db, app = server

    async def go() -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
        async with websockets.connect(f"ws://{host}/ws?symbol=BTCUSDT&min_usd=1000") as ws:
            hello = json.loads(await asyncio.wait_for(ws.recv(), 5))
            now = int(time.time() * 1000)
            small = Liquidation(
                "okx",
                "BTC-USDT-SWAP",
                now,
                Side.LONG,
                0.001,
                60000.0,
                PriceKind.BANKRUPTCY,
                60.0,
                True,
            )
            big = Liquidation(
                "okx",
                "BTC-USDT-SWAP",
                now + 1,
                Side.LONG,
                2.0,
                60000.0,
                PriceKind.BANKRUPTCY,
                120_000.0,
                True,
            )
            with SqliteStore(db) as store:
                store.write_liquidations([small, big])
            got = None
            while got is None:
                m = json.loads(await asyncio.wait_for(ws.recv(), 5))
                if m["type"] == "liquidation":
                    got = m
            app.state.hub.publish_alert(
                {"rule": "near", "kind": "proximity", "symbol": "BTCUSDT", "message": "hi"}
            )
            alert = None
            while alert is None:
                m = json.loads(await asyncio.wait_for(ws.recv(), 5))
                if m["type"] == "alert":
                    alert = m
            return hello, got, alert

    hello, liq, alert = asyncio.run(go())
    assert hello["type"] == "hello"
    assert liq["notional_usd"] == 120_000.0 and liq["symbol"] == "BTCUSDT"  # small one filtered
    assert liq["native_symbol"] == "BTC-USDT-SWAP" and liq["side"] == "long" and liq["sampled"]
    assert alert["kind"] == "proximity" and alert["message"] == "hi" and alert["id"] >= 1


def test_ws_bad_subscription_gets_error(server: tuple[str, Path, Any]) -> None:
    host, _, _ = server

    async def go() -> list[dict[str, Any]]:
        async with websockets.connect(f"ws://{host}/ws") as ws:
            await ws.send(json.dumps({"type": "subscribe", "min_usd": -5}))
            await ws.send("not json")
            out = []
            while len(out) < 3:
                out.append(json.loads(await asyncio.wait_for(ws.recv(), 5)))
            return out

    msgs = asyncio.run(go())
    errors = [m for m in msgs if m["type"] == "error"]
    assert len(errors) == 2 and "min_usd" in errors[0]["message"]


def test_ws_pushes_liquidations_stored_late(server: tuple[str, Path, Any]) -> None:
    """A liquidation stored long after its event time (a collector catching up, an import)
    still reaches /ws: the feed follows the store's insertion sequence, not event time."""
    host, db, _ = server

    def late(minutes: int, qty: float) -> Liquidation:
        ts = int(time.time() * 1000) - minutes * MINUTE
        return Liquidation(
            "binance", "BTCUSDT", ts, Side.SHORT, qty, 61000.0, PriceKind.AVERAGE_FILL,
            qty * 61000.0, True,
        )  # fmt: skip

    ten_min, a_day = late(10, 3.25), late(1440, 4.5)

    async def go() -> tuple[dict[str, Any], list[dict[str, Any]]]:
        async with websockets.connect(f"ws://{host}/ws?symbol=BTCUSDT&venues=binance") as ws:
            hello = json.loads(await asyncio.wait_for(ws.recv(), 5))
            with SqliteStore(db) as store:
                store.write_liquidations([ten_min])
                store.write_liquidations([ten_min, a_day])  # the duplicate is not pushed again
            got: list[dict[str, Any]] = []
            while len(got) < 2:
                m = json.loads(await asyncio.wait_for(ws.recv(), 5))
                if m["type"] == "liquidation":
                    got.append(m)
            with contextlib.suppress(TimeoutError):  # nothing more comes
                m = json.loads(await asyncio.wait_for(ws.recv(), 0.5))
                if m["type"] == "liquidation":
                    got.append(m)
            return hello, got

    hello, got = asyncio.run(go())
    assert [(m["ts"], m["qty"]) for m in got] == [(ten_min.ts, 3.25), (a_day.ts, 4.5)]
    with SqliteStore(db, readonly=True) as store:
        seqs = {r.ts: q for q, r in store.liquidations_after(hello["last_id"], 100)}
    assert [m["id"] for m in got] == [seqs[ten_min.ts], seqs[a_day.ts]]
    assert hello["last_id"] < got[0]["id"] < got[1]["id"]
    assert got[0]["symbol"] == "BTCUSDT" and got[0]["venue"] == "binance"
    with httpx.Client(base_url=f"http://{host}", timeout=60) as c:
        params: dict[str, Any] = {"symbol": "BTCUSDT", "limit": 1000, "min_usd": 198_000}
        feed = c.get("/api/liquidations/feed", params=params).json()
    ids = {(i["ts"], i["qty"]): i["id"] for i in feed["items"]}
    assert ids[(ten_min.ts, 3.25)] == got[0]["id"] and ids[(a_day.ts, 4.5)] == got[1]["id"]
    assert feed["last_id"] >= got[1]["id"]
