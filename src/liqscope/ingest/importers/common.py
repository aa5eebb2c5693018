"""What every importer shares: opening files, checksums, batching and the atomic import.

An import reads one file, turns each row into events and writes them inside ONE store
transaction, together with the file's entry in ``import_files`` (keyed by SHA-256):

- a bad row raises :class:`InputError` naming file and line, the transaction is rolled back
  and nothing from the file is stored;
- an interrupted import leaves nothing behind, so running it again completes it;
- re-importing a file whose hash is recorded is skipped; a file with the same rows under
  another hash adds nothing either (writes are idempotent per event).
"""

from __future__ import annotations

import gzip
import hashlib
import time
import zipfile
from collections.abc import Callable, Iterable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, TypeVar

from liqscope.domain.clock import SYSTEM_CLOCK, Clock
from liqscope.domain.errors import InputError
from liqscope.domain.events import Event
from liqscope.store.base import ImportRecord, Store, WriteCounts
from liqscope.venues.base import BadValue, checked

_E = TypeVar("_E", bound=Event)

BATCH = 50_000
FORMATS = ("auto", "binance-bulk", "tardis", "frames")

Progress = Callable[[int], None]
"""Called with the number of bytes just consumed (for a progress bar)."""


@dataclass(frozen=True, slots=True)
class ImportOptions:
    """What the user told us about the file (``None`` = infer it)."""

    venue: str | None = None
    symbol: str | None = None


@dataclass(frozen=True, slots=True)
class ImportResult:
    """Outcome of importing one file."""

    path: Path
    format: str
    kind: str
    parsed: int
    new: WriteCounts
    seconds: float
    skipped: str | None = None  # why nothing was read (e.g. already imported)

    @property
    def duplicates(self) -> int:
        return max(self.parsed - self.new.total, 0)


class Importer(Protocol):
    """A file format: says which kind of data a file holds and yields its events."""

    format: str

    def kind(self, path: Path, options: ImportOptions) -> str: ...

    def events(
        self, path: Path, options: ImportOptions, progress: Progress | None
    ) -> Iterator[Event]: ...


class LineSource:
    """Text lines of a file (plain, ``.gz`` or every member of a ``.zip``) with positions.

    Iterating yields ``(label, line_number, line)``; ``label`` is ``file`` or
    ``file!member`` for zip members, for error messages.
    """

    def __init__(self, path: Path, progress: Progress | None = None) -> None:
        self.path = path
        self.progress = progress

    def _streams(self, stack: ExitStack) -> Iterator[tuple[str, Iterable[bytes]]]:
        name = self.path.name.lower()
        if name.endswith(".zip"):
            try:
                zf = stack.enter_context(zipfile.ZipFile(self.path))
            except zipfile.BadZipFile as exc:
                raise InputError(f"{self.path}: not a readable zip file ({exc})") from None
            members = [m for m in zf.infolist() if not m.is_dir()]
            if not members:
                raise InputError(f"{self.path}: the zip file is empty")
            for m in members:
                yield f"{self.path}!{m.filename}", stack.enter_context(zf.open(m))
        elif name.endswith(".gz"):
            yield str(self.path), stack.enter_context(gzip.open(self.path, "rb"))  # noqa: SIM115 - closed by the ExitStack
        else:
            yield str(self.path), stack.enter_context(open(self.path, "rb"))  # noqa: SIM115 - closed by the ExitStack

    def raw_lines(self) -> Iterator[tuple[str, int, bytes]]:
        """``(label, line_number, raw line without the line break)``."""
        try:
            with ExitStack() as stack:
                for label, stream in self._streams(stack):
                    for number, line in enumerate(stream, start=1):
                        if self.progress is not None:
                            self.progress(len(line))
                        yield label, number, line.rstrip(b"\r\n")
        except (OSError, EOFError, zipfile.BadZipFile, gzip.BadGzipFile) as exc:
            raise InputError(f"{self.path}: cannot read ({exc})") from None

    def lines(self) -> Iterator[tuple[str, int, str]]:
        """Decoded lines (UTF-8; a BOM on the first line is dropped)."""
        for label, number, raw in self.raw_lines():
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError:
                raise InputError(f"{label}:{number}: not UTF-8 text") from None
            if number == 1 and text.startswith("\ufeff"):
                text = text[1:]
            yield label, number, text


def progress_total(path: Path) -> int | None:
    """Bytes :class:`LineSource` will report for ``path`` (None when unknown, e.g. gzip)."""
    name = path.name.lower()
    if name.endswith(".zip"):
        try:
            with zipfile.ZipFile(path) as zf:
                return sum(m.file_size for m in zf.infolist())
        except (OSError, zipfile.BadZipFile):
            return None
    if name.endswith(".gz"):
        return None
    try:
        return path.stat().st_size
    except OSError:
        return None


def first_line(path: Path) -> str:
    """The first line of a file (decompressed), or '' for an empty file."""
    for _label, _n, line in LineSource(path).lines():
        return line
    return ""


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    try:
        with open(path, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
    except OSError as exc:
        raise InputError(f"{path}: cannot read ({exc.strerror or exc})") from None
    return h.hexdigest()


def verify_checksum(path: Path, digest: str) -> bool:
    """Check ``digest`` against a sibling ``<file>.CHECKSUM``; False when there is none.

    The file holds ``"<sha256>  <file name>"`` (data.binance.vision). A mismatch raises.
    """
    sibling = path.with_name(path.name + ".CHECKSUM")
    if not sibling.exists():
        return False
    try:
        text = sibling.read_text(encoding="utf-8", errors="replace").strip()
    except OSError as exc:
        raise InputError(f"{sibling}: cannot read ({exc.strerror or exc})") from None
    expected = text.split()[0].lower() if text else ""
    if len(expected) != 64 or any(c not in "0123456789abcdef" for c in expected):
        raise InputError(f"{sibling}: not a SHA-256 checksum file")
    if expected != digest:
        raise InputError(
            f"{path}: checksum mismatch (file sha256 {digest[:16]}…, "
            f"{sibling.name} says {expected[:16]}…): the download is damaged, fetch it again"
        )
    return True


def batched(events: Iterable[Event], size: int = BATCH) -> Iterator[list[Event]]:
    batch: list[Event] = []
    for e in events:
        batch.append(e)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def run_import(
    store: Store,
    path: Path,
    importer: Importer,
    options: ImportOptions,
    *,
    progress: Progress | None = None,
    clock: Clock = SYSTEM_CLOCK,
    force: bool = False,
) -> ImportResult:
    """Import one file atomically (see the module docstring)."""
    started = time.perf_counter()
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    digest = sha256_file(path)
    verify_checksum(path, digest)
    kind = importer.kind(path, options)
    done = store.imported(digest)
    if done is not None and not force:
        if progress is not None:
            progress(progress_total(path) or 0)
        return ImportResult(
            path,
            importer.format,
            kind,
            done.rows_parsed,
            WriteCounts(),
            time.perf_counter() - started,
            skipped=f"already imported ({done.path})",
        )
    counts = WriteCounts()
    parsed = 0
    with store.transaction():
        for batch in batched(importer.events(path, options, progress)):
            parsed += len(batch)
            counts.add(store.write_events(batch))
        store.record_import(
            ImportRecord(
                sha256=digest,
                path=str(path),
                size=path.stat().st_size,
                format=f"{importer.format}:{kind}",
                rows_parsed=parsed,
                rows_new=counts.total,
                finished_ms=clock.now_ms(),
            )
        )
    return ImportResult(path, importer.format, kind, parsed, counts, time.perf_counter() - started)


def parse_float(text: str, label: str, number: int, column: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise InputError(f"{label}:{number}: {column} is not a number: {text!r}") from None
    if value != value or value in (float("inf"), float("-inf")):
        raise InputError(f"{label}:{number}: {column} is not finite: {text!r}")
    return value


def checked_row(event: _E, label: str, number: int) -> _E:
    """``event``, or :class:`InputError` naming file, line and the absurd field (a price or
    quantity not finite and > 0, a time outside 2017-01-01 .. now + 1 day)."""
    try:
        checked([event])
    except BadValue as exc:
        raise InputError(f"{label}:{number}: {exc}") from None
    return event


def parse_int(text: str, label: str, number: int, column: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise InputError(f"{label}:{number}: {column} is not an integer: {text!r}") from None


def is_numeric(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True
