"""A track_shard job on a tracking server reads its own shard's runs, not the sweep's.

Real services (tests/_services.py): ``mlflow server`` on PostgreSQL, both on 127.0.0.1 and
stopped by PID; PostgreSQL straight for the dataset row written by parallel processes.
"""

from __future__ import annotations

import dataclasses
import multiprocessing

import _services
import pytest

from gdlab import tracking
from gdlab.io import write_json
from gdlab.runfiles import manifest_runs
from gdlab.tracking import COMPLETE_TAG, ROLE_TAG, SHARD_TAG

pytestmark = [pytest.mark.mlflow]

DATASET, MODEL, EXPERIMENT = "moons", "logistic_regression", "server-sync"
PARENT_NAME = f"{DATASET}/{MODEL}"
N_SHARDS, SHARD_SIZE = 4, 5


def copies(finished_project, n: int, prefix: str = "copy") -> list[tracking.RunResult]:
    """``n`` distinct runs (names, content keys) made of the finished project's moons runs:
    the store cannot tell them from trained ones, and none is trained."""
    sweep = finished_project.root / "results" / DATASET / MODEL
    real = tracking.load_runs(sweep, manifest_runs(sorted(sweep.glob("shards/*.json"))))
    runs = []
    for i in range(n):
        run = real[i % len(real)]
        name = f"{prefix}~{i:03d}/{run.name}"
        runs.append(dataclasses.replace(run, name=name, result={**run.result, "run_name": name},
                                        content_key=f"{run.content_key}-{prefix}{i}"))
    return runs


@pytest.fixture
def server(postgres, tmp_path):
    db = postgres.createdb(f"mlflow_{tmp_path.name.lower().replace('-', '_')}"[:60])
    with _services.mlflow_server(tmp_path / "server", db) as url:
        yield url


@pytest.fixture
def fetched(monkeypatch) -> list[str]:
    """The names of the runs every ``MlflowClient.search_runs`` call returns, in order."""
    from mlflow import MlflowClient

    names: list[str] = []
    search = MlflowClient.search_runs

    def counting(self, *args, **kwargs):
        page = search(self, *args, **kwargs)
        names.extend(r.info.run_name for r in page)
        return page

    monkeypatch.setattr(MlflowClient, "search_runs", counting)
    return names


def test_a_shard_synced_after_others_reads_only_its_own_runs(server, finished_project,
                                                              tmp_path, fetched):
    """Shards sync one after another into a server; the last one, and re-syncs of any,
    fetch no run of another shard (the whole-sweep search fetched them all: 15 others
    here, ~2,000 in a large sweep). A crash between creating children and recording them
    is repaired within the shard; every count is exact."""
    from mlflow import MlflowClient
    from mlflow.entities import ViewType

    split = finished_project.root / f"data/{DATASET}/split.npz"
    records, locks = tmp_path / "records", tmp_path / "locks"
    exp_id = tracking.setup_experiment(server, EXPERIMENT)["experiment_id"]
    runs = copies(finished_project, N_SHARDS * SHARD_SIZE)
    shards = {str(k): runs[k::N_SHARDS] for k in range(N_SHARDS)}

    def sync(shard: str) -> dict:
        fetched.clear()
        record = tracking.sync_shard(
            server, exp_id, DATASET, MODEL, shards[shard], split, experiment_name=EXPERIMENT,
            commit="c0", recorded=tracking.recorded_children(records.glob("*.json")),
            shard=shard, lock_dir=locks)
        write_json(records / f"{shard}.json", record)
        return record

    for shard in shards:
        first = sync(shard)
        assert first["created"] == SHARD_SIZE
        # nothing recorded yet: one search of the shard's own tag (empty) and the parent
        assert fetched == ([] if shard == "0" else [PARENT_NAME])
    last = "3"
    own = {r.name for r in shards[last]}
    again = sync(last)
    assert (again["created"], again["deleted"]) == (0, 0)
    assert sorted(fetched) == sorted(own)  # by id, each of its children once

    # a crash in shard 1 after two new runs' children were created, before the record:
    # one complete, one cut off RUNNING; then the shard syncs again with its old record
    client = MlflowClient(server)
    parent = again["parent_run_id"]
    done, cut = copies(finished_project, 2, prefix="late")
    done_id = tracking.ClientAccess(client, shard="1").write_children(
        exp_id, [tracking.child_record(done, DATASET, MODEL, parent, "c0")], None)[done.name]
    cut_tags = {**tracking.child_record(cut, DATASET, MODEL, parent, "c0").tags,
                SHARD_TAG: "1"}
    cut_id = client.create_run(exp_id, run_name=cut.name, tags=cut_tags).info.run_id
    shards["1"] += [done, cut]
    repaired = sync("1")
    assert (repaired["created"], repaired["deleted"]) == (1, 1)
    assert repaired["children"][done.name] == done_id  # complete: kept, not duplicated
    assert set(fetched) <= {r.name for r in shards["1"]} | {PARENT_NAME}
    crashed = client.get_run(cut_id).info
    assert (crashed.status, crashed.lifecycle_stage) == ("FAILED", "deleted")

    # exact counts: one parent, one complete child per run, under it
    active = client.search_runs([exp_id], run_view_type=ViewType.ACTIVE_ONLY,
                                max_results=1000)
    children = [r for r in active if r.data.tags[ROLE_TAG] == "run"]
    assert sorted(r.info.run_name for r in children) == sorted(
        r.name for s in shards.values() for r in s)
    assert [r.info.run_id for r in active if r.data.tags[ROLE_TAG] == "sweep"] == [parent]
    assert all(r.info.status == "FINISHED" and r.data.tags[COMPLETE_TAG] == "true"
               and r.data.tags["mlflow.parentRunId"] == parent for r in children)
    recorded = {i for k in shards for i in tracking.recorded_children(
        [records / f"{k}.json"]).values() for i in i}
    assert recorded == {r.info.run_id for r in children}


def test_parallel_shards_of_a_sweep_make_one_parent(server, finished_project, tmp_path):
    """Parallel track jobs of one sweep on a server (no store lock there): one parent."""
    from mlflow import MlflowClient

    split = finished_project.root / f"data/{DATASET}/split.npz"
    exp_id = tracking.setup_experiment(server, EXPERIMENT)["experiment_id"]
    runs = copies(finished_project, 4)
    jobs = [(server, exp_id, runs[k::2], str(split), str(k), str(tmp_path / "locks"))
            for k in range(2)]
    records = in_parallel(_sync_shard, jobs, tmp_path)
    assert records[0]["parent_run_id"] == records[1]["parent_run_id"]
    active = MlflowClient(server).search_runs([exp_id], max_results=100)
    assert sorted(r.data.tags[ROLE_TAG] for r in active) == ["run"] * 4 + ["sweep"]


def test_parallel_jobs_share_a_new_dataset_row(postgres, finished_project, tmp_path,
                                               monkeypatch):
    """Two processes write shards of one sweep straight into PostgreSQL at once (no store
    lock outside SQLite), both with the split as a new dataset: both commit, one row."""
    from mlflow import MlflowClient
    from sqlalchemy import create_engine, text

    monkeypatch.chdir(tmp_path)  # the experiment's local artifact root: ./mlruns
    uri = postgres.createdb("mlflow_dataset_race")
    exp_id = tracking.setup_experiment(uri, EXPERIMENT)["experiment_id"]
    split = finished_project.root / f"data/{DATASET}/split.npz"
    runs = copies(finished_project, 8)
    for round_ in range(3):  # a new dataset each round: the race is on its first insert
        name = f"{DATASET}-{round_}"
        jobs = [(uri, exp_id, runs[k::2], str(split), name) for k in range(2)]
        ids = in_parallel(_write_children, jobs, tmp_path)
        assert sorted(i for written in ids for i in written.values()) == sorted(
            {i for written in ids for i in written.values()})
    engine = create_engine(uri)
    with engine.connect() as con:
        datasets = con.execute(text("select name, dataset_uuid from datasets")).fetchall()
        inputs = con.execute(text("select source_id, destination_id from inputs")).fetchall()
    engine.dispose()
    assert sorted(n for n, _ in datasets) == [f"{DATASET}-{i}" for i in range(3)]
    assert len(inputs) == 3 * len(runs)  # every child of every round uses its round's row
    assert {source for source, _ in inputs} == {uuid for _, uuid in datasets}
    assert len(MlflowClient(uri).search_runs([exp_id], max_results=100)) == 3 * len(runs)

    # the race lost for certain: the row appears between the look and the insert
    real, looks = tracking._find_sql_dataset, []

    def late(store, experiment_id, ds):
        looks.append(ds.name)
        return None if len(looks) == 1 else real(store, experiment_id, ds)

    monkeypatch.setattr(tracking, "_find_sql_dataset", late)
    ds = tracking._dataset_input(tracking.split_dataset(
        tracking.load_split(split), split, f"{DATASET}-0")).dataset
    store = tracking._sql_store(MlflowClient(uri))
    assert tracking._sql_dataset_uuid(store, exp_id, ds) == dict(datasets)[f"{DATASET}-0"]
    assert looks == [f"{DATASET}-0"] * 2


def test_a_server_log_inputs_that_lost_the_dataset_race_is_retried():
    """MLflow's server looks for a dataset, then inserts it: a job that loses the race
    gets a unique-key error (rolled back) and logs again; other errors are raised."""
    from mlflow.exceptions import MlflowException

    class Client:
        def __init__(self, errors):
            self.errors, self.calls = list(errors), 0

        def log_inputs(self, run_id, datasets):
            self.calls += 1
            if self.errors:
                raise MlflowException(self.errors.pop(0))

    lost = ('(psycopg2.errors.UniqueViolation) duplicate key value violates unique '
            'constraint "dataset_pk" [SQL: INSERT INTO datasets ...]')
    client = Client([lost])
    tracking._log_inputs(client, "run", object())
    assert client.calls == 2
    with pytest.raises(MlflowException, match="experiment does not exist"):
        tracking._log_inputs(Client(["experiment does not exist"]), "run", object())
    with pytest.raises(MlflowException, match="duplicate key"):  # twice: not a race
        tracking._log_inputs(Client([lost, lost]), "run", object())


# --------------------------------------------------------------------------------------
# Processes started together
# --------------------------------------------------------------------------------------


def in_parallel(target, jobs: list[tuple], tmp_path) -> list:
    """Run ``target(barrier, out, *job)`` in one process per job, all released at once by
    a barrier; each writes its result as JSON to ``out``. Returns the results in order."""
    import json

    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(len(jobs))
    outs = [tmp_path / f"parallel-{i}.json" for i in range(len(jobs))]
    procs = [ctx.Process(target=target, args=(barrier, str(out), *job))
             for out, job in zip(outs, jobs, strict=True)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=300)
    assert [p.exitcode for p in procs] == [0] * len(procs)
    results = [json.loads(out.read_text()) for out in outs]
    for out in outs:
        out.unlink()
    return results


def _sync_shard(barrier, out, uri, exp_id, runs, split, shard, lock_dir) -> None:
    barrier.wait()
    write_json(out, tracking.sync_shard(uri, exp_id, DATASET, MODEL, runs, split,
                                        commit="c0", recorded={}, shard=shard,
                                        lock_dir=lock_dir))


def _write_children(barrier, out, uri, exp_id, runs, split, name) -> None:
    from mlflow import MlflowClient

    client = MlflowClient(uri)
    dataset = tracking._dataset_input(tracking.split_dataset(
        tracking.load_split(split), split, name))
    records = [tracking.child_record(r, DATASET, MODEL, "", "c0") for r in runs]
    barrier.wait()
    write_json(out, tracking.write_children_sql(client, exp_id, records, dataset))
