#!/usr/bin/env python
"""The script a user would write instead of gdlab: one process, a for-loop, MLflow calls.

Run from the repository root (end_to_end.py runs it in a fresh copy of the project)::

    .venv/bin/python benchmarks/naive_loop.py                     # config/config.yaml
    .venv/bin/python benchmarks/naive_loop.py --config my.yaml --tracking-uri sqlite:///loop.db

Same datasets as the pipeline (built and split with ``gdlab.data``, same seeds) and the
same grid (``config/config.yaml``), each grid point fitted with scikit-learn's
``SGDClassifier(loss="log_loss")`` / ``SGDRegressor`` with ``learning_rate="constant"``,
``eta0=lr``, ``max_iter=epochs``, ``tol=None``, ``penalty="l2"``, ``alpha=l2``.
scikit-learn's SGD has no momentum or Adam: grid points with ``optimizer: momentum`` or
``adam`` are fitted as plain constant-lr SGD (the optimizer is still logged as a param).
SGD is also per-sample, not full-batch: the models differ from gdlab's; what is compared
is the cost of the whole experiment, not the fits.

Each grid point is one MLflow run (``mlflow.start_run`` + ``log_params`` +
``log_metrics`` of the final train/val/test metrics) in the experiment ``<name>-loop``
of a tracking store (default: a fresh ``sqlite:///mlflow-loop.db``). Nothing else is
logged: no per-epoch curves, no plots, no artifacts, no registered model.
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

import yaml

try:  # run from a checkout without installing the package
    import gdlab  # noqa: F401
except ImportError:  # pragma: no cover
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from gdlab import grid as G
from gdlab.data import load_sklearn, make_synthetic, split_dataset


def build_split(name: str, ds_cfg: dict, config: dict):
    """The dataset and split the pipeline builds (same generator, seeds and split)."""
    if ds_cfg["source"] == "synthetic":
        seed = ds_cfg.get("seed", G.derive_seed(config["seed"], "dataset", name))
        ds = make_synthetic(ds_cfg["generator"], ds_cfg["n_samples"], ds_cfg["n_features"],
                            float(ds_cfg["noise"]), seed)
    elif ds_cfg["source"] == "sklearn":
        ds = load_sklearn(ds_cfg["name"])
    else:
        from gdlab.data import load_csv
        ds = load_csv(ds_cfg["path"], ds_cfg["target"], ds_cfg["task"])
    sp = config["split"]
    return split_dataset(ds, test_size=float(sp["test_size"]), val_size=float(sp["val_size"]),
                         seed=sp.get("seed", config["seed"]), stratify=sp.get("stratify", True),
                         standardize=sp.get("standardize", True))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--config", default="config/config.yaml")
    ap.add_argument("--tracking-uri", default="sqlite:///mlflow-loop.db")
    ap.add_argument("--quiet", action="store_true")
    a = ap.parse_args(argv)
    t0 = time.perf_counter()

    import mlflow
    import numpy as np
    from sklearn.linear_model import SGDClassifier, SGDRegressor
    from sklearn.metrics import (
        accuracy_score,
        log_loss,
        mean_absolute_error,
        mean_squared_error,
        r2_score,
        roc_auc_score,
    )
    t_import = time.perf_counter() - t0

    with open(a.config, encoding="utf-8") as f:
        config = yaml.safe_load(f)
    mlflow.set_tracking_uri(a.tracking_uri)
    mlflow.set_experiment(f"{config['experiment']}-loop")
    t_setup = time.perf_counter() - t0 - t_import

    def metrics(task, model, X, y):
        if task == "classification":
            p = model.predict_proba(X)[:, 1]
            return {"accuracy": accuracy_score(y, p >= 0.5),
                    "log_loss": log_loss(y, p, labels=[0, 1]), "roc_auc": roc_auc_score(y, p)}
        z = model.predict(X)
        return {"mse": mean_squared_error(y, z), "mae": mean_absolute_error(y, z),
                "r2": r2_score(y, z)}

    n_runs = 0
    t_fit = 0.0
    for dataset, model_name in G.sweeps(config):
        ds_cfg = config["datasets"][dataset]
        split = build_split(dataset, ds_cfg, config)
        task = ds_cfg["task"]
        for hp in G.expand_grid(config["models"][model_name]["grid"]):
            Est = SGDClassifier if task == "classification" else SGDRegressor
            kw = {"loss": "log_loss"} if task == "classification" else {}
            est = Est(learning_rate="constant", eta0=hp["lr"], max_iter=hp["epochs"], tol=None,
                      penalty="l2", alpha=hp["l2"], random_state=0, **kw)
            with mlflow.start_run(run_name=f"{dataset}/{model_name}/"
                                  f"{G.run_name(hp, config['models'][model_name]['grid'])}"):
                mlflow.log_params({"dataset": dataset, "model": model_name, **hp,
                                   "fitted_as": "sklearn SGD, constant lr (no momentum/adam)"})
                t1 = time.perf_counter()
                final = {}
                try:
                    with warnings.catch_warnings(), np.errstate(all="ignore"):
                        warnings.simplefilter("ignore")
                        est.fit(split.X_train, split.y_train)
                        for part, X, y in (("train", split.X_train, split.y_train),
                                           ("val", split.X_val, split.y_val),
                                           ("test", split.X_test, split.y_test)):
                            final.update({f"{part}_{k}": float(v)
                                          for k, v in metrics(task, est, X, y).items()})
                    diverged = not all(np.isfinite(v) for v in final.values())
                except (ValueError, FloatingPointError, OverflowError):
                    diverged = True
                t_fit += time.perf_counter() - t1
                mlflow.log_metrics({**{k: v for k, v in final.items() if np.isfinite(v)},
                                    "diverged": float(diverged)})
            n_runs += 1
    total = time.perf_counter() - t0
    if not a.quiet:
        print(f"{n_runs} runs in {total:.2f} s: imports {t_import:.2f} s, tracking setup "
              f"{t_setup:.2f} s, fits+metrics {t_fit:.2f} s, rest (data, logging) "
              f"{total - t_import - t_setup - t_fit:.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
