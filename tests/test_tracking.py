"""MLflow tracking: every run on record, idempotent, race-free, and the best model loadable.

The workflow tests run a copy of the pipeline on a tiny config (conftest.Project); the
server test starts a real ``mlflow server`` on 127.0.0.1 and reads the runs back through
its REST API; the unit tests drive gdlab.tracking directly.
"""

from __future__ import annotations

import json
import shutil
import urllib.parse
import urllib.request
from pathlib import Path

import _services
import numpy as np
import pytest
from conftest import Project, tiny_config

from gdlab import tracking
from gdlab.grid import format_value
from gdlab.io import read_json
from gdlab.tracking import COMPLETE_TAG, CONTENT_TAG, ROLE_TAG, Existing, plan_sweep

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
        assert json.loads(parent.data.params["grid.lr"]) == sorted(lrs)
        assert record["best_run_id"] in record["children"].values()
        assert parent.data.tags["best_run_id"] == record["best_run_id"]
        assert "sklearn/test_" + ("mse" if model == "linear_regression" else "accuracy") \
            in parent.data.metrics
        names = {a.path for a in client.list_artifacts(parent.info.run_id)}
        assert {"summary.csv", "best.json", "baseline.json", "plots"} <= names
        plots = {a.path for a in client.list_artifacts(parent.info.run_id, "plots")}
        assert plots == {"plots/heatmap.png", "plots/learning_curves.png",
                         "plots/convergence.png"}
        outputs = client.get_run(parent.info.run_id).outputs.model_outputs
        assert [o.model_id for o in outputs] == [record["logged_model_id"]]


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
        assert {"history.csv", "metrics.json", "model.npz", "plots"} <= files
        plots = {a.path for a in client.list_artifacts(child.info.run_id, "plots")}
        assert plots == {"plots/learning_curve.png", "plots/model.png"}
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
        record = read_json(tracked.root / f"results/{dataset}/{model}/mlflow.json")
        best = read_json(tracked.root / f"results/{dataset}/{model}/best.json")
        reg = record["registered_model"]
        assert reg["name"] == f"gdlab-{dataset}-{model}"
        pyfunc = mlflow.pyfunc.load_model(f"models:/{reg['name']}/{reg['version']}")
        split = load_split(tracked.root / f"data/{dataset}/split.npz")
        w = np.load(tracked.root / f"results/{dataset}/{model}/runs/{best['run_name']}"
                    / "model.npz")
        raw = split.X_test * split.x_scale + split.x_mean
        z = split.X_test @ w["coef"] + w["intercept"]
        expected = 1 / (1 + np.exp(-z)) if split.task == "classification" else z
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
    proj.snakemake("--cores", "2", "--forcerun", "track", env=ENV)  # re-sync: still nothing
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
    # the parent is replaced (its sweep changed) and the kept children moved under it
    assert new["parent_run_id"] != old["parent_run_id"]
    assert [r.info.run_id for r in line if r.data.tags[ROLE_TAG] == "sweep"] == [
        new["parent_run_id"]]
    assert all(c.data.tags["mlflow.parentRunId"] == new["parent_run_id"] for c in children)
    assert client.get_run(old["parent_run_id"]).info.lifecycle_stage == "deleted"
    # exactly two runs more (a child and the new parent); the other sweep untouched
    assert all_run_ids(client, exp_id) - before == {new["parent_run_id"],
                                                     *(new["children"][n] for n in added)}
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

    proj.snakemake("--cores", "2", "--forcerun", "track", env=env)  # a re-sync adds nothing
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


def _existing(run_id, role, content=None, sweep_key=None, status="FINISHED", complete=True,
              start=0):
    tags = {ROLE_TAG: role}
    if content:
        tags[CONTENT_TAG] = content
    if sweep_key:
        tags[tracking.SWEEP_KEY_TAG] = sweep_key
    if complete:
        tags[COMPLETE_TAG] = "true"
    return Existing(run_id, status, tags, start)


def test_plan_keeps_complete_matching_runs_and_deletes_the_rest():
    existing = [
        _existing("p-old", "sweep", sweep_key="old"),
        _existing("a", "run", "ka"),
        _existing("b-old", "run", "kb-old"),  # results changed: superseded
        _existing("c-crashed", "run", "kc", status="RUNNING", complete=False),
        _existing("c-failed", "run", "kc", status="FAILED", complete=True),
        _existing("a-dup", "run", "ka", start=5),  # a duplicate of a (later): deleted
        _existing("gone", "run", "k-not-in-grid"),
        Existing("foreign", "FINISHED", {"dataset": "line"}),  # not ours: left alone
    ]
    plan = plan_sweep(existing, {"a": "ka", "b": "kb", "c": "kc"}, "new")
    assert plan.keep == {"a": "a"}
    assert plan.create == ["b", "c"]
    assert plan.parent is None
    assert sorted(plan.delete) == sorted(["p-old", "b-old", "c-crashed", "c-failed", "a-dup",
                                          "gone"])


def test_plan_of_an_unchanged_sweep_writes_nothing():
    existing = [_existing("p", "sweep", sweep_key="s"), _existing("a", "run", "ka"),
                _existing("p-crashed", "sweep", sweep_key="s", status="RUNNING",
                          complete=False)]
    plan = plan_sweep(existing, {"a": "ka"}, "s")
    assert (plan.keep, plan.create, plan.parent, plan.delete) == ({"a": "a"}, [], "p",
                                                                  ["p-crashed"])
    assert plan_sweep(existing[:2], {"a": "ka"}, "s").writes is False


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


def test_sync_repairs_crashes_and_replaces_changed_results(tracked, tmp_path):
    """Direct calls on a results tree: a crashed run is replaced, changed results get a new
    child (the old one deleted), and an unchanged sweep is left exactly as it is."""
    from mlflow.entities import ViewType

    proj = clone(tracked, tmp_path / "project")
    uri = f"sqlite:///{proj.root / 'mlflow.db'}"
    client = client_for(proj.root)
    exp_id = client.get_experiment_by_name(EXPERIMENT).experiment_id
    sweep_dir = proj.root / "results/moons/logistic_regression"
    split = proj.root / "data/moons/split.npz"
    sweep = tracking.load_sweep(sweep_dir, split_path=split)
    before = read_json(sweep_dir / "mlflow.json")

    again = tracking.sync_sweep(uri, exp_id, sweep, experiment_name=EXPERIMENT, commit="abc")
    assert again["created"] == {"parent": False, "children": 0} and again["deleted"] == 0
    assert again["children"] == before["children"]

    # a crash while logging a child left it RUNNING, without the complete tag
    best = sweep.best_run.name
    name, changed = [r.name for r in sweep.runs if r.name != best][:2]
    crashed = client.create_run(exp_id, tags={
        ROLE_TAG: "run", "dataset": "moons", "model": "logistic_regression",
        CONTENT_TAG: next(r for r in sweep.runs if r.name == name).content_key}).info.run_id
    # ... and the results of another (not the best) run changed, as a forced retrain would
    timing = sweep_dir / "runs" / changed / "timing.json"
    t = read_json(timing)
    timing.write_text(json.dumps({**t, "end_time_ms": t["end_time_ms"] + 1}))
    sweep = tracking.load_sweep(sweep_dir, split_path=split)
    after = tracking.sync_sweep(uri, exp_id, sweep, experiment_name=EXPERIMENT, commit="abc")
    assert after["created"] == {"parent": True, "children": 1}
    assert after["deleted"] == 3  # the crashed run, the superseded child, the old parent
    assert client.get_run(crashed).info.lifecycle_stage == "deleted"
    assert client.get_run(before["children"][changed]).info.lifecycle_stage == "deleted"
    assert after["children"][name] == before["children"][name]
    assert after["children"][changed] != before["children"][changed]
    new_child = client.get_run(after["children"][changed])
    assert new_child.info.end_time == t["end_time_ms"] + 1
    assert new_child.data.tags["git_commit"] == "abc"
    active = client.search_runs([exp_id], "tags.dataset = 'moons'", ViewType.ACTIVE_ONLY)
    assert len(active) == 5
    assert all(r.info.status == "FINISHED" for r in active)
    # the best run did not change: its logged model is reused, no new version registered
    assert after["logged_model_id"] == before["logged_model_id"]
    assert after["registered_model"] == {**before["registered_model"], "new": False}

    with pytest.raises(RuntimeError, match="forcerun mlflow_setup"):
        tracking.sync_sweep(uri, "12345", sweep, experiment_name=EXPERIMENT)


def test_non_finite_values_are_logged_one_point_per_epoch(tracked, tmp_path):
    """A run that overflowed: its inf and NaN epochs are on record (NaN stays NaN, inf is
    clamped by MLflow to the largest float), a null final metric is logged as NaN."""
    proj = clone(tracked, tmp_path / "project")
    client = client_for(proj.root)
    exp_id = client.get_experiment_by_name(EXPERIMENT).experiment_id
    sweep_dir = proj.root / "results/line/linear_regression"
    split = proj.root / "data/line/split.npz"
    run = next(r for r in tracking.load_sweep(sweep_dir, split_path=split).runs
               if r.result["diverged"])
    history = run.dir / "history.csv"
    lines = history.read_text().splitlines()
    assert lines[0].split(",")[:3] == ["epoch", "train_objective", "val_loss"]
    last = lines[-1].split(",")
    last[1:3] = ["inf", "nan"]
    history.write_text("\n".join([*lines[:-1], ",".join(last)]) + "\n")
    result = read_json(run.dir / "metrics.json")
    result["metrics"]["test"]["r2"] = None
    (run.dir / "metrics.json").write_text(json.dumps(result))

    sweep = tracking.load_sweep(sweep_dir, split_path=split)
    record = tracking.sync_sweep(f"sqlite:///{proj.root / 'mlflow.db'}", exp_id, sweep,
                                 commit="abc")
    assert record["created"]["children"] == 1
    child = record["children"][run.name]
    val_loss = client.get_metric_history(child, "val_loss")
    objective = client.get_metric_history(child, "train_objective")
    assert len(val_loss) == len(objective) == result["n_epochs"]
    assert np.isnan(val_loss[-1].value) and np.isfinite(val_loss[-2].value)
    assert objective[-1].value >= 1.7e308
    assert np.isnan(client.get_run(child).data.metrics["test/r2"])
