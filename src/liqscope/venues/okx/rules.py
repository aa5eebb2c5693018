"""OKX v5 facts: contract values, instrument types, bar names, limits."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from liqscope.domain import registry
from liqscope.domain.errors import InputError
from liqscope.domain.instruments import Instrument
from liqscope.domain.types import ContractType

VENUE = "okx"

# Used until /api/v5/public/instruments has been loaded (the registry's built-in sizes:
# linear ctVal in base, inverse in USD).
DEFAULT_INSTRUMENTS: Mapping[str, Instrument] = {i.symbol: i for i in registry.instruments(VENUE)}

# canonical interval -> OKX bar (UTC-aligned variants for 6h and longer)
BARS = {
    "1m": "1m",
    "3m": "3m",
    "5m": "5m",
    "15m": "15m",
    "30m": "30m",
    "1h": "1H",
    "2h": "2H",
    "4h": "4H",
    "6h": "6Hutc",
    "12h": "12Hutc",
    "1d": "1Dutc",
    "1w": "1Wutc",
}
HISTORY_CANDLES_LIMIT = 100
PING_INTERVAL_S = 25.0  # OKX drops a connection silent for 30 s
SUBSCRIBE_ARGS_PER_MESSAGE = 50


def inst_type(inst_id: str) -> str:
    """``SWAP`` for ``…-SWAP``, ``FUTURES`` for dated ``BTC-USD-250328``."""
    return "SWAP" if inst_id.endswith("-SWAP") else "FUTURES"


def inst_family(inst_id: str) -> str:
    """``BTC-USDT-SWAP`` -> ``BTC-USDT``."""
    parts = inst_id.split("-")
    return "-".join(parts[:2])


def bar(interval: str) -> str:
    try:
        return BARS[interval]
    except KeyError:
        raise InputError(f"okx: unsupported candle interval {interval!r}") from None


def instrument_from_row(row: Mapping[str, Any]) -> Instrument:
    """An :class:`Instrument` from one ``/api/v5/public/instruments`` row."""
    inst_id = str(row["instId"])
    family = str(row.get("instFamily") or row.get("uly") or inst_family(inst_id))
    base, _, quote = family.partition("-")
    kind = ContractType.INVERSE if row.get("ctType") == "inverse" else ContractType.LINEAR
    mult = row.get("ctMult") or "1"
    size = float(row["ctVal"]) * float(mult)
    if not size > 0.0:
        raise ValueError(f"non-positive ctVal for {inst_id}")
    return Instrument(VENUE, inst_id, base, quote, kind, size)
