"""Binance USDⓈ-M bulk files from data.binance.vision (``.zip`` holding one CSV, or the CSV).

Kinds, told by the file name (``BTCUSDT-1m-2024-08-05.zip``, ``BTCUSDT-metrics-…``,
``BTCUSDT-aggTrades-…``, ``BTCUSDT-liquidationSnapshot-…``; daily or monthly):

- klines → closed :class:`Candle` (taker-buy volume from column 10);
- metrics → :class:`OpenInterest` (``sum_open_interest`` base units, ``create_time`` UTC);
- aggTrades → :class:`Trade` (``is_buyer_maker`` true = the taker sold); order does not matter;
- liquidationSnapshot → :class:`Liquidation` (``side`` is the ORDER side: SELL = a long was
  liquidated; every row appears twice in these files, the store keeps one).

A header line (non-numeric first field on line 1) is skipped; anywhere else it is an error.
"""

from __future__ import annotations

import re
from calendar import timegm
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from time import strptime

from liqscope.domain.errors import InputError
from liqscope.domain.events import Candle, Event, Liquidation, OpenInterest, Trade
from liqscope.domain.intervals import INTERVALS
from liqscope.domain.types import PriceKind, Side
from liqscope.ingest.importers.common import (
    ImportOptions,
    LineSource,
    Progress,
    checked_row,
    is_numeric,
    parse_float,
    parse_int,
)

VENUE = "binance"
KINDS = ("klines", "metrics", "aggTrades", "liquidationSnapshot")

_NAME = re.compile(
    r"^(?P<symbol>[A-Za-z0-9_]+)-(?P<kind>[A-Za-z0-9]+)-"
    r"(?P<date>\d{4}-\d{2}(?:-\d{2})?)\.(?:csv|zip)$"
)


@dataclass(frozen=True, slots=True)
class BulkName:
    symbol: str
    kind: str  # one of KINDS
    interval_ms: int | None  # klines only


def parse_name(path: Path) -> BulkName | None:
    """Symbol, kind and kline interval from a data.binance.vision file name."""
    m = _NAME.match(path.name)
    if m is None:
        return None
    symbol, kind = m.group("symbol").upper(), m.group("kind")
    if kind in INTERVALS:
        return BulkName(symbol, "klines", INTERVALS[kind])
    if kind in KINDS:
        return BulkName(symbol, kind, None)
    raise InputError(
        f"{path}: unsupported Binance bulk file type {kind!r} "
        f"(supported: klines <interval>, {', '.join(KINDS[1:])})"
    )


def _ms(value: int) -> int:
    """Binance switched some archives to microseconds; bring both to milliseconds."""
    return value // 1000 if value >= 10**14 else value


def _datetime_ms(text: str, label: str, number: int) -> int:
    try:
        return timegm(strptime(text.strip(), "%Y-%m-%d %H:%M:%S")) * 1000
    except ValueError:
        raise InputError(
            f"{label}:{number}: create_time {text!r} is not 'YYYY-MM-DD HH:MM:SS'"
        ) from None


class BinanceBulkImporter:
    """The ``binance-bulk`` format."""

    format = "binance-bulk"

    def _name(self, path: Path, options: ImportOptions) -> BulkName:
        name = parse_name(path)
        if name is None:
            raise InputError(
                f"{path}: cannot tell the Binance bulk file type from its name "
                "(expected e.g. BTCUSDT-1m-2024-08-05.zip or BTCUSDT-metrics-2024-08-05.zip)"
            )
        symbol = (options.symbol or name.symbol).upper()
        if "_" in symbol:
            raise InputError(
                f"{path}: COIN-M (inverse) bulk files are not supported yet "
                "(their sizes are USD contracts)"
            )
        return BulkName(symbol, name.kind, name.interval_ms)

    def kind(self, path: Path, options: ImportOptions) -> str:
        return self._name(path, options).kind

    def events(
        self, path: Path, options: ImportOptions, progress: Progress | None
    ) -> Iterator[Event]:
        name = self._name(path, options)
        venue = options.venue or VENUE
        rows = self._rows(path, progress)
        if name.kind == "klines":
            assert name.interval_ms is not None
            return _klines(rows, venue, name.symbol, name.interval_ms)
        if name.kind == "metrics":
            return _metrics(rows, venue, name.symbol)
        if name.kind == "aggTrades":
            return _agg_trades(rows, venue, name.symbol)
        return _liquidation_snapshot(rows, venue, name.symbol)

    @staticmethod
    def _rows(path: Path, progress: Progress | None) -> Iterator[tuple[str, int, list[str]]]:
        for label, number, line in LineSource(path, progress).lines():
            if not line.strip():
                continue
            cells = line.split(",")
            if number == 1 and _is_header(cells[0]):
                continue
            yield label, number, cells


def _is_header(first_cell: str) -> bool:
    """A header names its columns; data rows start with a number or a date (metrics)."""
    cell = first_cell.strip()
    return not (is_numeric(cell) or cell[:1].isdigit())


Rows = Iterator[tuple[str, int, list[str]]]


def _need(cells: list[str], n: int, label: str, number: int, what: str) -> None:
    if len(cells) < n:
        raise InputError(
            f"{label}:{number}: expected at least {n} columns for {what}, got {len(cells)}"
        )


def _klines(rows: Rows, venue: str, symbol: str, interval_ms: int) -> Iterator[Event]:
    for label, n, c in rows:
        _need(c, 6, label, n, "klines")
        ts = _ms(parse_int(c[0], label, n, "open_time"))
        o = parse_float(c[1], label, n, "open")
        h = parse_float(c[2], label, n, "high")
        lo = parse_float(c[3], label, n, "low")
        cl = parse_float(c[4], label, n, "close")
        vol = parse_float(c[5], label, n, "volume")
        taker = parse_float(c[9], label, n, "taker_buy_volume") if len(c) > 9 else None
        if not (h >= max(o, cl, lo) and lo <= min(o, cl) and lo > 0 and vol >= 0):
            raise InputError(f"{label}:{n}: inconsistent candle (open/high/low/close/volume)")
        yield checked_row(
            Candle(venue, symbol, ts, interval_ms, o, h, lo, cl, vol, taker, True), label, n
        )


def _metrics(rows: Rows, venue: str, symbol: str) -> Iterator[Event]:
    for label, n, c in rows:
        _need(c, 4, label, n, "metrics")
        ts = _datetime_ms(c[0], label, n)
        if not c[2].strip():
            continue  # no open interest in this row
        oi = parse_float(c[2], label, n, "sum_open_interest")
        usd = parse_float(c[3], label, n, "sum_open_interest_value") if c[3].strip() else None
        if oi < 0:
            raise InputError(f"{label}:{n}: negative open interest")
        yield checked_row(
            OpenInterest(venue, c[1].strip().upper() or symbol, ts, oi, usd), label, n
        )


_TRUE = {"true": True, "false": False, "1": True, "0": False}


def _agg_trades(rows: Rows, venue: str, symbol: str) -> Iterator[Event]:
    for label, n, c in rows:
        _need(c, 7, label, n, "aggTrades")
        trade_id = parse_int(c[0], label, n, "agg_trade_id")
        price = parse_float(c[1], label, n, "price")
        qty = parse_float(c[2], label, n, "quantity")
        ts = _ms(parse_int(c[5], label, n, "transact_time"))
        maker = _TRUE.get(c[6].strip().lower())
        if maker is None:
            raise InputError(f"{label}:{n}: is_buyer_maker is not true/false: {c[6]!r}")
        if price <= 0 or qty <= 0:
            raise InputError(f"{label}:{n}: non-positive price or quantity")
        # The buyer was the maker: the taker sold.
        side = Side.SHORT if maker else Side.LONG
        yield checked_row(Trade(venue, symbol, ts, price, qty, side, str(trade_id)), label, n)


_ORDER_SIDE = {"SELL": Side.LONG, "BUY": Side.SHORT}  # order side → liquidated position


def _liquidation_snapshot(rows: Rows, venue: str, symbol: str) -> Iterator[Event]:
    for label, n, c in rows:
        _need(c, 11, label, n, "liquidationSnapshot")
        ts = _ms(parse_int(c[0], label, n, "time"))
        side = _ORDER_SIDE.get(c[2].strip().upper())
        if side is None:
            raise InputError(f"{label}:{n}: side is not BUY/SELL: {c[2]!r}")
        avg = parse_float(c[7], label, n, "average_price")
        filled = parse_float(c[10], label, n, "accumulated_fill_quantity")
        if filled <= 0 or avg <= 0:
            continue  # nothing filled: no liquidation happened at a price
        yield checked_row(
            Liquidation(
                venue,
                c[1].strip().upper() or symbol,
                ts,
                side,
                filled,
                avg,
                PriceKind.AVERAGE_FILL,
                filled * avg,
                True,
            ),
            label,
            n,
        )
