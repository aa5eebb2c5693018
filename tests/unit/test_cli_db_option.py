"""``--db`` keeps a server URL intact on its way to ``store.open_store`` (a ``Path`` would
collapse ``postgresql://`` to ``postgresql:/``), and shows it without its password."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from liqscope.cli import commands
from liqscope.cli.options import db_path, find_store, shown

URL = "postgresql://liq:s3cret@db.example:5432/liqscope"


def test_a_url_stays_a_string_and_a_path_a_path(tmp_path: Path) -> None:
    assert db_path(URL) == URL and find_store(URL, note=None) == URL
    assert db_path("mysql://h/x") == "mysql://h/x"  # open_store names what it accepts
    assert db_path(str(tmp_path / "s.sqlite")) == tmp_path / "s.sqlite"
    assert db_path("~/s.sqlite") == Path.home() / "s.sqlite"


def test_messages_hide_the_password(tmp_path: Path) -> None:
    assert shown(URL) == "postgresql://liq:***@db.example:5432/liqscope"
    assert shown(tmp_path / "s.sqlite") == str(tmp_path / "s.sqlite")


@pytest.mark.parametrize("command", [["status"], ["alerts"], ["chart", "--out", "OUT"]])
def test_other_schemes_are_one_line_errors(command: list[str], tmp_path: Path) -> None:
    args = [str(tmp_path / "x.csv") if a == "OUT" else a for a in command]
    result = CliRunner().invoke(commands(), [*args, "--db", "mysql://h/x"])
    assert result.exit_code != 0
    assert "expected a file path or a postgresql:// URL" in str(result.exception or result.output)
