"""The project, the store and the experiment: made once by the setup job, checked by the
workflow at every start.

* :func:`setup_experiment` (job ``mlflow_setup``, once, before anything fans out: four
  processes migrating one fresh SQLite file crash, parallel ``set_experiment`` drops runs
  into "Default") makes the store (its backend's :meth:`~gdlab.tracking.store.Store.prepare`)
  and the experiment;
* :func:`store_lost` and :func:`edited_sweeps` (asked at planning time; read-only, no
  MLflow import: the backend's own checks, today SQLite's) notice a store deleted by hand,
  or runs deleted or restored in the UI, so that what they concern is synced again (by
  a repair token: :mod:`gdlab.repairs`; nothing is deleted).

A **project** is one checkout's ``results/``: its id (``results/mlflow/project.json``,
made once) tags every run gdlab makes, and a sync only ever finds, keeps or deletes runs
of its own project, so two projects sharing a store and experiment name never touch each
other's runs.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from gdlab.io import DamagedFile, read_json, write_json
from gdlab.tracking import layout as L
from gdlab.tracking.backends import backend, open_store
from gdlab.tracking.store import Store, local_artifact_root
from gdlab.tracking.uri import redact_uri, uri_hash

EXPERIMENT_RECORD = Path("results/mlflow/experiment.json")
PROJECT_RECORD = Path("results/mlflow/project.json")


# --------------------------------------------------------------------------------------
# The project, the store, the experiment
# --------------------------------------------------------------------------------------


def project_id(record: str | os.PathLike = PROJECT_RECORD) -> str:
    """This project's id: made once (from the directory it was made in) and kept in
    ``results/mlflow/project.json``, so a moved project keeps it and a second clone, made
    elsewhere, has its own. Deleting ``results/`` makes it again from the directory."""
    record = Path(record)
    with contextlib.suppress(DamagedFile, KeyError, TypeError):  # damaged: made again
        if record.is_file():
            return read_json(record)["id"]
    where = str(record.resolve().parents[2])  # the project: results/mlflow/project.json
    ident = hashlib.sha256(where.encode()).hexdigest()[:16]
    write_json(record, {"id": ident, "made_in": where})
    return ident


def setup_experiment(uri: str, name: str, log: Callable[[str], Any] | None = None) -> dict:
    """Make the store if needed and the experiment ``name`` (or restore it); its record
    (``results/mlflow/experiment.json``). The one place that creates anything by name."""
    log = log or (lambda msg: print(msg, file=sys.stderr))
    backend(uri).prepare(uri, log)
    store = open_store(uri)
    experiment_id = store.ensure_experiment(name)
    store.set_experiment_tags(experiment_id, {
        L.NOTE_TAG: L.experiment_description(name, experiment_id),
        f"mlflow.sharedViewState.{L.VIEW_KEY}": L.overview_view(int(time.time() * 1000)),
        # MLflow 3.17's UI opens on its GenAI side whatever this says (its "Model training"
        # switch decides, or the links' workflowType); the tag still says what this is
        "mlflow.experimentKind": "custom_model_development"})
    exp = store.experiment(experiment_id)
    return {"experiment_id": str(experiment_id), "experiment_name": name,
            "tracking_uri_hash": uri_hash(uri), "creation_time": exp.creation_time,
            "project_dir": str(Path.cwd().resolve())}


def check_experiment(store: Store, record: dict) -> None:
    """Fail, saying what to do, unless the store still has the recorded experiment and
    the project is where its local artifacts were placed."""
    exp = store.experiment(record["experiment_id"])
    if exp is None or exp.name != record["experiment_name"] or \
            exp.lifecycle_stage != "active":
        raise RuntimeError(
            f"experiment {record['experiment_name']!r} (id {record['experiment_id']}) is not "
            f"in the tracking store {redact_uri(store.uri)} (was it deleted or renamed?); "
            "recreate it with `snakemake --forcerun mlflow_setup`")
    root = local_artifact_root(exp.artifact_location)
    here = str(Path.cwd().resolve())
    if root is not None and record.get("project_dir") not in (None, here) and store.in_project:
        raise RuntimeError(
            f"this project was moved from {record['project_dir']}: its MLflow store keeps "
            f"absolute artifact paths ({exp.artifact_location}), so new artifacts would be "
            "written there. Start a fresh record (results/ is kept and synced into it): "
            "`rm -r mlflow.db mlruns` and run snakemake again; or move the project back")


def store_lost(uri: str, record_path: str | os.PathLike = EXPERIMENT_RECORD) -> bool:
    """Whether the store lacks the experiment its record names (``mlflow.db`` deleted or
    replaced by hand). Asked by the workflow at every start: read-only, no MLflow import;
    only stores read without network are checked (the backend's ``lost``)."""
    record = Path(record_path)
    return record.is_file() and backend(uri).lost(uri, record)


def edited_sweeps(uri: str, results_dir: str | os.PathLike = "results") -> list[Path]:
    """The sweep records (``results/<d>/<m>/mlflow.json``) that no longer match the store:
    runs deleted or restored in the UI, or ``mlflow gc``, or a record that does not read
    back. One read-only query (the backend's ``sweep_counts``); removing them, so that
    their track jobs run again, is the caller's."""
    root = Path(results_dir)
    records = sorted(root.glob("*/*/mlflow.json"))
    if not records:
        return []
    try:
        project = read_json(root / "mlflow" / "project.json")["id"]
    except (OSError, ValueError, KeyError):
        return []
    counts = backend(uri).sweep_counts(uri, project)
    if counts is None:
        return []
    edited = []
    for path in records:
        try:
            record = read_json(path)
            expected = 1 + len(record["children"])
        except (OSError, ValueError, KeyError):
            edited.append(path)  # a damaged record: remade by its job
            continue
        if counts.get(f"{path.parent.parent.name}/{path.parent.name}", 0) != expected:
            edited.append(path)
    return edited
