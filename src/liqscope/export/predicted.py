"""Write predicted liquidations (one row per interval) as CSV, JSON or Parquet."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson

from liqscope.domain.errors import InputError
from liqscope.model.predict import PredictedLiquidations

PREDICTED_FORMATS = (".csv", ".json", ".parquet")


def write_predicted(path: str | Path, pred: PredictedLiquidations, meta: dict[str, Any]) -> Path:
    """Rows ``ts`` (interval start, epoch ms UTC), ``long_usd``, ``short_usd`` by suffix;
    JSON is ``{**meta, "interval_ms", "rows": [...]}``, Parquet carries ``meta`` in its
    schema metadata."""
    p = Path(path)
    suffix = p.suffix.lower()
    try:
        if suffix == ".csv":
            with p.open("w", encoding="utf-8") as fh:
                fh.write("ts,long_usd,short_usd\n")
                for r in pred.rows():
                    fh.write(f"{r['ts']},{r['long_usd']!r},{r['short_usd']!r}\n")
        elif suffix == ".json":
            doc = {**meta, "interval_ms": pred.interval_ms, "rows": pred.rows()}
            p.write_bytes(orjson.dumps(doc))
        elif suffix == ".parquet":
            import pyarrow as pa
            import pyarrow.parquet as pq

            tab = pa.table(
                {"ts": pred.ts, "long_usd": pred.long_usd, "short_usd": pred.short_usd}
            ).replace_schema_metadata({b"liqscope": orjson.dumps(meta)})
            pq.write_table(tab, p)
        else:
            raise InputError(f"unsupported output format {suffix!r} (use .csv, .json or .parquet)")
    except OSError as exc:
        raise InputError(f"cannot write {p}: {exc.strerror}") from None
    return p
