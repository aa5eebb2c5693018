"""A throw-away PostgreSQL server for tests: initdb + pg_ctl in a temporary folder, on a
free loopback port, as the ``postgres`` system user when the tests run as root."""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

BIN_DIRS = [
    Path("/usr/local/bin"),
    *sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True),
]


def find_bin() -> Path | None:
    """The folder holding initdb, pg_ctl and postgres, or None."""
    for d in BIN_DIRS:
        if all((d / n).exists() for n in ("initdb", "pg_ctl", "postgres")):
            return d
    found = shutil.which("pg_ctl")
    return Path(found).parent if found else None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _as_server_user(cmd: list[str]) -> list[str]:
    """The server refuses to run as root: as root, run it as the ``postgres`` system user
    (created when missing)."""
    if os.geteuid() != 0:
        return cmd
    try:
        pwd.getpwnam("postgres")
    except KeyError:
        subprocess.run(["useradd", "--system", "--no-create-home", "postgres"], check=True)
    return ["runuser", "-u", "postgres", "--", *cmd]


@contextmanager
def postgres_server() -> Iterator[str]:
    """Run a server for the duration; yields a URL of its ``postgres`` database."""
    bin_dir = find_bin()
    if bin_dir is None:
        raise FileNotFoundError("PostgreSQL server binaries (initdb, pg_ctl) not found")
    root = Path(tempfile.mkdtemp(prefix="liqscope-pg-"))
    data = root / "data"
    if os.geteuid() == 0:
        _as_server_user([])  # makes sure the user exists
        shutil.chown(root, "postgres")
    env = {**os.environ, "LC_ALL": "C", "LANG": "C"}
    try:
        subprocess.run(
            _as_server_user(
                [str(bin_dir / "initdb"), "-D", str(data), "-U", "liqscope", "-A", "trust",
                 "-E", "UTF8", "--no-sync", "--no-instructions"]
            ),
            check=True, capture_output=True, env=env, timeout=120,
        )  # fmt: skip
        for attempt in range(3):  # a free port can be taken before the server binds it
            port = _free_port()
            opts = (
                f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off "
                "-c synchronous_commit=off -c full_page_writes=off -c max_connections=40"
            )
            started = subprocess.run(
                _as_server_user(
                    [str(bin_dir / "pg_ctl"), "-D", str(data), "-o", opts, "-l",
                     str(root / "server.log"), "-w", "-t", "60", "start"]
                ),
                capture_output=True, env=env, timeout=120,
            )  # fmt: skip
            if started.returncode == 0:
                break
            if attempt == 2:
                log = (root / "server.log").read_text(errors="replace")[-2000:]
                raise RuntimeError(f"PostgreSQL did not start: {started.stderr!r}\n{log}")
        try:
            yield f"postgresql://liqscope@127.0.0.1:{port}/postgres"
        finally:
            subprocess.run(
                _as_server_user([str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate",
                                 "-w", "stop"]),
                capture_output=True, env=env, timeout=60,
            )  # fmt: skip
    finally:
        shutil.rmtree(root, ignore_errors=True)


@contextmanager
def server_or_skip() -> Iterator[str]:
    """:func:`postgres_server`, or ``pytest.skip`` with the reason where psycopg 3 or the
    server binaries are absent (for fixtures)."""
    import pytest

    try:
        import psycopg  # noqa: F401
    except ImportError:
        pytest.skip("psycopg 3 is not installed (pip install 'psycopg[binary]')")
    if find_bin() is None:
        pytest.skip(
            "PostgreSQL server binaries (initdb, pg_ctl) not found: apt-get install postgresql"
        )
    with postgres_server() as url:
        yield url


def reset_pg(url: str) -> None:
    """Drop everything a test left in the database."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("DROP SCHEMA public CASCADE")
        conn.execute("CREATE SCHEMA public")
