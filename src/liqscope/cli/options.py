"""Options shared by the commands: the store location (``--db``) and time parsing."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from liqscope.domain.errors import InputError
from liqscope.model.steps import Steps as ModelSteps
from liqscope.store.sqlite import SqliteStore

DB_FILE = "liqscope.sqlite"

DbOption = Annotated[
    Path | None,
    typer.Option(
        "--db",
        help="Store file [default: $LIQSCOPE_HOME/liqscope.sqlite or ~/.liqscope/liqscope.sqlite].",
        show_default=False,
        dir_okay=False,
    ),
]


def home() -> Path:
    """``$LIQSCOPE_HOME`` or ``~/.liqscope``."""
    env = os.environ.get("LIQSCOPE_HOME")
    return Path(env).expanduser() if env else Path.home() / ".liqscope"


def db_path(db: Path | None) -> Path:
    """The store file a command uses."""
    return db.expanduser() if db is not None else home() / DB_FILE


def open_store(db: Path | None, *, must_exist: bool = False) -> SqliteStore:
    """Open (or, unless ``must_exist``, create) the store."""
    path = db_path(db)
    if must_exist and not path.is_file():
        raise InputError(
            f"no store at {path} (import data or run the collector first, or pass --db)"
        )
    if path.is_dir():
        raise InputError(f"{path} is a directory, not a store file")
    return SqliteStore(path)


def parse_time(text: str, what: str = "time") -> int:
    """Epoch ms from ``2024-08-05``, ``2024-08-05T12:00[:00][Z|+hh:mm]`` or epoch s/ms.

    Times without a zone are UTC.
    """
    t = text.strip()
    if t.isdigit():
        value = int(t)
        return value if value >= 10**11 else value * 1000
    try:
        parsed = datetime.fromisoformat(t.replace(" ", "T", 1) if len(t) > 10 else t)
    except ValueError:
        raise InputError(
            f"{what} {text!r} is not a date (YYYY-MM-DD[THH:MM[:SS]]) or epoch time"
        ) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return int(parsed.timestamp() * 1000)


def format_ms(ms: int | None) -> str:
    """``YYYY-MM-DD HH:MM:SS`` UTC (or ``-``)."""
    if ms is None:
        return "-"
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S")


STEP_MS = 60_000  # commands read the store as 1-minute steps


def stored_steps(db: Path | None, venue: str, symbol: str, days: float | None = None) -> ModelSteps:
    """The estimator input for one stored market: 1-minute steps over everything stored, or
    over the last ``days`` before the newest candle."""
    from liqscope.domain.registry import native_symbol

    native = native_symbol(venue, symbol)
    with open_store(db, must_exist=True) as store:
        spans = [
            (c.first_ts, c.last_ts)
            for c in store.coverage(0)
            if c.venue == venue and c.symbol == native and c.stream.startswith("candles")
            if c.first_ts is not None and c.last_ts is not None
        ]
        if not spans:
            raise InputError(f"no candles stored for {venue} {native} in {store.path}")
        t1 = max(b for _, b in spans) + STEP_MS
        t0 = min(a for a, _ in spans) if days is None else t1 - int(days * 86_400_000)
        steps = store.steps(venue, native, t0, t1, STEP_MS).to_model(venue, native)
    if steps is None:
        raise InputError(f"{venue} {native}: fewer than two steps with both prices and OI")
    return steps
