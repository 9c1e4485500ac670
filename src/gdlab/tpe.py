"""Bayesian optimisation in rounds: Optuna's TPE sampler, asked ``batch`` trials at a time.

A TPE search (``search: {method: tpe, n_trials, batch, seed, space}``) trains its trials in
*rounds*: round r holds trials ``r * batch`` to ``r * batch + batch - 1`` (the last round
may be smaller). Round r's trials are asked from an Optuna ``TPESampler`` that has been
told every trial of the rounds before, each with its objective read from ``results/``:
the mean over its repeats of the validation selection metric, or failed
(``TrialState.FAIL``) when a repeat diverged or has no finite metric.

Nothing is kept between jobs. Each round's sampler is rebuilt from the results, in a fresh
in-memory study: every earlier trial added with ``create_trial`` (in trial order), then
``ask()`` called once per trial of the round, the sampler seeded by :func:`round_seed`
(the search's seed, the model and r). So a round's trials are a pure function of the
config and the results before it: the same whatever ``--cores``, sharding or kill and
rerun, and raising ``n_trials`` only adds rounds (or fills up a last, smaller round, whose
first trials stay: its asks run in the same order from the same state).

gdlab's space maps onto Optuna's distributions (:func:`distributions`): ``loguniform`` ->
``FloatDistribution(log=True)``, ``uniform`` -> ``FloatDistribution``, ``int`` ->
``IntDistribution`` and ``choice`` -> ``CategoricalDistribution`` over the *indices* of
the choices (a choice may be a list or None, which Optuna cannot hold); :func:`decode`
turns a trial's parameters back into hyperparameters.

This is the only gdlab module that imports Optuna, and only inside the functions that need
it: the planning (Snakemake) and the train jobs never do; the job that asks a round does.
"""

from __future__ import annotations

import math
import warnings
from importlib.metadata import version

from gdlab.grid import derive_seed, normalize_hyperparameters, trial_name
from gdlab.metrics import HIGHER_IS_BETTER
from gdlab.settling import score

#: Optuna's default: trials told COMPLETE before TPE models the space (random before)
DEFAULT_STARTUP_TRIALS = 10


def optuna_version() -> str:
    """The installed Optuna's version (without importing it): a round's trials depend on it."""
    return version("optuna")


def round_sizes(n_trials: int, batch: int) -> list[int]:
    """Trials of each round: ``batch`` each, the last one what is left."""
    return [min(batch, n_trials - start) for start in range(0, n_trials, batch)]


def round_trials(search: dict, r: int) -> range:
    """The trial numbers of round ``r`` of ``search``."""
    start = r * search["batch"]
    return range(start, start + round_sizes(search["n_trials"], search["batch"])[r])


def round_seed(search_seed: int, model: str, r: int) -> int:
    """The seed of round ``r``'s sampler: from the search's seed, the model and r only."""
    return derive_seed(search_seed, "tpe", model, r)


def direction(metric: str) -> str:
    """``maximize`` for a metric where higher is better (accuracy...), else ``minimize``."""
    return "maximize" if HIGHER_IS_BETTER[metric] else "minimize"


def distributions(space: dict) -> dict:
    """Axis -> the Optuna distribution of a gdlab search space's axis (sorted by axis).

    ``choice`` becomes a categorical over the indices 0..n-1 of its values (decoded by
    :func:`decode`): Optuna's categorical choices must be None, bool, int, float or str,
    and a hidden-layer list is none of these.
    """
    from optuna.distributions import (
        CategoricalDistribution,
        FloatDistribution,
        IntDistribution,
    )

    out = {}
    for axis in sorted(space):
        (kind, arg), = space[axis].items()
        if kind == "choice":
            out[axis] = CategoricalDistribution(list(range(len(arg))))
        elif kind == "int":
            out[axis] = IntDistribution(int(arg[0]), int(arg[1]))
        elif kind in ("uniform", "loguniform"):
            out[axis] = FloatDistribution(float(arg[0]), float(arg[1]),
                                          log=kind == "loguniform")
        else:
            raise ValueError(f"unknown distribution {kind!r} of axis {axis!r}")
    return out


def decode(space: dict, params: dict, model: str) -> dict:
    """The hyperparameters of a trial's Optuna ``params`` (a choice's index -> its value),
    with the model's defaults filled and every value in its axis's type."""
    hp = {}
    for axis in sorted(space):
        (kind, arg), = space[axis].items()
        hp[axis] = arg[params[axis]] if kind == "choice" else params[axis]
    return normalize_hyperparameters(hp, model)


def _plain(value):
    """A parameter as plain JSON (Optuna may hand back NumPy scalars)."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int) or (hasattr(value, "dtype") and value.dtype.kind in "iu"):
        return int(value)
    return float(value)


def study(space: dict, told: list[tuple[dict, float | None]], seed: int,
          n_startup_trials: int = DEFAULT_STARTUP_TRIALS, goal: str = "minimize"):
    """A fresh in-memory Optuna study with a ``TPESampler(seed=seed, n_startup_trials=...)``
    (Optuna's defaults otherwise: constant liar on, so each ask of a round sees the ones
    asked before it as running), told ``told``: each (params, objective) in trial order,
    an objective of None (or not finite) as a failed trial (``TrialState.FAIL``)."""
    import optuna
    from optuna.trial import TrialState, create_trial

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    dists = distributions(space)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        sampler = optuna.samplers.TPESampler(seed=seed, n_startup_trials=n_startup_trials)
        out = optuna.create_study(sampler=sampler, direction=goal)
    for params, value in told:
        if value is None or not math.isfinite(value):
            out.add_trial(create_trial(state=TrialState.FAIL, params=params,
                                       distributions=dists))
        else:
            out.add_trial(create_trial(params=params, distributions=dists,
                                       value=float(value)))
    return out


def ask(space: dict, told: list[tuple[dict, float | None]], n: int, seed: int,
        n_startup_trials: int = DEFAULT_STARTUP_TRIALS,
        goal: str = "minimize") -> list[dict]:
    """The Optuna parameters of ``n`` new trials, asked one after the other from
    :func:`study` of ``told``. A pure function of its arguments."""
    import optuna

    dists = distributions(space)
    asking = study(space, told, seed, n_startup_trials, goal)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        return [{k: _plain(v) for k, v in asking.ask(dists).params.items()}
                for _ in range(n)]


def objective(results: list[dict], metric: str) -> float | None:
    """A trial's objective from its repeats' ``metrics.json``: the mean of their scores
    (:func:`gdlab.settling.score`, the validation ``metric`` over the last epochs, as the
    best run is chosen); None (told as failed) if a repeat diverged or has no finite
    value."""
    values = []
    for result in results:
        value = score(result, metric)
        if result["diverged"] or not math.isfinite(value):
            return None
        values.append(value)
    return math.fsum(values) / len(values) if values else None


def ask_round(search: dict, model: str, r: int, size: int, earlier: list[dict],
              results: dict[str, list[dict]], metric: str, global_seed: int) -> dict:
    """The record of round ``r`` (``rounds/<r>/trials.json``): its ``size`` trials asked
    from the rounds ``earlier`` (their records, round 0 first) and ``results`` (trial name
    -> its runs' ``metrics.json``), and what was told.

    Each trial: its number, its run name (:func:`gdlab.grid.trial_name`, as a random
    search's), Optuna's ``params`` and the ``hyperparameters`` they decode to.
    """
    seed = round_seed(search.get("seed", global_seed), model, r)
    if [rec["round"] for rec in earlier] != list(range(r)):
        raise ValueError(f"round {r} needs the records of rounds 0..{r - 1}, got "
                         f"{[rec['round'] for rec in earlier]}")
    told = []
    for trial in (t for rec in earlier for t in rec["trials"]):
        if trial["name"] not in results:
            raise ValueError(f"no results of trial {trial['name']!r} (round "
                             f"{trial['number'] // search['batch']})")
        told.append({"number": trial["number"], "name": trial["name"],
                     "value": objective(results[trial["name"]], metric)})
    params_of = {t["name"]: t["params"] for rec in earlier for t in rec["trials"]}
    start = r * search["batch"]
    n_startup = search.get("n_startup_trials", DEFAULT_STARTUP_TRIALS)
    asked = ask(search["space"], [(params_of[t["name"]], t["value"]) for t in told], size,
                seed, n_startup, direction(metric))
    trials = []
    for number, params in enumerate(asked, start):
        hp = decode(search["space"], params, model)
        trials.append({"number": number, "name": trial_name(number, hp, search["space"]),
                       "params": params, "hyperparameters": hp})
    return {"round": r, "metric": f"val_{metric}", "direction": direction(metric),
            "sampler": {"name": "TPESampler", "seed": seed, "n_startup_trials": n_startup,
                        "optuna": optuna_version()},
            "told": [{**t, "state": "FAIL" if t["value"] is None else "COMPLETE"}
                     for t in told],
            "trials": trials}
