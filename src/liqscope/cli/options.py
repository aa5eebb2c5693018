"""Options shared by the commands: the store location (``--db``), time parsing, and the one
helper that opens the store and reads a window of steps."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Annotated

import typer

from liqscope.domain.clock import SYSTEM_CLOCK
from liqscope.domain.errors import InputError
from liqscope.domain.intervals import DAY_MS, MINUTE_MS
from liqscope.domain.registry import market_of
from liqscope.domain.types import Venue
from liqscope.model.presets import PRESETS
from liqscope.model.steps import Steps as ModelSteps
from liqscope.store import is_server_url
from liqscope.store import open_store as open_any_store
from liqscope.store.base import Store
from liqscope.store.readers import read_steps, read_venue_steps, stored_candle_span

DB_FILE = "liqscope.sqlite"
DEMO_DB = "demo.sqlite"
"""The demo's store in ``$LIQSCOPE_HOME`` (``liqscope demo`` without ``--db``)."""
DEMO_POINTER = "demo-running.json"
"""In ``$LIQSCOPE_HOME``: written by a running ``liqscope demo`` (JSON: ``db``, ``pid``, ``url``,
``live_start_ms``, ``live_wall_ms``, ``speed``, ``event_start_ms``), removed when it stops."""
PRESET_NAMES = ", ".join(PRESETS)
"""The model presets, for help texts."""

DbOption = Annotated[
    str | None,
    typer.Option(
        "--db",
        help="Store file or postgresql:// URL [default: $LIQSCOPE_HOME/liqscope.sqlite or "
        "~/.liqscope/liqscope.sqlite].",
        show_default=False,
    ),
]
"""``--db``: kept a string, so a ``postgresql://`` URL reaches ``store.open_store`` intact."""
Db = str | Path | None
"""What the helpers below take as the store: ``--db`` as given (a path or a URL) or None."""

VENUE_NAMES = ", ".join(v.value for v in Venue)
"""The venues (``domain.types.Venue``), for help texts."""

SideOption = Annotated[str, typer.Option(help="long or short.")]
EntryOption = Annotated[float, typer.Option(help="Entry price.")]
LeverageOption = Annotated[float, typer.Option(help="Leverage, e.g. 20.")]
"""Options of a position (``liqprice``, ``check``)."""


def home() -> Path:
    """``$LIQSCOPE_HOME`` or ``~/.liqscope``."""
    env = os.environ.get("LIQSCOPE_HOME")
    return Path(env).expanduser() if env else Path.home() / ".liqscope"


def db_path(db: Db) -> str | Path:
    """The store a command uses: a ``postgresql://`` URL as given, else the file (default:
    ``$LIQSCOPE_HOME/liqscope.sqlite``)."""
    if db is None:
        return home() / DB_FILE
    if isinstance(db, str) and "://" in db:
        return db  # a URL: ``store.open_store`` opens it, or names what it accepts
    return Path(db).expanduser()


def shown(location: str | Path) -> str:
    """The store for messages: a server URL without its password, or the file."""
    if isinstance(location, str) and is_server_url(location):
        from liqscope.store.postgres import redact

        return redact(location)
    return str(location)


def running_demo() -> dict[str, object] | None:
    """The pointer of a ``liqscope demo`` running now (its process alive, its store present)."""
    path = home() / DEMO_POINTER
    try:
        record = json.loads(path.read_text())
        pid, db = int(record["pid"]), Path(str(record["db"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        pass  # alive, another user's
    return dict(record) if db.is_file() else None


def demo_now_ms(record: Mapping[str, object], wall_ms: int) -> int | None:
    """A running demo's simulated time at wall time ``wall_ms``: its pointer's
    ``live_start_ms`` at ``live_wall_ms``, run on at ``speed`` (None if the pointer lacks them)."""
    try:
        live, wall0 = int(str(record["live_start_ms"])), int(str(record["live_wall_ms"]))
        return live + int((wall_ms - wall0) * float(str(record["speed"])))
    except (KeyError, TypeError, ValueError):
        return None


def now_for(location: str | Path) -> int:
    """Now, for the ages of what ``location`` holds: the simulated clock of the running demo
    when it is that demo's store (simulated time runs at its ``--speed``), else the wall."""
    wall = SYSTEM_CLOCK.now_ms()
    demo = running_demo()
    if demo is None or isinstance(location, str):
        return wall
    if Path(str(demo["db"])).resolve() != location.resolve():
        return wall
    return demo_now_ms(demo, wall) or wall


def note_err(message: str) -> None:
    """A note for the user on stderr (keeps stdout clean for ``--json``)."""
    typer.echo(message, err=True)


def find_store(db: Db, note: Callable[[str], None] | None = note_err) -> str | Path:
    """The store a read-only command (``status``, ``alerts``) looks at: ``--db``; else, while
    a demo runs, the demo's store (said through ``note``); else the default store. When that
    does not exist, InputError names ``--db`` and any demo store found."""
    if db is not None:
        return db_path(db)
    demo = running_demo()
    if demo is not None:
        path = Path(str(demo["db"]))
        if note is not None:
            note(f"using the running demo's store {path} (pass --db to choose another)")
        return path
    path = home() / DB_FILE
    if not path.is_file():
        hint = "import data or run the collector first, or pass --db FILE"
        old_demo = home() / DEMO_DB
        if old_demo.is_file():
            hint += f" (a demo store is at {old_demo}: --db {old_demo})"
        raise InputError(f"no store at {path} ({hint})")
    return path


def open_store(db: Db, *, must_exist: bool = False, readonly: bool = False) -> Store:
    """Open (or, unless ``must_exist``, create) the store; a server store is opened as given
    (an unreachable server or a bad URL: one-line ``StoreError``)."""
    path = db_path(db)
    if isinstance(path, str):
        return open_any_store(path, readonly=readonly)
    if must_exist and not path.is_file():
        raise InputError(
            f"no store at {path} (import data or run the collector first, or pass --db)"
        )
    if path.is_dir():
        raise InputError(f"{path} is a directory, not a store file")
    return open_any_store(path, readonly=readonly)


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


def parse_tiers(text: str | None) -> list[float] | None:
    """Leverages of ``--tiers`` (``25,50,100`` or ``25x,50x``; None or ``all``: the default)."""
    if text is None or not text.strip() or text.strip().lower() == "all":
        return None
    out = []
    for part in text.split(","):
        p = part.strip().lower().rstrip("x")
        try:
            out.append(float(p))
        except ValueError:
            raise InputError(
                f"--tiers: {part.strip()!r} is not a leverage (e.g. 25,50,100)"
            ) from None
    return out


def market_venues(
    store: Store,
    symbol: str,
    venues: str = "all",
    tables: Sequence[str] = ("candles",),
) -> tuple[str, dict[str, str]]:
    """The venue-neutral market of ``symbol`` (a market or a native name) and, for the venues
    asked for (``all``: every venue with rows of ``tables`` for it, or a comma list), their
    native symbols as stored."""
    stored = store.markets(tables)
    wanted = symbol.strip().upper()
    market = next(
        (market_of(v, s) for v, s in stored if wanted in (s.upper(), market_of(v, s))), wanted
    )
    have = {v: s for v, s in stored if market_of(v, s) == market}
    if venues.strip().lower() in ("", "all"):
        if not have:
            raise InputError(f"no {' or '.join(tables)} stored for {symbol} in {store.path}")
        return market, have
    names = list(dict.fromkeys(v.strip().lower() for v in venues.split(",") if v.strip()))
    missing = [v for v in names if v not in have]
    if not names or missing:
        asked = ", ".join(missing) or repr(venues)
        raise InputError(
            f"--venue: no {' or '.join(tables)} for {market} on {asked} "
            f"(stored on: {', '.join(have) or 'none'})"
        )
    return market, {v: have[v] for v in names}


def read_window(
    store: Store,
    natives: Mapping[str, str],
    days: float | None = None,
    interval: int = MINUTE_MS,
    end: int | None = None,
) -> tuple[list[ModelSteps], dict[str, str]]:
    """The steps of each venue (``{venue: native symbol}``) over one window ending at
    ``end`` (default: after the newest candle of any of them): everything stored before it,
    or its last ``days``; venues without usable steps are returned as ``{venue: reason}``."""
    spans = {v: stored_candle_span(store, v, n) for v, n in natives.items()}
    known = [s for s in spans.values() if s is not None]
    if not known:
        names = ", ".join(f"{v} {n}" for v, n in natives.items())
        raise InputError(f"no candles stored for {names} in {store.path}")
    t1 = max(b for _, b in known) + interval if end is None else end - end % interval
    t0 = min(a for a, _ in known) if days is None else t1 - int(days * DAY_MS)
    return read_venue_steps(natives.items(), t0, t1, interval, partial(read_steps, store))


def stored_window(
    db: Db,
    symbol: str,
    venues: str = "all",
    days: float | None = None,
    end: int | None = None,
) -> tuple[str, list[ModelSteps], dict[str, str]]:
    """The one helper commands read the store with: the market of ``symbol``, the 1-minute
    steps of each venue asked for (``all``, a venue or a comma list) over one window (see
    :func:`read_window`) and the venues left out with the reason."""
    with open_store(db, must_exist=True) as store:
        market, natives = market_venues(store, symbol, venues)
        steps, skipped = read_window(store, natives, days, end=end)
    return market, steps, skipped


def stored_steps(db: Db, venue: str, symbol: str, days: float | None = None) -> ModelSteps:
    """The steps of one venue's market (:func:`stored_window`)."""
    _, steps, skipped = stored_window(db, symbol, venue, days)
    if not steps:
        raise InputError(f"{venue} {skipped[venue]}")
    return steps[0]
