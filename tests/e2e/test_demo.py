"""End to end: ``liqscope demo`` starts the simulated venues, pre-fills, collects and serves."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

# Venues whose candles the demo collects (OKX's come from REST polling).
CANDLE_VENUES = ("binance", "bybit", "okx")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_demo_serves_all_three_venues_with_live_data(tmp_path: Path) -> None:
    port = free_port()
    cmd = [
        str(Path(sys.executable).parent / "liqscope"), "demo", "--port", str(port),
        "--days", "1", "--speed", "30", "--run-for", "40", "--db", str(tmp_path / "d.sqlite"),
    ]  # fmt: skip
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}"
    markets: dict[str, dict[str, object]] = {}
    first_age: dict[str, float] = {}
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                status = httpx.get(f"{url}/api/status", timeout=5).json()
            except httpx.HTTPError:
                time.sleep(1)
                continue
            markets = {m["venue"]: m for m in status["markets"]}
            ready = (
                len(markets) == 3
                and all(int(m["liquidations"]) > 0 for m in markets.values())
                and all(
                    int(markets[v]["candles"]) > 0 and int(markets[v]["oi_points"]) > 0
                    for v in CANDLE_VENUES
                )
            )
            if ready:
                break
            time.sleep(1)
        assert set(markets) == {"binance", "bybit", "okx"}, markets
        for venue, m in markets.items():
            assert int(m["liquidations"]) > 0, venue
            first_age[venue] = float(str(m["last_ts"] or 0))
        for venue in CANDLE_VENUES:
            assert int(markets[venue]["candles"]) > 0, venue
        assert markets["binance"]["lower_bound"] is True
        assert markets["bybit"]["lower_bound"] is False
        heat = httpx.get(
            f"{url}/api/heatmap",
            params={"symbol": "BTCUSDT", "venues": "all", "range": "12h", "width": 80},
            timeout=60,
        )
        assert heat.status_code == 200
        assert sum(map(sum, heat.json()["z"])) > 0, heat.json().get("note")
        page = httpx.get(url, timeout=10)
        assert page.status_code == 200 and "plotly" in page.text.lower()
        time.sleep(5)  # live data keeps flowing: newer candles arrive
        later = {m["venue"]: m for m in httpx.get(f"{url}/api/status", timeout=5).json()["markets"]}
        assert float(str(later["binance"]["last_ts"])) > first_age["binance"]
    finally:
        out, _ = proc.communicate(timeout=90)
    assert proc.returncode == 0, out
    assert "open http://127.0.0.1" in out
