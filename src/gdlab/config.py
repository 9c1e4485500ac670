"""Validate an experiment config before any job runs, with messages that name the key."""

from __future__ import annotations

import math
import os
import re
from pathlib import Path
from typing import Any

from gdlab.grid import DEFAULT_SHARD_SIZE, dataset_classes, fits, normalize_value
from gdlab.methods import METHODS, SEARCHES, method_of
from gdlab.models.registry import REGISTRY

DEFAULT_SELECTION = {"classification": "log_loss", "regression": "mse"}
_FLOAT = re.compile(r"^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$")


class ConfigError(ValueError):
    """The config is invalid; the message lists every problem with its key."""


def read_yaml_config(path: str | os.PathLike) -> dict:
    """The mapping a YAML config file holds; :class:`ConfigError` naming the file, and
    for a YAML error its line and column (Snakemake's own message names neither)."""
    import yaml

    try:
        with open(path, encoding="utf-8") as f:
            data = yaml.safe_load(f)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None) or getattr(err, "context_mark", None)
        where = f", line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        what = getattr(err, "problem", None) or str(err).splitlines()[0]
        context, start = getattr(err, "context", None), getattr(err, "context_mark", None)
        if context and start is not None and start is not mark:  # e.g. an unclosed [
            what += f" ({context} that starts at line {start.line + 1})"
        raise ConfigError(f"{path}{where}: not valid YAML: {what}") from None
    except OSError as err:
        raise ConfigError(f"{path}: cannot read it: {err.strerror}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: a config is a mapping of keys (experiment:, datasets:, "
                          f"models:, ...), got {type(data).__name__}")
    return data


def _non_finite(value: Any, path: tuple = ()) -> list[str]:
    """Every NaN or infinity in the config, by key: JSON Schema takes them as numbers (NaN
    compares false with every bound), and a job would fail on them much later."""
    if isinstance(value, float) and not math.isfinite(value):
        return [f"{_key(path)}: must be a finite number, got {value}"]
    if isinstance(value, dict):
        return [p for k, v in value.items() for p in _non_finite(v, (*path, k))]
    if isinstance(value, list):
        return [p for i, v in enumerate(value) for p in _non_finite(v, (*path, i))]
    return []


def _key(path) -> str:
    """A config path as a user writes it: ``("models", "m", "grid", "lr", 0)`` ->
    ``models.m.grid.lr[0]``."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "<top level>"


def _schema_problems(err) -> list[tuple[tuple, str, bool]]:
    """``(path, message, precise)`` for each problem one jsonschema error stands for.

    jsonschema's own messages need help in three places. An unknown key and a badly
    named one (``datasets: {"a/b": ...}``) are reported on the mapping that holds them;
    here on the key itself (with the allowed keys). A ``oneOf`` failure (a dataset that
    matches none of the forms its ``source`` allows) lists every form's complaints, or
    dumps the whole schema. For ``oneOf`` the branch the user meant is the one whose ``const``
    discriminator (``source: csv``) holds: its complaints are the real ones. When no
    branch is meant (``source`` missing or unknown) another error already says so, and
    the caller drops the vague ``oneOf`` one (``precise`` is False).
    """
    path = tuple(err.absolute_path)
    if err.validator == "oneOf":
        branches: dict[int, list] = {}
        for sub in err.context:
            branches.setdefault(sub.relative_schema_path[0], []).append(sub)
        meant = [subs for subs in branches.values()
                 if not any(sub.validator == "const" for sub in subs)]
        if len(meant) == 1:
            return [p for sub in meant[0] for p in _schema_problems(sub)]
        return [(path, "matches none of the allowed forms", False)]
    if err.validator == "additionalProperties" and err.validator_value is False:
        allowed = list(err.schema.get("properties", {}))
        return [(path + (k,), f"unknown key; allowed keys here: {', '.join(allowed)}", True)
                for k in err.instance if k not in allowed]
    if err.validator in ("minProperties", "maxProperties") and err.schema.get(
            "maxProperties") == 1 and "properties" in err.schema:  # a search space's axis
        return [(path, f"give exactly one of {', '.join(err.schema['properties'])}, got "
                       f"{err.instance}", True)]
    if "propertyNames" in err.relative_schema_path:
        return [(path + (err.instance,), f"invalid name: {err.message}", True)]
    return [(path, err.message, True)]


def _coerce_numbers(value: Any, schemas: list, defs: dict) -> Any:
    """YAML 1.1 reads ``1e-3`` as a string; where the schema wants a number, read it as one.

    ``schemas`` are the (sub)schemas that may describe ``value`` (several under ``oneOf``).
    """
    schemas = [defs[sc["$ref"].rsplit("/", 1)[-1]] if "$ref" in sc else sc
               for sc in schemas if isinstance(sc, dict)]
    schemas += [alt for sc in schemas for alt in sc.get("oneOf", [])]
    types = {t for sc in schemas
             for t in ([sc["type"]] if isinstance(sc.get("type"), str) else sc.get("type", []))}
    if isinstance(value, str) and _FLOAT.match(value.strip()):
        return float(value) if "number" in types else value
    if isinstance(value, float) and value.is_integer() and "integer" in types \
            and "number" not in types:
        return int(value)  # JSON Schema counts 42.0 as an integer; jobs need an int
    if isinstance(value, dict):
        for k, v in value.items():
            subs = [sc.get("properties", {}).get(k, sc.get("additionalProperties"))
                    for sc in schemas]
            value[k] = _coerce_numbers(v, subs, defs)
    elif isinstance(value, list):
        return [_coerce_numbers(v, [sc.get("items") for sc in schemas], defs) for v in value]
    return value


#: selection metrics every K-class sweep reports (the binary-only ones need K = 2)
MULTICLASS_SELECTION = ("accuracy", "log_loss")


def load_schema(path: str | os.PathLike) -> dict:
    """The config's JSON Schema: ``path``, with ``models`` filled in from the registry."""
    import yaml

    with open(path, encoding="utf-8") as f:
        schema = yaml.safe_load(f)
    schema["properties"]["models"].update(models_schema())
    return schema


def models_schema() -> dict:
    """``models.<name>``: its ``grid`` (lists of values per axis) or its ``search`` (a
    search method over a space of the same axes), ``datasets`` and ``repeats``.

    Generated from :data:`gdlab.models.registry.REGISTRY` (names and ``ModelInfo.axes``),
    so a new model or axis needs no edit of ``config/schema.yaml``.
    """
    def grid(axes: dict) -> dict:
        return {"type": "object", "additionalProperties": False, "required": ["lr", "epochs"],
                "properties": {key: {"type": "array", "minItems": 1, "items": axis}
                               for key, axis in axes.items()}}

    def search(axes: dict) -> dict:
        """A search: one of the methods of :data:`gdlab.methods.METHODS` (each gives its
        own schema from the common parts)."""
        space = {"type": "object", "additionalProperties": False,
                 "properties": {key: space_axis(axis) for key, axis in axes.items()}}
        parts = {"space": space, "grid": grid(axes),
                 "n_trials": {"type": "integer", "minimum": 1},
                 "seed": {"type": "integer", "minimum": 0}}
        forms = {name: METHODS[name].search_schema(parts) for name in SEARCHES}
        return {"type": "object", "required": ["method"],
                "properties": {"method": {"enum": list(forms)}},
                "oneOf": list(forms.values())}

    # which datasets a model sweeps (default: every one it fits)
    datasets = {"type": "array", "minItems": 1, "uniqueItems": True,
                "items": {"$ref": "#/$defs/name"}}
    return {
        "propertyNames": {"enum": list(REGISTRY)},
        "properties": {name: {"type": "object", "additionalProperties": False,
                              "properties": {"grid": grid(info.axes),
                                             "search": search(info.axes),
                                             "datasets": datasets,
                                             "repeats": {"type": "integer", "minimum": 1}}}
                       for name, info in REGISTRY.items()},
    }


def space_axis(axis: dict) -> dict:
    """The JSON Schema of one axis of a search space: exactly one distribution of
    :data:`gdlab.methods.random.DISTRIBUTIONS` that suits the axis, its bounds valid values of it.

    ``choice`` suits every axis (its values checked as a grid's); ``uniform`` and
    ``loguniform`` (bounds > 0) a number axis; ``int`` an integer axis.
    """
    types = axis.get("type", [])
    types = [types] if isinstance(types, str) else types

    def bounds(**extra) -> dict:
        kind = "number" if "number" in types else "integer"
        one = {**{k: v for k, v in axis.items() if k != "type"}, "type": kind, **extra}
        if one.get("minimum", 0) <= one.get("exclusiveMinimum", -1):
            one.pop("minimum", None)  # log-uniform: > 0 says it all (one message, not two)
        return {"type": "array", "minItems": 2, "maxItems": 2, "items": one}

    forms = {"choice": {"type": "array", "minItems": 1, "items": axis}}
    if "number" in types:
        forms["uniform"] = bounds()
        forms["loguniform"] = bounds(exclusiveMinimum=0)
    elif "integer" in types:
        forms["int"] = bounds()
    return {"type": "object", "additionalProperties": False, "minProperties": 1,
            "maxProperties": 1, "properties": forms}


def _kind(model: str) -> str:
    """The datasets a model fits, in words."""
    info = REGISTRY[model]
    return info.task if info.multiclass or info.task == "regression" \
        else "binary (two-class) classification"


def _repeated(model: str, axis: str, values: list) -> bool:
    """Whether two of ``values`` make the same run (1 and 1.0, 0.0 and -0.0 are one value)."""
    seen = [repr(normalize_value(v, REGISTRY[model].axes[axis])) for v in values]
    return len(set(seen)) != len(seen)


def _sweep_problems(model: str, spec: dict, config: dict) -> list[str]:
    """A model's points come from its grid or its search (one of them); what the schema
    cannot say about either."""
    key = f"models.{model}"
    if "grid" in spec and "search" in spec:
        return [f"{key}: has both 'grid' and 'search'; a model's runs come from one of them "
                f"(remove {key}.grid or {key}.search)"]
    if "grid" not in spec and "search" not in spec:
        return [f"{key}: needs 'grid' (lists of values) or 'search' (one of the methods "
                f"{', '.join(SEARCHES)})"]
    if "grid" in spec:
        return [f"{key}.grid.{axis}: repeated value in {values}"
                for axis, values in spec["grid"].items() if _repeated(model, axis, values)]
    search, where = spec["search"], f"{key}.search"
    problems = method_of(spec).problems(model, spec, config)
    for axis, dist in search.get("space", {}).items():
        (kind, arg), = dist.items()
        at = f"{where}.space.{axis}.{kind}"
        if kind == "choice":
            if _repeated(model, axis, arg):
                problems.append(f"{at}: repeated value in {arg}")
        elif not arg[0] < arg[1]:
            problems.append(f"{at}: the lower bound must be below the upper bound, got "
                            f"{arg} (a single value is {{choice: [{arg[0]}]}})")
    problems += [f"{where}.grid.{axis}: repeated value in {values}"
                 for axis, values in search.get("grid", {}).items()
                 if _repeated(model, axis, values)]
    return problems


def _newton_problems(model: str, spec: dict) -> list[str]:
    """``optimizer: newton`` where the model has no exact Hessian (the MLPs)."""
    if REGISTRY[model].hessian:
        return []
    search = spec.get("search", {})
    places = [(f"models.{model}.grid.optimizer", spec.get("grid", {}).get("optimizer", [])),
              (f"models.{model}.search.grid.optimizer",
               search.get("grid", {}).get("optimizer", [])),
              (f"models.{model}.search.space.optimizer.choice",
               search.get("space", {}).get("optimizer", {}).get("choice", []))]
    return [f"{key}: newton needs the exact Hessian, which {model} does not have (a "
            f"neural network's is not affordable); use lbfgs" for key, values in places
            if "newton" in values]


def _drop_nulls(config: dict) -> None:
    """An overlay removes a model's key by setting it to null (``grid: null`` to search
    instead): overlays merge into the config, so they cannot delete keys otherwise."""
    models = config.get("models")
    for spec in (models.values() if isinstance(models, dict) else []):
        if isinstance(spec, dict):
            for key in [k for k, v in spec.items() if v is None]:
                del spec[key]


def validate_config(config: dict, schema: dict, base_dir: str | os.PathLike = ".") -> dict:
    """Check ``config`` against the JSON schema and the rules a schema cannot say.

    Coerces numbers written as strings (YAML's ``1e-3``) and fills defaults *in place*
    (the Snakefile relies on this) and returns the config; raises :class:`ConfigError`
    naming each offending key. Nothing is written.
    """
    import jsonschema

    _drop_nulls(config)
    config = _coerce_numbers(config, [schema], schema.get("$defs", {}))
    validator = jsonschema.Draft202012Validator(schema)
    found = [p for err in validator.iter_errors(config) for p in _schema_problems(err)]
    explained = [path for path, _, precise in found if precise]
    problems = sorted({  # a vague complaint only where no precise one covers its key
        f"{_key(path)}: {msg}" for path, msg, precise in found
        if precise or not any(p[:len(path)] == path for p in explained)
    } | set(_non_finite(config)))
    if problems:
        raise ConfigError("invalid config:\n  " + "\n  ".join(problems))

    config.setdefault("mlflow", {}).setdefault("register_models", True)
    config.setdefault("train", {}).setdefault("shard_size", DEFAULT_SHARD_SIZE)
    config.setdefault("plots", {}).setdefault("top_k", 1)
    split = config["split"]
    split.setdefault("stratify", True)
    split.setdefault("standardize", True)
    if split["test_size"] + split["val_size"] >= 1:
        problems.append(
            f"split: test_size + val_size must be < 1 (got {split['test_size']} + "
            f"{split['val_size']}): nothing would be left to train on"
        )
    tasks = {name: ds["task"] for name, ds in config["datasets"].items()}
    for model, spec in config["models"].items():
        for name in spec.get("datasets", []):
            if name not in config["datasets"]:
                problems.append(f"models.{model}.datasets: no dataset {name!r} "
                                f"(datasets: {sorted(config['datasets'])})")
            elif not fits(model, config["datasets"][name]):
                problems.append(f"models.{model}.datasets: {model} does not fit {name!r} "
                                f"({_kind(model)} only)")
        if "datasets" not in spec and not any(fits(model, ds)
                                              for ds in config["datasets"].values()):
            problems.append(
                f"models.{model}: fits {_kind(model)} datasets, but no dataset is one "
                f"(datasets: {tasks})"
            )
    for name, ds in config["datasets"].items():
        if ds["source"] == "synthetic":
            from gdlab.data import SYNTHETIC_TASKS

            if SYNTHETIC_TASKS[ds["generator"]] != ds["task"]:
                problems.append(f"datasets.{name}.generator: {ds['generator']!r} makes "
                                f"{SYNTHETIC_TASKS[ds['generator']]} data, not {ds['task']}")
            if ds["generator"] in ("moons", "xor") and ds["n_features"] != 2:
                problems.append(f"datasets.{name}.n_features: {ds['generator']!r} is 2-D, "
                                f"got {ds['n_features']}")
            if ds.get("n_classes", 2) != 2 and ds["generator"] != "blobs":
                problems.append(f"datasets.{name}.n_classes: only 'blobs' draws K > 2 "
                                f"classes; {ds['generator']!r} draws 2")
            if ds.get("n_classes", 2) > 2 and ds["n_features"] < 2:
                problems.append(f"datasets.{name}.n_classes: K > 2 blobs need "
                                f"n_features >= 2, got {ds['n_features']}")
        elif ds["source"] == "sklearn":
            from gdlab.data import SKLEARN_TASKS

            if SKLEARN_TASKS[ds["name"]] != ds["task"]:
                problems.append(f"datasets.{name}.name: {ds['name']!r} is a "
                                f"{SKLEARN_TASKS[ds['name']]} dataset, not {ds['task']}")
        elif not (Path(base_dir) / ds["path"]).is_file():
            problems.append(f"datasets.{name}.path: no such file {ds['path']!r}")
    selection = config.setdefault("selection", {})
    for task, metric in DEFAULT_SELECTION.items():
        selection.setdefault(task, metric)
    many = sorted(name for name, ds in config["datasets"].items()
                  if (dataset_classes(ds) or 2) > 2)
    if many and selection["classification"] not in MULTICLASS_SELECTION:
        problems.append(f"selection.classification: {selection['classification']!r} is "
                        f"binary only; datasets {many} have K > 2 classes (use one of "
                        f"{', '.join(MULTICLASS_SELECTION)})")
    for name, ds in config["datasets"].items():
        if ds["task"] == "regression" and "n_classes" in ds:
            problems.append(f"datasets.{name}.n_classes: a regression dataset has no classes")
    for model, spec in config["models"].items():
        problems += _sweep_problems(model, spec, config) + _newton_problems(model, spec)
    if problems:
        raise ConfigError("invalid config:\n  " + "\n  ".join(problems))
    return config
