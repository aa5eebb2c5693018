"""File formats in and out: heatmap PNG, raw grid CSV/JSON/Parquet, STEPS input files.

Reused by the ``heatmap``, ``map`` and ``chart`` commands; the model itself does no I/O.
"""

from liqscope.export.grid import GridTable, grid_table, write_grid
from liqscope.export.png import render_heatmap_png
from liqscope.export.steps_file import read_steps

__all__ = ["GridTable", "grid_table", "read_steps", "render_heatmap_png", "write_grid"]
