"""Position check verdicts on hand-built maps."""

from __future__ import annotations

import numpy as np
import pytest

from liqscope.domain.errors import InputError
from liqscope.domain.liqprice import liquidation_price
from liqscope.domain.registry import default_tiers, instrument
from liqscope.domain.types import Side
from liqscope.signals.check import check_position
from liqscope.signals.clusters import LevelMap

ORIGIN, STEP, N = 80_000.0, 100.0, 400


def _lp(side: Side, entry: float, lev: float) -> float:
    inst = instrument("binance", "BTCUSDT")
    return liquidation_price(
        inst, default_tiers("binance", "BTCUSDT"), side, entry, lev, 10_000 / entry
    ).price


def _map(cluster_at: float, usd: float = 10e6, extra_at: float | None = None) -> LevelMap:
    long = np.zeros((1, N))
    short = np.zeros((1, N))
    long[0, :200] = 10_000.0
    i = int((cluster_at - ORIGIN) // STEP)
    long[0, i - 2 : i + 3] = usd / 5
    if extra_at is not None:
        j = int((extra_at - ORIGIN) // STEP)
        long[0, j - 1 : j + 2] = usd / 10
    short[0, 250:253] = 2e6
    return LevelMap.from_profile(ORIGIN, STEP, long, short, 100_000.0, (20.0,))


def test_inside_the_largest_long_cluster_with_fixes() -> None:
    lp = _lp(Side.LONG, 100_000.0, 20)
    rep = check_position(
        _map(lp), venue="binance", symbol="BTCUSDT", side="long", entry=100_000.0, leverage=20
    )
    assert rep.liq_price == pytest.approx(lp)
    assert rep.verdict == "inside_largest"
    assert "inside the largest long cluster below price" in rep.message
    assert rep.mass_near_usd > 9e6
    assert rep.suggested_leverage is not None and rep.suggested_leverage < 20
    lp2 = _lp(Side.LONG, 100_000.0, rep.suggested_leverage)
    assert not rep.containing.low - 0.005 * lp2 <= lp2 < rep.containing.high + 0.005 * lp2
    assert rep.suggested_stop is not None and rep.containing.high < rep.suggested_stop < 100_000
    assert rep.nearest_above is not None and rep.nearest_above.low == 105_000.0
    d = rep.to_dict()
    assert d["verdict"] == "inside_largest" and d["containing_cluster"]["side"] == "long"


def test_clear_of_dense_zones_and_inside_a_smaller_cluster() -> None:
    lp10 = _lp(Side.LONG, 100_000.0, 10)
    rep = check_position(
        _map(95_000.0), venue="binance", symbol="BTCUSDT", side="long", entry=100_000.0,
        leverage=10,
    )  # fmt: skip
    assert rep.liq_price == pytest.approx(lp10)
    assert rep.verdict == "clear" and rep.message == "clear of dense zones"
    assert rep.suggested_leverage is None
    assert rep.mass_between_usd > 10e6  # the 95k cluster sits between price and 90.4k
    lp = _lp(Side.LONG, 100_000.0, 20)
    rep = check_position(
        _map(97_000.0, extra_at=lp), venue="binance", symbol="BTCUSDT", side="long",
        entry=100_000.0, leverage=20,
    )  # fmt: skip
    assert rep.verdict == "inside_cluster"


def test_short_near_cluster_and_bad_input() -> None:
    lp = _lp(Side.SHORT, 100_000.0, 20)
    long = np.zeros((1, N))
    short = np.zeros((1, N))
    j = int((lp - ORIGIN) // STEP)
    short[0, j + 3 : j + 6] = 5e6  # starts ~0.3 % above the liquidation price
    short[0, 200:] += 1_000.0
    m = LevelMap.from_profile(ORIGIN, STEP, long, short, 100_000.0, (20.0,))
    rep = check_position(
        m, venue="binance", symbol="BTCUSDT", side="short", entry=100_000.0, leverage=20
    )
    assert rep.verdict == "near_cluster"
    with pytest.raises(InputError):
        check_position(m, venue="binance", symbol="BTCUSDT", side="up", entry=1, leverage=2)
    with pytest.raises(InputError):
        check_position(m, venue="binance", symbol="BTCUSDT", side="long", entry=-1, leverage=2)
