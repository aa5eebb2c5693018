"""Reconnect backoff: exponential, capped, jittered, reproducible, reset after a healthy run."""

from __future__ import annotations

import random

import pytest

from liqscope.ingest.backoff import Backoff


def test_delays_grow_exponentially_within_jitter_bounds() -> None:
    b = Backoff(base_s=1.0, cap_s=1000.0, factor=2.0, rng=random.Random(1))
    for n in range(8):
        d = b.next_delay()
        nominal = 2.0**n
        assert nominal / 2 <= d <= nominal


def test_delays_are_capped() -> None:
    b = Backoff(base_s=0.5, cap_s=5.0, rng=random.Random(2))
    delays = [b.next_delay() for _ in range(200)]
    assert max(delays) <= 5.0
    assert min(delays[20:]) >= 2.5  # at the cap, the wait is never below half of it


def test_huge_attempt_counts_do_not_overflow() -> None:
    b = Backoff(base_s=0.5, cap_s=5.0)
    assert b.nominal(10_000) == 5.0


def test_jitter_spreads_clients_and_seed_reproduces() -> None:
    a = [Backoff(rng=random.Random(7)).next_delay() for _ in range(1)]
    b = [Backoff(rng=random.Random(7)).next_delay() for _ in range(1)]
    assert a == b
    spread = {Backoff(base_s=4.0, cap_s=4.0, rng=random.Random(s)).next_delay() for s in range(50)}
    assert len(spread) == 50


def test_reset_after_healthy_period_only() -> None:
    b = Backoff(base_s=1.0, cap_s=60.0, healthy_after_s=30.0, rng=random.Random(3))
    for _ in range(5):
        b.next_delay()
    b.connection_ended(uptime_s=5.0)  # short-lived: keep backing off
    assert b.attempts == 5
    assert b.next_delay() >= 16.0
    b.connection_ended(uptime_s=31.0)  # healthy: start again from the base
    assert b.attempts == 0
    assert b.next_delay() <= 1.0


@pytest.mark.parametrize(("base", "cap", "factor"), [(0, 1, 2), (2, 1, 2), (1, 2, 0.5)])
def test_rejects_nonsense(base: float, cap: float, factor: float) -> None:
    with pytest.raises(ValueError):
        Backoff(base_s=base, cap_s=cap, factor=factor)
