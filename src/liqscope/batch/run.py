"""Running batch tasks: in this process, on a local process pool, or on a Dask cluster.

Markets run in parallel (one task each); results are written by the caller as they arrive,
into ``<out>/<job>/<market>.<ext>`` plus ``<out>/<job>/summary.json``.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Any

import orjson

from liqscope.batch.jobs import MarketTask, TaskResult, run_task
from liqscope.domain.errors import InputError

__all__ = ["Executor", "results", "run_batch", "write_result", "write_summary"]

Executor = str
"""``"inline"`` (this process), ``"local"`` (a process pool) or a scheduler address
(``tcp://host:8786``: a ``dask.distributed`` cluster)."""


def _inline(tasks: Sequence[MarketTask]) -> Iterator[TaskResult]:
    for t in tasks:
        yield run_task(t)


def _local(tasks: Sequence[MarketTask], workers: int) -> Iterator[TaskResult]:
    # spawn: a clean interpreter per worker (no inherited threads or open connections)
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=workers, mp_context=ctx) as pool:
        # no list of futures is kept: a result (a whole grid file) is freed once handed on
        for f in as_completed([pool.submit(run_task, t) for t in tasks]):
            yield f.result()


def _dask(tasks: Sequence[MarketTask], address: str) -> Iterator[TaskResult]:
    from distributed import Client
    from distributed import as_completed as dask_completed

    try:
        client = Client(address, timeout="10s")  # type: ignore[no-untyped-call]  # distributed is partly unannotated
    except (OSError, TimeoutError) as exc:
        raise InputError(f"--scheduler {address}: cannot connect ({exc})") from None
    try:
        futures = client.map(run_task, list(tasks), pure=False)
        done = dask_completed(futures)  # type: ignore[no-untyped-call]  # distributed is partly unannotated
        del futures  # each result is released on the cluster once fetched, not held to the end
        for f in done:
            result: TaskResult = f.result()
            f.release()
            yield result
    finally:
        client.close()  # type: ignore[no-untyped-call]  # distributed is partly unannotated


def results(
    tasks: Sequence[MarketTask], executor: Executor = "local", workers: int | None = None
) -> Iterator[TaskResult]:
    """Run ``tasks``; yields each result as it completes (order not guaranteed)."""
    if executor == "inline":
        return _inline(tasks)
    if executor == "local":
        n = workers or os.cpu_count() or 1
        return _inline(tasks) if n == 1 else _local(tasks, min(n, max(len(tasks), 1)))
    if "://" not in executor:
        raise InputError(f"--scheduler {executor!r}: expected an address like tcp://HOST:8786")
    return _dask(tasks, executor)


def write_result(out: Path, result: TaskResult) -> Path | None:
    """Write one result file under ``<out>/<job>/`` (none for an error)."""
    if result.error is not None:
        return None
    folder = out / result.job
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / result.filename
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(result.payload)
    os.replace(tmp, path)
    return path


def write_summary(out: Path, job: str, done: Sequence[TaskResult], meta: dict[str, Any]) -> Path:
    """``<out>/<job>/summary.json``: the run's parameters and one entry per market."""
    folder = out / job
    folder.mkdir(parents=True, exist_ok=True)
    doc = {
        **meta,
        "markets": {
            r.market: {
                **({"error": r.error} if r.error else {"file": r.filename, **r.summary}),
                "seconds": round(r.seconds, 3),
                "peak_rss_mb": round(r.peak_rss_mb, 1),
                "worker": r.worker,
            }
            for r in sorted(done, key=lambda r: r.market)
        },
    }
    path = folder / "summary.json"
    path.write_bytes(orjson.dumps(doc, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS))
    return path


def run_batch(
    tasks: Sequence[MarketTask],
    out: Path,
    *,
    executor: Executor = "local",
    workers: int | None = None,
    meta: dict[str, Any] | None = None,
    on_result: Callable[[TaskResult], None] | None = None,
) -> list[TaskResult]:
    """Run ``tasks`` and write every result and the summary into ``out``."""
    if not tasks:
        raise InputError("nothing to run")
    jobs = {t.job for t in tasks}
    if len(jobs) != 1:
        raise InputError("one batch runs one job")
    done: list[TaskResult] = []
    for r in results(tasks, executor, workers):
        write_result(out, r)
        done.append(r)
        if on_result is not None:
            on_result(r)
    write_summary(out, jobs.pop(), done, meta or {})
    return done
