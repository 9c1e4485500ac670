#!/usr/bin/env python
"""The script a user would write instead of gdlab: one process, a for-loop, MLflow calls.

Run from the repository root (end_to_end.py and scaling.py run it in a fresh copy)::

    .venv/bin/python benchmarks/naive_loop.py                     # config/config.yaml
    .venv/bin/python benchmarks/naive_loop.py --per-epoch          # + gdlab's step metrics
    .venv/bin/python benchmarks/naive_loop.py --config my.yaml --tracking-uri sqlite:///loop.db

Same datasets as the pipeline (built and split with ``gdlab.data``, same seeds) and the
same grid (the config's), one MLflow run per grid point, in the experiment
``<name>-loop`` of a tracking store (default: a fresh ``sqlite:///mlflow-loop.db``).

Two fitters (``--fitter``):

* ``sklearn`` (the default without ``--per-epoch``): scikit-learn's
  ``SGDClassifier(loss="log_loss")`` / ``SGDRegressor`` with ``learning_rate="constant"``,
  ``eta0=lr``, ``max_iter=epochs``, ``tol=None``, ``penalty="l2"``, ``alpha=l2``. It has no
  momentum or Adam: such grid points are fitted as plain constant-lr SGD (the optimizer is
  still logged as a param, and ``fitted_as`` says so); K classes one-vs-rest. An MLP grid
  point is scikit-learn's ``MLPClassifier`` / ``MLPRegressor`` (adam, same architecture,
  ``alpha = n * l2``). SGD is per-sample, not full-batch:
  the models differ from gdlab's; what is compared is the cost of a user's experiment.
  Logged: ``log_params`` + ``log_metrics`` of the final train/val/test metrics.
* ``gdlab`` (the default with ``--per-epoch``): gdlab's own NumPy models
  (``gdlab.models.MODELS``) with the seed the pipeline derives for the run
  (``gdlab.grid.derive_seed``) and validation data, so every fit is **the same fit** the
  pipeline makes (same epochs, same history, same early stop); metrics by
  ``gdlab.train.evaluate``.

``--per-epoch`` logs what gdlab logs on a child run, as a competent user would: **one
``MlflowClient.log_batch`` per run** (split only at MLflow's 1000-metric limit), not one
``log_metric`` per point: params (every hyperparameter and the seed), each history column
(``train_objective``, ``val_loss``, ``val_<metric>``) as a step metric (step = epoch),
the final ``<part>/<metric>`` of train/val/test, ``n_epochs``, ``final_objective``,
``diverged``, ``converged``. Not logged (gdlab logs them): artifacts (the run's four
files), the dataset input, tags, parent runs, figures, the best model and its registry
version.
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
    ap.add_argument("--per-epoch", action="store_true",
                    help="log gdlab's per-epoch step metrics and final metrics (one "
                         "log_batch per run)")
    ap.add_argument("--fitter", choices=("sklearn", "gdlab"),
                    help="sklearn SGD or gdlab's NumPy models (default: gdlab with "
                         "--per-epoch, else sklearn)")
    ap.add_argument("--quiet", action="store_true")
    a = ap.parse_args(argv)
    fitter = a.fitter or ("gdlab" if a.per_epoch else "sklearn")
    if a.per_epoch and fitter != "gdlab":
        ap.error("--per-epoch needs --fitter gdlab (scikit-learn's SGD keeps no per-epoch "
                 "history)")
    if fitter == "gdlab":
        return gdlab_loop(a)
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
    from sklearn.neural_network import MLPClassifier, MLPRegressor
    t_import = time.perf_counter() - t0

    with open(a.config, encoding="utf-8") as f:
        config = yaml.safe_load(f)
    mlflow.set_tracking_uri(a.tracking_uri)
    mlflow.set_experiment(f"{config['experiment']}-loop")
    t_setup = time.perf_counter() - t0 - t_import

    def metrics(task, model, X, y):
        if task == "classification":
            p = model.predict_proba(X)
            out = {"accuracy": accuracy_score(y, p.argmax(axis=1)),
                   "log_loss": log_loss(y, p, labels=list(range(p.shape[1])))}
            return out | ({"roc_auc": roc_auc_score(y, p[:, 1])} if p.shape[1] == 2 else {})
        z = model.predict(X)
        return {"mse": mean_squared_error(y, z), "mae": mean_absolute_error(y, z),
                "r2": r2_score(y, z)}

    n_runs = 0
    t_fit = 0.0
    for dataset, model_name in G.sweeps(config):
        ds_cfg = config["datasets"][dataset]
        split = build_split(dataset, ds_cfg, config)
        task = ds_cfg["task"]
        for hp in G.expand_grid(config["models"][model_name]["grid"], model_name):
            if model_name.startswith("mlp_"):  # what a user would pick: scikit-learn's MLP
                Est = MLPClassifier if task == "classification" else MLPRegressor
                est = Est(hidden_layer_sizes=tuple(hp["hidden_layer_sizes"]),
                          activation=hp["activation"], solver="adam",
                          learning_rate_init=hp["lr"], max_iter=hp["epochs"],
                          alpha=hp["l2"] * len(split.y_train), random_state=0)
            else:
                Est = SGDClassifier if task == "classification" else SGDRegressor
                kw = {"loss": "log_loss"} if task == "classification" else {}
                est = Est(learning_rate="constant", eta0=hp["lr"], max_iter=hp["epochs"],
                          tol=None, penalty="l2", alpha=hp["l2"], random_state=0, **kw)
            with mlflow.start_run(run_name=f"{dataset}/{model_name}/"
                                  f"{G.run_name(hp, config['models'][model_name]['grid'])}"):
                mlflow.log_params({"dataset": dataset, "model": model_name, **hp,
                                   "fitted_as": type(est).__name__ + (
                                       "" if model_name.startswith("mlp_")
                                       else ", constant lr (no momentum/adam)")})
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


def gdlab_loop(a) -> int:
    """Every grid point fitted with gdlab's own models: the pipeline's very fits."""
    t0 = time.perf_counter()
    import mlflow
    import numpy as np
    from mlflow import MlflowClient
    from mlflow.entities import Metric, Param

    from gdlab.models import MODELS
    from gdlab.train import evaluate
    t_import = time.perf_counter() - t0

    with open(a.config, encoding="utf-8") as f:
        config = yaml.safe_load(f)
    mlflow.set_tracking_uri(a.tracking_uri)
    mlflow.set_experiment(f"{config['experiment']}-loop")
    client = MlflowClient(a.tracking_uri)
    t_setup = time.perf_counter() - t0 - t_import

    def value(v) -> float:
        return float("nan") if v is None else float(v)

    n_runs, n_points, t_fit, t_log = 0, 0, 0.0, 0.0
    for dataset, model_name in G.sweeps(config):
        ds_cfg = config["datasets"][dataset]
        split = build_split(dataset, ds_cfg, config)
        grid = config["models"][model_name]["grid"]
        for hp in G.expand_grid(grid, model_name):
            seed = G.run_seed(config["seed"], dataset, model_name, hp)
            t1 = time.perf_counter()
            model = MODELS[model_name](**hp, seed=seed)
            with np.errstate(all="ignore"):
                model.fit(split.X_train, split.y_train, X_val=split.X_val, y_val=split.y_val)
                final = {part: evaluate(split.task, model, X, y, split.n_classes)
                         for part, X, y in (
                    ("train", split.X_train, split.y_train),
                    ("val", split.X_val, split.y_val),
                    ("test", split.X_test, split.y_test))}
            t2 = time.perf_counter()
            t_fit += t2 - t1
            with mlflow.start_run(run_name=f"{dataset}/{model_name}/"
                                  f"{G.run_name(hp, grid)}") as run:
                params = {"dataset": dataset, "model": model_name, "seed": seed,
                          **{k: v for k, v in hp.items() if v is not None}}
                if a.per_epoch:
                    now = int(time.time() * 1000)
                    hist = model.history_
                    metrics = [Metric(col, float(v), now, int(step))
                               for col, values in hist.items() if col != "epoch"
                               for step, v in zip(hist["epoch"], values, strict=True)]
                    metrics += [Metric(f"{part}/{k}", value(v), now, 0)
                                for part, values in final.items() for k, v in values.items()]
                    metrics += [Metric("n_epochs", float(model.n_epochs_), now, 0),
                                Metric("final_objective",
                                       float(hist["train_objective"][-1]), now, 0),
                                Metric("diverged", float(model.diverged_), now, 0),
                                Metric("converged", float(model.converged_), now, 0)]
                    plist = [Param(k, str(v)) for k, v in params.items()]
                    for i in range(0, max(len(metrics), 1), 1000):  # MLflow's batch limit
                        client.log_batch(run.info.run_id, metrics=metrics[i:i + 1000],
                                         params=plist if i == 0 else [])
                    n_points += len(metrics)
                else:
                    mlflow.log_params(params)
                    flat = {f"{part}_{k}": v for part, values in final.items()
                            for k, v in values.items() if v is not None and np.isfinite(v)}
                    mlflow.log_metrics({**flat, "diverged": float(model.diverged_)})
                    n_points += len(flat) + 1
            t_log += time.perf_counter() - t2
            n_runs += 1
    total = time.perf_counter() - t0
    if not a.quiet:
        print(f"{n_runs} runs ({'per-epoch' if a.per_epoch else 'final'} metrics, "
              f"{n_points} metric values, gdlab models) in {total:.2f} s: imports "
              f"{t_import:.2f} s, tracking setup {t_setup:.2f} s, fits+metrics {t_fit:.2f} s, "
              f"logging {t_log:.2f} s, rest (data) "
              f"{total - t_import - t_setup - t_fit - t_log:.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
