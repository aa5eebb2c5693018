"""The API over a real SQLite store filled with a synthetic market (shared by API tests)."""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI

from liqscope.api.app import Settings, create_app
from liqscope.domain.clock import ManualClock
from liqscope.domain.intervals import MINUTE_MS as MINUTE
from liqscope.sim.synthetic import fill_store
from liqscope.store.sqlite import SqliteStore

START_MS = 1_760_000_000_000 // 3_600_000 * 3_600_000
MARKETS = (("binance", "BTCUSDT"), ("bybit", "BTCUSDT"), ("okx", "BTC-USDT-SWAP"))
_FOLDERS: list[tempfile.TemporaryDirectory[str]] = []  # removed when the test run ends


def store_app(
    minutes: int = 1440,
    liquidations_per_day: int = 300,
    markets: tuple[tuple[str, str], ...] = MARKETS,
) -> FastAPI:
    """An app serving a fresh store with ``minutes`` of 1-minute data per market, its clock
    standing at the end of the data."""
    folder = tempfile.TemporaryDirectory(prefix="liqscope-api-")
    _FOLDERS.append(folder)
    db = Path(folder.name) / "api.sqlite"
    with SqliteStore(db) as store:
        fill_store(store, START_MS, minutes, markets, liquidations_per_day)
    clock = ManualClock(START_MS + minutes * MINUTE)
    return create_app(Settings(db_path=str(db), clock=clock))


def asgi_get(app: FastAPI, path: str, **params: Any) -> httpx.Response:
    """One GET to ``app`` in process (ASGI transport, loopback Host)."""

    async def go() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as c:
            return await c.get(path, params=params)

    return asyncio.run(go())


def asgi_ok(app: FastAPI, path: str, **params: Any) -> dict[str, Any]:
    """The JSON body of a GET that must answer 200."""
    r = asgi_get(app, path, **params)
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body
