"""``liqscope positions``: measured Hyperliquid positions (``positions poll`` runs the
poller); ``map --source measured``; ``calibrate --from-measured``."""

from __future__ import annotations

import asyncio
import contextlib
import csv
import json
import math
from pathlib import Path
from typing import Annotated

import orjson
import typer

from liqscope.cli.app import app
from liqscope.cli.options import DbOption, open_store, parse_time
from liqscope.domain.clock import SYSTEM_CLOCK
from liqscope.domain.errors import InputError
from liqscope.model.grid import PriceGrid, nice_step
from liqscope.model.presets import preset as get_preset
from liqscope.signals.measured import (
    MODES,
    distance_to_liq,
    fit_leverage_tiers,
    measured_map,
    nearest_liquidations,
    position_row,
)
from liqscope.store.positions import last_polls, positions_at

MEASURED_VENUES = ("hyperliquid",)
MEASURED_FORMATS = (".json", ".csv")


def _venue(venue: str) -> str:
    if venue.lower() not in MEASURED_VENUES:
        raise InputError(f"--venue {venue!r}: measured positions exist for hyperliquid only")
    return venue.lower()


def parse_near(text: str | None) -> float | None:
    """``5%`` or ``5`` -> 0.05; None stays None."""
    if text is None:
        return None
    raw = text.strip().rstrip("%")
    try:
        value = float(raw) / 100.0
    except ValueError:
        raise InputError(f"--near {text!r}: expected a percentage such as 5%") from None
    if not (math.isfinite(value) and 0 < value <= 1):
        raise InputError(f"--near {text!r}: expected a percentage in (0, 100]")
    return value


def _short(address: str) -> str:
    return f"{address[:6]}…{address[-4:]}"


positions_app = typer.Typer(
    help="Measured Hyperliquid positions: list them, or run the poller (positions poll).",
    invoke_without_command=True,
)
app.add_typer(positions_app, name="positions")


@positions_app.callback()
def positions_command(
    ctx: typer.Context,
    symbol: Annotated[str | None, typer.Option(help="Coin, e.g. BTC.")] = None,
    venue: Annotated[str, typer.Option(help="Venue (hyperliquid).")] = "hyperliquid",
    near: Annotated[str | None, typer.Option(help="Max distance to liquidation, e.g. 5%.")] = None,
    at: Annotated[str | None, typer.Option(help="As known at (UTC or epoch) [now].")] = None,
    limit: Annotated[int, typer.Option(help="Rows shown.", min=1, max=100_000)] = 20,
    json_: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    db: DbOption = None,
) -> None:
    """Measured positions (nearest liquidation first), with the exchange's liquidation prices."""
    if ctx.invoked_subcommand is not None:
        return
    if not symbol:
        raise InputError("--symbol is required (e.g. --symbol BTC), or run: positions poll")
    v = _venue(venue)
    within = parse_near(near)
    with open_store(db, must_exist=True) as store:
        t = parse_time(at, "--at") if at is not None else store_now(store, v)
        rows = nearest_liquidations(positions_at(store, v, symbol, t), within)
        grid = PriceGrid(1.0, 1.0, 1)  # coverage only
        cov = measured_map(store, symbol, t, grid, venue=v).coverage
    shown = rows[:limit]
    if json_:
        listed = [position_row(p) for p in shown]
        body = {"venue": v, "symbol": symbol, "at_ms": t, "positions": listed,
                "matched": len(rows), "coverage": cov.to_dict()}  # fmt: skip
        typer.echo(orjson.dumps(body).decode())
        return
    acc = cov.to_dict()["accounts"]
    typer.echo(
        f"{symbol} on {v}: {len(rows)} positions"
        + (f" within {100 * within:g}% of liquidation" if within else "")
        + f"; accounts known {acc['known']}, polled {acc['polled']}"
        + f", recently {acc['polled_recently']}"
    )
    for p in shown:
        d = distance_to_liq(p)
        liq = f"{p.liquidation_px:>12,.1f}" if p.liquidation_px else f"{'-':>12}"
        typer.echo(
            f"{_short(p.address)}  {'long ' if p.size > 0 else 'short'} {abs(p.size):>12.5f}"
            f"  entry {p.entry_px:>11,.1f}  {p.leverage:>4g}x {p.leverage_type:<8}"
            f"  liq {liq}  {'-' if d is None else f'{100 * d:.2f}%':>7}"
            f"  ${p.notional_entry_usd:>14,.0f}"
        )


@positions_app.command("poll")
def poll_command(
    url: Annotated[
        str, typer.Option(help="Hyperliquid REST base URL (POST /info).")
    ] = "https://api.hyperliquid.xyz",
    ws: Annotated[
        str | None, typer.Option(help="Trades WebSocket URL: discover addresses from trades.")
    ] = None,
    coins: Annotated[str, typer.Option(help="Comma list of coins followed.")] = "BTC",
    addresses: Annotated[
        Path | None, typer.Option(help="Address list file: one 0x address a line, # comments.")
    ] = None,
    weight: Annotated[
        int,
        typer.Option(
            help="Request weight a minute this poller may spend (venue: 1200).", min=22, max=1200
        ),
    ] = 1000,
    run_for: Annotated[
        float, typer.Option(help="Stop after this many seconds (0: until Ctrl-C).", min=0)
    ] = 0.0,
    db: DbOption = None,
) -> None:
    """Poll clearinghouseState of the known accounts within the weight budget (stores every
    poll; resumes the accounts already stored)."""
    from liqscope.ingest.hl_positions import ClientBudget, PositionPoller
    from liqscope.venues.hyperliquid.rest import HyperliquidRest

    wanted = [c.strip() for c in coins.split(",") if c.strip()]
    if not wanted:
        raise InputError("--coins is empty")
    if not url.startswith(("http://", "https://")):
        raise InputError(f"--url {url!r}: expected an http(s) URL")
    if ws is not None and not ws.startswith(("ws://", "wss://")):
        raise InputError(f"--ws {ws!r}: expected a ws(s) URL")

    async def run(store: object) -> str:
        rest = HyperliquidRest(url, clock=SYSTEM_CLOCK, max_retries=0)
        try:
            poller = PositionPoller(rest, store, SYSTEM_CLOCK, coins=wanted,
                                    budget=ClientBudget(weight))  # fmt: skip
            if addresses is not None:
                poller.add_file(addresses)
            await poller.poll_round()  # an unreachable venue fails here, in one line
            stop = asyncio.Event()
            tasks = [asyncio.create_task(poller.run(stop))]
            if ws is not None:
                tasks.append(asyncio.create_task(poller.watch_trades(ws, stop)))
            with contextlib.suppress(asyncio.CancelledError):
                if run_for > 0:
                    await asyncio.sleep(run_for)
                else:
                    await asyncio.Event().wait()
            stop.set()
            await asyncio.gather(*tasks)
            st = poller.stats
            return (
                f"{len(poller.accounts)} accounts known; {st.polls} polls, {st.positions} "
                f"positions, weight {st.weight}, throttled {st.throttled}, errors {st.errors}"
            )
        finally:
            await rest.aclose()

    with open_store(db) as store, contextlib.suppress(KeyboardInterrupt):
        typer.echo(asyncio.run(run(store)))


def store_now(store: object, venue: str) -> int:
    """The newest poll stored (what "now" means for a map as known now)."""
    polls = last_polls(store, venue)
    if not polls:
        raise InputError(f"no measured positions stored for {venue} (run the position poller)")
    return max(polls.values())


def measured_map_command(
    out: Path, symbol: str, venue: str, db: str | None, at: str | None, bucket_usd: float | None
) -> None:
    """``liqscope map --source measured``: the measured map as JSON or CSV."""
    v = _venue(venue)
    if out.suffix.lower() not in MEASURED_FORMATS:
        raise InputError(f"--out: the measured map is written as {' or '.join(MEASURED_FORMATS)}")
    if not out.parent.exists():
        raise InputError(f"--out: folder {out.parent} does not exist")
    with open_store(db, must_exist=True) as store:
        t = parse_time(at, "--at") if at is not None else store_now(store, v)
        pos = [p for p in positions_at(store, v, symbol, t) if p.liquidation_px]
        if not pos:
            raise InputError(f"no measured {symbol} positions on {v} as of {t} (run the poller)")
        liqs = [float(p.liquidation_px or 0.0) for p in pos]
        step = bucket_usd or nice_step(max(max(liqs) - min(liqs), 1e-9) / 199)
        mm = measured_map(store, symbol, t, PriceGrid.spanning(min(liqs), max(liqs), step), venue=v)
    if out.suffix.lower() == ".json":
        out.write_bytes(orjson.dumps(mm.to_dict()))
    else:
        with out.open("w", newline="", encoding="utf-8") as fh:
            w = csv.writer(fh)
            w.writerow(["bucket_low", "long_usd", "short_usd"]
                       + [f"{m}_{s}_usd" for m in MODES for s in ("long", "short")])  # fmt: skip
            both = mm.by_side()
            per = {m: mm.by_side(m) for m in MODES}
            for i, low in enumerate(mm.grid.lower_edges.tolist()):
                w.writerow([low, both[0, i], both[1, i]]
                           + [per[m][k, i] for m in MODES for k in (0, 1)])  # fmt: skip
    cov = mm.coverage.to_dict()
    typer.echo(
        f"wrote {out} ({mm.grid.n} buckets of {mm.grid.step:g} USD, {len(mm.positions)} "
        f"measured positions, accounts polled {cov['accounts']['polled']}, USD at entry)"
    )


def measured_calibration(db: str | None, symbol: str | None, preset: str, as_json: bool) -> None:
    """``liqscope calibrate --from-measured``: the base preset's tier weights refitted on the
    measured Hyperliquid leverage mix (USD at entry), as known at the newest poll."""
    if not symbol:
        raise InputError("--from-measured needs --symbol (the coin, e.g. BTC)")
    base = get_preset(preset)
    with open_store(db, must_exist=True) as store:
        t = store_now(store, "hyperliquid")
        fit = fit_leverage_tiers(positions_at(store, "hyperliquid", symbol, t), base, t)
    if as_json:
        typer.echo(json.dumps({"preset": preset, "measured": fit.to_dict()}))
        return
    tiers = ", ".join(
        f"{x:g}x {w:.4f} (was {w0:.4f})"
        for x, w, w0 in zip(
            fit.config.leverages, fit.config.tier_weights, base.tier_weights, strict=True
        )
    )
    typer.echo(
        f"tier weights from {fit.positions} measured {symbol} positions on hyperliquid "
        f"(fit on positions, not on realized liquidations): {tiers}"
    )
