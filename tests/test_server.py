"""A team's tracking server: ``mlflow server`` on PostgreSQL with proxied artifacts, and
what happens when it is down.

Real services only (tests/_services.py): PostgreSQL in a temporary data directory and
``mlflow server`` on 127.0.0.1, both stopped by PID. The pipeline runs with
``MLFLOW_TRACKING_URI=http://127.0.0.1:PORT``, its track jobs in parallel.
"""

from __future__ import annotations

import base64
import json
import multiprocessing
import urllib.error
import urllib.request

import _services
import pytest
from conftest import Project, tiny_config, wide_config
from test_mlflow_record import assert_sound

from gdlab import tracking
from gdlab.io import read_json
from gdlab.runfiles import read_sweep
from gdlab.tracking.uri import HTTP_FAIL_FAST, ServerUnreachable, fail_fast_http

pytestmark = [pytest.mark.mlflow, pytest.mark.workflow]

ENV = {"MLFLOW_DISABLE_TELEMETRY": "true"}
PASSWORD = "team-s3cret-never-written"


def registered_versions(url: str, name: str) -> list[str]:
    from mlflow import MlflowClient

    return sorted(v.version for v in MlflowClient(url).search_model_versions(f"name = '{name}'"))


@pytest.mark.service
def test_a_team_server_on_postgres_from_an_empty_store(postgres, tmp_path):
    """The whole pipeline from nothing into a fresh database behind a fresh server; a
    forced re-sync adds nothing and registers no second version; the artifacts are on the
    server's side, none in the project."""
    proj = Project(tmp_path / "project")
    proj.write_config(tiny_config())
    db = postgres.createdb("mlflow_fresh")
    with _services.mlflow_server(tmp_path / "server", db) as url:
        env = {**ENV, "MLFLOW_TRACKING_URI": url}
        proj.snakemake("--cores", "4", env=env)
        ids = assert_sound(proj, url)
        versions = {s: registered_versions(url, f"gdlab-{s.replace('/', '-')}") for s in ids}
        assert all(v == ["1"] for v in versions.values())
        forced = proj.snakemake("--cores", "4", "--forcerun", "track", env=env)
        assert "rule track:" in forced.stderr
        assert assert_sound(proj, url) == ids
        assert {s: registered_versions(url, f"gdlab-{s.replace('/', '-')}")
                for s in ids} == versions
        artifacts = tmp_path / "server" / "artifacts"
        assert len(list(artifacts.rglob("model.npz"))) >= sum(len(c) for c in ids.values())
        assert not (proj.root / "mlruns").exists() and not (proj.root / "mlflow.db").exists()


@pytest.mark.service
def test_two_projects_on_one_server_keep_every_one_of_their_runs(postgres, tmp_path):
    """Everyone on a team keeps the experiment name ``gdlab-default``: two projects (the
    second with another seed) sync into one experiment, one after the other, then the
    first again; neither touches the other's runs."""
    a, b = Project(tmp_path / "a"), Project(tmp_path / "b")
    a.write_config(tiny_config())
    config = tiny_config()
    config["seed"] = 8
    b.write_config(config)
    with _services.mlflow_server(tmp_path / "server", postgres.createdb("mlflow_two")) as url:
        env = {**ENV, "MLFLOW_TRACKING_URI": url}
        a.snakemake("--cores", "2", env=env)
        ids_a = assert_sound(a, url)
        b.snakemake("--cores", "2", env=env)
        ids_b = assert_sound(b, url)
        a.snakemake("--cores", "2", "--forcerun", "track", env=env)
        assert assert_sound(a, url) == ids_a and assert_sound(b, url) == ids_b


@pytest.mark.service
def test_a_thousand_values_on_one_axis_track_every_child_on_a_server(tmp_path):
    """1000 learning rates through a server: every child, its parent's tags in MLflow's
    limits."""
    proj = Project(tmp_path / "wide")
    proj.write_config(wide_config())
    with _services.mlflow_server(tmp_path / "server", workers=2) as url:
        proj.snakemake("--cores", "2", env={**ENV, "MLFLOW_TRACKING_URI": url})
        ids = assert_sound(proj, url, sweeps=["moons/logistic_regression"])
        assert len(ids["moons/logistic_regression"]) == 1000
        from mlflow import MlflowClient

        record = read_json(proj.root / "results/moons/logistic_regression/mlflow.json")
        tags = MlflowClient(url).get_run(record["parent_run_id"]).data.tags
        assert tags["grid.lr"].startswith("1000 values")


def _log_inputs(url: str, experiment_id: str, run_id: str, barrier) -> str:
    """What a track job does for a new dataset (after its imports), at the barrier."""
    from test_tracking import _datasets

    from gdlab.tracking.backends import open_store

    store = open_store(url)
    barrier.wait()
    store.log_inputs(run_id, _datasets())
    return run_id


@pytest.mark.service
def test_two_track_jobs_logging_one_new_dataset_at_once_both_succeed(postgres, tmp_path):
    """Two sweeps of one dataset on PostgreSQL (no lock): both insert the dataset's row at
    once; the loser of the race uses the winner's row."""
    from mlflow import MlflowClient

    url = postgres.createdb("mlflow_race")
    client = MlflowClient(url)
    experiment_id = client.create_experiment("race")
    runs = [client.create_run(experiment_id).info.run_id for _ in range(2)]
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Manager().Barrier(2)
    with ctx.Pool(2) as pool:
        done = pool.starmap(_log_inputs, [(url, experiment_id, r, barrier) for r in runs])
    assert sorted(done) == sorted(runs)
    for run_id in runs:
        assert len(client.get_run(run_id).inputs.dataset_inputs) == 3


def _get(url: str, user: str | None = None, password: str | None = None) -> dict:
    req = urllib.request.Request(url)
    if user is not None:
        token = base64.b64encode(f"{user}:{password}".encode()).decode()
        req.add_header("Authorization", f"Basic {token}")
    with urllib.request.urlopen(req, timeout=30) as resp:
        return json.loads(resp.read().decode())


@pytest.mark.service
def test_basic_auth_works_and_the_password_is_written_nowhere(postgres, finished_project,
                                                              tmp_path, monkeypatch):
    proj = Project.clone(finished_project, tmp_path / "project")
    db = postgres.createdb("mlflow_auth")
    with _services.mlflow_server(tmp_path / "server", db, admin_password=PASSWORD) as url:
        api = f"{url}/api/2.0/mlflow/experiments/search?max_results=10"
        for credentials in ((), ("admin", "wrong")):
            with pytest.raises(urllib.error.HTTPError) as err:
                _get(api, *credentials)
            assert err.value.code == 401
        env = {**ENV, "MLFLOW_TRACKING_URI": url, "MLFLOW_TRACKING_USERNAME": "admin",
               "MLFLOW_TRACKING_PASSWORD": PASSWORD}
        proj.snakemake("--cores", "4", env=env)
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        ids = assert_sound(proj, url)
        from mlflow import MlflowClient

        client = MlflowClient(url)
        for run_id in [i for children in ids.values() for i in children.values()]:
            data = client.get_run(run_id).data
            assert PASSWORD not in json.dumps([data.params, data.tags, sorted(data.metrics)])
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
    assert fail_fast_http(env) <= 25
    assert env == HTTP_FAIL_FAST
    for key, value in env.items():  # MLflow reads these very names, as these values
        monkeypatch.setenv(key, value)
        assert str(getattr(mlflow_env, key).get()).lower() == value
    env = {"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "7", "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "2",
           "MLFLOW_HTTP_REQUEST_BACKOFF_JITTER": "1.0", "MLFLOW_HTTP_REQUEST_TIMEOUT": "120"}
    assert fail_fast_http(env) > 240 + 8 * 120  # MLflow's own: minutes; an export wins
    assert env["MLFLOW_HTTP_REQUEST_MAX_RETRIES"] == "7"


@pytest.mark.mlflow
def test_syncing_to_a_server_that_is_down_names_it_without_credentials(finished_project,
                                                                      monkeypatch):
    """What the track job does, against a port where nothing listens."""
    for key, value in HTTP_FAIL_FAST.items():
        monkeypatch.setenv(key, value)
    port = _services.closed_port()
    uri = f"http://gdlab:{PASSWORD}@127.0.0.1:{port}"
    root = finished_project.root
    sweep = read_sweep(root / "results/line/linear_regression",
                       sorted((root / "results/line/linear_regression").glob("shards/*.json")))
    record = read_json(root / "results/mlflow/experiment.json")
    with pytest.raises(ServerUnreachable) as err, tracking.redacted_errors(uri):
        tracking.sync_sweep(uri, record, record["project_id"], sweep,
                            root / "data/line/split.npz", [])
    message = str(err.value)
    assert f"cannot reach the MLflow tracking server http://127.0.0.1:{port}" in message
    assert "Connection refused" in message
    assert PASSWORD not in message and "gdlab@" not in message


@pytest.mark.service
def test_a_server_that_is_down_fails_the_run_and_the_next_run_syncs(finished_project,
                                                                   tmp_path):
    proj = Project.clone(finished_project, tmp_path / "project")
    port = _services.closed_port()
    env = {**ENV, "MLFLOW_TRACKING_URI": f"http://gdlab:{PASSWORD}@127.0.0.1:{port}"}
    trained = {p: p.stat().st_mtime_ns for p in (proj.root / "results").rglob("metrics.json")}
    failed = proj.snakemake("--cores", "2", check=False, env=env)
    assert failed.returncode != 0
    expected = f"cannot reach the MLflow tracking server http://127.0.0.1:{port}"
    assert expected in (proj.root / "logs/mlflow_setup.log").read_text()
    assert expected in failed.stderr  # the default profile shows the failed job's log
    assert PASSWORD not in failed.stdout + failed.stderr
    with _services.mlflow_server(tmp_path / "server", port=port) as url:
        proj.snakemake("--cores", "2", env=env)
        assert_sound(proj, url)
    # the results were synced as they were: nothing trained again
    assert {p: p.stat().st_mtime_ns for p in trained} == trained
    for path in proj.root.rglob("*"):
        assert not path.is_file() or PASSWORD.encode() not in path.read_bytes(), path
