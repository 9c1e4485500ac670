"""One grid point, end to end: load the split, fit, evaluate, write the run's files.

A run directory holds ``model.npz`` (weights and the scaler that standardised the
inputs, so it predicts on raw features), ``history.csv`` (one row per epoch),
``metrics.json`` (spec, flags and train/val/test metrics: identical bytes for identical
inputs) and ``timing.json`` (wall-clock start/end, which differ on every run and so are
kept apart). Imports NumPy and gdlab only: a train job must start fast.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from gdlab import metrics as M
from gdlab.data import Split, load_split
from gdlab.io import save_npz, write_json, write_text
from gdlab.models import MODELS

RUN_FILES = ("model.npz", "history.csv", "metrics.json", "timing.json")


def evaluate(task: str, model, X, y) -> dict[str, float]:
    """Metrics of a fitted model on one part of the data (NaN where predictions are not finite)."""
    z = model.decision_function(X)
    if not np.all(np.isfinite(z)):
        keys = ("accuracy", "log_loss", "precision", "recall", "f1", "roc_auc") \
            if task == "classification" else ("mse", "rmse", "mae", "r2")
        return dict.fromkeys(keys, float("nan"))
    if task == "classification":
        return M.classification_metrics(y, model.predict_proba(X)[:, 1])
    return M.regression_metrics(y, z)


def fit_run(spec: dict, split: Split):
    """Fit the model a run spec describes; returns the fitted model and its wall times (ms)."""
    model = MODELS[spec["model"]](**spec["hyperparameters"], seed=spec["seed"])
    start = time.time()
    model.fit(split.X_train, split.y_train, X_val=split.X_val, y_val=split.y_val)
    return model, int(start * 1000), int(time.time() * 1000)


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


def run(spec: dict, split_path, out_dir) -> dict:
    """Train the run ``spec`` on the split at ``split_path`` and write its files to ``out_dir``."""
    split = load_split(split_path)
    model, start_ms, end_ms = fit_run(spec, split)
    out = Path(out_dir)
    save_npz(out / "model.npz", coef=model.coef_, intercept=np.float64(model.intercept_),
             x_mean=split.x_mean, x_scale=split.x_scale)
    write_text(out / "history.csv", history_csv(model.history_))
    result = {
        **spec,
        "n_epochs": model.n_epochs_,
        "diverged": bool(model.diverged_),
        "converged": bool(model.converged_),
        "final_objective": float(model.history_["train_objective"][-1]),
        "metrics": {part: evaluate(split.task, model, X, y) for part, X, y in (
            ("train", split.X_train, split.y_train),
            ("val", split.X_val, split.y_val),
            ("test", split.X_test, split.y_test))},
    }
    write_json(out / "metrics.json", result)
    write_json(out / "timing.json", {"start_time_ms": start_ms, "end_time_ms": end_ms})
    return result


def main(argv=None) -> None:
    """``python -m gdlab.train --spec JSON --split PATH --out DIR``: the train rule's job.

    A ``shell:`` job rather than a ``script:`` one: Snakemake's script preamble (its own
    imports and unpickling) measured 68 ms, a third of a train job (benchmarks/README.md).
    """
    import argparse
    import json
    import sys

    parser = argparse.ArgumentParser(prog="python -m gdlab.train", description=main.__doc__)
    parser.add_argument("--spec", required=True, help="the run's spec, as JSON")
    parser.add_argument("--split", required=True, help="the dataset's split.npz")
    parser.add_argument("--out", required=True, help="the run directory to write")
    args = parser.parse_args(argv)
    result = run(json.loads(args.spec), args.split, args.out)
    print(f"{result['run_name']}: {result['n_epochs']} epochs, diverged={result['diverged']}",
          file=sys.stderr)


def _fmt(v) -> str:
    v = v.item() if isinstance(v, np.generic) else v
    return str(v) if isinstance(v, int) else repr(float(v))


if __name__ == "__main__":
    main()
