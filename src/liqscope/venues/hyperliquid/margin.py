"""Hyperliquid margin tables for every listed coin, read from the venue's ``meta`` reply.

``meta`` (``{"type": "meta"}``, or the first element of ``metaAndAssetCtxs``) lists
``universe[] = {name, szDecimals, maxLeverage, marginTableId?, isDelisted?}`` and
``marginTables = [[id, {description, marginTiers: [{lowerBound, maxLeverage}]}], ...]``.
A ``marginTableId`` below 50 is a flat table at that leverage and is never listed; a coin
without one is held to its ``maxLeverage`` at any size. Maintenance margin is half the
initial margin at the tier's max leverage (``rules.maintenance_margin_rate``), deductions by
the continuity rule, as in the built-in BTC/ETH/SOL tables.
"""

from __future__ import annotations

import math
from typing import Any

from liqscope.domain import registry
from liqscope.domain.errors import InputError
from liqscope.domain.instruments import Instrument
from liqscope.domain.tiers import Tier, TierBasis, chain_tiers
from liqscope.domain.types import ContractType
from liqscope.venues.hyperliquid.rules import maintenance_margin_rate

__all__ = ["FLAT_TABLES_BELOW", "margin_tiers_from_meta", "register_from_meta"]

FLAT_TABLES_BELOW = 50
"""Margin table ids below this are a single tier at that leverage (never listed)."""


def _tiers(rows: list[tuple[float, int]]) -> tuple[Tier, ...]:
    """``(lower bound, max leverage)`` rows -> tiers (cap = the next lower bound)."""
    rows = sorted(rows)
    caps = [b for b, _ in rows[1:]] + [math.inf]
    return chain_tiers(
        [(cap, maintenance_margin_rate(lev), lev) for cap, (_, lev) in zip(caps, rows, strict=True)]
    )


def margin_tiers_from_meta(meta: Any) -> dict[str, tuple[Tier, ...]]:
    """``{coin: tiers}`` for every listed (not delisted) coin of a ``meta`` reply."""
    try:
        tables: dict[int, list[tuple[float, int]]] = {}
        for tid, body in meta.get("marginTables") or []:
            tables[int(tid)] = [
                (float(t["lowerBound"]), int(t["maxLeverage"])) for t in body["marginTiers"]
            ]
        out: dict[str, tuple[Tier, ...]] = {}
        for asset in meta["universe"]:
            if asset.get("isDelisted"):
                continue
            tid = asset.get("marginTableId")
            if tid is None:
                rows = [(0.0, int(asset["maxLeverage"]))]
            elif int(tid) < FLAT_TABLES_BELOW:
                rows = [(0.0, int(tid))]
            elif int(tid) in tables:
                rows = tables[int(tid)]
            else:
                raise InputError(
                    f"hyperliquid meta: {asset['name']} names unknown margin table {tid}"
                )
            if not rows or any(lev < 1 for _, lev in rows):
                raise InputError(f"hyperliquid meta: bad margin table for {asset['name']}")
            out[str(asset["name"])] = _tiers(rows)
        return out
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise InputError(f"hyperliquid meta: unreadable ({exc})") from None


def register_from_meta(meta: Any) -> list[str]:
    """Register every listed coin's margin table in the domain registry (so the estimator
    and the liquidation-price tools price any Hyperliquid coin); returns the coins."""
    tables = margin_tiers_from_meta(meta)
    for coin, tiers in tables.items():
        inst = Instrument("hyperliquid", coin, coin, "USDC", ContractType.LINEAR)
        registry.register(inst, TierBasis.QUOTE, tiers)
    return sorted(tables)
