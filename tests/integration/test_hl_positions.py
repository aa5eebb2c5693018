"""Hyperliquid measured positions against the simulated venue on 127.0.0.1: discovery from
the trades stream, polling within the weight budget, the stored map vs the simulator's truth."""

from __future__ import annotations

import asyncio
import csv
import json
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import orjson
import pytest
import websockets

from liqscope import cli
from liqscope.domain.events import OpenInterest
from liqscope.ingest.hl_positions import ClientBudget, PositionPoller
from liqscope.model.grid import PriceGrid
from liqscope.signals.measured import MODES, measured_map
from liqscope.sim.accounts import TruePosition
from liqscope.sim.exchange import SimExchanges
from liqscope.sim.exchange.hyperliquid import HyperliquidServer, address, fmt_hl_px, fmt_num
from liqscope.sim.market import Market
from liqscope.sim.scenarios import scenario
from liqscope.store.sqlite import SqliteStore
from liqscope.venues.hyperliquid.rest import HyperliquidRest

HISTORY_MS = 4 * 3_600_000  # simulated history before serving starts (hourly score windows)
CROSS_TOL = 0.01  # cross: L1 distance of bucket masses ≤ 1 % of the cross mass


@pytest.fixture
def sim() -> Iterator[SimExchanges]:
    market = Market(scenario("calm", venue="hyperliquid", symbol="BTC"), 3)
    with SimExchanges(
        {"hyperliquid": market.advance},
        start_ms=market.now_ms + HISTORY_MS,
        manual=True,
        venues=["hyperliquid"],
    ) as s:
        yield s


def server(sim: SimExchanges) -> HyperliquidServer:
    srv = sim["hyperliquid"]
    assert isinstance(srv, HyperliquidServer)
    return srv


async def discover(sim: SimExchanges, poller: PositionPoller, seconds: int) -> int:
    """Follow the trades stream for ``seconds`` simulated seconds; frames go to the poller."""
    frames = 0
    async with websockets.connect(sim.urls()["hyperliquid"].ws) as ws:
        await ws.send('{"method":"subscribe","subscription":{"type":"trades","coin":"BTC"}}')
        await ws.recv()  # subscriptionResponse
        for _ in range(seconds):
            await asyncio.to_thread(sim.advance, 1000)
            while True:
                try:
                    frame = await asyncio.wait_for(ws.recv(), 0.05)
                except TimeoutError:
                    break
                poller.on_frame(frame)
                frames += 1
    return frames


def bucket_truth(truth: list[TruePosition], grid: PriceGrid, mode: str) -> np.ndarray:
    """``[2, n]`` USD at entry by liquidation price, each value at the venue's precision
    (prices 5 significant figures, sizes 5 decimals): the truth as the venue can state it."""
    out = np.zeros((2, grid.n))
    for p in truth:
        if p.margin_mode != mode or not np.isfinite(p.liq_px):
            continue
        b = grid.index_of(float(fmt_hl_px(p.liq_px, 5)))
        if 0 <= b < grid.n:
            qty, entry = float(fmt_num(p.qty, 5)), float(fmt_hl_px(p.entry_px, 5))
            out[0 if p.side > 0 else 1, b] += qty * entry
    return out


def counts_truth(truth: list[TruePosition], grid: PriceGrid, mode: str) -> np.ndarray:
    out = np.zeros((2, grid.n), np.int64)
    for p in truth:
        if p.margin_mode == mode and np.isfinite(p.liq_px):
            b = grid.index_of(float(fmt_hl_px(p.liq_px, 5)))
            if 0 <= b < grid.n:
                out[0 if p.side > 0 else 1, b] += 1
    return out


async def run_poller(sim: SimExchanges, poller: PositionPoller, seconds: int) -> None:
    for _ in range(seconds):
        await poller.poll_round()
        await asyncio.to_thread(sim.advance, 1000)


def run_cli(
    mp: pytest.MonkeyPatch, cap: pytest.CaptureFixture[str], *args: str
) -> tuple[int, str, str]:
    mp.setattr(sys, "argv", ["liqscope", *args])
    code = 0
    try:
        cli.main()
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = cap.readouterr()
    return code, out, err


def test_measured_map_equals_truth_within_budget(
    sim: SimExchanges,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    srv = server(sim)
    budget = srv.accounts.enforce()  # 1200 weight a minute per IP, 429 beyond
    store = SqliteStore(tmp_path / "s.sqlite", clock=sim.clock)
    rest = HyperliquidRest(sim.urls()["hyperliquid"].rest, clock=sim.clock, max_retries=0)
    poller = PositionPoller(rest, store, sim.clock, coins=["BTC"])

    async def run() -> int:
        try:
            frames = await discover(sim, poller, 90)
            await run_poller(sim, poller, 150)
        finally:
            await rest.aclose()
        return frames

    frames = asyncio.run(run())
    now = sim.clock.now_ms()

    async def candles() -> int:  # minute candles beside the positions, for `liqscope score`
        rest2 = HyperliquidRest(sim.urls()["hyperliquid"].rest, clock=sim.clock)
        try:
            return store.write_candles(await rest2.klines("BTC", "1m", now - HISTORY_MS, now))
        finally:
            await rest2.aclose()

    assert asyncio.run(candles()) > 200
    h = srv.by_coin["BTC"]  # and the open interest a collector would have stored each minute
    ts, oi = h.col("sec_ts"), h.col("oi_base")
    keep = np.flatnonzero(ts % 60_000 == 0)
    store.write_open_interest(
        [OpenInterest("hyperliquid", "BTC", int(ts[j]), float(oi[j]), None) for j in keep]
    )
    assert frames > 0 and len(poller.accounts) > 20
    # the poller never hit the limit: nothing rejected, no minute above 1200
    assert budget.rejected == 0 and poller.stats.throttled == 0
    assert 0 < budget.max_requested() <= 1200
    assert poller.stats.polls >= len(poller.accounts)  # everyone polled, some again

    now = sim.clock.now_ms()
    truth = srv.accounts.truth("BTC")
    assert {p.margin_mode for p in truth} == set(MODES)  # both modes are exercised
    liqs = [p.liq_px for p in truth]
    grid = PriceGrid.spanning(min(liqs) * 0.99, max(liqs) * 1.01, 250.0)
    mm = measured_map(store, "BTC", now, grid)
    # isolated: exactly the same positions in every bucket, USD to the venue's precision
    iso = MODES.index("isolated")
    got_counts = np.zeros((2, grid.n), np.int64)
    for p in mm.positions:
        if p.leverage_type == "isolated" and p.liquidation_px is not None:
            got_counts[0 if p.size > 0 else 1, grid.index_of(p.liquidation_px)] += 1
    assert np.array_equal(got_counts, counts_truth(truth, grid, "isolated"))
    want = bucket_truth(truth, grid, "isolated")
    np.testing.assert_allclose(mm.levels[iso].sum(axis=0), want, rtol=1e-12, atol=1e-9)
    # cross: within CROSS_TOL of the cross mass
    cross_want = bucket_truth(truth, grid, "cross")
    cross_got = mm.by_side("cross")
    assert cross_want.sum() > 0
    assert np.abs(cross_got - cross_want).sum() <= CROSS_TOL * cross_want.sum()
    assert float(mm.outside_usd.sum()) == 0.0

    # coverage: accounts known / polled, measured size over the venue's open interest
    cov = mm.coverage
    assert cov.accounts.known == len(poller.accounts)
    assert cov.accounts.polled == len(srv.accounts.served) == len(poller.accounts)
    oi = store.open_interest("hyperliquid", "BTC", now - 3_600_000, now + 1)[-1].oi_base
    long_qty = sum(p.qty for p in truth if p.side > 0)
    assert cov.oi_base == pytest.approx(oi)
    assert cov.share[0] == pytest.approx(long_qty / oi, rel=1e-4)
    assert 0 < cov.share[0] < 1  # accounts never seen trading are not measured
    store.close()

    # the CLI reads the same store: positions near liquidation, and the measured map
    db = str(tmp_path / "s.sqlite")
    code, out, err = run_cli(monkeypatch, capsys, "positions", "--venue", "hyperliquid",
                             "--symbol", "BTC", "--near", "5%", "--json", "--db", db)  # fmt: skip
    assert code == 0, err
    body = orjson.loads(out)
    marks = [abs(p.position_value / p.size) for p in mm.positions]
    near = [p for p, m in zip(mm.positions, marks, strict=True)
            if p.liquidation_px and abs(m - p.liquidation_px) <= 0.05 * m]  # fmt: skip
    assert body["matched"] == len(near)
    assert all(r["distance_pct"] <= 5.0 for r in body["positions"])
    assert body["coverage"]["accounts"]["polled"] == cov.accounts.polled
    code, out, err = run_cli(monkeypatch, capsys, "positions", "--symbol", "BTC", "--db", db)
    assert code == 0 and "accounts known" in out, err
    csv_out = tmp_path / "measured.csv"
    args = ["--symbol", "BTC", "--source", "measured", "--out", str(csv_out), "--db", db]
    code, out, err = run_cli(monkeypatch, capsys, "map", "--venue", "hyperliquid", *args)
    assert code == 0, err
    rows = list(csv.DictReader(csv_out.open()))
    total = sum(float(r["long_usd"]) + float(r["short_usd"]) for r in rows)
    assert total == pytest.approx(float(mm.by_side().sum()), rel=1e-9)
    # liqscope score --json: the estimated map vs the measured one, by side
    score_args = ["--venue", "hyperliquid", "--symbol", "BTC", "--days", "1", "--db", db]
    code, out, err = run_cli(
        monkeypatch, capsys, "score", *score_args, "--presets", "all", "--json"
    )
    assert code == 0, err
    measured = json.loads(out)["measured"]  # json: the scorecard may hold NaN
    assert measured["at_ms"] == max(p.ts for p in mm.positions)
    sc = measured["models"]["all"]
    assert set(sc) >= {"long", "short", "total", "coverage"}
    assert 0.0 <= sc["long"]["top20_overlap"] <= 1.0 and sc["long"]["emd_pct"] >= 0.0
    assert sc["coverage"]["accounts"]["polled"] == cov.accounts.polled
    for bad in (["--near", "x%"], ["--venue", "binance"]):
        code, out, err = run_cli(monkeypatch, capsys, "positions", "--symbol", "BTC", "--db", db,
                                 *bad)  # fmt: skip
        assert code != 0 and err.startswith("error:") and "Traceback" not in err


def test_poller_backs_off_on_429_and_recovers(sim: SimExchanges, tmp_path: Path) -> None:
    srv = server(sim)
    budget = srv.accounts.enforce(limit=30)  # the venue allows less than the client thinks
    store = SqliteStore(tmp_path / "s.sqlite", clock=sim.clock)
    rest = HyperliquidRest(sim.urls()["hyperliquid"].rest, clock=sim.clock, max_retries=0)
    poller = PositionPoller(
        rest, store, sim.clock, coins=["BTC"], budget=ClientBudget(1000), meta_every_ms=600_000
    )

    async def run() -> list[int]:
        try:
            assert await discover(sim, poller, 20) > 0 and poller.accounts
            first = await poller.poll_round()
            assert poller.stats.throttled == 1 and poller.blocked_until_ms > sim.clock.now_ms()
            assert await poller.poll_round() == 0  # still blocked: nothing sent
            sent = budget.rejected
            polls = [first]
            for _ in range(240):  # four simulated minutes
                await asyncio.to_thread(sim.advance, 1000)
                polls.append(await poller.poll_round())
            assert budget.rejected >= sent
        finally:
            await rest.aclose()
        return polls

    polls = asyncio.run(run())
    assert polls[0] > 0  # it polled until the venue refused
    assert budget.rejected == poller.stats.throttled  # one refused request per back-off
    assert sum(polls[1:]) > 0  # and polled again afterwards
    assert len(srv.accounts.served) == len(poller.accounts)  # everyone reached in the end
    store.close()


def test_poll_command_and_calibrate_from_measured(
    sim: SimExchanges,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """``liqscope positions poll`` outside the tests' poller loop: the accounts of a list file
    polled within the budget into a store; ``calibrate --from-measured`` fits the tier weights
    of the leverage mix the simulator holds for those accounts; bad input: one line."""
    srv = server(sim)
    budget = srv.accounts.enforce()
    for _ in range(30):
        sim.advance(1000)
    open_ids = sorted(int(i) for i in srv._open("BTC").id)
    assert len(open_ids) > 60
    listed = [address("pos:BTC", i) for i in open_ids[:60]] + [address("nobody", 1)]
    addresses = tmp_path / "whales.txt"
    addresses.write_text("# simulated accounts\n" + "\n".join(listed) + "\n")
    db = str(tmp_path / "p.sqlite")
    rest = sim.urls()["hyperliquid"].rest
    args = ["positions", "poll", "--url", rest, "--addresses", str(addresses), "--db", db]
    code, out, err = run_cli(monkeypatch, capsys, *args, "--run-for", "1")
    assert code == 0, err
    assert "61 accounts known; 61 polls" in out
    assert budget.rejected == 0 and 0 < budget.max_requested() <= 1200
    assert set(srv.accounts.served) == set(listed)  # every listed account polled once
    truth = srv.accounts.truth("BTC")
    assert len(truth) == 60
    code, out, err = run_cli(monkeypatch, capsys, "positions", "--symbol", "BTC", "--json",
                             "--db", db, "--limit", "1000")  # fmt: skip
    assert code == 0, err
    stored = orjson.loads(out)
    assert stored["matched"] == 60 and stored["coverage"]["accounts"]["known"] == 61

    # the tier weights of the measured leverage mix vs the simulator's own positions
    code, out, err = run_cli(monkeypatch, capsys, "calibrate", "--from-measured", "--symbol",
                             "BTC", "--preset", "all", "--db", db, "--json")  # fmt: skip
    assert code == 0, err
    fit = json.loads(out)["measured"]
    tiers = np.log(np.asarray(fit["leverages"]))
    want = np.zeros(tiers.size)
    for p in truth:  # each true position's USD at entry to the tier nearest its leverage
        want[int(np.abs(np.log(p.leverage) - tiers).argmin())] += p.qty * p.entry_px
    np.testing.assert_allclose(fit["tier_weights"], want / want.sum(), atol=1e-4)
    assert fit["positions"] == 60
    assert not np.allclose(fit["tier_weights"], (0.25, 0.30, 0.25, 0.12, 0.08), atol=0.02)

    # bad input and an unreachable venue: one line, non-zero exit, nothing stored lost
    bad = tmp_path / "bad.txt"
    bad.write_text("0xnothex\n")
    for extra in (["--url", "http://127.0.0.1:9", "--db", db],
                  ["--url", rest, "--addresses", str(bad), "--db", db],
                  ["--url", rest, "--addresses", str(tmp_path / "missing.txt"), "--db", db],
                  ["--url", "ftp://x", "--db", db]):  # fmt: skip
        code, out, err = run_cli(monkeypatch, capsys, "positions", "poll", *extra)
        assert code != 0 and err.startswith("error:") and "Traceback" not in err, err
        assert len(err.strip().splitlines()) == 1, err
    code, out, err = run_cli(monkeypatch, capsys, "positions", "--symbol", "BTC", "--json",
                             "--db", db)  # fmt: skip
    assert code == 0 and orjson.loads(out)["matched"] == 60
