"""``liqscope calibrate``: fit the model on real realized liquidations (train period) and
report a later test period separately."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import numpy as np
import typer

from liqscope.cli.app import app
from liqscope.cli.heatmap import load_steps
from liqscope.cli.options import PRESET_NAMES, DbOption, open_store
from liqscope.domain.errors import InputError
from liqscope.model.presets import preset as get_preset
from liqscope.signals import realdata as rd
from liqscope.signals.calibrate import OI_SHARE, calibrate_daily
from liqscope.store.base import LiquidationQuery


def _source(
    data_dir: Path | None,
    candle_venue: str,
    input_path: Path | None,
    daily: Path | None,
    venue: str | None,
    symbol: str | None,
    db: str | None,
) -> rd.RealData:
    if input_path is not None or (venue and symbol):
        loaded, _ = load_steps(input_path, venue, symbol, db)
        if len(loaded) != 1:
            raise InputError("calibrate one venue at a time: give --venue")
        steps = loaded[0]
        name = steps.symbol or symbol or "?"
        if daily is not None:
            table = rd.read_daily_csv(daily)
            key = name.upper() if name.upper() in table else (symbol or "").upper()
            if key not in table:
                raise InputError(f"{daily.name} has no rows for coin {name!r}")
            per_day = table[key]
        else:
            if not venue or not steps.symbol:
                raise InputError("give --daily CSV, or --venue/--symbol with a store")
            with open_store(db, must_exist=True) as st:
                span = int(steps.ts[0]), int(steps.ts[-1]) + 1
                rows = st.liquidations(LiquidationQuery([venue], steps.symbol, *span))
            per_day = rd.daily_from_events(
                np.asarray([r.ts for r in rows], np.int64),
                np.asarray([r.notional_usd for r in rows], np.float64),
                np.asarray([int(r.side) for r in rows], np.int64),
            )
        return rd.RealData({name: rd.coin_days(steps, per_day, name)}, steps.venue or "?")
    return rd.load_real(data_dir, candle_venue)


@app.command("calibrate")
def calibrate(
    data_dir: Annotated[
        Path | None,
        typer.Option("--data", help="Real-data folder (candles, Hyperliquid OI, daily totals)."),
    ] = None,
    candle_venue: Annotated[str, typer.Option(help="Venue of the candles (--data).")] = "binance",
    input_path: Annotated[
        Path | None, typer.Option("--input", "-i", help="STEPS file instead of --data.")
    ] = None,
    daily: Annotated[
        Path | None, typer.Option(help="Daily totals CSV: date,coin,long_usd,short_usd.")
    ] = None,
    venue: Annotated[str | None, typer.Option(help="Venue (STEPS file or store).")] = None,
    symbol: Annotated[str | None, typer.Option(help="Symbol (STEPS file or store).")] = None,
    db: DbOption = None,
    split: Annotated[str, typer.Option(help="First test day, YYYY-MM-DD.")] = "2025-12-21",
    preset: Annotated[str, typer.Option(help=f"Base preset: {PRESET_NAMES}.")] = "all",
    oi_share: Annotated[
        float,
        typer.Option(
            help="Assumed share of the whole market's OI held on the OI's venue "
            "(magnitude fit; Hyperliquid late 2025 ~ 0.07)."
        ),
    ] = OI_SHARE,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    from_measured: Annotated[
        bool,
        typer.Option(
            "--from-measured",
            help="Instead: tier weights from the measured Hyperliquid leverage mix "
            "(--symbol coin, --db; see docs/hyperliquid-positions.md).",
        ),
    ] = False,
) -> None:
    """Fit tier weights, turnover, decay, side split and magnitude on the days before --split;
    report both periods."""
    if from_measured:  # a separate fit: on measured positions, not on realized liquidations
        from liqscope.cli.positions import measured_calibration

        measured_calibration(db, symbol, preset, as_json)
        return
    data = _source(data_dir, candle_venue, input_path, daily, venue, symbol, db)
    cal = calibrate_daily(data, get_preset(preset), rd.day_of(split), oi_share=oi_share)
    if as_json:
        typer.echo(json.dumps(cal.to_dict(), default=float))
        return
    typer.echo(
        f"calibrated on {', '.join(data.coins)} before {split}: tilt {cal.tilt:g}, "
        f"turnover {cal.turnover_per_day:g}/day, half-life {cal.half_life_h:g} h, long share "
        f"{cal.unknown_long_share:g} "
        f"(objective SE {cal.objective_se:.3f})"
    )
    tiers = ", ".join(
        f"{x:g}x {w:.5g}"
        for x, w in zip(cal.config.leverages, cal.config.tier_weights, strict=True)
    )
    sens = ", ".join(f"{k}: {v:g}" for k, v in cal.sensitivity.items())
    typer.echo(
        f"  tiers {tiers}; at-risk share {cal.at_risk_share:g} for an OI share of "
        f"{cal.oi_share:g} (by OI share {sens})"
    )
    for label, a, b in (
        ("train", cal.default_train, cal.train),
        ("test", cal.default_test, cal.test),
    ):
        typer.echo(
            f"  {label:<5} pooled Spearman long/short/total: {preset} "
            f"{a['long']:.3f}/{a['short']:.3f}/{a['total']:.3f} -> calibrated "
            f"{b['long']:.3f}/{b['short']:.3f}/{b['total']:.3f}; dominant side "
            f"{a['dominant_side_hit']:.3f} -> {b['dominant_side_hit']:.3f}; predicted / "
            f"realized USD {a['usd_ratio']:.3g} -> {b['usd_ratio']:.3g}"
        )
