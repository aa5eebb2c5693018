"""Every file renderer: heatmap PNG and raw grid (CSV/JSON/Parquet), the liquidation map
(PNG/CSV/JSON/Parquet), realized-liquidation bars (PNG/CSV/JSON), STEPS input files.

Used by the ``heatmap``, ``map`` and ``chart`` commands (and the API's map); the model itself
does no I/O. PNG axes are in dollars; longs liquidated are red, shorts green, as in the UI.
"""

from liqscope.export.chart import bars_of, render_chart_png, write_chart
from liqscope.export.grid import GridTable, grid_table, write_grid
from liqscope.export.map import MapTable, map_table, render_map_png, write_map
from liqscope.export.png import render_heatmap_png
from liqscope.export.steps_file import read_steps

__all__ = [
    "GridTable",
    "MapTable",
    "bars_of",
    "grid_table",
    "map_table",
    "read_steps",
    "render_chart_png",
    "render_heatmap_png",
    "render_map_png",
    "write_chart",
    "write_grid",
    "write_map",
]
