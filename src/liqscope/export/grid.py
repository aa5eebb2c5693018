"""Raw heatmap grid export: CSV and Parquet (long form), JSON (dense)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import orjson
from numpy.typing import NDArray

from liqscope.domain.errors import InputError
from liqscope.model.config import MODEL_VERSION
from liqscope.model.estimator import EstimateResult, Heatmap, SideSel

GRID_FORMATS = (".csv", ".json", ".parquet")


@dataclass(frozen=True, slots=True, eq=False)
class GridTable:
    """A heatmap reduced to what is exported: USD per (column, bucket) plus metadata."""

    columns_ts: NDArray[np.int64]
    bucket_edges: NDArray[np.float64]
    """``n_buckets + 1`` edges; bucket ``i`` is ``[edges[i], edges[i+1])``."""
    values: NDArray[np.float64]
    """``[n_cols, n_buckets]`` USD (or 0..1 when ``relative``)."""
    column_close: NDArray[np.float64]
    column_ms: int
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def units(self) -> str:
        return "relative" if self.meta.get("relative") else "USD"


def grid_table(
    heat: Heatmap,
    tiers: list[float] | None = None,
    sides: SideSel = None,
    relative: bool = False,
) -> GridTable:
    """Select tiers/sides of ``heat`` and package the matrix with its metadata."""
    ts, _, mat = heat.heatmap(tiers=tiers, sides=sides, relative=relative)
    ti = heat.tier_indices(tiers)
    meta: dict[str, Any] = {
        "venue": heat.venue,
        "symbol": heat.symbol,
        "preset": heat.preset,
        "leverages": [heat.leverages[i] for i in ti],
        "sides": "both" if sides is None else str(sides),
        "relative": relative,
        "model_version": MODEL_VERSION,
    }
    if isinstance(heat, EstimateResult):
        meta["config"] = heat.config.to_dict()
    return GridTable(ts, heat.grid.edges, mat, heat.column_close, heat.column_ms, meta)


def _long_form(t: GridTable) -> tuple[NDArray[np.int64], NDArray[np.float64], NDArray[np.float64]]:
    c, b = np.nonzero(t.values)
    return t.columns_ts[c], t.bucket_edges[b], t.values[c, b]


def write_grid(path: str | Path, table: GridTable) -> Path:
    """Write ``table`` as CSV/Parquet (long form: ts, price = bucket lower edge, value;
    zero cells omitted) or JSON (dense ``values[column][bucket]``), by file suffix."""
    p = Path(path)
    suffix = p.suffix.lower()
    unit_col = "usd" if table.units == "USD" else "relative"
    if suffix == ".csv":
        ts, price, val = _long_form(table)
        with p.open("w", encoding="utf-8") as fh:
            fh.write(f"ts,price,{unit_col}\n")
            for a, b, c in zip(ts.tolist(), price.tolist(), val.tolist(), strict=True):
                fh.write(f"{a},{b!r},{c!r}\n")
    elif suffix == ".parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq

        ts, price, val = _long_form(table)
        meta = {b"liqscope": orjson.dumps({**table.meta, "units": table.units})}
        tab = pa.table({"ts": ts, "price": price, unit_col: val}).replace_schema_metadata(meta)
        pq.write_table(tab, p)
    elif suffix == ".json":
        doc = {
            **table.meta,
            "units": table.units,
            "column_ms": table.column_ms,
            "columns_ts": table.columns_ts,
            "bucket_edges": table.bucket_edges,
            "close": table.column_close,
            "values": table.values,
        }
        p.write_bytes(orjson.dumps(doc, option=orjson.OPT_SERIALIZE_NUMPY))
    else:
        raise InputError(
            f"unsupported output format {suffix!r} (use .png, .csv, .json or .parquet)"
        )
    return p
