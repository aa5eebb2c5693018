"""Recorded raw frames (JSON Lines, plain or ``.gz``): one venue message per line.

Each line is handed to the venue's own parser (``liqscope.venues.registry.adapter(venue)``),
exactly as the live collector does, so a recording imports to the same events. The venue is
given (``--venue``) or taken from the file name's first word (``binance-forceorder-….jsonl``).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from liqscope.domain.errors import InputError, LiqscopeError
from liqscope.domain.events import Event
from liqscope.ingest.importers.common import ImportOptions, LineSource, Progress

Parser = Callable[[bytes], list[Event]]


def venue_parser(venue: str) -> Parser:
    """The parse function of ``venue``'s adapter."""
    try:
        registry = importlib.import_module("liqscope.venues.registry")
    except ImportError as exc:
        raise InputError(f"venue parsers are not available ({exc})") from None
    try:
        adapter: Any = registry.adapter(venue)
    except (LiqscopeError, KeyError, ValueError) as exc:
        raise InputError(f"unknown venue {venue!r} for frames ({exc})") from None
    parse: Parser = adapter.parse
    return parse


def infer_venue(path: Path) -> str | None:
    """``binance`` from ``binance-forceorder-2025-01-26.jsonl`` (None when not obvious)."""
    head = path.name.split(".")[0].replace("_", "-").split("-")[0].lower()
    known = ("binance", "bybit", "okx", "hyperliquid")
    return head if head in known else None


class FramesImporter:
    """The ``frames`` format."""

    format = "frames"

    def __init__(self, parser_factory: Callable[[str], Parser] = venue_parser) -> None:
        self._factory = parser_factory

    def _venue(self, path: Path, options: ImportOptions) -> str:
        venue = options.venue or infer_venue(path)
        if venue is None:
            raise InputError(f"{path}: cannot tell the venue from the file name; pass --venue")
        return venue

    def kind(self, path: Path, options: ImportOptions) -> str:
        return self._venue(path, options)

    def events(
        self, path: Path, options: ImportOptions, progress: Progress | None
    ) -> Iterator[Event]:
        parse = self._factory(self._venue(path, options))
        symbol = options.symbol.upper() if options.symbol else None
        for label, number, line in LineSource(path, progress).raw_lines():
            if not line.strip():
                continue
            try:
                events = parse(line)
            except (LiqscopeError, ValueError, KeyError, TypeError) as exc:
                raise InputError(f"{label}:{number}: unusable frame ({exc})") from None
            for event in events:
                if symbol is None or event.symbol == symbol:
                    yield event
