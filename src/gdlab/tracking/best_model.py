"""A sweep's best model in MLflow: logged as a pyfunc **on the child run that trained it**,
with that run's test metrics, linked from the sweep's parent, and registered as
``gdlab-<dataset>-<model>`` with a description; so the logged model, its registered
version and the parent all lead to the run that trained it.

The pyfunc is a model from code (:mod:`gdlab.mlflow_model` and the ``gdlab`` package as
``code_paths``; the one artifact is the run's ``model.npz``, nothing pickled), predicting
through :func:`gdlab.models.registry.predict` on raw features. A model already on record
with the same results and pyfunc code (tag ``gdlab.content_key``) is reused, not logged
again; one a crash left ``PENDING`` is deleted first.
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from gdlab import grid as G
from gdlab.codeversion import code_version
from gdlab.data.core import Split
from gdlab.models.registry import model_info, predict
from gdlab.runfiles import Run
from gdlab.tracking.layout import (
    CONTENT_TAG,
    PROJECT_TAG,
    SUMMARY,
    SWEEP_TAG,
    fit_tag,
    run_metrics,
)
from gdlab.tracking.store import Store

MODEL_FILE = Path(__file__).resolve().parents[1] / "mlflow_model.py"


def registered_model_name(dataset: str, model: str) -> str:
    return f"gdlab-{dataset}-{model}"


def model_key(run: Run) -> str:
    """Identity of a logged best model: the run's results and the pyfunc's code."""
    code = code_version("gdlab.mlflow_model", model_info(run.model).module)
    return G.stable_hash([run.content_key, code], 32)


def pyfunc_files(model: str, weights) -> dict:
    """What makes a gdlab model an MLflow pyfunc (arguments of ``mlflow.pyfunc.log_model``
    / ``save_model``): :mod:`gdlab.mlflow_model` as the model's code, the ``gdlab`` package
    beside it (``code_paths``), the run's ``model.npz`` as ``weights``. Requirements are
    given, not inferred: MLflow's inference scans every installed package (~1 s)."""
    import mlflow

    return {"python_model": str(MODEL_FILE), "code_paths": [str(MODEL_FILE.parent)],
            "artifacts": {"weights": str(weights)}, "model_config": {"model": model},
            "pip_requirements": [f"mlflow=={mlflow.__version__}", f"numpy=={np.__version__}"]}


@contextlib.contextmanager
def _requirements_checked_by_name(requirements: list[str]) -> Iterator[None]:
    """``log_model`` checks the given ``requirements`` ("name==version") against what is
    installed, first mapping every installed distribution to its modules (~0.7 s a job).
    gdlab's (mlflow, numpy) are each their own module: map just those. Another MLflow
    without this private map is left to do its own check."""
    from mlflow.utils import requirements_utils

    if getattr(requirements_utils, "_MODULES_TO_PACKAGES", ()) is not None:
        yield
        return
    names = (req.split("==")[0] for req in requirements)
    requirements_utils._MODULES_TO_PACKAGES = {name: [name] for name in names}
    try:
        yield
    finally:
        requirements_utils._MODULES_TO_PACKAGES = None


def _logged_models(store: Store, experiment_id: str, key: str) -> list:
    return store.logged_models(experiment_id, f"tags.`{CONTENT_TAG}` = '{key}'")


def log_best_model(store: Store, experiment_id: str, project: str, run: Run, child_id: str,
                   split: Split | None, name: str) -> str:
    """The best run's model as a pyfunc on its child ``child_id``, with the run's test
    metrics; returns its model id. Reuses a READY model of the same key logged on this
    child; deletes this key's models that a crash left unfinished."""
    import mlflow
    from mlflow.models import Model, infer_signature

    key = model_key(run)
    for lm in _logged_models(store, experiment_id, key):
        if str(lm.status) == "READY" and lm.source_run_id == child_id:
            return lm.model_id
        if str(lm.status) != "READY":
            store.delete_logged_model(lm.model_id)  # a crash left it PENDING
    weights = run.dir / "model.npz"
    arrays = run.arrays
    # input example: raw (unstandardised) training rows, what the model is meant to get
    example = (split.X_train[:5] * split.x_scale + split.x_mean if split is not None
               else arrays["x_mean"][None, :])
    output = predict(run.model, arrays, example)  # the pyfunc's own predict
    lm = store.create_logged_model(
        experiment_id, name, child_id,
        params={k: fit_tag(G.format_value(v), 6000) for k, v in run.hyperparameters.items()},
        tags={CONTENT_TAG: key, PROJECT_TAG: project, SWEEP_TAG: f"{run.dataset}/{run.model}",
              "run_key": run.run_key, "gdlab.run": run.name})
    meta = {"task": run.task, "model": run.model, "run_key": run.run_key, "run_name": run.name,
            "output": "class probabilities, shape (n, K)" if run.task == "classification"
            else "prediction", "input": "raw features, columns in training order"}
    if split is not None:
        meta["feature_names"] = list(split.feature_names)
        meta["classes"] = [str(c) for c in split.classes]
    files = pyfunc_files(run.model, weights)
    # what log_model does, without its process-wide tracking URI: the model saved here,
    # its files handed to the store, the model READY
    with tempfile.TemporaryDirectory() as tmp, \
            _requirements_checked_by_name(files["pip_requirements"]):
        folder = Path(tmp, "model")
        mlflow.pyfunc.save_model(
            str(folder), **files, signature=infer_signature(example, output),
            input_example=example, metadata=meta,
            mlflow_model=Model(artifact_path=lm.artifact_location, model_uuid=lm.model_id,
                               model_id=lm.model_id))
        for cache in list(folder.rglob("__pycache__")):
            shutil.rmtree(cache, ignore_errors=True)
        store.finish_logged_model(lm.model_id, folder)
    # the run's summary, the very points its child holds, now also the model's metrics
    store.log(child_id, metrics=[m for m in run_metrics(run, None) if m[0].startswith(SUMMARY)],
              model_id=lm.model_id)
    return lm.model_id


def retire_models(store: Store, experiment_id: str, project: str, dataset: str, model: str,
                  best_child: str | None) -> list[str]:
    """Delete this sweep's logged models that are not the best run's (``best_child``'s)
    and that no registered version holds, and any a crash left unfinished (``PENDING``).
    Returns their ids."""
    sweep = f"{dataset}/{model}"
    found = store.logged_models(
        experiment_id, f"tags.`{PROJECT_TAG}` = '{project}' AND tags.`{SWEEP_TAG}` = '{sweep}'")
    registered = {v.model_id for v in store.model_versions(registered_model_name(dataset, model))}
    gone = [lm.model_id for lm in found if str(lm.status) != "READY" or (
        lm.source_run_id != best_child and lm.model_id not in registered)]
    for model_id in gone:
        store.delete_logged_model(model_id)
    return gone


def register(store: Store, run: Run, model_id: str, child_id: str, description: str,
             project: str) -> dict:
    """Register the logged model as ``gdlab-<dataset>-<model>`` unless a version of it is
    registered already (from this child); the version's source run is the child, its
    description says which run it is and how it scores."""
    name = registered_model_name(run.dataset, run.model)
    key = model_key(run)
    versions = store.model_versions(name)
    same = [v for v in versions if v.run_id == child_id and v.model_id == model_id]
    if same:
        version = max(same, key=lambda v: int(v.version))
        if version.description != description:
            store.describe_version(name, version.version, description)
        return {"name": name, "version": int(version.version)}
    version = store.register(name, model_id, child_id, {
        CONTENT_TAG: key, PROJECT_TAG: project, "run_key": run.run_key, "gdlab.run": run.name},
        description)
    if not versions:
        store.describe_model(
            name, f"The best {run.model} on {run.dataset} of gdlab's sweeps: each version is a "
                  "sweep's best run, registered when it changed")
    return {"name": name, "version": version}
