"""The history lake: hive-partitioned Parquet (kind / venue / symbol / date) read with DuckDB.

Written from a store (:func:`export_store`) or from Binance bulk files (:func:`import_bulk`);
:func:`read_steps` gives the estimator the same steps the store's reader gives.
"""

from liqscope.lake.layout import KINDS, partition_dir
from liqscope.lake.read import Lake, read_steps
from liqscope.lake.write import LakeCounts, export_store, import_bulk, write_partition

__all__ = [
    "KINDS",
    "Lake",
    "LakeCounts",
    "export_store",
    "import_bulk",
    "partition_dir",
    "read_steps",
    "write_partition",
]
