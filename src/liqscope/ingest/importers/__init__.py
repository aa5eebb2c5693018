"""File importers: Binance bulk archives, tardis.dev CSVs and recorded raw frames.

Entry point: :func:`import_file` (one file, atomic, idempotent, resumable).
"""

from __future__ import annotations

from pathlib import Path

from liqscope.domain.clock import SYSTEM_CLOCK, Clock
from liqscope.domain.errors import InputError
from liqscope.ingest.importers.binance_bulk import BinanceBulkImporter, parse_name
from liqscope.ingest.importers.common import (
    FORMATS,
    Importer,
    ImportOptions,
    ImportResult,
    Progress,
    first_line,
    progress_total,
    run_import,
)
from liqscope.ingest.importers.frames import FramesImporter
from liqscope.ingest.importers.tardis import TardisImporter, looks_like_tardis
from liqscope.store.base import Store

__all__ = [
    "FORMATS",
    "ImportOptions",
    "ImportResult",
    "detect_format",
    "import_file",
    "progress_total",
]


def detect_format(path: Path) -> str:
    """Guess a file's format from its name and first line."""
    name = path.name.lower()
    if name.endswith((".jsonl", ".jsonl.gz", ".ndjson", ".json")):
        return "frames"
    if path.name.endswith((".zip", ".csv")) and parse_name(path) is not None:
        return "binance-bulk"
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    if looks_like_tardis(path):
        return "tardis"
    if first_line(path).lstrip().startswith("{"):
        return "frames"
    raise InputError(
        f"{path}: cannot tell the file format; pass --format binance-bulk, tardis or frames"
    )


def importer_for(fmt: str, store: Store | None = None) -> Importer:
    if fmt == "binance-bulk":
        return BinanceBulkImporter()
    if fmt == "tardis":
        return TardisImporter(store)
    if fmt == "frames":
        return FramesImporter()
    raise InputError(f"unknown format {fmt!r} (expected one of {', '.join(FORMATS)})")


def import_file(
    store: Store,
    path: Path,
    fmt: str = "auto",
    *,
    venue: str | None = None,
    symbol: str | None = None,
    progress: Progress | None = None,
    force: bool = False,
    clock: Clock = SYSTEM_CLOCK,
) -> ImportResult:
    """Import one file; a bad file raises :class:`InputError` and stores nothing."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    chosen = detect_format(path) if fmt == "auto" else fmt
    importer = importer_for(chosen, store)
    options = ImportOptions(venue=venue.lower() if venue else None, symbol=symbol)
    return run_import(store, path, importer, options, progress=progress, clock=clock, force=force)
