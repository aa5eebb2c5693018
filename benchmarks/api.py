"""API benchmark: heatmap latency under concurrent clients, and live-feed delay.

1. A store holding 30 days of 1-minute candles/OI/liquidations for one market is served by a
   real uvicorn on 127.0.0.1. 50 concurrent httpx clients request the 30-day, 1-minute heatmap
   reduced to 1500 x 600 (a bounded number of requests), once with ``format=json`` (nested
   lists, the API default) and once with ``format=bin`` (what the web UI asks for). Reported
   per format: the first request (model run for json; encoding only for bin, the model run is
   shared), body size on the wire (gzip, as browsers ask) and decoded, and p50/p99 of all
   requests; baseline: one sequential client.
2. Liquidations written to the store one by one; the delay until each reaches a /ws client.
3. End to end: simulated exchanges (binance + bybit, the toy source) -> the collector (in the
   API's process) -> the store -> the API's /ws. Delay from the simulated exchange writing a
   liquidation frame to its socket (wall clock, stamped in the server's sent log) to its
   arrival at a websockets client of /ws.

The last line printed is one JSON object with the figures.
"""

from __future__ import annotations

import asyncio
import json
import socket
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import websockets

from liqscope.api.app import Settings, create_app
from liqscope.domain.events import Liquidation
from liqscope.domain.types import PriceKind, Side
from liqscope.sim.synthetic import fill_store
from liqscope.store.sqlite import SqliteStore

MINUTE = 60_000
DAYS = 30
CLIENTS = 50
REQUESTS = 500
LIVE_EVENTS = 30
PARAMS = {"symbol": "BTCUSDT", "range": "30d", "interval": "1m", "width": 1500, "height": 600}
E2E_SECONDS = 40.0
E2E_POLL_S = 0.05  # API poll of the store (Settings.poll_s)
E2E_BATCH_MS = 25  # collector batch (CollectorConfig.batch_max_ms)


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _pct(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(q * (len(s) - 1) + 0.5))]


async def _heatmap(base: str, fmt: str) -> dict[str, float]:
    params = {**PARAMS, "format": fmt}
    async with httpx.AsyncClient(base_url=base, timeout=600) as c:
        t = time.perf_counter()
        r = await c.get("/api/heatmap", params=params)
        cold = time.perf_counter() - t
        r.raise_for_status()
        size = len(r.content)
        wire = int(r.headers.get("content-length", size))
        seq = []
        for _ in range(20):
            t = time.perf_counter()
            (await c.get("/api/heatmap", params=params)).raise_for_status()
            seq.append(time.perf_counter() - t)
    lat: list[float] = []
    queue = iter(range(REQUESTS))

    async def client() -> None:
        async with httpx.AsyncClient(base_url=base, timeout=600) as c:
            for _ in queue:
                t = time.perf_counter()
                (await c.get("/api/heatmap", params=params)).raise_for_status()
                lat.append(time.perf_counter() - t)

    t0 = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(CLIENTS)))
    wall = time.perf_counter() - t0
    p = f"heatmap_{fmt}_"
    return {
        p + "first_s": round(cold, 3),
        p + "body_bytes": size,
        p + "wire_bytes": wire,
        p + "seq_p50_ms": round(statistics.median(seq) * 1000, 2),
        p + "p50_ms": round(_pct(lat, 0.5) * 1000, 2),
        p + "p99_ms": round(_pct(lat, 0.99) * 1000, 2),
        p + "rps": round(len(lat) / wall, 1),
        p + "requests": len(lat),
    }


async def _live(host: str, db: Path) -> dict[str, float]:
    delays: list[float] = []
    async with websockets.connect(f"ws://{host}/ws?symbol=BTCUSDT") as ws:
        await ws.recv()  # hello
        with SqliteStore(db) as store:
            for i in range(LIVE_EVENTS):
                now = int(time.time() * 1000)
                liq = Liquidation(
                    "binance",
                    "BTCUSDT",
                    now,
                    Side.LONG,
                    0.1 + i * 1e-6,
                    60000.0,
                    PriceKind.AVERAGE_FILL,
                    6000.0,
                    True,
                )
                t = time.perf_counter()
                store.write_liquidations([liq])
                while True:
                    m = json.loads(await asyncio.wait_for(ws.recv(), 10))
                    if m["type"] == "liquidation" and m["ts"] == now:
                        break
                delays.append(time.perf_counter() - t)
                await asyncio.sleep(0.05)
    return {
        "ws_delay_p50_ms": round(_pct(delays, 0.5) * 1000, 1),
        "ws_delay_max_ms": round(max(delays) * 1000, 1),
    }


async def _e2e_client(
    host: str, seconds: float, arrivals: list[tuple[str, int, str, float]]
) -> None:
    async with websockets.connect(f"ws://{host}/ws?symbol=BTCUSDT") as ws:
        await ws.recv()  # hello
        end = time.time() + seconds
        while time.time() < end:
            try:
                text = await asyncio.wait_for(ws.recv(), max(0.1, end - time.time()))
            except TimeoutError:
                break
            now = time.time()
            m = json.loads(text)
            if m["type"] == "liquidation":
                arrivals.append((m["venue"], int(m["ts"]), m["side"], now))


def _exchange_to_ws() -> dict[str, float]:
    """Simulated exchange -> collector -> store -> API /ws, all on 127.0.0.1."""
    import contextlib

    import uvicorn

    from liqscope.ingest.collector import CollectorConfig, CollectorSpec, run_collectors
    from liqscope.sim.exchange import SimExchanges
    from liqscope.sim.exchange.server import SentLiquidation
    from liqscope.sim.exchange.toy import ToySource

    venues = {"binance": "BTCUSDT", "bybit": "BTCUSDT"}
    start_ms = int(time.time() * 1000)
    origin = start_ms - 3_600_000
    sim = SimExchanges(
        {v: ToySource(v, s, origin, whole_seconds=True) for v, s in venues.items()},
        start_ms=start_ms,
        speed=1.0,
        venues=list(venues),
    )
    sent_wall: dict[tuple[str, int, str], float] = {}
    for venue in venues:
        log = sim[venue].sent
        original = log.record

        def record(
            liqs: Any, _orig: Any = original, _venue: str = venue
        ) -> None:  # stamp the wall time the frame left the exchange
            now = time.time()
            items: list[SentLiquidation] = list(liqs)
            for liq in items:
                key = (_venue, liq.ts_ms, "long" if liq.side > 0 else "short")
                sent_wall.setdefault(key, now)
            _orig(items)

        log.record = record  # type: ignore[method-assign]  # benchmark instrumentation
    sim.start(timeout=120)
    arrivals: list[tuple[str, int, str, float]] = []
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "e2e.sqlite"
        specs = [
            CollectorSpec(
                v, (s,), ws_url=f"ws://127.0.0.1:{sim.port(v)}", rest_url=sim.urls()[v].rest
            )
            for v, s in venues.items()
        ]
        config = CollectorConfig(
            backfill=False, oi_poll_s=5.0, batch_max_ms=E2E_BATCH_MS, journal=False
        )
        state: dict[str, Any] = {}

        async def start_collecting(_app: Any) -> None:
            stop = asyncio.Event()
            store = SqliteStore(db, clock=sim.clock)  # SQLite objects stay in the server thread
            task = asyncio.create_task(run_collectors(specs, store, sim.clock, stop, config=config))
            state.update(stop=stop, task=task, store=store)

        async def stop_collecting(_app: Any) -> None:
            if "stop" in state:
                state["stop"].set()
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(state["task"], 15)
                state["store"].close()

        settings = Settings(db_path=str(db), clock=sim.clock, poll_s=E2E_POLL_S)
        settings.on_startup.append(start_collecting)
        settings.on_shutdown.append(stop_collecting)
        port = _port()
        server = uvicorn.Server(
            uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning")
        )
        th = threading.Thread(target=server.run, daemon=True)
        th.start()
        try:
            while not server.started:
                time.sleep(0.05)
            time.sleep(3.0)  # collector connected and the markets known to the API
            asyncio.run(_e2e_client(f"127.0.0.1:{port}", E2E_SECONDS, arrivals))
        finally:
            server.should_exit = True
            th.join(20)
            sim.stop()
    delays = [t - sent_wall[(v, ts, sd)] for v, ts, sd, t in arrivals if (v, ts, sd) in sent_wall]
    if not delays:
        return {"exchange_ws_events": 0}
    return {
        "exchange_ws_events": len(delays),
        "exchange_ws_p50_ms": round(_pct(delays, 0.5) * 1000, 1),
        "exchange_ws_p99_ms": round(_pct(delays, 0.99) * 1000, 1),
        "exchange_ws_max_ms": round(max(delays) * 1000, 1),
        "exchange_ws_poll_s": E2E_POLL_S,
        "exchange_ws_batch_max_ms": E2E_BATCH_MS,
    }


def main() -> None:
    import uvicorn

    if "--e2e-only" in sys.argv:
        print(json.dumps({"benchmark": "api", **_exchange_to_ws()}))
        return

    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "bench.sqlite"
        end = int(time.time() * 1000) // MINUTE * MINUTE
        t = time.perf_counter()
        with SqliteStore(db) as store:
            fill_store(
                store, end - DAYS * 1440 * MINUTE, DAYS * 1440, markets=(("binance", "BTCUSDT"),)
            )
        fill_s = time.perf_counter() - t
        print(f"filled {DAYS} days of 1-minute data in {fill_s:.1f} s", file=sys.stderr)
        app = create_app(Settings(db_path=str(db)))
        port = _port()
        server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")
        )
        th = threading.Thread(target=server.run, daemon=True)
        th.start()
        while not server.started:
            time.sleep(0.05)
        try:
            figures: dict[str, Any] = {"clients": CLIENTS}
            for fmt in ("json", "bin"):
                f = asyncio.run(_heatmap(f"http://127.0.0.1:{port}", fmt))
                print(f"heatmap {fmt}: {f}", file=sys.stderr)
                figures.update(f)
            figures.update(asyncio.run(_live(f"127.0.0.1:{port}", db)))
        finally:
            server.should_exit = True
            th.join(10)
    if "--no-e2e" not in sys.argv:
        e2e = _exchange_to_ws()
        print(f"exchange -> ws: {e2e}", file=sys.stderr)
        figures.update(e2e)
    print(json.dumps({"benchmark": "api", **figures}))


if __name__ == "__main__":
    main()
