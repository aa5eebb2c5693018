"""``liqscope check``: where a position's liquidation price sits on the current map."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from liqscope.cli.app import app
from liqscope.cli.options import (
    PRESET_NAMES,
    VENUE_NAMES,
    DbOption,
    EntryOption,
    LeverageOption,
    SideOption,
    stored_steps,
)
from liqscope.domain import registry
from liqscope.domain.errors import InputError
from liqscope.domain.liqprice import check_leverage, check_side
from liqscope.domain.types import Side
from liqscope.export.steps_file import read_steps
from liqscope.model.market import estimate_market
from liqscope.model.presets import preset as get_preset
from liqscope.signals.check import check_position
from liqscope.signals.clusters import LevelMap


@app.command("check")
def check(
    symbol: Annotated[str, typer.Option(help="Venue symbol, e.g. BTCUSDT.")],
    side: SideOption,
    entry: EntryOption,
    leverage: LeverageOption,
    qty: Annotated[
        float | None, typer.Option(help="Size: base units (contracts if inverse); default $10k.")
    ] = None,
    venue: Annotated[str, typer.Option(help=f"One of {VENUE_NAMES}.")] = "binance",
    db: DbOption = None,
    input_path: Annotated[
        Path | None, typer.Option("--input", "-i", help="STEPS file instead of the store.")
    ] = None,
    days: Annotated[float, typer.Option(help="History to build the map from (store).")] = 7.0,
    preset: Annotated[str, typer.Option(help=f"Model preset: {PRESET_NAMES}.")] = "all",
    band: Annotated[float, typer.Option(help="Band around the liquidation price, %.")] = 0.5,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Exact liquidation price, the estimated liquidation mass around it, and a verdict.

    Leverage above the venue's cap for the position's size is refused (exit 2)."""
    if days <= 0:
        raise InputError("--days must be positive")
    inst, tiers = registry.instrument(venue, symbol), registry.default_tiers(venue, symbol)
    if qty is not None:  # refuse before reading anything (the default size: below)
        check_leverage(inst, tiers, entry, leverage, qty)
    if input_path is not None:
        steps = read_steps(input_path, venue=venue, symbol=symbol)
    else:
        steps = stored_steps(db, venue, symbol, days)
    est = estimate_market([steps], get_preset(preset))
    lm = LevelMap.from_heatmap(est.heatmap, -1)
    rep = check_position(
        lm, venue=venue, symbol=symbol, side=side, entry=entry, leverage=leverage, qty=qty,
        band_pct=band,
    )  # fmt: skip
    check_leverage(inst, tiers, entry, leverage, rep.qty)
    check_side(Side.parse(rep.side), entry, rep.liq_price)
    if as_json:
        typer.echo(json.dumps(rep.to_dict(), default=float))
        return
    typer.echo(f"{venue} {symbol} {rep.side} {leverage:g}x @ {entry:,.2f} (price {rep.price:,.2f})")
    typer.echo(f"  liquidation price   {rep.liq_price:,.2f} ({rep.distance_pct:.2f}% away)")
    typer.echo(f"  mass ±{band:g}% of it    ${rep.mass_near_usd:,.0f} {rep.side}s")
    typer.echo(f"  mass in between     ${rep.mass_between_usd:,.0f} {rep.side}s go first")
    for label, c in (("above", rep.nearest_above), ("below", rep.nearest_below)):
        if c is not None:
            typer.echo(
                f"  nearest cluster {label}: {c.low:,.0f}-{c.high:,.0f} ${c.usd:,.0f} "
                f"({c.distance_pct:.2f}%)"
            )
    typer.echo(f"  verdict: {rep.message}")
