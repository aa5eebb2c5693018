"""Measured positions in the store: accounts known, polls, and position snapshots with history.

Tables (migration v4 of ``schema.py``): ``position_accounts`` (address, how it was found,
first/last seen), ``position_polls`` (one row per poll of an account, also when it held
nothing) and ``position_snapshots`` (one row per position of a poll). What was known at ``t``
is each account's newest poll at or before ``t`` and the positions of that poll: an account
that closed its position shows nothing once polled again, and nothing polled after ``t`` is
ever used. Writes are idempotent (keyed by venue, address, coin and poll time). Retention
(``delete_older_than``) deletes polls and their snapshots together (:func:`with_positions`);
the accounts known are kept.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from liqscope.domain.errors import InputError
from liqscope.store._db import Row, SqlBase
from liqscope.store._writes import _later

__all__ = [
    "POSITION_RETENTION",
    "AccountCounts",
    "AccountPoll",
    "PositionSnapshot",
    "account_counts",
    "known_accounts",
    "last_polls",
    "positions_at",
    "record_accounts",
    "record_polls",
    "with_positions",
]

POSITION_RETENTION: dict[str, str] = {"position_polls": "ts", "position_snapshots": "ts"}
"""The position tables retention applies to, and their time column."""

SNAPSHOT_COLUMNS = (
    "venue, address, coin, ts, size, entry_px, leverage, leverage_type, liquidation_px, "
    "margin_used, position_value"
)


@dataclass(frozen=True, slots=True)
class PositionSnapshot:
    """One position of one account as the venue reported it at ``ts`` (``size`` signed, in
    coin; ``liquidation_px`` None when the venue gives none)."""

    venue: str
    address: str
    coin: str
    ts: int
    size: float
    entry_px: float
    leverage: float
    leverage_type: str
    liquidation_px: float | None
    margin_used: float
    position_value: float

    @property
    def side(self) -> int:
        return 1 if self.size > 0 else -1

    @property
    def notional_entry_usd(self) -> float:
        return abs(self.size) * self.entry_px


@dataclass(frozen=True, slots=True)
class AccountPoll:
    """One ``clearinghouseState`` answer: every open position of ``address`` at ``ts``."""

    venue: str
    address: str
    ts: int
    positions: tuple[PositionSnapshot, ...] = ()


@dataclass(frozen=True, slots=True)
class AccountCounts:
    """Accounts known, polled at least once, and polled within the recent window."""

    known: int
    polled: int
    polled_recently: int


def _sql(store: object) -> SqlBase:
    if not isinstance(store, SqlBase):
        raise InputError(f"{type(store).__name__} does not store measured positions")
    return store


def record_accounts(
    store: object, venue: str, addresses: Iterable[tuple[str, str]], seen_ms: int
) -> int:
    """Remember ``(address, source)`` pairs (source e.g. ``trades`` or ``file``) seen at
    ``seen_ms``; returns how many were new."""
    db = _sql(store)
    rows: dict[str, Row] = {}
    for address, source in addresses:
        rows.setdefault(address.lower(), (venue, address.lower(), source, seen_ms, seen_ms))
    if not rows:
        return 0
    with db.transaction():
        before = _count(db, venue)
        db._insert(
            "position_accounts",
            "venue, address, source, first_seen_ms, last_seen_ms",
            list(rows.values()),
            "ON CONFLICT (venue, address) DO UPDATE SET "
            + _later("position_accounts", "last_seen_ms"),
        )
        return _count(db, venue) - before


def _count(db: SqlBase, venue: str) -> int:
    row = db._one("SELECT COUNT(*) FROM position_accounts WHERE venue = ?", (venue,))
    return int(row[0]) if row else 0


def record_polls(store: object, polls: Sequence[AccountPoll]) -> int:
    """Store polls and their positions in one transaction; returns the new poll rows."""
    db = _sql(store)
    poll_rows = [(p.venue, p.address.lower(), p.ts, len(p.positions)) for p in polls]
    pos_rows = [
        (s.venue, s.address.lower(), s.coin, s.ts, s.size, s.entry_px, s.leverage,
         s.leverage_type, s.liquidation_px, s.margin_used, s.position_value)
        for p in polls for s in p.positions
    ]  # fmt: skip
    with db.transaction():
        new = db._insert(
            "position_polls", "venue, address, ts, positions", poll_rows, "ON CONFLICT DO NOTHING"
        )
        if pos_rows:
            db._insert("position_snapshots", SNAPSHOT_COLUMNS, pos_rows, "ON CONFLICT DO NOTHING")
    return new


def positions_at(
    store: object, venue: str, coin: str, at_ms: int, *, max_age_ms: int | None = None
) -> list[PositionSnapshot]:
    """The positions in ``coin`` as known at ``at_ms``: each account's newest poll at or
    before it (older than ``max_age_ms`` before ``at_ms``: left out), largest first."""
    db = _sql(store)
    since = at_ms - max_age_ms if max_age_ms is not None else -(2**62)
    cols = ", ".join(f"s.{c.strip()}" for c in SNAPSHOT_COLUMNS.split(","))
    rows = db._all(
        f"SELECT {cols} FROM position_snapshots s JOIN ("
        " SELECT address, MAX(ts) AS ts FROM position_polls"
        " WHERE venue = ? AND ts <= ? GROUP BY address"
        ") l ON s.address = l.address AND s.ts = l.ts"
        " WHERE s.venue = ? AND s.coin = ? AND l.ts >= ?"
        " ORDER BY ABS(s.size) * s.entry_px DESC, s.address",
        (venue, at_ms, venue, coin, since),
    )
    return [
        PositionSnapshot(str(r[0]), str(r[1]), str(r[2]), int(r[3]), float(r[4]), float(r[5]),
                         float(r[6]), str(r[7]), None if r[8] is None else float(r[8]),
                         float(r[9]), float(r[10]))
        for r in rows
    ]  # fmt: skip


def known_accounts(store: object, venue: str) -> list[tuple[str, str]]:
    """Every known ``(address, source)`` of ``venue``, oldest first."""
    rows = _sql(store)._all(
        "SELECT address, source FROM position_accounts WHERE venue = ? "
        "ORDER BY first_seen_ms, address",
        (venue,),
    )
    return [(str(a), str(s)) for a, s in rows]


def last_polls(store: object, venue: str) -> dict[str, int]:
    """The newest poll time of every polled account of ``venue``."""
    rows = _sql(store)._all(
        "SELECT address, MAX(ts) FROM position_polls WHERE venue = ? GROUP BY address", (venue,)
    )
    return {str(a): int(t) for a, t in rows}


def account_counts(store: object, venue: str, at_ms: int, recent_ms: int) -> AccountCounts:
    """Accounts known by ``at_ms``, polled by then, and polled in ``(at_ms - recent_ms, at_ms]``."""
    db = _sql(store)
    known = db._one(
        "SELECT COUNT(*) FROM position_accounts WHERE venue = ? AND first_seen_ms <= ?",
        (venue, at_ms),
    )
    polled = db._one(
        "SELECT COUNT(DISTINCT address) FROM position_polls WHERE venue = ? AND ts <= ?",
        (venue, at_ms),
    )
    recent = db._one(
        "SELECT COUNT(DISTINCT address) FROM position_polls WHERE venue = ? AND ts <= ? AND ts > ?",
        (venue, at_ms, at_ms - recent_ms),
    )
    return AccountCounts(
        int(known[0]) if known else 0,
        int(polled[0]) if polled else 0,
        int(recent[0]) if recent else 0,
    )


def with_positions(cutoffs: Mapping[str, int]) -> dict[str, int]:
    """Retention cutoffs with the position tables kept in step: a poll and its snapshots go
    together (a poll left without its snapshots would read as "no position then"), so the
    later of the two tables' cutoffs applies to both."""
    out = dict(cutoffs)
    given = [out[t] for t in POSITION_RETENTION if t in out]
    if given:
        out.update(dict.fromkeys(POSITION_RETENTION, max(given)))
    return out
