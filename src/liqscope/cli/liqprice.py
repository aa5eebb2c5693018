"""``liqscope liqprice``: the venue-exact liquidation price of one isolated position."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Annotated

import typer

from liqscope.cli.app import app, fail
from liqscope.cli.options import VENUE_NAMES, EntryOption, LeverageOption, SideOption
from liqscope.domain import registry
from liqscope.domain.errors import LiqscopeError
from liqscope.domain.liqprice import METHODS, check_leverage, check_side, liquidation_price
from liqscope.domain.tiers import LOADERS, load_tiers
from liqscope.domain.types import Side

_DEFAULT_FORMAT = {"binance": "binance", "bybit": "bybit", "okx": "okx"}


@app.command("liqprice")
def liqprice(
    venue: Annotated[str, typer.Option(help=f"One of {VENUE_NAMES}.")],
    symbol: Annotated[str, typer.Option(help="venue symbol: BTCUSDT, BTC-USDT-SWAP, BTC")],
    side: SideOption,
    entry: EntryOption,
    leverage: LeverageOption,
    qty: Annotated[float, typer.Option(help="base units for linear, contracts for inverse")],
    method: Annotated[str, typer.Option(help=f"one of {', '.join(METHODS)}")] = "exact",
    tiers_file: Annotated[Path | None, typer.Option(help="your own tier table (JSON)")] = None,
    tiers_format: Annotated[
        str | None,
        typer.Option(help=f"{', '.join(LOADERS)}; default: the venue's own format, else ccxt"),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print one JSON object")] = False,
) -> None:
    """Print the liquidation price of an isolated one-way position and the tier used.

    Leverage above the venue's cap for the position's size is refused (exit 2)."""
    try:
        position_side = Side.parse(side)
        inst = registry.instrument(venue, symbol)
        if tiers_file is not None:
            fmt = tiers_format or _DEFAULT_FORMAT.get(inst.venue, "ccxt")
            tiers = load_tiers(tiers_file, fmt, inst.symbol)
            source = str(tiers_file)
        elif tiers_format is not None:
            raise fail("--tiers-format needs --tiers-file")
        else:
            tiers = registry.default_tiers(venue, symbol)
            illustrative = registry.is_illustrative(venue, symbol)
            source = "builtin (illustrative)" if illustrative else "builtin"
        check_leverage(inst, tiers, entry, leverage, qty)
        result = liquidation_price(inst, tiers, position_side, entry, leverage, qty, method)
        check_side(position_side, entry, result.price)
    except (LiqscopeError, ValueError) as exc:
        raise fail(str(exc)) from None
    notional = qty * inst.contract_size if inst.inverse else qty * entry
    price = result.price if math.isfinite(result.price) else None
    distance = (result.price / entry - 1) * 100 if price is not None else None
    if as_json:
        record = {
            "venue": inst.venue,
            "symbol": inst.symbol,
            "side": position_side.label,
            "entry": entry,
            "leverage": leverage,
            "qty": qty,
            "notional": notional,
            "liquidation_price": price,
            "tier": result.tier,
            "mmr": result.mmr,
            "maint_amount": result.maint_amount,
            "method": result.method,
            "distance_pct": distance,
            "tiers_source": source,
        }
        typer.echo(json.dumps(record))
        return
    shown = f"{price:,.4f}" if price is not None else "none (cannot be liquidated)"
    moved = f" ({distance:+.2f}%)" if distance is not None else ""
    typer.echo(
        f"{inst.venue} {inst.symbol} {position_side.label} {qty:g} @ {entry:g} x{leverage:g}: "
        f"liquidation price {shown}{moved}; tier {result.tier} (MMR {result.mmr:g}, "
        f"maint amount {result.maint_amount:g}), method {result.method}, tiers {source}"
    )
