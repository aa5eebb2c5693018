"""Venue-exact liquidation prices: isolated margin, one-way mode, one position, no added margin.

Units: ``qty`` is base units (coins) for linear contracts on every venue (OKX too: 1 BTC of
BTC-USDT-SWAP is 100 contracts of 0.01) and **contracts** for inverse contracts (Binance
BTCUSD_PERP: 100 USD each, Bybit BTCUSD: 1 USD, OKX BTC-USD-SWAP: 100 USD). Prices are quote
per base. The isolated wallet balance is the initial margin: ``Q·EP/L`` (linear, quote) or
``N/(EP·L)`` (inverse, coin, ``N`` = qty × contract size in USD).

With ``r`` = tier MMR + the instrument's ``liq_fee_rate`` and ``c`` = the tier's maintenance
amount, liquidation happens when isolated equity equals maintenance margin:

- maintenance at the liquidation price (Binance, OKX, Hyperliquid); the tier is the one whose
  ``[floor, cap)`` holds the position measured **at the liquidation price** (each tier's
  candidate is computed and the self-consistent one kept)::

    linear  long  LP = (Q·EP − WB − c) / (Q·(1 − r))     short LP = (Q·EP + WB + c) / (Q·(1 + r))
    inverse long  LP = N·(1 + r) / (WB + c + N/EP)       short LP = N·(1 − r) / (N/EP − WB − c)

- maintenance at entry (Bybit, ``MM = value·MMR − mmDeduction``, tier from the entry value)::

    linear  LP = EP ∓ (IM − MM)/Q,  IM = Q·EP/L,  MM = Q·EP·r − c
    inverse long LP = N/(PV + IM − MM), short LP = N/(PV − IM + MM),  PV = N/EP, IM = PV/L,
            MM = PV·r − c

A long whose formula gives a price ≤ 0 cannot be liquidated: its price is 0.0. A short that
cannot be liquidated (inverse at leverage ≤ ~1) gets ``math.inf``. Sources and derivations:
docs/liquidation-price.md.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from liqscope.domain.errors import InputError
from liqscope.domain.instruments import Instrument
from liqscope.domain.tiers import TierBasis, TierTable
from liqscope.domain.types import Side

METHODS = ("exact", "shortcut")

# Venues that compute maintenance margin at the entry price; the others at the liquidation price.
_MM_AT_ENTRY = frozenset({"bybit"})
_VENUES = frozenset({"binance", "bybit", "okx", "hyperliquid"})


@dataclass(frozen=True, slots=True)
class LiqResult:
    """``tier`` is 1-based into the table; ``maint_amount`` is in the margin currency (0 for
    the shortcut, which ignores it)."""

    price: float
    tier: int
    mmr: float
    maint_amount: float
    method: str


def _positive(name: str, value: float) -> None:
    if not (math.isfinite(value) and value > 0):
        raise InputError(f"{name} must be a positive number, got {value:g}")


def _check(instrument: Instrument, entry: float, leverage: float, qty: float, method: str) -> None:
    _positive("entry", entry)
    _positive("leverage", leverage)
    _positive("qty", qty)
    if method not in METHODS:
        raise InputError(f"unknown method {method!r} (expected one of {', '.join(METHODS)})")
    if instrument.venue not in _VENUES:
        raise InputError(
            f"no liquidation rule for venue {instrument.venue!r} "
            f"(known: {', '.join(sorted(_VENUES))})"
        )


def position_measure(instrument: Instrument, basis: TierBasis, qty: float, price: float) -> float:
    """Size of a position of ``qty`` (base units, or contracts if inverse) at ``price``,
    in a tier table's basis units."""
    if instrument.inverse:
        usd = qty * instrument.contract_size
        if basis is TierBasis.QUOTE:
            return usd
        if basis is TierBasis.BASE:
            return usd / price if price > 0 else math.inf
        return qty
    if basis is TierBasis.QUOTE:
        return qty * price
    if basis is TierBasis.BASE:
        return qty
    return qty / instrument.contract_size


def _lp_mm_at_price(
    inverse: bool, side: Side, entry: float, leverage: float, size: float, r: float, c: float
) -> float:
    """``size`` is base units (linear) or USD (inverse)."""
    if not inverse:
        wallet = size * entry / leverage
        if side is Side.LONG:
            return (size * entry - wallet - c) / (size * (1 - r))
        return (size * entry + wallet + c) / (size * (1 + r))
    wallet = size / (entry * leverage)
    if side is Side.LONG:
        return size * (1 + r) / (wallet + c + size / entry)
    denominator = size / entry - wallet - c
    return size * (1 - r) / denominator if denominator > 0 else math.inf


def _lp_mm_at_entry(
    inverse: bool, side: Side, entry: float, leverage: float, size: float, r: float, c: float
) -> float:
    if not inverse:
        initial = size * entry / leverage
        maintenance = size * entry * r - c
        return entry - side * (initial - maintenance) / size
    value = size / entry
    initial = value / leverage
    maintenance = value * r - c
    denominator = value + side * (initial - maintenance)
    return size / denominator if denominator > 0 else math.inf


def liquidation_price(
    instrument: Instrument,
    tiers: TierTable,
    side: Side,
    entry: float,
    leverage: float,
    qty: float,
    method: str = "exact",
) -> LiqResult:
    """Liquidation (mark) price of an isolated one-way position; see the module docstring.

    ``method="shortcut"`` gives the common heatmap approximation ``EP·(1 − 1/L + MMR)`` (long) /
    ``EP·(1 + 1/L − MMR)`` (short) with the MMR of the tier at entry. Leverage above the
    tier's maximum is allowed (check with ``TierTable.max_leverage_for``); at leverage above
    ``1/MMR`` the price lies on the wrong side of entry, as the venue would liquidate at once.
    """
    _check(instrument, entry, leverage, qty, method)
    inverse = instrument.inverse
    size = qty * instrument.contract_size if inverse else qty
    fee = instrument.liq_fee_rate
    if method == "shortcut":
        k = tiers.index_for(position_measure(instrument, tiers.basis, qty, entry))
        mmr = tiers.tiers[k].mmr
        price = entry * (1 - side * (1 / leverage - mmr))
        return LiqResult(max(price, 0.0), k + 1, mmr, 0.0, method)
    if instrument.venue in _MM_AT_ENTRY:
        k = tiers.index_for(position_measure(instrument, tiers.basis, qty, entry))
        t = tiers.tiers[k]
        price = _lp_mm_at_entry(inverse, side, entry, leverage, size, t.mmr + fee, t.maint_amount)
        return LiqResult(max(price, 0.0), k + 1, t.mmr, t.maint_amount, method)
    # Tier at the liquidation price: keep the candidate whose measure lies in its own tier.
    # With a consistent table exactly one does (equity − maintenance is monotonic in price);
    # rounding at a boundary is absorbed by taking the candidate that misses by the least.
    best_k, best_price, best_miss = 0, math.nan, math.inf
    last = len(tiers.tiers) - 1
    for k, t in enumerate(tiers.tiers):
        price = _lp_mm_at_price(inverse, side, entry, leverage, size, t.mmr + fee, t.maint_amount)
        m = position_measure(instrument, tiers.basis, qty, price)
        cap = math.inf if k == last else t.cap
        if t.floor <= m < cap:
            return LiqResult(max(price, 0.0), k + 1, t.mmr, t.maint_amount, method)
        miss = t.floor - m if m < t.floor else m - cap
        if miss < best_miss:
            best_k, best_price, best_miss = k, price, miss
    t = tiers.tiers[best_k]
    return LiqResult(max(best_price, 0.0), best_k + 1, t.mmr, t.maint_amount, method)


def check_leverage(
    instrument: Instrument, tiers: TierTable, entry: float, leverage: float, qty: float
) -> None:
    """Raise InputError when ``leverage`` exceeds what the venue allows for the position's size
    at entry (the tier table's maximum leverage for that size)."""
    _positive("entry", entry)
    _positive("leverage", leverage)
    _positive("qty", qty)
    measure = position_measure(instrument, tiers.basis, qty, entry)
    k = tiers.index_for(measure)
    cap = tiers.tiers[k].max_leverage
    if leverage > cap * (1 + 1e-9):
        notional = qty * instrument.contract_size if instrument.inverse else qty * entry
        raise InputError(
            f"leverage {leverage:g}x is above {instrument.venue} {instrument.symbol}'s cap of "
            f"{cap:g}x for a ${notional:,.0f} position (tier {k + 1}); use {cap:g}x or less"
        )


def check_side(side: Side, entry: float, price: float) -> None:
    """Raise InputError when a liquidation price lies on the wrong side of entry (a long's at
    or above it, a short's at or below it): the venue would liquidate the position at once."""
    if price >= entry if side is Side.LONG else 0 < price <= entry:
        where = "above" if side is Side.LONG else "below"
        raise InputError(
            f"the {side.label} liquidation price {price:,.4f} is at or {where} entry {entry:g}: "
            "maintenance margin exceeds the margin at this leverage (lower the leverage)"
        )


def ratio_is_entry_independent(
    instrument: Instrument, tiers: TierTable, method: str = "exact"
) -> bool:
    """Whether ``liquidation_price / entry`` at a fixed USD notional is the same for every entry.

    True when the tier measure of a fixed USD notional does not depend on price (quote-notional
    tables; contract-count tables of inverse contracts) and no coin-denominated maintenance
    amount enters (inverse tables with deductions, exact method). See :func:`level_ratio`.
    """
    fixed_measure = tiers.basis is TierBasis.QUOTE or (
        instrument.inverse and tiers.basis is TierBasis.CONTRACTS
    )
    coin_amounts = (
        instrument.inverse and method == "exact" and any(t.maint_amount for t in tiers.tiers)
    )
    return fixed_measure and not coin_amounts


def level_ratio(
    instrument: Instrument,
    tiers: TierTable,
    side: Side,
    leverage: float,
    position_notional_usd: float,
    method: str = "exact",
    reference_price: float | None = None,
) -> float:
    """``LP / entry`` for a position of ``position_notional_usd`` at entry.

    Why it does not depend on entry (quote-notional tables): with ``N`` the notional and
    ``Q = N/EP``, the linear at-price formula becomes ``LP = EP·(1 ∓ 1/L ∓ c/N)/(1 ∓ r)`` (upper
    signs long), Bybit's becomes ``LP = EP·(1 ∓ (1/L − r + c/N))``, and the inverse formulas with
    fixed ``N`` become ``LP = EP·(1 ± r)/(1 ± 1/L ± c·EP/N)``. Each is ``EP`` times a function
    of ``N, L, r, c`` only, except the inverse one when ``c ≠ 0``; and the tier test
    ``Q·LP = N·(LP/EP)`` involves the ratio alone, so the same tier is chosen at every entry.

    Where that fails (coin- or contract-count tiers of linear contracts, inverse tables with
    coin deductions; see :func:`ratio_is_entry_independent`) the ratio is exact only at
    ``reference_price`` and InputError is raised if it is not given.
    """
    _positive("position notional", position_notional_usd)
    if reference_price is None:
        if not ratio_is_entry_independent(instrument, tiers, method):
            raise InputError(
                f"{instrument.venue} {instrument.symbol}: tiers are in {tiers.basis} units, "
                "so the ratio depends on the entry price: pass reference_price"
            )
        price = 1.0
    else:
        _positive("reference price", reference_price)
        price = reference_price
    if instrument.inverse:
        qty = position_notional_usd / instrument.contract_size
    else:
        qty = position_notional_usd / price
    result = liquidation_price(instrument, tiers, side, price, leverage, qty, method)
    return result.price / price
