"""API benchmark: heatmap latency under concurrent clients, and live-feed delay.

1. A store holding 30 days of 1-minute candles/OI/liquidations for one market is served by a
   real uvicorn on 127.0.0.1 in its **own process** (as ``liqscope serve`` runs); 50 concurrent
   keep-alive clients in this process (a minimal asyncio HTTP/1.1 client, see ``_RawClient``;
   for ``bin`` also 50 httpx clients, for comparison) request the 30-day, 1-minute heatmap
   reduced to 1500 x 600 (a bounded number of requests), once with ``format=json`` (nested
   lists, the API default) and once with ``format=bin`` (what the web UI asks for), asking for
   gzip as browsers do.
   Latency is time to the last byte of the body as sent (load tools such as wrk measure the
   same; the client does not inflate it). Reported per format: the first request (model run
   for json; encoding only for bin, the model run is shared), body size on the wire and
   decoded, p50/p99/max and req/s of all requests, CPU per request in the server and client
   processes, the same for revalidations (``If-None-Match`` -> 304); baseline: one
   sequential httpx client.
2. Liquidations written to the store one by one; the delay until each reaches a /ws client.
3. 50 clients alternating the heatmap (bin) and the 24 h bars, first with no writer (the
   baseline, 20 s), then while a writer stores 100 liquidations/s into the store (as a
   collector does; 60 s, ``--writer-seconds``): p50/p99 per view, the server's CPU per
   second, and its RSS at the start, middle and end of the writer phase. Run twice on fresh
   servers over the same store: ``before_*`` with the kept screen columns off, zlib at
   level 6, glibc's heap defaults and requests waiting for another's read of the data version
   (``--serve ... --before``), ``after_*`` as served.
   ``--writer-only``: phase 3 only.
4. End to end: simulated exchanges (binance + bybit, the toy source) -> the collector (in the
   API's process) -> the store -> the API's /ws. Delay from the simulated exchange writing a
   liquidation frame to its socket (wall clock, stamped in the server's sent log) to its
   arrival at a websockets client of /ws.

The last line printed is one JSON object with the figures.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
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
WRITE_RATE = 100  # liquidations per second stored while the API is under load
PARAMS = {"symbol": "BTCUSDT", "range": "30d", "interval": "1m", "width": 1500, "height": 600}
SERVER_PID: int | None = None  # the API server process, for its CPU time
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


async def _timed_get(
    c: httpx.AsyncClient, params: dict[str, Any], headers: dict[str, str]
) -> tuple[float, int, int]:
    """(seconds to the last byte, status, bytes on the wire) of one GET /api/heatmap."""
    t = time.perf_counter()
    n = 0
    async with c.stream("GET", "/api/heatmap", params=params, headers=headers) as r:
        async for chunk in r.aiter_raw():
            n += len(chunk)
        status = r.status_code
    return time.perf_counter() - t, status, n


class _RawClient:
    """A minimal HTTP/1.1 keep-alive client on asyncio streams for the load phase.

    50 clients in one Python process stand for 50 browsers with native HTTP stacks: httpx
    spends ~3 ms of CPU in this process per 0.5 MB body (parsing it in 64 KB chunks), 3-4 times
    what the server spends, so with httpx the figures measure the load generator. This client
    reads a body with one ``readexactly`` (the approach of wrk and similar tools)."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def get(self, target: str, headers: dict[str, str]) -> tuple[int, int]:
        """(status, body bytes as sent) of ``GET target``."""
        if self.reader is None or self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(
                self.host, self.port, limit=8 << 20
            )
        lines = [f"GET {target} HTTP/1.1", f"Host: {self.host}:{self.port}"]
        lines += [f"{k}: {v}" for k, v in headers.items()]
        self.writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
        head = (await self.reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
        status = int(head[0].split()[1])
        length = 0
        for line in head[1:]:
            name, _, value = line.partition(":")
            name = name.strip().lower()
            if name == "content-length":
                length = int(value)
            elif name == "transfer-encoding":
                raise RuntimeError("chunked responses are not expected here")
        if length:
            await self.reader.readexactly(length)
        return status, length

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            await self.writer.wait_closed()


async def _load(
    base: str, params: dict[str, Any], headers: dict[str, str], expect: int
) -> tuple[list[float], float]:
    """REQUESTS requests from CLIENTS concurrent keep-alive clients: latencies, wall time."""
    url = httpx.URL(base)
    target = "/api/heatmap?" + urllib.parse.urlencode(params)
    lat: list[float] = []
    queue = iter(range(REQUESTS))

    async def client() -> None:
        c = _RawClient(url.host, url.port or 80)
        try:
            for _ in queue:
                t = time.perf_counter()
                status, _n = await c.get(target, headers)
                lat.append(time.perf_counter() - t)
                if status != expect:
                    raise RuntimeError(f"status {status}, expected {expect}")
        finally:
            await c.close()

    t0 = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(CLIENTS)))
    return lat, time.perf_counter() - t0


async def _load_httpx(base: str, params: dict[str, Any], headers: dict[str, str]) -> list[float]:
    """The same load from 50 httpx clients (reading the body as sent): the comparison."""
    lat: list[float] = []
    queue = iter(range(REQUESTS))
    # made before the clock starts: an httpx client builds an SSL context (~20 ms of CPU)
    clients = [httpx.AsyncClient(base_url=base, timeout=600) for _ in range(CLIENTS)]

    async def client(c: httpx.AsyncClient) -> None:
        async with c:
            for _ in queue:
                dt, status, _n = await _timed_get(c, params, headers)
                if status != 200:
                    raise RuntimeError(f"status {status}")
                lat.append(dt)

    await asyncio.gather(*(client(c) for c in clients))
    return lat


def _cpu_s(pid: int | None = None) -> float:
    """CPU seconds (user + system) used so far by process ``pid`` (Linux), else this one."""
    if pid is None:
        return time.process_time()
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _ms(x: float) -> float:
    return round(x * 1000, 2)


async def _heatmap(base: str, fmt: str) -> dict[str, float]:
    params: dict[str, Any] = {**PARAMS, "format": fmt}
    gz = {"accept-encoding": "gzip"}
    async with httpx.AsyncClient(base_url=base, timeout=600) as c:
        t = time.perf_counter()
        r = await c.get("/api/heatmap", params=params, headers=gz)
        cold = time.perf_counter() - t
        r.raise_for_status()
        size = len(r.content)  # decoded
        etag = r.headers.get("etag")
        wire = (await _timed_get(c, params, gz))[2]
        seq = [(await _timed_get(c, params, gz))[0] for _ in range(20)]
    cpu = _cpu_s(SERVER_PID), _cpu_s()
    lat, wall = await _load(base, params, gz, 200)
    server_cpu, client_cpu = _cpu_s(SERVER_PID) - cpu[0], _cpu_s() - cpu[1]
    p = f"heatmap_{fmt}_"
    out: dict[str, float] = {
        p + "first_s": round(cold, 3),
        p + "body_bytes": size,
        p + "wire_bytes": wire,
        p + "seq_p50_ms": _ms(statistics.median(seq)),
        p + "p50_ms": _ms(_pct(lat, 0.5)),
        p + "p99_ms": _ms(_pct(lat, 0.99)),
        p + "max_ms": _ms(max(lat)),
        p + "rps": round(len(lat) / wall, 1),
        p + "requests": len(lat),
        # where the time goes: CPU per request in the server process and in the clients
        p + "server_cpu_ms": _ms(server_cpu / len(lat)),
        p + "client_cpu_ms": _ms(client_cpu / len(lat)),
    }
    if fmt == "bin":  # the UI's format, with httpx clients as the load generator
        lat = await _load_httpx(base, params, gz)
        out[p + "httpx_clients_p50_ms"] = _ms(_pct(lat, 0.5))
        out[p + "httpx_clients_p99_ms"] = _ms(_pct(lat, 0.99))
    if etag:  # revalidation of a repeated view: 304, no body
        lat, wall = await _load(base, params, {**gz, "if-none-match": etag}, 304)
        out.update(
            {
                p + "304_p50_ms": _ms(_pct(lat, 0.5)),
                p + "304_p99_ms": _ms(_pct(lat, 0.99)),
                p + "304_rps": round(len(lat) / wall, 1),
            }
        )
    return out


def _rss_mb(pid: int | None) -> float:
    """Resident memory of process ``pid`` in MB (Linux)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return round(int(line.split()[1]) / 1024, 1)
    except (OSError, ValueError):
        pass
    return float("nan")


class _Writer(threading.Thread):
    """A collector's write load: ``rate`` liquidations per second into the store, in batches
    every 100 ms (as the collector batches), stamped now."""

    def __init__(self, db: Path, rate: int) -> None:
        super().__init__(daemon=True)
        self.db, self.rate = db, rate
        self.stop = threading.Event()
        self.written = 0

    def run(self) -> None:
        per_batch = max(1, self.rate // 10)
        with SqliteStore(self.db) as store:
            while not self.stop.is_set():
                t = time.perf_counter()
                now = int(time.time() * 1000)
                rows = [
                    Liquidation("binance", "BTCUSDT", now + i, Side.LONG if i % 2 else Side.SHORT,
                                0.01, 60_000.0 + i, PriceKind.AVERAGE_FILL, 600.0 + i, True)
                    for i in range(per_batch)
                ]  # fmt: skip
                self.written += store.write_liquidations(rows)
                self.stop.wait(max(0.0, 0.1 - (time.perf_counter() - t)))


async def _mixed(base: str, seconds: float) -> dict[str, list[float]]:
    """CLIENTS keep-alive clients for ``seconds``, each alternating the UI's two heaviest
    views: the 30-day heatmap (bin, gzip) and the 24 h bars (1 h)."""
    url = httpx.URL(base)
    targets = {
        "heatmap_bin": "/api/heatmap?" + urllib.parse.urlencode({**PARAMS, "format": "bin"}),
        "bars": "/api/liquidations/bars?"
        + urllib.parse.urlencode({"symbol": "BTCUSDT", "range": "24h", "interval": "1h"}),
    }
    lat: dict[str, list[float]] = {k: [] for k in targets}
    async with httpx.AsyncClient(base_url=base, timeout=600) as warm:  # not measured
        for target in targets.values():
            (await warm.get(target)).raise_for_status()
    stop = time.perf_counter() + seconds

    async def client(k: int) -> None:
        c = _RawClient(url.host, url.port or 80)
        names = list(targets)
        try:
            i = k
            while time.perf_counter() < stop:
                name = names[i % 2]
                t = time.perf_counter()
                status, _n = await c.get(targets[name], {"accept-encoding": "gzip"})
                lat[name].append(time.perf_counter() - t)
                if status != 200:
                    raise RuntimeError(f"{name}: status {status}")
                i += 1
        finally:
            await c.close()

    await asyncio.gather(*(client(k) for k in range(CLIENTS)))
    return lat


def _under_writer(base: str, db: Path, writer_s: float, baseline_s: float) -> dict[str, Any]:
    """p50/p99 of heatmap (bin) and bars for 50 clients with no writer (the baseline, for
    ``baseline_s``) and while a writer stores WRITE_RATE liquidations/s (``writer_s``); the
    server's RSS at the start, middle and end of the writer phase (and every 5 s), its CPU
    seconds per second in each phase, and the 1-minute load average (min, max)."""
    out: dict[str, Any] = {}
    for phase, seconds in (("no_writer", baseline_s), ("writer", writer_s)):
        writer = _Writer(db, WRITE_RATE) if phase == "writer" else None
        if writer is not None:
            writer.start()
            time.sleep(1.0)  # the writer's rows are being stored when the load starts
        rss = [_rss_mb(SERVER_PID)]
        done = threading.Event()
        load = [os.getloadavg()[0]]

        def sample(done: threading.Event, rss: list[float], load: list[float]) -> None:
            while not done.wait(0.5):
                rss.append(_rss_mb(SERVER_PID))
                load.append(os.getloadavg()[0])

        sampler = threading.Thread(target=sample, args=(done, rss, load), daemon=True)
        sampler.start()
        cpu, wall = _cpu_s(SERVER_PID), time.perf_counter()
        lat = asyncio.run(_mixed(base, seconds))
        cpu, wall = _cpu_s(SERVER_PID) - cpu, time.perf_counter() - wall
        done.set()
        sampler.join()
        rss.append(_rss_mb(SERVER_PID))
        if writer is not None:
            writer.stop.set()
            writer.join(10)
            out["writer_rows_stored"] = writer.written
        for name, values in lat.items():
            out[f"{phase}_{name}_requests"] = len(values)
            out[f"{phase}_{name}_p50_ms"] = _ms(_pct(values, 0.5))
            out[f"{phase}_{name}_p99_ms"] = _ms(_pct(values, 0.99))
        out[f"{phase}_seconds"] = round(wall, 1)
        out[f"{phase}_server_cpu_per_s"] = round(cpu / wall, 3)
        out[f"{phase}_server_rss_peak_mb"] = max(rss)
        out[f"{phase}_load_avg_1m"] = [round(min(load), 2), round(max(load), 2)]
        if phase == "writer":
            out["writer_server_rss_start_mid_end_mb"] = [rss[0], rss[len(rss) // 2], rss[-1]]
            out["writer_server_rss_mb_every_5s"] = rss[::10]
    return out


def _compare_under_writer(db: Path, writer_s: float, baseline_s: float) -> dict[str, Any]:
    """Phase 3 twice, each on a fresh server over ``db``: ``before`` (``--before``, see
    ``_serve``) and ``after`` (as served)."""
    out: dict[str, Any] = {"writer_liquidations_per_s": WRITE_RATE}
    global SERVER_PID
    for label in ("before", "after"):
        proc, port = _start_server(db, before=label == "before")
        SERVER_PID = proc.pid
        try:
            w = _under_writer(f"http://127.0.0.1:{port}", db, writer_s, baseline_s)
        finally:
            proc.terminate()
            proc.wait(20)
        print(f"50 clients, writer {WRITE_RATE}/s, {label}: {w}", file=sys.stderr)
        out.update({f"{label}_{k}": v for k, v in w.items()})
    return out


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


def _uvicorn_options() -> dict[str, str]:
    """The fastest HTTP parser and event loop installed (httptools, uvloop), else the defaults."""
    import importlib.util

    opts: dict[str, str] = {}
    if importlib.util.find_spec("httptools") is not None:
        opts["http"] = "httptools"
    if importlib.util.find_spec("uvloop") is not None:
        opts["loop"] = "uvloop"
    return opts


def _serve(db: str, port: int, before: bool) -> None:
    """The server process: the API over ``db`` on 127.0.0.1:``port`` until terminated;
    ``before``: the heatmap reduces every column on every refresh, zlib at level 6, glibc's
    heap defaults, requests wait for another's read of the data version (as before the kept
    screen columns, ``api.cache.bound_heap`` and ``StoreSource.take_held``)."""
    import uvicorn

    from liqscope.api import context, encoding

    context.BOUND_HEAP = not before
    app = create_app(Settings(db_path=db))
    if before:
        app.state.context.screen.enabled = False
        app.state.context.source.take_held = False
        encoding.ZLIB_LEVEL = 6
    opts = _uvicorn_options()
    uvicorn.run(
        app,
        host="127.0.0.1",
        port=port,
        log_level="warning",
        http=opts.get("http", "auto"),
        loop=opts.get("loop", "auto"),
    )


def _start_server(db: Path, before: bool = False) -> tuple[subprocess.Popen[bytes], int]:
    port = _port()
    cmd = [sys.executable, str(Path(__file__).resolve()), "--serve", str(db), str(port)]
    proc = subprocess.Popen(cmd + (["--before"] if before else []))
    deadline = time.time() + 60
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/api/status", timeout=2).status_code == 200:
                return proc, port
        except httpx.TransportError:
            pass
        if time.time() > deadline:
            proc.terminate()
            raise RuntimeError("server did not start within 60 s")
        time.sleep(0.1)


def _option(name: str, default: str) -> str:
    """The value after ``name`` on the command line, else ``default``."""
    return sys.argv[sys.argv.index(name) + 1] if name in sys.argv else default


def main() -> None:
    if "--serve" in sys.argv:
        i = sys.argv.index("--serve")
        _serve(sys.argv[i + 1], int(sys.argv[i + 2]), "--before" in sys.argv)
        return
    quick = "--writer-only" in sys.argv  # only phase 3
    writer_s = float(_option("--writer-seconds", "60"))
    baseline_s = float(_option("--baseline-seconds", "20"))
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
        figures: dict[str, Any] = {"clients": CLIENTS, "server": "own process"}
        figures.update({f"uvicorn_{k}": v for k, v in _uvicorn_options().items()})
        if not quick:
            global SERVER_PID
            proc, port = _start_server(db)
            SERVER_PID = proc.pid
            try:
                for fmt in ("json", "bin"):
                    f = asyncio.run(_heatmap(f"http://127.0.0.1:{port}", fmt))
                    print(f"heatmap {fmt}: {f}", file=sys.stderr)
                    figures.update(f)
                figures.update(asyncio.run(_live(f"127.0.0.1:{port}", db)))
            finally:
                proc.terminate()
                proc.wait(20)
        figures.update(_compare_under_writer(db, writer_s, baseline_s))
    if "--no-e2e" not in sys.argv and not quick:
        e2e = _exchange_to_ws()
        print(f"exchange -> ws: {e2e}", file=sys.stderr)
        figures.update(e2e)
    print(json.dumps({"benchmark": "api", **figures}))


if __name__ == "__main__":
    main()
