"""``liqscope collect``: run the live collector into the store until stopped.

Venue syntax (repeatable): ``--venue binance:BTCUSDT,ETHUSDT --venue bybit:BTCUSDT``.
A ``--venue`` without ``:`` takes its symbols from the ``--symbols`` at the same position
(``--venue binance --symbols BTCUSDT,ETHUSDT``). See docs/collector.md.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys
from typing import Annotated

import typer

from liqscope.cli.app import app, fail
from liqscope.cli.options import DbOption, db_path, open_store, shown
from liqscope.domain.errors import InputError, LiqscopeError
from liqscope.ingest.collector import (
    Collector,
    CollectorConfig,
    CollectorSpec,
    parse_channels,
)

__all__ = ["collect", "parse_specs"]


def parse_specs(
    venues: list[str], symbols: list[str], urls: list[str], channels: str | None
) -> list[CollectorSpec]:
    """Build specs from the command-line values; :class:`InputError` on anything malformed."""
    chans = parse_channels(channels) if channels else None
    overrides: dict[str, tuple[str | None, str | None]] = {}
    for text in urls:
        name, sep, rest = text.partition("=")
        if not sep or not name.strip() or not rest.strip():
            raise InputError(f"--url {text!r}: expected VENUE=WS_URL[,REST_URL]")
        ws, _, http = rest.partition(",")
        overrides[name.strip().lower()] = (ws.strip() or None, http.strip() or None)
    loose = list(symbols)
    specs: list[CollectorSpec] = []
    used: set[str] = set()
    for text in venues:
        name, sep, syms = text.partition(":")
        name = name.strip().lower()
        if not name:
            raise InputError(f"--venue {text!r}: expected VENUE:SYMBOL[,SYMBOL...]")
        if not sep:
            if not loose:
                raise InputError(f"--venue {name}: give symbols as {name}:SYM1,SYM2 or --symbols")
            syms = loose.pop(0)
        parsed = tuple(s.strip().upper() for s in syms.split(",") if s.strip())
        if not parsed:
            raise InputError(f"--venue {text!r}: no symbols")
        ws_url, rest_url = overrides.get(name, (None, None))
        used.add(name)
        specs.append(CollectorSpec(name, parsed, chans, ws_url, rest_url))
    if loose:
        raise InputError(f"--symbols {loose[0]!r} has no --venue without ':' to go with")
    unused = sorted(set(overrides) - used)
    if unused:
        raise InputError(f"--url for {', '.join(unused)}: no such --venue")
    if not specs:
        raise InputError("give at least one --venue VENUE:SYMBOLS")
    return specs


async def _run(
    collector: Collector, duration: float | None, fail_fast: bool, status_every: float
) -> int:
    """Run the collector until a signal, ``duration`` or its own end; the exit code.

    A collector that ends by itself (a store that stayed failing, a bug) is reported in one
    line and gives exit code 1."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    task = asyncio.create_task(collector.run(stop))
    ticker = asyncio.create_task(_status(collector, status_every)) if status_every else None
    stopped = asyncio.create_task(stop.wait())
    code = 0
    try:
        if fail_fast:
            while not task.done() and not all(
                s.stats.connects or s.stats.failed_connects for s in collector.supervisors
            ):
                await asyncio.sleep(0.05)
            dead = [s for s in collector.supervisors if not s.stats.connects]
            if dead and not task.done():
                s = dead[0]
                typer.echo(
                    f"error: {s.plan.name}: cannot connect to {s.plan.url} ({s.last_error})",
                    err=True,
                )
                stop.set()
                code = 2
        await asyncio.wait({task, stopped}, timeout=duration, return_when=asyncio.FIRST_COMPLETED)
        ended_by_itself = task.done() and not stop.is_set()
        stop.set()
        try:
            await task
        except Exception as exc:  # the collector died: one line, non-zero
            typer.echo(f"error: collector stopped: {exc}", err=True)
            return 1
        if ended_by_itself:
            typer.echo("error: collector stopped by itself", err=True)
            return 1
    finally:
        stop.set()
        stopped.cancel()
        if ticker:
            ticker.cancel()
        if not task.done():
            with contextlib.suppress(Exception):
                await task
    return code


async def _status(collector: Collector, every: float) -> None:
    while True:
        await asyncio.sleep(every)
        summary = collector.stats.summary(collector.clock.now_ms())
        logging.getLogger("liqscope.collect").info("status: %s", summary)


@app.command("collect")
def collect(
    venue: Annotated[
        list[str],
        typer.Option(
            "--venue",
            help="VENUE:SYMBOL[,SYMBOL...] (repeatable), e.g. binance:BTCUSDT,ETHUSDT. "
            "Venues: binance, binance_coinm, bybit, okx.",
        ),
    ],
    symbols: Annotated[
        list[str] | None,
        typer.Option("--symbols", help="Symbols for a --venue given without ':' (in order)."),
    ] = None,
    url: Annotated[
        list[str] | None,
        typer.Option(
            "--url",
            help="VENUE=WS_URL[,REST_URL]: point a venue elsewhere (e.g. a simulated exchange).",
        ),
    ] = None,
    channels: Annotated[
        str | None,
        typer.Option(
            "--channels",
            help="liquidations,mark_price,candles,open_interest,trades "
            "(default: all but trades, where offered).",
        ),
    ] = None,
    db: DbOption = None,
    duration: Annotated[
        float | None, typer.Option("--duration", help="Stop after this many seconds.", min=0)
    ] = None,
    fail_fast: Annotated[
        bool,
        typer.Option(
            "--fail-fast",
            help="Exit with code 2 when a venue cannot be reached at start "
            "(default: keep retrying with backoff).",
        ),
    ] = False,
    stall_timeout: Annotated[
        float, typer.Option("--stall-timeout", help="Seconds without a message = dead.", min=0.1)
    ] = 60.0,
    max_lifetime: Annotated[
        float | None,
        typer.Option(
            "--max-lifetime",
            help="Roll connections over before this many seconds (default: the venue's limit).",
            min=1.0,
        ),
    ] = None,
    backfill_days: Annotated[
        float, typer.Option("--backfill-days", help="Start-up REST backfill reach.", min=0)
    ] = 2.0,
    oi_poll: Annotated[
        float,
        typer.Option("--oi-poll", help="Seconds between REST open-interest polls (0: off).", min=0),
    ] = 60.0,
    store_timeout: Annotated[
        float,
        typer.Option(
            "--store-timeout",
            help="Exit non-zero when the store keeps failing (disk full, locked, gone) this "
            "many seconds; writes are retried with backoff until then (0: retry forever).",
            min=0,
        ),
    ] = 300.0,
    no_journal: Annotated[
        bool, typer.Option("--no-journal", help="Do not keep raw frames.")
    ] = False,
    status_every: Annotated[
        float, typer.Option("--status-every", help="Seconds between status lines (0: off).", min=0)
    ] = 60.0,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Warnings and errors only.")] = False,
) -> None:
    """Collect liquidations, mark prices, candles and open interest live into the store.

    Runs until Ctrl-C / SIGTERM (or --duration); a connection that drops or stalls is
    re-established with backoff and the blind span is recorded as a gap.
    """
    logging.basicConfig(
        level=logging.WARNING if quiet else logging.INFO,
        format="%(asctime)s %(levelname)s %(message)s",
        stream=sys.stderr,
    )
    logging.getLogger("websockets").setLevel(logging.WARNING)
    logging.getLogger("httpx").setLevel(logging.WARNING)
    try:
        specs = parse_specs(venue, symbols or [], url or [], channels)
        config = CollectorConfig(
            stall_timeout_s=stall_timeout,
            max_lifetime_s=max_lifetime,
            backfill=backfill_days > 0,
            backfill_days=backfill_days,
            oi_poll_s=oi_poll or None,
            journal=not no_journal,
            store_timeout_s=store_timeout or None,
        )
        store = open_store(db)
    except LiqscopeError as exc:
        raise fail(str(exc)) from None
    try:
        try:
            collector = Collector(specs, store, config=config)
        except LiqscopeError as exc:
            raise fail(str(exc)) from None
        names = ", ".join(f"{s.venue}:{','.join(s.symbols)}" for s in specs)
        typer.echo(f"collecting {names} into {shown(db_path(db))}", err=True)
        code = asyncio.run(_run(collector, duration, fail_fast, status_every))
        typer.echo(f"stopped: {collector.stats.summary()}", err=True)
    finally:
        store.close()
    if code:
        raise typer.Exit(code)
