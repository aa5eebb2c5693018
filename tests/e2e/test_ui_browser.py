"""The web UI in Debian's chromium (Playwright), against a real uvicorn on 127.0.0.1 serving a
store filled through its public write API. Screenshots go to artifacts/screenshots/."""

from __future__ import annotations

import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SHOTS = Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"
MINUTE = 60_000

if not Path(CHROMIUM).exists() and shutil.which("chromium") is None:
    pytest.skip(
        f"chromium not found at {CHROMIUM} (apt-get install chromium)", allow_module_level=True
    )
sync_api = pytest.importorskip("playwright.sync_api", reason="playwright (python) not installed")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class _Server:
    def __init__(self, app: Any) -> None:
        import uvicorn

        self.port = _free_port()
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> str:
        self.thread.start()
        deadline = time.time() + 20
        while not self.server.started:
            if time.time() > deadline:
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.05)
        return f"http://127.0.0.1:{self.port}"

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(10)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    from liqscope.api.app import Settings, create_app
    from liqscope.sim.synthetic import fill_store
    from liqscope.store.sqlite import SqliteStore

    db = tmp_path_factory.mktemp("ui") / "ui.sqlite"
    start = (int(time.time() * 1000) - 3 * 1440 * MINUTE) // MINUTE * MINUTE
    with SqliteStore(db) as store:
        fill_store(store, start, 3 * 1440, markets=(("binance", "BTCUSDT"), ("bybit", "BTCUSDT")))
    app = create_app(Settings(db_path=str(db), poll_s=0.1))
    with _Server(app) as url:
        yield url, db


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        yield b
        b.close()


@pytest.fixture()
def page(browser: Any) -> Iterator[Any]:
    ctx = browser.new_context(viewport={"width": 1600, "height": 950})
    pg = ctx.new_page()
    pg.errors = []  # console errors and page errors seen
    pg.on("console", lambda m: pg.errors.append(m.text) if m.type == "error" else None)
    pg.on("pageerror", lambda e: pg.errors.append(str(e)))
    yield pg
    ctx.close()


def _open(page: Any, url: str, query: str = "") -> None:
    page.goto(f"{url}/{query}")
    page.wait_for_selector("body[data-ready='1']", timeout=90_000)


def _z_sum(page: Any) -> float:
    return float(
        page.evaluate(
            """() => { const d = document.getElementById('heatmap').data;
            if (!d || !d.length) return -1;
            let s = 0; for (const r of d[0].z) for (const v of r) s += (v || 0); return s; }"""
        )
    )


def test_heatmap_renders_without_console_errors(served: tuple[str, Path], page: Any) -> None:
    url, _ = served
    _open(page, url, "?range=24h&scale=glass")
    shape = page.evaluate(
        "() => { const d = document.getElementById('heatmap').data;"
        " return [d.length, d[0].type, d[0].z.length, d[0].z[0].length]; }"
    )
    assert shape[0] >= 2 and shape[1] == "heatmap" and shape[2] > 10 and shape[3] > 10
    assert _z_sum(page) > 0
    page.mouse.move(700, 420)
    page.wait_for_timeout(400)
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "heatmap.png"))
    assert page.errors == []


def test_leverage_filter_changes_grid_and_url(served: tuple[str, Path], page: Any) -> None:
    url, _ = served
    _open(page, url, "?range=24h&scale=heat")
    before = _z_sum(page)
    page.click("#tiers .chip[data-tier='5x']")
    page.wait_for_function("() => location.search.includes('tiers=10x')", timeout=10_000)
    page.wait_for_function(
        f"() => {{ const d = document.getElementById('heatmap').data;"
        f" let s = 0; for (const r of d[0].z) for (const v of r) s += (v || 0);"
        f" return Math.abs(s - {before}) > 1e-6 * {before}; }}",
        timeout=60_000,
    )
    after = _z_sum(page)
    assert 0 < after < before
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "heatmap_high_leverage_heat.png"))
    # the URL restores the state on reload
    page.reload()
    page.wait_for_selector("body[data-ready='1']", timeout=60_000)
    assert not page.is_visible("#tiers .chip.on[data-tier='5x']")
    assert page.is_visible("#tiers .chip.on[data-tier='10x']")
    assert page.errors == []


def test_map_and_realized_views(served: tuple[str, Path], page: Any) -> None:
    url, _ = served
    _open(page, url, "?view=map&range=24h")
    page.wait_for_function("() => (document.getElementById('map').data || []).length > 2")
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "map.png"))
    page.click(".tab[data-view='realized']")
    page.wait_for_function("() => (document.getElementById('bars').data || []).length > 0")
    page.wait_for_function("() => (document.getElementById('levels').data || []).length > 0")
    page.wait_for_timeout(300)
    page.screenshot(path=str(SHOTS / "realized.png"))
    assert "lower bound" in page.inner_text("#provenance")
    assert page.errors == []


def test_live_feed_shows_new_liquidation(served: tuple[str, Path], page: Any) -> None:
    from liqscope.domain.events import Liquidation
    from liqscope.domain.types import PriceKind, Side
    from liqscope.store.sqlite import SqliteStore

    url, db = served
    _open(page, url, "?range=12h")
    page.wait_for_selector("#ws-dot.live", timeout=10_000)
    now = int(time.time() * 1000)
    liq = Liquidation(
        "bybit",
        "BTCUSDT",
        now,
        Side.SHORT,
        12.5,
        61234.5,
        PriceKind.BANKRUPTCY,
        12.5 * 61234.5,
        False,
    )
    with SqliteStore(db) as store:
        assert store.write_liquidations([liq]) == 1
    key = f"bybit|BTCUSDT|{now}|short|61234.5|12.5"
    page.wait_for_selector(f"#feed tr[data-key='{key}']", timeout=10_000)
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "live_feed.png"))
    assert page.errors == []
