"""Gap bookkeeping of the collector on a real SQLite store, with scripted REST clients:
missed cadence, "back-filled" only when rows came, bad values isolated, a failing store
retried then fatal, 418 on open-interest polls pauses the venue."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from liqscope.domain.clock import ManualClock
from liqscope.domain.errors import StoreError
from liqscope.domain.events import Event, Liquidation, MarkPrice, OpenInterest
from liqscope.domain.types import PriceKind, Side
from liqscope.ingest.config import CollectorConfig, CollectorStats
from liqscope.ingest.history import History, Polled
from liqscope.ingest.rest_worker import RestWorker
from liqscope.ingest.writer import Item, Route, Writer
from liqscope.store.base import LiquidationQuery
from liqscope.store.sqlite import SqliteStore
from liqscope.venues.base import Frame, RestClient, VenueBanned
from liqscope.venues.registry import adapter

T0 = 1_767_225_600_000  # 2026-01-01
SEC = 1000


def mark(ts: int, symbol: str = "BTCUSDT") -> MarkPrice:
    return MarkPrice("binance", symbol, ts, 100_000.0, None, None)


def make(tmp_path: Path, **cfg: Any) -> tuple[SqliteStore, ManualClock, History]:
    store = SqliteStore(tmp_path / "g.sqlite")
    clock = ManualClock(T0)
    config = CollectorConfig(**cfg)
    history = History(store, clock, config, CollectorStats(), {})
    return store, clock, history


def test_a_stream_that_misses_its_cadence_is_a_gap(tmp_path: Path) -> None:
    store, _, history = make(tmp_path, cadence_gap_s={"marks": 5.0}, backfill=False)
    for t in (0, 1, 2, 3):  # every second: fine
        history.note_live("binance", [mark(T0 + t * SEC)], T0 + t * SEC)
    assert store.gaps() == []
    history.note_live("binance", [mark(T0 + 12 * SEC)], T0 + 12 * SEC)  # 9 s silent
    (gap,) = store.gaps()
    assert (gap.stream, gap.start_ms, gap.end_ms) == ("marks", T0 + 3 * SEC, T0 + 12 * SEC)
    assert "no marks for 9 s" in gap.reason and not gap.backfilled
    # a silence already covered by a recorded (connection) gap is not recorded twice
    history.record_gap("binance", "binance", "BTCUSDT", "marks", T0 + 12 * SEC, T0 + 30 * SEC, "x")
    history.note_live("binance", [mark(T0 + 31 * SEC)], T0 + 31 * SEC)
    assert len(store.gaps()) == 2
    store.close()


class _Rest(RestClient):
    venue = "binance"
    default_base_url = "http://127.0.0.1:9"

    def __init__(self, rows: list[OpenInterest], fail: BaseException | None = None) -> None:
        super().__init__()
        self.rows, self.fail, self.calls = rows, fail, 0

    async def open_interest_history(
        self, symbol: str, period: str, start_ms: int, end_ms: int
    ) -> list[OpenInterest]:
        self.calls += 1
        return [r for r in self.rows if start_ms <= r.ts < end_ms]

    async def open_interest_now(self, symbol: str) -> OpenInterest:
        self.calls += 1
        if self.fail is not None:
            raise self.fail
        return OpenInterest("binance", symbol, T0, 10.0, None)


def _gap_backfill(tmp_path: Path, rows: list[OpenInterest]) -> bool:
    store, clock, history = make(tmp_path, backfill=False)
    clock.set(T0 + 3_600 * SEC)
    history.record_gap("binance", "binance", "BTCUSDT", "open_interest", T0, T0 + 600 * SEC, "r")
    history.workers["binance"] = RestWorker(
        "binance", adapter("binance"), history.config, history.stats
    )
    history.submit_gap_backfill(
        "binance", "binance", "BTCUSDT", "open_interest", T0, T0 + 600 * SEC
    )
    job = history.workers["binance"].jobs.get_nowait()
    asyncio.run(job(_Rest(rows)))
    (gap,) = store.gaps()
    store.close()
    return gap.backfilled


def test_gap_is_back_filled_only_when_rows_came(tmp_path: Path) -> None:
    assert _gap_backfill(tmp_path / "a", [OpenInterest("binance", "BTCUSDT", T0, 1.0, None)])
    assert not _gap_backfill(tmp_path / "b", [])  # an empty answer leaves the gap open


def test_418_on_an_open_interest_poll_pauses_the_venue(tmp_path: Path) -> None:
    """Caught per symbol before, so the ban never reached the worker."""
    store, _, history = make(tmp_path, ban_pause_s=60.0, rest_min_interval_s=0.0)
    worker = RestWorker("binance", adapter("binance"), history.config, history.stats)
    history.workers["binance"] = worker
    streams = [Polled("binance", "binance", s, "open_interest") for s in ("BTCUSDT", "ETHUSDT")]
    client = _Rest([], fail=VenueBanned("binance: HTTP 418", retry_after_s=120.0))

    async def main() -> tuple[bool, float]:
        loop = asyncio.get_running_loop()

        async def job(c: RestClient) -> None:
            await history._poll_oi_once(client, streams)

        worker.submit(job)
        task = asyncio.create_task(worker.run())
        await asyncio.wait_for(worker.jobs.join(), 5)
        left = worker.paused_until - loop.time()
        banned = worker.banned()
        task.cancel()
        return banned, left

    banned, left = asyncio.run(main())
    assert banned and left > 100  # the venue's Retry-After (120 s) beats ban_pause_s (60 s)
    assert client.calls == 1  # the second symbol was not asked while banned
    assert history.stats.rest_bans == 1
    assert all(p.failing for p in streams)  # both polls will record the span as a gap
    store.close()


# -- the writer ------------------------------------------------------------------------------


class _Adapter:
    """Parses ``ok:<ts>`` frames into a liquidation, anything else raises."""

    venue = "binance"

    def parse(self, frame: Frame) -> list[Event]:
        text = frame if isinstance(frame, str) else frame.decode()
        kind, _, ts = text.partition(":")
        price = {"ok": 100.0, "inf": float("inf")}[kind]
        return [
            Liquidation(
                "binance",
                "BTCUSDT",
                int(ts),
                Side.LONG,
                0.1,
                price,
                PriceKind.AVERAGE_FILL,
                0.1 * price,
                True,
            )
        ]


def _writer(store: Any, **cfg: Any) -> Writer:
    config = CollectorConfig(batch_max_ms=50, **cfg)
    stats = CollectorStats()
    return Writer(History(store, ManualClock(T0), config, stats, {}))


def _items(frames: list[str]) -> list[Item]:
    route = Route("binance", "binance", _Adapter(), (("BTCUSDT", "liquidations"),))  # type: ignore[arg-type]  # duck-typed adapter
    return [Item(route, "c1", i, T0 + i, f) for i, f in enumerate(frames)]


async def _feed(writer: Writer, items: list[Item]) -> None:
    task = asyncio.create_task(writer.run())
    for it in items:
        await writer.enqueue(it)
    await writer.queue.put(None)
    await task


def test_one_bad_event_in_a_batch_costs_nothing_else(tmp_path: Path) -> None:
    """The store refuses the batch holding the infinite price; the 9 good frames with it and
    every frame after it are stored (before, the whole batch and the writer were lost)."""
    store = SqliteStore(tmp_path / "w.sqlite")
    writer = _writer(store)
    frames = [f"ok:{T0 + i}" for i in range(9)] + [f"inf:{T0 + 9}"]
    frames += [f"ok:{T0 + 100 + i}" for i in range(5)]
    asyncio.run(_feed(writer, _items(frames)))
    stored = store.liquidations(LiquidationQuery(["binance"]))
    assert len(stored) == 14 and all(r.price == 100.0 for r in stored)
    assert writer.stats.bad_values == 1
    assert store.counts()["frames"] == 15  # the refused frame is journaled too
    store.close()


class _FailingStore:
    """A store whose writes fail ``failures`` times (disk full), then pass through."""

    def __init__(self, inner: SqliteStore, failures: int) -> None:
        self.inner, self.failures = inner, failures

    def append_frames(self, frames: Any) -> int:
        if self.failures > 0:
            self.failures -= 1
            raise StoreError("store f.sqlite: write failed: database or disk is full")
        return self.inner.append_frames(frames)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def test_a_failing_store_is_retried_until_it_recovers(tmp_path: Path) -> None:
    inner = SqliteStore(tmp_path / "f.sqlite")
    writer = _writer(_FailingStore(inner, 3), store_retry_base_s=0.01, store_retry_cap_s=0.02)
    seen: list[str | None] = []

    async def main() -> None:
        async def watch() -> None:
            while True:
                seen.append(writer.stats.store_failing)
                await asyncio.sleep(0.005)

        w = asyncio.create_task(watch())
        await _feed(writer, _items([f"ok:{T0 + i}" for i in range(5)]))
        w.cancel()

    asyncio.run(main())
    assert len(inner.liquidations(LiquidationQuery(["binance"]))) == 5
    assert writer.stats.store_errors >= 1  # the batch was retried
    assert "disk is full" in " ".join(s for s in seen if s)  # shown while failing
    assert writer.stats.store_failing is None  # and cleared once it recovered
    assert "store failing" not in writer.stats.summary()
    inner.close()


def test_a_store_that_does_not_recover_ends_the_writer(tmp_path: Path) -> None:
    inner = SqliteStore(tmp_path / "d.sqlite")
    writer = _writer(
        _FailingStore(inner, 10**9),
        store_retry_base_s=0.01,
        store_retry_cap_s=0.05,
        store_timeout_s=0.3,
    )
    with pytest.raises(StoreError, match=r"failing for \d+ s .*disk is full"):
        asyncio.run(asyncio.wait_for(_feed(writer, _items([f"ok:{T0}"])), 5))
    assert "store failing" in writer.stats.summary(T0 + 1000)
    inner.close()
