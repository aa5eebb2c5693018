"""Binance facts: contract sizes (COIN-M), limits, interval names."""

from __future__ import annotations

from collections.abc import Mapping

from liqscope.domain import registry
from liqscope.domain.intervals import interval_ms

# COIN-M: one contract is worth this many USD (the registry's inverse instruments: BTCUSD 100);
# (almost) every other pair 10 USD.
COINM_CONTRACT_USD: Mapping[str, float] = {
    i.symbol.split("_", 1)[0]: i.contract_size for i in registry.instruments("binance") if i.inverse
}
COINM_DEFAULT_CONTRACT_USD = 10.0

WEIGHT_LIMIT_1M = 2400  # request weight per minute per IP
WEIGHT_SLOWDOWN_AT = 0.9  # share of the limit at which the client waits for the next minute
KLINES_LIMIT = 1500
OI_HIST_LIMIT = 500
OI_HIST_MAX_AGE_MS = 30 * 86_400_000  # openInterestHist keeps the last 30 days only
OI_PERIODS = frozenset({"5m", "15m", "30m", "1h", "2h", "4h", "6h", "12h", "1d"})
KLINE_INTERVALS = frozenset(
    {"1m", "3m", "5m", "15m", "30m", "1h", "2h", "4h", "6h", "8h", "12h", "1d", "3d", "1w"}
)
MAX_CONNECTION_LIFETIME_S = 24 * 3600.0
MAX_STREAMS_PER_CONNECTION = 1024
MAX_INCOMING_MESSAGES_PER_S = 10.0  # messages the server accepts from a client per second
SUBSCRIBE_PARAMS_PER_MESSAGE = 100


def coinm_pair(symbol: str) -> str:
    """``BTCUSD_PERP`` / ``BTCUSD_250328`` -> ``BTCUSD``."""
    return symbol.split("_", 1)[0]


def coinm_contract_usd(pair_or_symbol: str, overrides: Mapping[str, float] | None = None) -> float:
    """USD value of one COIN-M contract of ``pair_or_symbol``."""
    pair = coinm_pair(pair_or_symbol)
    if overrides and pair in overrides:
        return overrides[pair]
    return COINM_CONTRACT_USD.get(pair, COINM_DEFAULT_CONTRACT_USD)


def kline_interval_ms(interval: str) -> int:
    """Milliseconds of a Binance kline interval (``1M`` is not supported)."""
    return interval_ms(interval)
