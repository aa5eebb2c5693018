"""``liqscope predict``: estimated liquidations per interval from a STEPS file or the store."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import numpy as np
import typer

from liqscope.cli.app import app
from liqscope.cli.heatmap import load_steps
from liqscope.cli.options import PRESET_NAMES, DbOption
from liqscope.domain.errors import InputError
from liqscope.domain.intervals import INTERVALS, interval_ms, interval_name
from liqscope.export.predicted import write_predicted
from liqscope.model.market import estimate_market
from liqscope.model.predict import combined, predicted_liquidations
from liqscope.model.presets import preset as get_preset
from liqscope.store.queries import bucket_floor


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
    interval: Annotated[str, typer.Option(help=f"Row interval: {', '.join(INTERVALS)}.")] = "1h",
) -> None:
    """Estimated liquidated notional per interval: ts (interval start, epoch ms UTC),
    long_usd, short_usd (the level mass each interval's price path consumed)."""
    row_ms = interval_ms(interval)
    cfg = get_preset(preset)
    steps, skipped = load_steps(input_path, venue, symbol, db)
    est = estimate_market(steps, cfg, skipped=skipped)
    for r in est.venues.values():
        step = int(np.diff(r.ts).min()) if r.ts.size > 1 else row_ms
        if row_ms % step:
            raise InputError(
                f"--interval {interval} is not a multiple of the steps' {interval_name(step)}"
            )
    origin = bucket_floor(0, row_ms)  # the realized bars' origin: weeks start on Monday
    pred = combined([predicted_liquidations(r, row_ms, origin=origin) for r in est.venues.values()])
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
