"""Grid search (``models.<m>.grid``): every combination of the listed values, one run
each (times the repeats), trained by rule ``train`` in shards."""

from __future__ import annotations

from gdlab.grid import expand_grid, run_name
from gdlab.methods.base import Method
from gdlab.names import SWEEP_FIGURES


class Grid(Method):
    name = "grid"
    module = __name__
    figures = SWEEP_FIGURES  # its points form a grid: the heatmap first

    def points(self, model_spec, model, global_seed):
        grid = model_spec["grid"]
        return [(run_name(hp, grid), hp) for hp in expand_grid(grid, model)]

    def describe(self, search):
        return None  # said by the grid's values (gdlab.tracking.layout reads the runs)


METHOD = Grid()
