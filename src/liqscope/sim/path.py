"""One market path for several venues: the leader venue's mark, followed by the others.

Real perpetuals of one asset on different venues trade within a few basis points of each
other because arbitrage ties them together. ``SharedPath`` runs a private copy of the leader
venue's market (same config and seed, so bit-identical to the one being served) and hands its
per-second log-mark steps to follower markets (``Market(..., path=shared)``), which follow them
instead of their own random walk. A follower's own flow still moves its price, but only
transiently (its impact decays quickly), so the basis stays within a few basis points while
each venue keeps its own crowd, liquidations and cascades. Deterministic: the path depends
only on the leader's config and seed.
"""

from __future__ import annotations

import math
import threading

import numpy as np

from liqscope.sim.config import BLOCK_S, F64, SimConfig
from liqscope.sim.market import Market
from liqscope.sim.trace import TraceChunk

__all__ = ["SharedPath"]


class SharedPath:
    """The leader market's fair-price path as per-second steps of ``log(fair / initial_price)``.

    The fair price at the end of each second is recovered exactly from the published marks
    (mark = exponential average of fair: ``mark[s+1] = mark[s] + a · (fair[s] - mark[s])``).

    ``followers`` markets will follow it; each registers (``register``, at construction) and
    asks for its blocks in order. Blocks before the slowest follower's are dropped
    (``keep_blocks`` more are kept), never before every follower has registered."""

    def __init__(
        self, config: SimConfig, seed: int, *, followers: int = 1, keep_blocks: int = 2
    ) -> None:
        self.config = config
        self.seed = int(seed)
        self._leader = Market(config, seed, keep_warmup=True)
        self._origin = config.start_ms - 1000 * config.warmup_s
        self._p0 = config.initial_price
        self._a = 1.0 - math.exp(-1.0 / config.mark_tau_s)
        self._keep = max(1, int(keep_blocks))
        # follower key -> the last block it asked for (-1: none yet)
        self._asked: dict[int, int] = {k: -1 for k in range(max(1, int(followers)))}
        self._registered = 0
        self._first = 0  # second index (from origin) of self._mark[0]
        self._mark: F64 = np.zeros(0)  # the leader's mark at each second's snapshot
        self._before = 0.0  # log(fair / p0) at the end of the second before self._first
        self._lock = threading.Lock()
        if self._leader.warmup_chunk is not None:
            self._append(self._leader.warmup_chunk)
            self._leader.warmup_chunk = None

    @property
    def origin_ms(self) -> int:
        return self._origin

    def register(self) -> int:
        """A key for a new follower (its blocks are kept until it has asked for them)."""
        with self._lock:
            key = self._registered
            self._registered += 1
            self._asked.setdefault(key, -1)
            return key

    def _append(self, chunk: TraceChunk) -> None:
        self._mark = np.concatenate([self._mark, chunk.mark_px])

    def _log_fair(self, lo: int, n: int) -> F64:
        """``log(fair / p0)`` at the end of the ``n`` seconds from buffer index ``lo``."""
        m = self._mark[lo : lo + n + 1]
        return np.log((m[:-1] + np.diff(m) / self._a) / self._p0)

    def steps(self, block: int, key: int = -1) -> F64:
        """Steps for the seconds of ``block`` (asked by follower ``key``): after step ``s`` the
        driver is at the leader's fair price at the end of second ``s``, as the leader's is."""
        with self._lock:
            if key in self._asked:
                self._asked[key] = max(self._asked[key], block)
            end = (block + 1) * BLOCK_S + 1  # one more snapshot closes the block's last second
            if end > self._first + self._mark.shape[0]:
                self._append(self._leader.advance(self._origin + 1000 * end))
            lo = block * BLOCK_S - self._first
            if lo < 0:
                raise ValueError(f"shared path block {block} was already dropped")
            prev = float(self._log_fair(lo - 1, 1)[0]) if lo > 0 else self._before
            out = np.diff(self._log_fair(lo, BLOCK_S), prepend=prev)
            slowest = min(self._asked.values(), default=block)
            drop = (slowest - self._keep) * BLOCK_S - self._first
            if drop > 0:  # forget blocks every follower is past
                self._before = float(self._log_fair(drop - 1, 1)[0])
                self._mark = self._mark[drop:].copy()
                self._first += drop
            return out
