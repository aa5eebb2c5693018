"""Capped, jittered exponential backoff for reconnecting to a venue.

The n-th consecutive failure waits ``d/2 + U(0, d/2)`` seconds with
``d = min(cap, base * factor**n)`` ("equal jitter"): the wait never exceeds the cap, never falls
below half the nominal delay, and clients that lost the same venue at the same moment spread out
instead of reconnecting in lockstep. A connection that stayed up for ``healthy_after_s`` seconds
counts as healthy: the next failure starts again from ``base``.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field


@dataclass
class Backoff:
    """Delay schedule for one connection. Not thread-safe; one instance per supervisor."""

    base_s: float = 0.5
    cap_s: float = 30.0
    factor: float = 2.0
    healthy_after_s: float = 60.0
    rng: random.Random = field(default_factory=random.Random)
    attempts: int = field(default=0, init=False)

    def __post_init__(self) -> None:
        if self.base_s <= 0 or self.cap_s < self.base_s or self.factor < 1:
            raise ValueError("backoff needs 0 < base <= cap and factor >= 1")

    def nominal(self, attempt: int) -> float:
        """The un-jittered delay of the given 0-based attempt, capped."""
        # Cap the exponent first so huge attempt counts cannot overflow a float.
        exp = min(attempt, 64)
        return min(self.cap_s, self.base_s * self.factor**exp)

    def next_delay(self) -> float:
        """The wait before the next reconnect attempt; counts the attempt."""
        d = self.nominal(self.attempts)
        self.attempts += 1
        return d / 2 + self.rng.uniform(0.0, d / 2)

    def reset(self) -> None:
        self.attempts = 0

    def connection_ended(self, uptime_s: float) -> None:
        """Tell the schedule how long the connection that just ended had been up."""
        if uptime_s >= self.healthy_after_s:
            self.reset()
