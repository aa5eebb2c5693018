"""The store owns its file: nothing outside ``liqscope/store/`` touches a database connection."""

from __future__ import annotations

import ast
from pathlib import Path

import liqscope

PACKAGE = Path(liqscope.__file__).resolve().parent
DRIVERS = {"sqlite3", "psycopg", "psycopg2", "psycopg_pool", "duckdb"}
"""Database drivers only the store may import ..."""
LAKE_DRIVERS = {"duckdb"}
"""... except DuckDB in ``liqscope/lake/``: the history lake queries its own Parquet files
with it (in memory), never the store's database."""
CONNECTION_CALLS = {"execute", "executemany", "executescript", "cursor", "commit", "rollback"}


def _violations(path: Path, root: Path = PACKAGE.parent, lake: bool = False) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    forbidden = DRIVERS - LAKE_DRIVERS if lake else DRIVERS
    out: list[str] = []
    for node in ast.walk(tree):
        where = f"{path.relative_to(root)}:{getattr(node, 'lineno', 0)}"
        if isinstance(node, ast.Import):
            out += [
                f"{where}: import {a.name}" for a in node.names if a.name.split(".")[0] in forbidden
            ]
        elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] in forbidden:
            out.append(f"{where}: from {node.module} import …")
        elif isinstance(node, ast.Attribute) and node.attr == "_conn":
            out.append(f"{where}: ._conn")
        elif (
            not lake
            and isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in CONNECTION_CALLS
        ):
            out.append(f"{where}: .{node.func.attr}(…)")
    return out


def test_nothing_outside_the_store_touches_a_connection() -> None:
    files = [p for p in PACKAGE.rglob("*.py") if p.relative_to(PACKAGE).parts[0] != "store"]
    assert len(files) > 50  # the scan sees the package
    found = [
        v for p in files for v in _violations(p, lake=p.relative_to(PACKAGE).parts[0] == "lake")
    ]
    assert found == [], "database access outside liqscope/store/:\n" + "\n".join(found)


def test_the_scan_catches_each_kind_of_access(tmp_path: Path) -> None:
    src = tmp_path / "probe.py"
    src.write_text(
        "import sqlite3\nfrom psycopg import sql\n"
        "def f(st):\n    st._conn.execute('SELECT 1')\n    c = st.cursor()\n",
        encoding="utf-8",
    )
    kinds = {v.split(": ", 1)[1] for v in _violations(src, tmp_path)}
    lake = {v.split(": ", 1)[1] for v in _violations(src, tmp_path, lake=True)}
    assert lake == {"import sqlite3", "from psycopg import …", "._conn"}
    assert kinds == {
        "import sqlite3",
        "from psycopg import …",
        "._conn",
        ".execute(…)",
        ".cursor(…)",
    }
