"""tardis.dev CSV datasets (plain or ``.gz``): liquidations, trades, derivative_ticker.

- ``liquidations`` / ``trades``: ``exchange,symbol,timestamp,local_timestamp,id,side,price,amount``.
  Timestamps are µs UTC (the exchange's ``timestamp`` is used). For liquidations ``side`` is
  the liquidation ORDER side (buy = a SHORT was liquidated); for trades it is the taker side.
  Both share one header, so the file name must say which (tardis names files
  ``<exchange>_<data type>_<date>_<symbol>.csv.gz``).
- ``derivative_ticker``: ``…,funding_timestamp,funding_rate,predicted_funding_rate,
  open_interest,last_price,index_price,mark_price`` → :class:`OpenInterest` and :class:`MarkPrice`.

``amount`` (and ``open_interest``) is what the exchange gives: contracts on OKX, BitMEX,
Deribit and inverse contracts. It is converted to base units with the instrument's contract
size, looked up in the store's ``instruments`` table, then ``liqscope.domain.registry``
(the one place contract sizes are stated), then the venues' naming rules.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

from liqscope.domain import registry
from liqscope.domain.errors import InputError
from liqscope.domain.events import Event, Liquidation, MarkPrice, OpenInterest, Trade
from liqscope.domain.instruments import Instrument
from liqscope.domain.types import ContractType, PriceKind, Side
from liqscope.ingest.importers.common import (
    ImportOptions,
    LineSource,
    Progress,
    checked_row,
    first_line,
    parse_float,
    parse_int,
)
from liqscope.store.base import Store

TRADE_COLUMNS = (
    "exchange",
    "symbol",
    "timestamp",
    "local_timestamp",
    "id",
    "side",
    "price",
    "amount",
)
TICKER_COLUMNS = (
    "exchange",
    "symbol",
    "timestamp",
    "local_timestamp",
    "funding_timestamp",
    "funding_rate",
    "predicted_funding_rate",
    "open_interest",
    "last_price",
    "index_price",
    "mark_price",
)

# tardis exchange id → liqscope venue name (others keep the tardis id).
VENUES: dict[str, str] = {
    "binance-futures": "binance",
    "binance-delivery": "binance_coinm",
    "bybit": "bybit",
    "okex-swap": "okx",
    "okex-futures": "okx",
    "okx-swap": "okx",
    "okx-futures": "okx",
    "hyperliquid": "hyperliquid",
}

# Is the venue's liquidation feed (as tardis recorded it) a sample? Bybit's history before
# 2025 comes from its old 1-per-second topic, so it is labelled sampled too.
SAMPLED: dict[str, bool] = {
    "binance": True,
    "binance_coinm": True,
    "okx": True,
    "bybit": True,
    "bitmex": False,
    "deribit": False,
}

# Price a venue reports on a liquidation (as carried through by tardis).
PRICE_KIND: dict[str, PriceKind] = {
    "binance": PriceKind.AVERAGE_FILL,
    "binance_coinm": PriceKind.AVERAGE_FILL,
}

_L, _I = ContractType.LINEAR, ContractType.INVERSE
# Venues liqscope does not collect: (venue, symbol) → (base, quote, type, contract size).
# Contract sizes of the venues liqscope collects come from liqscope.domain.registry alone.
FOREIGN_INSTRUMENTS: dict[tuple[str, str], tuple[str, str, ContractType, float]] = {
    ("bitmex", "XBTUSD"): ("XBT", "USD", _I, 1.0),
    ("deribit", "BTC-PERPETUAL"): ("BTC", "USD", _I, 1.0),
    ("deribit", "ETH-PERPETUAL"): ("ETH", "USD", _I, 1.0),
}

_SIZED_IN_BASE = {"binance", "bybit", "hyperliquid"}  # linear USDT/USDC sizes are base units


def _registry_lookup(venue: str, symbol: str) -> Instrument | None:
    """The registry's instrument (``binance_coinm`` symbols live under ``binance`` there)."""
    base_venue = venue.split("_", 1)[0]
    try:
        found = registry.instrument(base_venue, symbol)
    except InputError:  # unknown venue or symbol: the naming rules below decide
        return None
    return dataclasses.replace(found, venue=venue) if base_venue != venue else found


def resolve_instrument(store: Store | None, venue: str, symbol: str) -> Instrument | None:
    """The instrument of ``venue``/``symbol`` or None when its contract size is unknown."""
    if store is not None:
        found = store.instrument(venue, symbol)
        if found is not None:
            return found
    found = _registry_lookup(venue, symbol)
    if found is not None:
        return found
    spec = FOREIGN_INSTRUMENTS.get((venue, symbol))
    if spec is not None:
        return Instrument(venue, symbol, spec[0], spec[1], spec[2], spec[3])
    if venue == "binance_coinm" and symbol.endswith("_PERP"):
        return Instrument(venue, symbol, symbol[:-8], "USD", _I, 10.0)
    if venue in _SIZED_IN_BASE and symbol.endswith(("USDT", "USDC")):
        return Instrument(venue, symbol, symbol[:-4], symbol[-4:], _L, 1.0)
    return None


def data_type(path: Path) -> str:
    """``liquidations``, ``trades`` or ``derivative_ticker`` from the header and name."""
    header = tuple(c.strip() for c in first_line(path).split(","))
    name = path.name.lower()
    if header[: len(TICKER_COLUMNS)] == TICKER_COLUMNS:
        return "derivative_ticker"
    if header[: len(TRADE_COLUMNS)] != TRADE_COLUMNS:
        raise InputError(f"{path}: not a tardis CSV (unexpected header {','.join(header[:8])})")
    if "liquidation" in name:
        return "liquidations"
    if "trade" in name:
        return "trades"
    raise InputError(
        f"{path}: tardis trades and liquidations share one header; put 'liquidations' or "
        "'trades' in the file name (as tardis does) to say which"
    )


def looks_like_tardis(path: Path) -> bool:
    return first_line(path).startswith("exchange,symbol,timestamp,local_timestamp")


class TardisImporter:
    """The ``tardis`` format."""

    format = "tardis"

    def __init__(self, store: Store | None = None) -> None:
        self._store = store
        self._instruments: dict[tuple[str, str], Instrument | None] = {}

    def kind(self, path: Path, options: ImportOptions) -> str:
        return data_type(path)

    def _instrument(self, venue: str, symbol: str, where: str) -> Instrument:
        key = (venue, symbol)
        if key not in self._instruments:
            self._instruments[key] = resolve_instrument(self._store, venue, symbol)
        found = self._instruments[key]
        if found is None:
            raise InputError(
                f"{where}: contract size of {venue} {symbol} is unknown, so its amounts "
                "cannot be converted to base units (store the instrument first)"
            )
        return found

    def events(
        self, path: Path, options: ImportOptions, progress: Progress | None
    ) -> Iterator[Event]:
        kind = data_type(path)
        rows = self._rows(
            path, progress, len(TICKER_COLUMNS if kind == "derivative_ticker" else TRADE_COLUMNS)
        )
        if kind == "derivative_ticker":
            return self._tickers(rows, options)
        return self._trades_or_liquidations(rows, options, kind == "liquidations")

    @staticmethod
    def _rows(
        path: Path, progress: Progress | None, ncols: int
    ) -> Iterator[tuple[str, int, list[str]]]:
        for label, number, line in LineSource(path, progress).lines():
            if number == 1 or not line.strip():
                continue  # header
            cells = line.split(",")
            if len(cells) != ncols:
                raise InputError(f"{label}:{number}: expected {ncols} columns, got {len(cells)}")
            yield label, number, cells

    def _venue_symbol(self, cells: list[str], options: ImportOptions) -> tuple[str, str]:
        exchange = cells[0].strip()
        venue = options.venue or VENUES.get(exchange, exchange)
        symbol = options.symbol or cells[1].strip().upper()
        return venue, symbol

    def _trades_or_liquidations(
        self, rows: Iterator[tuple[str, int, list[str]]], options: ImportOptions, liq: bool
    ) -> Iterator[Event]:
        for label, n, c in rows:
            where = f"{label}:{n}"
            venue, symbol = self._venue_symbol(c, options)
            ts = parse_int(c[2], label, n, "timestamp") // 1000
            side_text = c[5].strip().lower()
            if side_text not in ("buy", "sell"):
                raise InputError(f"{where}: side is not buy/sell: {c[5]!r}")
            price = parse_float(c[6], label, n, "price")
            amount = parse_float(c[7], label, n, "amount")
            if price <= 0 or amount <= 0:
                raise InputError(f"{where}: non-positive price or amount")
            inst = self._instrument(venue, symbol, where)
            qty = inst.base_qty(amount, price)
            if liq:
                # Liquidation order side: a buy closes a short.
                side = Side.SHORT if side_text == "buy" else Side.LONG
                yield checked_row(
                    Liquidation(
                        venue,
                        symbol,
                        ts,
                        side,
                        qty,
                        price,
                        PRICE_KIND.get(venue, PriceKind.BANKRUPTCY),
                        inst.notional_usd(qty, price),
                        SAMPLED.get(venue, False),
                    ),
                    label,
                    n,
                )
            else:
                taker = Side.LONG if side_text == "buy" else Side.SHORT
                trade_id = c[4].strip() or f"{ts}:{c[3].strip()}:{n}"
                yield checked_row(Trade(venue, symbol, ts, price, qty, taker, trade_id), label, n)

    def _tickers(
        self, rows: Iterator[tuple[str, int, list[str]]], options: ImportOptions
    ) -> Iterator[Event]:
        for label, n, c in rows:
            venue, symbol = self._venue_symbol(c, options)
            ts = parse_int(c[2], label, n, "timestamp") // 1000

            funding = _opt(c, 5, label, n, "funding_rate")
            oi = _opt(c, 7, label, n, "open_interest")
            last = _opt(c, 8, label, n, "last_price")
            index = _opt(c, 9, label, n, "index_price")
            mark = _opt(c, 10, label, n, "mark_price")
            if mark is not None:
                yield checked_row(MarkPrice(venue, symbol, ts, mark, index, funding), label, n)
            if oi is not None:
                inst = self._instrument(venue, symbol, f"{label}:{n}")
                ref = mark or last or index
                if inst.inverse and not ref:
                    continue  # an inverse contract count needs a price to become base units
                base = inst.base_qty(oi, ref or 1.0)
                usd = inst.notional_usd(base, ref) if ref else None
                yield checked_row(OpenInterest(venue, symbol, ts, base, usd), label, n)


def _opt(cells: list[str], i: int, label: str, n: int, name: str) -> float | None:
    return parse_float(cells[i], label, n, name) if cells[i].strip() else None
