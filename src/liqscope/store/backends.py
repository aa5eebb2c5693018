"""The one place a store is chosen: ``open_store(url_or_path)``.

``postgresql://…`` (or ``postgres://…``) opens the server store; anything else is the path
of an embedded SQLite file.
"""

from __future__ import annotations

from pathlib import Path

from liqscope.domain.clock import SYSTEM_CLOCK, Clock
from liqscope.domain.errors import InputError
from liqscope.store.base import Store
from liqscope.store.sqlite import SqliteStore

__all__ = ["is_server_url", "open_store"]

_SERVER_SCHEMES = ("postgresql://", "postgres://")


def is_server_url(url_or_path: str | Path) -> bool:
    """True when ``url_or_path`` names a database server rather than a file."""
    return isinstance(url_or_path, str) and url_or_path.lower().startswith(_SERVER_SCHEMES)


def open_store(
    url_or_path: str | Path, *, readonly: bool = False, clock: Clock = SYSTEM_CLOCK
) -> Store:
    """Open (and for writing, create or migrate) the store at ``url_or_path``."""
    if is_server_url(url_or_path):
        try:
            from liqscope.store.postgres import PostgresStore
        except ImportError as exc:
            raise InputError(
                f"--db {url_or_path!r} needs psycopg 3 (pip install 'psycopg[binary]'): {exc}"
            ) from None
        return PostgresStore(str(url_or_path), readonly=readonly, clock=clock)
    if isinstance(url_or_path, str) and "://" in url_or_path:
        raise InputError(f"--db {url_or_path!r}: expected a file path or a postgresql:// URL")
    return SqliteStore(url_or_path, readonly=readonly, clock=clock)
