"""``liqscope predict`` and ``liqscope calibrate`` end to end on small files."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

import liqscope.cli as cli
from liqscope.export.steps_file import read_steps
from liqscope.model import estimate, preset
from liqscope.model.predict import predicted_liquidations
from liqscope.signals.calibrate import AT_RISK_SHARES
from liqscope.store.queries import bucket_floor

DAY = 86_400_000
T0 = 1_765_065_600_000  # 2025-12-07 00:00 UTC


def write_steps(path: Path, days: int = 12, seed: int = 3) -> Path:
    rng = np.random.default_rng(seed)
    n = 24 * days
    c = 90_000 * np.exp(np.cumsum(rng.normal(0, 0.006, n)))
    o = np.r_[90_000.0, c[:-1]]
    h = np.maximum(o, c) * (1 + np.abs(rng.normal(0, 0.003, n)))
    lo = np.minimum(o, c) * (1 - np.abs(rng.normal(0, 0.003, n)))
    oi_usd = 2e9 * np.exp(np.cumsum(rng.normal(0, 0.01, n)))
    lines = ["ts,open,high,low,close,volume,open_interest_usd"]
    for i in range(n):
        lines.append(
            f"{T0 + 3_600_000 * i},{o[i]},{h[i]},{lo[i]},{c[i]},{rng.uniform(1e3, 5e3)},{oi_usd[i]}"
        )
    path.write_text("\n".join(lines) + "\n")
    return path


def run_cli(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], *args: str
) -> tuple[int, str, str]:
    assert {"predict", "calibrate"} <= set(cli.command_names())
    monkeypatch.setattr(sys, "argv", ["liqscope", *args])
    code = 0
    try:
        cli.main()
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("suffix", [".csv", ".json", ".parquet"])
def test_predict_writes_one_row_per_interval(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], suffix: str
) -> None:
    steps = write_steps(tmp_path / "s.csv")
    out = tmp_path / f"p{suffix}"
    args = ("predict", "--input", str(steps), "--venue", "hyperliquid", "--symbol", "BTC",
            "--interval", "1d", "--out", str(out))  # fmt: skip
    code, stdout, err = run_cli(monkeypatch, capsys, *args)
    assert code == 0, err
    assert "12 rows of 1d" in stdout
    if suffix == ".csv":
        rows = [line.split(",") for line in out.read_text().splitlines()]
        assert rows[0] == ["ts", "long_usd", "short_usd"]
        ts = [int(r[0]) for r in rows[1:]]
        long = [float(r[1]) for r in rows[1:]]
    elif suffix == ".json":
        doc = json.loads(out.read_text())
        assert doc["interval_ms"] == DAY and doc["preset"] == "all" and doc["model_version"] == "2"
        ts = [r["ts"] for r in doc["rows"]]
        long = [r["long_usd"] for r in doc["rows"]]
    else:
        tab = pq.read_table(out)
        assert tab.column_names == ["ts", "long_usd", "short_usd"]
        ts, long = tab.column("ts").to_pylist(), tab.column("long_usd").to_pylist()
    assert ts == [T0 + DAY * k for k in range(12)]
    # the file holds exactly what the core function computes
    s = read_steps(steps, venue="hyperliquid", symbol="BTC")
    want = predicted_liquidations(estimate(s, preset("all")), DAY)
    np.testing.assert_allclose(long, want.long_usd, rtol=1e-12)


def test_predict_weeks_start_on_monday_like_the_bars(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    steps = write_steps(tmp_path / "s.csv", days=12)  # from Sunday 2025-12-07
    out = tmp_path / "w.csv"
    code, _, err = run_cli(monkeypatch, capsys, "predict", "--input", str(steps),
                           "--venue", "hyperliquid", "--symbol", "BTC", "--interval", "1w",
                           "--out", str(out))  # fmt: skip
    assert code == 0, err
    ts = [int(line.split(",")[0]) for line in out.read_text().splitlines()[1:]]
    mondays = [T0 - 6 * DAY, T0 + DAY, T0 + 8 * DAY]  # Dec 1, Dec 8, Dec 15
    assert ts == mondays
    assert [bucket_floor(t, 7 * DAY) for t in ts] == ts  # the bars' week buckets


def test_predict_refuses_bad_interval_and_format(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    steps = write_steps(tmp_path / "s.csv", days=2)
    cases = [
        (("--interval", "15m", "--out", "x.csv"), "--interval 15m is not a multiple"),
        (("--interval", "7m", "--out", "x.csv"), "unknown interval '7m'"),
        (("--out", str(tmp_path / "x.txt")), "unsupported output format"),
    ]
    for extra, msg in cases:
        code, _, err = run_cli(monkeypatch, capsys, "predict", "--input", str(steps), "--venue",
                               "hyperliquid", "--symbol", "BTC", *extra)  # fmt: skip
        assert code == 2 and err.startswith("error:") and msg in err, err
        assert "Traceback" not in err


def test_calibrate_from_a_steps_file_and_a_daily_csv(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    steps = write_steps(tmp_path / "s.csv", days=14)
    rng = np.random.default_rng(1)
    daily = tmp_path / "daily.csv"
    rows = ["date,coin,total_usd,long_usd,short_usd,liq_count"]
    for d in range(14):
        a, b = rng.uniform(1e6, 5e7, 2)
        rows.append(f"2025-12-{7 + d:02d},BTC,{a + b},{a},{b},10")
    daily.write_text("\n".join(rows) + "\n")
    code, out, err = run_cli(monkeypatch, capsys, "calibrate", "--input", str(steps), "--venue",
                             "hyperliquid", "--symbol", "BTC", "--daily", str(daily),
                             "--split", "2025-12-14", "--json")  # fmt: skip
    assert code == 0, err
    body = json.loads(out)
    assert set(body["train"]) == set(body["test"]) == {
        "long", "short", "total", "dominant_side_hit", "usd_ratio"
    }  # fmt: skip
    # stage 1 grid, then the side split, then the magnitude (share outside the 2x tier)
    assert len(body["grid"]) == 5 * 5 * 2 + 5 + len(AT_RISK_SHARES)
    assert body["at_risk_share"] in AT_RISK_SHARES and body["oi_share"] == 0.07
    assert body["leverages"][0] == 2.0 or body["at_risk_share"] == 1.0
    assert body["turnover_per_day"] in (0.25, 0.5, 1.0, 2.0, 4.0)
    assert body["unknown_long_share"] in (0.3, 0.4, 0.5, 0.6, 0.7)
    code, _, err = run_cli(monkeypatch, capsys, "calibrate", "--input", str(steps), "--venue",
                           "hyperliquid", "--symbol", "BTC", "--daily", str(daily),
                           "--split", "2026-01-30")  # fmt: skip
    assert code == 2 and "no days on one side" in err
    code, _, err = run_cli(monkeypatch, capsys, "calibrate", "--input", str(steps), "--venue",
                           "hyperliquid", "--symbol", "BTC", "--daily", str(daily),
                           "--split", "2025-12-14", "--oi-share", "0")  # fmt: skip
    assert code == 2 and "share of market OI" in err and "Traceback" not in err


@pytest.fixture(scope="module")
def stored(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from liqscope.sim.synthetic import fill_store
    from liqscope.store.sqlite import SqliteStore

    db = tmp_path_factory.mktemp("store") / "s.sqlite"
    with SqliteStore(db) as st:
        fill_store(st, 1_760_000_000_000 // 3_600_000 * 3_600_000, 3 * 1440,
                   (("binance", "BTCUSDT"),), 600)  # fmt: skip
    return db


def test_score_and_predict_from_the_store(
    stored: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    code, out, err = run_cli(monkeypatch, capsys, "score", "--db", str(stored), "--venue",
                             "binance", "--symbol", "BTCUSDT", "--days", "3", "--presets",
                             "all", "--json")  # fmt: skip
    assert code == 0, err  # v1 crashed here with an ImportError
    body = json.loads(out)
    card = body["models"]["all"]
    assert 0 <= card["level_percentile"]["value"] <= 1 and card["windows"] > 10
    out_csv = tmp_path / "p.csv"
    code, out, err = run_cli(monkeypatch, capsys, "predict", "--db", str(stored), "--venue",
                             "binance", "--symbol", "BTCUSDT", "--interval", "1h", "--out",
                             str(out_csv))  # fmt: skip
    assert code == 0, err
    rows = out_csv.read_text().splitlines()
    assert rows[0] == "ts,long_usd,short_usd" and len(rows) - 1 >= 70
    assert all(int(r.split(",")[0]) % 3_600_000 == 0 for r in rows[1:])
