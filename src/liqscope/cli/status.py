"""``liqscope status``: what the store holds per venue/symbol/stream."""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from liqscope.cli.app import app
from liqscope.cli.options import DbOption, find_store, format_ms, now_for, open_store, shown
from liqscope.ingest.history import REASON_HISTORY_FAILED, REASON_NO_OI_HISTORY
from liqscope.store.base import Gap
from liqscope.store.schema import SCHEMA_VERSION

SAMPLED_LABEL = "sampled feed (totals are lower bounds)"
MISSING_LABEL = "history missing"


def history_missing(gaps: list[Gap]) -> dict[tuple[str, str, str], str]:
    """(venue, symbol, stream) -> why its history could not be back-filled (open gaps only)."""
    out: dict[tuple[str, str, str], str] = {}
    for g in gaps:
        if not g.backfilled and (
            g.reason == REASON_NO_OI_HISTORY or g.reason.startswith(REASON_HISTORY_FAILED)
        ):
            out[(g.venue, g.symbol, g.stream)] = g.reason
    return out


def _age(ms: int | None) -> str:
    if ms is None:
        return "-"
    s = ms / 1000
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if s >= size:
            return f"{s / size:.1f} {unit}"
    return f"{s:.0f} s"


@app.command("status")
def status_command(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    db: DbOption = None,
) -> None:
    """Show what is stored: counts, time ranges, gaps, last message age, sampled feeds."""
    path = find_store(db)
    store = open_store(path, must_exist=True)
    try:
        now = now_for(path)  # a running demo's store: its simulated clock
        rows = store.coverage(now)
        counts = store.counts()
        missing = history_missing(store.gaps())
    finally:
        store.close()
    if as_json:
        payload: dict[str, Any] = {
            "db": shown(path),
            "schema_version": SCHEMA_VERSION,
            "now_ms": now,
            "tables": counts,
            "streams": [
                {
                    **asdict(r),
                    "label": SAMPLED_LABEL if r.sampled else None,
                    "history_missing": missing.get((r.venue, r.symbol, r.stream)),
                }
                for r in rows
            ],
        }
        typer.echo(json.dumps(payload, indent=2))
        return
    console = Console()
    if not console.is_terminal:
        console = Console(width=160)
    console.print(f"store {shown(path)} (schema v{SCHEMA_VERSION})", highlight=False)
    if not rows:
        console.print("empty: nothing stored yet")
        return
    table = Table(show_lines=False)
    for col in (
        "venue",
        "symbol",
        "stream",
        "rows",
        "first (UTC)",
        "last (UTC)",
        "gaps",
        "last msg",
        "note",
    ):
        table.add_column(col, justify="right" if col in ("rows", "gaps") else "left")
    for r in rows:
        gaps = f"{r.gaps} ({_age(r.gap_ms)})" if r.gaps else "0"
        table.add_row(
            r.venue,
            r.symbol,
            r.stream,
            f"{r.rows:,}",
            format_ms(r.first_ts),
            format_ms(r.last_ts),
            gaps,
            _age(r.last_message_age_ms),
            ", ".join(
                n
                for n in (
                    "sampled*" if r.sampled else "",
                    f"{MISSING_LABEL}**" if (r.venue, r.symbol, r.stream) in missing else "",
                )
                if n
            ),
        )
    console.print(table)
    if any(r.sampled for r in rows):
        console.print(f"* {SAMPLED_LABEL}", highlight=False)
    for (venue, symbol, stream), why in sorted(missing.items()):
        console.print(f"** {venue} {symbol} {stream}: {MISSING_LABEL} ({why})", highlight=False)
