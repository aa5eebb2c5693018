"""Built-in instruments and maintenance tiers for the major perpetuals.

Sources and status of each table:

- binance BTCUSDT: the 2026 snapshot of exchange-reference §2, exactly (verified ``cum``).
- hyperliquid BTC, ETH, SOL: Hyperliquid's documented mainnet margin tiers (BTC 40× to 150M,
  then 20×; ETH 25× to 100M, then 15×; SOL 20× to 70M, then 10×), MMR = half the initial
  margin rate at the tier's max leverage, deductions by the documented continuity rule.
- every other table is **illustrative**: a plausible shape (first-tier MMR and leverage where
  the venues' documentation shows them: Binance COIN-M 0.4 % for BTCUSD_PERP, Bybit linear
  2M USDT at 0.5 %/100×, Bybit BTCUSD 150 BTC at 0.5 %/100×, OKX 0.4 %/100×), not the venue's
  current table. Load the real one with ``--tiers-file`` (see docs/liquidation-price.md).

Contract sizes: Binance COIN-M BTCUSD_PERP 100 USD, ETHUSD_PERP 10 USD; Bybit BTCUSD 1 USD;
OKX BTC-USDT-SWAP 0.01 BTC, ETH-USDT-SWAP 0.1 ETH, SOL-USDT-SWAP 1 SOL, BTC-USD-SWAP 100 USD,
ETH-USD-SWAP 10 USD. OKX instruments carry a 0.05 % liquidation fee rate (the regular-tier
taker fee; verify for your account). This module is the one place these facts are stated:
venue adapters and importers read them from here (:func:`instruments`).

Feeds: Binance and OKX publish a *sample* of their liquidations (at most one per symbol per
second, :func:`sampled_feed`); Bybit's ``allLiquidation`` is complete; Hyperliquid has no
public liquidation feed (:func:`has_liquidation_feed`).
"""

from __future__ import annotations

import math

from liqscope.domain.errors import InputError
from liqscope.domain.instruments import Instrument
from liqscope.domain.tiers import Tier, TierBasis, TierTable, chain_tiers
from liqscope.domain.types import ContractType, Venue

_LINEAR = ContractType.LINEAR
_INVERSE = ContractType.INVERSE
_OKX_FEE = 0.0005
_M = 1_000_000.0

_BINANCE_BTCUSDT = (
    # floor, cap, MMR, cum, max leverage (exchange-reference §2)
    Tier(0, 300_000, 0.004, 0, 150),
    Tier(300_000, 800_000, 0.005, 300, 100),
    Tier(800_000, 3 * _M, 0.0065, 1_500, 75),
    Tier(3 * _M, 12 * _M, 0.01, 12_000, 50),
    Tier(12 * _M, 70 * _M, 0.02, 132_000, 25),
    Tier(70 * _M, 100 * _M, 0.025, 482_000, 20),
    Tier(100 * _M, 230 * _M, 0.05, 2_982_000, 10),
    Tier(230 * _M, 480 * _M, 0.1, 14_482_000, 5),
    Tier(480 * _M, 600 * _M, 0.125, 26_482_000, 4),
    Tier(600 * _M, 800 * _M, 0.15, 41_482_000, 3),
    Tier(800 * _M, 1_200 * _M, 0.25, 121_482_000, 2),
    Tier(1_200 * _M, 1_800 * _M, 0.5, 421_482_000, 1),
)


def _hl(*rows: tuple[float, int]) -> tuple[Tier, ...]:
    """Hyperliquid tiers from ``(cap, max_leverage)``: MMR = 1 / (2 × max leverage)."""
    return chain_tiers([(cap, 1 / (2 * lev), lev) for cap, lev in rows])


# (venue, symbol) -> (instrument, basis, tiers, illustrative)
_ENTRIES: dict[tuple[str, str], tuple[Instrument, TierBasis, tuple[Tier, ...], bool]] = {
    ("binance", "BTCUSDT"): (
        Instrument("binance", "BTCUSDT", "BTC", "USDT", _LINEAR),
        TierBasis.QUOTE,
        _BINANCE_BTCUSDT,
        False,
    ),
    ("binance", "ETHUSDT"): (
        Instrument("binance", "ETHUSDT", "ETH", "USDT", _LINEAR),
        TierBasis.QUOTE,
        chain_tiers(
            [
                (500_000, 0.005, 100),
                (1 * _M, 0.0065, 75),
                (5 * _M, 0.01, 50),
                (10 * _M, 0.02, 25),
                (25 * _M, 0.025, 20),
                (50 * _M, 0.05, 10),
                (100 * _M, 0.1, 5),
                (200 * _M, 0.125, 4),
                (300 * _M, 0.15, 3),
                (500 * _M, 0.25, 2),
                (800 * _M, 0.5, 1),
            ]
        ),
        True,
    ),
    ("binance", "SOLUSDT"): (
        Instrument("binance", "SOLUSDT", "SOL", "USDT", _LINEAR),
        TierBasis.QUOTE,
        chain_tiers(
            [
                (100_000, 0.0065, 75),
                (500_000, 0.01, 50),
                (2 * _M, 0.02, 25),
                (5 * _M, 0.025, 20),
                (10 * _M, 0.05, 10),
                (25 * _M, 0.1, 5),
                (50 * _M, 0.125, 4),
                (100 * _M, 0.15, 3),
                (200 * _M, 0.25, 2),
                (300 * _M, 0.5, 1),
            ]
        ),
        True,
    ),
    ("binance", "BTCUSD_PERP"): (
        Instrument("binance", "BTCUSD_PERP", "BTC", "USD", _INVERSE, 100.0),
        TierBasis.BASE,
        chain_tiers(
            [
                (5, 0.004, 125),
                (10, 0.005, 100),
                (20, 0.01, 50),
                (50, 0.025, 20),
                (100, 0.05, 10),
                (200, 0.1, 5),
                (400, 0.125, 4),
                (1_000, 0.15, 3),
                (1_500, 0.25, 2),
                (3_000, 0.5, 1),
            ]
        ),
        True,
    ),
    ("binance", "ETHUSD_PERP"): (
        Instrument("binance", "ETHUSD_PERP", "ETH", "USD", _INVERSE, 10.0),
        TierBasis.BASE,
        chain_tiers(
            [
                (100, 0.005, 100),
                (500, 0.0065, 75),
                (1_000, 0.01, 50),
                (5_000, 0.02, 25),
                (10_000, 0.05, 10),
                (20_000, 0.1, 5),
                (40_000, 0.125, 4),
                (100_000, 0.15, 3),
                (200_000, 0.25, 2),
                (400_000, 0.5, 1),
            ]
        ),
        True,
    ),
    ("bybit", "BTCUSDT"): (
        Instrument("bybit", "BTCUSDT", "BTC", "USDT", _LINEAR),
        TierBasis.QUOTE,
        chain_tiers(
            [
                (2 * _M, 0.005, 100),
                (10 * _M, 0.01, 50),
                (20 * _M, 0.02, 25),
                (40 * _M, 0.025, 20),
                (80 * _M, 0.05, 10),
                (150 * _M, 0.1, 5),
                (300 * _M, 0.25, 2),
                (600 * _M, 0.5, 1),
            ]
        ),
        True,
    ),
    ("bybit", "ETHUSDT"): (
        Instrument("bybit", "ETHUSDT", "ETH", "USDT", _LINEAR),
        TierBasis.QUOTE,
        chain_tiers(
            [
                (1 * _M, 0.005, 100),
                (5 * _M, 0.01, 50),
                (15 * _M, 0.02, 25),
                (30 * _M, 0.025, 20),
                (60 * _M, 0.05, 10),
                (120 * _M, 0.1, 5),
                (250 * _M, 0.25, 2),
                (500 * _M, 0.5, 1),
            ]
        ),
        True,
    ),
    ("bybit", "SOLUSDT"): (
        Instrument("bybit", "SOLUSDT", "SOL", "USDT", _LINEAR),
        TierBasis.QUOTE,
        chain_tiers(
            [
                (200_000, 0.01, 50),
                (1 * _M, 0.02, 25),
                (3 * _M, 0.025, 20),
                (8 * _M, 0.05, 10),
                (20 * _M, 0.1, 5),
                (50 * _M, 0.25, 2),
                (100 * _M, 0.5, 1),
            ]
        ),
        True,
    ),
    ("bybit", "BTCUSD"): (
        Instrument("bybit", "BTCUSD", "BTC", "USD", _INVERSE, 1.0),
        TierBasis.BASE,
        chain_tiers(
            [
                (150, 0.005, 100),
                (300, 0.01, 50),
                (600, 0.02, 25),
                (1_200, 0.025, 20),
                (2_500, 0.05, 10),
                (5_000, 0.1, 5),
                (10_000, 0.25, 2),
                (20_000, 0.5, 1),
            ]
        ),
        True,
    ),
    ("okx", "BTC-USDT-SWAP"): (
        Instrument("okx", "BTC-USDT-SWAP", "BTC", "USDT", _LINEAR, 0.01, _OKX_FEE),
        TierBasis.CONTRACTS,
        tuple(
            Tier(floor, cap, mmr, 0.0, lev)
            for floor, cap, mmr, lev in [
                (0, 20_000, 0.004, 100),
                (20_000, 40_000, 0.005, 75),
                (40_000, 80_000, 0.01, 50),
                (80_000, 150_000, 0.02, 25),
                (150_000, 300_000, 0.025, 20),
                (300_000, 500_000, 0.05, 10),
                (500_000, 800_000, 0.1, 5),
                (800_000, 1_500_000, 0.15, 3),
                (1_500_000, 3_000_000, 0.25, 2),
                (3_000_000, 5_000_000, 0.4, 1),
            ]
        ),
        True,
    ),
    ("okx", "ETH-USDT-SWAP"): (
        Instrument("okx", "ETH-USDT-SWAP", "ETH", "USDT", _LINEAR, 0.1, _OKX_FEE),
        TierBasis.CONTRACTS,
        tuple(
            Tier(floor, cap, mmr, 0.0, lev)
            for floor, cap, mmr, lev in [
                (0, 20_000, 0.004, 100),
                (20_000, 50_000, 0.005, 75),
                (50_000, 100_000, 0.01, 50),
                (100_000, 200_000, 0.02, 25),
                (200_000, 500_000, 0.025, 20),
                (500_000, 1_000_000, 0.05, 10),
                (1_000_000, 2_000_000, 0.1, 5),
                (2_000_000, 4_000_000, 0.25, 2),
                (4_000_000, 8_000_000, 0.4, 1),
            ]
        ),
        True,
    ),
    ("okx", "BTC-USD-SWAP"): (
        Instrument("okx", "BTC-USD-SWAP", "BTC", "USD", _INVERSE, 100.0, _OKX_FEE),
        TierBasis.CONTRACTS,
        tuple(
            Tier(floor, cap, mmr, 0.0, lev)
            for floor, cap, mmr, lev in [
                (0, 10_000, 0.005, 100),
                (10_000, 30_000, 0.01, 50),
                (30_000, 60_000, 0.02, 25),
                (60_000, 120_000, 0.025, 20),
                (120_000, 250_000, 0.05, 10),
                (250_000, 500_000, 0.1, 5),
                (500_000, 1_000_000, 0.25, 2),
                (1_000_000, 2_000_000, 0.4, 1),
            ]
        ),
        True,
    ),
    ("hyperliquid", "BTC"): (
        Instrument("hyperliquid", "BTC", "BTC", "USDC", _LINEAR),
        TierBasis.QUOTE,
        _hl((150 * _M, 40), (math.inf, 20)),
        False,
    ),
    ("hyperliquid", "ETH"): (
        Instrument("hyperliquid", "ETH", "ETH", "USDC", _LINEAR),
        TierBasis.QUOTE,
        _hl((100 * _M, 25), (math.inf, 15)),
        False,
    ),
    ("hyperliquid", "SOL"): (
        Instrument("hyperliquid", "SOL", "SOL", "USDC", _LINEAR),
        TierBasis.QUOTE,
        _hl((70 * _M, 20), (math.inf, 10)),
        False,
    ),
}


# Instruments with known contract sizes but no built-in tier table.
_INSTRUMENTS_ONLY: tuple[Instrument, ...] = (
    Instrument("okx", "SOL-USDT-SWAP", "SOL", "USDT", _LINEAR, 1.0, _OKX_FEE),
    Instrument("okx", "ETH-USD-SWAP", "ETH", "USD", _INVERSE, 10.0, _OKX_FEE),
    Instrument("bybit", "ETHUSD", "ETH", "USD", _INVERSE, 1.0),
)

# venue -> (has a public liquidation feed, the feed is a sample)
_FEEDS: dict[str, tuple[bool, bool]] = {
    Venue.BINANCE.value: (True, True),
    Venue.BYBIT.value: (True, False),
    Venue.OKX.value: (True, True),
    Venue.HYPERLIQUID.value: (False, False),
}


def sampled_feed(venue: str) -> bool:
    """True when ``venue``'s public liquidation feed is a sample (totals are lower bounds).

    Unknown venues (and venue-like names such as ``binance_coinm``) follow their base venue.
    """
    base = venue.strip().lower().split("_", 1)[0]
    return _FEEDS.get(base, (False, False))[1]


def has_liquidation_feed(venue: str) -> bool:
    """True when ``venue`` publishes liquidations at all (Hyperliquid does not)."""
    base = venue.strip().lower().split("_", 1)[0]
    return _FEEDS.get(base, (False, False))[0]


def instruments(venue: str) -> tuple[Instrument, ...]:
    """Every built-in instrument of ``venue`` (with or without a tier table)."""
    v = venue.strip().lower()
    out = [e[0] for (ven, _), e in _ENTRIES.items() if ven == v]
    return (*out, *(i for i in _INSTRUMENTS_ONLY if i.venue == v))


def known_symbols(venue: str | None = None) -> tuple[tuple[str, str], ...]:
    """``(venue, symbol)`` pairs with built-in data, optionally for one venue."""
    return tuple(key for key in _ENTRIES if venue is None or key[0] == venue)


def _entry(venue: str, symbol: str) -> tuple[Instrument, TierBasis, tuple[Tier, ...], bool]:
    try:
        v = Venue.parse(venue).value
    except ValueError as exc:
        raise InputError(str(exc)) from None
    wanted = symbol.strip().upper()
    for (ven, sym), entry in _ENTRIES.items():
        if ven == v and sym.upper() == wanted:
            return entry
    names = ", ".join(sym for _, sym in known_symbols(v))
    raise InputError(f"no built-in data for {v} {symbol!r} (known: {names})")


def instrument(venue: str, symbol: str) -> Instrument:
    """The built-in instrument; InputError naming the known symbols if there is none."""
    try:
        return _entry(venue, symbol)[0]
    except InputError:
        wanted = symbol.strip().upper()
        for inst in _INSTRUMENTS_ONLY:
            if inst.venue == venue.strip().lower() and inst.symbol == wanted:
                return inst
        raise


def default_tiers(venue: str, symbol: str) -> TierTable:
    """The built-in tier table (see the module docstring for which are illustrative)."""
    inst, basis, tiers, _ = _entry(venue, symbol)
    return TierTable(inst.venue, inst.symbol, basis, tiers)


def is_illustrative(venue: str, symbol: str) -> bool:
    """True when the built-in table is a plausible stand-in, not the venue's real table."""
    return _entry(venue, symbol)[3]


_QUOTES = ("USDT", "USDC", "USD")


def market_of(venue: str, symbol: str) -> str:
    """The venue-neutral market name of a native symbol: ``BTCUSDT`` for every linear
    stablecoin perpetual of BTC (OKX ``BTC-USDT-SWAP``, Hyperliquid ``BTC``), ``BTCUSD``
    for inverse ones. Aggregating venues means summing the same market. Symbols without
    built-in data follow the venues' naming rules."""
    try:
        inst = instrument(venue, symbol)
    except InputError:
        name = symbol.strip().upper()
        if name.endswith("-SWAP"):  # OKX: BASE-QUOTE-SWAP
            base, quote = name.split("-")[:2]
            return base + ("USD" if quote == "USD" else "USDT")
        if name.endswith("_PERP"):  # Binance COIN-M: BASEUSD_PERP
            return name[: -len("_PERP")]
        if not name.endswith(_QUOTES):  # Hyperliquid: the coin alone
            return name + "USDT"
        return name
    return f"{inst.base}{'USD' if inst.inverse else 'USDT'}"


def native_symbol(venue: str, market: str) -> str:
    """The venue's own symbol for a venue-neutral market (the inverse of ``market_of``).

    A native symbol is accepted too and returned unchanged. Markets without built-in data
    follow the venue's naming rules."""
    wanted = market.strip().upper()
    try:
        v = Venue.parse(venue).value
    except ValueError as exc:
        raise InputError(str(exc)) from None
    if wanted.endswith("USDC"):  # USDC-margined requests map onto the stablecoin market
        wanted = wanted[: -len("USDC")] + "USDT"
    for ven, sym in known_symbols(v):
        if sym.upper() == market.strip().upper() or market_of(ven, sym) == wanted:
            return sym
    base = next((wanted[: -len(q)] for q in _QUOTES if wanted.endswith(q)), wanted)
    inverse = wanted.endswith("USD")
    if v == Venue.OKX.value:
        return f"{base}-{'USD' if inverse else 'USDT'}-SWAP"
    if v == Venue.HYPERLIQUID.value:
        return base
    if v == Venue.BINANCE.value and inverse:
        return f"{base}USD_PERP"
    return wanted


def register(instrument: Instrument, basis: TierBasis, tiers: tuple[Tier, ...]) -> None:
    """Add (or replace) a venue's real tier table for one instrument, e.g. Hyperliquid's
    margin tables read from its ``meta`` (``venues.hyperliquid.margin``)."""
    if not tiers:
        raise InputError(f"{instrument.venue} {instrument.symbol}: empty tier table")
    _ENTRIES[(instrument.venue, instrument.symbol)] = (instrument, basis, tiers, False)
