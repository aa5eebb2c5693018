"""The caches of computed values: an LRU with single flight, one value per view and data
version, the latest-value-with-background-refresh of expensive views, the CPU budget, and
the bound on the server's heap growth."""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any, Generic, TypeVar

from liqscope.api.encoding import Body
from liqscope.api.errors import ApiError

__all__ = ["Budget", "Cache", "Latest", "bound_heap"]

log = logging.getLogger(__name__)
T = TypeVar("T")


class Cache:
    """A small LRU of computed values; concurrent misses on one key compute once."""

    def __init__(self, max_items: int, max_bytes: int | None = None) -> None:
        self._max = max_items
        self._max_bytes = max_bytes
        self._bytes = 0
        self._items: OrderedDict[Hashable, Any] = OrderedDict()
        self._lock = threading.Lock()
        self._flights: dict[Hashable, threading.Lock] = {}
        self.hits = 0
        self.misses = 0

    def peek(self, key: Hashable) -> Any:
        """The value held for ``key`` (None when there is none); no computation."""
        with self._lock:
            return self._items.get(key)

    def touch(self, key: Hashable) -> None:
        """Count a hit on ``key`` and keep it from eviction."""
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                self.hits += 1

    def get_or_compute(self, key: Hashable, compute: Callable[[], T]) -> T:
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                self.hits += 1
                return self._items[key]  # type: ignore[no-any-return]  # one type per key
            flight = self._flights.setdefault(key, threading.Lock())
        with flight:
            with self._lock:
                if key in self._items:
                    self.hits += 1
                    return self._items[key]  # type: ignore[no-any-return]  # as above
            try:
                value = compute()
            finally:
                with self._lock:
                    self._flights.pop(key, None)
            self.put(key, value)
            return value

    def get_versioned(self, key: Hashable, version: Hashable, compute: Callable[[], T]) -> T:
        """The value of ``key`` at ``version``: one held per key, a new version replaces the
        old one (so memory holds one value per key), computed once for concurrent callers."""
        held = self.peek(key)
        if held is not None and held[0] == version:
            self.touch(key)
            return held[1]  # type: ignore[no-any-return]  # (version, T)
        with self._lock:
            flight = self._flights.setdefault((key, version), threading.Lock())
        with flight:
            held = self.peek(key)
            if held is not None and held[0] == version:
                return held[1]  # type: ignore[no-any-return]  # as above
            try:
                value = compute()
                self.put(key, (version, value))
            finally:
                with self._lock:
                    self._flights.pop((key, version), None)
            return value

    def put(self, key: Hashable, value: Any) -> None:
        with self._lock:
            self.misses += 1
            old = self._items.pop(key, None)
            if old is not None:
                self._bytes -= self._size(old)
            self._items[key] = value
            self._bytes += self._size(value)
            while len(self._items) > 1 and (
                len(self._items) > self._max
                or (self._max_bytes is not None and self._bytes > self._max_bytes)
            ):
                _, gone = self._items.popitem(last=False)
                self._bytes -= self._size(gone)

    def _size(self, value: Any) -> int:
        if self._max_bytes is None:
            return 0
        if isinstance(value, tuple) and len(value) == 2:  # (version, body) of Latest
            value = value[1]
        return len(value) if isinstance(value, bytes | Body) else 0

    def __len__(self) -> int:
        return len(self._items)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self._bytes = 0


class Latest(Generic[T]):
    """The latest value per view, refreshed in the background when its data version moves.

    ``get(view, version, compute)``: the value for ``version`` when held; otherwise, when an
    older version of the view is held, that one (after waiting at most ``wait_s`` for the
    fresh one) while one background thread computes the new one: readers never queue behind
    a writer's new rows. A view never seen is computed in the caller (once for concurrent
    callers). A view is refreshed at most every ``min_interval_s``, or ``cost_factor`` times
    its last computation time when that is longer: a writer storing rows all the time costs
    a bounded share of the CPU per view, not one recomputation per row. Values live in
    ``cache`` as ``(version, value)`` under ``view``.
    """

    cost_factor = 5.0

    def __init__(self, cache: Cache, wait_s: float = 0.05, min_interval_s: float = 1.0) -> None:
        self.cache = cache
        self._lock = threading.Lock()
        self._flights: dict[Hashable, threading.Lock] = {}
        self._running: dict[Hashable, threading.Event] = {}
        self._stamps: dict[Hashable, float] = {}
        self.wait_s = wait_s
        self.min_interval_s = min_interval_s

    def _put(self, view: Hashable, version: Hashable, value: T, cost_s: float) -> None:
        self.cache.put(view, (version, value))
        with self._lock:
            if len(self._stamps) > 4096:
                self._stamps.clear()
            pause = max(self.min_interval_s, self.cost_factor * cost_s)
            self._stamps[view] = time.monotonic() + pause  # no refresh before then

    def _timed(self, compute: Callable[[], T]) -> tuple[T, float]:
        t = time.monotonic()
        value = compute()
        return value, time.monotonic() - t

    def _held(self, view: Hashable) -> tuple[Hashable, T] | None:
        held: tuple[Hashable, T] | None = self.cache.peek(view)
        return held

    def get(self, view: Hashable, version: Hashable, compute: Callable[[], T]) -> T:
        held = self._held(view)
        if held is not None and held[0] == version:
            self.cache.touch(view)
            return held[1]
        if held is None:
            with self._lock:
                flight = self._flights.setdefault(view, threading.Lock())
            with flight:
                again = self._held(view)
                if again is not None and again[0] == version:
                    return again[1]
                try:
                    value, cost = self._timed(compute)
                finally:
                    with self._lock:
                        self._flights.pop(view, None)
                self._put(view, version, value, cost)
                return value
        with self._lock:
            recent = time.monotonic() < self._stamps.get(view, 0.0)
            done = self._running.get(view)
            if done is None and recent:
                return held[1]
            if done is None:
                done = self._running[view] = threading.Event()
                threading.Thread(
                    target=self._refresh, args=(view, version, compute, done), daemon=True
                ).start()
        if done.wait(self.wait_s):
            fresh = self._held(view)
            if fresh is not None:
                return fresh[1]
        return held[1]

    def _refresh(
        self, view: Hashable, version: Hashable, compute: Callable[[], T], done: threading.Event
    ) -> None:
        try:
            self._put(view, version, *self._timed(compute))
        except ApiError:
            pass  # the view's next request reports it
        except Exception:
            log.exception("api: background refresh failed")
        finally:
            with self._lock:
                self._running.pop(view, None)
            done.set()


class Budget:
    """At most ``slots`` expensive computations at once; a caller waits up to ``wait_s`` for
    a slot, then gets 429 (busy) rather than piling work onto the machine."""

    def __init__(self, slots: int, wait_s: float) -> None:
        self._sem = threading.BoundedSemaphore(max(1, slots))
        self.wait_s = wait_s

    def run(self, compute: Callable[[], T], what: str = "request") -> T:
        if not self._sem.acquire(timeout=self.wait_s):
            raise ApiError(429, None, f"server busy computing other {what}s: retry shortly")
        try:
            return compute()
        finally:
            self._sem.release()


_M_MMAP_THRESHOLD, _M_ARENA_MAX = -3, -8  # glibc mallopt parameters (malloc.h)
MMAP_THRESHOLD = 128 * 1024  # blocks from this size on are mapped, and unmapped when freed
ARENA_MAX = 2  # heaps shared by the server's threads


def bound_heap() -> bool:
    """Keep the process's RSS at what it holds (glibc): refreshes allocate and free arrays
    of 1-100 MB from many threads; with glibc's defaults (a mapping threshold that grows
    with the blocks freed, a heap per thread up to 8 per core) the freed memory stays in
    the heaps and RSS creeps up under a writer (0.58 -> 0.90 GB in 60 s on the 30-day
    view; 0.48 -> 0.55 GB, flat, with these). False where it does not apply."""
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name) if name else None
        mallopt = None if libc is None else libc.mallopt
    except (OSError, AttributeError):
        return False
    if mallopt is None:
        return False
    done = [int(mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)), int(mallopt(_M_ARENA_MAX, ARENA_MAX))]
    return done == [1, 1]
