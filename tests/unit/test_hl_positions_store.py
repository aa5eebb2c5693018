"""Measured positions in the store (both backends), the measured map, its score, and the
poller's pure parts (address lists, budget, priorities)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from liqscope.domain.errors import InputError
from liqscope.domain.events import OpenInterest
from liqscope.domain.intervals import DAY_MS
from liqscope.ingest.hl_positions import (
    Account,
    ClientBudget,
    read_address_file,
    repoll_interval_ms,
)
from liqscope.model.grid import PriceGrid
from liqscope.model.presets import PRESETS
from liqscope.signals.measured import (
    fit_leverage_tiers,
    measured_map,
    nearest_liquidations,
    position_row,
    score_measured,
    top_overlap,
)
from liqscope.sim.accounts import WeightBudget, info_weight, liquidation_px
from liqscope.store.base import Store
from liqscope.store.positions import (
    AccountPoll,
    PositionSnapshot,
    account_counts,
    known_accounts,
    positions_at,
    record_accounts,
    record_polls,
)
from liqscope.venues.hyperliquid.parse import parse_trade_users

A, B, C = ("0x" + c * 40 for c in "abc")
T0 = 1_700_000_000_000
V = "hyperliquid"


def snap(addr: str, ts: int, size: float, liq: float | None, mode: str = "isolated",
         lev: float = 10.0, entry: float = 100_000.0) -> PositionSnapshot:  # fmt: skip
    return PositionSnapshot(V, addr, "BTC", ts, size, entry, lev, mode, liq, 1.0, abs(size) * entry)


def test_polls_as_known_at_t(any_store: Store) -> None:
    assert record_accounts(any_store, V, [(A, "trades"), (B, "file"), (A, "trades")], T0) == 2
    assert record_accounts(any_store, V, [(A, "trades"), (C, "trades")], T0 + 5) == 1
    assert known_accounts(any_store, V) == [(A, "trades"), (B, "file"), (C, "trades")]
    polls = [
        AccountPoll(V, A, T0 + 10, (snap(A, T0 + 10, 1.0, 90_000.0),)),
        AccountPoll(V, B, T0 + 10, (snap(B, T0 + 10, -2.0, 110_000.0, "cross"),)),
        AccountPoll(V, A, T0 + 20, ()),  # A closed its position
        AccountPoll(V, B, T0 + 30, (snap(B, T0 + 30, -3.0, 108_000.0, "cross"),)),
    ]
    assert record_polls(any_store, polls) == 4
    assert record_polls(any_store, polls) == 0  # idempotent
    at15 = positions_at(any_store, V, "BTC", T0 + 15)
    assert [(p.address, p.size) for p in at15] == [(B, -2.0), (A, 1.0)]  # largest first
    assert [(p.address, p.size) for p in positions_at(any_store, V, "BTC", T0 + 25)] == [(B, -2.0)]
    assert [p.size for p in positions_at(any_store, V, "BTC", T0 + 30)] == [-3.0]
    assert positions_at(any_store, V, "BTC", T0 + 5) == []  # nothing polled yet
    assert positions_at(any_store, V, "BTC", T0 + 30, max_age_ms=5) == [
        p for p in positions_at(any_store, V, "BTC", T0 + 30) if p.ts >= T0 + 25
    ]
    c = account_counts(any_store, V, T0 + 30, recent_ms=15)
    assert (c.known, c.polled, c.polled_recently) == (3, 2, 2)
    assert account_counts(any_store, V, T0 + 30, recent_ms=5).polled_recently == 1


def test_measured_map_bins_and_coverage(any_store: Store) -> None:
    record_accounts(any_store, V, [(A, "trades"), (B, "trades"), (C, "file")], T0)
    record_polls(any_store, [
        AccountPoll(V, A, T0, (snap(A, T0, 0.5, 90_050.0, lev=20.0),)),
        AccountPoll(V, B, T0, (snap(B, T0, -1.0, 110_020.0, "cross", lev=5.0),)),
        AccountPoll(V, C, T0, (snap(C, T0, 0.25, None),)),  # no liquidation price
    ])  # fmt: skip
    any_store.write_open_interest([OpenInterest(V, "BTC", T0 - 1000, 4.0, 400_000.0)])
    grid = PriceGrid(80_000.0, 100.0, 400)
    mm = measured_map(any_store, "BTC", T0, grid)
    sides = mm.by_side()
    assert sides[0, grid.index_of(90_050.0)] == pytest.approx(50_000.0)
    assert sides[1, grid.index_of(110_020.0)] == pytest.approx(100_000.0)
    assert sides.sum() == pytest.approx(150_000.0)
    assert mm.by_side("cross")[1].sum() == pytest.approx(100_000.0)
    assert mm.by_side("isolated")[1].sum() == 0.0
    assert mm.levels[0, 3].sum() == pytest.approx(50_000.0)  # 20x: tier 3 = [20, 30)
    assert mm.outside_usd[0] == pytest.approx(25_000.0)
    cov = mm.coverage
    assert cov.share == pytest.approx((0.75 / 4.0, 0.25))
    assert (cov.accounts.known, cov.accounts.polled) == (3, 3)
    d = mm.to_dict()
    assert d["source"] == "measured" and sum(d["long_usd"]) == pytest.approx(50_000.0)


def test_score_and_overlap(any_store: Store) -> None:
    record_polls(any_store, [AccountPoll(V, A, T0, (snap(A, T0, 1.0, 95_000.0),)),
                             AccountPoll(V, B, T0, (snap(B, T0, -1.0, 105_000.0),))])  # fmt: skip
    grid = PriceGrid(90_000.0, 1000.0, 20)
    mm = measured_map(any_store, "BTC", T0, grid)
    same = score_measured(mm.by_side(), mm, 100_000.0)
    assert same["total"]["emd_pct"] == pytest.approx(0.0)
    assert same["long"]["top20_overlap"] == 1.0
    shifted = np.zeros((2, 20))
    shifted[0, grid.index_of(92_000.0)] = 1.0
    shifted[1, grid.index_of(105_000.0)] = 1.0
    sc = score_measured(shifted, mm, 100_000.0)
    assert sc["long"]["emd_pct"] == pytest.approx(3.0)  # 3000 USD of 100 000
    assert sc["short"]["emd_pct"] == pytest.approx(0.0)
    assert sc["long"]["top20_overlap"] == 0.0
    with pytest.raises(ValueError, match="not on the measured grid"):
        score_measured(np.zeros((2, 5)), mm, 100_000.0)
    assert math.isnan(top_overlap(np.zeros(4), np.zeros(4)))


def test_liquidation_formula_matches_equity_condition() -> None:
    """The venue's formula is where equity = maintenance margin (one cross position)."""
    mmr, mark, size, entry, collateral = 0.0125, 101_000.0, 2.0, 100_000.0, 15_000.0
    for side in (1, -1):
        equity = collateral + side * size * (mark - entry)
        liq = liquidation_px(mark, side, size, equity - mmr * size * mark, mmr)
        at_liq = collateral + side * size * (liq - entry)
        assert at_liq == pytest.approx(mmr * size * liq, rel=1e-12)
        assert (liq < mark) if side > 0 else (liq > mark)


def test_weight_budget_and_client_budget() -> None:
    now = [0]
    b = WeightBudget(lambda: now[0], limit=10, window_ms=1000)
    assert [b.admit("1.2.3.4", info_weight("clearinghouseState")) for _ in range(6)] == [
        True, True, True, True, True, False,
    ]  # fmt: skip
    assert b.admit("5.6.7.8", info_weight("metaAndAssetCtxs")) is False  # 20 > 10
    now[0] = 1000  # the first minute's weight has left the window
    assert b.admit("1.2.3.4", 2) and b.rejected == 2 and b.max_requested("1.2.3.4") == 12
    c = ClientBudget(limit=5, window_ms=1000)
    assert c.take(0, 2) and c.take(10, 2) and not c.take(20, 2)
    assert c.next_free_ms(20, 2) == 1000 and c.available(1000) == 3


def test_priorities_and_address_file(tmp_path: Path) -> None:
    assert repoll_interval_ms(0.01) < repoll_interval_ms(0.04) < repoll_interval_ms(None)
    near = Account(A, "trades", last_poll_ms=0, notional_usd=1e4, distance=0.01)
    far = Account(B, "trades", last_poll_ms=0, notional_usd=1e7, distance=0.5)
    assert near.score(30_000) > 1.0 > far.score(30_000)
    assert Account(C, "file").score(0) == math.inf
    f = tmp_path / "a.txt"
    f.write_text(f"# whales\n{A.upper().replace('0X', '0x')}\n\n{B}  # two\n{A}\n")
    assert read_address_file(f) == [A, B]
    f.write_text("0x123\n")
    with pytest.raises(InputError, match=r"a.txt:1: not a 0x address"):
        read_address_file(f)
    with pytest.raises(InputError, match="cannot read"):
        read_address_file(tmp_path / "missing.txt")


def test_trade_users_parse() -> None:
    frame = (
        '{"channel":"trades","data":[{"coin":"BTC","side":"B","px":"100000.0","sz":"0.5",'
        f'"time":1,"hash":"0x","tid":1,"users":["{A.upper().replace("0X", "0x")}","{B}"]}}]}}'
    )
    assert parse_trade_users(frame) == [(A, "BTC", 50_000.0), (B, "BTC", 50_000.0)]
    assert parse_trade_users('{"channel":"pong"}') == []


def test_retention_deletes_polls_with_their_snapshots(any_store: Store) -> None:
    record_accounts(any_store, V, [(A, "trades"), (B, "file")], T0)
    old, new = T0, T0 + 3 * DAY_MS
    record_polls(any_store, [
        AccountPoll(V, A, old, (snap(A, old, 1.0, 90_000.0),)),
        AccountPoll(V, B, old, (snap(B, old, -1.0, 110_000.0),)),
        AccountPoll(V, A, new, (snap(A, new, 2.0, 91_000.0),)),
    ])  # fmt: skip
    now = new + DAY_MS // 2
    # only the snapshots named: their polls go too (a poll left alone would read "no position")
    deleted = any_store.delete_older_than({"position_snapshots": 1}, now)
    assert (deleted["position_polls"], deleted["position_snapshots"]) == (2, 2)
    assert [(p.address, p.size) for p in positions_at(any_store, V, "BTC", now)] == [(A, 2.0)]
    assert positions_at(any_store, V, "BTC", old + 1) == []  # history before the cutoff: gone
    assert account_counts(any_store, V, now, DAY_MS).known == 2  # the accounts are kept
    assert known_accounts(any_store, V) == [(A, "trades"), (B, "file")]
    # one figure for every table covers the position tables too
    gone = any_store.delete_older_than(0, now)
    assert (gone["position_polls"], gone["position_snapshots"]) == (1, 1)
    assert positions_at(any_store, V, "BTC", now) == []


def test_nearest_liquidations_and_rows() -> None:
    far = snap(A, T0, 1.0, 80_000.0)  # mark 100 000 (positionValue / size): 20 % away
    near = snap(B, T0, -0.5, 102_000.0, "cross")  # 2 % away
    none = snap(C, T0, 3.0, None)
    assert nearest_liquidations([far, none, near]) == [near, far, none]
    assert nearest_liquidations([far, none, near], within=0.05) == [near]
    row = position_row(near)
    assert row["side"] == "short" and row["distance_pct"] == pytest.approx(2.0)
    assert row["notional_usd"] == pytest.approx(50_000.0) and row["margin_mode"] == "cross"
    assert position_row(none)["distance_pct"] is None


def test_leverage_fit_assigns_usd_to_the_nearest_tier() -> None:
    base = PRESETS["all"]  # tiers 5, 10, 25, 50, 100
    pos = [
        snap(A, T0, 1.0, 90_000.0, lev=3.0),  # nearer 5 than anything else: 5x
        snap(B, T0, 1.0, 90_000.0, lev=7.0),  # log-midpoint of 5 and 10 is 7.07: 5x
        snap(C, T0, 2.0, 90_000.0, lev=40.0),  # midpoint of 25 and 50 is 35.4: 50x
    ]
    fit = fit_leverage_tiers(pos, base, T0)
    assert fit.config.leverages == base.leverages and fit.config.name == "measured"
    assert fit.usd_by_tier == pytest.approx((200_000.0, 0.0, 0.0, 200_000.0, 0.0))
    assert fit.config.tier_weights == pytest.approx((0.5, 0.0, 0.0, 0.5, 0.0))
    assert fit.to_dict()["positions"] == 3
    with pytest.raises(InputError, match="no measured positions"):
        fit_leverage_tiers([], base, T0)
