"""Issue 11: the demo's pre-fill is what a collector would have recorded from the simulated
venues, through the venues' own parsers: the liquidations, and Hyperliquid's open interest
(the real venue has no OI history), one asset context per coin a minute up to the live start."""

from __future__ import annotations

from pathlib import Path

import pytest

from liqscope.demo import PREFILL_SAMPLE_MS, DemoPlan, HeldWall, demo_markets, prefill
from liqscope.domain.intervals import MINUTE_MS
from liqscope.sim.exchange import ReplayClock, SimExchanges
from liqscope.sim.exchange.hyperliquid import HyperliquidServer, asset_info
from liqscope.store import open_store

LIVE_MS = 1_796_000_040_000  # a whole minute, as the demo's anchor


@pytest.fixture(scope="module")
def sim() -> SimExchanges:
    plan = DemoPlan("cascade", 1, 10.0, 0.02, Path("unused.sqlite"))
    markets = demo_markets(plan, LIVE_MS)
    sources: dict[str, list[object]] = {}
    for (venue, _), market in markets.items():
        sources.setdefault(venue, []).append(market.advance)
    clock = ReplayClock(LIVE_MS, 10.0, wall=HeldWall())  # held: nothing live
    return SimExchanges(sources, start_ms=LIVE_MS, clock=clock, venues=list(sources))  # type: ignore[arg-type]


def test_the_prefill_records_hyperliquid_open_interest_up_to_the_live_start(
    sim: SimExchanges, tmp_path: Path
) -> None:
    t0 = LIVE_MS - int(0.02 * 86_400_000) // 1000 * 1000
    with open_store(tmp_path / "demo.sqlite") as store:
        got = prefill(sim, store, t0, LIVE_MS)
        hl = sim["hyperliquid"]
        assert isinstance(hl, HyperliquidServer)
        for coin, history in hl.by_coin.items():
            rows = store.open_interest("hyperliquid", coin, t0, LIVE_MS + 1)
            ts = [r.ts for r in rows]
            # one sample a minute from the window's start to the last whole second before live
            assert ts == sorted(set(ts)) and len(ts) >= (LIVE_MS - t0) // MINUTE_MS - 1, coin
            assert ts[0] - t0 <= PREFILL_SAMPLE_MS and LIVE_MS - ts[-1] <= PREFILL_SAMPLE_MS
            assert {t % PREFILL_SAMPLE_MS for t in ts} == {0}  # on whole minutes
            # the venue's own value at each sample (sent in coin on its size grid)
            for r in rows:
                j = history.sec_index(r.ts)
                assert int(history.col("sec_ts")[j]) == r.ts
                lot = 10.0 ** -asset_info(coin)[0]
                assert r.oi_base == pytest.approx(float(history.col("oi_base")[j]), abs=lot)
        assert got.marks == got.open_interest  # the same contexts give the marks
        assert got.open_interest == sum(
            len(store.open_interest("hyperliquid", c, t0, LIVE_MS + 1)) for c in hl.by_coin
        )
        # the venues with an OI history over REST get theirs from the collector's back-fill
        for venue in ("binance", "bybit", "okx"):
            assert sim[venue].state_topics() == []
            for symbol in sim[venue].histories:
                assert store.open_interest(venue, symbol, t0, LIVE_MS + 1) == []
        # the liquidations: what each venue with a feed sent in the window, parsed
        assert got.liquidations > 0
        assert store.counts()["liquidations"] == got.liquidations
