"""``liqscope heatmap``: estimate liquidation levels from a STEPS file and export them."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Annotated

import typer

from liqscope.cli.app import app
from liqscope.cli.options import PRESET_NAMES, DbOption, parse_tiers, stored_window
from liqscope.domain.errors import InputError
from liqscope.export.grid import GRID_FORMATS, grid_table, write_grid
from liqscope.export.png import render_heatmap_png
from liqscope.export.steps_file import read_steps
from liqscope.model.market import estimate_market
from liqscope.model.presets import preset as get_preset
from liqscope.model.steps import Steps


def load_steps(
    input_path: Path | None, venue: str | None, symbol: str | None, db: str | None = None
) -> tuple[list[Steps], dict[str, str]]:
    """The model input: a STEPS file, or else the 1-minute steps stored for the market on
    ``venue`` (a venue, a comma list or all: the aggregate), with the venues left out."""
    if input_path is not None:
        one = read_steps(input_path, venue=venue, symbol=symbol)
        if not one.venue or not one.symbol:
            raise InputError("give --venue and --symbol (the input has no venue/symbol columns)")
        return [one], {}
    if not symbol:
        raise InputError("give --input STEPS, or --symbol (and --venue) to read from the store")
    _, steps, skipped = stored_window(db, symbol, venue or "all")
    return steps, skipped


@app.command("heatmap")
def heatmap(
    out: Annotated[
        Path, typer.Option("--out", "-o", help="Output: .png, .csv, .json or .parquet.")
    ],
    input_path: Annotated[
        Path | None, typer.Option("--input", "-i", help="STEPS file (.csv or .parquet).")
    ] = None,
    venue: Annotated[
        str | None,
        typer.Option(help="Venue, a comma list or all [default: the file's column; store: all]."),
    ] = None,
    symbol: Annotated[str | None, typer.Option(help="Symbol [default: the file's column].")] = None,
    tiers: Annotated[
        str | None,
        typer.Option(help="Leverage tiers to show, e.g. 25,50,100 [default: the preset's]."),
    ] = None,
    side: Annotated[str, typer.Option(help="long, short or both.")] = "both",
    preset: Annotated[str, typer.Option(help=f"Model preset: {PRESET_NAMES}.")] = "all",
    bucket: Annotated[
        float | None,
        typer.Option(help="Price bucket size in USD [default: the preset's 2000 buckets]."),
    ] = None,
    columns: Annotated[
        int | None, typer.Option(help="Maximum number of time columns [default: 2048].")
    ] = None,
    relative: Annotated[bool, typer.Option(help="Scale values to 0..1 instead of USD.")] = False,
    db: DbOption = None,
) -> None:
    """Estimate the liquidation heatmap and write it as a PNG or a raw grid."""
    suffix = out.suffix.lower()
    if suffix != ".png" and suffix not in GRID_FORMATS:
        raise InputError(
            f"--out: unsupported format {suffix!r} (use .png, .csv, .json or .parquet)"
        )
    if side.strip().lower() not in ("long", "short", "both"):
        raise InputError(f"--side must be long, short or both, not {side!r}")
    cfg = get_preset(preset)
    if bucket is not None:
        cfg = replace(cfg, bucket_usd=bucket)
    if columns is not None:
        cfg = replace(cfg, max_columns=columns)
    tier_list = parse_tiers(tiers)
    steps, skipped = load_steps(input_path, venue, symbol, db)
    result = estimate_market(steps, cfg, skipped=skipped).heatmap
    table = grid_table(
        result, tiers=tier_list, sides=None if side == "both" else side, relative=relative
    )
    if not out.parent.exists():
        raise InputError(f"--out: folder {out.parent} does not exist")
    if suffix == ".png":
        render_heatmap_png(out, table)
    else:
        write_grid(out, table)
    cells = int((table.values > 0).sum())
    typer.echo(
        f"wrote {out} ({table.values.shape[0]} columns x {table.values.shape[1]} buckets, "
        f"{cells} non-zero cells, {table.units})"
    )
