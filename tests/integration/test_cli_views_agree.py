"""One store, four views: ``liqscope map``, ``liqscope check``, the live alert evaluator and
``/api/map`` report the same clusters (same bucket edges, same USD) for the same window and
preset, for one venue and for the aggregate of two."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from test_cli_heatmap import run_cli
from test_live_alerts import sim_events

from liqscope.api.app import Settings, create_app
from liqscope.signals.delivery import Dispatcher
from liqscope.signals.live import LiveAlerts
from liqscope.signals.rules import AlertRule
from liqscope.store.sqlite import SqliteStore

MIN = 60_000
HOURS = 5.0  # less than the 12 h every view looks back: all of them read the whole store
Band = tuple[float, float, float]


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Binance and Bybit BTCUSDT, the simulator's cascade scenario, minute by minute."""
    db = tmp_path_factory.mktemp("agree") / "views.sqlite"
    last = 0
    with SqliteStore(db) as st:
        for venue in ("binance", "bybit"):
            per_min, ts, _ = sim_events(HOURS, venue=venue, sampled=venue == "binance")
            st.write_events([e for batch in per_min for e in batch])
            last = max(last, int(ts[-1]))
    return {"db": db, "last": last}


def bands(clusters: Any, side: str | None = None) -> list[Band]:
    """(low, high, USD) of each cluster (of one side: long / short), nearest first, whichever
    shape a view uses: a list, or the API's ``{"above": [...], "below": [...]}``."""
    if isinstance(clusters, dict):
        clusters = [c for part in clusters.values() for c in part or []]
    out = []
    for c in clusters:
        c = c.get("cluster", c)
        if side is not None and c["side"] != side:
            continue
        low = c["low"] if "low" in c else c["price_lo"]
        high = c["high"] if "high" in c else c["price_hi"]
        out.append((float(low), float(high), float(c["usd"]), abs(float(c["distance_pct"]))))
    out.sort(key=lambda b: b[3])
    return [b[:3] for b in out]


def same_as_api(api: dict[str, Any], body: dict[str, Any]) -> None:
    """``/api/map`` sends the nearest clusters of each side and the max pain of each: the
    same as the CLI map's, which lists every cluster."""
    for side, where in (("long", "below"), ("short", "above")):
        mine = bands(body["clusters"], side)
        theirs = bands(api["clusters"][where])
        assert bool(theirs) == bool(mine), (side, theirs, mine)
        same(theirs, mine[: len(theirs)])
        pain = body["key_levels"][f"max_pain_{where}"]
        same(bands([api["max_pain"][where]] if api["max_pain"][where] else []),
             bands([pain] if pain else []))  # fmt: skip


def same(a: list[Band], b: list[Band]) -> None:
    assert len(a) == len(b), (a, b)
    for x, y in zip(a, b, strict=True):
        assert x[:2] == y[:2], (a, b)  # the same bucket edges, exactly
        assert x[2] == pytest.approx(y[2], rel=1e-6, abs=1.0), (a, b)  # the same USD


def cli_map(
    tmp_path: Path, db: Path, venue: str, mp: pytest.MonkeyPatch, cap: pytest.CaptureFixture[str]
) -> dict[str, Any]:
    out = tmp_path / f"map-{venue}.json"
    code, _, err = run_cli(
        mp, cap, "map", "--db", str(db), "--symbol", "BTCUSDT", "--venue", venue,
        "--range", "12h", "--preset", "all", "--out", str(out),
    )  # fmt: skip
    assert code == 0, err
    body: dict[str, Any] = json.loads(out.read_text())
    assert body["clusters"], "the map has no clusters: nothing to compare"
    return body


def live_clusters(db: Path, last: int, venue: str) -> list[Band]:
    """Clusters in the proximity alert the evaluator fires on the last minute (a 100 % band
    reports every cluster, nearest five in the details)."""
    rule = AlertRule("all-clusters", "proximity", venue=venue, params={"pct": 100.0}, cooldown_s=0)
    live = LiveAlerts(db, [rule], Dispatcher(), snapshot_presets=[])
    live.tick(now_ms=last)  # warm-up pass (muted) up to the last minute
    fired = live.tick(now_ms=last + MIN)  # the last minute closes: the map of the whole store
    assert [a.ts for a in fired] == [last], fired
    return bands(fired[0].details["clusters"])


def api_map(db: Path, venues: str) -> dict[str, Any]:
    with TestClient(create_app(Settings(db_path=str(db))), base_url="http://127.0.0.1") as client:
        r = client.get(
            "/api/map",
            params={"symbol": "BTCUSDT", "venues": venues, "range": "12h", "preset": "all"},
        )
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def test_one_venue_every_view_reports_the_same_clusters(
    store: dict[str, Any],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    db, last = store["db"], store["last"]
    body = cli_map(tmp_path, db, "binance", monkeypatch, capsys)
    assert body["venues"] == ["binance"] and body["ts"] == last + MIN
    mapped = bands(body["clusters"])

    code, out, err = run_cli(
        monkeypatch, capsys, "check", "--db", str(db), "--venue", "binance", "--symbol",
        "BTCUSDT", "--side", "long", "--entry", str(body["price"]), "--leverage", "20",
        "--days", "0.5", "--json",
    )  # fmt: skip
    assert code == 0, err
    rep = json.loads(out)
    assert rep["price"] == body["price"]
    kl = body["key_levels"]
    for side in ("above", "below"):
        want = kl[f"nearest_{side}"]
        got = rep[f"nearest_cluster_{side}"]
        assert (got is None) == (want is None)
        if want is not None:
            same(bands([got]), bands([want]))

    same(live_clusters(db, last, "binance"), mapped[:5])
    same_as_api(api_map(db, "binance"), body)


def test_aggregate_every_view_reports_the_same_clusters(
    store: dict[str, Any],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    db, last = store["db"], store["last"]
    body = cli_map(tmp_path, db, "all", monkeypatch, capsys)
    assert body["venues"] == ["binance", "bybit"]
    mapped = bands(body["clusters"])
    alone = bands(cli_map(tmp_path, db, "binance", monkeypatch, capsys)["clusters"])
    assert mapped != alone  # the aggregate is not one venue's map

    same(live_clusters(db, last, "aggregate"), mapped[:5])
    same_as_api(api_map(db, "all"), body)
