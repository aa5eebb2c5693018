"""``/api/measured/map`` and ``/api/measured/score`` over a real SQLite store: a synthetic
Hyperliquid market with synthetic measured positions (``sim.accounts.fill_positions``)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient

from liqscope.api.app import Settings, create_app
from liqscope.domain.clock import ManualClock
from liqscope.domain.intervals import MINUTE_MS as MINUTE
from liqscope.model.presets import PRESETS
from liqscope.signals.measured import score_stored
from liqscope.sim.accounts import fill_positions
from liqscope.sim.synthetic import fill_store
from liqscope.store.positions import AccountPoll
from liqscope.store.readers import read_steps
from liqscope.store.sqlite import SqliteStore

START_MS = 1_760_000_000_000 // 3_600_000 * 3_600_000
MINUTES = 1440
MARKETS = (("binance", "BTCUSDT"), ("hyperliquid", "BTC"), ("binance", "ETHUSDT"))


@pytest.fixture(scope="module")
def served(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[TestClient, Path, list[AccountPoll]]]:
    db = tmp_path_factory.mktemp("measured") / "m.sqlite"
    end = START_MS + MINUTES * MINUTE
    with SqliteStore(db) as store:
        fill_store(store, START_MS, MINUTES, MARKETS)
        price = store.candles("hyperliquid", "BTC", MINUTE, end - MINUTE, end)[-1].close
        polls = fill_positions(store, "BTC", end - 30_000, price, n=150)
    app = create_app(
        Settings(db_path=str(db), clock=ManualClock(end), allowed_hosts=["testserver"])
    )
    with TestClient(app) as client:
        yield client, db, polls


def test_measured_map_on_the_estimated_grid(
    served: tuple[TestClient, Path, list[AccountPoll]],
) -> None:
    client, _, polls = served
    q = {"symbol": "BTCUSDT", "range": "24h", "buckets": 120}
    est = client.get("/api/map", params=q | {"venues": "hyperliquid"}).json()
    r = client.get("/api/measured/map", params=q)
    assert r.status_code == 200, r.text
    m = r.json()
    assert m["source"] == "measured" and m["coin"] == "BTC"
    assert m["bucket_edges"] == est["bucket_edges"]  # the estimated map's screen buckets
    g = m["map"]["grid"]
    assert len(m["map"]["long_usd"]) == g["n"]  # and its model grid
    edges = np.asarray(m["bucket_edges"])
    snaps = [s for p in polls for s in p.positions]
    # each position's USD at entry, in the screen bucket of its liquidation price
    want = np.zeros((2, edges.size - 1))
    for s in snaps:
        b = int(np.floor((s.liquidation_px - g["origin"]) / g["step"]))  # its model bucket
        mid = g["origin"] + (b + 0.5) * g["step"]
        k = int(np.searchsorted(edges, mid, "right")) - 1
        if 0 <= b < g["n"] and 0 <= k < edges.size - 1:
            want[0 if s.size > 0 else 1, k] += abs(s.size) * s.entry_px
    got = np.asarray([m["long_usd"], m["short_usd"]])
    np.testing.assert_allclose(got, want, atol=0.5)  # rounded to whole USD per bucket
    assert want.sum() > 0.3 * sum(abs(s.size) * s.entry_px for s in snaps)
    modes = m["by_mode"]
    np.testing.assert_allclose(
        np.add(modes["cross"]["long"], modes["isolated"]["long"]), got[0], atol=1.0
    )
    cov = m["coverage"]
    assert cov["accounts"] == {"known": 150, "polled": 150, "polled_recently": 150,
                               "recent_ms": 600_000}  # fmt: skip
    assert m["label"].startswith("measured: 150 accounts") and "coverage" in m["label"]
    assert len(m["positions"]) == 20 and m["matched"] == 150
    dist = [p["distance_pct"] for p in m["positions"]]
    assert dist == sorted(dist)  # nearest liquidation first


def test_measured_near_filter_and_errors(
    served: tuple[TestClient, Path, list[AccountPoll]],
) -> None:
    client, _, polls = served
    m = client.get("/api/measured/map", params={"symbol": "BTC", "near_pct": 3, "limit": 500})
    body = m.json()
    snaps = [s for p in polls for s in p.positions]
    marks = [abs(s.position_value / s.size) for s in snaps]
    near = [
        s for s, mk in zip(snaps, marks, strict=True) if abs(mk - s.liquidation_px) <= 0.03 * mk
    ]
    assert body["matched"] == len(near) > 0
    assert all(p["distance_pct"] <= 3.0 for p in body["positions"])
    r = client.get("/api/measured/map", params={"symbol": "ETHUSDT"})
    assert r.status_code == 404 and "hyperliquid" in r.text  # Hyperliquid has no ETH here
    for bad in ({"symbol": "BTC", "near_pct": 0}, {"symbol": "BTC", "limit": 0}, {"symbol": "x y"}):
        assert client.get("/api/measured/map", params=bad).status_code == 422
    assert client.get("/api/measured/score", params={"symbol": "BTC", "days": 0}).status_code == 422
    none = client.get("/api/measured/score", params={"symbol": "ETHUSDT"})  # not an error
    assert none.status_code == 200 and none.json()["measured"] is None
    assert "Hyperliquid holds no data" in none.json()["note"]


def test_measured_score_is_the_stored_score(
    served: tuple[TestClient, Path, list[AccountPoll]],
) -> None:
    client, db, _ = served
    r = client.get("/api/measured/score", params={"symbol": "BTCUSDT", "days": 1,
                                                  "presets": "all,high"})  # fmt: skip
    assert r.status_code == 200, r.text
    got = r.json()["measured"]
    end = START_MS + MINUTES * MINUTE
    with SqliteStore(db, readonly=True) as st:
        steps = read_steps(st, "hyperliquid", "BTC", end - 1440 * MINUTE, end, MINUTE)
        assert steps is not None
        want = score_stored(st, steps, {n: PRESETS[n] for n in ("all", "high")}, "BTC")
    assert want is not None and set(got["models"]) == {"all", "high"}
    for name in ("all", "high"):
        for side in ("long", "short", "total"):
            for key in ("emd_pct", "top20_overlap", "rank_corr", "measured_usd"):
                assert got["models"][name][side][key] == pytest.approx(
                    want["models"][name][side][key]
                )
