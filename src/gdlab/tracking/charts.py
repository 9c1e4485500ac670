"""How a run's curves and colours read in MLflow's charts (pure: tested without MLflow;
:mod:`gdlab.tracking.layout` uses them): at most :data:`MAX_CURVE_POINTS` points a curve,
a diverged run's blow-up left out, red for diverged runs only.
"""

from __future__ import annotations

import numpy as np

from gdlab.grid import stable_hash
from gdlab.metrics import higher_is_better
from gdlab.runfiles import Run

#: a diverged run's colour in MLflow's tables and charts
DIVERGED_COLOR = "#d62728"
#: every other run's and parent's colours: no red, so red means diverged (MLflow's own
#: palette, used for a run without a colour, has red in it)
#: (ordered so that the first six, a default experiment's parents, are far apart)
PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#7f7f7f", "#bcbd22", "#17becf",
           "#393b79", "#8c6d31", "#1b9e77", "#637939", "#7b4173")
#: a diverged run's curve points beyond this many times its first value (at least 1) are
#: left out of MLflow's charts: 1.5e7 flattened every other curve (history.csv has them)
DIVERGED_CAP = 10.0


def run_color(run: Run) -> str:
    """A child's colour (tag ``mlflow.runColor``): red when it diverged, else one of
    :data:`PALETTE` by its name (stable across syncs)."""
    if run.diverged:
        return DIVERGED_COLOR
    return PALETTE[int(stable_hash(run.name), 16) % len(PALETTE)]


def parent_colors(sweeps: list[str]) -> dict[str, str]:
    """Each sweep's parent colour: distinct for up to ``len(PALETTE)`` sweeps (by their
    sorted names), never red."""
    return {s: PALETTE[i % len(PALETTE)] for i, s in enumerate(sorted(sweeps))}


def capped(values: np.ndarray) -> np.ndarray:
    """A diverged run's curve without the finite points beyond :data:`DIVERGED_CAP` times
    its first finite value (NaN, a gap in MLflow's chart, stays): a boolean mask."""
    finite = values[np.isfinite(values)]
    limit = DIVERGED_CAP * max(abs(float(finite[0])) if finite.size else 1.0, 1.0)
    return ~(np.isfinite(values) & (np.abs(values) > limit))


#: at most this many points of a curve go to MLflow (a chart cannot show more, and a
#: million-epoch run's curves made a 1.4 GB store); history.csv keeps every epoch
MAX_CURVE_POINTS = 1000
#: a child whose curves were thinned says so: "<points> of <epochs> epochs ..."
CURVE_POINTS_TAG = "curve_points"


def curve_indices(history: dict, max_points: int = MAX_CURVE_POINTS) -> np.ndarray:
    """The rows of ``history`` (a run's per-epoch columns) whose values go to MLflow:
    every row when there are at most ``max_points``, else at most ``max_points`` rows:
    the first, the last, each curve's best (lowest, or highest for a metric where higher
    is better: :data:`gdlab.metrics.HIGHER_IS_BETTER`) and the rest evenly spaced. Pure:
    the same rows for every store, and every curve of a run at the same epochs."""
    n = len(history.get("epoch", ()))
    if n <= max_points:
        return np.arange(n)
    keep = {0, n - 1}
    for col, values in history.items():
        v = np.asarray(values, dtype=np.float64)
        if col == "epoch" or not np.isfinite(v).any():
            continue
        higher = higher_is_better(col)
        v = np.where(np.isfinite(v), v, -np.inf if higher else np.inf)
        keep.add(int(np.argmax(v) if higher else np.argmin(v)))
    spaced = np.linspace(0, n - 1, max(max_points - len(keep), 2)).round().astype(np.int64)
    return np.union1d(np.fromiter(keep, dtype=np.int64), spaced)


def curve_points_tag(history: dict, max_points: int = MAX_CURVE_POINTS) -> str | None:
    """The child's :data:`CURVE_POINTS_TAG` when its curves were thinned, else None."""
    n = len(history.get("epoch", ()))
    if n <= max_points:
        return None
    return (f"{len(curve_indices(history, max_points))} of {n} epochs (the first, the last, "
            "each curve's best, the rest evenly spaced); every epoch is in history.csv")
