"""Read model input (STEPS) from CSV or Parquet files."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import numpy as np

from liqscope.domain.errors import InputError
from liqscope.model.steps import Steps, steps_from_columns


def _read_csv(path: Path) -> dict[str, list[str]]:
    try:
        with path.open(newline="", encoding="utf-8-sig") as fh:
            reader = csv.reader(fh)
            header = next(reader, None)
            while header is not None and not any(h.strip() for h in header):
                header = next(reader, None)
            if header is None:
                raise InputError(f"{path}: the file is empty")
            names = [h.strip().lower() for h in header]
            if len(set(names)) != len(names):
                raise InputError(f"{path}: duplicate column names in the header")
            cols: dict[str, list[str]] = {h: [] for h in names}
            for line, row in enumerate(reader, start=2):
                if not row or all(not c.strip() for c in row):
                    continue
                if len(row) != len(names):
                    raise InputError(
                        f"{path}: line {line} has {len(row)} fields, the header has {len(names)}"
                    )
                for h, v in zip(names, row, strict=True):
                    cols[h].append(v)
    except UnicodeDecodeError:
        raise InputError(f"{path}: not a UTF-8 text CSV file") from None
    except csv.Error as exc:
        raise InputError(f"{path}: malformed CSV ({exc})") from None
    return cols


def _read_parquet(path: Path) -> dict[str, Any]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(path)
    except Exception as exc:  # pyarrow raises several types for corrupt files
        raise InputError(f"{path}: not a readable Parquet file ({exc})") from None
    out: dict[str, Any] = {}
    for name in table.column_names:
        col = table.column(name)
        key = name.strip().lower()
        if str(col.type).startswith("timestamp"):
            out[key] = col.cast(pa.timestamp("ms", tz="UTC")).cast(pa.int64()).to_numpy()
        elif str(col.type) in ("string", "large_string"):
            out[key] = np.asarray(col.to_pylist(), dtype=object)
        else:
            out[key] = col.to_numpy(zero_copy_only=False)
    return out


def read_steps(path: str | Path, *, venue: str | None = None, symbol: str | None = None) -> Steps:
    """Read and validate a STEPS file (``.csv`` or ``.parquet``); errors are InputError."""
    p = Path(path)
    if not p.is_file():
        raise InputError(f"input file not found: {p}")
    suffix = p.suffix.lower()
    if suffix in (".parquet", ".pq"):
        cols = _read_parquet(p)
    elif suffix in (".csv", ".txt"):
        cols = _read_csv(p)
    else:
        raise InputError(f"{p}: unsupported input format {suffix!r} (use .csv or .parquet)")
    try:
        return steps_from_columns(cols, venue=venue, symbol=symbol)
    except InputError as exc:
        raise InputError(f"{p.name}: {exc}") from None
