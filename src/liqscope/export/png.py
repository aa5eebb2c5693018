"""Heatmap PNG in the look traders know: dark background, dark -> yellow colour scale,
price line on top, colour bar in USD; and the axis helpers and colours every PNG renderer
shares (``web/palette.json``, the one colour table the web UI reads too)."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from itertools import pairwise
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from liqscope.export.grid import GridTable

PALETTE_PATH = Path(__file__).resolve().parent.parent / "web" / "palette.json"
PALETTE: dict[str, Any] = orjson.loads(PALETTE_PATH.read_bytes())
"""Colours of the sides (longs liquidated red, shorts green), tiers, price and background."""
BACKGROUND: str = PALETTE["background"]
FOREGROUND: str = PALETTE["foreground"]
EDGE: str = PALETTE["edge"]


def tier_colour(label: str) -> str:
    """The fixed colour of a leverage tier (``25x``), whichever other tiers are shown."""
    colour: str = PALETTE["tiers"].get(label, PALETTE["tier_other"])
    return colour


def dollars(value: float, span: float) -> str:
    """``$62,100`` (decimals only as fine as a tick ``span`` apart needs; sign kept)."""
    digits = 0 if span <= 0 or span >= 10 else min(8, 1 - math.floor(math.log10(span)))
    text = f"${abs(value):,.{digits}f}"
    return "-" + text if value < 0 and round(abs(value), digits) > 0 else text


def dollar_axis(axis: Any, absolute: bool = False) -> None:
    """Label an axis's ticks in dollars (``$62,100``), never as offsets or ``1e6``;
    ``absolute`` drops the sign (bars drawn below zero)."""
    from matplotlib.ticker import FuncFormatter

    def fmt(value: float, _pos: int | None) -> str:
        lo, hi = axis.get_view_interval()
        ticks = [t for t in axis.get_majorticklocs() if lo <= t <= hi]
        span = min((b - a for a, b in pairwise(ticks)), default=abs(hi - lo))
        return dollars(abs(value) if absolute else value, float(span))

    axis.set_major_formatter(FuncFormatter(fmt))


def figure(width_in: float, height_in: float, dpi: int) -> tuple[Any, Any]:
    """A figure on the dark background (no pyplot state) and its one axes."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width_in, height_in), dpi=dpi, facecolor=BACKGROUND)
    FigureCanvasAgg(fig)
    return fig, fig.add_subplot(1, 1, 1, facecolor=BACKGROUND)


def save(fig: Any, ax: Any, path: str | Path) -> Path:
    """Add the legend of ``ax`` in the house colours, lay out and write the PNG."""
    leg = ax.legend(loc="upper left", facecolor=BACKGROUND, edgecolor=EDGE)
    for text in leg.get_texts():
        text.set_color(FOREGROUND)
    fig.tight_layout()
    p = Path(path)
    fig.savefig(p, format="png", facecolor=BACKGROUND)
    return p


def style_axes(*axes: Any) -> None:
    """Foreground ticks and dark spines on the dark background."""
    for ax in axes:
        ax.tick_params(colors=FOREGROUND)
        for spine in ax.spines.values():
            spine.set_color(EDGE)


def _title(table: GridTable) -> str:
    m = table.meta
    levs = m.get("leverages") or []
    tiers = ",".join(f"{x:g}x" for x in levs) if levs else "all"
    parts = [
        f"{m.get('venue') or '?'} {m.get('symbol') or '?'}",
        f"preset {m.get('preset', '?')}",
        f"tiers {tiers}",
        f"side {m.get('sides', 'both')}",
    ]
    return "Estimated liquidation levels — " + " · ".join(parts)


def render_heatmap_png(
    path: str | Path,
    table: GridTable,
    *,
    width_px: int = 1600,
    height_px: int = 900,
    clip_quantile: float = 0.995,
) -> Path:
    """Draw ``table`` to a PNG. Colours saturate at the ``clip_quantile`` of non-zero cells
    so a few extreme buckets do not wash out the rest; the y-axis is cropped to the price
    range holding mass or price."""
    import matplotlib.dates as mdates

    vals = table.values
    edges = table.bucket_edges
    w = table.column_ms
    t_edges = np.r_[table.columns_ts, table.columns_ts[-1] + w]
    x = mdates.date2num(  # type: ignore[no-untyped-call]  # matplotlib.dates is untyped
        [datetime.fromtimestamp(t / 1000, tz=UTC) for t in t_edges.tolist()]
    )
    rows = np.flatnonzero(vals.sum(axis=0) > 0)
    close = table.column_close
    finite = close[np.isfinite(close)]
    lo_i, hi_i = 0, vals.shape[1] - 1
    if rows.size:
        lo_i, hi_i = int(rows[0]), int(rows[-1])
    lo_p = min(float(edges[lo_i]), float(finite.min()) if finite.size else float(edges[lo_i]))
    hi_p = max(float(edges[hi_i + 1]), float(finite.max()) if finite.size else float(edges[-1]))
    pad = 0.02 * (hi_p - lo_p)
    nz = vals[vals > 0]
    vmax = float(np.quantile(nz, clip_quantile)) if nz.size else 1.0

    fig, ax = figure(width_px / 100, height_px / 100, 100)
    mesh = ax.pcolormesh(
        x,
        edges,
        vals.T.astype(np.float32),
        cmap="inferno",
        vmin=0.0,
        vmax=vmax,
        shading="flat",
        rasterized=True,
    )
    mid = (x[:-1] + x[1:]) / 2
    ax.plot(mid, close, color=PALETTE["close"], linewidth=1.0, label="close")
    ax.set_ylim(lo_p - pad, hi_p + pad)
    ax.set_xlim(x[0], x[-1])
    locator = mdates.AutoDateLocator()  # type: ignore[no-untyped-call]  # untyped upstream
    formatter = mdates.ConciseDateFormatter(locator)  # type: ignore[no-untyped-call]  # idem
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(formatter)
    ax.set_xlabel("time (UTC)", color=FOREGROUND)
    ax.set_ylabel("price", color=FOREGROUND)
    dollar_axis(ax.yaxis)
    ax.set_title(_title(table), color=FOREGROUND, fontsize=11)
    style_axes(ax)
    cbar = fig.colorbar(mesh, ax=ax, pad=0.01)
    cbar.set_label(table.units, color=FOREGROUND)
    if table.units == "USD":
        dollar_axis(cbar.ax.yaxis)
    cbar.ax.tick_params(colors=FOREGROUND)
    cbar.outline.set_edgecolor(EDGE)
    return save(fig, ax, path)
