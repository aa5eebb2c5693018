"""Connection supervision against a tiny WebSocket server on 127.0.0.1.

The server numbers every data frame from one global counter and sends it to every open
connection, so a client that never misses anything sees a contiguous run of numbers.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from dataclasses import dataclass, field

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed

from liqscope.ingest.backoff import Backoff
from liqscope.ingest.supervisor import AppPing, ConnectionPlan, Supervisor

Run = Callable[[], Awaitable[None]]


@dataclass
class TinyServer:
    """Broadcasts numbered frames; per-connection behaviour is scripted by the test."""

    period_s: float = 0.01
    conns: list[ServerConnection] = field(default_factory=list)
    received: list[list[str]] = field(default_factory=list)  # per connection, in order
    silent: set[int] = field(default_factory=set)  # connection indexes that get no data
    seq: int = 0
    server: Server | None = None

    @property
    def url(self) -> str:
        assert self.server is not None
        port = next(iter(self.server.sockets)).getsockname()[1]
        return f"ws://127.0.0.1:{port}"

    async def handler(self, ws: ServerConnection) -> None:
        index = len(self.conns)
        self.conns.append(ws)
        self.received.append([])
        with contextlib.suppress(ConnectionClosed):
            async for message in ws:
                self.received[index].append(str(message))
                if message == "ping":
                    await ws.send("pong")

    async def pump(self) -> None:
        while True:
            await asyncio.sleep(self.period_s)
            self.seq += 1
            for i, ws in enumerate(list(self.conns)):
                if i not in self.silent and self.received[i]:  # subscribed ones only
                    with contextlib.suppress(ConnectionClosed):
                        await ws.send(str(self.seq))


@contextlib.asynccontextmanager
async def tiny_server(period_s: float = 0.01) -> AsyncIterator[TinyServer]:
    srv = TinyServer(period_s=period_s)
    async with serve(srv.handler, "127.0.0.1", 0, ping_interval=None) as server:
        srv.server = server
        pump = asyncio.create_task(srv.pump())
        try:
            yield srv
        finally:
            pump.cancel()


@dataclass
class Recorder:
    frames: list[tuple[str, str]] = field(default_factory=list)
    ups: list[str] = field(default_factory=list)
    gaps: list[tuple[int, int, str]] = field(default_factory=list)

    async def on_frame(self, conn_id: str, received_ms: int, frame: str | bytes) -> None:
        self.frames.append((conn_id, str(frame)))

    def on_up(self, plan: ConnectionPlan, conn_id: str, at_ms: int) -> None:
        self.ups.append(conn_id)

    def on_gap(self, plan: ConnectionPlan, start_ms: int, end_ms: int, reason: str) -> None:
        self.gaps.append((start_ms, end_ms, reason))

    def numbers(self) -> list[int]:
        return [int(f) for _, f in self.frames if f.isdigit()]


def fast_backoff() -> Backoff:
    return Backoff(base_s=0.02, cap_s=0.1, healthy_after_s=0.5, rng=random.Random(0))


def plan(url: str, **kw: object) -> ConnectionPlan:
    base: dict[str, object] = {
        "name": "t/0",
        "url": url,
        "subscribe": ("sub-a", "sub-b"),
        "stall_timeout_s": 2.0,
        "subscribe_interval_s": 0.0,
        "open_timeout_s": 2.0,
    }
    base.update(kw)
    return ConnectionPlan(**base)  # type: ignore[arg-type]  # test helper with loose kwargs


async def until(cond: Callable[[], bool], timeout: float = 5.0) -> None:
    async with asyncio.timeout(timeout):
        while not cond():
            await asyncio.sleep(0.01)


def run(coro: Coroutine[object, object, None]) -> None:
    asyncio.run(asyncio.wait_for(coro, timeout=20))


def test_reconnects_and_resubscribes_after_server_close() -> None:
    async def main() -> None:
        async with tiny_server() as srv:
            rec = Recorder()
            sup = Supervisor(plan(srv.url), rec, backoff=fast_backoff(), run_id="r")
            stop = asyncio.Event()
            task = asyncio.create_task(sup.run(stop))
            await until(lambda: len(rec.frames) >= 5)
            await srv.conns[0].close(code=1001, reason="going away")
            await until(lambda: len(srv.conns) >= 2 and len(rec.frames) >= 15)
            stop.set()
            await task
            assert srv.received[0][:2] == ["sub-a", "sub-b"]
            assert srv.received[1][:2] == ["sub-a", "sub-b"]
            assert len(rec.ups) == 2 and rec.ups[0] != rec.ups[1]
            assert len(rec.gaps) == 1
            start, end, reason = rec.gaps[0]
            assert start <= end and "1001" in reason
            assert sup.stats.disconnects == 1 and sup.stats.stalls == 0

    run(main())


def test_stall_is_detected_and_reported_as_gap() -> None:
    async def main() -> None:
        async with tiny_server() as srv:
            srv.silent.add(0)  # the first connection is accepted but never fed
            rec = Recorder()
            sup = Supervisor(
                plan(srv.url, stall_timeout_s=0.3), rec, backoff=fast_backoff(), run_id="r"
            )
            stop = asyncio.Event()
            task = asyncio.create_task(sup.run(stop))
            await until(lambda: len(rec.frames) >= 5)
            stop.set()
            await task
            assert sup.stats.stalls == 1
            assert len(srv.conns) == 2
            assert len(rec.gaps) == 1 and rec.gaps[0][2].startswith("stall")

    run(main())


def test_app_pings_are_sent_and_stall_timer_sees_pongs() -> None:
    async def main() -> None:
        async with tiny_server() as srv:
            srv.silent.add(0)  # no data, only pongs keep it alive
            rec = Recorder()
            p = plan(
                srv.url,
                stall_timeout_s=0.5,
                app_ping=AppPing(payload="ping", interval_s=0.1, only_when_idle=True),
            )
            sup = Supervisor(p, rec, backoff=fast_backoff(), run_id="r")
            stop = asyncio.Event()
            task = asyncio.create_task(sup.run(stop))
            await asyncio.sleep(1.2)
            stop.set()
            await task
            assert srv.received[0].count("ping") >= 5
            assert sup.stats.stalls == 0 and len(srv.conns) == 1

    run(main())


def test_rollover_makes_before_it_breaks() -> None:
    async def main() -> None:
        async with tiny_server(period_s=0.005) as srv:
            rec = Recorder()
            p = plan(srv.url, max_lifetime_s=0.8, rollover_margin_s=0.3, overlap_s=0.15)
            sup = Supervisor(p, rec, backoff=fast_backoff(), run_id="r")
            stop = asyncio.Event()
            task = asyncio.create_task(sup.run(stop))
            await until(lambda: sup.stats.rollovers >= 3, timeout=10)
            await asyncio.sleep(0.2)
            stop.set()
            await task
            seen = sorted(set(rec.numbers()))
            assert seen == list(range(seen[0], seen[-1] + 1)), "a number was missed"
            assert len(rec.numbers()) > len(seen)  # the overlaps produced duplicates
            assert rec.gaps == []
            assert sup.stats.disconnects == 0
            # every old connection was closed after its overlap
            assert sum(1 for ws in srv.conns if ws.state.name == "OPEN") <= 1

    run(main())


def test_unreachable_venue_keeps_retrying_and_stops_promptly() -> None:
    async def main() -> None:
        async with tiny_server() as srv:
            url = srv.url
        # the server is gone: the port refuses connections
        rec = Recorder()
        sup = Supervisor(plan(url), rec, backoff=fast_backoff(), run_id="r")
        stop = asyncio.Event()
        task = asyncio.create_task(sup.run(stop))
        await until(lambda: sup.stats.failed_connects >= 3)
        assert sup.last_error
        stop.set()
        async with asyncio.timeout(1.0):
            await task
        assert rec.ups == []

    run(main())


def test_stop_while_idle_is_prompt() -> None:
    async def main() -> None:
        async with tiny_server() as srv:
            srv.silent.add(0)
            rec = Recorder()
            sup = Supervisor(plan(srv.url, stall_timeout_s=60), rec, run_id="r")
            stop = asyncio.Event()
            task = asyncio.create_task(sup.run(stop))
            await until(lambda: len(rec.ups) == 1)
            stop.set()
            async with asyncio.timeout(2.0):
                await task

    run(main())
