"""Heatmap PNG in the look traders know: dark background, dark -> yellow colour scale,
price line on top, colour bar in USD."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from liqscope.export.grid import GridTable

BACKGROUND = "#0b0e14"
FOREGROUND = "#c9d1d9"


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
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

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

    fig = Figure(figsize=(width_px / 100, height_px / 100), dpi=100, facecolor=BACKGROUND)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1, facecolor=BACKGROUND)
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
    ax.plot(mid, close, color="#4fc3f7", linewidth=1.0, label="close")
    ax.set_ylim(lo_p - pad, hi_p + pad)
    ax.set_xlim(x[0], x[-1])
    locator = mdates.AutoDateLocator()  # type: ignore[no-untyped-call]  # untyped upstream
    formatter = mdates.ConciseDateFormatter(locator)  # type: ignore[no-untyped-call]  # idem
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(formatter)
    ax.set_xlabel("time (UTC)", color=FOREGROUND)
    ax.set_ylabel("price", color=FOREGROUND)
    ax.set_title(_title(table), color=FOREGROUND, fontsize=11)
    ax.tick_params(colors=FOREGROUND)
    for spine in ax.spines.values():
        spine.set_color("#30363d")
    cbar = fig.colorbar(mesh, ax=ax, pad=0.01)
    cbar.set_label(table.units, color=FOREGROUND)
    cbar.ax.tick_params(colors=FOREGROUND)
    cbar.outline.set_edgecolor("#30363d")
    leg = ax.legend(loc="upper left", facecolor=BACKGROUND, edgecolor="#30363d")
    for text in leg.get_texts():
        text.set_color(FOREGROUND)
    fig.tight_layout()
    p = Path(path)
    fig.savefig(p, format="png", facecolor=BACKGROUND)
    return p
