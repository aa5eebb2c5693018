"""Record mixins for dataclasses: results whose JSON form is their fields, and columns of
parallel arrays."""

from __future__ import annotations

from dataclasses import asdict, fields
from typing import TYPE_CHECKING, Any, cast

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

__all__ = ["Columns", "Record"]


class Record:
    """Mixin for a dataclass whose ``to_dict`` is its fields in declaration order.

    Nested records, lists and dicts are copied (``dataclasses.asdict``), so the result can be
    changed or encoded without touching the record.
    """

    __slots__ = ()

    def to_dict(self) -> dict[str, Any]:
        return asdict(cast("DataclassInstance", self))


class Columns:
    """Mixin for a dataclass of parallel arrays, one value per row: ``len`` is the row count
    (the length of its first array field; scalar fields such as an interval are skipped)."""

    __slots__ = ()

    def __len__(self) -> int:
        for f in fields(cast("DataclassInstance", self)):
            shape = getattr(getattr(self, f.name), "shape", None)
            if shape is not None:
                return int(shape[0])
        raise TypeError(f"{type(self).__name__} has no array field")
