"""``liqscope sim``: run the simulated exchanges standalone on 127.0.0.1."""

from __future__ import annotations

import json
import time
from typing import Annotated

import typer

from liqscope.cli.app import app, fail
from liqscope.domain.registry import native_symbol


@app.command("sim")
def sim_command(
    venues: Annotated[str, typer.Option(help="Comma-separated venues.")] = "binance,bybit,okx",
    symbol: Annotated[str, typer.Option(help="Symbol (Binance spelling).")] = "BTCUSDT",
    speed: Annotated[float, typer.Option(help="Simulated seconds per wall second.")] = 10.0,
    host: Annotated[str, typer.Option(help="Address to bind.")] = "127.0.0.1",
    port_base: Annotated[int, typer.Option(help="First port (0: free ports).")] = 0,
    seed: Annotated[int, typer.Option(help="Simulator seed.")] = 1,
    scenario: Annotated[str, typer.Option(help="calm, trending, squeeze or cascade.")] = "calm",
    history: Annotated[float, typer.Option(help="Simulated hours of REST history.")] = 1.0,
    run_for: Annotated[float, typer.Option(help="Stop after N wall seconds (0: never).")] = 0.0,
    as_json: Annotated[bool, typer.Option("--json", help="Print the URLs as JSON.")] = False,
) -> None:
    """Serve simulated Binance, Bybit and OKX market data (real WS + REST) from the simulator."""
    from liqscope.sim.exchange import VENUES, SimExchanges
    from liqscope.sim.scenarios import DEFAULT_VENUES, SCENARIOS, venue_markets

    names = [v.strip().lower() for v in venues.split(",") if v.strip()]
    unknown = [v for v in names if v not in VENUES]
    if not names or unknown:
        raise fail(f"unknown venue(s) {unknown or venues!r} (expected some of {sorted(VENUES)})")
    if scenario not in SCENARIOS:
        raise fail(f"unknown scenario {scenario!r} (expected one of {', '.join(SCENARIOS)})")
    if speed <= 0 or history < 0:
        raise fail("--speed must be > 0 and --history >= 0")
    scale = {v: s for v, _, s in DEFAULT_VENUES}
    spec = tuple((v, native_symbol(v, symbol), scale.get(v, 1.0)) for v in names)
    try:
        markets = venue_markets(scenario, seed, spec)
    except ValueError as exc:
        raise fail(str(exc)) from None
    start = max(m.now_ms for m in markets.values()) + int(history * 3_600_000)
    sources = {venue: markets[(venue, sym)].advance for venue, sym, _ in spec}
    sim = SimExchanges(
        sources, start_ms=start, speed=speed, venues=names, host=host, port_base=port_base
    )
    sim.start(timeout=600)
    urls = {v: {"rest": u.rest, "ws": u.ws} for v, u in sim.urls().items()}
    if as_json:
        typer.echo(json.dumps({"start_ms": start, "speed": speed, "venues": urls}))
    else:
        typer.echo(f"simulated exchanges ({scenario}, seed {seed}, {speed:g}x), sim start {start}")
        for v, u in urls.items():
            typer.echo(f"  {v:8s} REST {u['rest']}   WS {u['ws']}")
        typer.echo('faults: POST <REST>/_sim/fault {"kind": ...}; sent: GET <REST>/_sim/sent')
    try:
        deadline = time.monotonic() + run_for if run_for > 0 else float("inf")
        while time.monotonic() < deadline:
            time.sleep(min(0.5, max(0.0, deadline - time.monotonic())))
    except KeyboardInterrupt:
        pass
    finally:
        sim.stop()
