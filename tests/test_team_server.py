"""A team's tracking server: ``mlflow server`` on PostgreSQL with proxied artifacts.

Real services only (tests/_services.py): PostgreSQL in a temporary data directory and
``mlflow server`` on 127.0.0.1, both stopped by PID. The pipeline runs with
``MLFLOW_TRACKING_URI=http://127.0.0.1:PORT`` and parallel track jobs.
"""

from __future__ import annotations

import base64
import json
import urllib.error
import urllib.request

import _services
import pytest
from conftest import Project
from test_tracking import ENV, EXPERIMENT, SWEEPS, tracking_config

from gdlab import tracking
from gdlab.runfiles import manifest_runs
from gdlab.tracking import COMPLETE_TAG, ROLE_TAG

pytestmark = [pytest.mark.mlflow, pytest.mark.workflow]

PASSWORD = "team-s3cret-never-written"
#: the tiny config's sweeps (conftest.finished_project) and their grid sizes
TINY_SWEEPS = {("line", "linear_regression"): 4, ("moons", "logistic_regression"): 4}


def check_store(url: str, sweeps: dict) -> set[str]:
    """Exactly one complete parent per sweep and one child per grid point, nothing
    elsewhere, each best model registered once; returns the ids of every run."""
    from mlflow import MlflowClient
    from mlflow.entities import ViewType

    client = MlflowClient(url)
    assert sorted(e.name for e in client.search_experiments()) == ["Default", EXPERIMENT]
    exp_id = client.get_experiment_by_name(EXPERIMENT).experiment_id
    runs = client.search_runs([exp_id], max_results=1000)
    assert len(runs) == sum(n + 1 for n in sweeps.values())  # a parent per sweep, a child
    assert all(r.info.status == "FINISHED" and r.data.tags[COMPLETE_TAG] == "true"
               for r in runs)
    for (dataset, model), n_runs in sweeps.items():
        mine = [r for r in runs if r.data.tags["dataset"] == dataset]
        children = [r.info.run_name for r in mine if r.data.tags[ROLE_TAG] == "run"]
        assert len(children) == len(set(children)) == n_runs  # no duplicates
        assert [r.data.tags[ROLE_TAG] for r in mine].count("sweep") == 1
        versions = client.search_model_versions(f"name = 'gdlab-{dataset}-{model}'")
        assert [v.version for v in versions] == ["1"]
    assert client.search_runs(["0"]) == []
    return {r.info.run_id for r in client.search_runs([exp_id], run_view_type=ViewType.ALL,
                                                       max_results=1000)}


def test_postgres_server_from_an_empty_store_three_times(postgres, tmp_path):
    """Three times, the whole pipeline from nothing (a fresh project) into a fresh database
    behind a fresh server; setup and parallel track jobs fill it: exact counts, no
    duplicates, models registered. A forced re-sync of every shard and of the best models
    adds nothing and registers no second version."""
    for i in range(3):
        proj = Project(tmp_path / f"project{i}")
        proj.write_config(tracking_config())
        db = postgres.createdb(f"mlflow_fresh{i}")
        with _services.mlflow_server(tmp_path / f"server{i}", db) as url:
            env = {**ENV, "MLFLOW_TRACKING_URI": url}
            proj.snakemake("--cores", "4", env=env)
            ids = check_store(url, SWEEPS)
            if i == 0:  # once: it is the same code each time
                forced = proj.snakemake("--cores", "4", "--forcerun", "track_shard",
                                        "best_models", env=env)
                assert "rule track_shard:" in forced.stderr
                assert "rule best_models:" in forced.stderr
                assert check_store(url, SWEEPS) == ids
            # proxied artifacts: on the server's side, none in the project
            artifacts = tmp_path / f"server{i}" / "artifacts"
            assert len(list(artifacts.rglob("model.npz"))) >= sum(SWEEPS.values())
            assert not (proj.root / "mlruns").exists()
            assert not (proj.root / "mlflow.db").exists()


def _get(url: str, user: str | None = None, password: str | None = None) -> dict:
    req = urllib.request.Request(url)
    if user is not None:
        token = base64.b64encode(f"{user}:{password}".encode()).decode()
        req.add_header("Authorization", f"Basic {token}")
    with urllib.request.urlopen(req, timeout=30) as resp:
        return json.loads(resp.read().decode())


def test_basic_auth_works_and_the_password_is_written_nowhere(postgres, finished_project,
                                                              tmp_path, monkeypatch):
    proj = Project.clone(finished_project, tmp_path / "project")
    db = postgres.createdb("mlflow_auth")
    with _services.mlflow_server(tmp_path / "server", db, admin_password=PASSWORD) as url:
        api = f"{url}/api/2.0/mlflow/experiments/search?max_results=10"
        with pytest.raises(urllib.error.HTTPError) as err:
            _get(api)
        assert err.value.code == 401
        with pytest.raises(urllib.error.HTTPError) as err:
            _get(api, "admin", "wrong")
        assert err.value.code == 401

        env = {**ENV, "MLFLOW_TRACKING_URI": url, "MLFLOW_TRACKING_USERNAME": "admin",
               "MLFLOW_TRACKING_PASSWORD": PASSWORD}
        proj.snakemake("--cores", "4", env=env)
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        ids = check_store(url, TINY_SWEEPS)

        # not in any param or tag (nor a metric key) of any run
        from mlflow import MlflowClient

        client = MlflowClient(url)
        for run_id in ids:
            data = client.get_run(run_id).data
            text = json.dumps([data.params, data.tags, sorted(data.metrics)])
            assert PASSWORD not in text
    # nor in any log or output file of the project (results, logs, .snakemake, config)
    files = [p for p in proj.root.rglob("*") if p.is_file()]
    assert [p for p in files if p.suffix == ".log"]  # the jobs' logs are among them
    for path in files:
        assert PASSWORD.encode() not in path.read_bytes(), path


# --------------------------------------------------------------------------------------
# A server that is down: the job fails fast, the results stay, the next run syncs them
# --------------------------------------------------------------------------------------


def test_the_http_budget_of_a_job_is_at_most_30_s_and_the_user_can_widen_it(monkeypatch):
    import mlflow.environment_variables as mlflow_env

    env = {}
    # the job fails within 30 s: this budget, and Python's and the imports' start-up
    assert tracking.fail_fast_http(env) <= 25
    assert env == tracking.HTTP_FAIL_FAST
    for key, value in env.items():  # MLflow reads these very names, as these values
        monkeypatch.setenv(key, value)
        assert str(getattr(mlflow_env, key).get()).lower() == value
    # MLflow's own defaults: minutes (the 252 s measured on a refused connection, and
    # 120 s more per attempt on a server that never answers); an exported value wins
    env = {"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "7", "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "2",
           "MLFLOW_HTTP_REQUEST_BACKOFF_JITTER": "1.0", "MLFLOW_HTTP_REQUEST_TIMEOUT": "120"}
    assert tracking.fail_fast_http(env) > 240 + 8 * 120
    assert env["MLFLOW_HTTP_REQUEST_MAX_RETRIES"] == "7"


def test_syncing_to_a_server_that_is_down_names_it_without_credentials(finished_project,
                                                                      monkeypatch):
    """What the track job does, against a port where nothing listens."""
    for key, value in tracking.HTTP_FAIL_FAST.items():
        monkeypatch.setenv(key, value)
    port = _services.closed_port()
    uri = f"http://gdlab:{PASSWORD}@127.0.0.1:{port}"
    sweep_dir = finished_project.root / "results/line/linear_regression"
    runs = tracking.load_runs(sweep_dir, manifest_runs(sorted(sweep_dir.glob("shards/*.json"))))
    with pytest.raises(tracking.ServerUnreachable) as err, tracking.redacted_errors(uri):
        tracking.sync_shard(uri, "1", "line", "linear_regression", runs,
                            finished_project.root / "data/line/split.npz",
                            experiment_name=EXPERIMENT)
    message = str(err.value)
    assert f"cannot reach the MLflow tracking server http://127.0.0.1:{port}" in message
    assert "Connection refused" in message
    assert PASSWORD not in message and "gdlab@" not in message


def test_a_server_that_is_down_fails_the_run_and_the_next_run_syncs(finished_project,
                                                                   tmp_path):
    proj = Project.clone(finished_project, tmp_path / "project")
    port = _services.closed_port()
    env = {**ENV, "MLFLOW_TRACKING_URI": f"http://gdlab:{PASSWORD}@127.0.0.1:{port}"}
    trained = {p: p.stat().st_mtime_ns for p in (proj.root / "results").rglob("metrics.json")}
    assert len(trained) == sum(TINY_SWEEPS.values())

    failed = proj.snakemake("--cores", "2", check=False, env=env)
    assert failed.returncode != 0
    expected = f"cannot reach the MLflow tracking server http://127.0.0.1:{port}"
    assert expected in (proj.root / "logs/mlflow_setup.log").read_text()
    assert expected in failed.stderr  # the default profile shows the failed job's log
    assert PASSWORD not in failed.stdout + failed.stderr

    with _services.mlflow_server(tmp_path / "server", port=port) as url:
        proj.snakemake("--cores", "2", env=env)
        check_store(url, TINY_SWEEPS)
    # the results were synced as they were: nothing trained again
    assert {p: p.stat().st_mtime_ns for p in trained} == trained
    for path in proj.root.rglob("*"):
        assert not path.is_file() or PASSWORD.encode() not in path.read_bytes(), path
