"""Tier tables: validation, lookup, and the loaders for each venue's published JSON shape."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from liqscope.domain.errors import InputError
from liqscope.domain.tiers import (
    Tier,
    TierBasis,
    TierTable,
    chain_tiers,
    from_bybit,
    from_ccxt,
    from_okx,
    load_tiers,
)

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "tiers"


def test_binance_usdm_brackets_pick_the_named_symbol() -> None:
    table = load_tiers(FIXTURES / "binance_leverage_bracket.json", "binance", "BTCUSDT")
    assert (table.venue, table.symbol, table.basis) == ("binance", "BTCUSDT", TierBasis.QUOTE)
    assert len(table.tiers) == 5
    assert table.tiers[3] == Tier(3_000_000, 12_000_000, 0.01, 12_000, 50)
    assert table.max_leverage_for(299_999) == 150
    assert table.max_leverage_for(300_000) == 100


def test_binance_several_symbols_need_a_name() -> None:
    with pytest.raises(InputError, match="ETHUSDT, BTCUSDT"):
        load_tiers(FIXTURES / "binance_leverage_bracket.json", "binance")


def test_binance_coin_m_brackets_are_in_coins() -> None:
    table = load_tiers(FIXTURES / "binance_coinm_leverage_bracket.json", "binance")
    assert table.basis is TierBasis.BASE
    assert [t.cap for t in table.tiers] == [5, 10, 20]
    assert table.tiers[2].maint_amount == pytest.approx(0.055)


def test_binance_inconsistent_cum_is_rejected() -> None:
    with pytest.raises(InputError, match=r"tier 2 maintenance amount 3000 .*expected 300\)"):
        load_tiers(FIXTURES / "binance_bad_cum.json", "binance")


def test_ccxt_linear_and_inverse_by_venue_symbol() -> None:
    linear = load_tiers(FIXTURES / "ccxt_leverage_tiers.json", "ccxt", "BTCUSDT")
    assert linear.symbol == "BTC/USDT:USDT"
    assert linear.basis is TierBasis.QUOTE
    assert linear.tiers[1] == Tier(300_000, 800_000, 0.005, 300, 100)
    inverse = load_tiers(FIXTURES / "ccxt_leverage_tiers.json", "ccxt", "BTCUSD_PERP")
    assert inverse.symbol == "BTC/USD:BTC"
    assert inverse.basis is TierBasis.BASE
    assert inverse.tiers[1].maint_amount == pytest.approx(0.005)


def test_ccxt_okx_style_tiers_are_contracts() -> None:
    data = {
        "BTC/USDT:USDT": [
            {
                "tier": 1,
                "minNotional": 0,
                "maxNotional": 20000,
                "maintenanceMarginRate": 0.004,
                "maxLeverage": 100,
                "info": {"minSz": "0", "maxSz": "20000"},
            }
        ]
    }
    table = from_ccxt(data, "BTC-USDT-SWAP", "okx")
    assert (table.venue, table.basis) == ("okx", TierBasis.CONTRACTS)


def test_bybit_linear_sorted_by_id_and_floors_chained() -> None:
    table = load_tiers(FIXTURES / "bybit_risk_limit_linear.json", "bybit", "BTCUSDT")
    assert table.basis is TierBasis.QUOTE
    assert table.tiers == (
        Tier(0, 2_000_000, 0.005, 0, 100),
        Tier(2_000_000, 10_000_000, 0.01, 10_000, 50),
    )


def test_bybit_inverse_percent_rates_and_coin_basis() -> None:
    table = load_tiers(FIXTURES / "bybit_risk_limit_inverse_percent.json", "bybit")
    assert table.basis is TierBasis.BASE
    assert [t.mmr for t in table.tiers] == pytest.approx([0.005, 0.01])
    assert [t.cap for t in table.tiers] == [150, 300]


def test_okx_contract_tiers_join_integer_gaps() -> None:
    table = load_tiers(FIXTURES / "okx_position_tiers.json", "okx", "BTC-USDT-SWAP")
    assert (table.venue, table.symbol, table.basis) == ("okx", "BTC-USDT", TierBasis.CONTRACTS)
    assert [(t.floor, t.cap) for t in table.tiers] == [
        (0, 20_000),
        (20_000, 40_000),
        (40_000, 80_000),
    ]
    assert all(t.maint_amount == 0 for t in table.tiers)
    assert table.tiers[2].mmr == 0.01


@pytest.mark.parametrize(
    ("name", "fmt", "message"),
    [
        ("truncated.json", "binance", "not valid JSON"),
        ("bybit_missing_field.json", "bybit", "missing field 'riskLimitValue'"),
        ("okx_error_reply.json", "okx", "error reply code 51000"),
        ("okx_position_tiers.json", "binance", "expected a list of objects|missing field"),
        ("does_not_exist.json", "binance", "cannot read tier file"),
        ("binance_leverage_bracket.json", "kraken", "unknown tier format"),
        ("binance_leverage_bracket.json", "binance", "no tiers for 'DOGEUSDT'"),
    ],
)
def test_bad_files_raise_input_error(name: str, fmt: str, message: str) -> None:
    with pytest.raises(InputError, match=message):
        load_tiers(FIXTURES / name, fmt, "DOGEUSDT" if "bracket" in name else None)


def test_non_numeric_field_is_named() -> None:
    data = {
        "code": "0",
        "data": [
            {
                "instFamily": "X-USDT",
                "minSz": "0",
                "maxSz": "ten",
                "mmr": "0.01",
                "maxLever": "50",
                "tier": "1",
            }
        ],
    }
    with pytest.raises(InputError, match="expected a number, got 'ten'"):
        from_okx(data)


def test_bybit_reply_without_result_is_rejected() -> None:
    with pytest.raises(InputError, match="missing field 'result'"):
        from_bybit({"retCode": 10001, "retMsg": "params error"})


@pytest.mark.parametrize(
    ("tiers", "message"),
    [
        ((), "no tiers"),
        ((Tier(10, 20, 0.01, 0, 10),), "must start at 0"),
        ((Tier(0, 10, 0.01, 0, 10), Tier(12, 20, 0.02, 0.1, 5)), "does not meet"),
        ((Tier(0, 10, 0.01, 0, 10), Tier(10, 5, 0.02, 0.1, 5)), "cap 5 <= floor 10"),
        ((Tier(0, 10, 0.0, 0, 10),), r"MMR 0 is not in \(0, 1\)"),
        ((Tier(0, 10, 0.01, 0, 0),), "max leverage 0"),
    ],
)
def test_table_validation(tiers: tuple[Tier, ...], message: str) -> None:
    with pytest.raises(InputError, match=message):
        TierTable("x", "Y", TierBasis.QUOTE, tiers)


def test_lookup_is_half_open_and_last_tier_open_ended() -> None:
    table = TierTable("x", "Y", TierBasis.QUOTE, chain_tiers([(100, 0.01, 50), (200, 0.02, 25)]))
    assert table.index_for(0) == 0
    assert table.index_for(99.999) == 0
    assert table.index_for(100) == 1
    assert table.tier_for(1e12).mmr == 0.02


def test_chain_tiers_follows_the_consistency_rule() -> None:
    tiers = chain_tiers([(300_000, 0.004, 150), (800_000, 0.005, 100), (3e6, 0.0065, 75)])
    assert [t.maint_amount for t in tiers] == pytest.approx([0, 300, 1_500])
    assert [t.floor for t in tiers] == [0, 300_000, 800_000]
    assert not math.isinf(tiers[-1].cap)
