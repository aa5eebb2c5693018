"""One batch task: one market (its venues) over one range, through ``estimate_market``.

:func:`run_task` runs on a worker (a local process or a Dask worker) and returns the result
file's bytes and a summary; the caller writes them, so workers need no shared output
folder. The same task run in-process gives the same bytes.
"""

from __future__ import annotations

import os
import resource
import sys
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from liqscope.batch.source import Reader, Source
from liqscope.domain.errors import LiqscopeError
from liqscope.domain.intervals import DAY_MS, HOUR_MS, MINUTE_MS
from liqscope.export.grid import grid_table, write_grid
from liqscope.export.predicted import write_predicted
from liqscope.model.config import ModelConfig
from liqscope.model.market import MarketEstimate, concat_estimates, estimate_market, market_plan
from liqscope.model.predict import combined, predicted_liquidations
from liqscope.model.presets import preset as get_preset
from liqscope.model.state import EstimatorState
from liqscope.model.steps import Steps
from liqscope.store.readers import read_venue_steps

__all__ = [
    "JOBS",
    "MarketTask",
    "TaskResult",
    "chunk_bounds",
    "run_task",
]

JOBS = ("heatmap", "predict", "score")
SUFFIX = {"heatmap": ".parquet", "predict": ".parquet", "score": ".json"}


@dataclass(frozen=True, slots=True)
class MarketTask:
    """One market of a batch: what to compute, from where, over which range."""

    job: str
    market: str
    natives: tuple[tuple[str, str], ...]
    """``(venue, native symbol)`` of each venue of the market."""
    t0: int
    t1: int
    source: Source
    preset: str = "all"
    interval_ms: int = MINUTE_MS
    """Step of the estimator input."""
    row_ms: int = HOUR_MS
    """``predict``: row interval; ``score``: evaluation window."""
    chunk_ms: int | None = None
    """Split the range in time chunks of about this length, the estimator state carried
    across (the same bytes as one piece)."""


@dataclass(frozen=True, slots=True)
class TaskResult:
    """What a worker sends back: the result file's bytes and a summary (or an error)."""

    job: str
    market: str
    payload: bytes = b""
    summary: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    seconds: float = 0.0
    peak_rss_mb: float = 0.0
    worker: str = ""

    @property
    def filename(self) -> str:
        return f"{self.market}{SUFFIX[self.job]}"


def _peak_rss_mb() -> float:
    """This process's peak resident memory (Linux ``VmHWM``: ``ru_maxrss`` survives exec, so a
    spawned worker would report its parent's peak)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 1024


def chunk_bounds(t0: int, t1: int, chunk_ms: int, column_ms: int) -> list[tuple[int, int]]:
    """``[t0, t1)`` cut into consecutive pieces of about ``chunk_ms``, each boundary on a
    multiple of ``column_ms`` so no heatmap column straddles two chunks."""
    if t1 <= t0:
        return []
    step = max(column_ms, chunk_ms // column_ms * column_ms)
    cuts = list(range((t0 // column_ms + 1) * column_ms, t1, column_ms))
    bounds, start = [], t0
    for c in cuts:
        if c - start >= step:
            bounds.append((start, c))
            start = c
    bounds.append((start, t1))
    return bounds


def _config(task: MarketTask) -> ModelConfig:
    cfg = get_preset(task.preset)
    if task.job == "score":
        cfg = replace(cfg, column_ms=task.row_ms, max_columns=1_000_000)
    return cfg


def _chunked(
    steps: list[Steps], skipped: dict[str, str], task: MarketTask, cfg: ModelConfig, chunk_ms: int
) -> tuple[MarketEstimate, int]:
    """The market estimated chunk by chunk, each venue's estimator state carried from one
    chunk to the next, on the grid, ratios and column width of the whole range
    (``model.market.market_plan``); joined with ``concat_estimates`` it equals one run.
    Returns the estimate and the number of chunks."""
    grid, ratios, cfg = market_plan(steps, cfg)
    state: Mapping[str, EstimatorState] = {}
    parts: list[MarketEstimate] = []
    for a, b in chunk_bounds(task.t0, task.t1, chunk_ms, cfg.column_ms or task.interval_ms):
        cut = [s.slice(*(int(i) for i in np.searchsorted(s.ts, [a, b]))) for s in steps]
        piece = [p for p in cut if len(p)]
        if piece:
            est = estimate_market(piece, cfg, grid, ratios=ratios, skipped=skipped, initial=state)
            state = est.state
            parts.append(est)
    return concat_estimates(parts), len(parts)


def _estimate(
    reader: Reader, task: MarketTask, cfg: ModelConfig
) -> tuple[MarketEstimate, list[Steps], int]:
    """The market's estimate, the steps of each venue and the number of time chunks."""
    steps, skipped = read_venue_steps(
        task.natives, task.t0, task.t1, task.interval_ms, reader.steps
    )
    if task.chunk_ms is not None and task.t1 - task.t0 > task.chunk_ms and steps:
        est, chunks = _chunked(steps, skipped, task, cfg, task.chunk_ms)
        return est, steps, chunks
    return estimate_market(steps, cfg, skipped=skipped), steps, 1


def _file_bytes(suffix: str, write: Any) -> bytes:
    with tempfile.TemporaryDirectory(prefix="liqscope-batch-") as tmp:
        path = Path(tmp) / f"out{suffix}"
        write(path)
        return path.read_bytes()


def _heatmap(est: MarketEstimate) -> tuple[bytes, dict[str, Any]]:
    table = grid_table(est.heatmap)
    payload = _file_bytes(".parquet", lambda p: write_grid(p, table))
    return payload, {
        "columns": int(table.values.shape[0]),
        "buckets": int(table.values.shape[1]),
        "nonzero_cells": int((table.values > 0).sum()),
        "bucket_usd": float(est.grid.step),
        "last_column_usd": float(table.values[-1].sum()),
    }


def _predict(est: MarketEstimate, task: MarketTask) -> tuple[bytes, dict[str, Any]]:
    pred = combined([predicted_liquidations(r, task.row_ms) for r in est.venues.values()])
    meta = {
        "venues": list(est.used), "symbol": task.market, "preset": task.preset,
        "model_version": est.model_version, "units": "USD", "skipped": dict(est.skipped),
    }  # fmt: skip
    payload = _file_bytes(".parquet", lambda p: write_predicted(p, pred, meta))
    return payload, {
        "rows": len(pred),
        "long_usd": float(pred.long_usd.sum()),
        "short_usd": float(pred.short_usd.sum()),
    }


def _score(
    est: MarketEstimate, task: MarketTask, reader: Reader, steps: dict[str, Steps]
) -> tuple[bytes, dict[str, Any]]:
    from liqscope.signals import scorecard as sc

    natives = dict(task.natives)
    out: dict[str, Any] = {}
    for venue, res in est.venues.items():
        s = steps[venue]
        realized = reader.realized(venue, natives[venue], int(s.ts[0]), int(s.ts[-1]) + MINUTE_MS)
        wm = sc.window_maps(res, s, tiers=res.config.display_leverages)
        out[venue] = sc.score_windows(wm, realized, block_ms=DAY_MS).to_dict()
    payload = orjson.dumps(
        {"market": task.market, "preset": task.preset, "venues": out},
        option=orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_SORT_KEYS,
    )
    return payload, {"venues_scored": len(out)}


def run_task(task: MarketTask) -> TaskResult:
    """Run one task; a user-caused problem (no data, bad range) comes back as ``error``."""
    started = time.perf_counter()
    worker = f"{os.uname().nodename}:{os.getpid()}"
    try:
        cfg = _config(task)
        with task.source.reader() as reader:
            est, steps, chunks = _estimate(reader, task, cfg)
            summary: dict[str, Any] = {
                "chunks": chunks,
                "venues": list(est.used),
                "skipped": dict(est.skipped),
                "steps": {v: len(r.ts) for v, r in est.venues.items()},
            }
            if task.job == "heatmap":
                payload, extra = _heatmap(est)
            elif task.job == "predict":
                payload, extra = _predict(est, task)
            else:
                payload, extra = _score(est, task, reader, {s.venue or "?": s for s in steps})
    except (LiqscopeError, OSError) as exc:
        return TaskResult(
            task.job, task.market, error=str(exc), seconds=time.perf_counter() - started,
            peak_rss_mb=_peak_rss_mb(), worker=worker,
        )  # fmt: skip
    return TaskResult(
        task.job, task.market, payload, {**summary, **extra},
        seconds=time.perf_counter() - started, peak_rss_mb=_peak_rss_mb(), worker=worker,
    )  # fmt: skip
