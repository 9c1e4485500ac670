"""Validate an experiment config before any job runs, with messages that name the key."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from gdlab.models import MODEL_TASKS

DEFAULT_SELECTION = {"classification": "log_loss", "regression": "mse"}
_FLOAT = re.compile(r"^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$")


class ConfigError(ValueError):
    """The config is invalid; the message lists every problem with its key."""


def _key(path) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "<top level>"


def _coerce_numbers(value: Any, schemas: list, defs: dict) -> Any:
    """YAML 1.1 reads ``1e-3`` as a string; where the schema wants a number, read it as one.

    ``schemas`` are the (sub)schemas that may describe ``value`` (several under ``oneOf``).
    """
    schemas = [defs[sc["$ref"].rsplit("/", 1)[-1]] if "$ref" in sc else sc
               for sc in schemas if isinstance(sc, dict)]
    schemas += [alt for sc in schemas for alt in sc.get("oneOf", [])]
    if isinstance(value, str) and _FLOAT.match(value.strip()):
        wants_number = any("number" in ([t] if isinstance(t := sc.get("type", []), str) else t)
                           for sc in schemas)
        return float(value) if wants_number else value
    if isinstance(value, dict):
        for k, v in value.items():
            subs = [sc.get("properties", {}).get(k, sc.get("additionalProperties"))
                    for sc in schemas]
            value[k] = _coerce_numbers(v, subs, defs)
    elif isinstance(value, list):
        return [_coerce_numbers(v, [sc.get("items") for sc in schemas], defs) for v in value]
    return value


def load_schema(path: str | os.PathLike) -> dict:
    import yaml

    with open(path, encoding="utf-8") as f:
        return yaml.safe_load(f)


def validate_config(config: dict, schema: dict, base_dir: str | os.PathLike = ".") -> dict:
    """Check ``config`` against the JSON schema and the rules a schema cannot say.

    Returns the config with defaults filled in; raises :class:`ConfigError` naming each
    offending key. Nothing is written.
    """
    import jsonschema

    config = _coerce_numbers(config, [schema], schema.get("$defs", {}))
    validator = jsonschema.Draft202012Validator(schema)
    problems = []
    for err in sorted(validator.iter_errors(config), key=lambda e: list(map(str, e.path))):
        # oneOf failures are vague; report the best-matching branch's complaint instead
        leaf = jsonschema.exceptions.best_match(err.context) if err.context else err
        where = _key(list(err.path) + [p for p in leaf.path if p not in err.path][:0])
        where = _key(leaf.absolute_path) if err.context else where
        problems.append(f"{where}: {leaf.message}")
    if problems:
        raise ConfigError("invalid config:\n  " + "\n  ".join(problems))

    config.setdefault("mlflow", {}).setdefault("register_models", True)
    split = config["split"]
    split.setdefault("stratify", True)
    split.setdefault("standardize", True)
    if split["test_size"] + split["val_size"] >= 1:
        problems.append(
            f"split: test_size + val_size must be < 1 (got {split['test_size']} + "
            f"{split['val_size']}): nothing would be left to train on"
        )
    tasks = {name: ds["task"] for name, ds in config["datasets"].items()}
    for model in config["models"]:
        if MODEL_TASKS[model] not in tasks.values():
            problems.append(
                f"models.{model}: fits {MODEL_TASKS[model]} datasets, but no dataset has "
                f"task {MODEL_TASKS[model]!r} (datasets: {tasks})"
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
    for model, spec in config["models"].items():
        for key, values in spec["grid"].items():
            if len(set(map(repr, values))) != len(values):
                problems.append(f"models.{model}.grid.{key}: repeated value in {values}")
    if problems:
        raise ConfigError("invalid config:\n  " + "\n  ".join(problems))
    return config
