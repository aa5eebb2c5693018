"""End to end: ``liqscope heatmap`` on a small STEPS file, every output format."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

import liqscope.cli as cli
from liqscope.model.config import MODEL_VERSION


def write_steps(path: Path, n: int = 400, *, venue: bool = True) -> Path:
    rng = np.random.default_rng(7)
    c = 30_000 * np.exp(np.cumsum(rng.normal(0, 0.003, n)))
    o = np.r_[30_000.0, c[:-1]]
    h = np.maximum(o, c) * (1 + np.abs(rng.normal(0, 0.001, n)))
    lo = np.minimum(o, c) * (1 - np.abs(rng.normal(0, 0.001, n)))
    oi = np.abs(5_000 + np.cumsum(rng.normal(0, 30, n)))
    v = rng.uniform(10, 50, n)
    ts = 1_700_000_000_000 + 60_000 * np.arange(n)
    lines = [
        "ts,open,high,low,close,volume,taker_buy_volume,open_interest"
        + (",venue,symbol" if venue else "")
    ]
    for i in range(n):
        row = f"{ts[i]},{o[i]},{h[i]},{lo[i]},{c[i]},{v[i]},{v[i] * 0.5},{oi[i]}"
        lines.append(row + (",binance,BTCUSDT" if venue else ""))
    path.write_text("\n".join(lines) + "\n")
    return path


def run_cli(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], *args: str
) -> tuple[int, str, str]:
    assert {"heatmap", "map", "check", "chart", "alerts", "demo"} <= set(cli.command_names())
    monkeypatch.setattr(sys, "argv", ["liqscope", *args])
    code = 0
    try:
        cli.main()
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def test_png(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    steps = write_steps(tmp_path / "steps.csv")
    out = tmp_path / "heat.png"
    code, stdout, err = run_cli(
        monkeypatch, capsys, "heatmap", "--input", str(steps), "--out", str(out)
    )
    assert code == 0, err
    data = out.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert 20_000 < len(data) < 5_000_000
    assert "wrote" in stdout


@pytest.mark.parametrize("suffix", [".csv", ".parquet", ".json"])
def test_grid_exports_sum_to_the_grid(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], suffix: str
) -> None:
    from liqscope.export.steps_file import read_steps
    from liqscope.model import estimate, preset

    steps_path = write_steps(tmp_path / "steps.csv")
    out = tmp_path / f"grid{suffix}"
    args = [
        "heatmap",
        "-i",
        str(steps_path),
        "-o",
        str(out),
        "--tiers",
        "25,50,100",
        "--side",
        "long",
        "--columns",
        "64",
    ]
    code, _, err = run_cli(monkeypatch, capsys, *args)
    assert code == 0, err
    from dataclasses import replace

    expected = estimate(read_steps(steps_path), replace(preset("all"), max_columns=64))
    _, _, mat = expected.heatmap(tiers=[25, 50, 100], sides="long")
    if suffix == ".csv":
        rows = out.read_text().splitlines()
        assert rows[0] == "ts,price,usd"
        total = sum(float(r.split(",")[2]) for r in rows[1:])
        ts0 = {int(r.split(",")[0]) for r in rows[1:]}
        assert ts0 <= set(expected.columns_ts.tolist())
    elif suffix == ".parquet":
        import pyarrow.parquet as pq

        tab = pq.read_table(out)
        assert tab.column_names == ["ts", "price", "usd"]
        total = float(np.sum(tab.column("usd").to_numpy()))
        meta = json.loads(tab.schema.metadata[b"liqscope"])
        assert meta["units"] == "USD" and meta["model_version"] == MODEL_VERSION
    else:
        doc = json.loads(out.read_text())
        assert doc["units"] == "USD" and doc["model_version"] == MODEL_VERSION
        assert doc["leverages"] == [25.0, 50.0, 100.0]
        assert len(doc["bucket_edges"]) == len(doc["values"][0]) + 1
        assert len(doc["columns_ts"]) == len(doc["values"]) <= 64
        assert doc["config"]["name"] == "all"
        total = float(np.sum(doc["values"]))
    assert total == pytest.approx(float(mat.sum()), rel=1e-6)
    assert total > 0


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        ("ts,open,high,low,close,volume\n1,1,1,1,1,1\n", "missing column"),
        (
            "ts,open,high,low,close,volume,open_interest\n2,1,1,1,1,1,1\n1,1,1,1,1,1,1\n",
            "not sorted",
        ),
        (
            "ts,open,high,low,close,volume,open_interest\n1,1,1,1,1,1,1\n1,1,1,1,1,1,1\n",
            "duplicate",
        ),
        ("ts,open,high,low,close,volume,open_interest\n1,1,1,1,1,1,-1\n", "negative open interest"),
        ("ts,open,high,low,close,volume,open_interest\n1,1,1,1,NaN,1,1\n", "non-finite"),
    ],
)
def test_bad_input_exits_2_with_one_line(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    content: str,
    fragment: str,
) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text(content)
    code, _, err = run_cli(
        monkeypatch,
        capsys,
        "heatmap",
        "--input",
        str(bad),
        "--out",
        str(tmp_path / "x.png"),
        "--venue",
        "binance",
        "--symbol",
        "BTCUSDT",
    )
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and fragment in lines[0]
    assert not (tmp_path / "x.png").exists()


def test_bad_options_exit_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    steps = write_steps(tmp_path / "s.csv", 50, venue=False)
    base = ["heatmap", "-i", str(steps)]
    for extra, fragment in [
        (["-o", str(tmp_path / "x.png")], "--venue"),
        (
            ["-o", str(tmp_path / "x.xls"), "--venue", "binance", "--symbol", "BTCUSDT"],
            "unsupported",
        ),
        (
            [
                "-o",
                str(tmp_path / "x.png"),
                "--venue",
                "binance",
                "--symbol",
                "BTCUSDT",
                "--tiers",
                "3",
            ],
            "tier 3",
        ),
        (["-o", str(tmp_path / "x.png"), "--venue", "binance", "--symbol", "NOPE"], "NOPE"),
        (
            [
                "-o",
                str(tmp_path / "x.png"),
                "--venue",
                "binance",
                "--symbol",
                "BTCUSDT",
                "--preset",
                "zz",
            ],
            "preset",
        ),
    ]:
        code, _, err = run_cli(monkeypatch, capsys, *base, *extra)
        assert code == 2, (extra, err)
        assert err.count("\n") == 1 and fragment in err, err


def fill_store(path: Path, n: int = 300) -> float:
    """Store n 1-minute candles and OI rows for binance BTCUSDT; returns the OI in USD."""
    from liqscope.domain.events import Candle, OpenInterest
    from liqscope.store.sqlite import SqliteStore

    rng = np.random.default_rng(3)
    c = 60_000 * np.exp(np.cumsum(rng.normal(0, 0.002, n)))
    o = np.r_[60_000.0, c[:-1]]
    ts = 1_700_000_000_000 + 60_000 * np.arange(n)
    oi = 2_000 + np.cumsum(np.abs(rng.normal(0, 5, n)))
    store = SqliteStore(path)
    store.write_candles(
        [
            Candle(
                "binance",
                "BTCUSDT",
                int(ts[i]),
                60_000,
                o[i],
                max(o[i], c[i]) * 1.001,
                min(o[i], c[i]) * 0.999,
                c[i],
                20.0,
                10.0,
                True,
            )
            for i in range(n)
        ]
    )
    store.write_open_interest(
        [OpenInterest("binance", "BTCUSDT", int(ts[i]) + 59_999, oi[i], None) for i in range(n)]
    )
    store.close()
    return float(oi[-1] * c[-1])


def test_heatmap_reads_the_store_without_input(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "s.sqlite"
    oi_usd = fill_store(db)
    out = tmp_path / "hm.json"
    code, _, err = run_cli(
        monkeypatch,
        capsys,
        "heatmap",
        "--venue",
        "binance",
        "--symbol",
        "BTCUSDT",
        "--db",
        str(db),
        "--out",
        str(out),
    )
    assert code == 0, err
    body = json.loads(out.read_text())
    last = np.asarray(body["values"][-1], dtype=float)
    # Both sides are seeded from OI: the last column holds about 2 x OI (less what was consumed).
    assert 0.5 * oi_usd < last.sum() <= 2.05 * oi_usd


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--venue", "binance"], "--symbol"),
        (["--venue", "binance", "--symbol", "ETHUSDT"], "no candles for ETHUSDT on binance"),
        (["--symbol", "ETHUSDT"], "no candles stored for ETHUSDT"),
        (["--venue", "okx", "--symbol", "BTCUSDT"], "stored on: binance"),
    ],
)
def test_heatmap_from_store_errors(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    args: list[str],
    message: str,
) -> None:
    db = tmp_path / "s.sqlite"
    fill_store(db, 10)
    code, _, err = run_cli(
        monkeypatch, capsys, "heatmap", *args, "--db", str(db), "--out", str(tmp_path / "x.csv")
    )
    assert code == 2
    assert message in err
