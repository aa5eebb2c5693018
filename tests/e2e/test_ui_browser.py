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


def _okx_candles_only(start: int, minutes: int) -> list[Any]:
    from liqscope.domain.events import Candle

    px = [55_000.0 + 20 * ((i * 7) % 13) for i in range(minutes)]
    return [
        Candle("okx", "BTC-USDT-SWAP", start + i * MINUTE, MINUTE, p, p + 15, p - 15, p + 5, 3.0,
               1.5, True)
        for i, p in enumerate(px)
    ]  # fmt: skip


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path, Any]]:
    """The app on 127.0.0.1 over 3 days of BTCUSDT (binance, bybit) and ETHUSDT (binance),
    plus okx BTCUSDT candles of the last 6 hours without open interest (the model skips it)."""
    from liqscope.api.app import Settings, create_app
    from liqscope.sim.synthetic import fill_store
    from liqscope.store.sqlite import SqliteStore

    db = tmp_path_factory.mktemp("ui") / "ui.sqlite"
    start = (int(time.time() * 1000) - 3 * 1440 * MINUTE) // MINUTE * MINUTE
    with SqliteStore(db) as store:
        fill_store(store, start, 3 * 1440, markets=(("binance", "BTCUSDT"), ("bybit", "BTCUSDT")))
        fill_store(
            store, start, 3 * 1440, markets=(("binance", "ETHUSDT"),), seed=11, price0=3000.0
        )
        store.write_candles(_okx_candles_only(start + (3 * 24 - 6) * 60 * MINUTE, 6 * 60))
    app = create_app(Settings(db_path=str(db), poll_s=0.1))
    with _Server(app) as url:
        yield url, db, app


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        yield b
        b.close()


@pytest.fixture()
def page(browser: Any) -> Iterator[Any]:
    ctx = browser.new_context(viewport={"width": 1600, "height": 1000})
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


def test_heatmap_renders_without_console_errors(served: tuple[str, Path, Any], page: Any) -> None:
    url = served[0]
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


def test_leverage_filter_changes_grid_and_url(served: tuple[str, Path, Any], page: Any) -> None:
    url = served[0]
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


def test_map_and_realized_views(served: tuple[str, Path, Any], page: Any) -> None:
    url = served[0]
    _open(page, url, "?view=map&range=24h")
    page.wait_for_function("() => (document.getElementById('map').data || []).length > 2")
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "map.png"))
    # the title says the data time (close of the last stored candle), not a column start
    prov = page.evaluate("() => document.getElementById('provenance').innerText")
    title = page.evaluate("() => document.getElementById('map').layout.title.text")
    assert "over 24h" in title and title.split("data to ")[1] in prov
    # the range chips choose the history the map is built from
    with page.expect_response(lambda r: "/api/map?" in r.url and "range=7d" in r.url):
        page.click("#ranges .chip:text-is('7d')")
    page.wait_for_function(
        "() => document.getElementById('map').layout.title.text.includes('over 7d')"
    )
    page.click(".tab[data-view='realized']")
    page.wait_for_function("() => (document.getElementById('bars').data || []).length > 0")
    page.wait_for_function("() => (document.getElementById('levels').data || []).length > 0")
    page.wait_for_timeout(300)
    page.screenshot(path=str(SHOTS / "realized.png"))
    assert "lower bound" in page.inner_text("#provenance")
    # 7d over 3 stored days: the axis starts at the data and the note says where it starts
    assert "stored data starts at" in page.inner_text("#note")
    x0, x1 = page.evaluate(
        "() => document.getElementById('bars').layout.xaxis.range.map(v => new Date(v).getTime())"
    )
    assert x1 - x0 < 3 * 1440 * MINUTE + 2 * 60 * MINUTE and x1 <= time.time() * 1000 + 1000
    assert page.errors == []


def test_live_feed_shows_new_liquidation(served: tuple[str, Path, Any], page: Any) -> None:
    from liqscope.domain.events import Liquidation
    from liqscope.domain.types import PriceKind, Side
    from liqscope.store.sqlite import SqliteStore

    url, db, _ = served
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
    stamp = page.inner_text(f"#feed tr[data-key='{key}'] td:first-child")
    assert stamp == time.strftime("%m-%d %H:%M:%S", time.gmtime(now / 1000))  # date and time
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "live_feed.png"))
    # the venue filter applies to the feed: history and live rows
    page.click("#venues .chip:text-is('binance')")
    page.wait_for_function(
        "() => document.getElementById('feed-venues').textContent === 'binance'"
        " && document.querySelectorAll('#feed tr').length > 0"
    )
    venues = page.eval_on_selector_all(
        "#feed tr td:nth-child(2)", "els => els.map(e => e.textContent)"
    )
    assert set(venues) == {"binance"}
    later = [
        Liquidation(v, "BTCUSDT", now + 1000 + k, Side.LONG, 0.5, 55_000.0,
                    PriceKind.BANKRUPTCY, 27_500.0, v == "binance")
        for k, v in enumerate(("bybit", "binance"))
    ]  # fmt: skip
    with SqliteStore(db) as store:
        assert store.write_liquidations(later) == 2
    page.wait_for_selector(f"#feed tr[data-key='binance|BTCUSDT|{now + 1001}|long|55000|0.5']")
    assert page.locator(f"#feed tr[data-key^='bybit|BTCUSDT|{now + 1000}|']").count() == 0
    assert page.errors == []


def _painted(page: Any) -> int:
    return int(page.get_attribute("body", "data-painted") or 0)


def _wait_painted(page: Any, gen: int) -> None:
    page.wait_for_function(
        f"() => Number(document.body.dataset.painted || 0) >= {gen}", timeout=60_000
    )


def test_stale_response_never_paints(served: tuple[str, Path, Any], page: Any) -> None:
    """An older heatmap answer held back until a newer one has painted is dropped."""
    url = served[0]
    _open(page, url, "?range=24h&sides=long")
    long_only = _z_sum(page)
    assert long_only > 0
    held: list[Any] = []

    def hold_both(route: Any) -> None:
        if "sides=both" in route.request.url and not held:
            held.append(route)  # answered later, after the newer request has painted
            return
        route.continue_()

    page.route("**/api/heatmap?*", hold_both)
    gen = _painted(page)
    page.select_option("#sides", "both")
    page.wait_for_function("() => location.search.includes('sides=both')")
    page.wait_for_timeout(200)  # the debounced request leaves and is held
    assert len(held) == 1
    page.select_option("#sides", "long")
    _wait_painted(page, gen + 2)
    with page.expect_response(lambda r: "sides=both" in r.url):
        held[0].continue_()
    # the late answer is either dropped or (the bug) painted: wait for whichever happens
    page.wait_for_function(
        f"() => Number(document.body.dataset.dropped || 0) >= 1"
        f" || Number(document.body.dataset.painted) !== {gen + 2}"
    )
    page.wait_for_timeout(300)
    assert _painted(page) == gen + 2
    assert abs(_z_sum(page) - long_only) <= 1e-9 * long_only
    title = page.evaluate("() => document.getElementById('heatmap').layout.title.text")
    assert "longs only" in title
    assert "sides=long" in page.evaluate("() => location.search")
    page.unroute("**/api/heatmap?*")
    assert page.errors == []


def test_readout_cleared_and_tier_colours_fixed(served: tuple[str, Path, Any], page: Any) -> None:
    url = served[0]
    _open(page, url, "?range=24h")
    box = page.locator("#heatmap .nsewdrag").first.bounding_box()
    page.mouse.move(box["x"] + box["width"] * 0.6, box["y"] + box["height"] * 0.5)
    page.wait_for_function("() => document.getElementById('readout').textContent.includes('total')")
    gen = _painted(page)
    page.click("#tiers .chip[data-tier='5x']")
    # cleared at once, before the new answer arrives
    assert page.inner_text("#readout").startswith("Hover the heatmap")
    _wait_painted(page, gen + 1)
    page.mouse.move(box["x"] + box["width"] * 0.55, box["y"] + box["height"] * 0.45)
    page.mouse.move(box["x"] + box["width"] * 0.6, box["y"] + box["height"] * 0.5)
    page.wait_for_function(
        "() => { const e = document.getElementById('tiersplit');"
        " return e && e.textContent !== '…'; }",
        timeout=20_000,
    )
    split = page.inner_text("#tiersplit")
    assert "10x" in split and "5x" not in split.replace("25x", "")
    # the map keeps each tier's colour when another tier is deselected
    page.click(".tab[data-view='map']")
    _wait_painted(page, gen + 2)
    colours = page.evaluate(
        "() => Object.fromEntries(document.getElementById('map').data"
        ".filter(t => t.type === 'bar' && !t.name.endsWith('short'))"
        ".map(t => [t.name, t.marker.color]))"
    )
    assert "5x" not in colours and len(colours) >= 3
    page.click("#tiers .chip[data-tier='5x']")
    _wait_painted(page, gen + 3)
    again = page.evaluate(
        "() => Object.fromEntries(document.getElementById('map').data"
        ".filter(t => t.type === 'bar' && !t.name.endsWith('short'))"
        ".map(t => [t.name, t.marker.color]))"
    )
    assert "5x" in again
    assert all(again[t] == c for t, c in colours.items())
    assert len(set(again.values())) == len(again)
    # the one colour table: web/palette.json, which the PNG exports read too
    from liqscope.export.png import PALETTE, tier_colour

    assert again == {t: tier_colour(t) for t in again}
    sides = page.evaluate(
        "() => Object.fromEntries(document.getElementById('map').data"
        ".filter(t => t.name.startsWith('cumulative')).map(t => [t.name, t.line.color]))"
    )
    assert sides == {"cumulative longs": PALETTE["long"], "cumulative shorts": PALETTE["short"]}
    css = page.evaluate(
        "() => getComputedStyle(document.documentElement).getPropertyValue('--long').trim()"
    )
    assert css == PALETTE["long"]
    assert page.errors == []


def _visible(page: Any, selector: str) -> bool:
    return bool(page.is_visible(selector))


def test_controls_follow_the_view_and_notes_sit_outside_the_plot(
    served: tuple[str, Path, Any], page: Any
) -> None:
    url = served[0]
    _open(page, url, "?range=24h")
    assert _visible(page, "#units") and _visible(page, "#tiers") and not _visible(page, "#interval")
    page.click(".tab[data-view='realized']")
    page.wait_for_function("() => (document.getElementById('bars').data || []).length > 0")
    assert _visible(page, "#interval") and not _visible(page, "#units")
    # one vocabulary: the selectors offer exactly the domain's intervals, ranges and venues
    from liqscope.domain.intervals import INTERVALS, RANGES

    options = page.eval_on_selector_all("#interval option", "els => els.map(e => e.value)")
    chips = page.eval_on_selector_all("#ranges .chip", "els => els.map(e => e.textContent)")
    venues = page.eval_on_selector_all("#venues .chip", "els => els.map(e => e.textContent)")
    assert options == list(INTERVALS) and chips == list(RANGES)
    assert venues == ["aggregate", "binance", "bybit", "okx"]
    assert not _visible(page, "#tiers") and not _visible(page, "#scale")
    page.click(".tab[data-view='map']")
    assert _visible(page, "#tiers") and not _visible(page, "#units")
    assert not _visible(page, "#interval")
    # at 1y the stored 3 days start late: the note says so above the chart, not over it, the
    # x axis ends at the data (not in the future) and no venue with data is called empty
    page.click("#ranges .chip:text-is('1y')")
    page.click(".tab[data-view='heatmap']")
    page.wait_for_function(
        "() => (document.getElementById('heatmap').layout.title.text || '').length > 0"
        " && location.search.includes('range=1y') && document.body.dataset.painted",
    )
    page.wait_for_function(
        "() => document.getElementById('note').textContent.includes('stored data starts')",
        timeout=60_000,
    )
    note = page.locator("#note").bounding_box()
    plot = page.locator("#heatmap").bounding_box()
    assert note["y"] + note["height"] <= plot["y"] + 1
    x1 = page.evaluate(
        "() => new Date(document.getElementById('heatmap').layout.xaxis.range[1]).getTime()"
    )
    assert x1 <= time.time() * 1000 + 1000
    assert x1 >= time.time() * 1000 - 10 * MINUTE
    text = page.inner_text("#note")
    assert "no data" not in text  # every venue has data somewhere in the year
    assert "okx left out of the model: candles stored but no open interest" in text
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "heatmap_1y.png"))
    assert page.errors == []


def test_candles_readable_at_24h(served: tuple[str, Path, Any], page: Any) -> None:
    url = served[0]
    _open(page, url, "?range=24h")
    info = page.evaluate(
        """() => { const d = document.getElementById('heatmap').data;
        const c = d.find(t => t.type === 'candlestick'), v = d.find(t => t.name === 'volume');
        return {n: c ? c.x.length : 0, vol: v ? v.y.length : 0, axis: v ? v.yaxis : null}; }"""
    )
    assert 40 <= info["n"] <= 400 and info["vol"] == info["n"] and info["axis"] == "y2"
    widths = page.evaluate(
        """() => Array.from(document.querySelectorAll('#heatmap .trace.boxes path'))
            .map(p => p.getBBox().width)"""
    )
    assert len(widths) >= 40
    assert sorted(widths)[len(widths) // 2] >= 3  # bodies several pixels wide, not a line
    assert page.errors == []


# A stand-in for the browser's Notification API that records what the page asks and shows.
FAKE_NOTIFICATION = """
window.__notify = { asked: 0, shown: [] };
class FakeNotification {
  constructor(title, opts) {
    window.__notify.shown.push(title + ' | ' + ((opts || {}).body || '')); }
}
FakeNotification.permission = 'default';
FakeNotification.requestPermission = async () => {
  window.__notify.asked += 1; FakeNotification.permission = 'granted'; return 'granted'; };
window.Notification = FakeNotification;
"""


def test_alert_panel_history_live_filters_and_link(
    served: tuple[str, Path, Any], page: Any
) -> None:
    from liqscope.signals.storage import SignalStore

    url, db, app = served
    now = int(time.time() * 1000) // MINUTE * MINUTE
    stored_ts = now - 20 * MINUTE
    with SignalStore(db) as ss:
        ss.add_alert(
            {
                "rule_id": "near-cluster",
                "venue": "binance",
                "symbol": "BTCUSDT",
                "condition": "proximity",
                "ts": stored_ts,
                "price": 55_500.0,
                "message": "BTCUSDT: price within 0.8% of a $120M long cluster at 55,100",
                "details": {},
            }
        )
    page.add_init_script(FAKE_NOTIFICATION)
    _open(page, url, "?range=24h")
    page.wait_for_selector("#alert-list li.alert")
    assert "within 0.8%" in page.inner_text("#alert-list")
    assert page.evaluate("() => window.__notify.asked") == 0  # never asked without a click
    page.click("#alert-notify")
    page.wait_for_function("() => window.__notify.asked === 1")
    assert page.inner_text("#alert-notify") == "notifications on"
    # a live alert arrives over /ws and is listed (newest first) without a reload
    page.wait_for_selector("#ws-dot.live", timeout=10_000)
    app.state.hub.publish_alert(
        {
            "rule": "cascade",
            "kind": "cascade",
            "symbol": "ETHUSDT",
            "venue": "aggregate",
            "severity": "critical",
            "ts": now - 5 * MINUTE,
            "message": "ETHUSDT: long liquidation cascade in progress: $2.1M in 5 steps",
            "data": {},
        }
    )
    page.wait_for_function(
        "() => document.querySelectorAll('#alert-list li.alert').length === 2", timeout=10_000
    )
    first = page.locator("#alert-list li.alert").first
    assert "cascade in progress" in first.inner_text()
    assert "critical" in (first.get_attribute("class") or "")
    shown = page.evaluate("() => window.__notify.shown")
    assert len(shown) == 1 and "ETHUSDT" in shown[0] and "cascade in progress" in shown[0]
    # filters
    page.select_option("#alert-symbol", "ETHUSDT")
    assert page.locator("#alert-list li.alert").count() == 1
    page.select_option("#alert-rule", "near-cluster")
    assert page.locator("#alert-list li.alert").count() == 0
    assert "no alert matches" in page.inner_text("#alert-list")
    page.select_option("#alert-symbol", "")
    assert page.locator("#alert-list li.alert").count() == 1
    page.select_option("#alert-rule", "")
    # the stored alert links to its moment: its market and venue, the window around it, marked
    gen = _painted(page)
    page.locator("#alert-list li.alert", has_text="within 0.8%").locator("a").click()
    _wait_painted(page, gen + 1)
    q = page.evaluate("() => Object.fromEntries(new URLSearchParams(location.search))")
    assert q["range"] == "custom" and q["venues"] == "binance" and q["symbol"] == "BTCUSDT"
    assert int(q["start"]) < stored_ts < int(q["end"]) and int(q["mark"]) == stored_ts
    marked = page.evaluate(
        "() => (document.getElementById('heatmap').layout.shapes || [])"
        ".map(s => new Date(s.x0).getTime())"
    )
    assert stored_ts in marked
    fired = page.evaluate(
        "() => document.getElementById('heatmap').data.filter(t => t.name === 'alerts')"
        ".flatMap(t => t.x.map(x => new Date(x).getTime()))"
    )
    assert stored_ts in fired  # the alerts of the market are marked along the top
    page.wait_for_timeout(300)
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "alert_moment.png"))
    assert page.errors == []


def _num(text: str | None) -> float | None:
    return None if text in (None, "") else float(str(text))


def test_overview_figures_match_the_api(served: tuple[str, Path, Any], page: Any) -> None:
    import httpx

    url = served[0]

    def settled() -> dict[str, Any]:
        """The overview once it and the bars answer for the same stored data: cached views
        may lag a write by one refresh interval (docs/api.md), so wait that out first."""
        deadline = time.monotonic() + 20
        while True:
            api = httpx.get(f"{url}/api/overview").json()
            same = True
            for coin in api["coins"]:
                for w, hours in (("1h", 1), ("24h", 24)):
                    bars = httpx.get(
                        f"{url}/api/liquidations/bars",
                        params={"symbol": coin["symbol"], "end": coin["end"], "interval": "1m",
                                "start": coin["end"] - hours * 60 * MINUTE},
                    ).json()  # fmt: skip
                    fig = coin["windows"][w]
                    same = same and abs(fig["long"] - sum(bars["long"])) <= 1
                    same = same and abs(fig["short"] - sum(bars["short"])) <= 1
            if same or time.monotonic() > deadline:
                return api  # type: ignore[no-any-return]
            time.sleep(0.5)

    api = settled()
    assert [c["symbol"] for c in api["coins"]] == ["BTCUSDT", "ETHUSDT"]
    assert {v["venue"] for v in api["venues"]} == {"binance", "bybit", "okx"}
    # the figures themselves, against the realized bars and feed of the same windows
    for coin in api["coins"]:
        end = coin["end"]
        for w, hours in (("1h", 1), ("24h", 24)):
            bars = httpx.get(
                f"{url}/api/liquidations/bars",
                params={
                    "symbol": coin["symbol"],
                    "start": end - hours * 60 * MINUTE,
                    "end": end,
                    "interval": "1m",
                },
            ).json()
            # the bars answer exactly the window asked, in 1-minute buckets (not coarsened
            # and widened to whole 3-minute buckets that reach past the overview's end)
            assert bars["interval_ms"] == MINUTE and len(bars["ts"]) == hours * 60
            assert (bars["start"], bars["end"]) == (end - hours * 60 * MINUTE, end)
            fig = coin["windows"][w]
            assert fig["long"] == pytest.approx(sum(bars["long"]), rel=1e-6, abs=1)
            assert fig["short"] == pytest.approx(sum(bars["short"]), rel=1e-6, abs=1)
            assert fig["count"] == bars["count"]
        big = coin["windows"]["24h"]["largest"]
        feed = httpx.get(
            f"{url}/api/liquidations/feed",
            params={"symbol": coin["symbol"], "min_usd": big["usd"], "limit": 1000},
        ).json()["items"]
        inside = [i for i in feed if end - 24 * 60 * MINUTE <= i["ts"] < end]
        assert max(i["notional_usd"] for i in inside) == pytest.approx(big["usd"])
    page.goto(f"{url}/static/overview.html")
    page.wait_for_selector("body[data-ready='1']", timeout=60_000)
    for w in api["windows"]:
        page.click(f"#windows .chip[data-window='{w}']")
        for name, rows, key in (
            ("coins", api["coins"], "symbol"),
            ("venues", api["venues"], "venue"),
        ):
            for r in rows:
                row = page.locator(f"#{name} tr[data-row='{r[key]}']")
                fig = r["windows"][w]
                for col in ("long", "short", "total", "count"):
                    got = _num(row.locator(f"td[data-col='{col}']").get_attribute("data-v"))
                    assert got == pytest.approx(fig[col]), (name, r[key], w, col)
                big = _num(row.locator("td[data-col='largest']").get_attribute("data-v"))
                assert big == (pytest.approx(fig["largest"]["usd"]) if fig["largest"] else None)
    # the zones are the nearest clusters of the liquidation map
    for coin in api["coins"]:
        m = httpx.get(
            f"{url}/api/map", params={"symbol": coin["symbol"], "range": "7d", "buckets": 160}
        ).json()
        row = page.locator(f"#coins tr[data-row='{coin['symbol']}']")
        for side in ("above", "below"):
            got = _num(row.locator(f"td[data-col='{side}']").get_attribute("data-v"))
            want = m["clusters"][side][0]["distance_pct"] if m["clusters"][side] else None
            assert got == (pytest.approx(want) if want is not None else None)
    # sortable: by 24h total, largest first (the default); a click on the header reverses it
    page.click("#windows .chip[data-window='24h']")

    def order() -> list[float]:
        cells = page.locator("#venues td[data-col='total']")
        return [float(cells.nth(i).get_attribute("data-v")) for i in range(cells.count())]

    first = order()
    assert first == sorted(first, reverse=True) and first[0] > first[-1]
    page.click("#venues th[data-col='total']")
    assert order() == sorted(first)
    page.click("#venues th[data-col='count']")
    counts = page.locator("#venues td[data-col='count']")
    by_count = [float(counts.nth(i).get_attribute("data-v")) for i in range(counts.count())]
    assert by_count == sorted(by_count, reverse=True)
    page.wait_for_timeout(200)
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "overview.png"))
    assert page.errors == []


def test_note_names_only_venues_without_data(served: tuple[str, Path, Any], page: Any) -> None:
    """okx has candles only in the last 6 hours and no open interest: before them it has no
    data; inside them it has data the model cannot use, and the note says which."""
    url = served[0]
    _open(page, url, "?range=24h")
    text = page.inner_text("#note")
    assert "okx left out of the model" in text and "no data" not in text
    assert "the heatmap shows binance, bybit" in text
    end = page.evaluate("() => document.getElementById('heatmap').layout.xaxis.range[1]")
    t_end = int(page.evaluate(f"() => new Date('{end}').getTime()"))
    early = f"?range=custom&start={t_end - 30 * 60 * MINUTE}&end={t_end - 24 * 60 * MINUTE}"
    _open(page, url, early)
    text = page.inner_text("#note")
    assert "no data in this window for okx" in text and "left out" not in text
    assert "binance" not in text.split("no data in this window for")[1].split("·")[0]
    assert page.errors == []


def _loopback_only(page: Any) -> list[tuple[str, str]]:
    """Abort every request that leaves 127.0.0.1 / localhost; return (resource type, URL) of
    each aborted one."""
    from urllib.parse import urlsplit

    blocked: list[tuple[str, str]] = []

    def gate(route: Any) -> None:
        host = urlsplit(route.request.url).hostname or ""
        if host in ("127.0.0.1", "localhost", "::1") or route.request.url.startswith("data:"):
            route.continue_()
        else:
            blocked.append((route.request.resource_type, route.request.url))
            route.abort()

    page.route("**/*", gate)
    return blocked


def test_api_docs_render_offline(served: tuple[str, Path, Any], page: Any) -> None:
    """/docs (Swagger UI) and /redoc render with every non-loopback request aborted: their
    assets come from the installed package, not a CDN."""
    import httpx

    url = served[0]
    paths = httpx.get(f"{url}/openapi.json").json()["paths"]
    operations = sum(len(ops) for ops in paths.values())
    blocked = _loopback_only(page)
    page.goto(f"{url}/docs")
    page.wait_for_selector(".opblock", timeout=30_000)
    assert page.locator(".opblock").count() == operations
    assert page.locator(".opblock-summary-path", has_text="/api/heatmap").count() >= 1
    assert "liqscope" in page.inner_text(".info .title")
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "api_docs.png"))
    page.goto(f"{url}/redoc")
    page.wait_for_selector("[role='navigation'], .menu-content", timeout=30_000)
    page.wait_for_function(
        "() => document.querySelectorAll('h2').length >= 5"
        " && document.body.innerText.includes('/api/liquidations/bars')",
        timeout=30_000,
    )
    assert "liqscope" in page.inner_text("h1")
    page.screenshot(path=str(SHOTS / "api_redoc.png"))
    # nothing the pages need tried to leave the machine (ReDoc's own "API docs by Redocly"
    # badge image is the one outside request, and is aborted)
    assert [b for b in blocked if b[0] != "image"] == []
    failed = [e for e in page.errors if "net::ERR_FAILED" in e]  # the aborted badge
    assert len(failed) <= len(blocked) and [e for e in page.errors if e not in failed] == []


def test_realized_chart_draws_predicted_beside_realized(
    served: tuple[str, Path, Any], page: Any
) -> None:
    """Once /api/predict is in /openapi.json the realized chart draws its predicted longs and
    shorts per interval (dotted) over the realized bars: the values the API answered."""
    import httpx

    url = served[0]
    assert "/api/predict" in httpx.get(f"{url}/openapi.json").json()["paths"]
    with page.expect_response(lambda r: "/api/predict?" in r.url, timeout=90_000) as resp:
        _open(page, url, "?view=realized&range=24h&interval=1h")
    api = resp.value.json()
    assert api["interval_ms"] == 60 * MINUTE and len(api["ts"]) >= 12
    assert sum(api["long"]) > 0 and sum(api["short"]) > 0
    page.wait_for_function(
        "() => (document.getElementById('bars').data || [])"
        ".some(t => t.name === 'predicted longs')",
        timeout=60_000,
    )
    drawn = page.evaluate(
        """() => Object.fromEntries(document.getElementById('bars').data
            .filter(t => t.name.startsWith('predicted'))
            .map(t => [t.name, {x: t.x.map(v => new Date(v).getTime()), y: t.y,
                                dash: t.line.dash}]))"""
    )
    assert set(drawn) == {"predicted longs", "predicted shorts"}
    mid = [t + api["interval_ms"] // 2 for t in api["ts"]]
    assert drawn["predicted longs"]["x"] == mid and drawn["predicted longs"]["y"] == api["long"]
    assert drawn["predicted shorts"]["y"] == [-v for v in api["short"]]  # shorts drawn down
    assert drawn["predicted longs"]["dash"] == "dot"
    axis = page.evaluate(
        "() => document.getElementById('bars').data"
        ".filter(t => t.name.startsWith('predicted')).map(t => t.yaxis)"
    )
    assert axis == ["y2", "y2"]  # its own scale (the model's USD), zero aligned
    bars = page.evaluate(
        "() => document.getElementById('bars').data.filter(t => t.type === 'bar').length"
    )
    assert bars >= 2  # realized bars drawn beside them
    title = page.evaluate("() => document.getElementById('bars').layout.title.text")
    assert "predicted by the model" in title
    page.wait_for_timeout(300)
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "realized_predicted.png"))
    assert page.errors == []
