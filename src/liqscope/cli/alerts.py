"""``liqscope alerts``: list stored alerts, or replay rules over a STEPS file."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Annotated

import typer

from liqscope.cli.app import app
from liqscope.cli.options import PRESET_NAMES, DbOption, db_path, find_store, format_ms
from liqscope.domain.errors import InputError
from liqscope.domain.intervals import MINUTE_MS
from liqscope.export.steps_file import read_steps
from liqscope.model.market import estimate_market
from liqscope.model.presets import preset as get_preset
from liqscope.signals.delivery import Dispatcher, StoreSink
from liqscope.signals.rules import AlertEngine, load_rules, observations, replay
from liqscope.signals.storage import SignalStore
from liqscope.store.base import AlertQuery


@app.command("alerts")
def alerts(
    db: DbOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    limit: Annotated[int, typer.Option(help="Most recent alerts to list.")] = 50,
    symbol: Annotated[str | None, typer.Option(help="Only this symbol.")] = None,
    rules: Annotated[
        Path | None, typer.Option("--rules", help="Rules file (.toml or .json) for --replay.")
    ] = None,
    replay_input: Annotated[
        Path | None,
        typer.Option("--replay", help="Evaluate --rules over this STEPS file (.csv/.parquet)."),
    ] = None,
    venue: Annotated[str | None, typer.Option(help="Venue of the STEPS file.")] = None,
    preset: Annotated[
        str, typer.Option(help=f"Model preset for --replay: {PRESET_NAMES}.")
    ] = "all",
    store_fired: Annotated[
        bool, typer.Option("--store/--no-store", help="Store alerts fired by --replay.")
    ] = False,
) -> None:
    """List fired alerts (newest first), or replay rules over history."""
    if limit < 1:
        raise InputError("--limit must be >= 1")
    if replay_input is not None:
        if rules is None:
            raise InputError("--replay needs --rules FILE")
        rule_list = load_rules(rules)
        steps = read_steps(replay_input, venue=venue, symbol=symbol)
        if not steps.venue or not steps.symbol:
            raise InputError("give --venue and --symbol (the file has no venue/symbol columns)")
        step_ms = int(steps.ts[1] - steps.ts[0]) if len(steps) > 1 else MINUTE_MS
        cfg = replace(get_preset(preset), column_ms=step_ms, max_columns=10_000_000)
        res = estimate_market([steps], cfg).heatmap
        disp = Dispatcher()
        store = SignalStore(db_path(db)) if store_fired else None
        if store is not None:
            disp.add(StoreSink(store))
        fired = replay(AlertEngine(rule_list, disp), observations(res, steps))
        rows = [a.to_dict() for a in fired]
        if store is not None:
            store.close()
    else:
        path = find_store(db)
        if isinstance(path, Path) and not path.is_file():
            raise InputError(f"no store at {path} (pass --db FILE)")
        with SignalStore(path, readonly=True) as st:
            rows = st.alerts(AlertQuery(limit, symbol))
    if as_json:
        typer.echo(json.dumps(rows, default=float))
        return
    if not rows:
        typer.echo("no alerts")
        return
    for r in rows[-limit:] if replay_input is not None else rows:
        typer.echo(f"{format_ms(int(r['ts']))}  {r['rule_id']:<16} {r['venue']:<9} {r['message']}")
