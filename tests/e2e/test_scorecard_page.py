"""The accuracy scorecard page (/static/scorecard.html) in Debian's chromium (Playwright),
served by the app on a real uvicorn on 127.0.0.1 over a small store: it loads without console
errors, plots hot share vs baseline bars per preset for the simulator scorecard and lists the
stored alerts. The screenshot goes to artifacts/screenshots/scorecard.png."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

# the browser tests' launch settings and server harness (one copy, in test_ui_browser)
from test_ui_browser import ARGS, CHROMIUM, MINUTE, SHOTS, _Server, sync_api

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    from liqscope.api.app import Settings, create_app
    from liqscope.signals.storage import SignalStore
    from liqscope.sim.synthetic import fill_store
    from liqscope.store.sqlite import SqliteStore

    db = tmp_path_factory.mktemp("scorecard") / "sc.sqlite"
    start = (int(time.time() * 1000) - 1440 * MINUTE) // MINUTE * MINUTE
    with SqliteStore(db) as store:
        fill_store(store, start, 1440, markets=(("binance", "BTCUSDT"),))
    with SignalStore(db) as ss:  # one stored alert for the "Recent alerts" table
        ss.add_alert(
            {
                "rule_id": "cascade",
                "venue": "aggregate",
                "symbol": "BTCUSDT",
                "condition": "cascade",
                "ts": start + 600 * MINUTE,
                "price": 60_000.0,
                "message": "BTCUSDT: long liquidation cascade in progress: $3.4M in 5 steps",
                "details": {"reads": []},
            }
        )
    app = create_app(Settings(db_path=str(db), poll_s=0.1))
    with _Server(app) as url:
        yield url


@pytest.fixture(scope="module")
def page(served: str) -> Iterator[Any]:
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        ctx = browser.new_context(viewport={"width": 1600, "height": 1000})
        pg = ctx.new_page()
        pg.errors = []  # console errors and page errors seen
        pg.on("console", lambda m: pg.errors.append(m.text) if m.type == "error" else None)
        pg.on("pageerror", lambda e: pg.errors.append(str(e)))
        pg.goto(f"{served}/static/scorecard.html")
        pg.wait_for_selector("body[data-scored]", timeout=120_000)
        pg.wait_for_selector("body[data-alerts]", timeout=30_000)
        yield pg
        ctx.close()
        browser.close()


def test_scorecard_chart_has_hot_share_and_baseline_bars(page: Any) -> None:
    assert page.get_attribute("body", "data-scored") == "1", page.inner_text("#status")
    traces = page.evaluate(
        """() => (document.getElementById('chart').data || []).map(t =>
            ({type: t.type, name: t.name, x: t.x, y: t.y}))"""
    )
    assert [t["name"] for t in traces] == ["hot share", "baseline"]
    assert all(t["type"] == "bar" for t in traces)
    names = traces[0]["x"]
    # the default presets, the shuffled control and the simulator's oracle
    assert names[:3] == ["all", "high", "calibrated"]
    assert "broken (shuffled)" in names and "oracle (true levels)" in names
    for t in traces:
        assert len(t["y"]) == len(names)
        assert all(y is not None and 0 <= y <= 1 for y in t["y"])
    assert any(y > 0 for y in traces[0]["y"])
    # the bars are drawn (one SVG path per bar with a visible height)
    heights = page.evaluate(
        """() => Array.from(document.querySelectorAll('#chart .bars .point path'))
            .map(p => p.getBBox().height)"""
    )
    assert len(heights) == 2 * len(names)
    assert sum(h > 1 for h in heights) >= len(names)
    rows = page.locator("#table tr")
    assert rows.count() == len(names) + 1
    assert "simulator, cascade scenario" in page.inner_text("#status")


def test_scorecard_lists_alerts_and_saves_a_screenshot(page: Any) -> None:
    assert page.get_attribute("body", "data-alerts") == "1"
    text = page.inner_text("#alerts")
    assert "aggregate" in text and "cascade in progress" in text
    page.wait_for_timeout(300)
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "scorecard.png"), full_page=True)
    assert (SHOTS / "scorecard.png").stat().st_size > 10_000
    assert page.errors == []
