"""Realized-liquidation cascades in progress: a burst of realized liquidation notional of one
side against its own baseline, together with a price move in that side's direction
(longs liquidated and price falling, or shorts liquidated and price rising)."""

from __future__ import annotations

from dataclasses import dataclass

from liqscope.domain.records import Record
from liqscope.signals.window import RealizedWindow


@dataclass(frozen=True, slots=True)
class CascadeRead(Record):
    """State of one side over the last ``window`` steps."""

    side: str
    usd: float
    """Realized notional of the side over the window."""
    baseline_usd: float
    """Expected notional over a window: mean per step over the baseline period × window."""
    ratio: float
    move_pct: float
    """Price change over the window, % (signed)."""
    active: bool


def cascade_read(
    win: RealizedWindow | None, *, ratio: float = 5.0, min_usd: float = 0.0, move_pct: float = 0.5
) -> list[CascadeRead]:
    """Both sides of a :func:`~liqscope.signals.window.realized_window` reading (none
    without one).

    A side is *active* when its realized notional over the window is at least ``ratio`` ×
    its baseline and at least ``min_usd``, and price moved at least ``move_pct`` % in that
    side's direction over the window."""
    if win is None:
        return []
    out: list[CascadeRead] = []
    for name, sw, sign in (("long", win.long, -1.0), ("short", win.short, 1.0)):
        active = sw.ratio >= ratio and sw.usd >= min_usd and sign * win.move_pct >= move_pct
        out.append(CascadeRead(name, sw.usd, sw.baseline_usd, sw.ratio, win.move_pct, active))
    return out
