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
taker fee; verify for your account). The code states none of these numbers: they are data, in
``data/markets.json`` (tier rows ``[cap, MMR, max leverage]``, floors and deductions derived);
venue adapters and importers read them from here (:func:`instruments`).

Feeds: Binance and OKX publish a *sample* of their liquidations (at most one per symbol per
second, :func:`sampled_feed`); Bybit's ``allLiquidation`` is complete; Hyperliquid has no
public liquidation feed (:func:`has_liquidation_feed`).
"""

from __future__ import annotations

import json
import math
from importlib.resources import files
from typing import Any

from liqscope.domain.errors import InputError
from liqscope.domain.instruments import Instrument
from liqscope.domain.tiers import Tier, TierBasis, TierTable, chain_tiers
from liqscope.domain.types import ContractType, Venue

# instrument, tier basis, tiers, illustrative
Entry = tuple[Instrument, TierBasis, tuple[Tier, ...], bool]


def _tiers(rows: list[list[Any]], venue: dict[str, Any]) -> tuple[Tier, ...]:
    """Tiers from the data file's ``[cap, MMR, max leverage(, stated amount)]`` rows."""
    caps = [math.inf if row[0] is None else float(row[0]) for row in rows]
    if venue.get("mmr") == "half_initial":  # Hyperliquid rows: [cap, max leverage]
        return chain_tiers([(cap, 1 / (2 * r[1]), r[1]) for cap, r in zip(caps, rows, strict=True)])
    chained = chain_tiers([(cap, r[1], r[2]) for cap, r in zip(caps, rows, strict=True)])
    if venue.get("deductions") == "none":  # OKX: the tier's MMR on the whole position
        return tuple(Tier(t.floor, t.cap, t.mmr, 0.0, t.max_leverage) for t in chained)
    if all(len(r) == 4 for r in rows):  # the venue's own amounts, exactly as published
        stated = tuple(
            Tier(t.floor, t.cap, t.mmr, float(r[3]), t.max_leverage)
            for t, r in zip(chained, rows, strict=True)
        )
        TierTable("registry", "stated", TierBasis.QUOTE, stated).check_deductions()
        return stated
    return chained


def _load() -> tuple[dict[tuple[str, str], Entry], tuple[Instrument, ...]]:
    """The built-in tables and instruments of ``data/markets.json``."""
    data = json.loads(files("liqscope.domain").joinpath("data/markets.json").read_text("utf-8"))
    entries: dict[tuple[str, str], Entry] = {}
    bare: list[Instrument] = []
    for name, venue in data.items():
        if name == "about":
            continue
        for symbol, m in venue["markets"].items():
            kind = ContractType(m["type"])
            inst = Instrument(
                name, symbol, m["base"], m["quote"], kind,
                float(m.get("contract_size", 1.0)), float(venue.get("liq_fee_rate", 0.0)),
            )  # fmt: skip
            if "tiers" not in m:  # a known contract size, no built-in tier table
                bare.append(inst)
                continue
            if "basis" in venue:
                basis = TierBasis(venue["basis"])
            else:  # linear tiers by quote notional, inverse ones by coins
                basis = TierBasis.BASE if inst.inverse else TierBasis.QUOTE
            entries[(name, symbol)] = (inst, basis, _tiers(m["tiers"], venue), m["illustrative"])
    return entries, tuple(bare)


# (venue, symbol) -> (instrument, basis, tiers, illustrative); instruments without tiers
_ENTRIES, _INSTRUMENTS_ONLY = _load()

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


def _entry(venue: str, symbol: str) -> Entry:
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
