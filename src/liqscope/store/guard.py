"""The store's last line against absurd values: rows that parse but cannot be real.

Prices and quantities must be finite and > 0 (volumes and open interest finite and >= 0),
event times between 2017-01-01 and now + 1 day. A batch holding one such row is refused
whole, before anything is written, with an :class:`InputError` naming the row and field.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

from liqscope.domain.errors import InputError
from liqscope.domain.events import Candle, Event, Liquidation, MarkPrice, OpenInterest, Trade
from liqscope.domain.intervals import DAY_MS

TS_MIN_MS = 1_483_228_800_000
"""2017-01-01 00:00 UTC: no perpetual-futures event stored here is older."""
FUTURE_SLACK_MS = DAY_MS
"""How far past the store's clock an event time may lie (clock skew, venue time zones)."""

__all__ = ["FUTURE_SLACK_MS", "TS_MIN_MS", "check_events"]


def _positive(value: float | None, name: str) -> str | None:
    if value is None or not math.isfinite(value) or value <= 0.0:
        return f"{name} {value!r} is not a finite number > 0"
    return None


def _non_negative(value: float | None, name: str, optional: bool = False) -> str | None:
    if value is None and optional:
        return None
    if value is None or not math.isfinite(value) or value < 0.0:
        return f"{name} {value!r} is not a finite number >= 0"
    return None


def _problem(e: Event) -> str | None:
    """What is wrong with one event's values, or None."""
    if isinstance(e, Liquidation):
        checks = [_positive(e.price, "price"), _positive(e.qty, "qty")]
        checks.append(_positive(e.notional_usd, "notional_usd"))
    elif isinstance(e, Trade):
        checks = [_positive(e.price, "price"), _positive(e.qty, "qty")]
    elif isinstance(e, Candle):
        checks = [_positive(getattr(e, f), f) for f in ("open", "high", "low", "close")]
        checks.append(_non_negative(e.volume, "volume"))
        checks.append(_non_negative(e.taker_buy_volume, "taker_buy_volume", optional=True))
        if e.interval_ms <= 0:
            checks.append(f"interval_ms {e.interval_ms} is not > 0")
    elif isinstance(e, OpenInterest):
        checks = [_non_negative(e.oi_base, "oi_base")]
        checks.append(_non_negative(e.oi_usd, "oi_usd", optional=True))
    elif isinstance(e, MarkPrice):
        checks = [_positive(e.mark, "mark"), _positive(e.index, "index") if e.index else None]
        fr = e.funding_rate
        if fr is not None and not math.isfinite(fr):
            checks.append(f"funding_rate {fr!r} is not finite")
    else:  # pragma: no cover - the Event union is closed
        return f"unknown event type {type(e).__name__}"
    return next((c for c in checks if c is not None), None)


_INF = math.inf


def _fast_ok(e: Event) -> bool:
    """The common case, checked cheaply (comparisons with NaN are False)."""
    if type(e) is Liquidation:
        return 0.0 < e.price < _INF and 0.0 < e.qty < _INF and 0.0 < e.notional_usd < _INF
    if type(e) is Trade:
        return 0.0 < e.price < _INF and 0.0 < e.qty < _INF
    return _problem(e) is None


def check_events(events: Iterable[Event], now_ms: int) -> None:
    """Raise :class:`InputError` on the first event with an absurd value or time."""
    latest = now_ms + FUTURE_SLACK_MS
    for e in events:
        ts = e.ts
        if type(ts) is int and TS_MIN_MS <= ts <= latest and _fast_ok(e):
            continue
        why: str | None
        if not isinstance(ts, int) or isinstance(ts, bool) or not TS_MIN_MS <= ts <= latest:
            why = f"ts {ts!r} is outside 2017-01-01 .. now + 1 day"
        else:
            why = _problem(e)
        if why is not None:
            raise InputError(
                f"store refused {type(e).__name__.lower()} {e.venue} {e.symbol} at ts={ts}: "
                f"{why}; nothing of this batch was written"
            )
