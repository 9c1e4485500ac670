"""A run's files on disk: where they live, how they are written and read back.

Every run of a sweep has one stable directory, ``results/<dataset>/<model>/runs/<run
name>/``, whatever shard trained it, holding:

* ``model.npz``: the fitted parameters and the scaler that standardised the inputs;
* ``history.csv``: one row per epoch;
* ``metrics.json``: the run's spec, flags and train/val/test metrics (identical bytes for
  identical inputs and code);
* ``timing.json``: wall-clock start and end (different on every training, so kept apart).

A train job writes a **shard manifest** (``shards/<k>.json``) after all its runs: the
names, run keys and content keys of its runs. The manifest is the job's declared output;
downstream jobs read run names from manifests. The **content key** of a run covers what
its results are (parameters, history, metrics), not the code version that produced them,
so a retrained run whose results are byte-identical keeps its MLflow run.

NumPy and the standard library only: train jobs must start fast.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import numpy as np

RUN_FILES = ("model.npz", "history.csv", "metrics.json", "timing.json")
#: metrics.json fields that name the code, not the result (left out of the content key)
CODE_FIELDS = ("code_version", "run_key")


def run_dir(sweep_dir: str | os.PathLike, run_name: str) -> Path:
    """``<sweep_dir>/runs/<run name>``: the run name's slashes become directories."""
    return Path(sweep_dir, "runs", *run_name.split("/"))


def history_csv(history: dict[str, np.ndarray]) -> str:
    cols = list(history)
    rows = [",".join(cols)]
    for i in range(len(history["epoch"])):
        rows.append(",".join(_fmt(history[c][i]) for c in cols))
    return "\n".join(rows) + "\n"


def read_history(path) -> dict[str, np.ndarray]:
    """Read ``history.csv`` back (NumPy only)."""
    with open(path, encoding="utf-8") as f:
        cols = f.readline().strip().split(",")
        data = np.loadtxt(f, delimiter=",", ndmin=2)
    return {c: (data[:, i].astype(np.int64) if c == "epoch" else data[:, i])
            for i, c in enumerate(cols)}


def content_key(model_npz: bytes, history: bytes, result: dict) -> str:
    """What a run's results are: its arrays, history and metrics, not the code's version."""
    h = hashlib.sha256()
    for part in (model_npz, history, json.dumps(
            {k: v for k, v in result.items() if k not in CODE_FIELDS},
            sort_keys=True, separators=(",", ":")).encode()):
        h.update(hashlib.sha256(part).digest())
    return h.hexdigest()[:32]


def run_content_key(directory: str | os.PathLike) -> str:
    """:func:`content_key` of a run directory's files."""
    d = Path(directory)
    with open(d / "metrics.json", encoding="utf-8") as f:
        result = json.load(f)
    return content_key((d / "model.npz").read_bytes(), (d / "history.csv").read_bytes(),
                       result)


def read_manifest(path: str | os.PathLike) -> dict:
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def manifest_runs(paths) -> dict[str, dict]:
    """Run name -> {run_key, content_key} over several shard manifests (names are unique)."""
    runs: dict[str, dict] = {}
    for path in paths:
        for name, entry in read_manifest(path)["runs"].items():
            if name in runs:
                raise ValueError(f"run {name!r} is in two shard manifests (one is {path})")
            runs[name] = entry
    return runs


def _fmt(v) -> str:
    v = v.item() if isinstance(v, np.generic) else v
    return str(v) if isinstance(v, int) else repr(float(v))
