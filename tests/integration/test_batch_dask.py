"""``liqscope batch`` on a real ``distributed.LocalCluster`` (2 worker processes on loopback):
the same bytes as the single-process commands, from the store and from the lake."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from test_cli_heatmap import run_cli

from liqscope.batch import MarketTask, Source, run_task
from liqscope.batch.jobs import chunk_bounds
from liqscope.lake import export_store
from liqscope.sim.synthetic import fill_store
from liqscope.store.sqlite import SqliteStore

START = 1_765_065_600_000  # 2025-12-07
MINUTES = 2 * 1440
DAY = 86_400_000
MARKETS = (("binance", "BTCUSDT"), ("bybit", "BTCUSDT"), ("binance", "ETHUSDT"))
RANGE = ("--from", "2025-12-06", "--to", "2025-12-10")  # wider than the data: all of it
BACKWARDS = ("--from", "2025-12-09", "--to", "2025-12-08")


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("batch")
    db = root / "store.sqlite"
    with SqliteStore(db) as st:
        fill_store(st, START, MINUTES, markets=MARKETS)
    with SqliteStore(db, readonly=True) as st:
        export_store(st, root / "lake")
    return {"root": root, "db": db, "lake": root / "lake"}


@pytest.fixture(scope="module")
def cluster() -> Iterator[str]:
    from distributed import LocalCluster

    with LocalCluster(
        n_workers=2, processes=True, threads_per_worker=1, host="127.0.0.1",
        dashboard_address=None, silence_logs=40,
    ) as c:  # fmt: skip
        yield str(c.scheduler_address)


def cli(mp: pytest.MonkeyPatch, cap: pytest.CaptureFixture[str], *args: str) -> str:
    code, out, err = run_cli(mp, cap, *args)
    assert code == 0, err
    return out


def test_cluster_heatmaps_equal_the_single_process_heatmap(
    data: dict[str, Path],
    cluster: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    refs = {}
    for symbol in ("BTCUSDT", "ETHUSDT"):  # the one-market command, in this process
        refs[symbol] = tmp_path / f"ref-{symbol}.parquet"
        cli(monkeypatch, capsys, "heatmap", "--db", str(data["db"]), "--symbol", symbol,
            "-o", str(refs[symbol]))  # fmt: skip
    for source in (["--db", str(data["db"])], ["--lake", str(data["lake"])]):
        out = tmp_path / source[0].strip("-")
        said = cli(monkeypatch, capsys, "batch", "heatmap", "--symbols", "BTCUSDT,ETHUSDT",
                   *RANGE, *source, "--scheduler", cluster, "--out", str(out))  # fmt: skip
        assert "2/2 markets" in said, said
        for symbol, ref in refs.items():
            assert (out / "heatmap" / f"{symbol}.parquet").read_bytes() == ref.read_bytes()
        summary = orjson.loads((out / "heatmap" / "summary.json").read_bytes())
        assert summary["markets"]["BTCUSDT"]["venues"] == ["binance", "bybit"]
        assert len({m["worker"] for m in summary["markets"].values()}) >= 1
        assert all(m["worker"].split(":")[1] != "" for m in summary["markets"].values())


def test_cluster_predict_equals_the_predict_command(
    data: dict[str, Path],
    cluster: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    ref = tmp_path / "ref.parquet"
    cli(monkeypatch, capsys, "predict", "--db", str(data["db"]), "--venue", "binance",
        "--symbol", "BTCUSDT", "-o", str(ref))  # fmt: skip
    out = tmp_path / "out"
    cli(monkeypatch, capsys, "batch", "predict", "--symbols", "BTCUSDT", "--venues", "binance",
        *RANGE, "--lake", str(data["lake"]), "--scheduler", cluster, "--out", str(out))  # fmt: skip
    assert (out / "predict" / "BTCUSDT.parquet").read_bytes() == ref.read_bytes()


def test_local_pool_scores_every_venue(
    data: dict[str, Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    out = tmp_path / "out"
    cli(monkeypatch, capsys, "batch", "score", "--symbols", "BTCUSDT", *RANGE,
        "--db", str(data["db"]), "--workers", "1", "--out", str(out))  # fmt: skip
    doc = orjson.loads((out / "score" / "BTCUSDT.json").read_bytes())
    assert set(doc["venues"]) == {"binance", "bybit"}
    for card in doc["venues"].values():
        assert card["realized_usd"] > 0 and 0.0 <= card["hot_share"]["value"] <= 1.0


def test_batch_errors_are_one_line(
    data: dict[str, Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    base = ["batch", "heatmap", "--out", str(tmp_path / "o")]
    for args, fragment in [
        (["--symbols", "BTCUSDT", *RANGE], "--lake"),
        (["--symbols", "DOGEUSDT", *RANGE, "--db", str(data["db"])], "DOGEUSDT"),
        (["--symbols", "BTCUSDT", "--venues", "okx", *RANGE, "--lake", str(data["lake"])], "okx"),
        (["--symbols", "BTCUSDT", *BACKWARDS, "--db", str(data["db"])], "--to"),
        (["--symbols", "BTCUSDT", *RANGE, "--lake", str(tmp_path / "none")], "no lake"),
        (["--symbols", "BTCUSDT", *RANGE, "--db", str(data["db"]), "--scheduler", "x"], "tcp://"),
    ]:
        code, _, err = run_cli(monkeypatch, capsys, *base, *args)
        assert code == 2 and err.count("\n") == 1 and fragment in err, (args, err)


def test_a_market_without_data_in_range_is_reported(data: dict[str, Path]) -> None:
    task = MarketTask("heatmap", "BTCUSDT", (("binance", "BTCUSDT"),), START - 9 * 86_400_000,
                      START - 8 * 86_400_000, Source(lake=str(data["lake"])))  # fmt: skip
    r = run_task(task)
    assert r.error is not None and "fewer than two steps" in r.error and not r.payload


def test_chunk_bounds_fall_on_column_edges() -> None:
    col = 3_600_000
    b = chunk_bounds(1_000, 10 * col + 5, 3 * col, col)
    assert b[0][0] == 1_000 and b[-1][1] == 10 * col + 5
    assert all(x[1] == y[0] for x, y in itertools.pairwise(b))
    assert all(a % col == 0 for a, _ in b[1:]) and len(b) == 4
    assert chunk_bounds(5, 5, col, col) == []


@pytest.mark.parametrize(
    ("job", "chunk_ms"), [("heatmap", 6 * 3_600_000), ("heatmap", 7_777_777), ("predict", DAY),
                          ("score", 10 * 3_600_000)],
)  # fmt: skip
def test_time_chunked_batch_equals_one_piece(
    data: dict[str, Path], cluster: str, job: str, chunk_ms: int
) -> None:
    """Both venues of a market, its range split in several time chunks on the cluster, the
    estimator state carried across: byte for byte the single-process run in one piece."""
    from liqscope.batch import results

    whole = MarketTask(job, "BTCUSDT", (("binance", "BTCUSDT"), ("bybit", "BTCUSDT")),
                       START, START + MINUTES * 60_000, Source(lake=str(data["lake"])))  # fmt: skip
    chunked = MarketTask(**{**_fields(whole), "chunk_ms": chunk_ms})
    one = run_task(whole)
    (many,) = list(results([chunked], cluster))
    assert one.error is None and many.error is None, (one.error, many.error)
    assert one.summary["chunks"] == 1 and many.summary["chunks"] >= MINUTES * 60_000 // chunk_ms
    assert many.summary["venues"] == ["binance", "bybit"]
    assert many.payload == one.payload


def _fields(task: MarketTask) -> dict[str, Any]:
    return {name: getattr(task, name) for name in task.__dataclass_fields__}
