"""``liqscope predict``: estimated liquidations per interval from a STEPS file or the store."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from liqscope.cli.app import app
from liqscope.cli.heatmap import load_steps
from liqscope.cli.options import PRESET_NAMES, DbOption
from liqscope.domain.errors import InputError
from liqscope.export.predicted import write_predicted
from liqscope.model.market import estimate_market
from liqscope.model.predict import combined, predicted_liquidations
from liqscope.model.presets import preset as get_preset

INTERVALS = {"1h": 3_600_000, "1d": 86_400_000}


@app.command("predict")
def predict(
    out: Annotated[Path, typer.Option("--out", "-o", help="Output: .csv, .json or .parquet.")],
    input_path: Annotated[
        Path | None, typer.Option("--input", "-i", help="STEPS file (.csv or .parquet).")
    ] = None,
    venue: Annotated[str | None, typer.Option(help="Venue (its liquidation rules).")] = None,
    symbol: Annotated[str | None, typer.Option(help="Venue symbol, e.g. BTCUSDT.")] = None,
    db: DbOption = None,
    preset: Annotated[str, typer.Option(help=f"Model preset: {PRESET_NAMES}.")] = "all",
    interval: Annotated[str, typer.Option(help="Row interval: 1h or 1d.")] = "1h",
) -> None:
    """Estimated liquidated notional per interval: ts (interval start, epoch ms UTC),
    long_usd, short_usd (the level mass each interval's price path consumed)."""
    if interval not in INTERVALS:
        raise InputError("--interval must be 1h or 1d")
    cfg = get_preset(preset)
    steps, skipped = load_steps(input_path, venue, symbol, db)
    est = estimate_market(steps, cfg, skipped=skipped)
    pred = combined([predicted_liquidations(r, INTERVALS[interval]) for r in est.venues.values()])
    meta = {
        "venues": list(est.used), "symbol": est.heatmap.symbol, "preset": cfg.name,
        "model_version": est.model_version, "units": "USD", "skipped": dict(est.skipped),
    }  # fmt: skip
    path = write_predicted(out, pred, meta)
    total = pred.total_usd.sum()
    typer.echo(
        f"{'+'.join(est.used)} {est.heatmap.symbol} {cfg.name}: {len(pred)} rows of {interval}, "
        f"${pred.long_usd.sum():,.0f} long + ${pred.short_usd.sum():,.0f} short "
        f"(${total:,.0f}) -> {path}"
    )
