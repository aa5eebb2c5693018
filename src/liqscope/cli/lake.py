"""``liqscope lake export|import``: write the history lake from a store or from bulk files."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from liqscope.cli.app import app
from liqscope.cli.options import DbOption, db_path, parse_time
from liqscope.domain.errors import InputError
from liqscope.lake.write import LakeCounts, export_store, import_bulk
from liqscope.store import open_store

lake_app = typer.Typer(
    help="The history lake: hive-partitioned Parquet (kind/venue/symbol/date) read with DuckDB.",
    no_args_is_help=True,
)
app.add_typer(lake_app, name="lake")

LakeOption = Annotated[Path, typer.Option("--lake", help="Lake folder.", file_okay=False)]


def store_location(db: str | None) -> str:
    """The store a command reads: a ``postgresql://`` URL as given, or an existing file."""
    location = db_path(db)
    if isinstance(location, Path) and not location.is_file():
        raise InputError(f"no store at {location} (import data or run the collector first)")
    return str(location)


def _progress() -> Progress:
    return Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        TimeElapsedColumn(),
        disable=not sys.stderr.isatty(),
        transient=True,
    )


def _report(counts: LakeCounts, lake: Path) -> None:
    typer.echo(
        f"lake {lake}: {counts.partitions:,} partitions written ({counts.rows:,} rows, "
        f"{counts.bytes / 1e6:,.1f} MB), {counts.removed:,} emptied"
    )


@lake_app.command("export")
def export(
    lake: LakeOption,
    db: DbOption = None,
    from_: Annotated[
        str | None, typer.Option("--from", help="First day (YYYY-MM-DD) [default: all].")
    ] = None,
    to: Annotated[
        str | None, typer.Option("--to", help="End, exclusive (YYYY-MM-DD) [default: all].")
    ] = None,
) -> None:
    """Copy candles, open interest and liquidations from the store into the lake, whole UTC
    days; a re-export replaces each day's partition (no duplicates)."""
    t0 = parse_time(from_, "--from") if from_ else None
    t1 = parse_time(to, "--to") if to else None
    with open_store(store_location(db), readonly=True) as store, _progress() as bar:
        task = bar.add_task("exporting", total=None)
        counts = export_store(
            store, lake, t0=t0, t1=t1, progress=lambda d: bar.update(task, description=d)
        )
    _report(counts, lake)


@lake_app.command("import")
def import_files(
    paths: Annotated[list[Path], typer.Argument(help="Binance bulk files.", show_default=False)],
    lake: LakeOption,
    symbol: Annotated[str | None, typer.Option(help="Symbol (default: from the name).")] = None,
) -> None:
    """Parse Binance bulk files (klines, metrics, aggTrades, liquidationSnapshot) straight
    into the lake, merged with what is there (one row per key)."""
    with _progress() as bar:
        task = bar.add_task("importing", total=len(paths))
        counts = import_bulk(
            lake,
            paths,
            symbol=symbol,
            progress=lambda d: bar.update(task, advance=1, description=d),
        )
    _report(counts, lake)
