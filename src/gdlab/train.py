"""Training: one run alone, or a shard of a sweep's runs in one process.

A train job trains a *shard*: the runs of one sweep that :func:`gdlab.grid.shard_of`
assigns to it. The runs share one load of the split; each is computed exactly as if it
were alone (its model, seed and data depend on its spec only), so its files are
byte-identical whatever the sharding and ``--cores``. The files of a run and the shard
manifest are described in :mod:`gdlab.runfiles`. Imports NumPy and gdlab only: a train
job must start fast.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from gdlab import metrics as M
from gdlab.data.core import Split, load_split
from gdlab.io import canonical_json, npz_bytes, write_bytes, write_json
from gdlab.models.registry import model_info
from gdlab.runfiles import RUN_FILES, content_key, history_csv, run_content_key, run_dir

#: the metrics of each kind of target (all NaN when a model's outputs are not finite)
METRIC_KEYS = {
    "regression": ("mse", "rmse", "mae", "r2"),
    "binary": ("accuracy", "log_loss", "precision", "recall", "f1", "roc_auc"),
    "multiclass": ("accuracy", "log_loss", "f1_macro"),
}


def evaluate(task: str, model, X, y, n_classes: int = 2) -> dict[str, float]:
    """Metrics of a fitted model on one part of the data (NaN where outputs are not finite).

    Regression: :func:`gdlab.metrics.regression_metrics`; two classes: the binary
    :func:`~gdlab.metrics.classification_metrics` of the probability of class 1; K > 2:
    :func:`~gdlab.metrics.multiclass_metrics` of the (n, K) probabilities.
    """
    kind = "regression" if task == "regression" else "binary" if n_classes == 2 \
        else "multiclass"
    params = [a for a in model.to_arrays().values() if a.dtype.kind == "f"]
    with np.errstate(all="ignore"):  # a diverged model's overflow: NaN metrics below
        out = model.predict(X) if kind == "regression" else model.predict_proba(X)
    if not all(np.all(np.isfinite(a)) for a in [*params, out]):
        return dict.fromkeys(METRIC_KEYS[kind], float("nan"))
    if kind == "regression":
        return M.regression_metrics(y, out)
    if kind == "binary":
        return M.classification_metrics(y, out[:, 1])
    return M.multiclass_metrics(y, out)


def fit_run(spec: dict, split: Split):
    """Fit the model a run spec describes; returns the fitted model and its wall times (ms)."""
    model = model_info(spec["model"]).load()(**spec["hyperparameters"], seed=spec["seed"])
    start = time.time()
    model.fit(split.X_train, split.y_train, X_val=split.X_val, y_val=split.y_val)
    return model, int(start * 1000), int(time.time() * 1000)


def train_run(spec: dict, split: Split, out_dir) -> tuple[dict, str]:
    """Train the run ``spec`` and write its files to ``out_dir``; returns (result, content key)."""
    model, start_ms, end_ms = fit_run(spec, split)
    out = Path(out_dir)
    # the model's own arrays and the scaler: what gdlab.models.registry.predict reads
    weights = npz_bytes({**model.to_arrays(), "x_mean": split.x_mean, "x_scale": split.x_scale})
    history = history_csv(model.history_).encode("utf-8")
    result = {
        **spec,
        "n_epochs": model.n_epochs_,
        "diverged": bool(model.diverged_),
        "converged": bool(model.converged_),
        "final_objective": float(model.history_["train_objective"][-1]),
        "metrics": {part: evaluate(split.task, model, X, y, split.n_classes)
                    for part, X, y in (
            ("train", split.X_train, split.y_train),
            ("val", split.X_val, split.y_val),
            ("test", split.X_test, split.y_test))},
    }
    write_bytes(out / "model.npz", weights)
    write_bytes(out / "history.csv", history)
    write_json(out / "timing.json", {"start_time_ms": start_ms, "end_time_ms": end_ms})
    write_json(out / "metrics.json", result)  # last: a run with metrics.json is whole
    return result, content_key(weights, history, _json_roundtrip(result))


def run(spec: dict, split_path, out_dir) -> dict:
    """Train the run ``spec`` on the split at ``split_path`` and write its files to ``out_dir``."""
    return train_run(spec, load_split(split_path), out_dir)[0]


def train_shard(shard: dict, split_path, sweep_dir, manifest_path,
                log: Callable[[str], None] | None = None) -> dict:
    """Train every run of ``shard`` (``{"dataset", "model", "shard", "runs": [spec...]}``).

    Writes each run's files under ``<sweep_dir>/runs/<run name>/``, then the shard manifest
    at ``manifest_path`` (last, so a shard with a manifest is whole). Returns the manifest.
    """
    log = log or (lambda _msg: None)
    split = None  # loaded only if a run needs fitting
    entries, fit_seconds, reused = {}, 0.0, 0
    for spec in sorted(shard["runs"], key=lambda s: s["run_name"]):
        out = run_dir(sweep_dir, spec["run_name"])
        key = finished_run(out, spec)
        if key is not None:  # trained before with this very spec: same bytes, not refit
            reused += 1
        else:
            split = split if split is not None else load_split(split_path)
            t = time.perf_counter()
            result, key = train_run(spec, split, out)
            fit_seconds += time.perf_counter() - t
            log(f"{spec['run_name']}: {result['n_epochs']} epochs, "
                f"diverged={result['diverged']}")
        entries[spec["run_name"]] = {"run_key": spec["run_key"], "content_key": key}
    manifest = {"dataset": shard["dataset"], "model": shard["model"], "shard": shard["shard"],
                "runs": entries}
    write_json(manifest_path, manifest)
    log(f"trained {len(entries) - reused} runs, reused {reused}: fit and write "
        f"{fit_seconds:.3f} s, job {_process_seconds():.3f} s since the process started")
    return manifest


def finished_run(directory, spec: dict) -> str | None:
    """The content key of a run already trained from exactly ``spec``, else None.

    Another shard, or this one before a grid edit or a kill, may have trained it: its run
    key covers its data, model, hyperparameters, seed and code, and training is
    deterministic, so its files are what training again would write. Delete the run's
    directory to force a refit.
    """
    d = Path(directory)
    if not all((d / f).is_file() for f in RUN_FILES):
        return None
    try:
        with open(d / "metrics.json", encoding="utf-8") as f:
            result = json.load(f)
    except (OSError, ValueError):
        return None
    if any(result.get(k) != v for k, v in _json_roundtrip(spec).items()):
        return None
    return run_content_key(d)


def _json_roundtrip(result: dict) -> dict:
    """The result as metrics.json reads back (non-finite floats are null there)."""
    return json.loads(canonical_json(result))


def _process_seconds() -> float:
    """Seconds since this process started (Linux; NaN elsewhere): a job's whole cost."""
    try:
        with open("/proc/self/stat", encoding="ascii") as f:
            start_ticks = int(f.read().rsplit(")", 1)[1].split()[19])
        with open("/proc/uptime", encoding="ascii") as f:
            uptime = float(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return float("nan")
    return uptime - start_ticks / os.sysconf("SC_CLK_TCK")
