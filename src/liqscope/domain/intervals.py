"""Named time intervals (bars, candles, model steps): the one table of names to milliseconds."""

from __future__ import annotations

from liqscope.domain.errors import InputError

MINUTE_MS = 60_000
HOUR_MS = 60 * MINUTE_MS
DAY_MS = 24 * HOUR_MS
WEEK_MS = 7 * DAY_MS

INTERVALS: dict[str, int] = {
    "1m": MINUTE_MS,
    "3m": 3 * MINUTE_MS,
    "5m": 5 * MINUTE_MS,
    "15m": 15 * MINUTE_MS,
    "30m": 30 * MINUTE_MS,
    "1h": HOUR_MS,
    "2h": 2 * HOUR_MS,
    "4h": 4 * HOUR_MS,
    "6h": 6 * HOUR_MS,
    "8h": 8 * HOUR_MS,
    "12h": 12 * HOUR_MS,
    "1d": DAY_MS,
    "3d": 3 * DAY_MS,
    "1w": WEEK_MS,
}


def interval_ms(text: str) -> int:
    """Milliseconds of an interval name such as ``1m``, ``4h`` or ``1w``."""
    try:
        return INTERVALS[text.strip()]
    except KeyError:
        names = ", ".join(INTERVALS)
        raise InputError(f"unknown interval {text!r} (expected one of {names})") from None


def interval_name(ms: int) -> str:
    """Inverse of :func:`interval_ms` (falls back to ``<n>ms``)."""
    for name, value in INTERVALS.items():
        if value == ms:
            return name
    return f"{ms}ms"


RANGES: dict[str, int] = {
    "12h": 12 * HOUR_MS,
    "24h": DAY_MS,
    "3d": 3 * DAY_MS,
    "7d": 7 * DAY_MS,
    "30d": 30 * DAY_MS,
    "90d": 90 * DAY_MS,
    "180d": 180 * DAY_MS,
    "1y": 365 * DAY_MS,
}
"""Named history ranges (how far back a view looks), as the API and the CLI accept them."""


def range_ms(text: str) -> int:
    """Milliseconds of a range name such as ``12h``, ``7d`` or ``1y``."""
    try:
        return RANGES[text.strip().lower()]
    except KeyError:
        names = ", ".join(RANGES)
        raise InputError(f"unknown range {text!r} (expected one of {names})") from None
