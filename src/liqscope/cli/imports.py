"""``liqscope import``: load Binance bulk files, tardis CSVs or recorded frames into the store."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
)

from liqscope.cli.app import app
from liqscope.cli.options import DbOption, db_path, open_store
from liqscope.domain.errors import InputError
from liqscope.ingest.importers import FORMATS, ImportResult, import_file, progress_total


def _line(result: ImportResult) -> str:
    what = f"{result.format} {result.kind}"
    if result.skipped:
        return f"{result.path}: {what}: 0 new, {result.skipped}, {result.seconds:.2f} s"
    new = result.new
    parts = [
        f"{n:,} {name}"
        for name, n in (
            ("liquidations", new.liquidations),
            ("trades", new.trades),
            ("candles", new.candles),
            ("open interest", new.open_interest),
            ("marks", new.marks),
        )
        if n
    ]
    detail = f" ({', '.join(parts)})" if parts else ""
    return (
        f"{result.path}: {what}: {new.total:,} new{detail}, "
        f"{result.duplicates:,} duplicates skipped, {result.seconds:.2f} s"
    )


@app.command("import")
def import_command(
    paths: Annotated[list[Path], typer.Argument(help="Files to import.", show_default=False)],
    fmt: Annotated[str, typer.Option("--format", help=f"One of: {', '.join(FORMATS)}.")] = "auto",
    venue: Annotated[str | None, typer.Option(help="Venue (default: from the file).")] = None,
    symbol: Annotated[str | None, typer.Option(help="Symbol (default: from the file).")] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Re-read files already imported (still idempotent).")
    ] = False,
    db: DbOption = None,
) -> None:
    """Import files (atomic per file; re-importing adds nothing)."""
    if fmt not in FORMATS:
        raise InputError(f"unknown format {fmt!r} (expected one of {', '.join(FORMATS)})")
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        raise InputError(f"no such file: {', '.join(missing)}")
    store = open_store(db)
    try:
        progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            DownloadColumn(),
            TimeRemainingColumn(),
            disable=not sys.stderr.isatty(),
            transient=True,
        )
        with progress:
            for path in paths:
                task = progress.add_task(path.name, total=progress_total(path))

                def advance(n: int, task: int = task) -> None:
                    progress.advance(task, n)  # type: ignore[arg-type]  # TaskID is an int

                result = import_file(
                    store, path, fmt, venue=venue, symbol=symbol, progress=advance, force=force
                )
                progress.remove_task(task)
                typer.echo(_line(result))
        typer.echo(f"store: {db_path(db)}")
    finally:
        store.close()
