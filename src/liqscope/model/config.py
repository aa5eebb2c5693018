"""Every parameter of the estimation model, in one typed frozen dataclass."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any, Literal

from liqscope.domain.errors import InputError

MODEL_VERSION = "2"
"""Version of the estimation semantics (docs/methodology.md). Bump when outputs change."""

SideSplit = Literal["taker", "equal", "ratio"]
Closing = Literal["proportional", "recent"]
Book = Literal["oi", "net"]


@dataclass(frozen=True, slots=True)
class ModelConfig:
    """Configuration of the heatmap estimator. See docs/methodology.md for the semantics."""

    name: str = "custom"
    """Preset name, shown in titles and exports."""

    leverages: tuple[float, ...] = (5.0, 10.0, 25.0, 50.0, 100.0)
    """Leverage tiers; each tier gets its own snapshot layer."""

    tier_weights: tuple[float, ...] = (0.25, 0.30, 0.25, 0.12, 0.08)
    """Share of newly opened notional assigned to each leverage tier (normalised to sum 1)."""

    display_leverages: tuple[float, ...] | None = None
    """Default leverage filter of views and exports (None = every tier). The model itself
    always runs every tier, so filtered values stay in USD of the whole OI."""

    grid_leverages: tuple[float, ...] | None = None
    """Tiers whose levels the covering grid spans (None = every tier). Levels of the other
    tiers beyond it are kept in the edge buckets, which the input's price path never
    reaches (the grid always spans the path), so accounting and consumption are exact; only
    their drawn position is clipped. Lets a far low-leverage tier share the grid's
    resolution with the tiers near price."""

    size_classes_usd: tuple[float, ...] = (10_000.0,)
    """Position-size classes (USD notional) used to pick the venue's margin tier."""

    size_weights: tuple[float, ...] = (1.0,)
    """Share of each size class (normalised to sum 1)."""

    side_split: SideSplit = "taker"
    """How new notional N = dOI x close is split: ``taker`` (long 2pN, short 2(1-p)N with
    p = taker-buy share of volume; 0.5 when unknown), ``equal`` (N each) or ``ratio``
    (a caller-given long share per step)."""

    book: Book = "oi"
    """``oi`` (v2): each side's book tracks OI at every step through gross opening and
    closing flows (opened - closed - liquidated = dOI per side); ``net`` (v1): positions
    open only on rising OI and close only on falling OI (the book drains)."""

    turnover_per_day: float = 1.0
    """v2 gross turnover: the fraction of OI closed and reopened per day at average volume
    (scaled by the step's relative volume)."""

    unknown_long_share: float = 0.5
    """Long share ``p`` of a step whose taker-buy volume is unknown (``side_split="taker"``):
    v1 splits new notional 2p / 2(1 - p), v2 tilts the books' turnover the same way."""

    entry_points: int = 8
    """Number of entry prices spread over [low, high] of an opening step."""

    closing: Closing = "proportional"
    """Closing on falling OI: ``proportional`` across all live levels, or ``recent``
    (levels opened in the current recency window are closed first)."""

    recent_window_ms: int = 3_600_000
    """Recency window for ``closing="recent"`` (windows aligned to multiples in epoch ms)."""

    half_lives_ms: tuple[float, ...] | None = None
    """Per-tier decay half-life in ms (0 = no decay for that tier); ``None`` = no decay."""

    calibrate_to_oi: bool = False
    """Rescale each side's live total to OI x close after every step."""

    seed_initial_oi: bool = True
    """Treat the first step's whole OI as opened in that step (sides split 50/50)."""

    use_realized_liquidations: bool = True
    """Net realized liquidations of a step (when given) before closing on falling OI;
    otherwise the model's own estimated liquidations are netted."""

    liq_method: str = "exact"
    """Method passed to ``liqscope.domain.liqprice.level_ratio``."""

    n_buckets: int = 2000
    """Bucket count of the covering grid when no bucket size is given."""

    bucket_usd: float | None = None
    """Bucket size in USD (overrides ``n_buckets``)."""

    max_columns: int = 2048
    """Upper bound on the number of snapshot columns."""

    column_ms: int | None = None
    """Column width in ms (default: the smallest readable width giving <= max_columns)."""

    def __post_init__(self) -> None:
        def bad(msg: str) -> InputError:
            return InputError(f"invalid model config: {msg}")

        if not self.leverages:
            raise bad("at least one leverage tier is needed")
        if any(not (math.isfinite(x) and x >= 1.0) for x in self.leverages):
            raise bad(f"leverages must be >= 1, got {self.leverages}")
        if len(set(self.leverages)) != len(self.leverages):
            raise bad("leverages must be distinct")
        if len(self.tier_weights) != len(self.leverages):
            raise bad("tier_weights must have one weight per leverage")
        if any(not (math.isfinite(w) and w >= 0) for w in self.tier_weights) or not (
            sum(self.tier_weights) > 0
        ):
            raise bad("tier_weights must be >= 0 with a positive sum")
        if self.display_leverages is not None and not set(self.display_leverages) <= set(
            self.leverages
        ):
            raise bad("display_leverages must be a subset of leverages")
        if self.grid_leverages is not None and not (
            self.grid_leverages and set(self.grid_leverages) <= set(self.leverages)
        ):
            raise bad("grid_leverages must be a non-empty subset of leverages")
        if not self.size_classes_usd or len(self.size_weights) != len(self.size_classes_usd):
            raise bad("size_weights must have one weight per size class")
        if any(not (math.isfinite(x) and x > 0) for x in self.size_classes_usd):
            raise bad("size classes must be positive USD notionals")
        if any(not (math.isfinite(w) and w >= 0) for w in self.size_weights) or not (
            sum(self.size_weights) > 0
        ):
            raise bad("size_weights must be >= 0 with a positive sum")
        if self.side_split not in ("taker", "equal", "ratio"):
            raise bad(f"unknown side_split {self.side_split!r}")
        if self.closing not in ("proportional", "recent"):
            raise bad(f"unknown closing {self.closing!r}")
        if self.book not in ("oi", "net"):
            raise bad(f"unknown book {self.book!r}")
        if not (math.isfinite(self.turnover_per_day) and 0 <= self.turnover_per_day <= 1000):
            raise bad("turnover_per_day must be in [0, 1000]")
        if not 0.0 <= self.unknown_long_share <= 1.0:
            raise bad("unknown_long_share must be in [0, 1]")
        if not 1 <= self.entry_points <= 1024:
            raise bad("entry_points must be in 1..1024")
        if self.recent_window_ms <= 0:
            raise bad("recent_window_ms must be positive")
        if self.half_lives_ms is not None and (
            len(self.half_lives_ms) != len(self.leverages)
            or any(not (h >= 0) for h in self.half_lives_ms)
        ):
            raise bad("half_lives_ms must have one value >= 0 per leverage")
        if self.n_buckets < 2 or self.n_buckets > 1_000_000:
            raise bad("n_buckets must be in 2..1,000,000")
        if self.bucket_usd is not None and not (
            math.isfinite(self.bucket_usd) and self.bucket_usd > 0
        ):
            raise bad("bucket_usd must be a positive number")
        if self.max_columns < 1:
            raise bad("max_columns must be >= 1")
        if self.column_ms is not None and self.column_ms <= 0:
            raise bad("column_ms must be positive")

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able dict of every parameter (for exports)."""
        d = asdict(self)
        return {k: list(v) if isinstance(v, tuple) else v for k, v in d.items()}
