"""``liqscope demo``: the whole product, offline, on the built-in simulated market.

Simulated Binance, Bybit and OKX servers run on 127.0.0.1 and replay a simulated market;
liqscope collects from them through the same venue adapters it uses for real venues, after
pre-filling the store with simulated days of history, and serves the API and web UI.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import typer

from liqscope.cli.app import app, fail
from liqscope.cli.options import home

DAY_MS = 86_400_000


@dataclass(frozen=True)
class DemoPlan:
    """What the demo runs, resolved from the options."""

    scenario: str
    seed: int
    speed: float
    history_days: float
    db: Path
    alerts: Path | None = None
    live_alerts: bool = True
    webhooks: tuple[str, ...] = ()
    snapshot_every: int = 5


def prefill_liquidations(sim: Any, store: Any, t0: int, t1: int) -> int:
    """Store the realized liquidations each simulated venue published in ``[t0, t1)``.

    Venues offer no liquidation history over REST, so a real user has only what a collector
    recorded. The demo stands in for that recording: each venue's frames for the window, in
    its own wire format (sampled where the venue samples), go through the venue's parser.
    """
    from liqscope.venues.registry import adapter

    new = 0
    for venue, urls in sim.urls().items():
        server = sim[venue]
        parser = adapter(venue, ws_url=urls.ws, rest_url=urls.rest)
        frames = server.past_frames(t0, t1, server.liquidation_topics())
        events = [event for frame in frames for event in parser.parse(frame)]
        new += store.write_events(events).liquidations
    return new


def run_demo(plan: DemoPlan, host: str, port: int, run_for: float, log_level: str) -> None:
    """Start the simulated exchanges, pre-fill the store, collect and serve until stopped."""
    import uvicorn

    from liqscope.api.app import Settings, create_app
    from liqscope.ingest.collector import CollectorConfig, CollectorSpec, run_collectors
    from liqscope.sim.exchange import SimExchanges
    from liqscope.sim.scenarios import venue_markets
    from liqscope.store.sqlite import SqliteStore

    for suffix in ("", "-wal", "-shm"):  # the demo store is rebuilt on every run
        Path(f"{plan.db}{suffix}").unlink(missing_ok=True)
    plan.db.parent.mkdir(parents=True, exist_ok=True)

    markets = venue_markets(plan.scenario, plan.seed)
    history_ms = int(plan.history_days * DAY_MS)
    start_ms = max(m.now_ms for m in markets.values()) + history_ms
    sources = {venue: market.advance for (venue, _), market in markets.items()}
    sim = SimExchanges(sources, start_ms=start_ms, speed=plan.speed, venues=list(sources))
    typer.echo(f"liqscope demo: simulating {plan.history_days:g} days of history …")
    sim.start(timeout=600)
    try:
        store = SqliteStore(plan.db, clock=sim.clock)
        n = prefill_liquidations(sim, store, start_ms - history_ms, start_ms)
        typer.echo(f"  {n} historical liquidations recorded from the venues' streams")
        specs = [
            CollectorSpec(
                venue,
                (symbol,),
                ws_url=f"ws://127.0.0.1:{sim.port(venue)}",
                rest_url=sim.urls()[venue].rest,
            )
            for (venue, symbol) in markets
        ]
        config = CollectorConfig(
            backfill_days=plan.history_days + 0.01, oi_poll_s=5.0, candle_poll_s=5.0
        )
        state: dict[str, Any] = {}

        async def start_collecting(_app: Any) -> None:
            stop = asyncio.Event()
            task = asyncio.create_task(run_collectors(specs, store, sim.clock, stop, config=config))
            state.update(stop=stop, task=task)

        async def stop_collecting(_app: Any) -> None:
            if "stop" in state:
                state["stop"].set()
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(state["task"], 15)

        settings = Settings(db_path=str(plan.db), clock=sim.clock)
        settings.on_startup.append(start_collecting)
        settings.on_shutdown.append(stop_collecting)
        if plan.live_alerts:
            from liqscope.signals.live import live_hooks, rules_from

            start_alerts, stop_alerts = live_hooks(
                plan.db, rules_from(plan.alerts), webhooks=plan.webhooks, clock=sim.clock,
                interval_s=2.0, snapshot_every_min=plan.snapshot_every, console=True,
            )  # fmt: skip
            settings.on_startup.append(start_alerts)
            settings.on_shutdown.insert(0, stop_alerts)
        server = uvicorn.Server(
            uvicorn.Config(create_app(settings), host=host, port=port, log_level=log_level)
        )
        typer.echo(f"  simulated market: {plan.scenario}, seed {plan.seed}, {plan.speed:g}x time")
        for venue, urls in sim.urls().items():
            typer.echo(f"  simulated {venue:8s} REST {urls.rest}  WS {urls.ws}")
        typer.echo(f"  store: {plan.db}")
        typer.echo(f"\n  open http://{host}:{port}/   (API docs: http://{host}:{port}/docs)")
        typer.echo("  Ctrl-C to stop.\n")

        async def serve() -> None:
            task = asyncio.create_task(server.serve())
            if run_for > 0:
                await asyncio.sleep(run_for)
                server.should_exit = True
            await task

        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(serve())
        store.close()
    finally:
        sim.stop()


@app.command("demo")
def demo(
    host: Annotated[str, typer.Option(help="Address for the web UI and API.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port for the web UI and API.", min=1)] = 8000,
    scenario: Annotated[str, typer.Option(help="calm, trending, squeeze or cascade.")] = "cascade",
    seed: Annotated[int, typer.Option(help="Simulator seed (same seed, same market).")] = 1,
    speed: Annotated[float, typer.Option(help="Simulated seconds per wall second.")] = 10.0,
    days: Annotated[float, typer.Option(help="Days of simulated history to pre-fill.")] = 2.0,
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
    """Run everything offline: simulated exchanges, live collection, API and web UI."""
    from liqscope.sim.scenarios import SCENARIOS

    if scenario not in SCENARIOS:
        raise fail(f"unknown scenario {scenario!r} (expected one of {', '.join(SCENARIOS)})")
    if speed <= 0 or days <= 0:
        raise fail("--speed and --days must be > 0")
    if alerts is not None:  # refuse a bad rules file before starting anything
        from liqscope.signals.live import rules_from

        rules_from(alerts)
    plan = DemoPlan(
        scenario, seed, speed, days, db or home() / "demo.sqlite", alerts, live_alerts,
        tuple(webhook or ()), snapshot_every,
    )  # fmt: skip
    run_demo(plan, host, port, run_for, log_level)
