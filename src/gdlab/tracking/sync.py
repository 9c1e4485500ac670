"""The track job: make the store hold exactly one sweep's runs, as ``results/`` has them.

:func:`sync_sweep` finds this project's runs of the sweep (:meth:`Store.find_sweep`),
plans (:func:`gdlab.tracking.plan.plan_sweep`), and writes in this order, so that a job
killed anywhere leaves nothing a rerun would not repair:

1. the parent, found or made, marked incomplete (``RUNNING``, ``gdlab.complete=false``);
2. the superseded runs soft-deleted (restorable; ``mlflow gc`` purges them);
3. the split's train, validation and test parts as the parent's dataset inputs, then the
   new children, each complete only once whole (one transaction on a SQL store);
4. the kept children brought up to date (code tags, parent, the name gdlab gives);
5. the parent's description, tags, metrics, tables and figures, the best run's figures
   on its child, the best model on its child (linked from the parent, registered);
6. the parent complete: tag, then status ``FINISHED``.

A rerun with nothing changed (same runs, files and figures: the parent's
``gdlab.sweep_key``) writes nothing.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

from gdlab import grid as G
from gdlab.baseline import optimum_objective
from gdlab.codeversion import code_version
from gdlab.data.core import Split, load_split
from gdlab.io import write_json
from gdlab.metrics import metric_name
from gdlab.names import ALL_SWEEP_FIGURES, BOUNDARY_FIGURE, RUN_FIGURES
from gdlab.runfiles import Sweep
from gdlab.runnames import short_names
from gdlab.summary import top_names
from gdlab.tracking import layout as L
from gdlab.tracking.backends import backend, open_store
from gdlab.tracking.best_model import (
    log_best_model,
    register,
    registered_model_name,
    retire_models,
)
from gdlab.tracking.plan import Existing, plan_sweep
from gdlab.tracking.setup import check_experiment
from gdlab.tracking.store import Store, now_ms


def track_lock(uri: str, lock_dir: str | os.PathLike):
    """The lock a track job holds while it writes to the store of ``uri`` (its backend's:
    on SQLite, the file's, so that its track jobs take turns instead of waiting inside
    SQLite's busy timeout; other stores take concurrent writes of distinct runs)."""
    return backend(uri).lock(uri, lock_dir)


def git_commit(cwd: str | os.PathLike = ".") -> str:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True,
                             text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    commit = out.stdout.strip()
    return commit if out.returncode == 0 and commit else "unknown"


def split_inputs(split: Split | None, split_path: Path, dataset: str) -> list:
    """The split's three parts as MLflow dataset inputs (``mlflow.data.from_numpy``, the
    split file as source), each with its context: training, validation, testing."""
    if split is None:
        return []
    import mlflow
    from mlflow.entities import DatasetInput, InputTag

    source = Path(split_path).resolve().as_uri()
    out = []
    for part, context in L.CONTEXTS.items():
        X, y = getattr(split, f"X_{part}"), getattr(split, f"y_{part}")
        with warnings.catch_warnings():  # two equivalent local-file sources are registered
            warnings.filterwarnings("ignore", message=".*interpreted in multiple ways.*")
            ds = mlflow.data.from_numpy(X, targets=y, source=source, name=f"{dataset}-{part}")
        out.append(DatasetInput(ds._to_mlflow_entity(),
                                tags=[InputTag("mlflow.data.context", context)]))
    return out


def sweep_key(sweep: Sweep, figures: list[Path], settings: Any) -> str:
    """What the parent shows: the runs' results, the sweep's files and figures, the code
    that writes them and ``settings`` (method, search, registration)."""
    files = [*sweep.files, *figures, *_run_figures(sweep)]
    return G.stable_hash([code_version("gdlab.tracking.sync", "gdlab.mlflow_model"),
                          sorted((r.name, r.content_key) for r in sweep.runs),
                          {p.name + str(i): G.file_digest(p) for i, p in enumerate(files)},
                          settings], 32)


def _run_figures(sweep: Sweep) -> list[Path]:
    best = sweep.best_run
    if best is None:
        return []
    where = Path(sweep.dir, "plots", "runs", *best.name.split("/"))
    return [p for p in (where / f for f in (*RUN_FIGURES, BOUNDARY_FIGURE)) if p.is_file()]


def _open_parent(store: Store, experiment_id: str, parent: Existing | None, sweep: Sweep,
                 project: str) -> str:
    """The parent's id, marked incomplete; made (params ``dataset``, ``model``) if none."""
    if parent is None:
        start = min((int(r.timing["start_time_ms"]) for r in sweep.runs), default=now_ms())
        tags = {**L.identity_tags(project, sweep.dataset, sweep.model, L.ROLE_SWEEP),
                L.COMPLETE_TAG: "false", L.LAYOUT_TAG: L.LAYOUT}
        return store.create_run(experiment_id, f"{sweep.dataset}/{sweep.model}", start, tags,
                                params={"dataset": sweep.dataset, "model": sweep.model})
    if parent.tags.get(L.COMPLETE_TAG) != "false" or parent.status != "RUNNING":
        store.log(parent.run_id, tags={L.COMPLETE_TAG: "false"})
        store.reopen(parent.run_id)
    return parent.run_id


def top_runs(sweep: Sweep) -> set[str]:
    """The sweep's :data:`~gdlab.tracking.layout.TOP` best runs (each the best repeat of one
    of the best configurations), ranked as the best run is chosen."""
    metric = metric_name(str(sweep.best.get("selection_metric", "")))
    if not metric:
        return set()
    return set(top_names([r.result for r in sweep.runs], metric, L.TOP))


def _kept_updates(plan, sweep: Sweep, names: dict[str, str], parent_id: str, commit: str,
                  top: set[str], best_name: str | None = None
                  ) -> dict[str, tuple[str | None, dict[str, str]]]:
    """A kept child's results are unchanged; its code tags, parent, name, rank and
    description (which says whether it is the best) may not be. A name someone changed in
    the UI (not the one gdlab gave, ``gdlab.name``) stays."""
    by_name = {r.name: r for r in sweep.runs}
    updates = {}
    for run, child in plan.keep.items():
        want = {**L.code_tags(by_name[run], commit), L.PARENT_TAG: parent_id,
                L.NAME_TAG: names[run], L.TOP_TAG: "1" if run in top else "0",
                L.NOTE_TAG: L.child_description(by_name[run], names[run], run in top,
                                                run == best_name)}
        changed = {k: v for k, v in want.items() if child.tags.get(k) != v}
        rename = names[run] if (L.NAME_TAG in changed
                                and child.name in (child.tags.get(L.NAME_TAG), run)) else None
        if changed:
            updates[child.run_id] = (rename, changed)
    return updates


def sync_sweep(uri: str, record: dict, project: str, sweep: Sweep, split_path,
               figures: list[Path], *, method: str = "grid", search: dict | None = None,
               register_model: bool = True, color: str | None = None,
               log: Callable[[str], Any] | None = None) -> dict:
    """Make the store hold exactly ``sweep``'s runs (the track job); returns the sweep's
    record (``mlflow.json``). ``record``: the experiment's (``experiment.json``);
    ``figures``: the sweep's figures its plot rules declare (and the lesson's), logged
    under ``plots/``; ``color``: the parent's in the charts (distinct per sweep of the
    config: :func:`gdlab.tracking.charts.parent_colors`). Call under :func:`track_lock`."""
    log = log or (lambda msg: print(msg, file=sys.stderr))
    t0 = time.perf_counter()
    store = open_store(uri)
    check_experiment(store, record)
    experiment_id = record["experiment_id"]
    existing = store.find_sweep(experiment_id, project, f"{sweep.dataset}/{sweep.model}")
    best_run = sweep.best_run
    curves = L.child_key(best_run.content_key) if best_run is not None else None
    plan = plan_sweep(existing, {r.name: L.child_key(r.content_key) for r in sweep.runs},
                      curves)
    key = sweep_key(sweep, figures, [method, search, register_model])
    out = {"experiment_id": experiment_id, "sweep": f"{sweep.dataset}/{sweep.model}"}
    if plan.unchanged and plan.parent.complete and \
            plan.parent.tags.get(L.SWEEP_KEY_TAG) == key:
        best_child = plan.keep[best_run.name].run_id if best_run is not None else None
        if gone := retire_models(store, experiment_id, project, sweep.dataset, sweep.model,
                                 best_child):
            log(f"{out['sweep']}: deleted {len(gone)} unfinished or superseded logged models")
        log(f"{out['sweep']}: the store already shows this sweep "
            f"({time.perf_counter() - t0:.2f} s)")
        return {**out, "parent_run_id": plan.parent.run_id, "sweep_key": key,
                "children": {n: e.run_id for n, e in sorted(plan.keep.items())},
                "best_run_id": best_child,
                **(_model_record(store, sweep, best_child) if best_child else {}),
                "updated": False}
    by_name = {r.name: r for r in sweep.runs}
    for run in plan.create:  # before any write: a damaged run leaves the store as it was
        by_name[run].check()  # files whole and as the manifest recorded
    commit = git_commit()
    parent_id = _open_parent(store, experiment_id, plan.parent, sweep, project)
    store.delete_runs(plan.delete)
    split = load_split(split_path) if split_path and Path(split_path).is_file() else None
    datasets = split_inputs(split, Path(split_path), sweep.dataset)
    if datasets:
        store.log_inputs(parent_id, datasets)
    names = short_names([r.result for r in sweep.runs])
    t_children = time.perf_counter()
    top, best_name = top_runs(sweep), sweep.best.get("run_name")
    records = [L.child_record(by_name[n], names[n], parent_id, project, commit,
                              optimum_objective(sweep.baseline, by_name[n].hyperparameters),
                              n in top, best=n == best_name)
               for n in plan.create]
    created = store.write_children(experiment_id, records, datasets)
    t_children = time.perf_counter() - t_children
    store.update_children(_kept_updates(plan, sweep, names, parent_id, commit, top,
                                        best_name))
    children = {**{n: e.run_id for n, e in plan.keep.items()}, **created}

    best = sweep.best
    best_id = children.get(best_run.name) if best_run is not None else None
    shown = [p.name for p in figures]
    tags = {**L.parent_tags(sweep.runs, best, method, search, color=color),
            "best.run_id": best_id or "none", "best.run": names.get(best.get("run_name"), "none"),
            L.NOTE_TAG: L.parent_description(sweep.runs, best, method, search, experiment_id,
                                             best_id, names.get(best.get("run_name")), shown)}
    optimum = (optimum_objective(sweep.baseline, best_run.hyperparameters)
               if best_run is not None else None)
    store.log(parent_id, metrics=L.parent_metrics(best_run, best, optimum), tags=tags)
    if curves is not None:  # after the curves: a parent with the tag holds all of them
        store.log(parent_id, tags={L.CURVES_TAG: curves})
    with tempfile.TemporaryDirectory() as tmp:
        grid_json = Path(tmp, "grid.json")
        write_json(grid_json, L.grid_values(sweep.runs))
        lesson = [p for p in [sweep.dir / "lesson.json"] if p.is_file()]
        store.log_artifacts(parent_id, [*sweep.files, grid_json, *lesson])
    if gone := store.delete_artifacts(parent_id, "plots", set(ALL_SWEEP_FIGURES) - set(shown)):
        log(f"{out['sweep']}: removed the parent's old {', '.join(gone)}")
    store.log_artifacts(parent_id, figures, "plots")
    model = {}
    if best_run is not None and best_id is not None:
        store.log_artifacts(best_id, _run_figures(sweep), "plots")
        model = _best_model(store, experiment_id, project, sweep, best_run, best_id, parent_id,
                            split, names[best_run.name], register_model)
    store.log(parent_id, tags={L.SWEEP_KEY_TAG: key, L.COMPLETE_TAG: "true"})
    store.set_terminated(parent_id, "FINISHED",
                         max((int(r.timing["end_time_ms"]) for r in sweep.runs), default=None))
    each = (f", {1000 * t_children / len(created):.1f} ms a child via {store.via}"
            if created else "")
    log(f"{out['sweep']}: kept {len(plan.keep)}, created {len(created)}, deleted "
        f"{len(plan.delete)} in {time.perf_counter() - t0:.2f} s{each}")
    return {**out, "parent_run_id": parent_id, "sweep_key": key,
            "children": dict(sorted(children.items())), "best_run_id": best_id,
            **model, "updated": True}


def _model_record(store: Store, sweep: Sweep, child_id: str) -> dict:
    """The best model on record for the best child (its logged model, registered version)."""
    models = store.model_outputs(child_id)
    out = {"logged_model_id": models[0]} if models else {}
    name = registered_model_name(sweep.dataset, sweep.model)
    versions = [v for v in store.model_versions(name) if v.run_id == child_id]
    if versions:
        out["registered_model"] = {"name": name,
                                   "version": max(int(v.version) for v in versions)}
    return out


def _best_model(store: Store, experiment_id: str, project: str, sweep: Sweep, run, child_id,
                parent_id: str, split: Split | None, name: str, register_model: bool) -> dict:
    """The best run's model logged on its child (with its test metrics), linked from the
    parent, and registered with a description."""
    model_id = log_best_model(store, experiment_id, project, run, child_id, split,
                              f"{sweep.dataset}-{sweep.model}")
    for run_id in (child_id, parent_id):  # the runs' pages list it as their logged model
        if model_id not in store.model_outputs(run_id):
            store.log_model_output(run_id, model_id)
    retire_models(store, experiment_id, project, sweep.dataset, sweep.model, child_id)
    out = {"logged_model_id": model_id}
    if register_model:
        out["registered_model"] = register(
            store, run, model_id, child_id,
            L.model_version_description(sweep.best, sweep.dataset, sweep.model, name), project)
    return out
