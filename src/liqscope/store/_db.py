"""What every SQL backend provides to the shared store code: driver calls and transactions.

The shared code writes SQL that SQLite and PostgreSQL both run, with ``?`` placeholders
(a backend translates them to its own style); a backend supplies the primitives below.
Driver errors become :class:`StoreError` (one line naming the store and the cause).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, ClassVar, Protocol, Self

from liqscope.domain.clock import Clock
from liqscope.domain.errors import StoreError

Row = tuple[Any, ...]
Params = Sequence[Any]


class Connection(Protocol):
    """What the shared code calls on a driver's connection (in autocommit mode)."""

    def execute(self, sql: str, /) -> object: ...


class SqlBase(ABC):
    """Driver primitives and the one transaction implementation."""

    BEGIN: ClassVar[str] = "BEGIN"
    """The statement opening a transaction."""
    _conn: Connection
    _clock: Clock
    _url: str
    """What the store was opened with: a file path or a server URL."""
    _depth: int = 0
    DRIVER_ERRORS: ClassVar[tuple[type[Exception], ...]]
    """Driver errors reported as :class:`StoreError`."""
    BUG_ERRORS: ClassVar[tuple[type[Exception], ...]]
    """Driver errors that mean a bug here (bad SQL, a closed handle): left as they are."""

    @abstractmethod
    def close(self) -> None: ...

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def _errors(self, action: str | None = None) -> Iterator[None]:
        """Driver errors as :class:`StoreError` naming the store, the action and the cause."""
        try:
            yield
        except self.BUG_ERRORS:
            raise
        except self.DRIVER_ERRORS as exc:
            what = action or ("write" if self._depth else "read")
            raise self._fail(what, exc) from exc

    # ------------------------------------------------------------------ where it is
    @property
    def location(self) -> str:
        """Where the store is, for messages (a server's URL without its password)."""
        return self._url

    @property
    def path(self) -> Path:
        """``location`` as a path (a server store's is no file: for messages only)."""
        return Path(self.location)

    # ------------------------------------------------------------------ driver primitives
    @abstractmethod
    def _all(self, sql: str, params: Params = ()) -> list[Row]:
        """Every row of a query."""

    @abstractmethod
    def _run(self, sql: str, params: Params = ()) -> int:
        """Run one statement; rows changed."""

    @abstractmethod
    def _insert(self, table: str, columns: str, rows: Sequence[Row], tail: str = "") -> int:
        """``INSERT INTO table (columns) … tail`` of every row, batched; rows changed.

        ``tail`` is the ``ON CONFLICT`` clause; each row holds one value per column."""

    @abstractmethod
    def _chunks(self, sql: str, params: Params, size: int) -> Iterator[list[Row]]:
        """The rows of a query in chunks of at most ``size``."""

    @abstractmethod
    def _insert_liquidations(self, rows: Sequence[Row]) -> int:
        """Insert liquidation rows (``LIQ_COLUMNS`` order), giving new ones the next seqs."""

    def _begin(self) -> None:
        with self._errors("begin"):
            self._conn.execute(self.BEGIN)

    def _commit(self) -> None:
        with self._errors("commit"):
            self._conn.execute("COMMIT")

    @abstractmethod
    def _rollback_if_open(self) -> None:
        """Roll back the open transaction, if the driver still has one (a failed statement
        may already have ended it: SQLite does so on a full disk)."""

    def _one(self, sql: str, params: Params = ()) -> Row | None:
        rows = self._all(sql, params)
        return rows[0] if rows else None

    def _fail(self, action: str, exc: BaseException) -> StoreError:
        """The one-line error for a failed driver call."""
        cause = " ".join(str(exc).split()) or type(exc).__name__
        return StoreError(f"store {self.location}: {action} failed: {cause}")

    # ------------------------------------------------------------------ transactions
    @contextmanager
    def transaction(self) -> Iterator[None]:
        """One atomic unit of work; nested uses join the outer transaction.

        On any error nothing of the unit is stored; a driver error comes out as
        :class:`StoreError` with its real cause (never a secondary rollback error)."""
        if self._depth:
            self._depth += 1
            try:
                yield
            finally:
                self._depth -= 1
            return
        self._begin()
        self._depth = 1
        try:
            yield
        except BaseException:
            self._depth = 0
            self._rollback_if_open()
            raise
        self._depth = 0
        try:
            self._commit()
        except StoreError:
            self._rollback_if_open()
            raise
