"""``liqscope heatmap``: estimate liquidation levels from a STEPS file and export them."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from liqscope.cli.app import app
from liqscope.cli.options import DbOption, stored_steps
from liqscope.domain.errors import InputError
from liqscope.model.steps import Steps


def _parse_tiers(text: str | None) -> list[float] | None:
    if text is None or not text.strip() or text.strip().lower() == "all":
        return None
    out = []
    for part in text.split(","):
        p = part.strip().lower().rstrip("x")
        try:
            out.append(float(p))
        except ValueError:
            raise InputError(
                f"--tiers: {part.strip()!r} is not a leverage (e.g. 25,50,100)"
            ) from None
    return out


def load_steps(
    input_path: Path | None, venue: str | None, symbol: str | None, db: Path | None = None
) -> Steps:
    """The model input: a STEPS file, or else the 1-minute steps stored for venue/symbol."""
    if input_path is not None:
        from liqscope.export.steps_file import read_steps

        return read_steps(input_path, venue=venue, symbol=symbol)
    if not venue or not symbol:
        raise InputError("give --input STEPS, or --venue and --symbol to read from the store")
    return stored_steps(db, venue, symbol)


@app.command("heatmap")
def heatmap(
    out: Annotated[
        Path, typer.Option("--out", "-o", help="Output: .png, .csv, .json or .parquet.")
    ],
    input_path: Annotated[
        Path | None, typer.Option("--input", "-i", help="STEPS file (.csv or .parquet).")
    ] = None,
    venue: Annotated[str | None, typer.Option(help="Venue (default: the file's column).")] = None,
    symbol: Annotated[str | None, typer.Option(help="Symbol (default: the file's column).")] = None,
    tiers: Annotated[
        str | None, typer.Option(help="Leverage tiers to show, e.g. 25,50,100 (default: all).")
    ] = None,
    side: Annotated[str, typer.Option(help="long, short or both.")] = "both",
    preset: Annotated[str, typer.Option(help="Model preset: all or high.")] = "all",
    bucket: Annotated[
        float | None, typer.Option(help="Price bucket size in USD (default: ~2000 buckets).")
    ] = None,
    columns: Annotated[
        int | None, typer.Option(help="Maximum number of time columns (default 2048).")
    ] = None,
    relative: Annotated[bool, typer.Option(help="Scale values to 0..1 instead of USD.")] = False,
    db: DbOption = None,
) -> None:
    """Estimate the liquidation heatmap and write it as a PNG or a raw grid."""
    from dataclasses import replace

    from liqscope.export.grid import GRID_FORMATS, grid_table, write_grid
    from liqscope.export.png import render_heatmap_png
    from liqscope.model.estimator import estimate
    from liqscope.model.presets import preset as get_preset

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
    tier_list = _parse_tiers(tiers)
    steps = load_steps(input_path, venue, symbol, db)
    if not steps.venue or not steps.symbol:
        raise InputError("give --venue and --symbol (the input has no venue/symbol columns)")
    result = estimate(steps, cfg)
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
