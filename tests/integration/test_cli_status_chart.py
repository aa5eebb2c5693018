"""The import, status and chart commands, run as the installed ``liqscope`` script."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

T0 = 1_722_816_000_000  # 2024-08-05 00:00 UTC
US = T0 * 1000
LIQ_HEADER = (
    "time,symbol,side,order_type,time_in_force,original_quantity,price,average_price,"
    "order_status,last_fill_quantity,accumulated_fill_quantity"
)
TARDIS_HEADER = "exchange,symbol,timestamp,local_timestamp,id,side,price,amount"


def run(*args: str, home: Path) -> subprocess.CompletedProcess[str]:
    exe = Path(sys.executable).with_name("liqscope")
    env = {**os.environ, "LIQSCOPE_HOME": str(home)}
    return subprocess.run(
        [str(exe), *args], capture_output=True, text=True, env=env, timeout=120, check=False
    )


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    bulk = tmp_path / "BTCUSDT-liquidationSnapshot-2024-08-05.zip"
    rows = [
        f"{T0 + 1000},BTCUSDT,SELL,LIMIT,IOC,0.5,59000,60000,FILLED,0.5,0.5",
        f"{T0 + 3_700_000},BTCUSDT,BUY,LIMIT,IOC,0.2,61000,61000,FILLED,0.2,0.2",
    ]
    with zipfile.ZipFile(bulk, "w") as zf:
        zf.writestr(bulk.name.replace(".zip", ".csv"), "\n".join([LIQ_HEADER, *rows, *rows]))
    tardis = tmp_path / "okex-swap_liquidations_2024-08-05_BTC-USDT-SWAP.csv"
    tardis.write_text(
        f"{TARDIS_HEADER}\nokex-swap,BTC-USDT-SWAP,{US + 5},{US + 9},,buy,60000,100\n"
    )
    frames = tmp_path / "binance-forceorder-test.jsonl"
    frames.write_text(
        '{"stream":"!forceOrder@arr","data":{"e":"forceOrder","E":1,"o":{"s":"ETHUSDT",'
        '"S":"SELL","o":"LIMIT","f":"IOC","q":"2","p":"2990","ap":"3000","X":"FILLED",'
        f'"l":"2","z":"2","T":{T0 + 60_000}}}}}}}\n'
    )
    return {"bulk": bulk, "tardis": tardis, "frames": frames}


def test_import_status_chart(tmp_path: Path, files: dict[str, Path]) -> None:
    home = tmp_path / "home"
    r = run("import", str(files["bulk"]), str(files["tardis"]), str(files["frames"]), home=home)
    assert r.returncode == 0, r.stderr
    out = r.stdout.splitlines()
    assert "2 new (2 liquidations), 2 duplicates skipped" in out[0]
    assert "1 new" in out[1] and "1 new" in out[2]
    assert (home / "liqscope.sqlite").is_file()
    again = run("import", str(files["bulk"]), home=home)
    assert again.returncode == 0 and "0 new, already imported" in again.stdout

    st = run("status", "--json", home=home)
    assert st.returncode == 0, st.stderr
    status = json.loads(st.stdout)
    streams = {(s["venue"], s["symbol"], s["stream"]): s for s in status["streams"]}
    btc = streams[("binance", "BTCUSDT", "liquidations")]
    assert btc["rows"] == 2 and btc["first_ts"] == T0 + 1000 and btc["sampled"]
    assert "lower bound" in btc["label"]
    assert streams[("okx", "BTC-USDT-SWAP", "liquidations")]["rows"] == 1
    assert run("status", home=home).returncode == 0

    chart_csv = tmp_path / "c.csv"
    r = run("chart", "--venue", "binance", "--symbol", "BTCUSDT", "--interval", "1h",
            "--out", str(chart_csv), home=home)  # fmt: skip
    assert r.returncode == 0, r.stderr
    rows = list(csv.DictReader(chart_csv.open()))
    assert [r["ts"] for r in rows] == [str(T0), str(T0 + 3_600_000)]
    assert float(rows[0]["long_usd"]) == 30000.0 and float(rows[1]["short_usd"]) == 12200.0
    assert rows[0]["count_long"] == "1" and rows[0]["sampled"] == "True"

    chart_json = tmp_path / "c.json"
    r = run("chart", "--venue", "okx", "--interval", "1d", "--from", "2024-08-05",
            "--to", "2024-08-06", "--out", str(chart_json), home=home)  # fmt: skip
    assert r.returncode == 0, r.stderr
    data = json.loads(chart_json.read_text())
    assert len(data["bars"]) == 1 and data["bars"][0]["short_usd"] == pytest.approx(60000.0)

    png = tmp_path / "c.png"
    r = run("chart", "--venue", "binance", "--interval", "1m", "--out", str(png), home=home)
    assert r.returncode == 0, r.stderr
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "lower bound" in r.stdout


def test_user_errors_exit_2(tmp_path: Path, files: dict[str, Path]) -> None:
    db = tmp_path / "x.sqlite"
    bad = tmp_path / "BTCUSDT-1m-2024-08-05.csv"
    bad.write_text("1722816000000,1,2,0.5,1,oops,0,0,0,0,0,0\n")
    r = run("import", str(bad), "--db", str(db), home=tmp_path)
    assert r.returncode == 2
    assert r.stderr.strip().splitlines() == [f"error: {bad}:1: volume is not a number: 'oops'"]
    r = run("import", str(files["bulk"]), "--db", str(db), home=tmp_path)
    assert r.returncode == 0
    r = run("chart", "--venue", "bybit", "--out", str(tmp_path / "a.csv"), "--db", str(db),
            home=tmp_path)  # fmt: skip
    assert r.returncode == 2 and r.stderr.startswith("error: no liquidations stored")
    r = run("chart", "--out", str(tmp_path / "a.txt"), "--db", str(db), home=tmp_path)
    assert r.returncode == 2 and "error:" in r.stderr
    r = run("status", "--db", str(tmp_path / "missing.sqlite"), home=tmp_path)
    assert r.returncode == 2 and "no store at" in r.stderr
    assert run("import", str(tmp_path / "nope.zip"), "--db", str(db), home=tmp_path).returncode == 2
