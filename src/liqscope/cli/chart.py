"""``liqscope chart``: realized liquidations per interval as CSV, JSON or PNG."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import typer

from liqscope.cli.app import app
from liqscope.cli.options import DbOption, format_ms, open_store, parse_time
from liqscope.domain.errors import InputError
from liqscope.domain.intervals import interval_ms
from liqscope.store.queries import RealizedBars, realized

CHART_INTERVALS = ("1m", "5m", "15m", "1h", "4h", "1d", "1w")
MAX_BARS = 2_000_000


def _rows(bars: RealizedBars) -> list[dict[str, Any]]:
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


def _png(bars: RealizedBars, out: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.dates as mdates
    import matplotlib.pyplot as plt
    import matplotlib.ticker as mticker

    times = (bars.ts.astype("datetime64[ms]")).astype(object)
    width = bars.interval_ms / 86_400_000 * 0.9  # in days, as matplotlib dates are
    with plt.style.context("dark_background"):
        fig, ax = plt.subplots(figsize=(12, 5), dpi=110)
        try:
            ax.bar(times, bars.short_usd, width=width, color="#26a69a", label="shorts liquidated")
            ax.bar(times, -bars.long_usd, width=width, color="#ef5350", label="longs liquidated")
            ax.axhline(0, color="#888888", linewidth=0.6)
            ax.set_title(title)
            ax.set_ylabel("USD per interval (longs down, shorts up)")
            ax.xaxis.set_major_formatter(mdates.DateFormatter("%Y-%m-%d\n%H:%M"))
            ax.yaxis.set_major_formatter(mticker.FuncFormatter(lambda v, _p: f"{abs(v):,.0f}"))
            ax.legend(loc="upper left")
            ax.grid(alpha=0.15)
            fig.tight_layout()
            fig.savefig(out)
        finally:
            plt.close(fig)


@app.command("chart")
def chart_command(
    out: Annotated[Path, typer.Option("--out", help="Output: .csv, .json or .png.")],
    venue: Annotated[str, typer.Option(help="Venue, e.g. binance.")] = "binance",
    symbol: Annotated[str | None, typer.Option(help="Symbol (default: all).")] = None,
    interval: Annotated[
        str, typer.Option(help=f"Bar interval: {', '.join(CHART_INTERVALS)}.")
    ] = "1h",
    start: Annotated[
        str | None, typer.Option("--from", help="Start (UTC date/time or epoch).")
    ] = None,
    end: Annotated[str | None, typer.Option("--to", help="End, exclusive.")] = None,
    db: DbOption = None,
) -> None:
    """Realized liquidations per interval (red: longs liquidated, green: shorts)."""
    if interval not in CHART_INTERVALS:
        raise InputError(
            f"unknown interval {interval!r} (expected one of {', '.join(CHART_INTERVALS)})"
        )
    step = interval_ms(interval)
    suffix = out.suffix.lower()
    if suffix not in (".csv", ".json", ".png"):
        raise InputError(f"--out must end in .csv, .json or .png, not {out.name!r}")
    t0 = parse_time(start, "--from") if start else 0
    t1 = parse_time(end, "--to") if end else 2**62
    if t1 <= t0:
        raise InputError("--to must be after --from")
    venue = venue.lower()
    sym = symbol.upper() if symbol else None
    store = open_store(db, must_exist=True)
    try:
        liqs = store.liquidations([venue], sym, t0, t1)
    finally:
        store.close()
    if not liqs:
        what = f"{venue} {sym or '(all symbols)'}"
        raise InputError(f"no liquidations stored for {what} in the chosen range")
    ts = np.fromiter((x.ts for x in liqs), dtype=np.int64, count=len(liqs))
    lo = t0 if start else int(ts.min())
    hi = t1 if end else int(ts.max()) + 1
    if (hi - lo) // step > MAX_BARS:
        raise InputError(
            f"{interval} bars over this range exceed {MAX_BARS:,}; pick a longer interval"
        )
    bars = realized(
        ts,
        np.fromiter((int(x.side) for x in liqs), dtype=np.int64, count=len(liqs)),
        np.fromiter((x.notional_usd for x in liqs), dtype=np.float64, count=len(liqs)),
        np.fromiter((x.sampled for x in liqs), dtype=bool, count=len(liqs)),
        lo,
        hi,
        step,
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    rows = _rows(bars)
    sampled = bool(bars.sampled.any())
    if suffix == ".csv":
        with open(out, "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=list(rows[0]) if rows else ["ts"])
            writer.writeheader()
            writer.writerows(rows)
    elif suffix == ".json":
        meta = {
            "venue": venue,
            "symbol": sym,
            "interval": interval,
            "from_ms": int(bars.ts[0]) if len(bars) else lo,
            "to_ms": hi,
            "sampled": sampled,
            "note": "lower bound (sampled feed)" if sampled else None,
            "bars": rows,
        }
        out.write_text(json.dumps(meta, indent=1))
    else:
        title = f"Realized liquidations — {venue} {sym or 'all symbols'} — {interval}"
        if sampled:
            title += " — lower bound (sampled feed)"
        _png(bars, out, title)
    total_long = float(bars.long_usd.sum())
    total_short = float(bars.short_usd.sum())
    typer.echo(
        f"{out}: {len(bars):,} bars {format_ms(int(bars.ts[0]))} → {format_ms(hi)} UTC, "
        f"longs {total_long:,.0f} USD, shorts {total_short:,.0f} USD"
        + (" (lower bound: sampled feed)" if sampled else "")
    )
