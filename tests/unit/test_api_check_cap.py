"""``/api/check`` refuses leverage above the venue's cap for the position's size, as
``liqscope check`` does (``domain.liqprice.check_leverage``)."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from api_app import store_app

from liqscope.domain import registry
from liqscope.domain.errors import InputError
from liqscope.domain.liqprice import check_leverage

APP = store_app(minutes=2 * 1440, liquidations_per_day=300, markets=(("binance", "BTCUSDT"),))
ENTRY = 60_000.0


def get(**params: Any) -> httpx.Response:
    async def go() -> httpx.Response:
        transport = httpx.ASGITransport(app=APP)
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as c:
            return await c.get("/api/check", params={"symbol": "BTCUSDT", "days": 1, **params})

    return asyncio.run(go())


def _cap_refuses(leverage: float, qty: float) -> bool:
    inst = registry.instrument("binance", "BTCUSDT")
    try:
        check_leverage(inst, registry.default_tiers("binance", "BTCUSDT"), ENTRY, leverage, qty)
    except InputError:
        return True
    return False


@pytest.mark.parametrize(("leverage", "qty"), [(100.0, 100.0), (50.0, 500.0)])
def test_leverage_above_the_cap_for_the_size_is_422(leverage: float, qty: float) -> None:
    assert _cap_refuses(leverage, qty)  # the domain's verdict on this size
    r = get(side="long", entry=ENTRY, leverage=leverage, qty=qty)
    assert r.status_code == 422, r.text
    (detail,) = r.json()["detail"]
    assert detail["loc"][-1] == "leverage"
    assert "cap" in detail["msg"] and "\n" not in detail["msg"]


def test_the_default_size_is_checked_too() -> None:
    assert _cap_refuses(200.0, 10_000 / ENTRY)  # the endpoint's default size is $10k
    r = get(side="short", entry=ENTRY, leverage=200)
    assert r.status_code == 422, r.text
    (detail,) = r.json()["detail"]
    assert detail["loc"][-1] == "leverage" and "cap" in detail["msg"]


def test_leverage_within_the_cap_is_answered() -> None:
    assert not _cap_refuses(10.0, 1.0)
    r = get(side="long", entry=ENTRY, leverage=10, qty=1)
    assert r.status_code == 200, r.text
    assert 0 < r.json()["liq_price"] < ENTRY
