"""MLflow tracking: every run on record, streamed per shard, idempotent, race-free, and the
best model loadable.

The workflow tests run a copy of the pipeline on a tiny config (conftest.Project); the
server test starts a real ``mlflow server`` on 127.0.0.1 and reads the runs back through
its REST API; the unit tests drive gdlab.tracking directly.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import urllib.parse
import urllib.request
from pathlib import Path

import _services
import numpy as np
import pytest
from conftest import Project, tiny_config

from gdlab import grid as G
from gdlab import mlflow_sql, tracking
from gdlab.grid import format_value
from gdlab.io import read_json
from gdlab.runfiles import manifest_runs
from gdlab.tracking import (
    COMPLETE_TAG,
    CONTENT_TAG,
    PARENT_TAG,
    ROLE_TAG,
    Existing,
    plan_cleanup,
    plan_shard,
)

pytestmark = pytest.mark.mlflow

ENV = {"MLFLOW_DISABLE_TELEMETRY": "true"}  # tests do not phone home
EXPERIMENT = "gdlab-test"
SECRET = "pa55w0rd-never-logged"


def tracking_config() -> dict:
    """The tiny config, with a one-axis grid for linear regression (one value = one run)."""
    config = tiny_config()
    config["models"]["linear_regression"]["grid"] = {"lr": [0.1, 3.0], "l2": [0.1],
                                                     "epochs": [15]}
    return config


SWEEPS = {("line", "linear_regression"): 2, ("moons", "logistic_regression"): 4}


def client_for(root: Path):
    from mlflow import MlflowClient

    return MlflowClient(f"sqlite:///{root / 'mlflow.db'}")


def active_runs(client, experiment_id: str) -> list:
    return client.search_runs([experiment_id], max_results=50000)


def all_run_ids(client, experiment_id: str) -> set[str]:
    from mlflow.entities import ViewType

    runs = client.search_runs([experiment_id], run_view_type=ViewType.ALL, max_results=50000)
    return {r.info.run_id for r in runs}


def clone(src: Project, root: Path) -> Project:
    """A copy of a finished project (its store's artifact root still points into ``src``:
    new runs of the copy put their artifacts there, beside the original's)."""
    return Project.clone(src, root)


@pytest.fixture(autouse=True)
def _no_telemetry(monkeypatch):
    monkeypatch.setenv("MLFLOW_DISABLE_TELEMETRY", "true")


def run_dirs(root: Path, dataset: str, model: str) -> dict[str, Path]:
    runs = root / "results" / dataset / model / "runs"
    return {p.parent.relative_to(runs).as_posix(): p.parent for p in runs.rglob("metrics.json")}


@pytest.fixture(scope="module")
def tracked(tmp_path_factory) -> Project:
    """The tiny experiment run from nothing with --cores 4 (setup, then parallel tracks)."""
    proj = Project(tmp_path_factory.mktemp("tracked") / "project")
    proj.write_config(tracking_config())
    proj.snakemake("--cores", "4", env=ENV)
    return proj


# --------------------------------------------------------------------------------------
# The embedded SQLite store after a pipeline run
# --------------------------------------------------------------------------------------


@pytest.mark.workflow
def test_one_parent_per_sweep_one_child_per_grid_point(tracked):
    client = client_for(tracked.root)
    exp = client.get_experiment_by_name(EXPERIMENT)
    assert exp.experiment_id == read_json(tracked.root / "results/mlflow/experiment.json")[
        "experiment_id"]
    runs = active_runs(client, exp.experiment_id)
    assert len(runs) == sum(n + 1 for n in SWEEPS.values())
    assert client.search_runs(["0"]) == []  # nothing fell into "Default"
    for (dataset, model), n_runs in SWEEPS.items():
        record = read_json(tracked.root / f"results/{dataset}/{model}/mlflow.json")
        mine = [r for r in runs if r.data.tags.get("dataset") == dataset]
        parents = [r for r in mine if r.data.tags[ROLE_TAG] == "sweep"]
        children = [r for r in mine if r.data.tags[ROLE_TAG] == "run"]
        assert [p.info.run_id for p in parents] == [record["parent_run_id"]]
        assert len(children) == n_runs
        assert {c.info.run_name for c in children} == set(run_dirs(tracked.root, dataset, model))
        assert {c.info.run_name: c.info.run_id for c in children} == record["children"]
        for r in mine:
            assert r.info.status == "FINISHED" and r.data.tags[COMPLETE_TAG] == "true"
        for c in children:
            assert c.data.tags["mlflow.parentRunId"] == record["parent_run_id"]
        parent = parents[0]
        lrs = tracking_config()["models"][model]["grid"]["lr"]
        assert json.loads(parent.data.tags["grid.lr"]) == sorted(lrs)
        assert parent.data.params == {"dataset": dataset, "model": model}
        assert record["best_run_id"] in record["children"].values()
        assert parent.data.tags["best_run_id"] == record["best_run_id"]
        assert "sklearn/test_" + ("mse" if model == "linear_regression" else "accuracy") \
            in parent.data.metrics
        names = {a.path for a in client.list_artifacts(parent.info.run_id)}
        assert {"summary.csv", "configs.csv", "best.json", "baseline.json", "plots"} <= names
        plots = {a.path for a in client.list_artifacts(parent.info.run_id, "plots")}
        assert plots == {"plots/heatmap.png", "plots/learning_curves.png",
                         "plots/convergence.png", "plots/parallel_coordinates.png",
                         "plots/importance.png"}
        best_model = read_json(tracked.root / "results/mlflow/best_models.json")[
            f"{dataset}/{model}"]
        assert best_model["parent_run_id"] == record["parent_run_id"]
        outputs = client.get_run(parent.info.run_id).outputs.model_outputs
        assert [o.model_id for o in outputs] == [best_model["logged_model_id"]]


@pytest.mark.workflow
def test_child_runs_hold_history_metrics_artifacts_times_and_dataset(tracked):
    client = client_for(tracked.root)
    exp = client.get_experiment_by_name(EXPERIMENT)
    children = [r for r in active_runs(client, exp.experiment_id)
                if r.data.tags[ROLE_TAG] == "run"]
    n_diverged = 0
    for child in children:
        tags = child.data.tags
        run_dir = run_dirs(tracked.root, tags["dataset"], tags["model"])[child.info.run_name]
        result = read_json(run_dir / "metrics.json")
        timing = read_json(run_dir / "timing.json")
        assert tags["run_key"] == result["run_key"]
        assert tags["git_commit"] == "unknown"  # the temporary copy is not a git checkout
        assert {"config_hash", "dataset", "model"} <= set(tags)
        assert child.info.start_time == timing["start_time_ms"]
        assert child.info.end_time == timing["end_time_ms"]
        params = child.data.params
        for key, value in result["hyperparameters"].items():
            assert params[key] == format_value(value)
        assert params["seed"] == str(result["seed"])
        metric = "val_r2" if result["task"] == "regression" else "val_accuracy"
        for key in ("train_objective", "val_loss", metric):
            history = client.get_metric_history(child.info.run_id, key)
            assert [m.step for m in history] == list(range(1, result["n_epochs"] + 1))
        for part, values in result["metrics"].items():
            for name, value in values.items():
                logged = child.data.metrics[f"{part}/{name}"]
                assert (np.isnan(logged) if value is None
                        else logged == pytest.approx(value, rel=1e-12))
        assert child.data.metrics["diverged"] == float(result["diverged"])
        assert tags["diverged"] == str(result["diverged"]).lower()
        n_diverged += result["diverged"]
        files = {a.path for a in client.list_artifacts(child.info.run_id)}
        assert {"history.csv", "metrics.json", "model.npz", "timing.json"} <= files
        best = read_json(tracked.root / f"results/{tags['dataset']}/{tags['model']}/best.json")
        plots = {a.path for a in client.list_artifacts(child.info.run_id, "plots")}
        # per-run figures are made for the best run only (plots.top_k: 1)
        assert plots == ({"plots/learning_curve.png", "plots/model.png"}
                         if child.info.run_name == best["run_name"] else set())
        inputs = client.get_run(child.info.run_id).inputs.dataset_inputs
        assert [i.dataset.name for i in inputs] == [tags["dataset"]]
        assert json.loads(inputs[0].dataset.source)["uri"].endswith(
            f"data/{tags['dataset']}/split.npz")
    assert n_diverged >= 2  # the non-finite values of diverged runs are on record too


@pytest.mark.workflow
def test_registered_model_predicts_like_the_numpy_weights_on_raw_features(tracked):
    import mlflow

    from gdlab.data import load_split

    mlflow.set_tracking_uri(f"sqlite:///{tracked.root / 'mlflow.db'}")
    for (dataset, model) in SWEEPS:
        best = read_json(tracked.root / f"results/{dataset}/{model}/best.json")
        reg = read_json(tracked.root / "results/mlflow/best_models.json")[
            f"{dataset}/{model}"]["registered_model"]
        assert reg["name"] == f"gdlab-{dataset}-{model}"
        pyfunc = mlflow.pyfunc.load_model(f"models:/{reg['name']}/{reg['version']}")
        split = load_split(tracked.root / f"data/{dataset}/split.npz")
        w = np.load(tracked.root / f"results/{dataset}/{model}/runs/{best['run_name']}"
                    / "model.npz")
        raw = split.X_test * split.x_scale + split.x_mean
        z = split.X_test @ w["coef"] + w["intercept"]
        # the probabilities of classes 0 and 1, as gdlab.models.registry.predict gives them
        expected = np.column_stack([1 / (1 + np.exp(z)), 1 / (1 + np.exp(-z))]) \
            if split.task == "classification" else z
        np.testing.assert_allclose(pyfunc.predict(raw), expected, rtol=1e-10, atol=1e-12)
        latest = mlflow.pyfunc.load_model(f"models:/{reg['name']}/latest")
        np.testing.assert_allclose(latest.predict(raw), expected, rtol=1e-10, atol=1e-12)


@pytest.mark.workflow
def test_rerun_adds_nothing_and_a_new_grid_value_adds_one_child(tracked, tmp_path):
    proj = clone(tracked, tmp_path / "project")
    client = client_for(proj.root)
    exp_id = client.get_experiment_by_name(EXPERIMENT).experiment_id
    before = all_run_ids(client, exp_id)
    registered = {m.name: m.latest_versions for m in client.search_registered_models()}

    proj.snakemake("--cores", "2", env=ENV)  # nothing changed
    assert all_run_ids(client, exp_id) == before
    # re-sync: still nothing
    proj.snakemake("--cores", "2", "--forcerun", "track_shard", "track", env=ENV)
    assert all_run_ids(client, exp_id) == before

    config = tracking_config()
    config["models"]["linear_regression"]["grid"]["lr"].append(0.5)
    proj.write_config(config)
    old = read_json(proj.root / "results/line/linear_regression/mlflow.json")
    other = read_json(proj.root / "results/moons/logistic_regression/mlflow.json")
    proj.snakemake("--cores", "2", env=ENV)
    new = read_json(proj.root / "results/line/linear_regression/mlflow.json")
    runs = active_runs(client, exp_id)
    line = [r for r in runs if r.data.tags["dataset"] == "line"]
    children = [r for r in line if r.data.tags[ROLE_TAG] == "run"]
    assert len(children) == 3 and len({c.info.run_name for c in children}) == 3
    assert set(new["children"].items()) > set(old["children"].items())  # old children kept
    added = set(new["children"]) - set(old["children"])
    assert added == {"epochs~15/l2~0.1/lr~0.5"}
    # the sweep keeps its parent (what changes is in its tags and metrics) and gains a child
    assert new["parent_run_id"] == old["parent_run_id"]
    assert [r.info.run_id for r in line if r.data.tags[ROLE_TAG] == "sweep"] == [
        new["parent_run_id"]]
    assert all(c.data.tags["mlflow.parentRunId"] == new["parent_run_id"] for c in children)
    assert json.loads(client.get_run(new["parent_run_id"]).data.tags["grid.lr"]) == [
        0.1, 0.5, 3.0]
    # exactly one run more; the other sweep untouched
    assert all_run_ids(client, exp_id) - before == {new["children"][n] for n in added}
    assert read_json(proj.root / "results/moons/logistic_regression/mlflow.json") == other
    best = read_json(proj.root / "results/line/linear_regression/best.json")
    versions = client.search_model_versions("name = 'gdlab-line-linear_regression'")
    latest = max(versions, key=lambda v: int(v.version))
    assert latest.tags["run_key"] == best["run_key"]
    if best["run_name"] == read_json(tracked.root / "results/line/linear_regression/best.json")[
            "run_name"]:
        assert len(versions) == len(registered["gdlab-line-linear_regression"])  # no new one
    assert proj.jobs_to_run() == {}


# --------------------------------------------------------------------------------------
# Race-free: a fresh store under --cores 4, several times
# --------------------------------------------------------------------------------------


@pytest.mark.workflow
def test_fresh_store_with_parallel_jobs_never_crashes_or_drops_runs(tracked, tmp_path):
    """Setup creates the store once; the track jobs fan out after it. Twice more from a
    fresh store (the ``tracked`` fixture was the first time)."""
    proj = clone(tracked, tmp_path / "project")
    expected = sum(n + 1 for n in SWEEPS.values())
    for _ in range(2):
        for name in ("mlflow.db", "mlflow.db-wal", "mlflow.db-shm"):
            (proj.root / name).unlink(missing_ok=True)
        shutil.rmtree(proj.root / "mlruns", ignore_errors=True)
        shutil.rmtree(proj.root / "results")
        proj.snakemake("--cores", "4", env=ENV)
        client = client_for(proj.root)
        exp = client.get_experiment_by_name(EXPERIMENT)
        runs = active_runs(client, exp.experiment_id)
        assert len(runs) == expected
        assert all(r.info.status == "FINISHED" for r in runs)
        assert client.search_runs(["0"]) == []
        assert sorted(e.name for e in client.search_experiments()) == ["Default", EXPERIMENT]


# --------------------------------------------------------------------------------------
# A real tracking server
# --------------------------------------------------------------------------------------


def _request(url: str, payload: dict | None = None) -> dict:
    data = None if payload is None else json.dumps(payload).encode()
    req = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as resp:
        return json.loads(resp.read().decode())


@pytest.fixture
def mlflow_server(tmp_path):
    """``mlflow server`` on 127.0.0.1 with a SQLite backend; always stopped at the end."""
    with _services.mlflow_server(tmp_path / "server") as url:
        yield url


@pytest.mark.workflow
def test_pipeline_logs_through_a_tracking_server(tracked, tmp_path, mlflow_server):
    """Pointing MLFLOW_TRACKING_URI at a server re-syncs every sweep into it; the URI's
    credentials (this server ignores them) are written nowhere."""
    proj = clone(tracked, tmp_path / "project")
    host = mlflow_server.removeprefix("http://")
    env = {**ENV, "MLFLOW_TRACKING_URI": f"http://gdlab:{SECRET}@{host}"}
    proj.snakemake("--cores", "2", env=env)

    api = f"{mlflow_server}/api/2.0/mlflow"
    exp = _request(f"{api}/experiments/get-by-name?"
                   + urllib.parse.urlencode({"experiment_name": EXPERIMENT}))["experiment"]
    assert exp["experiment_id"] == read_json(
        proj.root / "results/mlflow/experiment.json")["experiment_id"]
    found = _request(f"{api}/runs/search", {"experiment_ids": [exp["experiment_id"]],
                                            "max_results": 1000})["runs"]
    tags = [{t["key"]: t["value"] for t in r["data"].get("tags", [])} for r in found]
    assert sorted(t[ROLE_TAG] for t in tags) == sorted(
        ["sweep"] * len(SWEEPS) + ["run"] * sum(SWEEPS.values()))
    for run, tag in zip(found, tags, strict=True):
        assert run["info"]["status"] == "FINISHED" and tag[COMPLETE_TAG] == "true"
        if tag[ROLE_TAG] != "run":
            continue
        run_dir = run_dirs(proj.root, tag["dataset"], tag["model"])[run["info"]["run_name"]]
        result = read_json(run_dir / "metrics.json")
        history = _request(f"{api}/metrics/get-history?" + urllib.parse.urlencode(
            {"run_id": run["info"]["run_id"], "metric_key": "val_loss"}))["metrics"]
        assert [m["step"] for m in history] == list(range(1, result["n_epochs"] + 1))
        timing = read_json(run_dir / "timing.json")
        assert int(run["info"]["start_time"]) == timing["start_time_ms"]
        assert int(run["info"]["end_time"]) == timing["end_time_ms"]
    default = _request(f"{api}/runs/search", {"experiment_ids": ["0"]})
    assert default.get("runs", []) == []
    ids = {r["info"]["run_id"] for r in found}
    for dataset, model in SWEEPS:
        record = read_json(proj.root / f"results/{dataset}/{model}/mlflow.json")
        assert {record["parent_run_id"], *record["children"].values()} <= ids
        versions = _request(f"{api}/model-versions/search?" + urllib.parse.urlencode(
            {"filter": f"name='gdlab-{dataset}-{model}'"}))["model_versions"]
        assert [v["version"] for v in versions] == ["1"]

    # a re-sync adds nothing
    proj.snakemake("--cores", "2", "--forcerun", "track_shard", "track", env=env)
    again = _request(f"{api}/runs/search", {"experiment_ids": [exp["experiment_id"]],
                                            "max_results": 1000})["runs"]
    assert {r["info"]["run_id"] for r in again} == ids
    # only a hash of the URI is written down: not in params, outputs or logs
    for path in proj.root.rglob("*"):
        if path.is_file() and "mlruns" not in path.parts:
            assert SECRET.encode() not in path.read_bytes(), path


# --------------------------------------------------------------------------------------
# gdlab.tracking without Snakemake
# --------------------------------------------------------------------------------------


# --------------------------------------------------------------------------------------
# Streaming: children before the sweep is summarised; a lost store is noticed
# --------------------------------------------------------------------------------------


@pytest.mark.workflow
def test_children_are_in_mlflow_as_soon_as_their_shard_is_trained(project):
    """Asking for one shard's sync runs no summarize, plot or track job: the children are
    in the store (under a RUNNING parent) before the sweep's plot job has even started."""
    config = tracking_config()
    project.write_config(config)
    grid = config["models"]["logistic_regression"]["grid"]
    names = [G.run_name(hp, grid) for hp in G.expand_grid(grid, "logistic_regression")]
    n = G.shard_count(len(names), config["train"]["shard_size"])
    shards = sorted({G.shard_of(name, n) for name in names})
    assert len(shards) > 1  # so that several shard jobs fill one parent
    project.snakemake("--cores", "2", *(
        f"results/moons/logistic_regression/mlflow/shards/{k}.json" for k in shards), env=ENV)
    sweep = project.root / "results/moons/logistic_regression"
    assert not (sweep / "summary.csv").exists() and not (sweep / "plots").exists()
    client = client_for(project.root)
    exp = client.get_experiment_by_name(EXPERIMENT)
    runs = active_runs(client, exp.experiment_id)
    children = [r for r in runs if r.data.tags[ROLE_TAG] == "run"]
    parents = [r for r in runs if r.data.tags[ROLE_TAG] == "sweep"]
    assert len(children) == SWEEPS[("moons", "logistic_regression")]
    assert all(c.info.status == "FINISHED" and c.data.tags[COMPLETE_TAG] == "true"
               for c in children)
    assert [p.info.status for p in parents] == ["RUNNING"]
    assert parents[0].data.tags[COMPLETE_TAG] == "false"
    assert {c.data.tags[PARENT_TAG] for c in children} == {parents[0].info.run_id}

    project.snakemake("--cores", "2", env=ENV)  # the rest: the parent is completed
    parent = client.get_run(parents[0].info.run_id)
    assert parent.info.status == "FINISHED" and parent.data.tags[COMPLETE_TAG] == "true"
    assert len(active_runs(client, exp.experiment_id)) == sum(n + 1 for n in SWEEPS.values())


@pytest.mark.workflow
def test_a_deleted_store_is_noticed_and_filled_again(tracked, tmp_path):
    proj = clone(tracked, tmp_path / "project")
    assert proj.jobs_to_run() == {}
    for name in ("mlflow.db", "mlflow.db-wal", "mlflow.db-shm"):
        (proj.root / name).unlink(missing_ok=True)
    shutil.rmtree(proj.root / "mlruns", ignore_errors=True)
    jobs = proj.jobs_to_run()
    n_shards = len(list(proj.root.glob("results/*/*/shards/*.json")))
    assert jobs == {"mlflow_setup": 1, "track_shard": n_shards, "track": len(SWEEPS),
                    "best_models": 1, "all": 1}
    proj.snakemake("--cores", "2", env=ENV)
    client = client_for(proj.root)
    exp = client.get_experiment_by_name(EXPERIMENT)
    runs = active_runs(client, exp.experiment_id)
    assert len(runs) == sum(n + 1 for n in SWEEPS.values())
    assert all(r.info.status == "FINISHED" for r in runs)
    # the best models are back too: registered again, each on its sweep's new parent
    models = read_json(proj.root / "results/mlflow/best_models.json")
    assert sorted(models) == sorted(f"{d}/{m}" for d, m in SWEEPS)
    assert {m["registered_model"]["version"] for m in models.values()} == {1}
    assert {m["parent_run_id"] for m in models.values()} <= {r.info.run_id for r in runs}
    assert proj.jobs_to_run() == {}


@pytest.mark.workflow
def test_retrained_runs_with_identical_results_keep_their_mlflow_runs(tracked, tmp_path):
    """An edit of the training code that changes no result retrains every shard (its code
    version changed) but creates and deletes no MLflow run: only code tags move."""
    proj = clone(tracked, tmp_path / "project")
    client = client_for(proj.root)
    exp_id = client.get_experiment_by_name(EXPERIMENT).experiment_id
    before = all_run_ids(client, exp_id)
    with open(proj.root / "src/gdlab/train.py", "a", encoding="utf-8") as f:
        f.write("\n\nRETRAINED_FOR_A_TEST = True\n")
    jobs = proj.jobs_to_run()
    assert jobs["train"] == len(list(proj.root.glob("results/*/*/shards/*.json")))
    proj.snakemake("--cores", "2", env=ENV)
    assert all_run_ids(client, exp_id) == before
    for dataset, model in SWEEPS:
        record = read_json(proj.root / f"results/{dataset}/{model}/mlflow.json")
        for name, run_id in record["children"].items():
            result = read_json(proj.root / f"results/{dataset}/{model}/runs/{name}/metrics.json")
            tags = client.get_run(run_id).data.tags
            assert tags["code_version"] == result["code_version"]
            assert tags["run_key"] == result["run_key"]
    old = read_json(tracked.root / "results/line/linear_regression/runs/"
                    "epochs~15/l2~0.1/lr~0.1/metrics.json")
    new = read_json(proj.root / "results/line/linear_regression/runs/"
                    "epochs~15/l2~0.1/lr~0.1/metrics.json")
    assert old["code_version"] != new["code_version"]  # it did retrain


# --------------------------------------------------------------------------------------
# gdlab.tracking without Snakemake
# --------------------------------------------------------------------------------------


def _existing(run_id, role, content=None, status="FINISHED", complete=True, start=0, name=""):
    tags = {ROLE_TAG: role}
    if content:
        tags[CONTENT_TAG] = content
    if complete:
        tags[COMPLETE_TAG] = "true"
    return Existing(run_id, status, tags, start, name)


@pytest.mark.parametrize("via", ["sqlite3", "MLflow client", "server"])
def test_a_parent_loses_only_the_stale_figures_named(via, tmp_path, request):
    """What a reused parent does with a figure its sweep no longer has (a grid's heatmap,
    once the model is searched): gone from its artifacts, through every store access; a
    name it does not hold, and files not named, stay as they are."""
    from mlflow import MlflowClient

    if via == "server":
        uri, location = request.getfixturevalue("mlflow_server"), None
    else:
        uri, location = f"sqlite:///{tmp_path / 'mlflow.db'}", str(tmp_path / "artifacts")
    client = MlflowClient(uri)
    run_id = client.create_run(client.create_experiment("e", location)).info.run_id
    for name in ("heatmap.png", "importance.png", "notes.txt"):
        (tmp_path / name).write_bytes(name.encode())
        client.log_artifact(run_id, str(tmp_path / name), "plots")
    stale = {"heatmap.png", "convergence.png"}
    if via == "sqlite3":
        with mlflow_sql.SqliteStore.transaction(tmp_path / "mlflow.db") as store:
            gone = tracking.SqliteAccess(store).delete_artifacts(run_id, "plots", stale)
    else:
        gone = tracking.ClientAccess(client).delete_artifacts(run_id, "plots", stale)
    assert gone == ["heatmap.png"]
    assert sorted(a.path for a in client.list_artifacts(run_id, "plots")) == [
        "plots/importance.png", "plots/notes.txt"]


def test_plan_shard_keeps_complete_matching_children_and_deletes_the_rest():
    existing = [
        _existing("a", "run", "ka", name="a"),
        _existing("b-old", "run", "kb-old", name="b"),  # results changed: superseded
        _existing("c-crashed", "run", "kc", status="RUNNING", complete=False, name="c"),
        _existing("c-failed", "run", "kc", status="FAILED", complete=True, name="c"),
        _existing("a-dup", "run", "ka", start=5, name="a"),  # a later duplicate of a
    ]
    plan = plan_shard(existing, {"a": "ka", "b": "kb", "c": "kc"})
    assert plan.keep == {"a": "a"}
    assert plan.create == ["b", "c"]
    assert sorted(r.run_id for r in plan.delete) == ["a-dup", "b-old", "c-crashed",
                                                     "c-failed"]
    unchanged = plan_shard(existing[:1], {"a": "ka"})
    assert (unchanged.keep, unchanged.create, unchanged.delete) == ({"a": "a"}, [], [])
    assert unchanged.writes is False


def test_plan_cleanup_deletes_what_the_sweep_no_longer_has():
    existing = [
        _existing("p", "sweep"), _existing("p-dup", "sweep", start=9),
        _existing("a", "run", "ka", name="a"), _existing("gone", "run", "kg", name="gone"),
        Existing("foreign", "FINISHED", {"dataset": "line"}),  # not ours: left alone
    ]
    assert sorted(r.run_id for r in plan_cleanup(existing, {"a": "a"}, "p")) == ["gone",
                                                                              "p-dup"]
    assert tracking.choose_parent(existing).run_id == "p"


def test_batches_respect_mlflow_limits():
    batches = list(tracking._batches(range(2500), range(150), range(30)))
    assert [(len(m), len(p), len(t)) for m, p, t in batches] == [
        (870, 100, 30), (950, 50, 0), (680, 0, 0)]
    assert sum(len(m) for m, _, _ in batches) == 2500


def test_uri_redaction_and_hash():
    uri = "https://alice:s3cret@mlflow.example.org/path?token=abc"
    assert tracking.redact_uri(uri) == "https://mlflow.example.org/path"
    assert tracking.redact_uri("sqlite:///mlflow.db") == "sqlite:///mlflow.db"
    assert "s3cret" not in tracking.uri_hash(uri) and len(tracking.uri_hash(uri)) == 16
    with pytest.raises(RuntimeError, match="mlflow.example.org") as err:
        tracking.check_uri(uri, tracking.uri_hash("sqlite:///mlflow.db"))
    assert "s3cret" not in str(err.value) and "abc" not in str(err.value)
    with pytest.raises(RuntimeError) as err, tracking.redacted_errors(uri):
        raise ValueError(f"cannot reach {uri}")
    assert "s3cret" not in str(err.value)


def shard_runs(root: Path, dataset: str, model: str) -> list[tracking.RunResult]:
    sweep = root / "results" / dataset / model
    return tracking.load_runs(sweep, manifest_runs(sorted((sweep / "shards").glob("*.json"))))


def _run_view(client, run_id: str) -> dict:
    """Everything a user sees of a run, without its ids."""
    run = client.get_run(run_id)
    tags = {k: v for k, v in run.data.tags.items() if k != PARENT_TAG}
    metrics = {k: (None if np.isnan(v) else v) for k, v in run.data.metrics.items()}
    histories = {k: [(m.step, m.timestamp, None if np.isnan(m.value) else m.value)
                     for m in client.get_metric_history(run_id, k)] for k in metrics}
    inputs = [(i.dataset.name, i.dataset.digest, i.dataset.source, i.dataset.schema,
               i.dataset.profile, sorted((t.key, t.value) for t in i.tags))
              for i in run.inputs.dataset_inputs]
    return {"name": run.info.run_name, "status": run.info.status,
            "start": run.info.start_time, "end": run.info.end_time,
            "stage": run.info.lifecycle_stage, "params": run.data.params, "tags": tags,
            "metrics": metrics, "histories": histories, "inputs": inputs,
            "artifacts": sorted((a.path, a.file_size) for a in client.list_artifacts(run_id))}


def _with_inf_and_nan(run: tracking.RunResult, tmp_path: Path) -> None:
    """Make ``run``'s last epoch read back as inf (train objective) and NaN (val loss)."""
    lines = (run.dir / "history.csv").read_text().splitlines()
    cells = lines[-1].split(",")
    cells[1:3] = ["inf", "nan"]
    path = tmp_path / f"history-{run.name.replace('/', '_')}.csv"
    path.write_text("\n".join([*lines[:-1], ",".join(cells)]) + "\n")
    run.history = lambda: read_history_file(path)


def test_one_transaction_writes_what_mlflow_client_calls_write(tracked, tmp_path, monkeypatch):
    """The SQL fast path against the oracle, MLflow's own client calls, on the same runs
    (a diverged one among them, with inf and NaN in its history)."""
    from mlflow import MlflowClient

    monkeypatch.chdir(tmp_path)  # the store's artifact root is ./mlruns
    uri = f"sqlite:///{tmp_path / 'store.db'}"
    ids = {name: tracking.setup_experiment(uri, name)["experiment_id"]
           for name in ("fast", "client")}
    client = MlflowClient(uri)
    runs = shard_runs(tracked.root, "line", "linear_regression")
    diverged = next(r for r in runs if r.result["diverged"])
    _with_inf_and_nan(diverged, tmp_path)
    split_path = tracked.root / "data/line/split.npz"
    dataset_input = tracking._dataset_input(
        tracking.split_dataset(tracking.load_split(split_path), split_path, "line"))
    records = [tracking.child_record(r, "line", "linear_regression", "parent", "abc")
               for r in runs]
    fast = tracking.write_children_sql(client, ids["fast"], records, dataset_input)
    slow = tracking.write_children_with_client(client, ids["client"], records, dataset_input)
    assert fast is not None and set(fast) == set(slow) == {r.name for r in runs}
    for name in fast:
        assert _run_view(client, fast[name]) == _run_view(client, slow[name]), name
    view = _run_view(client, fast[diverged.name])
    assert view["histories"]["val_loss"][-1][2] is None  # NaN is kept as NaN
    assert view["histories"]["train_objective"][-1][2] >= 1.7e308  # inf is clamped
    assert view["tags"][COMPLETE_TAG] == "true" and view["status"] == "FINISHED"


def _sync_scenario(uri: str, exp_id: str, runs: list, split: Path) -> dict:
    """The life of a shard in a store: created; then its parent completed (as the track
    job does) and a crash leaves a RUNNING duplicate of a kept run; then one run's results
    change and the commit moves: one child kept, one retired and one created, the crashed
    one marked FAILED and deleted, the kept ones' code tags updated, the parent reopened."""
    from mlflow import MlflowClient

    client = MlflowClient(uri)
    first = tracking.sync_shard(uri, exp_id, "moons", "logistic_regression", runs, split,
                                experiment_name=EXPERIMENT, commit="abc", log=print)
    client.set_tag(first["parent_run_id"], COMPLETE_TAG, "true")
    client.set_terminated(first["parent_run_id"], "FINISHED", end_time=1_700_000_000_000)
    kept, changed = runs[0], runs[1]
    client.create_run(exp_id, start_time=1_700_000_000_001, run_name=kept.name, tags={
        ROLE_TAG: "run", "dataset": "moons", "model": "logistic_regression",
        CONTENT_TAG: kept.content_key})
    old_key = changed.content_key
    changed.content_key = "results-changed"
    try:
        second = tracking.sync_shard(uri, exp_id, "moons", "logistic_regression", runs, split,
                                     experiment_name=EXPERIMENT, commit="abd", log=print)
    finally:
        changed.content_key = old_key
    assert (first["created"], second["created"], second["deleted"]) == (len(runs), 1, 2)
    assert second["children"][kept.name] == first["children"][kept.name]
    return second


def _store_rows(db: Path) -> dict[str, list]:
    """Every row a sync writes, ids and clock times replaced by what they stand for, so
    that two stores holding the same runs compare equal."""
    con = sqlite3.connect(db)
    try:
        tags = {}
        for run_id, key, value in con.execute('SELECT run_uuid, "key", value FROM tags'):
            tags.setdefault(run_id, {})[key] = value
        label = {run_id: (name, stage, status, tags.get(run_id, {}).get(CONTENT_TAG, ""))
                 for run_id, name, stage, status in con.execute(
                     "SELECT run_uuid, name, lifecycle_stage, status FROM runs")}
        assert len(set(label.values())) == len(label)  # the labels name runs one to one
        exp_root = con.execute("SELECT artifact_location FROM experiments WHERE "
                               "experiment_id = 1").fetchone()[0]
        datasets = {u: (n, d) for u, n, d in con.execute(
            "SELECT dataset_uuid, name, digest FROM datasets")}
        inputs = {u: label.get(d) or "a logged model" for u, d in con.execute(
            "SELECT input_uuid, destination_id FROM inputs")}

        def rows(sql):
            return sorted(con.execute(sql).fetchall(), key=repr)

        out = {
            "runs": sorted([
                (label[r[0]], r[1:6], r[6] if r[5] != "FAILED" else "now", r[7] is not None,
                 r[8:10], r[10].replace(exp_root, "ROOT").replace(r[0], "RUN"), r[11:])
                for r in rows("SELECT run_uuid, name, source_type, source_name, "
                              "entry_point_name, status, end_time, deleted_time, start_time, "
                              "source_version, artifact_uri, experiment_id, user_id, "
                              "lifecycle_stage FROM runs")], key=repr),
            "tags": sorted([(label[r], k, label.get(v, v)) for k, v, r in rows(
                'SELECT "key", value, run_uuid FROM tags')], key=repr),
            "datasets": [r[1:] for r in rows("SELECT * FROM datasets")],
            # a dataset into a run, or a run's output: a logged model
            "inputs": sorted([(datasets.get(r[2]) or label[r[2]],
                               label.get(r[4]) or "a logged model", r[1], r[3], r[5])
                              for r in rows("SELECT input_uuid, source_type, source_id, "
                                            "destination_type, destination_id, step FROM "
                                            "inputs")], key=repr),
            "input_tags": sorted([(inputs[u], n, v) for u, n, v in rows(
                "SELECT * FROM input_tags")], key=repr),
        }
        for table in ("params", "metrics", "latest_metrics"):
            columns = [c[1] for c in con.execute(f"PRAGMA table_info({table})")]
            at = columns.index("run_uuid")
            out[table] = sorted([(*r[:at], label[r[at]], *r[at + 1:])
                                 for r in rows(f"SELECT * FROM {table}")], key=repr)
        return out
    finally:
        con.close()


#: what the UI asks (filters as its search box and columns write them); {parent} is the
#: sweep's parent run id of the store asked
UI_SEARCHES = [
    ("tags.dataset = 'moons' and tags.model = 'logistic_regression'", None),
    ("attributes.status = 'FINISHED' and tags.`gdlab.role` = 'run'", None),
    ("tags.`mlflow.parentRunId` = '{parent}'", ["attributes.start_time DESC"]),
    ("metrics.val_loss < 1e300 and params.lr = '0.5'", ["metrics.val_loss ASC"]),
    ("attributes.run_name LIKE 'epochs%' and metrics.`train/accuracy` >= 0", None),
    ("datasets.name = 'moons' and datasets.context = 'training'", ["metrics.`val/log_loss` DESC"]),
    ("tags.`gdlab.complete` = 'false'", None),
    ("", ["attributes.end_time ASC", "attributes.run_name ASC"]),
]


def _ui_searches(uri: str, exp_id: str, parent: str) -> list:
    from mlflow import MlflowClient
    from mlflow.entities import ViewType

    client = MlflowClient(uri)
    found = []
    for query, order in UI_SEARCHES:
        runs = client.search_runs([exp_id], query.format(parent=parent), order_by=order,
                                  max_results=1000)
        names = [r.info.run_name for r in runs]
        found.append(names if order else sorted(names))
    deleted = client.search_runs([exp_id], "", ViewType.DELETED_ONLY)
    found.append(sorted((r.info.run_name, r.info.status) for r in deleted))
    return found


def test_the_sqlite3_sync_writes_what_mlflow_writes(tracked, tmp_path, monkeypatch):
    """A shard synced by gdlab's sqlite3 path (no mlflow) and by MLflow's client alone
    (create_run, log_batch, log_inputs, log_artifact, set_terminated, delete_run, in a
    store MLflow created), through create, rerun, repair: the same rows, the same runs
    read back through MlflowClient, the same answers to the UI's searches."""
    from mlflow import MlflowClient

    monkeypatch.chdir(tmp_path)  # the stores' artifact root is ./mlruns
    runs = shard_runs(tracked.root, "moons", "logistic_regression")
    assert len(runs) >= 3
    _with_inf_and_nan(next(r for r in runs if r.result["diverged"]), tmp_path)
    split = tracked.root / "data/moons/split.npz"

    fast_uri = f"sqlite:///{tmp_path / 'fast.db'}"
    assert tracking.setup_experiment(fast_uri, EXPERIMENT)["experiment_id"] == "1"
    assert tracking.writes_sqlite_itself(fast_uri)
    fast = _sync_scenario(fast_uri, "1", runs, split)

    slow_db = tmp_path / "client.db"
    mlflow_sql.create_store_with_mlflow(slow_db)
    slow_uri = f"sqlite:///{slow_db}"
    assert MlflowClient(slow_uri).create_experiment(EXPERIMENT) == "1"
    with monkeypatch.context() as m:  # the oracle: MLflow's client calls, nothing of gdlab's
        m.setattr(tracking, "writes_sqlite_itself", lambda uri: False)
        m.setattr(tracking, "write_children_sql", lambda *args, **kwargs: None)
        m.setattr(tracking, "split_dataset", lambda split, path, name: (
            tracking.mlflow_numpy_dataset(split.X_train, split.y_train,
                                          Path(path).resolve().as_uri(), name)))
        slow = _sync_scenario(slow_uri, "1", runs, split)

    fast_rows, slow_rows = _store_rows(tmp_path / "fast.db"), _store_rows(slow_db)
    for table in slow_rows:
        assert fast_rows[table] == slow_rows[table], table
    assert any(r[4] == 1 for r in fast_rows["metrics"])  # a NaN is among them
    fast_client, slow_client = MlflowClient(fast_uri), MlflowClient(slow_uri)
    for name, run_id in slow["children"].items():
        view = _run_view(fast_client, fast["children"][name])
        assert view == _run_view(slow_client, run_id), name
        assert view["status"] == "FINISHED" and view["tags"][COMPLETE_TAG] == "true"
    assert (_run_view(fast_client, fast["parent_run_id"])
            == _run_view(slow_client, slow["parent_run_id"]))
    assert (_ui_searches(fast_uri, "1", fast["parent_run_id"])
            == _ui_searches(slow_uri, "1", slow["parent_run_id"]))
    assert _ui_searches(fast_uri, "1", fast["parent_run_id"])[2]  # the searches find runs


def _finish_scenario(uri: str, exp_id: str, root: Path, split: Path) -> tuple[list[dict],
                                                                            list[dict]]:
    """The life of a sweep's parent: its shard synced, the sweep finished and its best
    model logged (new: MLflow logs and registers it); then a run that is not the best
    leaves the grid and the sweep finishes again (its child deleted, the best model
    unchanged); then once more with nothing changed (the store already shows it). Returns
    the finish records and the best-model records."""
    sweep_dir = root / "results/moons/logistic_regression"
    sweep = tracking.load_sweep(sweep_dir, manifest_runs(sorted(
        (sweep_dir / "shards").glob("*.json"))), split_path=split)
    shard = tracking.sync_shard(uri, exp_id, "moons", "logistic_regression", sweep.runs, split,
                                experiment_name=EXPERIMENT, commit="abc", log=print)
    children = shard["children"]
    records, models = [], []
    for step in range(3):
        if step == 1:
            dropped = next(r for r in sweep.runs if r.name != sweep.best["run_name"])
            sweep.runs.remove(dropped)
            children = {k: v for k, v in children.items() if k != dropped.name}
            sweep.sweep_key += "-without-one-run"
        records.append(tracking.finish_sweep(uri, exp_id, sweep, children,
                                             experiment_name=EXPERIMENT,
                                             commit="abd" if step else "abc", log=print))
        models.append(tracking.log_best_models(uri, exp_id, [sweep], experiment_name=EXPERIMENT,
                                               log=print)["moons/logistic_regression"])
    assert [r["updated"] for r in records] == [True, True, False]
    assert [r["deleted"] for r in records] == [0, 1, 0]
    assert {m["parent_run_id"] for m in models} == {records[0]["parent_run_id"]}
    assert models[0]["registered_model"]["new"] is True
    for later in models[1:]:
        assert later["registered_model"] == {**models[0]["registered_model"], "new": False}
    assert len({m["logged_model_id"] for m in models}) == 1
    return records, models


def test_the_sqlite3_parent_writes_what_mlflow_writes(tracked, tmp_path, monkeypatch):
    """A sweep finished by gdlab's sqlite3 path (MLflow only for the new best model) and by
    MLflow's client alone: the same rows, the same parent and children read back through
    MlflowClient (tags, metrics, artifacts, status, model outputs), the same registry."""
    from mlflow import MlflowClient

    monkeypatch.chdir(tmp_path)  # the stores' artifact root is ./mlruns
    monkeypatch.setattr(mlflow_sql, "now_ms", lambda: 1_750_000_000_000)  # the parent's metrics
    split = tracked.root / "data/moons/split.npz"
    fast_uri = f"sqlite:///{tmp_path / 'fast.db'}"
    assert tracking.setup_experiment(fast_uri, EXPERIMENT)["experiment_id"] == "1"
    fast, fast_models = _finish_scenario(fast_uri, "1", tracked.root, split)

    slow_db = tmp_path / "client.db"
    mlflow_sql.create_store_with_mlflow(slow_db)
    slow_uri = f"sqlite:///{slow_db}"
    assert MlflowClient(slow_uri).create_experiment(EXPERIMENT) == "1"
    with monkeypatch.context() as m:  # the oracle: MLflow's client calls
        m.setattr(tracking, "writes_sqlite_itself", lambda uri: False)
        m.setattr(tracking, "write_children_sql", lambda *args, **kwargs: None)
        m.setattr(tracking, "split_dataset", lambda split, path, name: (
            tracking.mlflow_numpy_dataset(split.X_train, split.y_train,
                                          Path(path).resolve().as_uri(), name)))
        slow, slow_models = _finish_scenario(slow_uri, "1", tracked.root, split)

    fast_rows, slow_rows = _store_rows(tmp_path / "fast.db"), _store_rows(slow_db)
    for table in slow_rows:
        assert fast_rows[table] == slow_rows[table], table
    fast_client, slow_client = MlflowClient(fast_uri), MlflowClient(slow_uri)

    def parent_view(client, record):
        """The parent's view, its best child named by run name (run ids differ)."""
        view = _run_view(client, record["parent_run_id"])
        names = {run_id: name for name, run_id in record["children"].items()}
        view["tags"]["best_run_id"] = names[view["tags"]["best_run_id"]]
        return view

    view = parent_view(fast_client, fast[-1])
    assert view == parent_view(slow_client, slow[-1])
    assert view["status"] == "FINISHED" and view["tags"][COMPLETE_TAG] == "true"
    assert {"summary.csv", "best.json", "plots"} <= {path for path, _ in view["artifacts"]}
    for name, run_id in slow[-1]["children"].items():
        assert (_run_view(fast_client, fast[-1]["children"][name])
                == _run_view(slow_client, run_id)), name
    for client, records, models in ((fast_client, fast, fast_models),
                                    (slow_client, slow, slow_models)):
        outputs = client.get_run(records[-1]["parent_run_id"]).outputs.model_outputs
        assert [o.model_id for o in outputs] == [models[-1]["logged_model_id"]]
        versions = client.search_model_versions("name = 'gdlab-moons-logistic_regression'")
        assert [int(v.version) for v in versions] == [1]


def test_a_parent_made_after_its_best_model_gets_it(tracked, tmp_path, monkeypatch):
    """The best_models job may run before a sweep's track job, and a parent deleted by hand
    is made again by the track job: either way the parent ends up with the best model."""
    from mlflow import MlflowClient

    monkeypatch.chdir(tmp_path)  # the store's artifact root is ./mlruns
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    exp = tracking.setup_experiment(uri, EXPERIMENT)["experiment_id"]
    split = tracked.root / "data/moons/split.npz"
    sweep_dir = tracked.root / "results/moons/logistic_regression"
    sweep = tracking.load_sweep(sweep_dir, manifest_runs(sorted(
        (sweep_dir / "shards").glob("*.json"))), split_path=split)
    children = tracking.sync_shard(uri, exp, "moons", "logistic_regression", sweep.runs,
                                   split, commit="abc")["children"]
    model = tracking.log_best_models(uri, exp, [sweep])["moons/logistic_regression"]
    first = tracking.finish_sweep(uri, exp, sweep, children, commit="abc")
    assert first["parent_run_id"] == model["parent_run_id"]

    client = MlflowClient(uri)
    client.delete_run(first["parent_run_id"])  # in the UI, say
    again = tracking.log_best_models(uri, exp, [sweep])["moons/logistic_regression"]
    assert again["parent_run_id"] is None  # no parent to link it to, and no error
    assert again["logged_model_id"] == model["logged_model_id"]
    assert again["registered_model"] == {**model["registered_model"], "new": False}
    second = tracking.finish_sweep(uri, exp, sweep, children, commit="abc")
    assert second["parent_run_id"] not in (None, first["parent_run_id"])
    outputs = client.get_run(second["parent_run_id"]).outputs.model_outputs
    assert [o.model_id for o in outputs] == [model["logged_model_id"]]
    for run_id in children.values():
        assert client.get_run(run_id).data.tags["mlflow.parentRunId"] == second["parent_run_id"]


def test_a_parent_and_an_unchanged_best_model_import_no_mlflow(tracked, tmp_path):
    """What a track job on the default store loads (gdlab, NumPy and the stdlib), and a
    best_models job too when the best model did not change."""
    shutil.copytree(tracked.root / "results", tmp_path / "results")
    shutil.copytree(tracked.root / "data", tmp_path / "data")
    code = """
import sys
from pathlib import Path
from gdlab import tracking
from gdlab.runfiles import manifest_runs
sweep_dir = Path("results/moons/logistic_regression")
sweep = tracking.load_sweep(sweep_dir, manifest_runs(sorted(
    (sweep_dir / "shards").glob("*.json"))), split_path="data/moons/split.npz")
uri = "sqlite:///" + str(Path("mlflow.db").resolve())
exp = tracking.setup_experiment(uri, "x")["experiment_id"]
children = tracking.sync_shard(uri, exp, "moons", "logistic_regression", sweep.runs,
                               "data/moons/split.npz", commit="abc")["children"]
if sys.argv[1] == "again":
    sweep.sweep_key += "-changed"
def heavy():
    return sorted(m for m in ("mlflow", "sqlalchemy", "pandas") if m in sys.modules)
record = tracking.finish_sweep(uri, exp, sweep, children, commit="abc")
after_parent = heavy()
model = tracking.log_best_models(uri, exp, [sweep])["moons/logistic_regression"]
print(record["updated"], after_parent, model["registered_model"]["new"], heavy())
"""
    outs = []
    for step in ("first", "again"):
        proc = subprocess.run([sys.executable, "-c", code, step], cwd=tmp_path,
                              capture_output=True, text=True, timeout=300,
                              env={**os.environ, **ENV})
        assert proc.returncode == 0, proc.stderr[-3000:]
        outs.append(proc.stdout.strip().splitlines()[-1])
    assert outs[0].startswith("True [] True ['mlflow'")  # a new best model: MLflow logs it
    assert outs[1] == "True [] False []"


def test_a_sqlite_sync_imports_neither_mlflow_nor_sqlalchemy_nor_pandas(tracked, tmp_path):
    """What a track_shard job on the default store loads: gdlab, NumPy and the stdlib."""
    code = f"""
import sys
from gdlab import tracking
from gdlab.runfiles import manifest_runs
from pathlib import Path
sweep = Path({str(tracked.root / "results/moons/logistic_regression")!r})
runs = tracking.load_runs(sweep, manifest_runs(sorted((sweep / "shards").glob("*.json"))))
uri = "sqlite:///" + str(Path("mlflow.db").resolve())
exp = tracking.setup_experiment(uri, "x")
record = tracking.sync_shard(uri, exp["experiment_id"], "moons", "logistic_regression", runs,
                             sweep.parent.parent.parent / "data/moons/split.npz",
                             experiment_name="x", commit="abc")
print(record["created"], sorted(m for m in ("mlflow", "sqlalchemy", "pandas", "alembic")
                                if m in sys.modules))
"""
    proc = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True,
                          text=True, timeout=120, env={**os.environ, **ENV})
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.split("\n")[0] == f"{SWEEPS[('moons', 'logistic_regression')]} []"


def _definition(sql: str | None):
    """A table's SQL as its set of column and constraint lines: MLflow's own migrations
    write the runs table's two CHECK constraints in either order (a set's order, which
    varies with PYTHONHASHSEED), and their order means nothing to SQLite."""
    if sql is None or not sql.startswith("CREATE TABLE"):
        return sql
    return sorted(line.strip().rstrip(",").strip() for line in sql.splitlines())


def _schema(db: Path) -> dict:
    con = sqlite3.connect(db)
    try:
        tables = [t for (t,) in con.execute("SELECT name FROM sqlite_master WHERE type = "
                                            "'table' AND name NOT LIKE 'sqlite_%'")]
        master = con.execute("SELECT type, name, tbl_name, sql FROM sqlite_master").fetchall()
        return {"sqlite_master": sorted(((*r[:3], _definition(r[3])) for r in master),
                                        key=repr),
                "rows": {t: sorted(con.execute(f'SELECT * FROM "{t}"').fetchall(), key=repr)
                         for t in tables if t != "experiments"},
                "experiments": [(*r[:4], r[4] == r[5], *r[6:]) for r in con.execute(
                    "SELECT * FROM experiments ORDER BY experiment_id")],
                "pragmas": [con.execute(f"PRAGMA {p}").fetchone()
                            for p in ("user_version", "encoding", "foreign_key_list(runs)")]}
    finally:
        con.close()


def test_the_schema_template_makes_the_store_mlflow_makes(tmp_path, monkeypatch):
    """A store from gdlab's template (and the experiment gdlab adds) against one MLflow
    migrates (and MlflowClient.create_experiment): the same sqlite_master, alembic
    revision, rows and experiments; MLflow opens it and logs into it."""
    from mlflow import MlflowClient

    monkeypatch.chdir(tmp_path)
    assert mlflow_sql.installed_mlflow() == mlflow_sql.VERIFIED_MLFLOW, (
        "another MLflow: regenerate the schema (python -m gdlab.mlflow_sql), run these tests "
        "and set VERIFIED_MLFLOW")
    assert mlflow_sql.installed_alembic_head() == mlflow_sql.template_revision()
    assert mlflow_sql.template_fits()

    made = tmp_path / "template.db"
    tracking.setup_experiment(f"sqlite:///{made}", EXPERIMENT)
    migrated = tmp_path / "migrated.db"
    mlflow_sql.create_store_with_mlflow(migrated)
    MlflowClient(f"sqlite:///{migrated}").create_experiment(EXPERIMENT)
    ours, theirs = _schema(made), _schema(migrated)
    assert ours == theirs
    assert theirs["rows"]["alembic_version"] == [(mlflow_sql.template_revision(),)]
    assert [e[:3] for e in ours["experiments"]] == [
        (0, "Default", f"{tmp_path.as_posix()}/mlruns/0"),
        (1, EXPERIMENT, f"{tmp_path.as_posix()}/mlruns/1")]

    client = MlflowClient(f"sqlite:///{made}")  # MLflow checks the schema revision here
    exp = client.get_experiment_by_name(EXPERIMENT)
    assert (exp.experiment_id, exp.lifecycle_stage) == ("1", "active")
    run = client.create_run(client.create_experiment("another"), run_name="r")
    client.log_metric(run.info.run_id, "m", 1.5, step=2)
    client.log_artifact(run.info.run_id, str(made))
    client.set_terminated(run.info.run_id)
    found = client.search_runs([run.info.experiment_id], "metrics.m > 1")
    assert [r.info.run_name for r in found] == ["r"]
    assert tracking.setup_experiment(f"sqlite:///{made}", "another")["experiment_id"] == "2"


def test_setup_leaves_a_deleted_experiment_to_mlflow_which_restores_it(tmp_path,
                                                                      monkeypatch):
    from mlflow import MlflowClient

    monkeypatch.chdir(tmp_path)
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    exp_id = tracking.setup_experiment(uri, EXPERIMENT)["experiment_id"]
    MlflowClient(uri).delete_experiment(exp_id)
    assert mlflow_sql.ensure_experiment(tmp_path / "mlflow.db", EXPERIMENT) is None
    assert tracking.setup_experiment(uri, EXPERIMENT)["experiment_id"] == exp_id
    assert MlflowClient(uri).get_experiment(exp_id).lifecycle_stage == "active"


@pytest.mark.parametrize("features, targets", [
    (np.array([[0.5, -0.0], [np.nan, 2.0], [0.0, -1.25]]), np.array([1, 0, 1])),
    (np.arange(30_000, dtype=np.float32).reshape(-1, 3) / 7, np.arange(10_000) % 2 == 0),
    (np.random.default_rng(0).normal(size=(50, 4)), np.random.default_rng(1).normal(size=50)),
    (np.arange(12, dtype=np.int32).reshape(3, 2, 2), None),
])
def test_a_numpy_dataset_is_described_as_mlflow_describes_it(features, targets):
    source = "file:///data/moons/split.npz"
    assert (mlflow_sql.numpy_dataset(features, targets, source, "moons")
            == tracking.mlflow_numpy_dataset(features, targets, source, "moons"))


def test_mlflow_settings_that_change_its_writes_leave_the_writing_to_mlflow():
    assert mlflow_sql.mlflow_defaults({})
    assert mlflow_sql.mlflow_defaults({"MLFLOW_ENABLE_WORKSPACES": "false"})
    assert not mlflow_sql.mlflow_defaults({"MLFLOW_ENABLE_WORKSPACES": "True"})
    assert not mlflow_sql.mlflow_defaults({"_MLFLOW_SERVER_ARTIFACT_ROOT": "s3://bucket"})


def read_history_file(path):
    from gdlab.runfiles import read_history

    return read_history(path)


def test_shard_sync_repairs_a_crash_and_replaces_changed_results(tracked, tmp_path):
    """Direct calls: a child cut off mid-sync is marked FAILED and soft-deleted, a run whose
    results changed gets a new child, an unchanged run keeps its child."""
    from mlflow.entities import ViewType

    proj = clone(tracked, tmp_path / "project")
    uri = f"sqlite:///{proj.root / 'mlflow.db'}"
    client = client_for(proj.root)
    exp_id = client.get_experiment_by_name(EXPERIMENT).experiment_id
    split = proj.root / "data/moons/split.npz"
    runs = shard_runs(proj.root, "moons", "logistic_regression")
    before = read_json(proj.root / "results/moons/logistic_regression/mlflow.json")

    again = tracking.sync_shard(uri, exp_id, "moons", "logistic_regression", runs, split,
                                experiment_name=EXPERIMENT, commit="abc")
    assert (again["created"], again["deleted"]) == (0, 0)
    assert again["children"] == before["children"]

    kept, changed = runs[0], runs[1]
    crashed = client.create_run(exp_id, run_name=kept.name, tags={
        ROLE_TAG: "run", "dataset": "moons", "model": "logistic_regression",
        CONTENT_TAG: kept.content_key}).info.run_id  # RUNNING, never completed
    changed.content_key = "results-changed"
    after = tracking.sync_shard(uri, exp_id, "moons", "logistic_regression", runs, split,
                                experiment_name=EXPERIMENT, commit="abc")
    assert (after["created"], after["deleted"]) == (1, 2)
    crashed_run = client.get_run(crashed)
    assert crashed_run.info.status == "FAILED"
    assert crashed_run.info.lifecycle_stage == "deleted"
    assert client.get_run(before["children"][changed.name]).info.lifecycle_stage == "deleted"
    assert after["children"][kept.name] == before["children"][kept.name]
    new_child = client.get_run(after["children"][changed.name])
    assert new_child.data.tags[CONTENT_TAG] == "results-changed"
    assert new_child.data.tags["git_commit"] == "abc"
    assert client.get_run(after["children"][kept.name]).data.tags["git_commit"] == "abc"
    active = client.search_runs([exp_id], "tags.dataset = 'moons'", ViewType.ACTIVE_ONLY)
    assert len(active) == 5
    assert all(r.info.status == "FINISHED" for r in active
               if r.data.tags[ROLE_TAG] == "run")

    with pytest.raises(RuntimeError, match="forcerun mlflow_setup"):
        tracking.sync_shard(uri, "12345", "moons", "logistic_regression", runs, split,
                            experiment_name=EXPERIMENT)


def test_store_lost_reads_sqlite_without_mlflow(tracked, tmp_path):
    proj = clone(tracked, tmp_path / "project")
    record = proj.root / "results/mlflow/experiment.json"
    uri = f"sqlite:///{proj.root / 'mlflow.db'}"
    assert tracking.store_lost(uri, record) is False
    assert tracking.store_lost("http://127.0.0.1:1", record) is False  # servers: not asked
    exp = read_json(record)
    record.write_text(json.dumps({**exp, "experiment_id": "999"}))
    assert tracking.store_lost(uri, record) is True
    record.write_text(json.dumps(exp))
    (proj.root / "mlflow.db").unlink()
    assert tracking.store_lost(uri, record) is True
    assert tracking.store_lost(uri, tmp_path / "no-record.json") is False
