"""Realized-liquidation bars: built from stored liquidations by the store's realized query
(``store.queries.realized``, the one the API uses) and written as CSV, JSON or PNG."""

from __future__ import annotations

import csv
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from liqscope.domain.errors import InputError
from liqscope.domain.events import Liquidation
from liqscope.domain.intervals import DAY_MS
from liqscope.export.png import FOREGROUND, PALETTE, dollar_axis, figure, save, style_axes
from liqscope.store.queries import RealizedBars, realized

CHART_FORMATS = (".csv", ".json", ".png")
LONG_COLOUR: str = PALETTE["long"]
"""Longs liquidated: red, as in the web UI (``web/palette.json``)."""
SHORT_COLOUR: str = PALETTE["short"]
"""Shorts liquidated: green."""
MAX_BARS = 2_000_000


def bars_of(
    liqs: Sequence[Liquidation], t0: int | None, t1: int | None, interval_ms: int
) -> RealizedBars:
    """Bars of ``interval_ms`` over ``[t0, t1)`` summing every venue and symbol of ``liqs``
    (None bounds: from the first / to just after the last liquidation)."""
    if not liqs:
        raise InputError("no liquidations stored for this market in the chosen range")
    n = len(liqs)
    ts = np.fromiter((x.ts for x in liqs), dtype=np.int64, count=n)
    lo = int(ts.min()) if t0 is None else t0
    hi = int(ts.max()) + 1 if t1 is None else t1
    if (hi - lo) // interval_ms > MAX_BARS:
        raise InputError(f"bars over this range exceed {MAX_BARS:,}; pick a longer interval")
    return realized(
        ts,
        np.fromiter((int(x.side) for x in liqs), dtype=np.int64, count=n),
        np.fromiter((x.notional_usd for x in liqs), dtype=np.float64, count=n),
        np.fromiter((x.sampled for x in liqs), dtype=bool, count=n),
        lo,
        hi,
        interval_ms,
    )


def bar_rows(bars: RealizedBars) -> list[dict[str, Any]]:
    """One dict per bar."""
    return [
        {
            "ts": int(bars.ts[i]),
            "long_usd": float(bars.long_usd[i]),
            "short_usd": float(bars.short_usd[i]),
            "count_long": int(bars.count_long[i]),
            "count_short": int(bars.count_short[i]),
            "sampled": bool(bars.sampled[i]),
        }
        for i in range(len(bars))
    ]


def write_chart(path: str | Path, bars: RealizedBars, meta: Mapping[str, Any]) -> Path:
    """Write ``bars`` by file suffix: CSV (one row per bar), JSON (``meta`` and the bars),
    PNG (:func:`render_chart_png`, titled from ``meta``)."""
    p = Path(path)
    suffix = p.suffix.lower()
    rows = bar_rows(bars)
    sampled = bool(bars.sampled.any())
    if suffix == ".csv":
        with p.open("w", newline="", encoding="utf-8") as f:
            writer = csv.DictWriter(f, fieldnames=list(rows[0]) if rows else ["ts"])
            writer.writeheader()
            writer.writerows(rows)
    elif suffix == ".json":
        doc = {
            **meta,
            "interval_ms": bars.interval_ms,
            "sampled": sampled,
            "note": "lower bound (sampled feed)" if sampled else None,
            "bars": rows,
        }
        p.write_bytes(orjson.dumps(doc, option=orjson.OPT_INDENT_2))
    elif suffix == ".png":
        venues = ", ".join(meta.get("venues", [])) or "?"
        title = f"Realized liquidations — {meta.get('symbol') or 'all symbols'} — {venues}"
        title += f" — {meta.get('interval', '')}"
        render_chart_png(p, bars, title + (" — lower bound (sampled feed)" if sampled else ""))
    else:
        raise InputError(f"--out must end in .csv, .json or .png, not {p.name!r}")
    return p


def render_chart_png(path: str | Path, bars: RealizedBars, title: str) -> Path:
    """Bars per interval as in the web UI: longs liquidated up in red, shorts down in green;
    the value axis in dollars."""
    import matplotlib.dates as mdates

    times = bars.ts.astype("datetime64[ms]").astype(object)
    width = bars.interval_ms / DAY_MS * 0.9  # in days, as matplotlib dates are
    fig, ax = figure(12, 5, 110)
    ax.bar(times, bars.long_usd, width=width, color=LONG_COLOUR, label="longs liquidated")
    ax.bar(times, -bars.short_usd, width=width, color=SHORT_COLOUR, label="shorts liquidated")
    ax.axhline(0, color=PALETTE["muted"], linewidth=0.6)
    ax.set_title(title, color=FOREGROUND)
    ax.set_ylabel("USD per interval (longs up, shorts down)", color=FOREGROUND)
    locator = mdates.AutoDateLocator()  # type: ignore[no-untyped-call]  # untyped upstream
    formatter = mdates.ConciseDateFormatter(locator)  # type: ignore[no-untyped-call]  # idem
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(formatter)
    dollar_axis(ax.yaxis, absolute=True)
    style_axes(ax)
    ax.grid(alpha=0.15)
    return save(fig, ax, path)
