"""``liqscope positions``: measured Hyperliquid positions; ``map --source measured``."""

from __future__ import annotations

import csv
import math
from pathlib import Path
from typing import Annotated, Any

import orjson
import typer

from liqscope.cli.app import app
from liqscope.cli.options import DbOption, open_store, parse_time
from liqscope.domain.errors import InputError
from liqscope.model.grid import PriceGrid, nice_step
from liqscope.signals.measured import MODES, measured_map
from liqscope.store.positions import PositionSnapshot, last_polls, positions_at

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


def _mark(p: PositionSnapshot) -> float:
    """The mark at the poll: the venue's positionValue / |size|."""
    return abs(p.position_value / p.size) if p.size else math.nan


def _distance(p: PositionSnapshot) -> float | None:
    mark = _mark(p)
    if p.liquidation_px is None or not mark > 0:
        return None
    return abs(mark - p.liquidation_px) / mark


def _row(p: PositionSnapshot) -> dict[str, Any]:
    return {
        "address": p.address, "side": "long" if p.size > 0 else "short", "size": abs(p.size),
        "entry_px": p.entry_px, "leverage": p.leverage, "margin_mode": p.leverage_type,
        "liquidation_px": p.liquidation_px, "distance_pct": None if _distance(p) is None
        else 100.0 * (_distance(p) or 0.0), "notional_usd": p.notional_entry_usd,
        "margin_used": p.margin_used, "position_value": p.position_value, "polled_ms": p.ts,
    }  # fmt: skip


def _short(address: str) -> str:
    return f"{address[:6]}…{address[-4:]}"


@app.command("positions")
def positions_command(
    symbol: Annotated[str, typer.Option(help="Coin, e.g. BTC.")],
    venue: Annotated[str, typer.Option(help="Venue (hyperliquid).")] = "hyperliquid",
    near: Annotated[
        str | None,
        typer.Option(help="Only positions within this distance of liquidation, e.g. 5%."),
    ] = None,
    at: Annotated[
        str | None, typer.Option(help="As known at (UTC time or epoch) [default: now].")
    ] = None,
    limit: Annotated[int, typer.Option(help="Rows shown.", min=1, max=100_000)] = 20,
    json_: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    db: DbOption = None,
) -> None:
    """Measured positions (largest first), with the exchange's liquidation prices."""
    v = _venue(venue)
    within = parse_near(near)
    with open_store(db, must_exist=True) as store:
        t = parse_time(at, "--at") if at is not None else store_now(store, v)
        pos = positions_at(store, v, symbol, t)
        rows = [p for p in pos if within is None or ((_distance(p) or math.inf) <= within)]
        rows.sort(key=lambda p: (_distance(p) or math.inf, -p.notional_entry_usd))
        grid = PriceGrid(1.0, 1.0, 1)  # coverage only
        cov = measured_map(store, symbol, t, grid, venue=v).coverage
    shown = rows[:limit]
    if json_:
        body = {"venue": v, "symbol": symbol, "at_ms": t, "positions": [_row(p) for p in shown],
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
        d = _distance(p)
        liq = f"{p.liquidation_px:>12,.1f}" if p.liquidation_px else f"{'-':>12}"
        typer.echo(
            f"{_short(p.address)}  {'long ' if p.size > 0 else 'short'} {abs(p.size):>12.5f}"
            f"  entry {p.entry_px:>11,.1f}  {p.leverage:>4g}x {p.leverage_type:<8}"
            f"  liq {liq}  {'-' if d is None else f'{100 * d:.2f}%':>7}"
            f"  ${p.notional_entry_usd:>14,.0f}"
        )


def store_now(store: object, venue: str) -> int:
    """The newest poll stored (what "now" means for a map as known now)."""
    polls = last_polls(store, venue)
    if not polls:
        raise InputError(f"no measured positions stored for {venue} (run the position poller)")
    return max(polls.values())


def measured_map_command(
    out: Path, symbol: str, venue: str, db: Path | None, at: str | None, bucket_usd: float | None
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
