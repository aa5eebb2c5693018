"""Spikes of liquidation mass near price: a jump of the USD within ±x % of price against its
own recent level (ratio to the rolling median, or z-score against the rolling mean/std)."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

F64 = NDArray[np.float64]
Method = Literal["ratio", "z"]


def spike_scores(series: ArrayLike, window: int = 60, method: Method = "ratio") -> F64:
    """Causal score of each value against the ``window`` values before it.

    ``ratio``: x / median(previous); ``z``: (x - mean(previous)) / std(previous).
    NaN until ``window // 2`` previous values exist (or when the reference is 0)."""
    x = np.asarray(series, dtype=np.float64)
    n = x.shape[0]
    out = np.full(n, np.nan)
    need = max(window // 2, 2)
    for i in range(need, n):
        prev = x[max(0, i - window) : i]
        out[i] = _score(float(x[i]), prev, method)
    return out


def _score(x: float, prev: F64, method: Method) -> float:
    if method == "ratio":
        med = float(np.median(prev))
        return x / med if med > 0 else (np.inf if x > 0 else np.nan)
    sd = float(prev.std())
    mu = float(prev.mean())
    if sd <= 0:
        return np.inf if x > mu else np.nan
    return (x - mu) / sd


@dataclass
class SpikeTracker:
    """Streaming form of :func:`spike_scores` for one series (used by the alert engine)."""

    window: int = 60
    method: Method = "ratio"

    def __post_init__(self) -> None:
        self._hist: deque[float] = deque(maxlen=self.window)

    def push(self, x: float) -> float:
        """Score ``x`` against the history, then add it; NaN while warming up."""
        need = max(self.window // 2, 2)
        score = float("nan")
        if len(self._hist) >= need:
            score = _score(x, np.fromiter(self._hist, np.float64, len(self._hist)), self.method)
        self._hist.append(x)
        return score

    def __len__(self) -> int:
        return len(self._hist)
