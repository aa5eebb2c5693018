"""Batch work across many markets: one task per market through ``estimate_market``, run in
this process, on a local process pool (every core) or on a ``dask.distributed`` cluster."""

from liqscope.batch.jobs import JOBS, MarketTask, TaskResult, run_task
from liqscope.batch.run import results, run_batch
from liqscope.batch.source import Source, resolve_markets

__all__ = [
    "JOBS",
    "MarketTask",
    "Source",
    "TaskResult",
    "resolve_markets",
    "results",
    "run_batch",
    "run_task",
]
