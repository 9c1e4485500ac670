"""Random search (``search: {method: random, n_trials, seed, space}``): ``n_trials``
points drawn from a space, trained by rule ``train`` in shards.

Trial ``i`` draws each axis from a counter-based generator keyed by the search's seed, the
model, ``i`` and the axis (:func:`unit_draw`), so raising ``n_trials`` only adds trials:
the first ones keep their values, names, seeds and run keys.
"""

from __future__ import annotations

from gdlab.grid import derive_seed, normalize_hyperparameters, stable_hash, trial_name
from gdlab.methods.base import Method

#: how a search space may draw one axis: ``{loguniform: [lo, hi]}``, ``{uniform: [lo, hi]}``
#: (numbers), ``{int: [lo, hi]}`` (integers, both ends included), ``{choice: [values]}``
DISTRIBUTIONS = ("loguniform", "uniform", "int", "choice")


def unit_draw(*parts) -> float:
    """A number in [0, 1) drawn from a hash of ``parts`` (52 bits of SHA-256).

    A counter-based generator: the draw depends on its key only, not on how many draws
    came before, so trial ``i``'s values are the same whatever ``n_trials`` and whichever
    other axes the space has. Standard library only, the same on every platform.
    """
    return int(stable_hash(list(parts), 13), 16) / 16**13


def draw(distribution: dict, u: float):
    """The value of ``distribution`` (one of :data:`DISTRIBUTIONS`) at ``u`` in [0, 1)."""
    (kind, arg), = distribution.items()
    if kind == "choice":
        return arg[min(int(u * len(arg)), len(arg) - 1)]
    lo, hi = arg
    if kind == "int":
        return int(lo) + min(int(u * (int(hi) - int(lo) + 1)), int(hi) - int(lo))
    if kind == "uniform":
        value = lo + u * (hi - lo)
    elif kind == "loguniform":
        value = lo * (hi / lo) ** u  # lo at u = 0; log(value) uniform between the logs
    else:
        raise ValueError(f"unknown distribution {kind!r}; choose one of {DISTRIBUTIONS}")
    return min(max(float(value), float(lo)), float(hi))  # rounding may miss a bound by an ulp


def trial_seed(search_seed: int, model: str, trial: int) -> int:
    """The seed trial ``trial`` of ``model``'s search draws its values from."""
    return derive_seed(search_seed, "trial", model, trial)


def trials_at(search: dict, model: str, units) -> list[tuple[str, dict]]:
    """(run name, hyperparameters) of trials ``0, 1, ...``: trial ``i`` takes each axis of
    the space at ``units(i, axis)`` in [0, 1) (:func:`draw`). Every method that draws its
    trials from a space names and normalises them here."""
    space = search["space"]
    trials = []
    for i in range(search["n_trials"]):
        hp = normalize_hyperparameters(
            {axis: draw(space[axis], units(i, axis)) for axis in sorted(space)}, model)
        trials.append((trial_name(i, hp, space), hp))
    return trials


def search_trials(search: dict, model: str, global_seed: int) -> list[tuple[str, dict]]:
    """(run name, hyperparameters) of every trial of a random search, trial 0 first.

    Trial ``i`` draws each axis of the space from :func:`unit_draw` of
    ``(trial_seed(seed, model, i), axis)``, ``seed`` being the search's (default: the
    global seed). So raising ``n_trials`` only adds trials.
    """
    seed = search.get("seed", global_seed)
    return trials_at(search, model, lambda i, axis: unit_draw(trial_seed(seed, model, i), axis))


def space_search_schema(name: str, parts: dict) -> dict:
    """The schema of a search that draws ``n_trials`` points from a space with a seed."""
    return {"properties": {"method": {"const": name}, "n_trials": parts["n_trials"],
                           "seed": parts["seed"],
                           "space": {**parts["space"], "required": ["lr", "epochs"]}},
            "required": ["n_trials", "space"], "additionalProperties": False}


class Random(Method):
    name = "random"
    module = __name__

    def search_schema(self, parts):
        return space_search_schema(self.name, parts)

    def points(self, model_spec, model, global_seed):
        return search_trials(model_spec["search"], model, global_seed)


METHOD = Random()
