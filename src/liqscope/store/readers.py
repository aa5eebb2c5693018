"""The one reader from stored rows to the estimator's steps."""

from __future__ import annotations

from liqscope.model.steps import Steps as ModelSteps
from liqscope.store.base import Store

__all__ = ["read_steps", "stored_candle_span"]


def stored_candle_span(store: Store, venue: str, symbol: str) -> tuple[int, int] | None:
    """``(first, last)`` open time of any stored candles of a market (None when none)."""
    spans = [
        (c.first_ts, c.last_ts)
        for c in store.coverage(0)
        if c.venue == venue and c.symbol == symbol and c.stream.startswith("candles")
        if c.first_ts is not None and c.last_ts is not None
    ]
    if not spans:
        return None
    return min(a for a, _ in spans), max(b for _, b in spans)


def read_steps(
    store: Store, venue: str, symbol: str, t0: int, t1: int, interval_ms: int
) -> ModelSteps | None:
    """The estimator input for ``venue`` ``symbol`` (native) on ``[t0, t1)`` in steps of
    ``interval_ms``: only steps with prices and a known OI; None when fewer than two."""
    return store.steps(venue, symbol, t0, t1, interval_ms).to_model(venue, symbol)
