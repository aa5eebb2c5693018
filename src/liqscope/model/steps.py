"""Model input: one row per time step (OHLCV, taker-buy volume, open interest).

``Steps`` holds validated numpy arrays. :func:`steps_from_columns` turns parsed columns
(strings, numbers or arrays) into ``Steps`` with one clear :class:`InputError` per
problem; reading files is done outside the model (``liqscope.export.steps_file``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np
from numpy.typing import NDArray

from liqscope.domain.errors import InputError
from liqscope.domain.records import Columns

F64 = NDArray[np.float64]
I64 = NDArray[np.int64]

REQUIRED = ("ts", "open", "high", "low", "close", "volume")


def _nan(n: int) -> F64:
    return np.full(n, np.nan, dtype=np.float64)


@dataclass(frozen=True, slots=True, eq=False)
class Bars(Columns):
    """The OHLCV columns every series of time steps starts with, one value per step (the
    model's :class:`Steps`, the simulator's public minute steps, synthetic series)."""

    ts: I64
    """Step start, epoch ms UTC, strictly increasing."""
    open: F64
    high: F64
    low: F64
    close: F64
    volume: F64
    """Traded volume in base units."""


@dataclass(frozen=True, slots=True, eq=False)
class Steps(Bars):
    """Validated model input; all arrays have one value per step."""

    taker_buy_volume: F64
    """Taker-buy volume in base units (NaN when absent)."""
    oi_base: F64
    """Open interest, one side, base units (NaN = a hole, carried over by the estimator)."""
    liq_long_usd: F64 = field(default_factory=lambda: _nan(0))
    """Realized long liquidations in the step, USD (NaN = unknown)."""
    liq_short_usd: F64 = field(default_factory=lambda: _nan(0))
    """Realized short liquidations in the step, USD (NaN = unknown)."""
    quote_volume: F64 = field(default_factory=lambda: _nan(0))
    """Traded quote volume (gives the VWAP; NaN when absent)."""
    venue: str | None = None
    symbol: str | None = None

    def __post_init__(self) -> None:
        n = self.ts.shape[0]
        for name in ("liq_long_usd", "liq_short_usd", "quote_volume"):
            if getattr(self, name).shape[0] == 0 and n > 0:
                object.__setattr__(self, name, _nan(n))
        validate(self)

    def __len__(self) -> int:
        return int(self.ts.shape[0])

    def slice(self, start: int, stop: int) -> Steps:
        """Steps ``start:stop`` as a new ``Steps``."""

        def cut(a: Any) -> Any:
            return a[start:stop].copy()

        return Steps(
            ts=cut(self.ts),
            open=cut(self.open),
            high=cut(self.high),
            low=cut(self.low),
            close=cut(self.close),
            volume=cut(self.volume),
            taker_buy_volume=cut(self.taker_buy_volume),
            oi_base=cut(self.oi_base),
            liq_long_usd=cut(self.liq_long_usd),
            liq_short_usd=cut(self.liq_short_usd),
            quote_volume=cut(self.quote_volume),
            venue=self.venue,
            symbol=self.symbol,
        )


def _first_bad(mask: NDArray[np.bool_]) -> int:
    return int(np.flatnonzero(mask)[0])


def validate(s: Steps) -> None:
    """Raise :class:`InputError` naming the first problem found in ``s``."""
    n = s.ts.shape[0]
    if n == 0:
        raise InputError("no steps: the input is empty")
    arrays = {
        "open": s.open,
        "high": s.high,
        "low": s.low,
        "close": s.close,
        "volume": s.volume,
        "taker_buy_volume": s.taker_buy_volume,
        "open_interest": s.oi_base,
        "liq_long_usd": s.liq_long_usd,
        "liq_short_usd": s.liq_short_usd,
        "quote_volume": s.quote_volume,
    }
    for name, arr in arrays.items():
        if arr.shape != (n,):
            raise InputError(f"column {name} has {arr.shape[0]} values, expected {n}")
    for name in ("open", "high", "low", "close", "volume"):
        arr = arrays[name]
        bad = ~np.isfinite(arr)
        if bad.any():
            i = _first_bad(bad)
            raise InputError(f"column {name} has a missing or non-finite value at row {i + 1}")
    for name in ("open", "high", "low", "close"):
        bad = arrays[name] <= 0
        if bad.any():
            raise InputError(f"column {name} must be positive (row {_first_bad(bad) + 1})")
    if (s.volume < 0).any():
        raise InputError(f"negative volume at row {_first_bad(s.volume < 0) + 1}")
    if np.isinf(s.oi_base).any():
        raise InputError(
            f"column open_interest is infinite at row {_first_bad(np.isinf(s.oi_base)) + 1}"
        )
    # OI may be missing at every row of a piece that continues an earlier run's state;
    # a fresh estimate refuses that (estimator.fill_oi_holes)
    if (s.oi_base < 0).any():
        raise InputError(f"negative open interest at row {_first_bad(s.oi_base < 0) + 1}")
    check_epoch_ms(s.ts)
    if n > 1:
        d = np.diff(s.ts)
        if (d == 0).any():
            i = _first_bad(d == 0)
            raise InputError(f"duplicate timestamp {int(s.ts[i + 1])} at row {i + 2}")
        if (d < 0).any():
            i = _first_bad(d < 0)
            raise InputError(f"timestamps are not sorted (row {i + 2} is earlier than row {i + 1})")
    if (s.high < s.low).any():
        raise InputError(f"high < low at row {_first_bad(s.high < s.low) + 1}")
    out = (s.close < s.low) | (s.close > s.high)
    if out.any():
        raise InputError(f"close outside [low, high] at row {_first_bad(out) + 1}")
    for name in ("taker_buy_volume", "liq_long_usd", "liq_short_usd", "quote_volume"):
        arr = arrays[name]
        bad = np.isinf(arr) | (arr < 0)
        if bad.any():
            raise InputError(f"column {name} has an invalid value at row {_first_bad(bad) + 1}")


MS_MIN = 10**11
"""Epoch ms below this (and >= ``SECONDS_MIN``) are read as epoch seconds and refused."""
SECONDS_MIN = 10**9
MS_MAX = 10**14
"""Epoch ms at or above this (year 5138) are epoch microseconds or nanoseconds."""


def check_epoch_ms(ts: I64) -> None:
    """Refuse timestamps that are epoch seconds or micro/nanoseconds instead of ms.

    Epoch seconds of 2001..5138 fall in ``[1e9, 1e11)``, which in ms would be Jan 1970 to
    Mar 1973, a range no market data has; micro- and nanoseconds are >= 1e14. Small values
    (< 1e9, synthetic test clocks) are accepted as ms."""
    lo, hi = int(ts.min()), int(ts.max())
    if SECONDS_MIN <= hi < MS_MIN:
        raise InputError(
            f"timestamps look like epoch seconds (e.g. {hi}); give epoch milliseconds "
            "(multiply by 1000) or ISO 8601 times"
        )
    if hi >= MS_MAX or lo <= -MS_MAX:
        raise InputError(
            f"timestamps look like epoch micro- or nanoseconds (e.g. {hi}); give epoch "
            "milliseconds or ISO 8601 times"
        )


def parse_ts(value: Any, row: int) -> int:
    """Epoch ms from an integer (ms), a number string, or an ISO 8601 string (UTC if naive)."""
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        return int(value)
    if isinstance(value, (float, np.floating)):
        if math.isfinite(value) and float(value).is_integer():
            return int(value)
        raise InputError(f"column ts has an unparsable value {value!r} at row {row}")
    if isinstance(value, datetime):
        dt = value if value.tzinfo else value.replace(tzinfo=UTC)
        return round(dt.timestamp() * 1000)
    text = str(value).strip()
    if text.lstrip("-").isdigit():
        return int(text)
    try:
        dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise InputError(f"column ts has an unparsable value {text!r} at row {row}") from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return round(dt.timestamp() * 1000)


def _floats(name: str, values: Sequence[Any] | NDArray[Any], *, optional: bool) -> F64:
    arr = np.asarray(values)
    if arr.dtype.kind in "fiu":
        return arr.astype(np.float64)
    out = np.empty(len(arr), dtype=np.float64)
    for i, v in enumerate(arr):
        if v is None or (isinstance(v, str) and v.strip() == ""):
            if optional:
                out[i] = np.nan
                continue
            raise InputError(f"column {name} has a missing value at row {i + 1}")
        try:
            out[i] = float(v)
        except (TypeError, ValueError):
            raise InputError(
                f"column {name} has an unparsable value {v!r} at row {i + 1}"
            ) from None
    return out


def _single_text(name: str, values: Sequence[Any] | NDArray[Any]) -> str | None:
    vals = {str(v).strip() for v in values if v is not None and str(v).strip() != ""}
    if not vals:
        return None
    if len(vals) > 1:
        raise InputError(f"column {name} must hold one value, found {sorted(vals)[:3]}")
    return vals.pop()


def steps_from_columns(
    columns: Mapping[str, Sequence[Any] | NDArray[Any]],
    *,
    venue: str | None = None,
    symbol: str | None = None,
) -> Steps:
    """Build validated ``Steps`` from named columns.

    Required: ``ts`` (epoch ms or ISO 8601), ``open, high, low, close, volume`` and
    ``open_interest`` (base units) or ``open_interest_usd`` (divided by the step's typical
    price ``(high + low + close) / 3``, which a venue's USD figure tracks). Empty OI cells
    are holes (NaN), carried over explicitly by the estimator.
    Optional: ``taker_buy_volume``, ``quote_volume``, ``liq_long_usd``, ``liq_short_usd``,
    ``venue``, ``symbol`` (arguments override the columns).
    """
    cols = {k.strip().lower(): v for k, v in columns.items()}
    missing = [c for c in REQUIRED if c not in cols]
    if "open_interest" not in cols and "open_interest_usd" not in cols:
        missing.append("open_interest (or open_interest_usd)")
    if missing:
        raise InputError(f"missing column(s): {', '.join(missing)}")
    n = len(cols["ts"])
    if n == 0:
        raise InputError("no steps: the input is empty")
    for k, v in cols.items():
        if len(v) != n:
            raise InputError(f"column {k} has {len(v)} values, expected {n}")
    ts_raw = np.asarray(cols["ts"])
    if ts_raw.dtype.kind in "iu":
        ts = ts_raw.astype(np.int64)
    elif ts_raw.dtype.kind == "M":
        ts = ts_raw.astype("datetime64[ms]").astype(np.int64)
    else:
        ts = np.fromiter((parse_ts(v, i + 1) for i, v in enumerate(ts_raw)), np.int64, n)
    f = {c: _floats(c, cols[c], optional=False) for c in REQUIRED[1:]}
    if "open_interest" in cols:
        oi = _floats("open_interest", cols["open_interest"], optional=True)
    else:
        oi_usd = _floats("open_interest_usd", cols["open_interest_usd"], optional=True)
        with np.errstate(divide="ignore", invalid="ignore"):
            oi = oi_usd / ((f["high"] + f["low"] + f["close"]) / 3.0)

    def opt(name: str) -> F64:
        return _floats(name, cols[name], optional=True) if name in cols else _nan(n)

    return Steps(
        ts=ts,
        open=f["open"],
        high=f["high"],
        low=f["low"],
        close=f["close"],
        volume=f["volume"],
        taker_buy_volume=opt("taker_buy_volume"),
        oi_base=oi,
        liq_long_usd=opt("liq_long_usd"),
        liq_short_usd=opt("liq_short_usd"),
        quote_volume=opt("quote_volume"),
        venue=venue or (_single_text("venue", cols["venue"]) if "venue" in cols else None),
        symbol=symbol or (_single_text("symbol", cols["symbol"]) if "symbol" in cols else None),
    )
