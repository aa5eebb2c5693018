"""``liqscope sim``: run the simulated exchanges standalone on 127.0.0.1."""

from __future__ import annotations

import json
import time
from typing import Annotated

import typer

from liqscope.cli.app import app, fail
from liqscope.cli.options import parse_time
from liqscope.domain.errors import InputError
from liqscope.domain.registry import native_symbol


@app.command("sim")
def sim_command(
    venues: Annotated[str, typer.Option(help="Comma-separated venues.")] = "binance,bybit,okx",
    symbol: Annotated[str, typer.Option(help="Symbol (Binance spelling).")] = "BTCUSDT",
    start: Annotated[
        str, typer.Option(help="Simulated time when serving starts: now, YYYY-MM-DD or epoch ms.")
    ] = "now",
    speed: Annotated[float, typer.Option(help="Simulated seconds per wall second.")] = 1.0,
    host: Annotated[str, typer.Option(help="Address to bind.")] = "127.0.0.1",
    port_base: Annotated[int, typer.Option(help="First port (0: free ports).")] = 0,
    seed: Annotated[int, typer.Option(help="Simulator seed.")] = 1,
    scenario: Annotated[str, typer.Option(help="calm, trending, squeeze or cascade.")] = "calm",
    history: Annotated[float, typer.Option(help="Simulated hours of REST history.")] = 1.0,
    control: Annotated[
        bool, typer.Option("--control", help="Serve the /_sim/* control routes (loopback only).")
    ] = False,
    run_for: Annotated[float, typer.Option(help="Stop after N wall seconds (0: never).")] = 0.0,
    as_json: Annotated[bool, typer.Option("--json", help="Print the URLs as JSON.")] = False,
) -> None:
    """Serve simulated Binance, Bybit, OKX and Hyperliquid market data (real WS + REST)."""
    from liqscope.domain.net import is_loopback
    from liqscope.sim.exchange import VENUES, SimExchanges
    from liqscope.sim.scenarios import DEFAULT_VENUES, SCENARIOS, anchor_ms, venue_markets

    names = [v.strip().lower() for v in venues.split(",") if v.strip()]
    unknown = [v for v in names if v not in VENUES]
    if not names or unknown:
        raise fail(f"unknown venue(s) {unknown or venues!r} (expected some of {sorted(VENUES)})")
    if scenario not in SCENARIOS:
        raise fail(f"unknown scenario {scenario!r} (expected one of {', '.join(SCENARIOS)})")
    if speed <= 0 or history < 0:
        raise fail("--speed must be > 0 and --history >= 0")
    try:
        serve_ms = anchor_ms() if start.strip().lower() == "now" else parse_time(start, "--start")
    except InputError as exc:
        raise fail(str(exc)) from None
    serve_ms = serve_ms // 1000 * 1000  # the simulator runs whole seconds
    if not is_loopback(host):
        typer.echo(f"warning: serving simulated exchanges beyond loopback on {host}", err=True)
    scale = {v: s for v, _, s in DEFAULT_VENUES}
    history_ms = int(history * 3600) * 1000
    try:
        spec = tuple((v, native_symbol(v, symbol), scale.get(v, 1.0)) for v in names)
        markets = venue_markets(scenario, seed, spec, start_ms=serve_ms - history_ms)
        sources = {venue: markets[(venue, sym)].advance for venue, sym, _ in spec}
        sim = SimExchanges(
            sources, start_ms=serve_ms, speed=speed, venues=names, host=host,
            port_base=port_base, control=control,
        )  # fmt: skip
    except (InputError, ValueError, OSError) as exc:
        raise fail(str(exc)) from None
    sim.start(timeout=600)
    urls = {v: {"rest": u.rest, "ws": u.ws} for v, u in sim.urls().items()}
    if as_json:
        typer.echo(json.dumps({"start_ms": serve_ms, "speed": speed, "venues": urls}))
    else:
        typer.echo(
            f"simulated exchanges ({scenario}, seed {seed}, {speed:g}x), sim start {serve_ms}"
        )
        for v, u in urls.items():
            typer.echo(f"  {v:11s} REST {u['rest']}   WS {u['ws']}")
        if control:
            typer.echo('control: POST <REST>/_sim/fault {"kind": ...}; GET <REST>/_sim/sent')
    try:
        deadline = time.monotonic() + run_for if run_for > 0 else float("inf")
        while time.monotonic() < deadline:
            time.sleep(min(0.5, max(0.0, deadline - time.monotonic())))
    except KeyboardInterrupt:
        pass
    finally:
        sim.stop()
