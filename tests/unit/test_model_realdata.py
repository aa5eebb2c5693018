"""Real-data harness helpers (no real files needed): ranks, baselines, daily sums."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from liqscope.domain.errors import InputError
from liqscope.model.steps import Steps
from liqscope.signals import realdata as rd

DAY = rd.DAY_MS
D0 = 20_429  # 2025-12-07


def test_pooled_spearman_ranks_within_each_group() -> None:
    # the levels differ by 1000x between groups; ranks within each group agree exactly
    a, b = np.array([1.0, 3.0, 2.0, 5.0]), np.array([1e3, 4e3, 2e3, 9e3])
    assert rd.pooled_spearman([a, b], [a * 10, b]) == pytest.approx(1.0)
    assert rd.pooled_spearman([a, b], [-a, -b]) == pytest.approx(-1.0)
    assert rd.within_ranks(np.array([2.0, 2.0, 1.0])).tolist() == pytest.approx(
        [2.5 / 3] * 2 + [1 / 3]
    )
    assert np.isnan(rd.pooled_spearman([np.ones(4)], [a]))


def make(n: int = 48) -> Steps:
    o = np.full(n, 100.0)
    c = np.where(np.arange(n) % 2 == 0, 99.0, 101.0)
    return Steps(ts=np.arange(n, dtype=np.int64) * 3_600_000 + D0 * DAY, open=o,
                 high=np.full(n, 102.0), low=np.full(n, 97.0), close=c, volume=np.ones(n),
                 taker_buy_volume=np.full(n, np.nan), oi_base=np.full(n, 10.0))  # fmt: skip


def test_baselines_follow_their_definitions() -> None:
    s = make()
    oi = 10.0 * (102 + 97 + s.close) / 3
    hl = rd.baseline_steps(s, "oi_open_low_high_open")
    np.testing.assert_allclose(hl[:, 0], oi * 3 / s.close)
    np.testing.assert_allclose(hl[:, 1], oi * 2 / s.close)
    rs = rd.baseline_steps(s, "oi_range_by_sign")
    down = s.close < s.open
    assert (rs[down, 1] == 0).all() and (rs[~down, 0] == 0).all()
    np.testing.assert_allclose(rs.sum(axis=1), oi * 5 / s.close)
    dp = rd.baseline_steps(s, "distance_prior")
    np.testing.assert_allclose(dp[:, 0], oi * (3 / s.close / rd.PRIOR_RANGE) ** 2)
    with pytest.raises(InputError):
        rd.baseline_steps(s, "nope")


def test_daily_sums_and_coin_days(tmp_path: Path) -> None:
    ts = np.array([D0 * DAY + 5, D0 * DAY + 10, (D0 + 1) * DAY], dtype=np.int64)
    d = rd.daily_from_events(ts, np.array([1.0, 2.0, 4.0]), np.array([1, -1, 1]))
    assert d == {D0: (1.0, 2.0), D0 + 1: (4.0, 0.0)}
    s = make(24 * 5)
    cd = rd.coin_days(s, {D0 + k: (k, 1.0) for k in range(5)} | {99: (1.0, 1.0)}, "X")
    assert cd.day.tolist() == [D0 + k for k in range(5)]  # the day without steps is dropped
    with pytest.raises(InputError, match="fewer than 4 days"):
        rd.coin_days(s, {D0: (1.0, 1.0)}, "X")
    bad = tmp_path / "d.csv"
    bad.write_text("date,coin,long_usd,short_usd\n2025-13-01,BTC,1,2\n")
    with pytest.raises(InputError, match="line 2"):
        rd.read_daily_csv(bad)
    with pytest.raises(InputError, match="not found"):
        rd.load_real(tmp_path / "absent")
