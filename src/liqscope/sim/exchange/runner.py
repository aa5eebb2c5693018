"""Run the simulated venues on 127.0.0.1: one uvicorn server per venue, one shared replay clock.

``SimExchanges`` runs in a background thread (``start``/``stop`` or ``with``) or inside an
existing event loop (``await serve()``). Port 0 picks free ports; ``urls`` reports them.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from types import TracebackType

import uvicorn

from liqscope.sim.exchange.binance import BinanceServer
from liqscope.sim.exchange.bybit import BybitServer
from liqscope.sim.exchange.history import ChunkSource, MarketHistory, ReplayClock
from liqscope.sim.exchange.hyperliquid import HyperliquidServer
from liqscope.sim.exchange.okx import OkxServer
from liqscope.sim.exchange.server import ServerOptions, VenueServer

VENUES: dict[str, type[VenueServer]] = {
    "binance": BinanceServer,
    "bybit": BybitServer,
    "okx": OkxServer,
    "hyperliquid": HyperliquidServer,
}
_WS_PATHS = {
    "binance": "",
    "bybit": "/v5/public/linear",
    "okx": "/ws/v5/public",
    "hyperliquid": "/ws",
}

SourceSpec = ChunkSource | Sequence[ChunkSource]
Sources = Mapping[str, SourceSpec] | Callable[[str], SourceSpec]


@dataclass(frozen=True)
class VenueUrls:
    rest: str  # base URL for REST, e.g. http://127.0.0.1:PORT
    ws: str  # WS endpoint (Binance: base; append /ws/<stream> or /stream?streams=…)


class SimExchanges:
    """The simulated venues, each a real server on its own port.

    ``sources``: per venue a chunk source (or a list of them, one per symbol), as a mapping
    ``{"binance": src, …}`` or a factory ``venue -> source`` (called once per venue; every venue
    needs its own stateful source). ``start_ms``: simulated time when serving starts; everything
    the sources produce before it is history.
    """

    def __init__(
        self,
        sources: Sources,
        *,
        start_ms: int,
        speed: float = 1.0,
        manual: bool = False,
        venues: Sequence[str] = ("binance", "bybit", "okx"),
        host: str = "127.0.0.1",
        port_base: int = 0,
        options: ServerOptions | None = None,
        clock: ReplayClock | None = None,
        control: bool = False,
    ) -> None:
        unknown = [v for v in venues if v not in VENUES]
        if unknown:
            raise ValueError(f"unknown venue(s) {unknown} (expected some of {sorted(VENUES)})")
        self.clock = clock or ReplayClock(start_ms, speed, manual=manual)
        self.options = options or ServerOptions(host=host)
        if control:  # the /_sim/* routes, for loopback clients only
            self.options = replace(self.options, control=True)
        self.host = host
        self.servers: dict[str, VenueServer] = {}
        for venue in venues:
            spec = sources(venue) if callable(sources) else sources[venue]
            specs = list(spec) if isinstance(spec, Sequence) else [spec]
            histories = [MarketHistory(s) for s in specs]
            self.servers[venue] = VENUES[venue](histories, self.clock, self.options)
        self._sockets: dict[str, socket.socket] = {}
        for i, venue in enumerate(venues):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((host, port_base + i if port_base else 0))
            sock.set_inheritable(True)
            self._sockets[venue] = sock
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None

    # -- addresses ----------------------------------------------------------------------------
    def port(self, venue: str) -> int:
        return int(self._sockets[venue].getsockname()[1])

    def urls(self) -> dict[str, VenueUrls]:
        out = {}
        for venue in self.servers:
            base = f"{self.host}:{self.port(venue)}"
            out[venue] = VenueUrls(f"http://{base}", f"ws://{base}{_WS_PATHS[venue]}")
        return out

    def __getitem__(self, venue: str) -> VenueServer:
        return self.servers[venue]

    # -- time ---------------------------------------------------------------------------------
    def advance(self, ms: int, *, flush: bool = True) -> None:
        """Move simulated time; with ``flush`` the servers push the window before returning."""
        self.clock.advance(ms)
        if flush:
            for server in self.servers.values():
                server.call(server.tick)

    # -- running ------------------------------------------------------------------------------
    async def serve(self) -> None:
        """Serve until cancelled or ``stop()`` (in the current event loop)."""
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        uvs: list[uvicorn.Server] = []
        tasks: list[asyncio.Task[None]] = []
        pumps: list[asyncio.Task[None]] = []
        for venue, server in self.servers.items():
            server._loop = self._loop
            config = uvicorn.Config(
                server,
                lifespan="off",
                log_level="warning",
                ws="websockets-sansio",
                ws_ping_interval=self.options.ping_interval_s,
                ws_ping_timeout=self.options.ping_timeout_s,
                timeout_graceful_shutdown=1,
            )
            uv = uvicorn.Server(config)
            uvs.append(uv)
            tasks.append(asyncio.create_task(uv.serve(sockets=[self._sockets[venue]])))
            pumps.append(asyncio.create_task(server.pump()))
        try:
            while not all(uv.started for uv in uvs):
                if any(t.done() for t in tasks):
                    break
                await asyncio.sleep(0.01)
            self._ready.set()
            stop = asyncio.create_task(self._stop.wait())
            await asyncio.wait([stop, *tasks, *pumps], return_when=asyncio.FIRST_COMPLETED)
            stop.cancel()
            for t in [*tasks, *pumps]:
                if t.done() and (exc := t.exception()) is not None:
                    raise exc
        finally:
            for uv in uvs:
                uv.should_exit = True
            for t in pumps:
                t.cancel()
            await asyncio.gather(*tasks, *pumps, return_exceptions=True)
            self._ready.set()

    def start(self, timeout: float = 10.0) -> SimExchanges:
        """Serve in a background thread; returns once every server accepts connections."""

        def run() -> None:
            try:
                asyncio.run(self.serve())
            except BaseException as exc:  # reported to the starting thread
                self._error = exc
                self._ready.set()

        self._thread = threading.Thread(target=run, name="sim-exchanges", daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout):
            raise TimeoutError("simulated exchanges did not start")
        if self._error is not None:
            raise RuntimeError(f"simulated exchanges failed: {self._error}") from self._error
        return self

    def stop(self, timeout: float = 10.0) -> None:
        loop, stop = self._loop, self._stop
        if loop is not None and stop is not None and loop.is_running():
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(stop.set)
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        for sock in self._sockets.values():
            sock.close()

    def __enter__(self) -> SimExchanges:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def wait_closed(self, timeout: float = 5.0) -> bool:
        """True once no WS connection is open on any server (tests)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not any(s.conns for s in self.servers.values()):
                return True
            time.sleep(0.01)
        return False
