"""From a config to jobs, whatever the search method: grid expansion, run names, run keys,
derived seeds, repeats, shards (each method's points: :mod:`gdlab.methods`; a job's code
version: :mod:`gdlab.codeversion`).

Everything here is deterministic and depends only on values, never on dict order or
scheduling, so the same config always yields the same jobs, names, keys and seeds.

A model's *points* (configurations of hyperparameters) come from its method
(:data:`gdlab.methods.METHODS`: its ``grid``, or its ``search``); each point is trained
``repeats`` times with different seeds, each time a *run*.
"""

from __future__ import annotations

import functools
import hashlib
import inspect
import itertools
import json

from gdlab.io import canonical_json
from gdlab.models.registry import model_info
from gdlab.runnames import ORDER

#: every hyperparameter a run may record, common axes first (the order figures use)
HYPERPARAMETERS: tuple[str, ...] = ORDER


def stable_hash(obj, length: int = 16) -> str:
    """Hex digest of the canonical JSON of ``obj`` (key order and int/float subtypes ignored)."""
    return hashlib.sha256(canonical_json(obj).encode()).hexdigest()[:length]


@functools.cache  # a Snakemake invocation asks once per job
def file_digest(path) -> str:
    """sha256 of a file's bytes (a CSV dataset's identity)."""
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def derive_seed(global_seed: int, *parts) -> int:
    """A seed for one job, from the global seed and the job's identity (not its order)."""
    return int(stable_hash([int(global_seed), *parts], 16), 16) % (2**32)


@functools.cache
def default_hyperparameters(model: str) -> dict:
    """The hyperparameters every run of ``model`` records, with its class's defaults.

    They are the keyword defaults of the model's constructor, except ``seed`` (a run's is
    derived) and the model's own axes (``ModelInfo.own_axes``: ``solver``, ``loss``,
    ``hidden_layer_sizes``...), which a run records only when its grid lists them. So a
    linear or logistic run keeps the spec it had before those axes existed, and an MLP gets
    no ``fit_intercept`` it does not take.
    """
    info = model_info(model)
    params = inspect.signature(info.load()).parameters.values()
    return {p.name: p.default for p in params
            if p.default is not inspect.Parameter.empty
            and p.name != "seed" and p.name not in info.own_axes}


def normalize_value(value, axis: dict | None):
    """One value in the one type its axis's JSON Schema says (``1`` and ``1.0`` are one lr)."""
    if value is None or axis is None:
        return value
    types = axis.get("type", [])
    types = [types] if isinstance(types, str) else types
    if "array" in types:
        return [normalize_value(v, axis["items"]) for v in value]
    if "number" in types:
        return float(value) + 0.0  # + 0.0: -0.0 and 0.0 are one value
    if "integer" in types:
        return int(value)
    return value


def normalize_hyperparameters(hp: dict, model: str) -> dict:
    """Fill ``model``'s defaults and give every value the type of its axis."""
    axes = model_info(model).axes
    return {k: normalize_value(v, axes.get(k))
            for k, v in {**default_hyperparameters(model), **hp}.items()}


def expand_grid(grid: dict[str, list], model: str) -> list[dict]:
    """Every combination of the grid's values, in a fixed order (keys sorted, values as listed)."""
    keys = sorted(grid)
    return [normalize_hyperparameters(dict(zip(keys, combo, strict=True)), model)
            for combo in itertools.product(*(grid[k] for k in keys))]


def format_value(value) -> str:
    """A value as a run name shows it; path-safe (``[16, 8]`` -> ``16x8``)."""
    if value is None:
        return "none"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, str):
        return value
    if isinstance(value, list | tuple):
        return "x".join(format_value(v) for v in value)
    return repr(value)  # round-trips floats exactly: distinct values, distinct names


#: significant digits of a drawn continuous value in a run name (never in the value itself)
NAME_DIGITS = 3
#: digits of the trial number in a run name (fixed: raising n_trials renames nothing)
TRIAL_DIGITS = 4


def trial_name(trial: int, hp: dict, space: dict) -> str:
    """``trial~0007/epochs~123/lr~0.00123/optimizer~adam``: the trial number (which makes
    the name unique), then each axis of the space; a value drawn from a continuous
    distribution is shown to :data:`NAME_DIGITS` significant digits (path-safe: digits,
    ``.``, ``e``, ``+``, ``-``), the others exactly as a grid's."""
    def shown(axis):
        continuous = next(iter(space[axis])) in ("loguniform", "uniform")
        return f"{hp[axis]:.{NAME_DIGITS}g}" if continuous else format_value(hp[axis])

    return "/".join([f"trial~{trial:0{TRIAL_DIGITS}d}",
                     *(f"{axis}~{shown(axis)}" for axis in sorted(space))])


def run_name(hp: dict, grid_keys) -> str:
    """Human-readable, injective path of a run: ``lr~0.1/l2~0.0/optimizer~gd``.

    Only the keys the grid lists appear (sorted), so names stay short; a value that the
    grid does not vary is still in the run's spec and key.
    """
    return "/".join(f"{k}~{format_value(hp[k])}" for k in sorted(grid_keys))


def axis_values(model_spec: dict, axis: str) -> list | None:
    """The values a model's grid (or its halving search's grid) lists for ``axis``, or its
    search's ``choice`` values; None when the axis is drawn from a continuous or integer
    range, or not swept."""
    if "grid" in model_spec:
        return model_spec["grid"].get(axis)
    if "grid" in model_spec.get("search", {}):
        return model_spec["search"]["grid"].get(axis)
    dist = model_spec.get("search", {}).get("space", {}).get(axis, {})
    return dist.get("choice")


def drawn_axes(model_spec: dict) -> dict[str, str]:
    """Axis -> distribution of the axes a model's search draws from a range
    (``loguniform``, ``uniform``, ``int``): every trial has its own value, so figures bin
    them or scale them instead of listing values. Empty for a grid."""
    space = model_spec.get("search", {}).get("space", {})
    return {axis: kind for axis, dist in sorted(space.items())
            for kind in dist if kind != "choice"}


# --------------------------------------------------------------------------------------
# Repeats
# --------------------------------------------------------------------------------------


def sweep_repeats(config: dict, model: str) -> int:
    """How many times each point of ``model`` is trained: ``models.<model>.repeats``, else
    the top-level ``repeats``, else 1."""
    return int(config["models"][model].get("repeats", config.get("repeats", 1)))


def repeat_seed(seed: int, repeat: int) -> int:
    """Repeat ``repeat``'s seed: repeat 0 keeps the point's own seed (a sweep without
    repeats trains exactly what it always did), the others derive from it."""
    return seed if repeat == 0 else derive_seed(seed, "repeat", repeat)


def repeat_runs(point: str, seed: int, repeats: int) -> list[tuple[str, int, dict]]:
    """(run name, seed, extra spec fields) of each repeat of a point.

    One repeat: the point's name and seed, no extra field (a run's spec and files are
    what they were before repeats existed). More: ``<point>/repeat~<r>``, with the fields
    ``config`` (the point's name) and ``repeat``.
    """
    if repeats == 1:
        return [(point, seed, {})]
    return [(f"{point}/repeat~{r}", repeat_seed(seed, r), {"config": point, "repeat": r})
            for r in range(repeats)]


#: hyperparameters a run's seed does not depend on: two runs that differ only in their loss
#: start from the same point, so the lesson compares the losses from one start
UNSEEDED_AXES = ("loss",)


def run_seed(global_seed: int, dataset: str, model: str, hp: dict) -> int:
    """The seed of a configuration's run (repeat 0): from the global seed, the sweep and
    the hyperparameters but :data:`UNSEEDED_AXES`, never from scheduling order."""
    return derive_seed(global_seed, dataset, model,
                       {k: v for k, v in hp.items() if k not in UNSEEDED_AXES})


def config_of(result: dict) -> tuple[str, int]:
    """(configuration name, repeat) of a run's spec or ``metrics.json``."""
    return result.get("config", result["run_name"]), int(result.get("repeat", 0))


def point_specs(config: dict, dataset: str, model: str, points: list[tuple[str, dict]],
                data_key: str, code: str, **fields) -> dict[str, dict]:
    """Run name -> spec of each repeat of each (name, hyperparameters) point of a sweep.

    A run's seed derives from the global seed, the sweep and its hyperparameters (repeats:
    :func:`repeat_runs`); ``fields`` are added to every spec (a TPE round's ``round``).
    """
    specs = {}
    k = sweep_repeats(config, model)
    for point, hp in points:
        for name, seed, extra in repeat_runs(
                point, run_seed(config["seed"], dataset, model, hp), k):
            spec = {"dataset": dataset, "model": model,
                    "task": config["datasets"][dataset]["task"], "run_name": name,
                    "hyperparameters": hp, "seed": seed, **extra, **fields,
                    "data_key": data_key, "code_version": code}
            spec["run_key"] = stable_hash([data_key, model, hp, seed, code])
            specs[name] = spec
    return specs


#: hyperparameters besides l2 that change the problem a run solves (not how it is solved)
PROBLEM_AXES = ("loss", "hidden_layer_sizes", "activation")


def problem(hp: dict) -> dict:
    """What defines a run's problem, the one scikit-learn solves for it: ``l2``, and the
    :data:`PROBLEM_AXES` its grid lists (others take the class's defaults)."""
    return {k: hp[k] for k in ("l2", *PROBLEM_AXES) if k in hp}


def problems(hps) -> list[dict]:
    """The distinct :func:`problem` of some hyperparameters, in a fixed order: what a
    sweep's baseline solves."""
    return [json.loads(p) for p in sorted({canonical_json(problem(hp)) for hp in hps})]


def reference_key(hp: dict) -> str:
    """The key of a run's reference in ``baseline.json``: ``repr(l2)``, then the run's
    :data:`PROBLEM_AXES` when its grid lists them (``0.01/hidden_layer_sizes~16``)."""
    return "/".join([repr(float(hp["l2"]))] +
                    [f"{k}~{format_value(hp[k])}" for k in PROBLEM_AXES if k in hp])


def dataset_classes(dataset: dict) -> int | None:
    """K of a classification dataset's config, known before reading any file (None: regression).

    Declared, not discovered: blobs and CSV datasets say ``n_classes`` (default 2); a
    dataset bundled with scikit-learn has the K of :data:`gdlab.data.bundled.SKLEARN_N_CLASSES`.
    """
    if dataset["task"] != "classification":
        return None
    if dataset.get("source") == "sklearn":
        from gdlab.data.bundled import SKLEARN_N_CLASSES

        # a name of the wrong task has no K; the config check reports it
        return SKLEARN_N_CLASSES.get(dataset["name"], 2)
    return int(dataset.get("n_classes", 2))


def fits(model: str, dataset: dict) -> bool:
    """Whether ``model`` is swept over ``dataset``: same task, and K = 2 for a binary model."""
    info = model_info(model)
    return dataset["task"] == info.task and (
        info.multiclass or dataset["task"] != "classification" or dataset_classes(dataset) == 2)


def sweeps(config: dict) -> list[tuple[str, str]]:
    """(dataset, model) pairs: each model sweeps the datasets its ``datasets:`` lists, else
    every dataset it :func:`fits`."""
    return [(ds, model) for model, spec in sorted(config["models"].items())
            for ds in sorted(spec.get("datasets", config["datasets"]))
            if fits(model, config["datasets"][ds])]


#: runs per train job unless the config's ``train.shard_size`` says otherwise
DEFAULT_SHARD_SIZE = 200


def shard_count(n_runs: int, shard_size: int) -> int:
    """Shards of a sweep: ``ceil(n_runs / shard_size)``, at least one."""
    return max(1, -(-n_runs // shard_size))


def shard_of(run_name: str, n_shards: int) -> int:
    """The shard of a run, from its name alone (not its position in the grid).

    So adding or removing a grid value changes only the shards its runs land in, as long
    as the shard count stays the same.
    """
    return int(stable_hash(["shard", run_name]), 16) % n_shards


def split_shards(names, shard_size: int) -> dict[str, list[str]]:
    """Shard id -> run names of each shard that has runs (ids in increasing order, names
    in the order given): every sweep's, rung's or round's shards, by :func:`shard_of`."""
    names = list(names)
    n = shard_count(len(names), shard_size)
    shards: dict[str, list[str]] = {}
    for name in names:
        shards.setdefault(str(shard_of(name, n)), []).append(name)
    return dict(sorted(shards.items(), key=lambda kv: int(kv[0])))
