"""``liqscope chart``: realized liquidations per interval as CSV, JSON or PNG."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from liqscope.cli.app import app
from liqscope.cli.options import DbOption, format_ms, market_venues, open_store, parse_time
from liqscope.domain.errors import InputError
from liqscope.domain.events import Liquidation
from liqscope.domain.intervals import INTERVALS, interval_ms
from liqscope.export.chart import CHART_FORMATS, bars_of, write_chart
from liqscope.store.base import LiquidationQuery


@app.command("chart")
def chart_command(
    out: Annotated[Path, typer.Option("--out", help="Output: .csv, .json or .png.")],
    venue: Annotated[str, typer.Option(help="Venue, a comma list, or all (summed).")] = "all",
    symbol: Annotated[
        str | None, typer.Option(help="Market or native symbol [default: all symbols].")
    ] = None,
    interval: Annotated[str, typer.Option(help=f"Bar interval: {', '.join(INTERVALS)}.")] = "1h",
    start: Annotated[
        str | None, typer.Option("--from", help="Start (UTC date/time or epoch).")
    ] = None,
    end: Annotated[str | None, typer.Option("--to", help="End, exclusive.")] = None,
    db: DbOption = None,
) -> None:
    """Realized liquidations per interval (red: longs liquidated, green: shorts)."""
    step = interval_ms(interval)
    if out.suffix.lower() not in CHART_FORMATS:
        raise InputError(f"--out must end in .csv, .json or .png, not {out.name!r}")
    t0 = parse_time(start, "--from") if start else None
    t1 = parse_time(end, "--to") if end else None
    if t0 is not None and t1 is not None and t1 <= t0:
        raise InputError("--to must be after --from")
    lo, hi = t0 if t0 is not None else 0, t1 if t1 is not None else 2**62
    with open_store(db, must_exist=True) as store:
        liqs: list[Liquidation] = []
        if symbol is None:
            names = [] if venue.strip().lower() == "all" else venue.lower().split(",")
            liqs = store.liquidations(LiquidationQuery([v.strip() for v in names], None, lo, hi))
            market, venues = None, sorted({x.venue for x in liqs}) or names
        else:
            market, natives = market_venues(store, symbol, venue, ("liquidations",))
            for v, native in natives.items():
                liqs.extend(store.liquidations(LiquidationQuery([v], native, lo, hi)))
            venues = list(natives)
    bars = bars_of(liqs, t0, t1, step)
    meta = {"symbol": market, "venues": venues, "interval": interval, "from_ms": int(bars.ts[0])}
    out.parent.mkdir(parents=True, exist_ok=True)
    write_chart(out, bars, {**meta, "to_ms": int(bars.ts[-1]) + step})
    sampled = bool(bars.sampled.any())
    typer.echo(
        f"{out}: {len(bars):,} bars {format_ms(int(bars.ts[0]))} → "
        f"{format_ms(int(bars.ts[-1]) + step)} UTC, longs {float(bars.long_usd.sum()):,.0f} USD, "
        f"shorts {float(bars.short_usd.sum()):,.0f} USD"
        + (" (lower bound: sampled feed)" if sampled else "")
    )
