"""``liqscope demo``: the whole product, offline, on the built-in simulated market
(``liqscope.demo``)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from liqscope.cli.app import app
from liqscope.cli.options import DEMO_DB, DEMO_POINTER, home


@app.command("demo")
def demo(
    host: Annotated[str, typer.Option(help="Address for the web UI and API.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port for the web UI and API.", min=1)] = 8000,
    scenario: Annotated[str, typer.Option(help="calm, trending, squeeze or cascade.")] = "cascade",
    seed: Annotated[int, typer.Option(help="Simulator seed (same seed, same market).")] = 1,
    speed: Annotated[float, typer.Option(help="Simulated seconds per wall second.")] = 10.0,
    days: Annotated[float, typer.Option(help="Days of simulated history to pre-fill.")] = 2.0,
    flush_in: Annotated[
        float,
        typer.Option(help="Simulated minutes from live start to the scenario's event.", min=0),
    ] = 5.0,
    db: Annotated[
        Path | None, typer.Option(help="Demo store [default: $LIQSCOPE_HOME/demo.sqlite].")
    ] = None,
    run_for: Annotated[float, typer.Option(help="Stop after N wall seconds (0: never).")] = 0.0,
    log_level: Annotated[str, typer.Option(help="uvicorn log level.")] = "warning",
    alerts: Annotated[
        Path | None,
        typer.Option(
            "--alerts", help="Alert rules (.toml/.json) [default: built-in rules].", dir_okay=False
        ),
    ] = None,
    live_alerts: Annotated[
        bool, typer.Option("--live-alerts/--no-live-alerts", help="Evaluate alerts live.")
    ] = True,
    webhook: Annotated[
        list[str] | None, typer.Option(help="POST alerts to this URL (repeatable).", metavar="URL")
    ] = None,
    snapshot_every: Annotated[
        int, typer.Option(help="Store a map snapshot every N minutes (0: never).", min=0)
    ] = 5,
) -> None:
    """Run everything offline: simulated exchanges, live collection, API and web UI.

    BTC, ETH and SOL on Binance, Bybit, OKX and Hyperliquid, --days of history pre-filled up
    to the live start (now, to the minute); from there simulated time runs at --speed, and the
    scenario's event (the cascade's flush) comes --flush-in simulated minutes later."""
    from liqscope.demo import DemoPlan, run_demo  # the API server: loaded only when run

    plan = DemoPlan(
        scenario, seed, speed, days, db or home() / DEMO_DB, alerts, live_alerts,
        tuple(webhook or ()), snapshot_every, flush_in, home() / DEMO_POINTER,
    )  # fmt: skip
    run_demo(plan, host, port, run_for, log_level, say=typer.echo)
