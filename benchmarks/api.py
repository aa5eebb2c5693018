"""API benchmark: heatmap latency under concurrent clients, and live-feed delay.

1. A store holding 30 days of 1-minute candles/OI/liquidations for one market is served by a
   real uvicorn on 127.0.0.1. 50 concurrent httpx clients request the 30-day, 1-minute heatmap
   reduced to 1500 x 600 (a bounded number of requests). Reported: the cold first request
   (model run) and p50/p99 of all requests; baseline: one sequential client.
2. Liquidations written to the store one by one; the delay until each reaches a /ws client.

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


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _pct(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(q * (len(s) - 1) + 0.5))]


async def _heatmap(base: str) -> dict[str, float]:
    async with httpx.AsyncClient(base_url=base, timeout=600) as c:
        t = time.perf_counter()
        r = await c.get("/api/heatmap", params=PARAMS)
        cold = time.perf_counter() - t
        r.raise_for_status()
        size = len(r.content)
        seq = []
        for _ in range(20):
            t = time.perf_counter()
            (await c.get("/api/heatmap", params=PARAMS)).raise_for_status()
            seq.append(time.perf_counter() - t)
    lat: list[float] = []
    queue = iter(range(REQUESTS))

    async def client() -> None:
        async with httpx.AsyncClient(base_url=base, timeout=600) as c:
            for _ in queue:
                t = time.perf_counter()
                (await c.get("/api/heatmap", params=PARAMS)).raise_for_status()
                lat.append(time.perf_counter() - t)

    t0 = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(CLIENTS)))
    wall = time.perf_counter() - t0
    return {
        "heatmap_cold_s": round(cold, 3),
        "heatmap_body_kb": round(size / 1024, 1),
        "heatmap_seq_p50_ms": round(statistics.median(seq) * 1000, 2),
        "heatmap_p50_ms": round(_pct(lat, 0.5) * 1000, 2),
        "heatmap_p99_ms": round(_pct(lat, 0.99) * 1000, 2),
        "heatmap_rps": round(len(lat) / wall, 1),
        "requests": len(lat),
        "clients": CLIENTS,
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


def main() -> None:
    import uvicorn

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
            figures = asyncio.run(_heatmap(f"http://127.0.0.1:{port}"))
            print(f"heatmap: {figures}", file=sys.stderr)
            figures.update(asyncio.run(_live(f"127.0.0.1:{port}", db)))
        finally:
            server.should_exit = True
            th.join(10)
    print(json.dumps({"benchmark": "api", **figures}))


if __name__ == "__main__":
    main()
