"""Store backends for the store tests: ``any_store`` runs a test on SQLite and on a live
PostgreSQL server (started once per session; skipped, with the reason, where the server
binaries or psycopg are absent)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from liqscope.store import open_store
from liqscope.store.base import Store
from pg_server import reset_pg, server_or_skip  # tests/ is on sys.path (rootdir conftest)

BACKENDS = ["sqlite", "postgresql"]


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """The URL of a throw-away PostgreSQL server for this test session."""
    with server_or_skip() as url:
        yield url


@pytest.fixture
def fresh_pg(pg_url: str) -> str:
    """The URL of the session's server, emptied for this test."""
    reset_pg(pg_url)
    return pg_url


@pytest.fixture(params=BACKENDS)
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """Where an empty store of each backend is: a file path, or a fresh PostgreSQL database."""
    if request.param == "sqlite":
        yield str(tmp_path / "s.sqlite")
        return
    yield request.getfixturevalue("fresh_pg")


@pytest.fixture
def any_store(store_url: str) -> Iterator[Store]:
    """A fresh, empty store of each backend."""
    st = open_store(store_url)
    try:
        yield st
    finally:
        st.close()


@pytest.fixture
def reopen(store_url: str) -> Iterator[Callable[..., Any]]:
    """Open more handles on the same store (closed at the end of the test)."""
    opened: list[Store] = []

    def _open(**kwargs: Any) -> Any:
        st = open_store(store_url, **kwargs)
        opened.append(st)
        return st

    yield _open
    for st in opened:
        st.close()
