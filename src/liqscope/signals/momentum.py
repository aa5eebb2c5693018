"""Momentum read: does a price move come with the liquidations it should cause?

Over the last ``window`` steps, a fall of at least ``move_pct`` % is *unforced* when realized
long liquidations stay below ``low_ratio`` × their baseline (longs are not being flushed; the
levels below are still there), *forced* otherwise; likewise a rise with short liquidations."""

from __future__ import annotations

from dataclasses import dataclass

from liqscope.domain.records import Record
from liqscope.signals.window import RealizedWindow

LABELS = (
    "flat",
    "falling_without_long_liquidations",
    "falling_with_long_liquidations",
    "rising_without_short_liquidations",
    "rising_with_short_liquidations",
)


@dataclass(frozen=True, slots=True)
class MomentumRead(Record):
    label: str
    move_pct: float
    liq_usd: float
    """Realized notional of the side the move should liquidate, over the window."""
    baseline_usd: float
    ratio: float

    @property
    def unforced(self) -> bool:
        return self.label.endswith("without_long_liquidations") or self.label.endswith(
            "without_short_liquidations"
        )


def momentum_read(
    win: RealizedWindow | None, *, move_pct: float = 1.0, low_ratio: float = 0.5
) -> MomentumRead:
    """Label a :func:`~liqscope.signals.window.realized_window` reading (``flat`` without
    one) by its move and the ratio of the side the move should liquidate to its baseline."""
    if win is None:
        return MomentumRead("flat", 0.0, 0.0, 0.0, float("nan"))
    falling = win.move_pct <= -move_pct
    rising = win.move_pct >= move_pct
    sw = win.long if falling or not rising else win.short
    ratio = sw.ratio
    if not (falling or rising):
        label = "flat"
    elif falling:
        label = (
            "falling_without_long_liquidations"
            if ratio < low_ratio
            else "falling_with_long_liquidations"
        )
    else:
        label = (
            "rising_without_short_liquidations"
            if ratio < low_ratio
            else "rising_with_short_liquidations"
        )
    return MomentumRead(label, win.move_pct, sw.usd, sw.baseline_usd, ratio)
