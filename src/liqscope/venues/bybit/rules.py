"""Bybit v5 facts: linear vs inverse symbols, interval names, limits."""

from __future__ import annotations

import re

from liqscope.domain.errors import InputError
from liqscope.domain.types import ContractType

# Inverse contracts are quoted in USD: perpetuals ``BTCUSD``, futures ``BTCUSDH25``.
_INVERSE = re.compile(r"USD(?:[FGHJKMNQUVXZ]\d{2})?$")
_TYPES: dict[str, ContractType] = {}

# canonical interval -> Bybit kline interval
KLINE_INTERVALS = {
    "1m": "1",
    "3m": "3",
    "5m": "5",
    "15m": "15",
    "30m": "30",
    "1h": "60",
    "2h": "120",
    "4h": "240",
    "6h": "360",
    "12h": "720",
    "1d": "D",
    "1w": "W",
}
KLINE_INTERVALS_BACK = {v: k for k, v in KLINE_INTERVALS.items()}
# canonical period -> Bybit open-interest intervalTime
OI_INTERVALS = {"5m": "5min", "15m": "15min", "30m": "30min", "1h": "1h", "4h": "4h", "1d": "1d"}
KLINES_LIMIT = 1000
OI_LIMIT = 200
PING_INTERVAL_S = 20.0
SUBSCRIBE_ARGS_PER_MESSAGE = 10


def contract_type(symbol: str) -> ContractType:
    """Linear (size in base) or inverse (size in USD contracts of 1 USD) from the symbol."""
    kind = _TYPES.get(symbol)
    if kind is None:
        kind = ContractType.INVERSE if _INVERSE.search(symbol) else ContractType.LINEAR
        _TYPES[symbol] = kind
    return kind


def category(symbol: str) -> str:
    """The v5 ``category`` of ``symbol``: ``linear`` or ``inverse``."""
    return contract_type(symbol).value


def kline_interval(interval: str) -> str:
    try:
        return KLINE_INTERVALS[interval]
    except KeyError:
        raise InputError(f"bybit: unsupported kline interval {interval!r}") from None


def oi_interval(period: str) -> str:
    try:
        return OI_INTERVALS[period]
    except KeyError:
        raise InputError(f"bybit: unsupported open-interest period {period!r}") from None
