"""``liqscope chart`` over several venues, ``liqscope map`` in every format, the help texts."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from test_cli_heatmap import run_cli
from test_cli_views_agree import store  # noqa: F401  (the shared two-venue store fixture)

from liqscope.domain.events import Liquidation
from liqscope.domain.types import PriceKind, Side
from liqscope.store.sqlite import SqliteStore

T0 = 1_722_816_000_000  # 2024-08-05 00:00 UTC
HOUR = 3_600_000


def liq(venue: str, symbol: str, ts: int, side: Side, usd: float, sampled: bool) -> Liquidation:
    return Liquidation(venue, symbol, ts, side, usd / 60_000, 60_000.0, PriceKind.LIQUIDATION,
                       usd, sampled)  # fmt: skip


@pytest.fixture
def liq_db(tmp_path: Path) -> Path:
    db = tmp_path / "liqs.sqlite"
    with SqliteStore(db) as st:
        st.write_liquidations([
            liq("binance", "BTCUSDT", T0 + 1_000, Side.LONG, 30_000.0, True),
            liq("binance", "BTCUSDT", T0 + HOUR + 5, Side.SHORT, 12_000.0, True),
            liq("okx", "BTC-USDT-SWAP", T0 + 2_000, Side.LONG, 5_000.0, True),
            liq("bybit", "BTCUSDT", T0 + HOUR + 9, Side.SHORT, 700.0, False),
            liq("bybit", "ETHUSDT", T0 + 10, Side.LONG, 999.0, False),
        ])  # fmt: skip
    return db


def chart(mp: pytest.MonkeyPatch, cap: pytest.CaptureFixture[str], out: Path, *a: str) -> Any:
    code, stdout, err = run_cli(mp, cap, "chart", "--out", str(out), "--interval", "1h", *a)
    assert code == 0, err
    return stdout


def test_chart_sums_every_venue_of_a_market(
    liq_db: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    out = tmp_path / "all.json"
    chart(monkeypatch, capsys, out, "--db", str(liq_db), "--symbol", "BTCUSDT")  # venue: all
    body = json.loads(out.read_text())
    assert body["venues"] == ["binance", "bybit", "okx"] and body["symbol"] == "BTCUSDT"
    bars = body["bars"]
    assert [b["ts"] for b in bars] == [T0, T0 + HOUR]
    assert bars[0]["long_usd"] == pytest.approx(35_000.0)  # binance + OKX's native symbol
    assert bars[0]["count_long"] == 2
    assert bars[1]["short_usd"] == pytest.approx(12_700.0)  # binance + bybit; not ETHUSDT
    assert body["sampled"] is True and body["note"] == "lower bound (sampled feed)"

    one = tmp_path / "binance.csv"
    chart(
        monkeypatch, capsys, one, "--db", str(liq_db), "--symbol", "BTCUSDT", "--venue", "binance"
    )
    rows = list(csv.DictReader(one.open()))
    assert [float(r["long_usd"]) for r in rows] == [30_000.0, 0.0]
    assert [float(r["short_usd"]) for r in rows] == [0.0, 12_000.0]

    code, _, err = run_cli(monkeypatch, capsys, "chart", "--out", str(tmp_path / "x.csv"),
                           "--db", str(liq_db), "--interval", "7m")  # fmt: skip
    assert code == 2 and "unknown interval '7m'" in err


def test_chart_png_is_drawn(
    liq_db: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    out = tmp_path / "c.png"
    stdout = chart(monkeypatch, capsys, out, "--db", str(liq_db))
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "longs 35,999 USD, shorts 12,700 USD (lower bound: sampled feed)" in stdout


def test_map_formats_agree(
    store: dict[str, Any],  # noqa: F811
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    args = ("map", "--db", str(store["db"]), "--symbol", "BTCUSDT", "--buckets", "50")
    for suffix in (".json", ".csv", ".parquet", ".png"):
        code, _, err = run_cli(monkeypatch, capsys, *args, "--out", str(tmp_path / f"m{suffix}"))
        assert code == 0, err
    body = json.loads((tmp_path / "m.json").read_text())
    n = len(body["bucket_edges"]) - 1
    assert 25 <= n <= 50 and body["tiers"] == ["5x", "10x", "25x", "50x", "100x"]
    lo, hi = body["bucket_edges"][0], body["bucket_edges"][-1]
    assert lo <= body["price"] * 0.85 + (hi - lo) / n and hi >= body["price"] * 1.15 - (hi - lo) / n
    below = [i for i in range(n) if body["bucket_edges"][i + 1] <= body["price"]]
    # cumulative longs: what a fall to the lowest bucket liquidates >= everything shown below
    assert body["cum_long"][below[0]] >= sum(body["long_total"][i] for i in below) * (1 - 1e-9)
    assert all(body["cum_short"][i] == 0 for i in below)
    rows = list(csv.DictReader((tmp_path / "m.csv").open()))
    assert len(rows) == n
    assert [float(r["long_total"]) for r in rows] == pytest.approx(body["long_total"])
    table = pq.read_table(tmp_path / "m.parquet")
    assert table.num_rows == n
    assert json.loads(table.schema.metadata[b"liqscope"])["venues"] == ["binance", "bybit"]
    assert (tmp_path / "m.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    high = tmp_path / "high.json"
    code, _, err = run_cli(monkeypatch, capsys, *args, "--preset", "high", "--out", str(high))
    assert code == 0, err
    hb = json.loads(high.read_text())
    assert hb["tiers"] == ["25x", "50x", "100x"] and hb["preset"] == "high"
    assert sum(hb["long_total"]) < sum(body["long_total"])  # the high tiers only

    code, _, err = run_cli(monkeypatch, capsys, *args, "--range", "2w", "--out", str(high))
    assert code == 2 and "unknown range '2w'" in err
    code, _, err = run_cli(monkeypatch, capsys, *args, "--venue", "okx", "--out", str(high))
    assert code == 2 and "--venue: no candles for BTCUSDT on okx" in err


@pytest.mark.parametrize("command", ["heatmap", "map", "check", "chart", "alerts"])
def test_help_keeps_defaults_and_lists_presets(
    command: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("COLUMNS", "250")
    code, out, _ = run_cli(monkeypatch, capsys, command, "--help")
    assert code == 0
    assert "[default: $LIQSCOPE_HOME/liqscope.sqlite or ~/.liqscope/liqscope.sqlite]" in out
    if command != "chart":
        assert "all, high, calibrated" in out


def test_heatmap_of_the_aggregate_sums_the_venues(
    store: dict[str, Any],  # noqa: F811
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    totals = {}
    for venue in ("all", "binance", "bybit"):
        out = tmp_path / f"hm-{venue}.json"
        args = ("--db", str(store["db"]), "--symbol", "BTCUSDT", "--venue", venue)
        code, _, err = run_cli(monkeypatch, capsys, "heatmap", *args, "--out", str(out))
        assert code == 0, err
        body = json.loads(out.read_text())
        totals[venue] = sum(body["values"][-1])
        assert body["venue"] == ("binance+bybit" if venue == "all" else venue)
    # each venue on its own grid, the aggregate on one covering both: the same USD in total
    assert totals["all"] == pytest.approx(totals["binance"] + totals["bybit"], rel=1e-6)
