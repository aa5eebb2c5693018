"""One vocabulary of intervals, ranges and venue choices: ``domain.intervals`` and
``domain.types.Venue`` are what the API parameters, the API catalogue and the CLI accept."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import get_args

from fastapi.testclient import TestClient
from tests.unit.api_app import store_app

from liqscope.api.params import VENUES_PATTERN, IntervalName, RangeName
from liqscope.domain.intervals import INTERVALS, RANGES
from liqscope.domain.types import Venue

NAMES = ", ".join(INTERVALS)


def test_api_parameters_use_the_domain_tables() -> None:
    assert get_args(IntervalName) == tuple(INTERVALS)
    assert get_args(RangeName) == (*RANGES, "custom")
    pattern = re.compile(VENUES_PATTERN)
    assert pattern.match("all") and pattern.match(",".join(v.value for v in Venue))
    assert not pattern.match("kraken")


def test_catalogue_and_rejections_name_the_same_intervals() -> None:
    client = TestClient(store_app(minutes=240), base_url="http://127.0.0.1")
    cat = client.get("/api/instruments").json()
    assert cat["intervals"] == list(INTERVALS) and cat["ranges"] == list(RANGES)
    assert set(cat["venues"]) <= {v.value for v in Venue}
    for path in ("/api/liquidations/bars", "/api/predict", "/api/series/price"):
        r = client.get(path, params={"symbol": "BTCUSDT", "interval": "7m", "venue": "binance"})
        assert r.status_code == 422, path
        assert all(name in r.text for name in INTERVALS), path


def _cli(*args: str, home: Path) -> subprocess.CompletedProcess[str]:
    exe = Path(sys.executable).with_name("liqscope")
    env = {**os.environ, "LIQSCOPE_HOME": str(home), "COLUMNS": "200"}
    return subprocess.run([str(exe), *args], capture_output=True, text=True, env=env,
                          timeout=120, check=False)  # fmt: skip


def test_cli_interval_options_take_the_domain_table(tmp_path: Path) -> None:
    for command in ("chart", "predict"):
        r = _cli(command, "--interval", "7m", "--out", str(tmp_path / "x.csv"), home=tmp_path)
        assert r.returncode != 0, command
        line = r.stderr.strip().splitlines()[-1]
        assert line == f"error: unknown interval '7m' (expected one of {NAMES})", command
