"""``liqscope map``: export the current liquidation map (profile) of a stored market."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from liqscope.cli.app import app
from liqscope.cli.options import PRESET_NAMES, DbOption, parse_tiers, parse_time, stored_window
from liqscope.domain.errors import InputError
from liqscope.domain.intervals import DAY_MS, RANGES, range_ms
from liqscope.export.map import MAP_FORMATS, map_table, write_map
from liqscope.model.market import estimate_market
from liqscope.model.presets import preset as get_preset
from liqscope.signals.clusters import LevelMap, find_clusters, key_levels


@app.command("map")
def map_command(
    out: Annotated[Path, typer.Option("--out", "-o", help="Output: .png, .csv, .json, .parquet.")],
    symbol: Annotated[str, typer.Option(help="Market, e.g. BTCUSDT (or a native name).")],
    venue: Annotated[str, typer.Option(help="Venue, a comma list, or all (aggregate).")] = "all",
    db: DbOption = None,
    tiers: Annotated[
        str | None, typer.Option(help="Leverage tiers, e.g. 25x,50x [default: the preset's].")
    ] = None,
    preset: Annotated[str, typer.Option(help=f"Model preset: {PRESET_NAMES}.")] = "all",
    range_: Annotated[
        str, typer.Option("--range", help=f"History the model runs over: {', '.join(RANGES)}.")
    ] = "7d",
    at: Annotated[
        str | None, typer.Option(help="Time of the map (UTC date/time or epoch) [default: latest].")
    ] = None,
    buckets: Annotated[int, typer.Option(help="Price buckets shown.", min=5, max=2000)] = 200,
    window_pct: Annotated[float, typer.Option(help="± % around price.", min=0.1, max=100)] = 15.0,
    source: Annotated[
        str, typer.Option(help="estimated (the model) or measured (Hyperliquid positions).")
    ] = "estimated",
) -> None:
    """Export the liquidation map: USD per price bucket by tier, cumulative curves, clusters."""
    if source not in ("estimated", "measured"):
        raise InputError(f"--source {source!r}: expected estimated or measured")
    if source == "measured":
        from liqscope.cli.positions import measured_map_command

        return measured_map_command(out, symbol, venue, db, at, None)
    if out.suffix.lower() not in MAP_FORMATS:
        raise InputError(f"--out: unsupported format {out.suffix!r} (use {', '.join(MAP_FORMATS)})")
    if not out.parent.exists():
        raise InputError(f"--out: folder {out.parent} does not exist")
    days = range_ms(range_) / DAY_MS
    config = get_preset(preset)
    end = parse_time(at, "--at") if at is not None else None
    market, steps, skipped = stored_window(db, symbol, venue, days, end)
    est = estimate_market(steps, config, skipped=skipped)
    hm = est.heatmap
    shown = [hm.leverages[i] for i in hm.tier_indices(parse_tiers(tiers))]
    clusters = find_clusters(LevelMap.from_heatmap(hm, -1, shown))
    meta = {
        "symbol": market,
        "venues": list(est.used),
        "skipped": dict(est.skipped),
        "preset": config.name,
        "model_version": est.model_version,
        "clusters": [c.to_dict() for c in clusters],
        "key_levels": key_levels(clusters).to_dict(),
    }
    table = map_table(hm, tiers=shown, window_pct=window_pct, max_buckets=buckets, meta=meta)
    write_map(out, table)
    typer.echo(
        f"wrote {out} ({len(table.bucket_edges) - 1} buckets, price {table.price:,.2f}, "
        f"{', '.join(est.used)}, preset {config.name}, USD)"
    )
