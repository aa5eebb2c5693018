"""Maintenance-margin tier tables and loaders for each venue's published shape.

A tier says: while the position *measure* lies in ``[floor, cap)``, maintenance margin is
``measure_value × mmr − maint_amount`` (in the margin currency) and leverage may be at most
``max_leverage``. What the measure is depends on the venue, recorded as the table's
:class:`TierBasis`:

- ``QUOTE``: position notional in quote/USD. Binance USDⓈ-M ``notionalFloor``/``notionalCap``,
  Bybit linear ``riskLimitValue`` (USDT), Hyperliquid (USDC), ccxt linear tables.
- ``BASE``: position size in coins. Binance COIN-M ``qtyFloor``/``qtyCap``, Bybit inverse
  ``riskLimitValue`` (e.g. 150 = 150 BTC).
- ``CONTRACTS``: number of contracts. OKX ``minSz``/``maxSz`` for SWAP/FUTURES.

``maint_amount`` is Binance's ``cum``, Bybit's ``mmDeduction``, Hyperliquid's
``maintenance_deduction``, in the margin currency (quote for linear, coin for inverse). OKX
publishes none: it charges the tier's MMR on the whole position, so its amounts are 0.

The last tier is open-ended for lookups: a measure past its cap still gets the last tier.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from liqscope.domain.errors import InputError


class TierBasis(StrEnum):
    """Unit of a tier table's ``floor``/``cap``."""

    QUOTE = "quote"
    BASE = "base"
    CONTRACTS = "contracts"


_BOUNDARY_RTOL = 1e-12  # measures this close to a tier boundary count as on it


@dataclass(frozen=True, slots=True)
class Tier:
    floor: float
    cap: float
    mmr: float
    maint_amount: float
    max_leverage: float


@dataclass(frozen=True, slots=True)
class TierTable:
    """Ordered, contiguous tiers of one symbol on one venue; validated on construction."""

    venue: str
    symbol: str
    basis: TierBasis
    tiers: tuple[Tier, ...]

    def __post_init__(self) -> None:
        where = f"tier table {self.venue} {self.symbol}"
        if not self.tiers:
            raise InputError(f"{where}: no tiers")
        if self.tiers[0].floor != 0:
            raise InputError(f"{where}: tier 1 must start at 0, not {self.tiers[0].floor:g}")
        previous: Tier | None = None
        for k, t in enumerate(self.tiers, start=1):
            if not t.cap > t.floor:
                raise InputError(f"{where}: tier {k} cap {t.cap:g} <= floor {t.floor:g}")
            if not 0 < t.mmr < 1:
                raise InputError(f"{where}: tier {k} MMR {t.mmr:g} is not in (0, 1)")
            if not t.max_leverage > 0:
                raise InputError(f"{where}: tier {k} max leverage {t.max_leverage:g} <= 0")
            if not math.isfinite(t.maint_amount):
                raise InputError(f"{where}: tier {k} maintenance amount is not finite")
            if previous is not None and not math.isclose(t.floor, previous.cap, rel_tol=1e-9):
                raise InputError(
                    f"{where}: tier {k} floor {t.floor:g} does not meet tier {k - 1} "
                    f"cap {previous.cap:g} (tiers must be sorted and contiguous)"
                )
            previous = t

    def index_for(self, measure: float) -> int:
        """0-based index of the tier whose ``[floor, cap)`` holds ``measure``.

        A measure within float rounding (1e-12 relative) of a boundary counts as on it, so
        ``qty × price`` recomputed from a notional picks the same tier as the notional."""
        for k, t in enumerate(self.tiers):
            if measure < t.cap * (1 - _BOUNDARY_RTOL):
                return k
        return len(self.tiers) - 1

    def tier_for(self, measure: float) -> Tier:
        """The tier holding ``measure`` (in the table's basis units)."""
        return self.tiers[self.index_for(measure)]

    def max_leverage_for(self, measure: float) -> float:
        """Highest leverage the venue allows for a position of that measure."""
        return self.tier_for(measure).max_leverage

    def check_deductions(self) -> None:
        """Raise InputError unless ``cum_k = cum_{k-1} + floor_k × (MMR_k − MMR_{k-1})``,
        ``cum_1 = 0``: the rule that makes maintenance margin continuous in the measure."""
        expected = 0.0
        previous_mmr = self.tiers[0].mmr
        for k, t in enumerate(self.tiers, start=1):
            expected += t.floor * (t.mmr - previous_mmr)
            previous_mmr = t.mmr
            if not math.isclose(t.maint_amount, expected, rel_tol=1e-9, abs_tol=1e-6):
                raise InputError(
                    f"tier table {self.venue} {self.symbol}: tier {k} maintenance amount "
                    f"{t.maint_amount:g} breaks the consistency rule "
                    f"cum_k = cum_(k-1) + floor_k x (MMR_k - MMR_(k-1)) (expected {expected:g})"
                )


def chain_tiers(rows: Sequence[tuple[float, float, float]]) -> tuple[Tier, ...]:
    """Tiers from ``(cap, mmr, max_leverage)`` rows, floors and maintenance amounts derived so
    maintenance margin is continuous (the consistency rule)."""
    tiers: list[Tier] = []
    floor = 0.0
    amount = 0.0
    previous_mmr = rows[0][1] if rows else 0.0
    for cap, mmr, max_leverage in rows:
        amount += floor * (mmr - previous_mmr)
        tiers.append(Tier(floor, cap, mmr, amount, max_leverage))
        floor, previous_mmr = cap, mmr
    return tuple(tiers)


# --- loaders: pure functions from parsed JSON -------------------------------------------------


def _get(obj: Any, key: str, where: str) -> Any:
    if not isinstance(obj, Mapping) or key not in obj:
        raise InputError(f"{where}: missing field {key!r}")
    return obj[key]


def _num(value: Any, where: str, *, blank: float | None = None) -> float:
    if blank is not None and value in ("", None):
        return blank
    if isinstance(value, bool):
        raise InputError(f"{where}: expected a number, got {value!r}")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise InputError(f"{where}: expected a number, got {value!r}") from None
    if math.isnan(number):
        raise InputError(f"{where}: expected a number, got {value!r}")
    return number


def _records(value: Any, where: str) -> list[Mapping[str, Any]]:
    if not isinstance(value, list) or not all(isinstance(v, Mapping) for v in value):
        raise InputError(f"{where}: expected a list of objects")
    return value


def _compact(symbol: str) -> str:
    """Venue-neutral spelling: ``BTC/USDT:USDT``, ``BTC-USDT-SWAP``, ``BTCUSDT`` → ``BTCUSDT``;
    ``BTCUSD_PERP``, ``BTC/USD:BTC``, ``BTC-USD-SWAP`` → ``BTCUSD``."""
    s = symbol.upper().split(":")[0]
    for suffix in ("-SWAP", "_PERP"):
        s = s.removesuffix(suffix)
    return s.replace("/", "").replace("-", "").replace("_", "")


def _pick(available: Sequence[str], symbol: str | None, where: str) -> str:
    if symbol is None:
        if len(available) == 1:
            return available[0]
        raise InputError(f"{where}: holds several symbols, name one of {', '.join(available)}")
    for name in available:
        if name.upper() == symbol.upper():
            return name
    for name in available:
        if _compact(name) == _compact(symbol):
            return name
    raise InputError(f"{where}: no tiers for {symbol!r} (found {', '.join(available) or 'none'})")


def from_binance(data: Any, symbol: str | None = None) -> TierTable:
    """Binance ``leverageBracket`` reply: a list of ``{"symbol", "brackets"}`` or one such object.

    USDⓈ-M brackets carry ``notionalFloor``/``notionalCap`` (quote notional); COIN-M brackets
    carry ``qtyFloor``/``qtyCap`` (coins; the docs once spelled it ``qtylFloor``). ``cum`` must
    satisfy the consistency rule.
    """
    where = "binance leverageBracket"
    entries = [data] if isinstance(data, Mapping) else _records(data, where)
    by_symbol = {str(_get(e, "symbol", where)): e for e in entries}
    name = _pick(list(by_symbol), symbol, where)
    brackets = _records(_get(by_symbol[name], "brackets", f"{where} {name}"), f"{where} {name}")
    if not brackets:
        raise InputError(f"{where} {name}: no brackets")
    basis = TierBasis.QUOTE if "notionalCap" in brackets[0] else TierBasis.BASE
    tiers = []
    for b in sorted(brackets, key=lambda b: _num(_get(b, "bracket", where), where)):
        w = f"{where} {name} bracket {b.get('bracket')}"
        if basis is TierBasis.QUOTE:
            floor, cap = _get(b, "notionalFloor", w), _get(b, "notionalCap", w)
        else:
            floor = b["qtyFloor"] if "qtyFloor" in b else _get(b, "qtylFloor", w)
            cap = _get(b, "qtyCap", w)
        tiers.append(
            Tier(
                floor=_num(floor, w),
                cap=_num(cap, w),
                mmr=_num(_get(b, "maintMarginRatio", w), w),
                maint_amount=_num(b.get("cum", 0.0), w),
                max_leverage=_num(_get(b, "initialLeverage", w), w),
            )
        )
    table = TierTable("binance", name, basis, tuple(tiers))
    table.check_deductions()
    return table


def from_ccxt(data: Any, symbol: str | None = None, venue: str = "ccxt") -> TierTable:
    """ccxt ``fetch_leverage_tiers`` output: ``{unified_symbol: [tier, ...]}``.

    ``minNotional``/``maxNotional`` are whatever the exchange gave: quote notional for linear
    markets, coins for Binance COIN-M (``info.qtyCap``), contracts for OKX (``info.minSz``);
    the basis is read from ``info`` and otherwise from the settle currency. The maintenance
    amount is ``info.cum`` (Binance) or ``info.mmDeduction`` (Bybit), else 0.
    """
    where = "ccxt leverage tiers"
    if not isinstance(data, Mapping):
        raise InputError(f"{where}: expected an object keyed by symbol")
    name = _pick([str(k) for k in data], symbol, where)
    rows = _records(data[name], f"{where} {name}")
    if not rows:
        raise InputError(f"{where} {name}: no tiers")
    info0 = rows[0].get("info")
    info0 = info0 if isinstance(info0, Mapping) else {}
    base = name.partition("/")[0]
    settle = name.rpartition(":")[2] if ":" in name else ""
    if "minSz" in info0:
        basis = TierBasis.CONTRACTS
    elif "qtyCap" in info0 or settle == base:
        basis = TierBasis.BASE
    else:
        basis = TierBasis.QUOTE
    tiers = []
    for r in rows:
        w = f"{where} {name} tier {r.get('tier')}"
        info = r.get("info")
        info = info if isinstance(info, Mapping) else {}
        amount = _num(info.get("cum", info.get("mmDeduction", 0.0)), w, blank=0.0)
        tiers.append(
            Tier(
                floor=_num(_get(r, "minNotional", w), w),
                cap=_num(_get(r, "maxNotional", w), w),
                mmr=_num(_get(r, "maintenanceMarginRate", w), w),
                maint_amount=amount,
                max_leverage=_num(_get(r, "maxLeverage", w), w),
            )
        )
    table = TierTable(venue, name, basis, _close_gaps(tiers, basis))
    if any(t.maint_amount for t in table.tiers):
        table.check_deductions()
    return table


def from_bybit(data: Any, symbol: str | None = None) -> TierTable:
    """Bybit v5 ``GET /v5/market/risk-limit`` reply.

    Each row's ``riskLimitValue`` is its tier's cap (USDT for linear, coins for inverse); the
    floor is the previous row's cap. Rates are decimals in current replies; an older documented
    inverse example gives percents (``"0.5"`` with ``maxLeverage`` 100), recognised when
    ``initialMargin × maxLeverage`` is about 100. ``mmDeduction`` may be empty: read as 0.
    """
    where = "bybit risk-limit"
    result = _get(data, "result", where)
    category = str(result.get("category", "linear")) if isinstance(result, Mapping) else ""
    rows = _records(_get(result, "list", where), where)
    names = sorted({str(_get(r, "symbol", where)) for r in rows})
    name = _pick(names, symbol, where)
    mine = sorted(
        (r for r in rows if r["symbol"] == name), key=lambda r: _num(_get(r, "id", where), where)
    )
    tiers = []
    floor = 0.0
    for r in mine:
        w = f"{where} {name} id {r.get('id')}"
        cap = _num(_get(r, "riskLimitValue", w), w)
        max_leverage = _num(_get(r, "maxLeverage", w), w)
        scale = 0.01 if _num(_get(r, "initialMargin", w), w) * max_leverage > 10 else 1.0
        tiers.append(
            Tier(
                floor=floor,
                cap=cap,
                mmr=_num(_get(r, "maintenanceMargin", w), w) * scale,
                maint_amount=_num(r.get("mmDeduction", ""), w, blank=0.0),
                max_leverage=max_leverage,
            )
        )
        floor = cap
    basis = TierBasis.BASE if category == "inverse" else TierBasis.QUOTE
    return TierTable("bybit", name, basis, tuple(tiers))


def from_okx(data: Any, symbol: str | None = None) -> TierTable:
    """OKX v5 ``GET /api/v5/public/position-tiers`` reply (SWAP/FUTURES).

    ``minSz``/``maxSz`` are contracts; a tier's floor may be the previous cap plus one contract
    (integer sizes) and is then set to the previous cap. OKX charges the tier's MMR on the whole
    position (no deduction), so maintenance amounts are 0 and the maintenance margin steps at
    tier boundaries. Rows are grouped by ``instFamily`` (or ``uly``).
    """
    where = "okx position-tiers"
    if isinstance(data, Mapping) and str(data.get("code", "0")) != "0":
        raise InputError(f"{where}: error reply code {data.get('code')}: {data.get('msg', '')}")
    rows = _records(_get(data, "data", where), where)
    family = {id(r): str(r.get("instFamily") or _get(r, "uly", where)) for r in rows}
    names = sorted(set(family.values()))
    name = _pick(names, symbol, where)
    mine = sorted(
        (r for r in rows if family[id(r)] == name),
        key=lambda r: _num(_get(r, "tier", where), where),
    )
    tiers = [
        Tier(
            floor=_num(_get(r, "minSz", w), w),
            cap=_num(_get(r, "maxSz", w), w),
            mmr=_num(_get(r, "mmr", w), w),
            maint_amount=0.0,
            max_leverage=_num(_get(r, "maxLever", w), w),
        )
        for r in mine
        for w in [f"{where} {name} tier {r.get('tier')}"]
    ]
    return TierTable("okx", name, TierBasis.CONTRACTS, _close_gaps(tiers, TierBasis.CONTRACTS))


def _close_gaps(tiers: list[Tier], basis: TierBasis) -> tuple[Tier, ...]:
    """Contract-sized tables list integer ranges (``0–1000``, ``1001–2000``): join them."""
    if basis is not TierBasis.CONTRACTS:
        return tuple(tiers)
    joined: list[Tier] = []
    for t in tiers:
        if joined and 0 < t.floor - joined[-1].cap <= 1:
            t = Tier(joined[-1].cap, t.cap, t.mmr, t.maint_amount, t.max_leverage)
        joined.append(t)
    return tuple(joined)


LOADERS: dict[str, Callable[[Any, str | None], TierTable]] = {
    "binance": from_binance,
    "ccxt": from_ccxt,
    "bybit": from_bybit,
    "okx": from_okx,
}


def load_tiers(path: str | Path, format: str, symbol: str | None = None) -> TierTable:
    """Read a tier file in one of the :data:`LOADERS` formats; InputError on any bad file."""
    loader = LOADERS.get(format.strip().lower())
    if loader is None:
        raise InputError(f"unknown tier format {format!r} (expected one of {', '.join(LOADERS)})")
    p = Path(path)
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except OSError as exc:
        raise InputError(f"cannot read tier file {p}: {exc.strerror or exc}") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"tier file {p} is not valid JSON: {exc}") from None
    try:
        return loader(data, symbol)
    except InputError as exc:
        raise InputError(f"tier file {p}: {exc}") from None
