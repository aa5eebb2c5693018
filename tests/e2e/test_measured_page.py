"""The measured Hyperliquid source in Debian's chromium (Playwright), served by the app on a
real uvicorn on 127.0.0.1: the map view's "measured" source (bars per margin mode, labelled
with accounts and coverage, the positions nearest liquidation) and "estimated + measured",
and the scorecard page's estimated-vs-measured table, whose figures are those of
``liqscope score --json``. Screenshots (1600×1000) go to artifacts/screenshots/."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

# the browser tests' launch settings and server harness (one copy, in test_ui_browser)
from test_ui_browser import ARGS, CHROMIUM, MINUTE, SHOTS, _Server, sync_api

pytestmark = pytest.mark.browser
ACCOUNTS = 150


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    from liqscope.api.app import Settings, create_app
    from liqscope.sim.accounts import fill_positions
    from liqscope.sim.synthetic import fill_store
    from liqscope.store.sqlite import SqliteStore

    db = tmp_path_factory.mktemp("measured-ui") / "m.sqlite"
    start = (int(time.time() * 1000) - 1440 * MINUTE) // MINUTE * MINUTE
    end = start + 1440 * MINUTE
    with SqliteStore(db) as store:
        fill_store(store, start, 1440, markets=(("binance", "BTCUSDT"), ("hyperliquid", "BTC")))
        price = store.candles("hyperliquid", "BTC", MINUTE, end - MINUTE, end)[-1].close
        fill_positions(store, "BTC", end - 20_000, price, n=ACCOUNTS)
    with _Server(create_app(Settings(db_path=str(db), poll_s=0.1))) as url:
        yield url, db


@pytest.fixture(scope="module")
def browser(served: tuple[str, Path]) -> Iterator[Any]:
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        yield b
        b.close()


def open_page(browser: Any, url: str) -> Any:
    ctx = browser.new_context(viewport={"width": 1600, "height": 1000})
    pg = ctx.new_page()
    pg.errors = []
    pg.on("console", lambda m: pg.errors.append(m.text) if m.type == "error" else None)
    pg.on("pageerror", lambda e: pg.errors.append(str(e)))
    pg.goto(url)
    return pg


def map_traces(pg: Any) -> list[dict[str, Any]]:
    return pg.evaluate(  # type: ignore[no-any-return]
        """() => (document.getElementById('map').data || []).map(t =>
            ({type: t.type, name: t.name, y: Array.from(t.y || [])}))"""
    )


def test_map_view_measured_source(browser: Any, served: tuple[str, Path]) -> None:
    url, _ = served
    pg = open_page(browser, f"{url}/?symbol=BTCUSDT&view=map&range=24h&source=measured")
    pg.wait_for_selector("body[data-measured]", timeout=60_000)
    pg.wait_for_selector("body[data-painted]", timeout=60_000)
    api = pg.evaluate(
        "() => fetch('/api/measured/map?symbol=BTCUSDT&range=24h&preset=all&buckets=160')"
        ".then(r => r.json())"
    )
    traces = map_traces(pg)
    assert traces and all(t["name"].startswith("measured ") for t in traces)
    assert {t["name"] for t in traces} == {
        f"measured {s} · {m}" for s in ("long", "short") for m in ("isolated", "cross")
    }
    drawn = sum(sum(v or 0 for v in t["y"]) for t in traces)
    total = sum(api["long_usd"]) + sum(api["short_usd"])
    assert drawn == pytest.approx(total, abs=len(api["bucket_edges"]))  # whole USD per bucket
    assert drawn > 0
    label = pg.inner_text("#measured-label")
    assert label.startswith(f"measured: {ACCOUNTS} accounts") and "coverage" in label
    assert pg.get_attribute("body", "data-measured") == str(ACCOUNTS)
    rows = pg.locator("#measured-positions tbody tr")
    assert rows.count() == 12
    first = rows.nth(0).inner_text()
    nearest = api["positions"][0]
    assert nearest["address"][:6] in first and nearest["address"][-4:] in first
    assert pg.locator("#map-source").input_value() == "measured"
    assert "source=measured" in pg.url
    pg.wait_for_timeout(300)
    SHOTS.mkdir(parents=True, exist_ok=True)
    pg.screenshot(path=str(SHOTS / "measured-map.png"))
    assert (SHOTS / "measured-map.png").stat().st_size > 10_000
    # beside the estimated map: its tier bars stay, one measured line per side is added
    pg.select_option("#map-source", "both")
    pg.wait_for_function(
        "() => (document.getElementById('map').data || []).some(t => t.name === "
        "'measured long (Hyperliquid)')",
        timeout=60_000,
    )
    names = [t["name"] for t in map_traces(pg)]
    assert "measured short (Hyperliquid)" in names
    assert any(n.endswith("x") for n in names)  # the estimated tiers, e.g. "10x"
    pg.select_option("#map-source", "estimated")
    pg.wait_for_function(
        "() => !(document.getElementById('map').data || [])"
        ".some(t => t.name.startsWith('measured'))",
        timeout=60_000,
    )
    assert pg.locator("#measured-panel").is_hidden()
    assert pg.errors == []
    pg.context.close()


def test_scorecard_shows_the_estimated_vs_measured_score(
    browser: Any,
    served: tuple[str, Path],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from liqscope import cli

    url, db = served
    pg = open_page(browser, f"{url}/static/scorecard.html")
    pg.wait_for_selector("body[data-measured]", timeout=120_000)
    assert pg.get_attribute("body", "data-measured") == "3", pg.inner_text("#measured")
    # the same figures as `liqscope score --json` (key "measured")
    args = ["score", "--venue", "hyperliquid", "--symbol", "BTC", "--days", "7", "--presets",
            "all,high,calibrated", "--json", "--db", str(db)]  # fmt: skip
    monkeypatch.setattr(sys, "argv", ["liqscope", *args])
    with pytest.raises(SystemExit) as done:
        cli.main()
        raise SystemExit(0)
    assert done.value.code in (0, None)
    measured = json.loads(capsys.readouterr().out)["measured"]
    for name in ("all", "high", "calibrated"):
        for side in ("long", "short", "total"):
            row = pg.locator(f'#measured tr[data-preset="{name}"][data-side="{side}"]')
            want = measured["models"][name][side]
            assert row.locator(".emd").inner_text() == f"{want['emd_pct']:.2f} %"
            assert row.locator(".overlap").inner_text() == f"{want['top20_overlap']:.3f}"
            assert row.locator(".rank").inner_text() == f"{want['rank_corr']:.3f}"
    cov = pg.inner_text("#measured-cov")
    assert f"measured: {ACCOUNTS} accounts" in cov and "coverage" in cov
    pg.evaluate("() => document.getElementById('measured').closest('.sc-card').scrollIntoView()")
    pg.wait_for_timeout(300)
    pg.screenshot(path=str(SHOTS / "scorecard-measured.png"))
    assert (SHOTS / "scorecard-measured.png").stat().st_size > 10_000
    assert pg.errors == []
    pg.context.close()
