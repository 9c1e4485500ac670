"""Quasi-random search (``search: {method: sobol, n_trials, seed, space}``): ``n_trials``
points of a scrambled Sobol sequence over the space, trained by rule ``train`` in shards
like a random search's trials (and named the same way).

A Sobol sequence fills the unit cube more evenly than independent draws: its first
``2^k`` points put exactly one point in each of ``2^k`` equal slices of every axis, so a
small budget leaves no large region of the space untried. The sequence is scrambled
(Owen-type, :class:`scipy.stats.qmc.Sobol`) with a seed derived from the search's seed
(default: the global seed) and the model, which keeps it an unbiased sample of the space.

Trial ``i`` is point ``i`` of the sequence, whatever ``n_trials``: the points come from
one block of ``2^k >= n_trials`` points, of which the first ``n_trials`` are taken, and
Sobol points are made in sequence, so raising ``n_trials`` only adds trials (the first
ones keep their values, names, seeds and run keys). Axis ``j`` of the cube is the
``j``-th axis of the space in sorted order; a point's coordinate on it becomes a value as
a random search's draw does (:func:`gdlab.methods.random.draw`). Adding an axis to the
space changes every point, as it changes the cube; the points also depend on SciPy's
Sobol implementation (stable across its releases since 1.7, but not promised).
"""

from __future__ import annotations

import math

from gdlab.grid import derive_seed
from gdlab.methods.base import Method
from gdlab.methods.random import space_search_schema, trials_at


def unit_points(n: int, dims: int, seed: int):
    """The first ``n`` points of the scrambled Sobol sequence of ``seed`` in ``[0, 1)^dims``
    (an ``n x dims`` array): a prefix of a power-of-two block, whose balance SciPy keeps."""
    from scipy.stats import qmc  # a second of imports: only when a config has a sobol sweep

    block = qmc.Sobol(d=dims, scramble=True, seed=seed).random_base2(
        max(0, math.ceil(math.log2(max(n, 1)))))
    return block[:n]


def sequence_seed(search_seed: int, model: str) -> int:
    """The seed of a model's sequence: from the search's seed and the model only."""
    return derive_seed(search_seed, "sobol", model)


def sobol_trials(search: dict, model: str, global_seed: int) -> list[tuple[str, dict]]:
    """(run name, hyperparameters) of every trial of a Sobol search, trial 0 first."""
    axes = sorted(search["space"])
    seed = sequence_seed(search.get("seed", global_seed), model)
    units = unit_points(search["n_trials"], len(axes), seed)
    column = {axis: j for j, axis in enumerate(axes)}
    return trials_at(search, model, lambda i, axis: float(units[i, column[axis]]))


class Sobol(Method):
    name = "sobol"
    module = __name__

    def search_schema(self, parts):
        return space_search_schema(self.name, parts)

    def points(self, model_spec, model, global_seed):
        return sobol_trials(model_spec["search"], model, global_seed)

    def describe(self, search):
        return f"a quasi-random (Sobol) search of {search['n_trials']} trials"


METHOD = Sobol()
