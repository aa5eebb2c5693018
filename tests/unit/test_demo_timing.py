"""Issue 13: the demo's story happens live: the cascade's flush a few minutes after live
collection starts, whatever ``--days``, on BTC, ETH and SOL across the four venues.
Issue 11: the demo's clock is anchored to wall time, the market deterministic relative to it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from liqscope.cli.options import demo_now_ms
from liqscope.demo import DEMO_COINS, DemoPlan, HeldWall, demo_markets
from liqscope.domain.clock import ManualClock
from liqscope.domain.errors import InputError
from liqscope.domain.intervals import DAY_MS, MINUTE_MS
from liqscope.domain.registry import market_of
from liqscope.sim.exchange import ReplayClock
from liqscope.sim.market import Regime
from liqscope.sim.scenarios import EVENTS, regimes_with_event_at, scenario

FLUSH_DRIFT = scenario("cascade").regimes[1].drift_per_hour  # the -8 %/h driver drop


def flush_start_s(regimes: tuple[Regime, ...]) -> int:
    starts = [r.start_s for r in regimes if r.drift_per_hour == FLUSH_DRIFT]
    assert len(starts) == 1, regimes
    return int(starts[0])


@pytest.mark.parametrize("days", [0.1, 0.3, 2.0, 7.0])
def test_the_flush_starts_minutes_after_the_history(days: float) -> None:
    history_s = int(days * DAY_MS) // 1000
    regimes = regimes_with_event_at("cascade", history_s + 300)
    assert flush_start_s(regimes) == history_s + 300
    assert regimes[0].start_s == 0
    assert [r.start_s for r in regimes] == sorted({r.start_s for r in regimes})
    # the event keeps its length and what follows it
    start, end = EVENTS["cascade"]
    assert regimes[-2].start_s - flush_start_s(regimes) == end - start
    if history_s + 300 > start:  # room for the whole lead-up: calm before the rally
        assert regimes[0].drift_per_hour == 0 and regimes[1].start_s == history_s + 300 - start


def test_scenarios_without_an_event_are_unchanged() -> None:
    assert regimes_with_event_at("calm", 10_000) == scenario("calm").regimes
    with pytest.raises(ValueError):
        regimes_with_event_at("nope", 0)


def test_demo_markets_run_three_coins_on_four_venues_with_the_flush_live() -> None:
    plan = DemoPlan("cascade", 1, 10.0, 2.0, Path("unused.sqlite"), flush_in_min=5)
    live_ms = 1_796_000_040_000
    markets = demo_markets(plan, live_ms)
    by_coin: dict[str, set[str]] = {}
    for (venue, native), m in markets.items():
        by_coin.setdefault(market_of(venue, native), set()).add(venue)
        live_s = 2 * DAY_MS // 1000
        assert flush_start_s(m.config.regimes) == live_s + 5 * 60, (venue, native)
        assert m.config.start_ms == m.now_ms == live_ms - 2 * DAY_MS, (venue, native)
    assert by_coin["BTCUSDT"] == by_coin["ETHUSDT"] == {"binance", "bybit", "okx", "hyperliquid"}
    assert by_coin["SOLUSDT"] == {"binance", "bybit", "hyperliquid"}  # no OKX SOL table
    prices = {
        market_of(v, n): m.config.initial_price for (v, n), m in markets.items() if v == "binance"
    }
    assert prices == {f"{c}USDT": p for c, (p, _) in DEMO_COINS.items()}
    # each coin has its own path: BTC keeps the seed, the others differ from it and each other
    seeds = {
        market_of(v, n): m.config.driver_seed for (v, n), m in markets.items() if v == "binance"
    }
    assert seeds["BTCUSDT"] == 1 and len(set(seeds.values())) == 3


def test_simulated_time_waits_for_live_collection() -> None:
    wall = ManualClock(1_000_000)
    held = HeldWall(wall)
    clock = ReplayClock(5 * DAY_MS, 60.0, wall=held)
    wall.advance(30_000)  # 30 s of building history: simulated time stands still
    assert clock.now_ms() == 5 * DAY_MS
    held.release()
    wall.advance(1_000)
    assert clock.now_ms() == 5 * DAY_MS + MINUTE_MS  # then it runs at speed from the start
    held.release()  # a second release changes nothing
    wall.advance(1_000)
    assert clock.now_ms() == 5 * DAY_MS + 2 * MINUTE_MS


def test_the_market_is_the_same_relative_to_the_live_start() -> None:
    """Same seed, another anchor: every series is the same, shifted by the anchors' distance."""
    plan = DemoPlan("cascade", 1, 10.0, 0.01, Path("unused.sqlite"), flush_in_min=5)
    chunks = []
    for live in (1_796_000_040_000, 1_796_000_040_000 + 37 * MINUTE_MS + 13_000):
        market = demo_markets(plan, live)[("hyperliquid", "BTC")]
        chunks.append((market.advance(live + 10 * MINUTE_MS), live))
    (a, live_a), (b, live_b) = chunks
    assert a.trade_ts.size > 0
    np.testing.assert_array_equal(a.trade_ts - live_a, b.trade_ts - live_b)
    np.testing.assert_array_equal(a.sec_ts - live_a, b.sec_ts - live_b)
    for column in ("trade_px", "trade_qty", "mark_px", "oi_base", "funding_rate", "liq_qty"):
        got, want = getattr(a, column), getattr(b, column)
        np.testing.assert_allclose(got, want, rtol=1e-12, err_msg=column)  # float rounding


def test_status_reads_a_running_demo_on_its_simulated_clock() -> None:
    """The pointer's clock: the live start at the wall time of the release, then ``speed``."""
    wall = ManualClock(1_000_000)
    held = HeldWall(wall)
    assert held.released_ms is None
    wall.advance(30_000)  # building history
    held.release()
    assert held.released_ms == 1_030_000
    record = {"live_start_ms": 5 * DAY_MS, "live_wall_ms": held.released_ms, "speed": 10.0}
    clock = ReplayClock(5 * DAY_MS, 10.0, wall=held)
    wall.advance(12_345)
    assert demo_now_ms(record, wall.now_ms()) == clock.now_ms() == 5 * DAY_MS + 123_450
    assert demo_now_ms({"live_start_ms": 1}, wall.now_ms()) is None  # an older pointer


def test_the_plan_refuses_a_negative_lead() -> None:
    with pytest.raises(InputError, match="--flush-in"):
        DemoPlan("cascade", 1, 10.0, 2.0, Path("x.sqlite"), flush_in_min=-1)
