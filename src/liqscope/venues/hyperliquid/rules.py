"""Hyperliquid facts: margin rules, candle intervals, limits."""

from __future__ import annotations

from liqscope.domain.errors import InputError

CANDLE_INTERVALS = frozenset(
    {"1m", "3m", "5m", "15m", "30m", "1h", "2h", "4h", "8h", "12h", "1d", "3d", "1w"}
)
CANDLE_SNAPSHOT_LIMIT = 5000  # candles per candleSnapshot request
LIQUIDATION_STEP_ABOVE_USD = 100_000.0  # larger positions are liquidated in 20 % steps
LIQUIDATION_STEP_SHARE = 0.2
PING_INTERVAL_S = 50.0  # the server closes connections silent for 60 s


def maintenance_margin_rate(max_leverage: float) -> float:
    """Maintenance margin is half the initial margin at max leverage: 1 / (2 × max_lev)."""
    if not max_leverage > 0:
        raise InputError(f"hyperliquid: max leverage must be positive, got {max_leverage}")
    return 1.0 / (2.0 * max_leverage)


def check_interval(interval: str) -> str:
    if interval not in CANDLE_INTERVALS:
        raise InputError(f"hyperliquid: unsupported candle interval {interval!r}")
    return interval
