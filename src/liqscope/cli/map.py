"""``liqscope map``: export the current liquidation map (profile) of a stored market."""

from __future__ import annotations

import csv
import json
from itertools import pairwise
from pathlib import Path
from typing import Annotated, Any

import typer

from liqscope.cli.app import app
from liqscope.cli.options import DbOption, db_path
from liqscope.domain.errors import InputError

FORMATS = (".png", ".csv", ".json", ".parquet")


def _columns(body: dict[str, Any]) -> dict[str, list[Any]]:
    edges = body["bucket_edges"]
    cols: dict[str, list[Any]] = {"price_lo": edges[:-1], "price_hi": edges[1:]}
    for tier in body["tiers"]:
        cols[f"long_{tier}"] = body["long"].get(tier, [])
    for tier in body["tiers"]:
        cols[f"short_{tier}"] = body["short"].get(tier, [])
    for key in ("long_total", "short_total", "cum_long", "cum_short"):
        cols[key] = body[key]
    return cols


def _png(body: dict[str, Any], out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    edges = body["bucket_edges"]
    mids = [(a + b) / 2 for a, b in pairwise(edges)]
    width = (edges[1] - edges[0]) * 0.9 if len(edges) > 1 else 1.0
    fig, ax = plt.subplots(figsize=(12, 6), dpi=110)
    fig.patch.set_facecolor("#0b0e14")
    ax.set_facecolor("#0b0e14")
    colors = ["#3b82f6", "#8b5cf6", "#f59e0b", "#f97316", "#ef4444", "#ec4899"]
    bottom = [0.0] * len(mids)
    for i, tier in enumerate(body["tiers"]):
        vals = [a + b for a, b in zip(body["long"][tier], body["short"][tier], strict=True)]
        ax.bar(mids, vals, width, bottom=bottom, color=colors[i % len(colors)], label=tier)
        bottom = [a + b for a, b in zip(bottom, vals, strict=True)]
    ax2 = ax.twinx()
    price = body["price"]
    lo = [(m, c) for m, c in zip(mids, body["cum_long"], strict=True) if m < price]
    hi = [(m, c) for m, c in zip(mids, body["cum_short"], strict=True) if m >= price]
    if lo:
        ax2.plot(*zip(*lo, strict=True), color="#ef4444", label="cumulative longs")
    if hi:
        ax2.plot(*zip(*hi, strict=True), color="#22c55e", label="cumulative shorts")
    ax.axvline(price, color="#f5c542", linestyle="--", linewidth=1)
    for name, mp in body["max_pain"].items():
        if mp:
            ax.axvline(mp["price"], color="#9aa4b8", linestyle=":", linewidth=1)
            ax.text(mp["price"], ax.get_ylim()[1] * 0.95, f" max pain {name}", color="#c9d1e0")
    for a in (ax, ax2):
        a.tick_params(colors="#8a94aa")
        for s in a.spines.values():
            s.set_color("#232b3b")
    ax.set_xlabel("liquidation price", color="#8a94aa")
    ax.set_ylabel("USD per bucket", color="#8a94aa")
    ax2.set_ylabel("cumulative USD", color="#8a94aa")
    ax.set_title(
        f"{body['symbol']} liquidation map · {', '.join(body['venues'])} · preset "
        f"{body['preset']} · price {price:,.1f}",
        color="#d7dce5",
    )
    ax.legend(loc="upper left", facecolor="#121722", labelcolor="#d7dce5", edgecolor="#232b3b")
    fig.tight_layout()
    fig.savefig(out, facecolor=fig.get_facecolor())
    plt.close(fig)


@app.command("map")
def map_command(
    out: Annotated[Path, typer.Option("--out", "-o", help="Output: .png, .csv, .json, .parquet.")],
    symbol: Annotated[str, typer.Option(help="Market, e.g. BTCUSDT (or a native name).")],
    venue: Annotated[str, typer.Option(help="Venue, a comma list, or all (aggregate).")] = "all",
    db: DbOption = None,
    tiers: Annotated[str | None, typer.Option(help="Leverage tiers, e.g. 25x,50x.")] = None,
    preset: Annotated[str | None, typer.Option(help="Model preset: all, high, …")] = None,
    range_: Annotated[
        str, typer.Option("--range", help="History the model runs over: 12h … 1y.")
    ] = "7d",
    at: Annotated[str | None, typer.Option(help="Time of the map (default: latest).")] = None,
    buckets: Annotated[int, typer.Option(help="Price buckets.", min=5, max=2000)] = 200,
    window_pct: Annotated[float, typer.Option(help="± % around price.", min=0.1, max=100)] = 15.0,
) -> None:
    """Export the liquidation map: USD per price bucket by tier, cumulative curves, max pain."""
    from liqscope.api.service import ApiError, Service
    from liqscope.api.storebackend import StoreBackend

    suffix = out.suffix.lower()
    if suffix not in FORMATS:
        raise InputError(f"--out: unsupported format {suffix!r} (use {', '.join(FORMATS)})")
    if not out.parent.exists():
        raise InputError(f"--out: folder {out.parent} does not exist")
    db = db_path(db)
    if not db.exists():
        raise InputError(f"--db: no store at {db}")
    service = Service(StoreBackend(db))
    try:
        raw = service.liq_map(symbol, venue, range_, at, tiers, preset, buckets, window_pct, None)
    except ApiError as exc:
        name = {"venues": "venue", "range": "range"}.get(exc.param or "", exc.param or "input")
        raise InputError(f"--{name}: {exc.message}") from None
    body: dict[str, Any] = json.loads(raw)
    if not body["bucket_edges"]:
        raise InputError(f"nothing to export: {body.get('note') or 'no live levels'}")
    if suffix == ".json":
        out.write_bytes(raw)
    elif suffix == ".csv":
        cols = _columns(body)
        with out.open("w", newline="") as fh:
            w = csv.writer(fh)
            w.writerow(cols)
            w.writerows(zip(*cols.values(), strict=True))
    elif suffix == ".parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq

        meta = {k: json.dumps(body[k]) for k in ("symbol", "venues", "preset", "ts", "price")}
        table = pa.table(_columns(body)).replace_schema_metadata(meta)
        pq.write_table(table, out)
    else:
        _png(body, out)
    n = len(body["bucket_edges"]) - 1
    typer.echo(
        f"wrote {out} ({n} buckets, price {body['price']:,.2f}, "
        f"{', '.join(body['venues'])}, preset {body['preset']}, USD)"
    )
