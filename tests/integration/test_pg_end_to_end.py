"""``--db postgresql://…`` end to end: ``liqscope collect`` from the simulated exchange into a
live PostgreSQL server, then ``liqscope serve`` answering from it; a bad URL or a dead server
is one line and exit code 2."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from liqscope.store import open_store
from liqscope.store.base import LiquidationQuery
from pg_server import server_or_skip

LIQSCOPE = str(Path(sys.executable).parent / "liqscope")


@pytest.fixture(scope="module")
def pg() -> Iterator[str]:
    with server_or_skip() as url:
        yield url


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _dead_url() -> str:
    return f"postgresql://liqscope@127.0.0.1:{_free_port()}/nothing?connect_timeout=2"


@pytest.fixture(scope="module")
def collected(pg: str) -> str:
    """The server's store after a short ``liqscope collect`` from the simulated Binance."""
    sim = subprocess.Popen(
        [LIQSCOPE, "sim", "--venues", "binance", "--scenario", "cascade", "--history", "6",
         "--speed", "20", "--run-for", "90", "--json"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert sim.stdout is not None
        urls = json.loads(sim.stdout.readline())["venues"]["binance"]
        done = subprocess.run(
            [LIQSCOPE, "collect", "--venue", "binance:BTCUSDT", "--db", pg, "--quiet",
             "--url", f"binance={urls['ws']},{urls['rest']}", "--duration", "12",
             "--backfill-days", "0.1", "--oi-poll", "1", "--status-every", "0"],
            capture_output=True, text=True, timeout=120,
        )  # fmt: skip
    finally:
        sim.terminate()
        sim.communicate(timeout=30)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    return pg


def _get(base: str, path: str, **params: Any) -> dict[str, Any]:
    r = httpx.get(f"{base}{path}", params=params, timeout=60)
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def test_collect_then_serve_from_postgresql(collected: str, tmp_path: Path) -> None:
    with open_store(collected, readonly=True) as st:
        assert ("binance", "BTCUSDT") in st.markets(("candles",))
        liqs = st.liquidations(LiquidationQuery(["binance"], "BTCUSDT"))
    assert liqs, "the cascade (6 h after the simulation starts) liquidates"
    port = _free_port()
    serve = subprocess.Popen(
        [LIQSCOPE, "serve", "--db", collected, "--port", str(port), "--alert-every", "0.5",
         "--log-level", "warning"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                if httpx.get(f"{base}/api/instruments", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert serve.poll() is None, serve.communicate()[1]
            time.sleep(0.2)
        span = {"start": str(min(e.ts for e in liqs) - 3_600_000),
                "end": str(max(e.ts for e in liqs) + 60_000)}  # fmt: skip
        heat = _get(base, "/api/heatmap", symbol="BTCUSDT", venues="binance", **span)
        assert heat["venues"] == ["binance"] and heat["ts"]
        assert any(v for row in heat["z"] for v in row if v)
        bars = _get(base, "/api/liquidations/bars", symbol="BTCUSDT", venues="binance",
                    interval="1m", **span)  # fmt: skip
        assert bars["count"] == len(liqs)
        stored = sum(e.price * e.qty for e in liqs)
        assert sum(bars["long"]) + sum(bars["short"]) == pytest.approx(stored, rel=1e-6)
        assert "alerts" in _get(base, "/api/alerts")  # read from the server store too
    finally:
        serve.terminate()
        _, err = serve.communicate(timeout=30)
    assert "Traceback" not in err, err
    assert not list(tmp_path.iterdir()), "nothing may be written beside the server store"


@pytest.mark.parametrize(
    "args",
    [
        ["status"],
        ["serve", "--port", "1"],
        ["collect", "--venue", "binance:BTCUSDT"],
        ["lake", "export", "--lake", "LAKE"],
    ],
)
def test_dead_server_or_bad_url_is_one_line_exit_2(args: list[str], tmp_path: Path) -> None:
    args = [str(tmp_path / "lake") if a == "LAKE" else a for a in args]
    for url in (_dead_url(), "postgresql://127.0.0.1:notaport/x"):
        out = subprocess.run(
            [LIQSCOPE, *args, "--db", url], capture_output=True, text=True, timeout=60
        )
        assert out.returncode == 2, (out.stdout, out.stderr)
        lines = out.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error:"), out.stderr
        assert "Traceback" not in out.stderr
