"""``liqscope batch heatmap|predict|score``: many markets in parallel (processes or Dask)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from liqscope.batch.jobs import MarketTask
from liqscope.batch.run import run_batch
from liqscope.batch.source import Source, resolve_markets
from liqscope.cli.app import app
from liqscope.cli.lake import store_location
from liqscope.cli.options import PRESET_NAMES, parse_time
from liqscope.domain.errors import InputError
from liqscope.domain.intervals import DAY_MS, interval_ms

batch_app = typer.Typer(
    help="Batch work over many markets: a local process pool, or a Dask cluster.",
    no_args_is_help=True,
)
app.add_typer(batch_app, name="batch")

Symbols = Annotated[str, typer.Option("--symbols", help="Comma list, e.g. BTCUSDT,ETHUSDT.")]
Venues = Annotated[str, typer.Option("--venues", help="Comma list, or all.")]
From = Annotated[str, typer.Option("--from", help="Start (YYYY-MM-DD[THH:MM]).")]
To = Annotated[str, typer.Option("--to", help="End, exclusive.")]
Out = Annotated[Path, typer.Option("--out", "-o", help="Output folder.", file_okay=False)]
Scheduler = Annotated[
    str | None,
    typer.Option(help="Dask scheduler, e.g. tcp://HOST:8786 [default: a local process pool]."),
]
Workers = Annotated[
    int | None, typer.Option(help="Local processes [default: every core]; 1 = this process.")
]
LakeDir = Annotated[Path | None, typer.Option("--lake", help="Read the lake folder.")]
Db = Annotated[str | None, typer.Option("--db", help="Read this store (file or postgresql://).")]
Preset = Annotated[str, typer.Option(help=f"Model preset: {PRESET_NAMES}.")]
ChunkDays = Annotated[
    float | None,
    typer.Option(help="Split each market's range in time chunks of this many days."),
]


def _run(
    job: str, symbols: str, venues: str, from_: str, to: str, out: Path, scheduler: str | None,
    workers: int | None, lake: Path | None, db: str | None, preset: str, row: str,
    chunk_days: float | None,
) -> None:  # fmt: skip
    t0, t1 = parse_time(from_, "--from"), parse_time(to, "--to")
    if t1 <= t0:
        raise InputError("--to must be after --from")
    if workers is not None and workers < 1:
        raise InputError("--workers must be at least 1")
    if chunk_days is not None and chunk_days <= 0:
        raise InputError("--chunk-days must be positive")
    if lake is None and db is None:
        raise InputError("give --lake DIR or --db FILE|URL to read from")
    source = Source(
        lake=str(lake) if lake is not None else None,
        db=store_location(db) if lake is None else None,
    )
    names = [v.strip().lower() for v in venues.split(",") if v.strip()]
    wanted = None if names in ([], ["all"]) else names
    markets = resolve_markets(source.markets(), symbols.split(","), wanted)
    tasks = [
        MarketTask(
            job,
            market,
            tuple(natives.items()),
            t0,
            t1,
            source,
            preset=preset,
            row_ms=interval_ms(row),
            chunk_ms=int(chunk_days * DAY_MS) if chunk_days is not None else None,
        )
        for market, natives in markets
    ]
    executor = scheduler or ("inline" if workers == 1 else "local")
    progress = Progress(
        TextColumn(f"batch {job}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        disable=not sys.stderr.isatty(),
        transient=True,
    )
    meta = {"job": job, "from": t0, "to": t1, "preset": preset, "source": source.label}
    with progress:
        bar = progress.add_task(job, total=len(tasks))
        done = run_batch(
            tasks, out, executor=executor, workers=workers, meta=meta,
            on_result=lambda _: progress.advance(bar),
        )  # fmt: skip
    failed = [r for r in done if r.error]
    for r in sorted(failed, key=lambda r: r.market):
        typer.echo(f"error: {r.market}: {r.error}", err=True)
    typer.echo(
        f"batch {job}: {len(done) - len(failed)}/{len(done)} markets -> {out / job} ({executor})"
    )
    if failed:
        raise typer.Exit(1)


@batch_app.command("heatmap")
def heatmap(
    symbols: Symbols, from_: From, to: To, out: Out, venues: Venues = "all",
    scheduler: Scheduler = None, workers: Workers = None, lake: LakeDir = None, db: Db = None,
    preset: Preset = "all", chunk_days: ChunkDays = None,
) -> None:  # fmt: skip
    """Heatmap grids (Parquet, long form) of each market, plus summary.json."""
    _run("heatmap", symbols, venues, from_, to, out, scheduler, workers, lake, db, preset, "1h",
         chunk_days)  # fmt: skip


@batch_app.command("predict")
def predict(
    symbols: Symbols, from_: From, to: To, out: Out, venues: Venues = "all",
    scheduler: Scheduler = None, workers: Workers = None, lake: LakeDir = None, db: Db = None,
    preset: Preset = "all", interval: Annotated[str, typer.Option(help="Row interval.")] = "1h",
    chunk_days: ChunkDays = None,
) -> None:  # fmt: skip
    """Estimated liquidations per interval of each market (Parquet), plus summary.json."""
    _run("predict", symbols, venues, from_, to, out, scheduler, workers, lake, db, preset,
         interval, chunk_days)  # fmt: skip


@batch_app.command("score")
def score(
    symbols: Symbols, from_: From, to: To, out: Out, venues: Venues = "all",
    scheduler: Scheduler = None, workers: Workers = None, lake: LakeDir = None, db: Db = None,
    preset: Preset = "all",
    window: Annotated[str, typer.Option(help="Evaluation window: 1h, 4h or 1d.")] = "1h",
    chunk_days: ChunkDays = None,
) -> None:  # fmt: skip
    """Scorecard of each venue of each market against its realized liquidations (JSON)."""
    if window not in ("1h", "4h", "1d"):
        raise InputError("--window must be 1h, 4h or 1d")
    _run("score", symbols, venues, from_, to, out, scheduler, workers, lake, db, preset, window,
         chunk_days)  # fmt: skip
