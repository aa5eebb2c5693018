"""``liqscope score``: the accuracy scorecard on the simulator or on stored history."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from liqscope.cli.app import app
from liqscope.cli.options import DbOption, open_store, stored_steps
from liqscope.domain.errors import InputError
from liqscope.domain.intervals import HOUR_MS


def _score_real(data_dir: Path, presets: str, split: str | None, as_json: bool) -> None:
    from liqscope.model.presets import preset as get_preset
    from liqscope.signals import realdata as rd

    data = rd.load_real(data_dir)
    split_day = rd.day_of(split) if split else None
    out = {
        name.strip(): rd.evaluate(data, get_preset(name), split_day=split_day)
        for name in presets.split(",")
        if name.strip()
    }
    if as_json:
        typer.echo(json.dumps(out, default=float))
        return
    for name, ev in out.items():
        for period, per in ev["periods"].items():
            typer.echo(f"{name} [{period}, {per['days']} coin-days] pooled Spearman (95% CI)")
            for method in ("model", *rd.BASELINES):
                row = per[method]
                typer.echo(
                    f"  {method:<24} "
                    + "  ".join(f"{k} {_fmt(row, k)}" for k in ("long", "short", "total"))
                )


def _fmt(d: dict, key: str) -> str:  # type: ignore[type-arg]
    v = d[key]
    return f"{v['value']:.3f} [{v['ci_low']:.3f}, {v['ci_high']:.3f}]"


@app.command("score")
def score(
    scenario: Annotated[
        str | None, typer.Option(help="Simulator scenario: calm, trending, squeeze, cascade.")
    ] = None,
    seed: Annotated[int, typer.Option(help="Simulator seed.")] = 1,
    hours: Annotated[float, typer.Option(help="Simulated hours.")] = 24.0,
    db: DbOption = None,
    venue: Annotated[str | None, typer.Option(help="Venue (stored history).")] = None,
    symbol: Annotated[str | None, typer.Option(help="Symbol (stored history).")] = None,
    days: Annotated[float, typer.Option(help="Days of stored history to score.")] = 30.0,
    presets: Annotated[str, typer.Option(help="Comma-separated presets.")] = "all,high",
    window: Annotated[str, typer.Option(help="Evaluation window: 1h, 4h or 1d.")] = "1h",
    q: Annotated[float, typer.Option(help="Hot share of candidate cells.")] = 0.2,
    range_pct: Annotated[float, typer.Option(help="Candidate range around price, %.")] = 10.0,
    calibrate: Annotated[
        bool, typer.Option(help="Fit the calibrated preset on the first half; score the second.")
    ] = False,
    data_dir: Annotated[
        Path | None,
        typer.Option("--data", help="Real-data folder: daily figures vs the baselines."),
    ] = None,
    split: Annotated[str | None, typer.Option(help="With --data: first test day.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Share of realized liquidations in predicted hot zones vs a matched baseline; with
    --data, the real-data daily scorecard (pooled Spearman vs four baselines, with CIs)."""
    if data_dir is not None:
        _score_real(data_dir, presets, split, as_json)
        return
    from liqscope.model.presets import preset as get_preset
    from liqscope.signals import scorecard as sc
    from liqscope.signals.calibrate import calibrate as fit

    windows = {"1h": HOUR_MS, "4h": 4 * HOUR_MS, "1d": 24 * HOUR_MS}
    if window not in windows:
        raise InputError("--window must be 1h, 4h or 1d")
    col = windows[window]
    configs = {name.strip(): get_preset(name) for name in presets.split(",") if name.strip()}
    if not configs:
        raise InputError("--presets is empty")
    if scenario is not None:
        sim = sc.simulate(scenario, seed, hours)
        steps, realized, block = sim.steps, sim.realized, 2 * HOUR_MS
        source = {"scenario": scenario, "seed": seed, "hours": hours}
    else:
        if not venue or not symbol:
            raise InputError("give --scenario, or --venue and --symbol with --db")
        steps = stored_steps(db, venue, symbol, days)
        with open_store(db, must_exist=True) as st:
            realized = sc.realized_from_store(
                st, venue, symbol, int(steps.ts[0]), int(steps.ts[-1]) + 60_000
            )
        block = 24 * HOUR_MS
        source = {"venue": venue, "symbol": symbol, "days": days}
    score_from = None
    out: dict = {"source": source}  # type: ignore[type-arg]
    if calibrate:
        cal = fit(steps, configs[next(iter(configs))])
        configs["calibrated"] = cal.config
        score_from = cal.split_ms
        out["calibration"] = cal.to_dict()
    if scenario is not None:
        res = sc.sim_scorecards(
            sim, configs, column_ms=col, q=q, range_pct=range_pct, block_ms=block,
            score_from_ms=score_from,
        )  # fmt: skip
    else:
        res = {"models": {}}
        for name, cfg in configs.items():
            est = sc.estimate_sim(sc.SimData(steps, realized, None, 0, 0), cfg, col)
            wm = sc.window_maps(est, steps, tiers=cfg.display_leverages)
            if score_from is not None:
                wm = sc._after(wm, score_from)
            res["models"][name] = sc.score_windows(
                wm, realized, q=q, range_pct=range_pct, block_ms=block
            ).to_dict()
            if "broken_shuffled" not in res:
                res["broken_shuffled"] = sc.score_windows(
                    sc.shuffled(wm), realized, q=q, range_pct=range_pct, block_ms=block
                ).to_dict()
    out.update(res)
    if scenario is None and venue == "hyperliquid":  # estimated vs measured positions
        from liqscope.signals.measured import score_stored

        with open_store(db, must_exist=True) as st:
            out["measured"] = score_stored(st, steps, configs, symbol or "")
    if as_json:
        typer.echo(json.dumps(out, default=float))
        return
    typer.echo(f"scorecard {source} (q={q:g}, ±{range_pct:g}%, window {window})")
    rows = dict(out["models"])
    rows["broken (shuffled)"] = out["broken_shuffled"]
    if "oracle_true_profile" in out:
        rows["oracle (true levels)"] = out["oracle_true_profile"]
    for name, d in rows.items():
        extra = f"  EMD {d['emd_pct']:.2f}%" if "emd_pct" in d else ""
        typer.echo(
            f"  {name:<22} hot {_fmt(d, 'hot_share')}  prior {_fmt(d, 'baseline_share')}  "
            f"percentile {_fmt(d, 'level_percentile')} (prior "
            f"{d['baseline_percentile']['value']:.3f})  "
            f"FP {d['false_positives']}/{d['zones_reached']}{extra}"
        )
    if "intervals" in out:
        typer.echo("  per-interval Spearman long / short / total (95% CI):")
        for method, row in out["intervals"].items():
            if isinstance(row, dict):
                typer.echo(
                    f"    {method:<22} "
                    + "  ".join(_fmt(row, k) for k in ("long", "short", "total"))
                )
