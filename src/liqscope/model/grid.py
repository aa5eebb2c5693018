"""The price grid: linear USD buckets, and the one canonical price -> bucket mapping."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from liqscope.domain.errors import InputError
from liqscope.model import kernels


def nice_step(raw: float) -> float:
    """The smallest of 1, 2, 2.5, 5 x 10^k that is >= ``raw`` (a readable bucket size)."""
    if not math.isfinite(raw) or raw <= 0:
        raise InputError(f"bucket size must be a positive number, got {raw!r}")
    exp = math.floor(math.log10(raw))
    for mult in (1.0, 2.0, 2.5, 5.0, 10.0):
        cand = mult * 10.0**exp
        if cand >= raw * (1 - 1e-12):
            return cand
    return 10.0 ** (exp + 1)  # pragma: no cover - unreachable


@dataclass(frozen=True, slots=True)
class PriceGrid:
    """``n`` buckets of ``step`` USD starting at ``origin``; bucket ``i`` is
    ``[origin + i*step, origin + (i+1)*step)``."""

    origin: float
    step: float
    n: int

    def __post_init__(self) -> None:
        if not (math.isfinite(self.origin) and math.isfinite(self.step) and self.step > 0):
            raise InputError(f"invalid price grid origin={self.origin} step={self.step}")
        if self.n < 1:
            raise InputError(f"a price grid needs at least one bucket, got n={self.n}")

    def index(self, prices: ArrayLike) -> NDArray[np.int64]:
        """Bucket index of each price (unclipped), via the canonical kernel function."""
        arr = np.ascontiguousarray(np.atleast_1d(np.asarray(prices, dtype=np.float64)))
        out = np.empty(arr.shape[0], dtype=np.int64)
        kernels.bucket_index_array(arr.ravel(), float(self.origin), float(self.step), out)
        return out

    def index_of(self, price: float) -> int:
        """Bucket index of one price (unclipped)."""
        return int(kernels.bucket_index(float(price), float(self.origin), float(self.step)))

    @property
    def edges(self) -> NDArray[np.float64]:
        """The ``n + 1`` bucket edges."""
        return self.origin + self.step * np.arange(self.n + 1, dtype=np.float64)

    @property
    def lower_edges(self) -> NDArray[np.float64]:
        """The lower edge of each bucket (``n`` values)."""
        return self.edges[:-1]

    @property
    def top(self) -> float:
        """Upper edge of the last bucket."""
        return self.origin + self.step * self.n

    def aligned_with(self, other: PriceGrid) -> bool:
        """Same bucket size and edges on the same lattice (so one can be padded into the other)."""
        if not math.isclose(self.step, other.step, rel_tol=1e-12):
            return False
        off = (other.origin - self.origin) / self.step
        return abs(off - round(off)) < 1e-6

    def union(self, other: PriceGrid) -> PriceGrid:
        """The smallest aligned grid containing both grids."""
        if not self.aligned_with(other):
            raise InputError(
                "price grids are not aligned (different bucket size or offset); "
                "build the estimates with the same --bucket"
            )
        lo_i = min(0, round((other.origin - self.origin) / self.step))
        hi_i = max(self.n, round((other.origin - self.origin) / self.step) + other.n)
        return PriceGrid(self.origin + lo_i * self.step, self.step, int(hi_i - lo_i))

    def offset_of(self, other: PriceGrid) -> int:
        """Index in this grid of bucket 0 of an aligned ``other`` grid."""
        return round((other.origin - self.origin) / self.step)

    @classmethod
    def covering(
        cls,
        low_min: float,
        high_max: float,
        ratios: ArrayLike,
        *,
        n: int | None = None,
        step: float | None = None,
    ) -> PriceGrid:
        """A grid covering every liquidation level ``entry * ratio`` for entries in
        ``[low_min, high_max]``. Give ``step`` (USD bucket size) or ``n`` (bucket count; the
        step is then rounded up to a readable 1/2/2.5/5 x 10^k value and the origin aligned
        to it, so grids of several venues with the same ``n``-derived step line up)."""
        r = np.asarray(ratios, dtype=np.float64)
        if r.size == 0 or not np.all(np.isfinite(r)) or np.any(r <= 0):
            raise InputError("liquidation ratios must be finite and positive")
        if not (math.isfinite(low_min) and math.isfinite(high_max) and 0 < low_min <= high_max):
            raise InputError(f"invalid price range [{low_min}, {high_max}]")
        lo = low_min * float(min(r.min(), 1.0))
        hi = high_max * float(max(r.max(), 1.0))
        if step is None:
            if n is None or n < 2:
                raise InputError("give a bucket size or a bucket count >= 2")
            st = nice_step(max(hi - lo, 1e-9) / (n - 1))
            origin = math.floor(lo / st) * st
            return cls(origin, st, int(n))
        return cls.spanning(lo, hi, step)

    @classmethod
    def spanning(cls, lo: float, hi: float, step: float) -> PriceGrid:
        """The grid of ``step`` buckets, origin a multiple of ``step``, holding ``[lo, hi]``."""
        if not (math.isfinite(step) and step > 0):
            raise InputError(f"bucket size must be a positive number, got {step!r}")
        if not (math.isfinite(lo) and math.isfinite(hi) and lo <= hi):
            raise InputError(f"invalid price range [{lo}, {hi}]")
        origin = math.floor(lo / step) * step
        count = math.floor((hi - origin) / step) + 1
        return cls(origin, float(step), int(count))
