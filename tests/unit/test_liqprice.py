"""Liquidation prices against hand-computed vectors (exchange-reference §5, §6), the built-in
registry, and the ``liqscope liqprice`` command."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import click
import pytest
import typer.main
from click.testing import CliRunner

import liqscope.cli.liqprice  # noqa: F401  (registers the command)
from liqscope.cli.app import app
from liqscope.domain import registry
from liqscope.domain.errors import InputError
from liqscope.domain.instruments import Instrument
from liqscope.domain.liqprice import (
    LiqResult,
    level_ratio,
    liquidation_price,
    ratio_is_entry_independent,
)
from liqscope.domain.tiers import Tier, TierBasis, TierTable
from liqscope.domain.types import ContractType, Side

LONG, SHORT = Side.LONG, Side.SHORT
TOL = 1e-4


def lp(
    venue: str, symbol: str, side: Side, entry: float, lev: float, qty: float, method: str = "exact"
) -> LiqResult:
    inst = registry.instrument(venue, symbol)
    return liquidation_price(
        inst, registry.default_tiers(venue, symbol), side, entry, lev, qty, method
    )


# --- exchange-reference §6 test vectors -------------------------------------------------------


def test_binance_linear_tier_1() -> None:
    long = lp("binance", "BTCUSDT", LONG, 100_000, 10, 1)
    short = lp("binance", "BTCUSDT", SHORT, 100_000, 10, 1)
    assert long.price == pytest.approx(90_361.4458, abs=TOL)
    assert short.price == pytest.approx(109_561.7530, abs=TOL)
    assert (long.tier, long.mmr, long.maint_amount, long.method) == (1, 0.004, 0, "exact")


def test_shortcut_same_inputs() -> None:
    assert lp("binance", "BTCUSDT", LONG, 100_000, 10, 1, "shortcut").price == pytest.approx(
        90_400, abs=TOL
    )
    assert lp("binance", "BTCUSDT", SHORT, 100_000, 10, 1, "shortcut").price == pytest.approx(
        109_600, abs=TOL
    )


def test_tier_is_chosen_at_the_liquidation_price() -> None:
    long = lp("binance", "BTCUSDT", LONG, 100_000, 10, 50)
    short = lp("binance", "BTCUSDT", SHORT, 100_000, 10, 50)
    assert (long.tier, long.mmr, long.maint_amount) == (4, 0.01, 12_000)
    assert long.price == pytest.approx(90_666.6667, abs=TOL)
    assert (short.tier, short.mmr, short.maint_amount) == (4, 0.01, 12_000)
    assert short.price == pytest.approx(109_148.5149, abs=TOL)
    # Tier 3 (MMR 0.0065, cum 1,500) would give (5e6 - 5e5 - 1500) / (50 × 0.9935) = 90,558.63,
    # a notional of 4.53M: outside tier 3's [0.8M, 3M). Tier 4 at the entry notional (5M) too,
    # but the entry notional is not what decides.
    assert 50 * 90_558.63 > 3_000_000


def test_binance_100x() -> None:
    assert lp("binance", "BTCUSDT", LONG, 100_000, 100, 1).price == pytest.approx(
        99_397.5904, abs=TOL
    )
    assert lp("binance", "BTCUSDT", SHORT, 100_000, 100, 1).price == pytest.approx(
        100_597.6096, abs=TOL
    )


def test_binance_inverse_coin_m() -> None:
    long = lp("binance", "BTCUSD_PERP", LONG, 50_000, 10, 100)
    short = lp("binance", "BTCUSD_PERP", SHORT, 50_000, 10, 100)
    assert long.price == pytest.approx(45_636.3636, abs=TOL)
    assert short.price == pytest.approx(55_333.3333, abs=TOL)
    assert long.mmr == short.mmr == 0.004


def test_bybit_linear_doc_example() -> None:
    assert lp("bybit", "BTCUSDT", LONG, 20_000, 50, 1).price == pytest.approx(19_700, abs=TOL)
    assert lp("bybit", "BTCUSDT", SHORT, 20_000, 50, 1).price == pytest.approx(20_300, abs=TOL)


def test_bybit_inverse_doc_example() -> None:
    # 60,000 USD = 60,000 contracts of 1 USD. PV 1.2, IM 0.12, MM 0.006 BTC.
    assert lp("bybit", "BTCUSD", LONG, 50_000, 10, 60_000).price == pytest.approx(
        45_662.10, abs=5e-3
    )
    # short: 60,000 / (1.2 - 0.12 + 0.006)
    assert lp("bybit", "BTCUSD", SHORT, 50_000, 10, 60_000).price == pytest.approx(
        55_248.6188, abs=TOL
    )


# --- OKX and Hyperliquid (hand-computed from their documented conditions) --------------------


def test_okx_linear_includes_the_liquidation_fee() -> None:
    # 1 BTC = 100 contracts; MMR 0.004 + taker 0.0005. long 90,000 / 0.9955, short 110,000 / 1.0045
    assert lp("okx", "BTC-USDT-SWAP", LONG, 100_000, 10, 1).price == pytest.approx(
        90_406.8307, abs=TOL
    )
    assert lp("okx", "BTC-USDT-SWAP", SHORT, 100_000, 10, 1).price == pytest.approx(
        109_507.2175, abs=TOL
    )


def test_okx_inverse() -> None:
    # 100 contracts × 100 USD at 50,000, 10×, r = 0.0055: long 50,000·1.0055/1.1, short ·0.9945/0.9
    assert lp("okx", "BTC-USD-SWAP", LONG, 50_000, 10, 100).price == pytest.approx(
        45_704.5455, abs=TOL
    )
    assert lp("okx", "BTC-USD-SWAP", SHORT, 50_000, 10, 100).price == pytest.approx(
        55_250.0, abs=TOL
    )


def test_okx_tier_follows_contract_count() -> None:
    # 250 BTC = 25,000 contracts: tier 2 of the built-in table whatever the price.
    assert lp("okx", "BTC-USDT-SWAP", LONG, 100_000, 10, 250).tier == 2
    assert lp("okx", "BTC-USDT-SWAP", LONG, 1_000, 10, 250).tier == 2


def test_hyperliquid_matches_its_documented_formula() -> None:
    # §5: liq = price − side·margin_available/size/(1 − l·side), l = 1/80 at 40× max,
    # margin_available = 10,000 − 100,000/80 = 8,750.
    assert lp("hyperliquid", "BTC", LONG, 100_000, 10, 1).price == pytest.approx(
        100_000 - 8_750 / 0.9875, abs=TOL
    )
    assert lp("hyperliquid", "BTC", SHORT, 100_000, 10, 1).price == pytest.approx(
        108_641.9753, abs=TOL
    )


# --- edges and errors ---------------------------------------------------------------------


def test_unliquidatable_positions() -> None:
    assert lp("binance", "BTCUSDT", LONG, 100_000, 1, 1).price == 0.0
    assert lp("binance", "BTCUSDT", LONG, 100_000, 0.5, 1).price == 0.0
    assert lp("binance", "BTCUSD_PERP", SHORT, 50_000, 1, 100).price == math.inf


@pytest.mark.parametrize(
    ("entry", "lev", "qty", "method", "message"),
    [
        (0, 10, 1, "exact", "entry must be a positive number"),
        (100, 0, 1, "exact", "leverage must be a positive number, got 0"),
        (100, -5, 1, "exact", "leverage"),
        (100, 10, math.nan, "exact", "qty"),
        (math.inf, 10, 1, "exact", "entry"),
        (100, 10, 1, "magic", "unknown method 'magic'"),
    ],
)
def test_nonsense_input_raises(
    entry: float, lev: float, qty: float, method: str, message: str
) -> None:
    with pytest.raises(InputError, match=message):
        lp("binance", "BTCUSDT", LONG, entry, lev, qty, method)


def test_unknown_venue_rule() -> None:
    inst = Instrument("kraken", "XBTUSD", "BTC", "USD", ContractType.LINEAR)
    with pytest.raises(InputError, match="no liquidation rule for venue 'kraken'"):
        liquidation_price(inst, registry.default_tiers("binance", "BTCUSDT"), LONG, 1, 2, 1)


def test_leverage_above_tier_max_is_allowed_and_reported() -> None:
    tiers = registry.default_tiers("binance", "BTCUSDT")
    assert tiers.max_leverage_for(5_000_000) == 50
    assert lp("binance", "BTCUSDT", LONG, 100_000, 100, 50).price < 100_000


# --- level ratio ---------------------------------------------------------------------------


def test_level_ratio_times_entry_is_the_liquidation_price() -> None:
    inst = registry.instrument("binance", "BTCUSDT")
    tiers = registry.default_tiers("binance", "BTCUSDT")
    ratio = level_ratio(inst, tiers, LONG, 10, 5_000_000)
    assert ratio == pytest.approx(0.906666667, abs=1e-9)
    for entry in (20_000.0, 100_000.0, 250_000.0):
        qty = 5_000_000 / entry
        assert ratio * entry == pytest.approx(
            liquidation_price(inst, tiers, LONG, entry, 10, qty).price, rel=1e-12
        )


def test_level_ratio_inverse_contracts_is_entry_free() -> None:
    inst = registry.instrument("okx", "BTC-USD-SWAP")
    tiers = registry.default_tiers("okx", "BTC-USD-SWAP")
    assert ratio_is_entry_independent(inst, tiers)
    assert level_ratio(inst, tiers, LONG, 10, 10_000) == pytest.approx(1.0055 / 1.1, rel=1e-12)


@pytest.mark.parametrize(
    ("venue", "symbol"), [("okx", "BTC-USDT-SWAP"), ("bybit", "BTCUSD"), ("binance", "BTCUSD_PERP")]
)
def test_level_ratio_needs_a_reference_when_entry_matters(venue: str, symbol: str) -> None:
    inst = registry.instrument(venue, symbol)
    tiers = registry.default_tiers(venue, symbol)
    assert not ratio_is_entry_independent(inst, tiers)
    with pytest.raises(InputError, match="pass reference_price"):
        level_ratio(inst, tiers, LONG, 10, 1_000_000)
    ratio = level_ratio(inst, tiers, SHORT, 10, 1_000_000, reference_price=50_000)
    qty = 1_000_000 / inst.contract_size if inst.inverse else 1_000_000 / 50_000
    assert ratio * 50_000 == pytest.approx(
        liquidation_price(inst, tiers, SHORT, 50_000, 10, qty).price, rel=1e-12
    )


def test_shortcut_ratio_is_entry_free_for_quote_tables() -> None:
    inst = registry.instrument("bybit", "ETHUSDT")
    tiers = registry.default_tiers("bybit", "ETHUSDT")
    assert level_ratio(inst, tiers, SHORT, 20, 1_000, "shortcut") == pytest.approx(1.045)


# --- registry --------------------------------------------------------------------------------


def test_binance_btcusdt_is_the_reference_table() -> None:
    tiers = registry.default_tiers("binance", "btcusdt")
    assert tiers.basis is TierBasis.QUOTE
    assert [(t.floor, t.cap, t.mmr, t.max_leverage, t.maint_amount) for t in tiers.tiers] == [
        (0, 300e3, 0.004, 150, 0),
        (300e3, 800e3, 0.005, 100, 300),
        (800e3, 3e6, 0.0065, 75, 1_500),
        (3e6, 12e6, 0.01, 50, 12_000),
        (12e6, 70e6, 0.02, 25, 132_000),
        (70e6, 100e6, 0.025, 20, 482_000),
        (100e6, 230e6, 0.05, 10, 2_982_000),
        (230e6, 480e6, 0.1, 5, 14_482_000),
        (480e6, 600e6, 0.125, 4, 26_482_000),
        (600e6, 800e6, 0.15, 3, 41_482_000),
        (800e6, 1.2e9, 0.25, 2, 121_482_000),
        (1.2e9, 1.8e9, 0.5, 1, 421_482_000),
    ]
    tiers.check_deductions()


@pytest.mark.parametrize(
    ("symbol", "first", "second", "boundary"),
    [("BTC", 40, 20, 150e6), ("ETH", 25, 15, 100e6), ("SOL", 20, 10, 70e6)],
)
def test_hyperliquid_margin_tiers(symbol: str, first: int, second: int, boundary: float) -> None:
    tiers = registry.default_tiers("hyperliquid", symbol)
    assert tiers.max_leverage_for(boundary * 0.999) == first
    assert tiers.max_leverage_for(boundary) == second
    assert tiers.tiers[0].mmr == pytest.approx(1 / (2 * first))
    assert tiers.tiers[1].maint_amount == pytest.approx(
        boundary * (1 / (2 * second) - 1 / (2 * first))
    )


def test_contract_sizes() -> None:
    sizes = {(v, s): registry.instrument(v, s).contract_size for v, s in registry.known_symbols()}
    assert sizes[("binance", "BTCUSD_PERP")] == 100
    assert sizes[("binance", "ETHUSD_PERP")] == 10
    assert sizes[("okx", "BTC-USDT-SWAP")] == 0.01
    assert sizes[("okx", "ETH-USDT-SWAP")] == 0.1
    assert sizes[("okx", "BTC-USD-SWAP")] == 100
    assert registry.instrument("okx", "BTC-USD-SWAP").inverse
    assert registry.instrument("bybit", "BTCUSD").inverse


def test_builtin_tables_with_deductions_are_consistent() -> None:
    for venue, symbol in registry.known_symbols():
        tiers = registry.default_tiers(venue, symbol)
        if venue != "okx":
            tiers.check_deductions()


def test_registry_errors_name_the_known_ones() -> None:
    with pytest.raises(InputError, match="BTCUSDT, ETHUSDT, SOLUSDT, BTCUSD_PERP"):
        registry.instrument("binance", "DOGEUSDT")
    with pytest.raises(InputError, match="expected one of binance, bybit, okx, hyperliquid"):
        registry.default_tiers("kraken", "XBTUSD")


def test_okx_table_without_deductions_steps() -> None:
    # A two-tier OKX-style table: crossing 100 contracts raises MM on the whole position.
    inst = registry.instrument("okx", "BTC-USDT-SWAP")
    table = TierTable(
        "okx", "T", TierBasis.CONTRACTS, (Tier(0, 100, 0.004, 0, 100), Tier(100, 200, 0.01, 0, 50))
    )
    below = liquidation_price(inst, table, LONG, 100_000, 10, 0.9999).price
    above = liquidation_price(inst, table, LONG, 100_000, 10, 1.0).price
    assert above - below == pytest.approx(90_000 / 0.9895 - 90_000 / 0.9955, rel=1e-3)


# --- CLI ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def cli() -> click.Group:
    return typer.main.get_group(app)


def run(cli: click.Group, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, ["liqprice", *args])
    return result.exit_code, result.stdout, result.stderr


BASE_ARGS = ("--venue", "binance", "--symbol", "BTCUSDT", "--entry", "100000", "--leverage", "10")


def test_cli_human_line(cli: click.Group) -> None:
    code, out, err = run(cli, *BASE_ARGS, "--side", "long", "--qty", "50")
    assert code == 0, err
    assert "liquidation price 90,666.6667" in out
    assert "tier 4" in out


def test_cli_json(cli: click.Group) -> None:
    code, out, _ = run(cli, *BASE_ARGS, "--side", "short", "--qty", "1", "--json")
    assert code == 0
    record = json.loads(out)
    assert record["liquidation_price"] == pytest.approx(109_561.7530, abs=TOL)
    assert record["tier"] == 1
    assert record["notional"] == 100_000
    assert record["distance_pct"] == pytest.approx(9.561753, abs=1e-5)
    assert {
        "venue",
        "symbol",
        "side",
        "entry",
        "leverage",
        "qty",
        "mmr",
        "maint_amount",
        "method",
    } <= record.keys()


def test_cli_shortcut_and_tiers_file(cli: click.Group) -> None:
    fixture = Path(__file__).resolve().parents[1] / "fixtures" / "tiers"
    code, out, _ = run(
        cli,
        *BASE_ARGS,
        "--side",
        "long",
        "--qty",
        "50",
        "--json",
        "--tiers-file",
        str(fixture / "binance_leverage_bracket.json"),
    )
    assert code == 0
    assert json.loads(out)["tier"] == 4
    code, out, _ = run(
        cli, *BASE_ARGS, "--side", "long", "--qty", "1", "--method", "shortcut", "--json"
    )
    assert json.loads(out)["liquidation_price"] == pytest.approx(90_400)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--side", "long", "--qty", "1", "--leverage", "0"), "leverage must be a positive"),
        (("--side", "sideways", "--qty", "1"), "unknown side"),
        (("--side", "long", "--qty", "1", "--symbol", "NOPE"), "no built-in data for binance"),
        (("--side", "long", "--qty", "1", "--tiers-file", "/nonexistent.json"), "cannot read"),
        (("--side", "long", "--qty", "1", "--tiers-format", "okx"), "needs --tiers-file"),
    ],
)
def test_cli_bad_input_exits_2(cli: click.Group, args: tuple[str, ...], message: str) -> None:
    code, out, err = run(cli, *BASE_ARGS, *args)
    assert code == 2
    assert out == ""
    assert err.startswith("error: ") and message in err
    assert err.count("\n") == 1


def test_installed_script_end_to_end() -> None:
    script = Path(sys.executable).with_name("liqscope")
    args = [str(script), "liqprice", *BASE_ARGS, "--side", "long", "--qty", "1"]
    ok = subprocess.run([*args, "--json"], capture_output=True, text=True, timeout=60)
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout)["liquidation_price"] == pytest.approx(90_361.4458, abs=TOL)
    bad = subprocess.run([*args, "--entry", "-1"], capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2
    assert bad.stderr == "error: entry must be a positive number, got -1\n"
