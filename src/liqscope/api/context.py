"""What every view shares: the store source, the caches, the clock, and the resolution of
request parameters (market, venues, window, preset, tiers) into checked values.

Markets are estimated only through :func:`liqscope.model.estimate_market`, with the
preset's own grid policy, so the API's grids are those of ``liqscope check`` and the
alerts on the same store and window; a view's run is extended by new steps from its kept
state (:class:`liqscope.api.columns.ColumnRuns`) rather than run again.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from liqscope.api.cache import Budget, Cache, Latest, bound_heap
from liqscope.api.columns import ColumnRun, ColumnRuns, ScreenColumns
from liqscope.api.encoding import Body
from liqscope.api.errors import ApiError
from liqscope.api.params import WindowSel
from liqscope.api.source import MarketRef, StoreSource
from liqscope.domain.clock import SYSTEM_CLOCK, Clock
from liqscope.domain.errors import InputError
from liqscope.domain.intervals import DAY_MS, HOUR_MS, INTERVALS, MINUTE_MS, RANGES, interval_ms
from liqscope.domain.types import Venue
from liqscope.model.config import ModelConfig
from liqscope.model.estimator import column_width_ms
from liqscope.model.presets import PRESETS
from liqscope.model.steps import Steps as ModelSteps

__all__ = [
    "RANGES",
    "Context",
    "Window",
    "parse_interval",
    "parse_time",
    "tier_label",
    "view_head",
]

# model step used when the request names none: fine enough to follow the path, coarse
# enough that a long range stays a few thousand columns
_DEFAULT_STEP: list[tuple[int, int]] = [
    (DAY_MS, MINUTE_MS),
    (7 * DAY_MS, 5 * MINUTE_MS),
    (30 * DAY_MS, 15 * MINUTE_MS),
    (180 * DAY_MS, HOUR_MS),
]
MAX_STEPS = 600_000  # model steps in one request (1 year of 1-minute steps)
WARMUP_CAP = 7 * DAY_MS
CACHE_BYTES = 512 * 1024 * 1024  # bodies kept in memory at most
MODEL_SLOTS = 2  # model runs at once
MODEL_WAIT_S = 30.0  # how long a request waits for a model slot before 429
BOUND_HEAP = True  # set glibc's heap bounds (api.cache.bound_heap) when a context is made
MIN_MS, MAX_MS = 946_598_400_000, 9_999_999_999_999  # 1999-12-31 .. 2286 (13 digits)


def tier_label(lev: float) -> str:
    return f"{lev:g}x"


def view_head(
    market: str, venues: Sequence[str], aggregate: bool, start: int, end: int
) -> dict[str, Any]:
    """The fields every market view's body starts with."""
    return {
        "symbol": market,
        "venues": list(venues),
        "aggregate": aggregate,
        "start": start,
        "end": end,
    }


def parse_time(value: str, param: str) -> int:
    """Epoch milliseconds from an integer (ms, or s when < 1e11) or an ISO 8601 text; a day
    past the end of its month counts on into the next (``2025-02-30`` = ``2025-03-02``)."""
    text = value.strip()
    if text.isdigit():
        number = int(text)
        ms = number * 1000 if number < 100_000_000_000 else number
    else:
        try:
            day = text[8:10]
            base = datetime.fromisoformat(text[:8] + "01" + text[10:].replace("Z", "+00:00"))
            if base.tzinfo is None:
                base = base.replace(tzinfo=UTC)
            ms = int(base.timestamp() * 1000) + (int(day) - 1) * DAY_MS
        except (ValueError, OverflowError):
            raise ApiError(
                422, param, f"{param} must be epoch milliseconds or ISO 8601, got {value!r}"
            ) from None
    if not MIN_MS <= ms <= MAX_MS:
        raise ApiError(422, param, f"{param} is out of range (2000 onwards, 13 digits of ms)")
    return ms


def fit_interval(span_ms: int, step: int, limit: int) -> tuple[int, str | None]:
    """``step``, or the finest interval above it giving at most ``limit`` steps over
    ``span_ms``, with a note saying so."""
    if span_ms // step <= limit:
        return step, None
    for name, ms in INTERVALS.items():
        if ms > step and span_ms // ms <= limit:
            return ms, f"interval raised to {name} to stay within {limit:,} steps"
    last = max(INTERVALS.values())
    return last, f"interval raised to 1w to stay within {limit:,} steps"


def parse_interval(value: str, param: str = "interval") -> int:
    try:
        return interval_ms(value.strip().lower())
    except InputError:
        raise ApiError(
            422, param, f"{param} must be one of {', '.join(INTERVALS)}, got {value!r}"
        ) from None


def default_step(span_ms: int) -> int:
    for limit, step in _DEFAULT_STEP:
        if span_ms <= limit:
            return step
    return 4 * HOUR_MS


def column_width(start: int, end: int, columns: int, step: int) -> int:
    """Width of model columns: the model's readable ladder, at least one step, a multiple."""
    width = max(column_width_ms(start, max(start, end - 1), max(1, columns)), step)
    return -(-width // step) * step


@dataclass(frozen=True, slots=True)
class Window:
    start: int
    end: int
    range_label: str | None

    @property
    def span(self) -> int:
        return self.end - self.start


class Context:
    """The store source, caches and clock every view reads through."""

    def __init__(
        self, source: StoreSource, clock: Clock = SYSTEM_CLOCK, cache_items: int = 256
    ) -> None:
        self.source = source
        self.clock = clock
        if BOUND_HEAP:
            bound_heap()  # RSS stays at what the caches hold under a writer
        self.responses = Cache(cache_items, CACHE_BYTES)
        # a reader gets the held body at once while a view is refreshed (no waiting on it)
        self.latest: Latest[Body] = Latest(self.responses, wait_s=0.0)
        self.estimates = Cache(8)
        self.columns = ColumnRuns(max_items=4)  # runs kept at their last closed column
        self.screen = ScreenColumns()  # heatmap columns reduced to the screen, per view
        self.tallies = Cache(64)  # realized bars per view, extended by new rows (views.realized)
        self.model_budget = Budget(MODEL_SLOTS, MODEL_WAIT_S)
        self.started_ms = clock.now_ms()

    @property
    def backend(self) -> StoreSource:
        """The store source (the name older callers use)."""
        return self.source

    # -- names ----------------------------------------------------------------------------------

    @staticmethod
    def known_venues() -> list[str]:
        return [v.value for v in Venue]

    def resolve_market(self, symbol: str) -> tuple[str, list[MarketRef]]:
        """The stored market for ``symbol`` (market or any venue's native name)."""
        wanted = symbol.strip().upper()
        refs = self.source.markets()
        hits = [m for m in refs if m.market.upper() == wanted]
        if not hits:
            native = [m for m in refs if m.native_symbol.upper() == wanted]
            if native:
                hits = [m for m in refs if m.market == native[0].market]
        if not hits:
            known = sorted({m.market for m in refs})
            listed = ", ".join(known) if known else "none stored yet"
            raise ApiError(404, "symbol", f"unknown symbol {symbol!r} (known: {listed})")
        return hits[0].market, hits

    def resolve_venues(
        self, venues: str | None, market: str, refs: Sequence[MarketRef], param: str = "venues"
    ) -> tuple[list[str], bool]:
        """Venue names and whether this is the aggregate (``all`` or several)."""
        available = [m.venue for m in refs]
        text = (venues or "").strip().lower()
        if text in ("", "all"):
            return available, len(available) > 1 or text == "all"
        out: list[str] = []
        for part in text.split(","):
            name = part.strip()
            if not name:
                continue
            if name not in self.known_venues():
                raise ApiError(
                    422, param, f"unknown venue {name!r} (known: {', '.join(self.known_venues())})"
                )
            if name not in available:
                raise ApiError(
                    404,
                    param,
                    f"no data for {market} on {name} (stored on: {', '.join(available)})",
                )
            if name not in out:
                out.append(name)
        if not out:
            raise ApiError(422, param, f"{param} is empty")
        return out, len(out) > 1

    def resolve_window(
        self, sel: WindowSel, venues: Sequence[str], market: str, default_range: str = "24h"
    ) -> Window:
        """[start, end) from an explicit start/end or a range ending at the latest data."""
        t_end = parse_time(sel.end, "end") if sel.end is not None else None
        t_start = parse_time(sel.start, "start") if sel.start is not None else None
        label: str | None = None
        if sel.range_ is not None and sel.range_ != "custom":
            if sel.range_ not in RANGES:
                raise ApiError(422, "range", f"range must be one of {', '.join(RANGES)}")
            label = sel.range_
        if t_start is None or t_end is None or label is not None:
            span = RANGES[label or default_range]
            if label is None and t_start is None and t_end is None:
                label = default_range
            if t_end is None and t_start is not None:
                t_end = t_start + span
            if t_end is None:
                rng = self.source.data_range(venues, market)
                t_end = self.clock.now_ms() if rng is None else rng[1] + MINUTE_MS
            if t_start is None:
                t_start = max(MIN_MS, t_end - span)
        if t_end <= t_start:
            raise ApiError(422, "end", "end must be after start")
        return Window(t_start, t_end, label)

    def resolve_step(self, interval: str | None, window: Window) -> int:
        """The model step: as asked (default by span), coarser when the window would need
        more than ``MAX_STEPS`` steps."""
        step = parse_interval(interval) if interval is not None else default_step(window.span)
        return fit_interval(window.span, step, MAX_STEPS)[0]

    @staticmethod
    def resolve_preset(preset: str | None) -> str:
        key = (preset or "all").strip().lower() or "all"
        if key not in PRESETS:
            raise ApiError(
                422, "preset", f"unknown preset {preset!r} (known: {', '.join(PRESETS)})"
            )
        return key

    @staticmethod
    def resolve_tiers(tiers: str | None, preset: str) -> list[float]:
        """Leverages of the view: the preset's own tiers for ``all`` (or none given); of a
        list, those the preset models (a tier no preset models is a 422; one that only
        other presets model shows nothing)."""
        cfg = PRESETS[preset]
        modelled = tuple(float(x) for x in cfg.leverages)
        text = (tiers or "").strip().lower()
        if text in ("", "all"):
            shown = cfg.display_leverages or modelled
            return [float(x) for x in shown]
        known = {float(x) for c in PRESETS.values() for x in c.leverages}
        wanted: set[float] = set()
        for part in text.split(","):
            key = part.strip().rstrip("x")
            if not key:
                continue
            try:
                lev = float(key)
            except ValueError:
                lev = math.nan
            if lev not in known:
                raise ApiError(
                    422,
                    "tiers",
                    f"unknown tier {part.strip()!r} (expected all or a comma list of "
                    f"{', '.join(tier_label(x) for x in sorted(known))})",
                )
            wanted.add(lev)
        return [x for x in modelled if x in wanted]

    # -- provenance -----------------------------------------------------------------------------

    def provenance(
        self, venues: Sequence[str], market: str, skipped: Sequence[str] = ()
    ) -> dict[str, Any]:
        now = self.clock.now_ms()
        by_key = {(s.ref.venue, s.ref.market): s for s in self.source.status()}
        out = []
        for venue in venues:
            s = by_key.get((venue, market))
            if s is None:
                continue
            age = None if s.last_message_ms is None else max(0, now - s.last_message_ms) / 1000
            out.append(
                {
                    "venue": venue,
                    "native_symbol": s.ref.native_symbol,
                    "feed": "sampled" if s.ref.sampled else "complete",
                    "lower_bound": s.ref.sampled,
                    "last_ts": s.last_ts,
                    "last_message_age_s": age,
                    "gaps": [list(g) for g in s.gaps],
                }
            )
        body: dict[str, Any] = {
            "venues": out,
            "lower_bound": any(v["lower_bound"] for v in out),
            "generated_ms": now,
        }
        if skipped:
            body["skipped_venues"] = list(skipped)
        return body

    # -- the model ------------------------------------------------------------------------------

    def model_run(
        self,
        venues: Sequence[str],
        market: str,
        t0: int,
        t1: int,
        step: int,
        preset: str,
        column_ms: int,
    ) -> ModelRun | None:
        """The estimate and the steps it was run on (one run per view and data version: a
        new version or end ``t1`` replaces the old run, so memory holds one per view)."""
        version = (self.source.version(venues, market), t1)
        key = (tuple(venues), market, t0, step, preset, column_ms)
        cfg = replace(PRESETS[preset], column_ms=column_ms)

        def run() -> ModelRun | None:
            steps: dict[str, ModelSteps] = {}
            skipped: dict[str, str] = {}
            for v in venues:
                s = self.source.model_steps(v, market, t0, t1, step)
                if s is None:
                    skipped[v] = "no candles or open interest in the window"
                else:
                    steps[v] = s
            if not steps:
                return None
            view = (tuple(venues), market, step, preset, column_ms)  # one kept run per view
            run = self.model_budget.run(
                lambda: _estimate(self.columns, view, steps, cfg, skipped), "model run"
            )
            return None if run is None else ModelRun(run.estimate, run.plan, run.cut, steps)

        result: ModelRun | None = self.estimates.get_versioned(key, version, run)
        return result


@dataclass(frozen=True, slots=True, eq=False)
class ModelRun(ColumnRun):
    """A market estimate (with its plan and open column, ``api.columns``) and the model
    input of each venue it used."""

    steps: dict[str, ModelSteps]


def _estimate(
    columns: ColumnRuns,
    view: tuple[Any, ...],
    steps: dict[str, ModelSteps],
    cfg: ModelConfig,
    skipped: dict[str, str],
) -> ColumnRun | None:
    try:
        return columns.run(view, steps, cfg, skipped)
    except InputError:
        return None  # no venue's rules can price it
