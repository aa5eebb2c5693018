"""End to end: ``liqscope check``, ``score`` and ``alerts`` through the installed CLI."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from test_cli_heatmap import write_steps

CLI = [str(Path(sys.executable).parent / "liqscope")]


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=300)


def test_check_reports_the_exact_liquidation_price(tmp_path: Path) -> None:
    steps = write_steps(tmp_path / "steps.csv")
    done = run(
        "check",
        "--symbol",
        "BTCUSDT",
        "--side",
        "long",
        "--entry",
        "30000",
        "--leverage",
        "10",
        "--qty",
        "1",
        "--input",
        str(steps),
        "--json",
    )
    assert done.returncode == 0, done.stderr
    body = json.loads(done.stdout)
    # Binance BTCUSDT tier 1 (exchange-reference §6): (Q·EP − Q·EP/L)/(Q·(1 − 0.004)).
    assert body["liq_price"] == pytest.approx(30_000 * 0.9 / 0.996, rel=1e-9)
    assert body["verdict"]


def test_check_rejects_bad_leverage(tmp_path: Path) -> None:
    steps = write_steps(tmp_path / "steps.csv")
    done = run(
        "check",
        "--symbol",
        "BTCUSDT",
        "--side",
        "long",
        "--entry",
        "30000",
        "--leverage",
        "0",
        "--input",
        str(steps),
    )
    assert done.returncode == 2
    assert done.stderr.strip().startswith("error:")


def test_score_on_the_simulator_beats_its_baseline() -> None:
    done = run("score", "--scenario", "cascade", "--hours", "6", "--json")
    assert done.returncode == 0, done.stderr
    body = json.loads(done.stdout)
    assert body["source"] == {"scenario": "cascade", "seed": 1, "hours": 6.0}
    models = body["models"]
    assert set(models) == {"all", "high"}  # the default --presets
    for name, m in models.items():
        hot, base = m["hot_share"], m["baseline_share"]
        for share in (hot, base):
            assert 0.0 <= share["ci_low"] <= share["value"] <= share["ci_high"] <= 1.0, name
        assert hot["value"] > base["value"], (name, hot, base)  # it beats its baseline
        assert m["hot_cell_fraction"] == pytest.approx(0.2, abs=0.05)  # --q 0.2
        assert m["realized_usd"] > 0 and m["windows_with_liquidations"] >= 1
    # the high view is scored against the high-leverage truth (within the reached zones near
    # price both views rank the same levels, so their shares may coincide)
    assert models["high"]["emd_pct"] != models["all"]["emd_pct"]


def test_score_unknown_scenario_is_exit_2() -> None:
    done = run("score", "--scenario", "nope")
    assert done.returncode == 2


def test_alerts_on_a_missing_store_is_exit_2(tmp_path: Path) -> None:
    done = run("alerts", "--db", str(tmp_path / "absent.sqlite"))
    assert done.returncode == 2
