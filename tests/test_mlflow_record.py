"""The MLflow record a pipeline run leaves, and that it stays sound under what users do:
rerun, add a grid value, delete runs in the UI, ``mlflow gc``, delete ``mlflow.db``, damage
a file, share a store with another project, move the project. "Sound": the database passes
SQLite's integrity check, every run of ``results/`` is there exactly once (complete, none
left RUNNING or PENDING), and another project's runs are untouched.

Each scenario is one pipeline copy run step by step (a Snakemake run costs seconds)."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import Project, tiny_config, wide_config

from gdlab.io import read_json
from gdlab.models.registry import predict
from gdlab.runfiles import manifest_runs, read_history
from gdlab.tracking import layout as L

pytestmark = [pytest.mark.workflow, pytest.mark.mlflow]

ENV = {"MLFLOW_DISABLE_TELEMETRY": "true"}
SWEEPS = ("line/linear_regression", "moons/logistic_regression")


def client_of(db: Path):
    from mlflow import MlflowClient

    return MlflowClient(f"sqlite:///{db}")


def project_runs(client, project: str) -> list:
    """Every active run of ``project`` in any experiment of the store."""
    from mlflow.entities import ViewType

    exps = [e.experiment_id for e in client.search_experiments(view_type=ViewType.ALL)]
    return client.search_runs(exps, f"tags.`{L.PROJECT_TAG}` = '{project}'",
                              max_results=50000)


def assert_sound(proj: Project, store: Path | str | None = None,
                 sweeps=SWEEPS) -> dict:
    """The store (a SQLite file, or a server's URL) is sound for ``proj``: integrity ok;
    per sweep one complete parent and one complete child per run of its shard manifests,
    none RUNNING; no logged model of the project PENDING. Returns sweep -> run name ->
    child id."""
    from mlflow import MlflowClient

    store = store or proj.root / "mlflow.db"
    if isinstance(store, Path):
        con = sqlite3.connect(store)
        try:
            assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        finally:
            con.close()
        client = client_of(store)
    else:
        client = MlflowClient(store)
    project = read_json(proj.root / "results" / "mlflow" / "project.json")["id"]
    runs = project_runs(client, project)
    out = {}
    for sweep in sweeps:
        mine = [r for r in runs if r.data.tags.get(L.SWEEP_TAG) == sweep]
        parents = [r for r in mine if r.data.tags.get(L.ROLE_TAG) == L.ROLE_SWEEP]
        assert len(parents) == 1, (sweep, [p.info.run_id for p in parents])
        children = [r for r in mine if r.data.tags.get(L.ROLE_TAG) == L.ROLE_RUN]
        names = [r.data.tags[L.RUN_TAG] for r in children]
        expected = manifest_runs(sorted((proj.root / "results" / sweep / "shards").glob("*.json")))
        assert sorted(names) == sorted(expected), sweep  # each exactly once
        for r in [*parents, *children]:
            assert r.data.tags.get(L.COMPLETE_TAG) == "true" and r.info.status != "RUNNING"
        assert all(r.data.tags[L.PARENT_TAG] == parents[0].info.run_id for r in children)
        out[sweep] = {r.data.tags[L.RUN_TAG]: r.info.run_id for r in children}
    pending = [m for m in client.search_logged_models(
        [e.experiment_id for e in client.search_experiments()],
        filter_string=f"tags.`{L.PROJECT_TAG}` = '{project}'") if str(m.status) != "READY"]
    assert pending == []
    return out


# --------------------------------------------------------------------------------------
# What a finished run leaves (read only)
# --------------------------------------------------------------------------------------


def test_every_sweep_is_a_parent_with_a_child_per_run_as_a_user_reads_them(finished_project):
    root = finished_project.root
    children = assert_sound(finished_project)
    client = client_of(root / "mlflow.db")
    record = read_json(root / "results" / "mlflow" / "experiment.json")
    experiment = client.get_experiment(record["experiment_id"])
    assert experiment.tags[L.NOTE_TAG].startswith("[Every sweep")
    view = json.loads(experiment.tags[f"mlflow.sharedViewState.{L.VIEW_KEY}"])
    top = client.search_runs([experiment.experiment_id],
                             json.loads(view["state"])["searchFilter"])
    # the view's first screen: every parent and its best few children (of those that did
    # not diverge)
    healthy = {sweep: [n for n in ids if not read_json(
        root / "results" / sweep / "runs" / n / "metrics.json")["diverged"]]
        for sweep, ids in children.items()}
    assert len(top) == sum(1 + min(L.TOP, len(h)) for h in healthy.values())
    assert {r.data.tags[L.SWEEP_TAG] for r in top} == set(SWEEPS)
    for sweep, ids in children.items():
        dataset, model = sweep.split("/")
        sweep_dir = root / "results" / dataset / model
        runs = {r.info.run_id: r for r in (client.get_run(i) for i in ids.values())}
        names = [r.info.run_name for r in runs.values()]
        assert len(set(names)) == len(names)  # short, and tell the runs apart
        assert all(len(n) <= 30 and "~" not in n for n in names), names
        for name, run_id in ids.items():
            run = runs[run_id]
            result = read_json(sweep_dir / "runs" / name / "metrics.json")
            assert run.info.status == ("FAILED" if result["diverged"] else "FINISHED")
            history = read_history(sweep_dir / "runs" / name / "history.csv")
            for col in history:
                if col == "epoch":
                    continue
                got = client.get_metric_history(run_id, f"curves/{col}")
                values, keep = history[col], np.ones(len(history[col]), dtype=bool)
                if result["diverged"]:  # its blow-up is left out (10x its first value)
                    finite = values[np.isfinite(values)]
                    first = abs(finite[0]) if finite.size else 1.0
                    keep = ~(np.isfinite(values)
                             & (np.abs(values) > L.DIVERGED_CAP * max(first, 1.0)))
                assert [m.step for m in sorted(got, key=lambda m: m.step)] == \
                    history["epoch"][keep].tolist()
                np.testing.assert_array_equal(
                    [m.value for m in sorted(got, key=lambda m: m.step)],
                    np.clip(values[keep], -1.7976931348623157e308, 1.7976931348623157e308))
            val = [c for c in history if c.startswith("val_")][0]
            last = history[val][-1]
            final = run.data.metrics[f"summary/final_{val}"]
            assert final == last or (np.isnan(final) and np.isnan(last))
            for k, v in result["metrics"]["test"].items():
                assert run.data.metrics[f"summary/test_{k}"] == pytest.approx(v, nan_ok=True)
            contexts = {d.tags[0].value for d in run.inputs.dataset_inputs}
            assert contexts == {"training", "validation", "testing"}
            # MLflow's artifacts are copies: a file gdlab rewrites cannot change them
            artifact = Path(run.info.artifact_uri.removeprefix("file://")) / "model.npz"
            assert artifact.read_bytes() == (sweep_dir / "runs" / name / "model.npz").read_bytes()
            assert artifact.stat().st_ino != (sweep_dir / "runs" / name / "model.npz").stat().st_ino


def test_the_best_model_leads_to_the_run_that_trained_it(finished_project):
    """The logged model's source run, its registered version's run and the parent's
    description all name the best child; the model predicts as the registry's predict."""
    import mlflow

    root = finished_project.root
    client = client_of(root / "mlflow.db")
    for sweep in SWEEPS:
        dataset, model = sweep.split("/")
        record = read_json(root / "results" / dataset / model / "mlflow.json")
        best = read_json(root / "results" / dataset / model / "best.json")
        child = client.get_run(record["best_run_id"])
        assert child.data.tags[L.RUN_TAG] == best["run_name"]
        logged = client.get_logged_model(record["logged_model_id"])
        assert logged.source_run_id == child.info.run_id and str(logged.status) == "READY"
        assert {m.key for m in logged.metrics} >= {f"summary/test_{k}"
                                                   for k in best["metrics"]["test"]}
        assert [o.model_id for o in child.outputs.model_outputs] == [logged.model_id]
        version = client.get_model_version(record["registered_model"]["name"],
                                           record["registered_model"]["version"])
        assert version.run_id == child.info.run_id and child.info.run_name in version.description
        parent = client.get_run(record["parent_run_id"])
        assert L.run_url(record["experiment_id"], child.info.run_id) in \
            parent.data.tags[L.NOTE_TAG]
        for reference in ("The proof", "What scikit-learn's two lines give"):
            assert reference in parent.data.tags[L.NOTE_TAG]
        mlflow.set_tracking_uri(f"sqlite:///{root / 'mlflow.db'}")
        loaded = mlflow.pyfunc.load_model(f"models:/{version.name}/{version.version}")
        split = np.load(root / "data" / dataset / "split.npz")
        X_raw = split["X_test"] * split["x_scale"] + split["x_mean"]
        arrays = dict(np.load(root / "results" / dataset / model / "runs" / best["run_name"]
                              / "model.npz"))
        np.testing.assert_array_equal(loaded.predict(X_raw), predict(model, arrays, X_raw))


# --------------------------------------------------------------------------------------
# What users do to it
# --------------------------------------------------------------------------------------


def _delete_in_ui(db: Path, run_id: str) -> None:
    client_of(db).delete_run(run_id)  # what the UI's delete does (its REST call)


def test_the_store_stays_sound_through_what_users_do(finished_project, tmp_path):
    """One project (the finished tiny one, copied to a directory whose name needs quoting
    in a URI) through: a rerun; a child deleted in the UI (noticed at planning time) with a
    new grid value; mlflow gc with a damaged shard manifest, a damaged history and model,
    and a crash that left a logged model PENDING; a run damaged after training; mlflow.db
    deleted with a journal of it left behind (a new store made at the quoted path). Each
    run meets several of these at once, as a user's next run would."""
    proj = Project.clone(finished_project, tmp_path / "p #x %y" / "project")
    db = proj.root / "mlflow.db"
    ids = assert_sound(proj)
    # a rerun with nothing to do: the store is not lost, nothing runs
    assert proj.jobs_to_run() == {}

    # a child deleted in the UI (the next run notices it at planning time and syncs again)
    # and a new learning rate (a new child per l2, every other child keeps its id)
    victim = ids["line/linear_regression"].popitem()
    _delete_in_ui(db, victim[1])
    config = tiny_config()
    config["models"]["linear_regression"]["grid"]["lr"].append(0.2)
    proj.write_config(config)
    out = proj.snakemake("--cores", "2", env=ENV)
    assert "changed (deleted or restored in the UI?)" in out.stderr
    grown = assert_sound(proj)
    assert grown["line/linear_regression"].items() >= ids["line/linear_regression"].items()
    assert victim[0] in grown["line/linear_regression"]  # the deleted child is back
    assert len(grown["line/linear_regression"]) == len(ids["line/linear_regression"]) + 1 + 2
    assert grown["moons/logistic_regression"] == ids["moons/logistic_regression"]

    # then at once: a deletion in the UI purged by mlflow gc; a damaged shard manifest
    # (remade: its shard's job runs again); in that shard a run whose history was cut short
    # and whose model was cut (retrained, not reused); a crash during the best model that
    # left a logged model PENDING (the next sync removes it)
    _delete_in_ui(db, next(iter(grown["moons/logistic_regression"].values())))
    # README's command (mlflow gc asks for both URIs on a local store)
    gc = subprocess.run([sys.executable, "-m", "mlflow", "gc", "--backend-store-uri",
                         "sqlite:///mlflow.db", "--tracking-uri", "sqlite:///mlflow.db"],
                        cwd=proj.root, capture_output=True, text=True,
                        env={**os.environ, **ENV})
    assert gc.returncode == 0, gc.stderr[-2000:]
    sweep = proj.root / "results/moons/logistic_regression"
    manifest = sweep / "shards" / "0.json"
    name = sorted(manifest_runs([manifest]))[0]
    manifest.write_text(manifest.read_text()[:40])
    history = sweep / "runs" / name / "history.csv"
    full = history.read_text()
    history.write_text("".join(full.splitlines(keepends=True)[:5]))
    model = sweep / "runs" / name / "model.npz"
    model.write_bytes(model.read_bytes()[:100])
    record = read_json(sweep / "mlflow.json")
    project = read_json(proj.root / "results/mlflow/project.json")["id"]
    client_of(db).create_logged_model(record["experiment_id"], name="cut-off",
                                      tags={L.PROJECT_TAG: project,
                                            L.SWEEP_TAG: "moons/logistic_regression"})
    out = proj.snakemake("--cores", "2", env=ENV)
    assert f"{manifest.relative_to(proj.root)} is damaged" in out.stderr
    assert history.read_text() == full
    ids = assert_sound(proj)  # the purged child is back, no model PENDING
    assert set(ids["moons/logistic_regression"]) == set(grown["moons/logistic_regression"])
    child = ids["moons/logistic_regression"][name]
    curve = client_of(db).get_metric_history(child, "curves/train_objective")
    assert len(curve) == len(full.splitlines()) - 1

    # a run edited after training, its size kept (a file cut short is noticed at the start,
    # tests/test_parsing_reads.py), is found when its child is written again (deleted in
    # the UI): the track job stops before any write, naming the run's folder; deleting the
    # folder, as it says, makes its shard train it anew
    other = next(m for m in sorted((sweep / "shards").glob("*.json")) if m != manifest)
    name = sorted(manifest_runs([other]))[0]
    history = sweep / "runs" / name / "history.csv"
    full = history.read_text()
    digit = "1" if full[-2] != "1" else "2"  # the last value's last digit, another one
    history.write_text(full[:-2] + digit + full[-1])
    _delete_in_ui(db, ids["moons/logistic_regression"][name])
    out = proj.snakemake("--cores", "2", check=False, env=ENV)
    assert out.returncode != 0
    log = (proj.root / "logs/track/moons/logistic_regression.log").read_text()
    folder = sweep / "runs" / name
    assert f"Delete the run's folder ({folder.relative_to(proj.root)})" in log, log[-2000:]
    assert [r.info.run_id for r in client_of(db).search_runs(
        [record["experiment_id"]], "attributes.status = 'RUNNING'")] == []
    shutil.rmtree(folder)
    out = proj.snakemake("--cores", "2", env=ENV)
    assert f"{other.relative_to(proj.root)} lists 1 run(s) whose files are gone" in out.stderr
    assert history.read_text() == full
    assert_sound(proj)

    # mlflow.db deleted, a journal of the deleted file left beside it: a new sound store
    (proj.root / "mlflow.db-wal").write_bytes(b"not this store's" * 100)
    db.unlink()
    out = proj.snakemake("--cores", "2", env=ENV)
    assert "names an experiment the tracking store lacks" in out.stderr
    assert not (proj.root / "mlflow.db-wal").exists()
    assert_sound(proj)
    assert not (tmp_path / "p ").exists()  # the store's URI, quoted, named no other file


def test_two_projects_sharing_a_store_keep_every_one_of_their_runs(tmp_path):
    """Two clones (the second with another seed) log to one SQLite store and one
    experiment name, one after the other, then the first again: each keeps its runs."""
    shared = tmp_path / "shared" / "mlflow.db"
    env = {**ENV, "MLFLOW_TRACKING_URI": f"sqlite:///{shared}"}
    a, b = Project(tmp_path / "a"), Project(tmp_path / "b")
    config = tiny_config()  # one sweep: what is shared is the store, not the sweeps
    config["datasets"] = {"moons": config["datasets"]["moons"]}
    del config["models"]["linear_regression"]
    a.write_config(config)
    b.write_config({**config, "seed": 8})
    sweeps = ("moons/logistic_regression",)
    a.snakemake("--cores", "2", env=env)
    ids_a = assert_sound(a, shared, sweeps)
    b.snakemake("--cores", "2", env=env)
    ids_b = assert_sound(b, shared, sweeps)
    assert assert_sound(a, shared, sweeps) == ids_a  # B touched none of A's runs
    a.snakemake("--cores", "2", "--forcerun", "track", env=env)
    assert assert_sound(a, shared, sweeps) == ids_a
    assert assert_sound(b, shared, sweeps) == ids_b


def test_a_moved_project_is_told_how_to_start_a_fresh_record(finished_project, tmp_path):
    """MLflow keeps absolute artifact paths: a moved project would write its new artifacts
    where it was. The track job says so and what to do, instead of writing there."""
    moved = tmp_path / "moved"
    shutil.copytree(finished_project.root, moved, symlinks=True)
    old_artifacts = finished_project.root / "mlruns"
    before = sorted(old_artifacts.rglob("*"))
    proj = Project.__new__(Project)
    proj.root = moved
    out = proj.snakemake("--cores", "2", "--forcerun", "track", check=False, env=ENV)
    assert out.returncode != 0
    log = (moved / "logs" / "track" / "line" / "linear_regression.log").read_text()
    assert "this project was moved from" in log and "rm -r mlflow.db mlruns" in log
    assert sorted(old_artifacts.rglob("*")) == before  # nothing written where it was


def test_a_grid_axis_of_a_thousand_values_tracks_every_child(tmp_path):
    """1000 learning rates: every child in MLflow, the parent's tags within MLflow's
    limits, the whole grid in its grid.json."""
    proj = Project(tmp_path / "wide")
    config = wide_config()
    lrs = config["models"]["logistic_regression"]["grid"]["lr"]
    proj.write_config(config)
    proj.snakemake("--cores", "2", env=ENV)
    client = client_of(proj.root / "mlflow.db")
    record = read_json(proj.root / "results/moons/logistic_regression/mlflow.json")
    assert len(record["children"]) == 1000
    runs = client.search_runs([record["experiment_id"]], max_results=2000)
    assert len(runs) == 1001
    parent = client.get_run(record["parent_run_id"])
    assert parent.data.tags["grid.lr"].startswith("1000 values")
    grid = json.loads(Path(client.download_artifacts(parent.info.run_id, "grid.json",
                                                     str(tmp_path))).read_text())
    assert grid["lr"] == sorted(lrs)
