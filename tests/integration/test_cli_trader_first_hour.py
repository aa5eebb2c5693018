"""Issue 13: ``status``/``alerts`` find a running demo's store without flags (or say how),
``liqprice``/``check`` refuse leverage above the venue's cap for the size, and the CLI's
interval and venue vocabulary is the domain's."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import typer
from test_cli_heatmap import run_cli, write_steps

import liqscope.cli as cli
from liqscope.cli.options import DEMO_POINTER, find_store, running_demo
from liqscope.domain.intervals import INTERVALS
from liqscope.domain.types import Venue
from liqscope.store import open_store

TIERS = Path(__file__).resolve().parents[1] / "fixtures" / "tiers"


def dead_pid() -> int:
    """The id of a process that has exited."""
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def make_store(path: Path) -> Path:
    open_store(path).close()
    return path


def point_at(home: Path, db: Path, pid: int) -> None:
    (home / DEMO_POINTER).write_text(json.dumps({"db": str(db), "pid": pid, "url": "x"}))


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    h = tmp_path / "home"
    h.mkdir()
    monkeypatch.setenv("LIQSCOPE_HOME", str(h))
    return h


# -- the running demo's store ---------------------------------------------------------------
def test_status_and_alerts_use_the_running_demos_store_with_a_note(
    home: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    db = make_store(home / "elsewhere.sqlite")
    point_at(home, db, os.getpid())  # this process: alive
    code, out, err = run_cli(monkeypatch, capsys, "status", "--json")
    assert code == 0, err
    assert json.loads(out)["db"] == str(db)
    assert f"using the running demo's store {db}" in err
    code, out, err = run_cli(monkeypatch, capsys, "alerts")
    assert code == 0, err
    assert out.strip() == "no alerts" and str(db) in err
    # --db still wins, silently
    other = make_store(home / "other.sqlite")
    code, out, err = run_cli(monkeypatch, capsys, "status", "--json", "--db", str(other))
    assert code == 0 and json.loads(out)["db"] == str(other) and err == ""


def test_a_stale_pointer_is_ignored(home: Path) -> None:
    db = make_store(home / "demo.sqlite")
    point_at(home, db, dead_pid())
    assert running_demo() is None
    point_at(home, home / "gone.sqlite", os.getpid())  # alive, but its store is gone
    assert running_demo() is None
    (home / DEMO_POINTER).write_text("{not json")
    assert running_demo() is None


def test_without_a_store_the_error_names_the_flag_and_the_demo_store(
    home: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    make_store(home / "demo.sqlite")  # a demo ran once and stopped
    for cmd in ("status", "alerts"):
        code, out, err = run_cli(monkeypatch, capsys, cmd)
        assert code == 2, (cmd, out)
        lines = err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: no store at"), err
        assert "--db" in lines[0] and str(home / "demo.sqlite") in lines[0]
    assert find_store(home / "x.sqlite", note=None) == home / "x.sqlite"


# -- leverage above the venue's cap ---------------------------------------------------------
def liqprice(*extra: str) -> list[str]:
    return ["liqprice", "--venue", "binance", "--symbol", "BTCUSDT", "--entry", "100000", *extra]


@pytest.mark.parametrize(
    ("leverage", "qty", "cap"),
    [("200", "1", "150x"), ("125", "5", "100x")],  # $100k: tier 1 (150x); $500k: tier 2 (100x)
)
def test_liqprice_refuses_leverage_above_the_cap_for_the_size(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    leverage: str,
    qty: str,
    cap: str,
) -> None:
    code, out, err = run_cli(
        monkeypatch, capsys, *liqprice("--side", "long", "--leverage", leverage, "--qty", qty)
    )
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1
    assert f"cap of {cap}" in err and f"{leverage}x" in err


def test_liqprice_within_the_cap_prints_a_price_on_the_right_side(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for side, sign in (("long", -1), ("short", 1)):
        code, out, err = run_cli(
            monkeypatch, capsys,
            *liqprice("--side", side, "--leverage", "100", "--qty", "2", "--json"),
        )  # fmt: skip
        assert code == 0, err
        body = json.loads(out)
        assert (body["liquidation_price"] - 100_000) * sign > 0, body


def test_liqprice_never_prints_a_long_price_above_entry(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # a (user's) table whose MMR exceeds 1/max leverage: 100x allowed, MMR 2 %
    table = [
        {
            "symbol": "BTCUSDT",
            "brackets": [
                {"bracket": 1, "initialLeverage": 100, "notionalCap": 10_000_000,
                 "notionalFloor": 0, "maintMarginRatio": 0.02, "cum": 0.0},
            ],
        }
    ]  # fmt: skip
    path = tmp_path / "tiers.json"
    path.write_text(json.dumps(table))
    for side, word in (("long", "above"), ("short", "below")):
        code, out, err = run_cli(
            monkeypatch, capsys,
            *liqprice("--side", side, "--leverage", "100", "--qty", "1", "--tiers-file", str(path)),
        )  # fmt: skip
        assert code == 2 and out == "", out
        assert f"at or {word} entry" in err and len(err.strip().splitlines()) == 1


def test_check_refuses_leverage_above_the_cap(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    steps = write_steps(tmp_path / "steps.csv")
    base = ["check", "--symbol", "BTCUSDT", "--side", "long", "--entry", "30000"]
    # the default size ($10k) allows 150x on Binance BTCUSDT
    code, out, err = run_cli(monkeypatch, capsys, *base, "--leverage", "200", "--input", str(steps))
    assert code == 2 and "cap of 150x" in err and len(err.strip().splitlines()) == 1
    code, out, err = run_cli(
        monkeypatch, capsys, *base, "--leverage", "150", "--input", str(steps), "--json"
    )
    assert code == 0, err
    assert json.loads(out)["liq_price"] < 30_000
    # with --qty the refusal comes before any data is read
    code, out, err = run_cli(
        monkeypatch, capsys, *base, "--leverage", "120", "--qty", "20",
        "--db", str(tmp_path / "missing.sqlite"),
    )  # fmt: skip
    assert code == 2 and "cap of 100x" in err, err


# -- one vocabulary -------------------------------------------------------------------------
def options(name: str) -> list[tuple[str, Any]]:
    """(command, option) for every command option called ``name``."""
    group = typer.main.get_group(cli.commands())
    return [
        (cmd_name, p)
        for cmd_name, cmd in group.commands.items()
        for p in cmd.params
        if name in getattr(p, "opts", ())
    ]


def test_every_interval_option_speaks_the_domain_table() -> None:
    found = options("--interval")
    assert found, "no --interval option found"
    for cmd_name, opt in found:
        words = (opt.help or "").replace(",", " ").replace(".", " ").split()
        named = [w for w in words if w[:-1].isdigit() and w[-1] in "mhdw"]
        assert named, (cmd_name, opt.help)
        assert set(named) <= set(INTERVALS), (cmd_name, named)
    chart = dict(found)["chart"]
    assert all(n in (chart.help or "") for n in INTERVALS), chart.help


@pytest.mark.parametrize("command", ["liqprice", "check"])
def test_venue_choices_name_every_venue(command: str) -> None:
    opt = dict(options("--venue"))[command]
    assert all(v.value in (opt.help or "") for v in Venue), opt.help
