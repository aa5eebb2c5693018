"""Properties of the liquidation-price model over every built-in instrument."""

from __future__ import annotations

import math

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from liqscope.domain import registry
from liqscope.domain.instruments import Instrument
from liqscope.domain.liqprice import (
    level_ratio,
    liquidation_price,
    position_measure,
    ratio_is_entry_independent,
)
from liqscope.domain.tiers import Tier, TierBasis, TierTable
from liqscope.domain.types import Side

SYMBOLS = registry.known_symbols()
# Tables whose maintenance margin is continuous in size (OKX publishes no deductions).
CONTINUOUS = tuple(key for key in SYMBOLS if key[0] != "okx")

symbols = st.sampled_from(SYMBOLS)
sides = st.sampled_from(list(Side))
entries = st.floats(min_value=0.01, max_value=1e6)
notionals = st.floats(min_value=10.0, max_value=5e8)
methods = st.sampled_from(["exact", "shortcut"])
fractions = st.floats(min_value=0.0, max_value=1.0)


def qty_for(inst: Instrument, notional: float, entry: float) -> float:
    return notional / inst.contract_size if inst.inverse else notional / entry


def max_leverage(inst: Instrument, tiers: TierTable, qty: float, entry: float) -> float:
    return tiers.max_leverage_for(position_measure(inst, tiers.basis, qty, entry))


@settings(max_examples=300, deadline=None)
@given(symbols, sides, entries, notionals, fractions, methods)
def test_long_below_entry_below_short(
    key: tuple[str, str], side: Side, entry: float, notional: float, f: float, method: str
) -> None:
    inst, tiers = registry.instrument(*key), registry.default_tiers(*key)
    qty = qty_for(inst, notional, entry)
    leverage = 0.5 + f * (max_leverage(inst, tiers, qty, entry) - 0.5)
    price = liquidation_price(inst, tiers, side, entry, leverage, qty, method).price
    if side is Side.LONG:
        assert 0 <= price < entry
    else:
        assert price > entry


@settings(max_examples=300, deadline=None)
@given(symbols, sides, entries, notionals, fractions, fractions, methods)
def test_rising_leverage_moves_the_price_toward_entry(
    key: tuple[str, str],
    side: Side,
    entry: float,
    notional: float,
    f1: float,
    f2: float,
    method: str,
) -> None:
    inst, tiers = registry.instrument(*key), registry.default_tiers(*key)
    qty = qty_for(inst, notional, entry)
    top = max_leverage(inst, tiers, qty, entry)
    low, high = sorted((0.5 + f1 * (top - 0.5), 0.5 + f2 * (top - 0.5)))
    p_low = liquidation_price(inst, tiers, side, entry, low, qty, method).price
    p_high = liquidation_price(inst, tiers, side, entry, high, qty, method).price
    slack = 1e-12 * entry
    if side is Side.LONG:
        assert p_low <= p_high + slack
    else:
        assert p_low + slack >= p_high


def _jump_at_boundary(
    inst: Instrument, tiers: TierTable, side: Side, entry: float, leverage: float, k: int
) -> float:
    """|LP just above − LP just below| the quantity where the chosen tier passes k → k+1."""

    def tier(qty: float) -> int:
        return liquidation_price(inst, tiers, side, entry, leverage, qty).tier

    lo = 1e-9
    hi = 1.0
    while tier(hi) <= k:
        lo, hi = hi, hi * 2
    assert tier(lo) <= k
    for _ in range(200):
        mid = (lo + hi) / 2
        if tier(mid) <= k:
            lo = mid
        else:
            hi = mid
        if hi - lo <= 1e-14 * hi:
            break
    below = liquidation_price(inst, tiers, side, entry, leverage, lo).price
    above = liquidation_price(inst, tiers, side, entry, leverage, hi).price
    return abs(above - below)


@settings(max_examples=150, deadline=None)
@given(st.sampled_from(CONTINUOUS), sides, entries, st.floats(2.5, 50), st.data())
def test_no_jump_across_tier_boundaries(
    key: tuple[str, str], side: Side, entry: float, leverage: float, data: st.DataObject
) -> None:
    inst, tiers = registry.instrument(*key), registry.default_tiers(*key)
    k = data.draw(st.integers(1, len(tiers.tiers) - 1), label="boundary")
    assert _jump_at_boundary(inst, tiers, side, entry, leverage, k) <= 1e-7 * entry


def test_boundary_check_detects_an_inconsistent_table() -> None:
    inst = registry.instrument("binance", "BTCUSDT")
    broken = TierTable(
        "binance",
        "BTCUSDT",
        TierBasis.QUOTE,
        (Tier(0, 300_000, 0.004, 0, 150), Tier(300_000, 800_000, 0.005, 0, 100)),
    )
    # Without cum the maintenance margin jumps by 300 USDT at 300k notional: LP jumps ~0.1 %.
    assert _jump_at_boundary(inst, broken, Side.LONG, 100_000, 10, 1) > 50


@settings(max_examples=300, deadline=None)
@given(symbols, sides, entries, notionals, st.floats(1.0, 100.0), methods)
def test_level_ratio_times_entry_is_the_liquidation_price(
    key: tuple[str, str], side: Side, entry: float, notional: float, leverage: float, method: str
) -> None:
    inst, tiers = registry.instrument(*key), registry.default_tiers(*key)
    qty = qty_for(inst, notional, entry)
    expected = liquidation_price(inst, tiers, side, entry, leverage, qty, method).price
    assume(math.isfinite(expected))
    free = ratio_is_entry_independent(inst, tiers, method)
    reference = None if free else entry
    ratio = level_ratio(inst, tiers, side, leverage, notional, method, reference_price=reference)
    assert ratio * entry == pytest.approx(expected, rel=1e-9, abs=1e-9 * entry)


def test_ratio_and_price_agree_on_a_notional_exactly_at_a_tier_floor() -> None:
    """Found by hypothesis: 500k USD (a Binance ETHUSDT tier floor) recomputed as qty x entry
    lands a hair below the floor; both paths must still choose the same tier."""
    inst = registry.instrument("binance", "ETHUSDT")
    tiers = registry.default_tiers("binance", "ETHUSDT")
    entry = 493_779.75
    qty = 500_000.0 / entry
    for method in ("shortcut", "exact"):
        expected = liquidation_price(inst, tiers, Side.LONG, entry, 1.0, qty, method).price
        ratio = level_ratio(inst, tiers, Side.LONG, 1.0, 500_000.0, method)
        assert ratio * entry == pytest.approx(expected, rel=1e-9, abs=1e-9 * entry)
