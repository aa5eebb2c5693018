"""Pure aggregations: buckets (weeks start Monday) and realized liquidations per side."""

from __future__ import annotations

import numpy as np
import pytest

from liqscope.domain.errors import InputError
from liqscope.domain.intervals import WEEK_MS, interval_ms
from liqscope.store.queries import asof, bucket_floor, realized

T0 = 1_722_816_000_000  # Monday 2024-08-05 00:00 UTC


def test_week_buckets_start_on_monday() -> None:
    assert bucket_floor(T0 + 3 * 86_400_000, WEEK_MS) == T0
    assert bucket_floor(T0 - 1, WEEK_MS) == T0 - WEEK_MS


def test_interval_names() -> None:
    assert interval_ms("4h") == 4 * 3_600_000
    with pytest.raises(InputError, match="unknown interval"):
        interval_ms("7m")


def test_realized_sums_per_side_and_flags_sampled() -> None:
    ts = np.array([T0 + 10, T0 + 20, T0 + 3_600_000 + 5, T0 + 7_200_000], dtype=np.int64)
    side = np.array([1, -1, 1, 1], dtype=np.int64)
    usd = np.array([100.0, 50.0, 7.0, 1.0])
    sampled = np.array([True, True, False, False])
    bars = realized(ts, side, usd, sampled, T0, T0 + 7_200_000, 3_600_000)
    assert list(bars.ts) == [T0, T0 + 3_600_000]  # the last event is outside [t0, t1)
    assert list(bars.long_usd) == [100.0, 7.0] and list(bars.short_usd) == [50.0, 0.0]
    assert list(bars.count_long) == [1, 1] and list(bars.count_short) == [1, 0]
    assert list(bars.sampled) == [True, False]


def test_asof_forward_fills() -> None:
    out = asof(np.array([10, 20]), np.array([1.0, 2.0]), np.array([5, 10, 15, 25]))
    assert np.isnan(out[0]) and list(out[1:]) == [1.0, 1.0, 2.0]
