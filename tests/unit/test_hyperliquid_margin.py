"""Hyperliquid margin tables from ``meta``: every listed coin gets its real table."""

from __future__ import annotations

import numpy as np
import pytest

from liqscope.domain import registry
from liqscope.domain.errors import InputError
from liqscope.model import ModelConfig, estimate
from liqscope.model.steps import Steps
from liqscope.venues.hyperliquid.margin import margin_tiers_from_meta, register_from_meta

META = {
    "universe": [
        {"name": "BTC", "szDecimals": 5, "maxLeverage": 40, "marginTableId": 56},
        {"name": "ZZFLAT", "szDecimals": 0, "maxLeverage": 10, "marginTableId": 10},
        {"name": "ZZNOID", "szDecimals": 1, "maxLeverage": 5},
        {"name": "ZZOLD", "szDecimals": 0, "maxLeverage": 3, "isDelisted": True},
    ],
    "marginTables": [
        [56, {"description": "tiered 40x", "marginTiers": [
            {"lowerBound": "0.0", "maxLeverage": 40},
            {"lowerBound": "150000000.0", "maxLeverage": 20}]}],
    ],
}  # fmt: skip


def test_tables_read_as_documented() -> None:
    t = margin_tiers_from_meta(META)
    assert set(t) == {"BTC", "ZZFLAT", "ZZNOID"}  # delisted coins are skipped
    btc = t["BTC"]
    assert [(x.floor, x.cap, x.max_leverage) for x in btc] == [
        (0.0, 150e6, 40), (150e6, float("inf"), 20)]  # fmt: skip
    assert btc[0].mmr == pytest.approx(1 / 80) and btc[1].mmr == pytest.approx(1 / 40)
    assert btc[1].maint_amount == pytest.approx(150e6 * (1 / 40 - 1 / 80))  # continuity
    # the same table as the built-in one (documented BTC tiers)
    builtin = registry.default_tiers("hyperliquid", "BTC").tiers
    assert [(x.cap, x.mmr, x.max_leverage) for x in btc] == [
        (x.cap, x.mmr, x.max_leverage) for x in builtin]  # fmt: skip
    assert [(x.max_leverage, x.mmr) for x in t["ZZFLAT"]] == [(10, 0.05)]
    assert [x.max_leverage for x in t["ZZNOID"]] == [5]


@pytest.fixture
def clean_registry():  # type: ignore[no-untyped-def]
    """Registration is process-wide: remove the test coins afterwards."""
    yield
    for coin in ("ZZFLAT", "ZZNOID"):
        registry._ENTRIES.pop(("hyperliquid", coin), None)  # test-only cleanup of a private table


@pytest.mark.usefixtures("clean_registry")
def test_registered_coins_can_be_estimated() -> None:
    meta = {"universe": [m for m in META["universe"] if m["name"].startswith("ZZ")]}  # type: ignore[index,union-attr]
    assert register_from_meta(meta) == ["ZZFLAT", "ZZNOID"]
    n = 30
    c = 1.0 + 0.001 * np.arange(n)
    s = Steps(ts=1_700_000_000_000 + 3_600_000 * np.arange(n, dtype=np.int64), open=c,
              high=c * 1.01, low=c * 0.99, close=c, volume=np.ones(n),
              taker_buy_volume=np.full(n, np.nan), oi_base=np.full(n, 1e6),
              venue="hyperliquid", symbol="ZZFLAT")  # fmt: skip
    r = estimate(s, ModelConfig(max_columns=4))
    assert r.meta["capped_tiers"] == {"25": 10.0, "50": 10.0, "100": 10.0}
    assert r.ratios[4, 0] == pytest.approx(r.ratios[1, 0])  # 25-100x sit at the 10x level,
    assert r.ratios[0, 0] < r.ratios[1, 0]  # each on its own layer; 5x is further away
    assert r.snapshots[-1, 4].sum() > 0 and r.snapshots[-1, 2].sum() > 0


@pytest.mark.parametrize(
    "meta",
    [{"universe": [{"name": "X", "maxLeverage": 5, "marginTableId": 77}]},
     {"universe": [{"name": "X"}]}, {"nope": 1}, [1, 2]],
)  # fmt: skip
def test_bad_meta_is_one_clear_error(meta: object) -> None:
    with pytest.raises(InputError, match="hyperliquid meta"):
        margin_tiers_from_meta(meta)
