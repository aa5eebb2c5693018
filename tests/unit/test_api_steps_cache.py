"""The incremental steps reader (``store.readers.StepsCache``): after a writer's new rows
(new candles, a rewritten open candle, new OI, liquidations for new and for old steps) it
returns exactly what a fresh read of the store returns, reading only the tail."""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path

import numpy as np
import pytest

from liqscope.domain.events import Candle, Liquidation, OpenInterest
from liqscope.domain.types import PriceKind, Side
from liqscope.sim.synthetic import fill_store
from liqscope.store.base import Steps
from liqscope.store.readers import StepsCache, read_steps
from liqscope.store.sqlite import SqliteStore

MIN = 60_000
START = 1_767_225_600_000  # 2026-01-01
DAYS = 2
FIELDS = tuple(f.name for f in fields(Steps) if f.name not in ("interval_ms", "sampled"))


def same(a: Steps, b: Steps) -> None:
    assert a.interval_ms == b.interval_ms
    for f in FIELDS:
        np.testing.assert_array_equal(getattr(a, f), getattr(b, f), err_msg=f)


def liq(ts: int, side: Side, usd: float) -> Liquidation:
    return Liquidation(
        "binance", "BTCUSDT", ts, side, usd / 60_000, 60_000.0, PriceKind.AVERAGE_FILL, usd, False
    )


@pytest.fixture()
def db(tmp_path: Path) -> Path:
    path = tmp_path / "s.sqlite"
    with SqliteStore(path) as st:
        fill_store(st, START, DAYS * 1440, markets=(("binance", "BTCUSDT"),))
    return path


@pytest.mark.parametrize("step", [MIN, 5 * MIN])
def test_tail_read_equals_fresh_read_after_new_rows(db: Path, step: int) -> None:
    end = START + DAYS * 1440 * MIN
    cache = StepsCache()
    with SqliteStore(db) as writer, SqliteStore(db, readonly=True) as reader:
        same(
            cache.steps(reader, "binance", "BTCUSDT", START, end, step),
            reader.steps("binance", "BTCUSDT", START, end, step),
        )
        assert (cache.full_reads, cache.tail_reads) == (1, 0)
        last = writer.candles("binance", "BTCUSDT", MIN, end - MIN, end)[0]
        for k in range(3):  # the open candle rewritten, then 20 new minutes each round
            t = end + 20 * MIN * k
            writer.write_candles(
                [
                    Candle(
                        "binance",
                        "BTCUSDT",
                        t - MIN,
                        MIN,
                        last.open,
                        last.high * 1.01,
                        last.low,
                        last.close * 1.001,
                        last.volume + 1,
                        None,
                        True,
                    )
                ]
                + [
                    Candle(
                        "binance",
                        "BTCUSDT",
                        t + i * MIN,
                        MIN,
                        60_000.0 + i,
                        60_010.0 + i,
                        59_990.0,
                        60_005.0,
                        3.0,
                        1.5,
                        i < 19,
                    )
                    for i in range(20)
                ]
            )
            writer.write_open_interest(
                [
                    OpenInterest("binance", "BTCUSDT", t + i * MIN + 30_000, 1000.0 + i, None)
                    for i in range(0, 20, 3)
                ]
                + [OpenInterest("binance", "BTCUSDT", t + 20 * MIN + 1000, 999.0, None)]
            )
            writer.write_liquidations(
                [
                    liq(t + 5 * MIN + 1, Side.LONG, 12_345.0),  # a new step
                    liq(START + 3 * 3600_000 + 7, Side.SHORT, 777.0),  # stored late: an old step
                    liq(t - 2 * MIN + 3, Side.SHORT, 55.5),
                ]
            )
            t0 = START + (k + 1) * 7 * MIN  # the window moves on too
            t1 = t + 20 * MIN
            got = cache.steps(reader, "binance", "BTCUSDT", t0, t1, step)
            same(got, reader.steps("binance", "BTCUSDT", t0, t1, step))
        assert cache.tail_reads == 3 and cache.full_reads == 1
        model = read_steps(reader, "binance", "BTCUSDT", START, t1, step, cache)
        fresh = read_steps(reader, "binance", "BTCUSDT", START, t1, step)
        assert model is not None and fresh is not None
        np.testing.assert_array_equal(model.liq_short_usd, fresh.liq_short_usd)
        assert cache.full_reads == 2  # START is before the held steps: read in full


def test_full_read_when_a_window_starts_before_the_held_steps(db: Path) -> None:
    end = START + DAYS * 1440 * MIN
    cache = StepsCache()
    with SqliteStore(db, readonly=True) as reader:
        cache.steps(reader, "binance", "BTCUSDT", START + 3600_000, end, MIN)
        same(
            cache.steps(reader, "binance", "BTCUSDT", START, end, MIN),
            reader.steps("binance", "BTCUSDT", START, end, MIN),
        )
        assert cache.full_reads == 2
