"""The data/cache layer between the store + model and HTTP.

Every public method takes already type-checked parameters, validates their meaning (raising
``ApiError`` that names the parameter), reads through the ``Backend`` and returns the JSON body
as bytes. Bodies are cached under (endpoint, normalised parameters, data version): a repeated
view is served from memory until something new is stored for the markets it shows.

Heatmaps come in two encodings of one cached computation: ``format=json`` (``z`` as nested
lists, the default for API users) and ``format=bin`` (what the web UI asks for: ``z`` as
float16 relative to ``scale``, delta-coded along time, zlib-compressed, base64; ``z_long`` as
the long share of each cell in 1/255). See ``encode_bin`` and docs/api.md.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import math
import threading
import time
import zlib
from collections import OrderedDict
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

import numpy as np
import orjson

from liqscope.api.backend import F64, I64, Backend, Estimate, Grid, MarketInfo
from liqscope.domain.clock import SYSTEM_CLOCK, Clock
from liqscope.domain.errors import InputError
from liqscope.domain.intervals import DAY_MS as DAY
from liqscope.domain.intervals import HOUR_MS as HOUR
from liqscope.domain.intervals import INTERVALS, interval_ms
from liqscope.domain.intervals import MINUTE_MS as MINUTE

RANGES: dict[str, int] = {
    "12h": 12 * HOUR,
    "24h": DAY,
    "3d": 3 * DAY,
    "7d": 7 * DAY,
    "30d": 30 * DAY,
    "90d": 90 * DAY,
    "180d": 180 * DAY,
    "1y": 365 * DAY,
}
# Model step used for a heatmap when the request names none: fine enough to follow the path,
# coarse enough that a long range stays a few thousand columns.
_DEFAULT_STEP: list[tuple[int, int]] = [
    (DAY, MINUTE),
    (7 * DAY, 5 * MINUTE),
    (30 * DAY, 15 * MINUTE),
    (180 * DAY, HOUR),
]
MAX_COLUMNS_COMPUTED = 600_000  # model steps in one request (1 year of 1-minute steps)
MAX_BARS = 20_000
MAX_POINTS = 20_000
WARMUP_CAP = 7 * DAY
SIDES = {"long": 1, "short": -1}
UNITS = ("usd", "relative")
FORMATS = ("json", "bin")
CACHE_BYTES = 768 * 1024 * 1024  # bodies kept in memory at most
PRICE_DIGITS = 10  # significant digits of the candle prices sent with a heatmap
GZIP_MIN = 4096  # smaller bodies are sent as they are
GZIP_LEVEL = 6  # once per cached body, never per request

_JSON_OPTS = orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS


class ApiError(Exception):
    """A problem with a request: ``status`` 422 names ``param``; 404 for unknown things."""

    def __init__(self, status: int, param: str | None, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.param = param
        self.message = message


def dumps(obj: Any) -> bytes:
    """JSON bytes; numpy arrays and NaN (as null) handled."""
    return orjson.dumps(obj, option=_JSON_OPTS)


def parse_time(value: str, param: str) -> int:
    """Epoch milliseconds from an integer (ms, or s when < 1e11) or an ISO 8601 text."""
    text = value.strip()
    try:
        number = float(text)
    except ValueError:
        number = math.nan
    if math.isfinite(number):
        ms = int(number * 1000) if abs(number) < 1e11 else int(number)
    else:
        try:
            dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            raise ApiError(
                422, param, f"{param} must be epoch milliseconds or ISO 8601, got {value!r}"
            ) from None
        if dt.tzinfo is None:
            dt = dt.replace(tzinfo=UTC)
        ms = int(dt.timestamp() * 1000)
    if not 0 <= ms <= 4_102_444_800_000:  # 1970 .. 2100
        raise ApiError(422, param, f"{param} is out of range (1970..2100)")
    return ms


def parse_interval(value: str, param: str = "interval") -> int:
    try:
        return interval_ms(value.strip().lower())
    except InputError:
        raise ApiError(
            422, param, f"{param} must be one of {', '.join(INTERVALS)}, got {value!r}"
        ) from None


def column_width(start: int, end: int, columns: int, step: int) -> int:
    """Width of heatmap columns: the model's readable ladder, at least one step, a multiple."""
    from liqscope.model.estimator import column_width_ms

    width = max(column_width_ms(start, max(start, end - 1), max(1, columns)), step)
    return -(-width // step) * step


def default_step(span_ms: int) -> int:
    for limit, step in _DEFAULT_STEP:
        if span_ms <= limit:
            return step
    return 4 * HOUR


# ---------------------------------------------------------------------------------------------
# Reduction to screen resolution


def reduce_rows(edges: F64, matrix: F64, max_rows: int) -> tuple[F64, F64]:
    """Sum adjacent price buckets so there are at most ``max_rows``; edges merge accordingly."""
    n = matrix.shape[0]
    if n <= max_rows or n == 0:
        return edges, matrix
    factor = math.ceil(n / max_rows)
    starts = np.arange(0, n, factor)
    reduced = np.add.reduceat(matrix, starts, axis=0)
    new_edges = np.append(edges[starts], edges[-1])
    return new_edges, reduced


def reduce_columns(ts: I64, matrix: F64, max_cols: int) -> tuple[I64, F64, I64]:
    """Merge adjacent time columns so there are at most ``max_cols``.

    Heatmap values are a stock (open notional at a time), so merged columns take the *mean*:
    the colour bar stays in USD whatever the zoom. Returns (column starts, matrix, group starts).
    """
    n = matrix.shape[1] if matrix.ndim == 2 else 0
    if n <= max_cols or n == 0:
        return ts, matrix, np.arange(n, dtype=np.int64)
    factor = math.ceil(n / max_cols)
    starts = np.arange(0, n, factor, dtype=np.int64)
    sums = np.add.reduceat(matrix, starts, axis=1)
    counts = np.diff(np.append(starts, n)).astype(np.float64)
    return ts[starts], sums / counts, starts


@dataclass(frozen=True)
class Window:
    start: int
    end: int
    range_label: str | None


@dataclass(frozen=True, eq=False)
class Body:
    """A response body encoded once and cached: the bytes, their gzip (``None`` when small or
    not smaller) and a validator (``ETag``), so a repeated view costs neither serialization
    nor compression, and a revalidation (``If-None-Match``) sends no body at all."""

    raw: bytes
    gzip: bytes | None
    etag: str

    @classmethod
    def of(cls, raw: bytes) -> Body:
        packed: bytes | None = None
        if len(raw) >= GZIP_MIN:
            packed = gzip.compress(raw, GZIP_LEVEL, mtime=0)
            if len(packed) > len(raw) * 0.95:
                packed = None
        # weak: the raw and gzip representations carry the same validator
        etag = 'W/"' + hashlib.blake2b(raw, digest_size=12).hexdigest() + '"'
        return cls(raw, packed, etag)

    def __len__(self) -> int:
        return len(self.raw) + (len(self.gzip) if self.gzip is not None else 0)


# ---------------------------------------------------------------------------------------------
# Cache with single flight: one computation per key even under concurrent identical requests

T = TypeVar("T")


class Cache:
    """A small LRU of computed values; concurrent misses on one key compute once."""

    def __init__(self, max_items: int, max_bytes: int | None = None) -> None:
        self._max = max_items
        self._max_bytes = max_bytes
        self._bytes = 0  # sum of len() of the bytes values held (when max_bytes is set)
        self._items: OrderedDict[Hashable, Any] = OrderedDict()
        self._lock = threading.Lock()
        self._flights: dict[Hashable, threading.Lock] = {}
        self.hits = 0
        self.misses = 0

    def get_or_compute(self, key: Hashable, compute: Callable[[], T]) -> T:
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                self.hits += 1
                return self._items[key]  # type: ignore[no-any-return]  # values keyed by type
            flight = self._flights.setdefault(key, threading.Lock())
        with flight:
            with self._lock:
                if key in self._items:
                    self.hits += 1
                    return self._items[key]  # type: ignore[no-any-return]  # as above
            try:
                value = compute()
            except BaseException:
                with self._lock:
                    self._flights.pop(key, None)
                raise
            with self._lock:
                self.misses += 1
                self._items[key] = value
                self._bytes += self._size(value)
                self._items.move_to_end(key)
                while len(self._items) > 1 and (
                    len(self._items) > self._max
                    or (self._max_bytes is not None and self._bytes > self._max_bytes)
                ):
                    _, old = self._items.popitem(last=False)
                    self._bytes -= self._size(old)
                self._flights.pop(key, None)
            return value

    def _size(self, value: Any) -> int:
        if self._max_bytes is None or not isinstance(value, bytes | Body):
            return 0
        return len(value)

    def __len__(self) -> int:
        return len(self._items)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self._bytes = 0


# ---------------------------------------------------------------------------------------------


class Service:
    """Everything the HTTP routes and the WebSocket hub read, validated and cached."""

    def __init__(self, backend: Backend, clock: Clock = SYSTEM_CLOCK, cache_items: int = 256):
        self.backend = backend
        self.clock = clock
        self.responses = Cache(cache_items, CACHE_BYTES)
        self.estimates = Cache(8)
        self.heatmap_parts = Cache(8)  # reduced matrices, shared by the json and bin encodings
        self.started_ms = clock.now_ms()

    # -- resolution of names -------------------------------------------------------------------

    def market_infos(self) -> list[MarketInfo]:
        return self.backend.markets()

    def known_venues(self) -> list[str]:
        from liqscope.domain.types import Venue

        return [v.value for v in Venue]

    def resolve_market(self, symbol: str) -> tuple[str, list[MarketInfo]]:
        """The stored market for ``symbol`` (market or any venue's native name)."""
        wanted = symbol.strip().upper()
        infos = self.market_infos()
        hits = [m for m in infos if m.market.upper() == wanted]
        if not hits:
            native = [m for m in infos if m.native_symbol.upper() == wanted]
            if native:
                hits = [m for m in infos if m.market == native[0].market]
        if not hits:
            known = sorted({m.market for m in infos})
            listed = ", ".join(known) if known else "none stored yet"
            raise ApiError(404, "symbol", f"unknown symbol {symbol!r} (known: {listed})")
        return hits[0].market, hits

    def resolve_venues(
        self, venues: str | None, market: str, infos: list[MarketInfo]
    ) -> tuple[list[str], bool]:
        """Venue names and whether this is the aggregate (``all``)."""
        available = [m.venue for m in infos]
        if venues is None or venues.strip().lower() in ("", "all"):
            return available, len(available) > 1 or (venues or "").strip().lower() == "all"
        out: list[str] = []
        for part in venues.split(","):
            name = part.strip().lower()
            if not name:
                continue
            if name not in self.known_venues():
                raise ApiError(
                    422,
                    "venues",
                    f"unknown venue {part.strip()!r} (expected all or a comma list of "
                    f"{', '.join(self.known_venues())})",
                )
            if name not in available:
                raise ApiError(
                    404,
                    "venues",
                    f"no data for {market} on {name} (stored on: {', '.join(available)})",
                )
            if name not in out:
                out.append(name)
        if not out:
            raise ApiError(422, "venues", "venues is empty")
        return out, len(out) > 1

    def resolve_window(
        self,
        range_: str | None,
        start: str | None,
        end: str | None,
        venues: Sequence[str],
        market: str,
        default_range: str = "24h",
    ) -> Window:
        """[start, end) from an explicit start/end or a range ending at the latest data."""
        t_end = parse_time(end, "end") if end is not None else None
        t_start = parse_time(start, "start") if start is not None else None
        label: str | None = None
        if range_ is not None and range_.strip().lower() != "custom":
            key = range_.strip().lower()
            if key not in RANGES:
                raise ApiError(
                    422, "range", f"range must be one of {', '.join(RANGES)}, got {range_!r}"
                )
            label = key
        if t_start is not None and t_end is not None and label is None:
            pass
        else:
            span = RANGES[label or default_range]
            if label is None and t_start is None and t_end is None:
                label = default_range
            if t_end is None and t_start is not None:
                t_end = t_start + span
            if t_end is None:
                t_end = self._latest_end(venues, market)
            if t_start is None:
                t_start = t_end - span
        assert t_start is not None and t_end is not None
        if t_end <= t_start:
            raise ApiError(422, "end", "end must be after start")
        return Window(t_start, t_end, label)

    def _latest_end(self, venues: Sequence[str], market: str) -> int:
        rng = self.backend.data_range(venues, market)
        return self.clock.now_ms() if rng is None else rng[1] + MINUTE

    def _version(self, venues: Sequence[str], market: str) -> tuple[int, ...]:
        return self.backend.data_version(venues, market)

    def resolve_tiers(self, tiers: str | None) -> list[str]:
        available = self.backend.tiers()
        if tiers is None or tiers.strip().lower() in ("", "all"):
            return list(available)
        norm = {t.lower().rstrip("x"): t for t in available}
        out: list[str] = []
        for part in tiers.split(","):
            key = part.strip().lower().rstrip("x")
            if not key:
                continue
            if key not in norm:
                raise ApiError(
                    422,
                    "tiers",
                    f"unknown tier {part.strip()!r} (expected all or a comma list of "
                    f"{', '.join(available)})",
                )
            if norm[key] not in out:
                out.append(norm[key])
        if not out:
            raise ApiError(422, "tiers", "tiers is empty")
        return [t for t in available if t in out]

    @staticmethod
    def resolve_sides(sides: str | None) -> list[int]:
        if sides is None or sides.strip().lower() in ("", "all", "both"):
            return [1, -1]
        out: list[int] = []
        for part in sides.split(","):
            key = part.strip().lower()
            if not key:
                continue
            if key not in SIDES:
                raise ApiError(422, "sides", f"sides must be long, short or both, got {part!r}")
            if SIDES[key] not in out:
                out.append(SIDES[key])
        if not out:
            raise ApiError(422, "sides", "sides is empty")
        return out

    def resolve_preset(self, preset: str | None) -> str:
        presets = self.backend.presets()
        if preset is None or not preset.strip():
            return presets[0]
        key = preset.strip().lower()
        if key not in presets:
            raise ApiError(
                422, "preset", f"unknown preset {preset!r} (expected one of {', '.join(presets)})"
            )
        return key

    # -- provenance -----------------------------------------------------------------------------

    def provenance(self, venues: Sequence[str], market: str) -> dict[str, Any]:
        now = self.clock.now_ms()
        by_key = {(c.venue, c.market): c for c in self.backend.coverage()}
        out = []
        for venue in venues:
            cov = by_key.get((venue, market))
            if cov is None:
                continue
            age = None if cov.last_message_ms is None else max(0, now - cov.last_message_ms) / 1000
            out.append(
                {
                    "venue": venue,
                    "native_symbol": cov.native_symbol,
                    "feed": "sampled" if cov.sampled else "complete",
                    "lower_bound": cov.sampled,
                    "last_ts": cov.last_ts,
                    "last_message_age_s": age,
                    "gaps": [list(g) for g in cov.gaps],
                }
            )
        return {
            "venues": out,
            "lower_bound": any(v["lower_bound"] for v in out),
            "generated_ms": now,
        }

    # -- heatmap --------------------------------------------------------------------------------

    def _estimate(
        self,
        venues: Sequence[str],
        market: str,
        window: Window,
        step: int,
        preset: str,
        columns: int = 256,
    ) -> tuple[Estimate | None, int]:
        """The model run covering ``window`` (with warm-up before it), cached; snapshot
        columns are as wide as ``columns`` columns over the window need."""
        span = window.end - window.start
        steps = span // step
        if steps > MAX_COLUMNS_COMPUTED:
            raise ApiError(
                422,
                "interval",
                f"{steps} model steps requested (limit {MAX_COLUMNS_COMPUTED}): "
                "choose a coarser interval or a shorter range",
            )
        rng = self.backend.data_range(venues, market)
        warm_start = window.start - min(span // 2, WARMUP_CAP)
        if rng is not None:
            warm_start = max(warm_start, rng[0] // step * step)
        t0 = min(warm_start // step * step, window.start // step * step)
        t1 = -(-window.end // step) * step
        col_ms = column_width(window.start, window.end, columns, step)
        version = self._version(venues, market)
        key = ("estimate", tuple(venues), market, t0, t1, step, preset, col_ms, version)
        est = self.estimates.get_or_compute(
            key, lambda: self.backend.estimate(venues, market, t0, t1, step, preset, col_ms)
        )
        return est, step

    def heatmap(
        self,
        symbol: str,
        venues: str | None,
        range_: str | None,
        start: str | None,
        end: str | None,
        interval: str | None,
        width: int,
        height: int,
        tiers: str | None,
        sides: str | None,
        preset: str | None,
        units: str,
        split: bool,
        fmt: str = "json",
    ) -> bytes:
        """The heatmap body (see ``heatmap_body``)."""
        return self.heatmap_body(
            symbol,
            venues,
            range_,
            start,
            end,
            interval,
            width,
            height,
            tiers,
            sides,
            preset,
            units,
            split,
            fmt,
        ).raw

    def heatmap_body(
        self,
        symbol: str,
        venues: str | None,
        range_: str | None,
        start: str | None,
        end: str | None,
        interval: str | None,
        width: int,
        height: int,
        tiers: str | None,
        sides: str | None,
        preset: str | None,
        units: str,
        split: bool,
        fmt: str = "json",
    ) -> Body:
        """The heatmap as a cached ``Body`` (bytes, gzip, ETag): a repeated view is a few
        dictionary look-ups; the cache key holds the data version."""
        market, infos = self.resolve_market(symbol)
        venue_list, aggregate = self.resolve_venues(venues, market, infos)
        window = self.resolve_window(range_, start, end, venue_list, market)
        tier_list = self.resolve_tiers(tiers)
        side_list = self.resolve_sides(sides)
        preset_name = self.resolve_preset(preset)
        unit = self._units(units)
        encoding = self._format(fmt)
        step = (
            parse_interval(interval)
            if interval is not None
            else default_step(window.end - window.start)
        )
        version = self._version(venue_list, market)
        parts_key = (
            market,
            tuple(venue_list),
            window.start,
            window.end,
            step,
            width,
            height,
            tuple(tier_list),
            tuple(side_list),
            preset_name,
            unit,
            split,
            version,
        )

        def compute() -> Body:
            parts = self.heatmap_parts.get_or_compute(
                parts_key,
                lambda: self._heatmap(
                    market,
                    venue_list,
                    aggregate,
                    window,
                    step,
                    width,
                    height,
                    tier_list,
                    side_list,
                    preset_name,
                    unit,
                    split,
                    version,
                ),
            )
            return Body.of(parts.encode(encoding))

        # the encoded (and gzipped) bytes are cached: a repeated view is one dict look-up
        return self.responses.get_or_compute(("heatmap", encoding, *parts_key), compute)

    @staticmethod
    def _format(fmt: str) -> str:
        key = fmt.strip().lower()
        if key not in FORMATS:
            raise ApiError(422, "format", f"format must be json or bin, got {fmt!r}")
        return key

    @staticmethod
    def _units(units: str) -> str:
        unit = units.strip().lower()
        if unit not in UNITS:
            raise ApiError(422, "units", f"units must be usd or relative, got {units!r}")
        return unit

    def _window_grid(self, est: Estimate, tiers: list[str], sides: list[int], w: Window) -> Grid:
        grid = est.grid(tiers, sides, False)
        ts = np.asarray(grid.column_ts, dtype=np.int64)
        keep = (ts >= w.start) & (ts < w.end)
        matrix = np.asarray(grid.matrix, dtype=np.float64)
        if matrix.ndim != 2:
            matrix = np.zeros((max(0, grid.bucket_edges.size - 1), 0))
        return Grid(ts[keep], np.asarray(grid.bucket_edges, np.float64), matrix[:, keep])

    def _heatmap(
        self,
        market: str,
        venues: list[str],
        aggregate: bool,
        window: Window,
        step: int,
        width: int,
        height: int,
        tiers: list[str],
        sides: list[int],
        preset: str,
        unit: str,
        split: bool,
        version: tuple[int, ...],
    ) -> HeatmapParts:
        est, step = self._estimate(venues, market, window, step, preset, width)
        body: dict[str, Any] = {
            "symbol": market,
            "venues": venues,
            "aggregate": aggregate,
            "start": window.start,
            "end": window.end,
            "range": window.range_label,
            "interval_ms": step,
            "column_ms": step,
            "preset": preset,
            "tiers": tiers,
            "sides": ["long" if s == 1 else "short" for s in sides],
            "units": unit,
            "units_label": "USD notional per price bucket"
            if unit == "usd"
            else "share of the largest cell in view (0..1)",
            "ts": [],
            "bucket_edges": [],
            "z": [],
            "z_long": None,
            "max": 0.0,
            "candles": {"ts": [], "open": [], "high": [], "low": [], "close": []},
            "model_version": None,
            "data_version": list(version),
            "provenance": self.provenance(venues, market),
            "note": None,
        }
        if est is None:
            body["note"] = "no stored data for this market and window"
            return HeatmapParts(body, None, None, unit)
        body["model_version"] = est.model_version
        skipped = [v for v in getattr(est, "skipped", []) if v in venues]
        used = [v for v in venues if v not in skipped]
        notes: list[str] = []
        if skipped:
            body["provenance"]["skipped_venues"] = skipped
            notes.append(
                f"no candles or open interest for {', '.join(skipped)} in this window: "
                f"the heatmap shows {', '.join(used)}"
            )
        grid = self._window_grid(est, tiers, sides, window)
        if grid.column_ts.size == 0:
            body["note"] = "no model columns in this window"
            return HeatmapParts(body, None, None, unit)
        edges, matrix = reduce_rows(grid.bucket_edges, grid.matrix, height)
        ts, matrix, starts = reduce_columns(grid.column_ts, matrix, width)
        native = int(grid.column_ts[1] - grid.column_ts[0]) if grid.column_ts.size > 1 else step
        col_ms = native * (int(starts[1] - starts[0]) if starts.size > 1 else 1)
        if int(ts[0]) > window.start + col_ms:
            notes.append(
                "stored data starts at "
                + datetime.fromtimestamp(int(ts[0]) / 1000, UTC).strftime("%Y-%m-%d %H:%MZ")
                + ": the heatmap covers the part of the window with data"
            )
        z_long = None
        if split and sides == [1, -1]:
            lg = self._window_grid(est, tiers, [1], window)
            _, lm = reduce_rows(lg.bucket_edges, lg.matrix, height)
            _, lm, _ = reduce_columns(lg.column_ts, lm, width)
            z_long = lm
        peak = float(np.nanmax(matrix)) if matrix.size else 0.0
        if unit == "relative" and peak > 0:
            matrix = matrix / peak
            if z_long is not None:
                z_long = z_long / peak
        body.update(
            ts=ts,
            column_ms=col_ms,
            bucket_edges=edges,
            max=peak if unit == "usd" else 1.0,
            max_usd=peak,
            candles=self._column_candles(used[0] if used else venues[0], market, ts, col_ms, step),
            note="; ".join(notes) or None,
        )
        return HeatmapParts(body, matrix, z_long, unit)

    def _column_candles(
        self, venue: str, market: str, col_ts: I64, col_ms: int, step: int
    ) -> dict[str, Any]:
        """OHLC per heatmap column from the stored candles of ``venue``."""
        if col_ts.size == 0:
            return {"ts": [], "open": [], "high": [], "low": [], "close": []}
        c = self.backend.candles(venue, market, int(col_ts[0]), int(col_ts[-1]) + col_ms, step)
        n = col_ts.size
        o = np.full(n, np.nan)
        h = np.full(n, np.nan)
        lo = np.full(n, np.nan)
        cl = np.full(n, np.nan)
        if len(c):
            idx = np.searchsorted(col_ts, c.ts, side="right") - 1
            ok = (idx >= 0) & (c.ts < int(col_ts[-1]) + col_ms)
            idx, co, ch, clo, cc = idx[ok], c.open[ok], c.high[ok], c.low[ok], c.close[ok]
            if idx.size:
                np.fmax.at(h, idx, ch)
                np.fmin.at(lo, idx, clo)
                first = np.unique(idx, return_index=True)
                o[first[0]] = co[first[1]]
                rev = idx[::-1]
                last = np.unique(rev, return_index=True)
                cl[last[0]] = cc[::-1][last[1]]
        return {
            "ts": col_ts,
            "open": round_significant(o),
            "high": round_significant(h),
            "low": round_significant(lo),
            "close": round_significant(cl),
        }

    def heatmap_cell(
        self,
        symbol: str,
        venues: str | None,
        range_: str | None,
        start: str | None,
        end: str | None,
        interval: str | None,
        preset: str | None,
        tiers: str | None,
        ts: int,
        column_ms: int | None,
        price_lo: float,
        price_hi: float,
        width: int = 1200,
    ) -> bytes:
        """USD by tier and side in one (possibly merged) heatmap cell: the tooltip's split."""
        market, infos = self.resolve_market(symbol)
        venue_list, _ = self.resolve_venues(venues, market, infos)
        window = self.resolve_window(range_, start, end, venue_list, market)
        tier_list = self.resolve_tiers(tiers)
        preset_name = self.resolve_preset(preset)
        step = (
            parse_interval(interval)
            if interval is not None
            else default_step(window.end - window.start)
        )
        if price_hi <= price_lo:
            raise ApiError(422, "price_hi", "price_hi must be above price_lo")
        span = column_ms if column_ms is not None else step
        version = self._version(venue_list, market)
        key = (
            "cell",
            market,
            tuple(venue_list),
            window.start,
            window.end,
            step,
            preset_name,
            tuple(tier_list),
            ts,
            span,
            price_lo,
            price_hi,
            width,
            version,
        )

        def compute() -> bytes:
            est, _ = self._estimate(venue_list, market, window, step, preset_name, width)
            out: dict[str, Any] = {"ts": ts, "price_lo": price_lo, "price_hi": price_hi}
            rows: list[dict[str, Any]] = []
            if est is not None:
                prof = est.profile(ts + span // 2, tier_list)
                out["at"] = prof.ts
                edges = np.asarray(prof.bucket_edges, np.float64)
                centers = (edges[:-1] + edges[1:]) / 2
                sel = (centers >= price_lo) & (centers < price_hi)
                long = np.asarray(prof.long, np.float64).reshape(len(prof.tiers), -1)
                short = np.asarray(prof.short, np.float64).reshape(len(prof.tiers), -1)
                for i, tier in enumerate(prof.tiers):
                    rows.append(
                        {
                            "tier": tier,
                            "long": float(np.round(long[i, sel].sum(), 0)),
                            "short": float(np.round(short[i, sel].sum(), 0)),
                        }
                    )
            out["tiers"] = rows
            out["long"] = sum(r["long"] for r in rows)
            out["short"] = sum(r["short"] for r in rows)
            return dumps(out)

        return self.responses.get_or_compute(key, compute)

    # -- map ------------------------------------------------------------------------------------

    def liq_map(
        self,
        symbol: str,
        venues: str | None,
        range_: str | None,
        at: str | None,
        tiers: str | None,
        preset: str | None,
        buckets: int,
        window_pct: float,
        interval: str | None,
    ) -> bytes:
        market, infos = self.resolve_market(symbol)
        venue_list, aggregate = self.resolve_venues(venues, market, infos)
        end = at
        window = self.resolve_window(range_, None, end, venue_list, market, default_range="7d")
        tier_list = self.resolve_tiers(tiers)
        preset_name = self.resolve_preset(preset)
        step = (
            parse_interval(interval)
            if interval is not None
            else default_step(window.end - window.start)
        )
        version = self._version(venue_list, market)
        key = (
            "map",
            market,
            tuple(venue_list),
            window.start,
            window.end,
            step,
            preset_name,
            tuple(tier_list),
            buckets,
            window_pct,
            version,
        )
        return self.responses.get_or_compute(
            key,
            lambda: self._map(
                market,
                venue_list,
                aggregate,
                window,
                step,
                preset_name,
                tier_list,
                buckets,
                window_pct,
                version,
                at is not None,
            ),
        )

    def _map(
        self,
        market: str,
        venues: list[str],
        aggregate: bool,
        window: Window,
        step: int,
        preset: str,
        tiers: list[str],
        buckets: int,
        window_pct: float,
        version: tuple[int, ...],
        explicit_at: bool,
    ) -> bytes:
        est, step = self._estimate(venues, market, window, step, preset)
        body: dict[str, Any] = {
            "symbol": market,
            "venues": venues,
            "aggregate": aggregate,
            "preset": preset,
            "tiers": tiers,
            "ts": None,
            "price": None,
            "bucket_edges": [],
            "long": {},
            "short": {},
            "long_total": [],
            "short_total": [],
            "cum_long": [],
            "cum_short": [],
            "clusters": {"above": [], "below": []},
            "max_pain": {"above": None, "below": None},
            "units": "usd",
            "model_version": None,
            "data_version": list(version),
            "provenance": self.provenance(venues, market),
            "note": None,
        }
        if est is None:
            body["note"] = "no stored data for this market"
            return dumps(body)
        body["model_version"] = est.model_version
        prof = est.profile(window.end - step if explicit_at else None, tiers)
        price = float(prof.price)
        edges = np.asarray(prof.bucket_edges, np.float64)
        long = np.asarray(prof.long, np.float64).reshape(len(prof.tiers), -1)
        short = np.asarray(prof.short, np.float64).reshape(len(prof.tiers), -1)
        if edges.size < 2 or not math.isfinite(price) or price <= 0:
            body["note"] = "no live levels"
            return dumps(body)
        lo, hi = price * (1 - window_pct / 100), price * (1 + window_pct / 100)
        centers = (edges[:-1] + edges[1:]) / 2
        sel = np.nonzero((edges[1:] > lo) & (edges[:-1] < hi))[0]
        if sel.size == 0:
            body.update(ts=prof.ts, price=price, note="no buckets within the window")
            return dumps(body)
        a, b = int(sel[0]), int(sel[-1]) + 1
        edges, long, short = edges[a : b + 1], long[:, a:b], short[:, a:b]
        edges_r, long_r = reduce_rows(edges, long.T, buckets)
        _, short_r = reduce_rows(edges, short.T, buckets)
        long_r, short_r = long_r.T, short_r.T
        edges = edges_r
        centers = (edges[:-1] + edges[1:]) / 2
        lt, st = long_r.sum(axis=0), short_r.sum(axis=0)
        below = centers < price
        above = ~below
        # cumulative from the current price outwards: what a move to that level would liquidate
        cum_long = np.zeros_like(lt)
        cum_short = np.zeros_like(st)
        cum_long[below] = np.cumsum(lt[below][::-1])[::-1]
        cum_short[above] = np.cumsum(st[above])
        body.update(
            ts=prof.ts,
            price=price,
            bucket_edges=edges,
            long={t: np.round(long_r[i], 0) for i, t in enumerate(prof.tiers)},
            short={t: np.round(short_r[i], 0) for i, t in enumerate(prof.tiers)},
            long_total=np.round(lt, 0),
            short_total=np.round(st, 0),
            cum_long=np.round(cum_long, 0),
            cum_short=np.round(cum_short, 0),
        )
        total = lt + st
        for name, mask in (("above", above), ("below", below)):
            body["clusters"][name] = _clusters(edges, total, mask, price)
            if mask.any() and total[mask].max() > 0:
                idx = np.nonzero(mask)[0]
                j = int(idx[np.argmax(total[mask])])
                body["max_pain"][name] = _bucket_info(edges, total, j, price)
        return dumps(body)

    # -- realized liquidations ------------------------------------------------------------------

    def bars(
        self,
        symbol: str,
        venues: str | None,
        range_: str | None,
        start: str | None,
        end: str | None,
        interval: str,
        min_usd: float,
    ) -> bytes:
        market, infos = self.resolve_market(symbol)
        venue_list, aggregate = self.resolve_venues(venues, market, infos)
        window = self.resolve_window(range_, start, end, venue_list, market)
        step = parse_interval(interval)
        t0 = window.start // step * step
        t1 = -(-window.end // step) * step
        n = (t1 - t0) // step
        if n > MAX_BARS:
            raise ApiError(
                422, "interval", f"{n} bars requested (limit {MAX_BARS}): choose a coarser interval"
            )
        version = self._version(venue_list, market)
        key = ("bars", market, tuple(venue_list), t0, t1, step, min_usd, version)

        def compute() -> bytes:
            liq = self.backend.liquidations(venue_list, market, t0, t1, min_usd=min_usd)
            ts = np.arange(t0, t1, step, dtype=np.int64)
            sampled = {m.venue: m.sampled for m in infos}
            per: dict[str, Any] = {}
            tot_l = np.zeros(n)
            tot_s = np.zeros(n)
            venue_arr = np.asarray(liq.venue, dtype=object)
            idx = (liq.ts - t0) // step
            for v in venue_list:
                m = (venue_arr == v) if len(liq) else np.zeros(0, bool)
                lg = np.bincount(idx[m & (liq.side > 0)], liq.notional_usd[m & (liq.side > 0)], n)
                sh = np.bincount(idx[m & (liq.side < 0)], liq.notional_usd[m & (liq.side < 0)], n)
                tot_l += lg
                tot_s += sh
                per[v] = {
                    "long": np.round(lg, 2),
                    "short": np.round(sh, 2),
                    "sampled": sampled.get(v, False),
                    "lower_bound": sampled.get(v, False),
                }
            lower = any(sampled.get(v, False) for v in venue_list)
            return dumps(
                {
                    "symbol": market,
                    "venues": venue_list,
                    "aggregate": aggregate,
                    "start": t0,
                    "end": t1,
                    "interval_ms": step,
                    "ts": ts,
                    "long": np.round(tot_l, 2),
                    "short": np.round(tot_s, 2),
                    "by_venue": per,
                    "count": len(liq),
                    "units": "usd",
                    "lower_bound": lower,
                    "provenance": self.provenance(venue_list, market),
                    "note": None
                    if len(liq)
                    else "no liquidations stored for this market and window",
                }
            )

        return self.responses.get_or_compute(key, compute)

    def levels(
        self,
        symbol: str,
        venues: str | None,
        range_: str | None,
        start: str | None,
        end: str | None,
        buckets: int,
        min_usd: float,
    ) -> bytes:
        market, infos = self.resolve_market(symbol)
        venue_list, aggregate = self.resolve_venues(venues, market, infos)
        window = self.resolve_window(range_, start, end, venue_list, market, default_range="7d")
        version = self._version(venue_list, market)
        key = (
            "levels",
            market,
            tuple(venue_list),
            window.start,
            window.end,
            buckets,
            min_usd,
            version,
        )

        def compute() -> bytes:
            liq = self.backend.liquidations(
                venue_list, market, window.start, window.end, min_usd=min_usd
            )
            lower = any(m.sampled for m in infos if m.venue in venue_list)
            body: dict[str, Any] = {
                "symbol": market,
                "venues": venue_list,
                "aggregate": aggregate,
                "start": window.start,
                "end": window.end,
                "bucket_edges": [],
                "long": [],
                "short": [],
                "count_long": [],
                "count_short": [],
                "units": "usd",
                "lower_bound": lower,
                "provenance": self.provenance(venue_list, market),
                "note": None,
            }
            ok = np.isfinite(liq.price) & (liq.price > 0) if len(liq) else np.zeros(0, bool)
            if not ok.any():
                body["note"] = "no liquidations stored for this market and window"
                return dumps(body)
            px = liq.price[ok]
            lo, hi = float(px.min()), float(px.max())
            edges, idx = self.backend.price_buckets(market, px, lo, hi, buckets)
            nb = max(0, edges.size - 1)
            inside = idx >= 0
            usd = liq.notional_usd[ok]
            side = liq.side[ok]
            lm, sm = inside & (side > 0), inside & (side < 0)
            body.update(
                bucket_edges=edges,
                long=np.round(np.bincount(idx[lm], usd[lm], nb), 2),
                short=np.round(np.bincount(idx[sm], usd[sm], nb), 2),
                count_long=np.bincount(idx[lm], minlength=nb),
                count_short=np.bincount(idx[sm], minlength=nb),
            )
            return dumps(body)

        return self.responses.get_or_compute(key, compute)

    def feed(self, symbol: str | None, venues: str | None, limit: int, min_usd: float) -> bytes:
        market: str | None = None
        venue_list: list[str]
        if symbol is not None and symbol.strip():
            market, infos = self.resolve_market(symbol)
            venue_list, _ = self.resolve_venues(venues, market, infos)
        else:
            all_venues = sorted({m.venue for m in self.market_infos()})
            if venues is None or venues.strip().lower() in ("", "all"):
                venue_list = all_venues
            else:
                venue_list = []
                for part in venues.split(","):
                    name = part.strip().lower()
                    if name and name not in self.known_venues():
                        raise ApiError(422, "venues", f"unknown venue {part.strip()!r}")
                    if name:
                        venue_list.append(name)
        last_id = self.backend.last_liquidation_id()
        key = ("feed", market, tuple(venue_list), limit, min_usd, last_id)

        def compute() -> bytes:
            liq = self.backend.liquidations(
                venue_list, market, 0, 2**62, min_usd=min_usd, limit=limit, newest_first=True
            )
            natives = {(m.venue, m.market): m.native_symbol for m in self.market_infos()}
            sampled = {m.venue: m.sampled for m in self.market_infos()}
            items = []
            for i in range(len(liq)):
                v = liq.venue[i]
                items.append(
                    {
                        "id": int(liq.id[i]),
                        "venue": v,
                        "symbol": liq.market[i],
                        "native_symbol": natives.get((v, liq.market[i])),
                        "ts": int(liq.ts[i]),
                        "side": "long" if liq.side[i] > 0 else "short",
                        "price": float(liq.price[i]),
                        "qty": float(liq.qty[i]),
                        "notional_usd": float(liq.notional_usd[i]),
                        "sampled": bool(liq.sampled[i]),
                    }
                )
            return dumps(
                {
                    "symbol": market,
                    "venues": venue_list,
                    "items": items,
                    "min_usd": min_usd,
                    "last_id": last_id,
                    "lower_bound": any(sampled.get(v, False) for v in venue_list),
                    "note": None if items else "no liquidations stored",
                }
            )

        return self.responses.get_or_compute(key, compute)

    # -- series ---------------------------------------------------------------------------------

    def _one_venue_window(
        self,
        symbol: str,
        venue: str | None,
        range_: str | None,
        start: str | None,
        end: str | None,
    ) -> tuple[str, str, Window]:
        """Market, the one venue (default: the first that lists it) and the time window."""
        market, infos = self.resolve_market(symbol)
        if venue is None or not venue.strip():
            v = infos[0].venue
        else:
            try:
                venues, _ = self.resolve_venues(venue, market, infos)
            except ApiError as exc:
                raise ApiError(exc.status, "venue", exc.message) from None
            if len(venues) != 1:
                raise ApiError(422, "venue", "venue must name exactly one venue")
            v = venues[0]
        return market, v, self.resolve_window(range_, start, end, [v], market)

    def price(
        self,
        symbol: str,
        venue: str | None,
        range_: str | None,
        start: str | None,
        end: str | None,
        interval: str,
    ) -> bytes:
        market, v, window = self._one_venue_window(symbol, venue, range_, start, end)
        step = parse_interval(interval)
        n = (window.end - window.start) // step
        if n > MAX_POINTS:
            raise ApiError(
                422,
                "interval",
                f"{n} candles requested (limit {MAX_POINTS}): choose a coarser interval",
            )
        version = self._version([v], market)
        key = ("price", market, v, window.start, window.end, step, version)

        def compute() -> bytes:
            c = self.backend.candles(v, market, window.start, window.end, step)
            return dumps(
                {
                    "symbol": market,
                    "venue": v,
                    "start": window.start,
                    "end": window.end,
                    "interval_ms": step,
                    "ts": c.ts,
                    "open": c.open,
                    "high": c.high,
                    "low": c.low,
                    "close": c.close,
                    "volume": c.volume,
                    "note": None if len(c) else "no candles stored for this market and window",
                }
            )

        return self.responses.get_or_compute(key, compute)

    def oi(
        self,
        symbol: str,
        venue: str | None,
        range_: str | None,
        start: str | None,
        end: str | None,
        max_points: int,
    ) -> bytes:
        market, v, window = self._one_venue_window(symbol, venue, range_, start, end)
        version = self._version([v], market)
        key = ("oi", market, v, window.start, window.end, max_points, version)

        def compute() -> bytes:
            s = self.backend.open_interest(v, market, window.start, window.end)
            ts, base, usd = s.ts, s.oi_base, s.oi_usd
            if ts.size > max_points:  # keep the last point of each of max_points slices
                cut = np.linspace(0, ts.size, max_points + 1).astype(np.int64)[1:] - 1
                ts, base, usd = ts[cut], base[cut], usd[cut]
            return dumps(
                {
                    "symbol": market,
                    "venue": v,
                    "start": window.start,
                    "end": window.end,
                    "ts": ts,
                    "oi_base": base,
                    "oi_usd": usd,
                    "units": {"oi_base": "base units, one side", "oi_usd": "USD"},
                    "note": None
                    if ts.size
                    else "no open interest stored for this market and window",
                }
            )

        return self.responses.get_or_compute(key, compute)

    # -- catalogue and health -------------------------------------------------------------------

    def instruments(self) -> bytes:
        infos = self.market_infos()
        by_market: dict[str, list[dict[str, Any]]] = {}
        for m in infos:
            by_market.setdefault(m.market, []).append(
                {
                    "venue": m.venue,
                    "native_symbol": m.native_symbol,
                    "sampled": m.sampled,
                    "contract_type": m.contract_type,
                }
            )
        return dumps(
            {
                "markets": [{"symbol": k, "venues": v} for k, v in sorted(by_market.items())],
                "venues": self.known_venues(),
                "presets": self.backend.presets(),
                "tiers": self.backend.tiers(),
                "ranges": list(RANGES),
                "intervals": list(INTERVALS),
                "units": list(UNITS),
            }
        )

    def status(self, ws_clients: int = 0) -> bytes:
        now = self.clock.now_ms()
        rows = []
        for c in self.backend.coverage():
            rows.append(
                {
                    "venue": c.venue,
                    "symbol": c.market,
                    "native_symbol": c.native_symbol,
                    "feed": "sampled" if c.sampled else "complete",
                    "lower_bound": c.sampled,
                    "liquidations": c.liquidations,
                    "candles": c.candles,
                    "oi_points": c.oi_points,
                    "first_ts": c.first_ts,
                    "last_ts": c.last_ts,
                    "last_message_age_s": None
                    if c.last_message_ms is None
                    else max(0, now - c.last_message_ms) / 1000,
                    "gaps": [list(g) for g in c.gaps],
                }
            )
        return dumps(
            {
                "ok": True,
                "now": now,
                "uptime_s": (now - self.started_ms) / 1000,
                "markets": rows,
                "ws_clients": ws_clients,
                "cache": {
                    "items": len(self.responses),
                    "hits": self.responses.hits,
                    "misses": self.responses.misses,
                },
                "server_time": time.time(),
            }
        )


class HeatmapParts:
    """A computed heatmap before encoding: the body fields and the reduced matrices."""

    def __init__(self, body: dict[str, Any], z: F64 | None, z_long: F64 | None, unit: str):
        self.body = body
        self.z = z
        self.z_long = z_long
        self.unit = unit

    def encode(self, fmt: str) -> bytes:
        body = dict(self.body)
        body["format"] = fmt
        if self.z is None:
            return dumps(body)
        if fmt == "bin":
            body.update(encode_bin(self.z, self.z_long))
        else:
            body["z"] = _compact(self.z, self.unit)
            body["z_long"] = None if self.z_long is None else _compact(self.z_long, self.unit)
        return dumps(body)


def encode_bin(z: F64, z_long: F64 | None) -> dict[str, Any]:
    """The compact heatmap encoding (``format=bin``).

    ``z``: ``z / scale`` as IEEE float16 (11 significant bits, ~0.05 %), row-major
    (``z[row][col]``), each row's uint16 bit patterns delta-coded along time (modulo 2**16),
    little endian, zlib-compressed, base64. ``z_long``: the long share of each cell,
    ``round(255 * z_long / z)`` as uint8 (0 where z is 0), zlib, base64.
    """
    m = np.nan_to_num(np.asarray(z, np.float64), nan=0.0, posinf=0.0, neginf=0.0)
    m = np.maximum(m, 0.0)
    rows, cols = m.shape
    peak = float(m.max()) if m.size else 0.0
    scale = peak if peak > 0 else 1.0
    bits = (m / scale).astype("<f2").view("<u2")
    delta = np.diff(bits, axis=1, prepend=np.zeros((rows, 1), "<u2")).astype("<u2")
    out: dict[str, Any] = {
        "z": base64.b64encode(zlib.compress(delta.tobytes(), 6)).decode("ascii"),
        "z_long": None,
        "z_encoding": {
            "z": "f16-rowdelta-zlib-base64",
            "z_long": None,
            "shape": [rows, cols],
            "scale": scale,
        },
    }
    if z_long is not None:
        lg = np.nan_to_num(np.asarray(z_long, np.float64), nan=0.0, posinf=0.0, neginf=0.0)
        share = np.divide(lg, m, out=np.zeros_like(m), where=m > 0)
        q = np.rint(np.clip(share, 0.0, 1.0) * 255).astype(np.uint8)
        out["z_long"] = base64.b64encode(zlib.compress(q.tobytes(), 6)).decode("ascii")
        out["z_encoding"]["z_long"] = "u8-share-zlib-base64"
    return out


def decode_bin(body: dict[str, Any]) -> tuple[F64, F64 | None]:
    """``z`` and ``z_long`` from a ``format=bin`` body (the inverse of ``encode_bin``)."""
    enc = body["z_encoding"]
    rows, cols = enc["shape"]
    raw = np.frombuffer(zlib.decompress(base64.b64decode(body["z"])), "<u2").reshape(rows, cols)
    bits = np.cumsum(raw, axis=1, dtype=np.uint16)
    z = bits.view("<f2").astype(np.float64) * float(enc["scale"])
    z_long = None
    if body.get("z_long"):
        q = np.frombuffer(zlib.decompress(base64.b64decode(body["z_long"])), np.uint8)
        z_long = z * q.reshape(rows, cols) / 255.0
    return z, z_long


def round_significant(values: F64, digits: int = PRICE_DIGITS) -> F64:
    """``values`` rounded to ``digits`` significant digits of the array's largest magnitude:
    far finer than any exchange's tick, and a third fewer characters in JSON than the
    17 digits a float's shortest form can take (the candles of a heatmap are 15 % of its
    ``bin`` body otherwise)."""
    finite = np.abs(values[np.isfinite(values)])
    peak = float(finite.max()) if finite.size else 0.0
    if peak <= 0:
        return values
    decimals = digits - math.ceil(math.log10(peak))
    return np.round(values, decimals)


def _compact(matrix: F64, unit: str) -> Any:
    """Whole USD as integers (a third of the JSON of floats); relative values to 6 places."""
    m = np.nan_to_num(matrix, nan=0.0, posinf=0.0, neginf=0.0)
    if unit == "relative":
        return np.round(m, 6)
    return np.rint(m).astype(np.int64)


def _bucket_info(edges: F64, total: F64, j: int, price: float) -> dict[str, float]:
    mid = float((edges[j] + edges[j + 1]) / 2)
    return {
        "price": mid,
        "price_lo": float(edges[j]),
        "price_hi": float(edges[j + 1]),
        "usd": float(round(total[j], 0)),
        "distance_pct": round((mid - price) / price * 100, 4),
    }


def _clusters(
    edges: F64, total: F64, mask: Any, price: float, k: int = 5
) -> list[dict[str, float]]:
    """Local maxima on one side of price holding at least a quarter of that side's peak,
    nearest first."""
    idx = np.nonzero(mask)[0]
    if idx.size == 0:
        return []
    peak = float(total[idx].max())
    if peak <= 0:
        return []
    found = []
    for j in idx:
        v = total[j]
        left = total[j - 1] if j > 0 else -1.0
        right = total[j + 1] if j + 1 < total.size else -1.0
        if v >= 0.25 * peak and v >= left and v >= right:
            found.append(_bucket_info(edges, total, int(j), price))
    found.sort(key=lambda c: abs(c["distance_pct"]))
    return found[:k]
