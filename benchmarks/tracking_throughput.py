#!/usr/bin/env python
"""Tracking throughput in child runs per second: SQLite vs an MLflow server on PostgreSQL,
with 1, 2 and 4 parallel track jobs.

Run from the repository root::

    .venv/bin/python benchmarks/tracking_throughput.py            # 4 shards of 50 runs
    .venv/bin/python benchmarks/tracking_throughput.py --quick    # 2 shards of 5, P 1 and 2

The runs are real and made once, as tracking_cost.py makes them (moons, logistic
regression, E epochs, ``gdlab.train.train_run``), then split round-robin into S shards of
equal size, each with a shard manifest as a train job writes it. A *measurement* syncs all
S shards into a fresh experiment of one store with at most P track processes at a time
(as ``snakemake --cores P`` schedules track_shard jobs: a new process per shard, started
when a slot frees). Each process does what ``workflow/scripts/track_shard.py`` does:
``fail_fast_http``, ``import mlflow``, read the manifest, ``load_runs``, then
``sync_shard`` under ``track_lock`` (the pipeline's: a lock file per SQLite store, none on
other stores), and writes the shard's record. Snakemake's own per-job cost (~50 ms
locally, job_overhead.py) is not included.

Stores (each measurement in a fresh experiment; SQLite also in a fresh file):

- ``sqlite``: ``sqlite:///.../mlflow.db``, local artifacts: the fast SQL path (one
  transaction per shard, artifacts hard-linked), as the pipeline runs by default;
- ``postgres``: ``postgresql+psycopg2://`` straight to PostgreSQL, local artifacts: the
  same fast SQL path against PostgreSQL (no server);
- ``server``: ``mlflow server`` (``--workers``, default MLflow's own 4) on PostgreSQL with
  ``--artifacts-destination``, reached over http: MlflowClient's calls, artifacts uploaded.

PostgreSQL and the server are the tests' (tests/_services.py: a temporary cluster on
127.0.0.1 with ``fsync=off``, stopped by PID at the end).

Modes: ``lock`` is what users get (``tracking.track_lock``: on SQLite every track job
holds the store's lock around ``sync_shard``, so syncs run one at a time whatever P and P
overlaps only the process start, the imports and the reads; on PostgreSQL and a server
only the creation of the sweep's parent is locked). ``nolock`` (P > 1 only) drops the
lock, after creating the sweep's parent and the split's dataset row first: on SQLite it
shows what the store itself could take.

Reported per store, P and mode (medians over interleaved repeats): children per second
over the wall time (first process started to last one ended), children per second while
syncing (N / the time at least one ``sync_shard`` was running; of a sync, the write per
child, sync_shard's own figure, the rest is per shard), per-process start-up
(interpreter + gdlab import) and ``import mlflow``, the wait for the lock; and ratios:
each store against SQLite at the same P, P = 2 and 4 against P = 1. Then, on the server,
``find_children``, a search of all of the sweep's children, in sweeps of
``--search-sizes`` children filled straight into the server's database, against gdlab's
http timeout: what every track job on a server used to pay, and why it now fetches only
its own shard's recorded runs (``find_recorded_children``). After every measurement the
store is read back with SQL (SQLite file or PostgreSQL database): exactly one active
complete child per run, one parent, the expected metric rows, four artifact files per
child, the processes' records agreeing; anything else stops the script.

``--growth``: the server's cost per child as one sweep grows (the first and the last of
``--shards`` 10 shards of ``--shard-size`` 200, and the last once more), for each gdlab
source in ``--growth-src`` (before/after a change, side by side); see benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import inspect
import json
import math
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
DATASET, MODEL = "moons", "logistic_regression"
STORES = ("sqlite", "postgres", "server")
STORE_NAMES = {"sqlite": "SQLite (fast SQL path)",
               "postgres": "PostgreSQL direct (fast SQL path)",
               "server": "mlflow server on PostgreSQL (http, client path)"}


# --------------------------------------------------------------------------------------
# One track process (python benchmarks/tracking_throughput.py --worker SPEC.json)
# --------------------------------------------------------------------------------------


def worker(spec_path: str) -> int:
    """What track_shard.py does for one shard, with times (time.time()) written down."""
    t_start = time.time()
    spec = json.loads(Path(spec_path).read_text())
    from gdlab import tracking
    from gdlab.io import read_json, write_json
    from gdlab.runfiles import read_manifest

    tracking.fail_fast_http()
    uri = spec["uri"]
    t_gdlab = time.time()
    import mlflow  # noqa: F401 - the one-off import, timed apart as track_shard does

    t_mlflow = time.time()
    experiment = read_json(spec["experiment"])
    manifest = read_manifest(spec["manifest"])
    runs = tracking.load_runs(Path(spec["manifest"]).parent.parent, manifest["runs"])
    lock = spec.get("lock")
    messages: list[str] = []
    kwargs = {}
    if spec.get("records") and "recorded" in inspect.signature(tracking.sync_shard).parameters:
        # as track_shard.py does since the server sync reads only its shard (older code,
        # run with --growth-src, searches the whole sweep and takes no such arguments)
        kwargs = {"recorded": tracking.recorded_children(Path(spec["records"]).glob("*.json")),
                  "shard": spec["shard"], "lock_dir": spec["lock_dir"]}
    t_wait = time.time()
    if lock and hasattr(tracking, "track_lock"):
        locked = tracking.track_lock(uri, Path(lock).parent / "locks")
        kwargs.setdefault("lock_dir", str(Path(lock).parent / "locks"))
    else:
        locked = tracking.store_lock(lock) if lock else _nothing()
    with locked, tracking.redacted_errors(uri):
        t_sync = time.time()
        record = tracking.sync_shard(uri, experiment["experiment_id"], DATASET, MODEL, runs,
                                     spec["split"], experiment_name=spec["experiment_name"],
                                     log=messages.append, **kwargs)
        t_synced = time.time()
    write_json(spec["record"], record)
    write_json(spec["times"], {"start": t_start, "gdlab": t_gdlab, "mlflow": t_mlflow,
                               "wait": t_wait, "sync": t_sync, "synced": t_synced,
                               "end": time.time(), "created": record["created"],
                               "log": messages})
    return 0


class _nothing:
    def __enter__(self):
        return None

    def __exit__(self, *exc):
        return False


# --------------------------------------------------------------------------------------
# The runs, the shards
# --------------------------------------------------------------------------------------


def prepare(work: Path, n_shards: int, shard_size: int, epochs: int):
    """Trained runs (tracking_cost.py's), round-robin into shards with manifests."""
    import tracking_cost

    from gdlab import tracking as T
    from gdlab.io import write_json

    split, split_path, runs = tracking_cost.build_runs(work, n_shards * shard_size, epochs)
    sweep_dir = work / "results" / DATASET / MODEL
    manifests = []
    for k in range(n_shards):
        mine = runs[k::n_shards]
        path = sweep_dir / "shards" / f"{k}.json"
        write_json(path, {"dataset": DATASET, "model": MODEL, "shard": k,
                          "runs": {r.name: {"run_key": r.run_key, "content_key": r.content_key}
                                   for r in mine}})
        manifests.append(path)
    # what a complete store holds: metric rows per child (MLflow drops exact duplicates)
    metric_rows = 0
    for r in runs:
        rec = T.child_record(r, DATASET, MODEL, "parent", "commit")
        seen = {(k, v if v == v else "nan", ts, s) for k, v, ts, s in rec.metrics}
        metric_rows += len(seen)
    run_bytes = [sum(f.stat().st_size for f in r.files) for r in runs]
    return {"runs": runs, "split_path": split_path, "manifests": manifests,
            "metric_rows": metric_rows, "run_bytes": statistics.median(run_bytes),
            "files_per_run": len(runs[0].files)}


# --------------------------------------------------------------------------------------
# Stores
# --------------------------------------------------------------------------------------


class Stores:
    """Fresh experiments in each store; PostgreSQL and the server started once."""

    def __init__(self, work: Path, wanted: list[str], server_workers: int):
        import contextlib

        self.work, self.wanted = work, wanted
        self.stack = contextlib.ExitStack()
        self.pg_uri = self.server_url = self.server_db = self.server_root = None
        self.count = 0
        self.notes: list[str] = []
        if {"postgres", "server"} & set(wanted):
            sys.path.insert(0, str(HERE.parent / "tests"))
            import _services
            import pytest

            try:
                pg = self.stack.enter_context(_services.postgres())
            except pytest.skip.Exception as err:  # no PostgreSQL here: say so, go on
                self.notes.append(f"PostgreSQL stores skipped: {err}")
                print(f"WARNING: {self.notes[-1]}", flush=True)
                self.wanted = [s for s in wanted if s == "sqlite"]
                return
            if "postgres" in wanted:
                self.pg_uri = pg.createdb("mlflow_direct")
            if "server" in wanted:
                self.server_db = pg.createdb("mlflow_server")
                self.server_root = work / "server"
                t0 = time.perf_counter()
                self.server_url = self.stack.enter_context(_services.mlflow_server(
                    self.server_root, self.server_db, workers=server_workers))
                print(f"mlflow server ({server_workers} workers) up in "
                      f"{time.perf_counter() - t0:.1f} s", flush=True)

    def close(self):
        self.stack.close()

    def fresh(self, store: str, label: str) -> dict:
        """A fresh experiment (SQLite: a fresh file) and where to check it afterwards."""
        from gdlab import tracking as T

        self.count += 1
        root = self.work / "stores" / f"{self.count:02d}-{label}"
        root.mkdir(parents=True)
        name = f"throughput-{self.count:02d}-{label}"
        here = os.getcwd()
        os.chdir(root)  # local artifact roots are ./mlruns of where the store is made
        try:
            if store == "sqlite":
                uri = f"sqlite:///{root / 'mlflow.db'}"
                db_uri = uri
            elif store == "postgres":
                uri = db_uri = self.pg_uri
            elif store == "server-db":  # the server's database, straight (to fill it)
                uri = db_uri = self.server_db
            else:
                uri, db_uri = self.server_url, self.server_db
            exp = T.setup_experiment(uri, name)
        finally:
            os.chdir(here)
        (root / "experiment.json").write_text(json.dumps(exp))
        return {"store": store, "uri": uri, "db_uri": db_uri, "root": root, "name": name,
                "experiment_id": exp["experiment_id"]}


# --------------------------------------------------------------------------------------
# A measurement: S shards, at most P processes at a time
# --------------------------------------------------------------------------------------


def measure(stores: Stores, store: str, parallel: int, mode: str, prep: dict) -> dict:
    from gdlab import tracking as T

    exp = stores.fresh(store, f"{store}-p{parallel}-{mode}")
    root = exp["root"]
    if mode == "nolock":
        # the lock is what makes parallel jobs create one parent and one dataset row
        # (write_children_sql checks for the row, then inserts it: two jobs at once both
        # insert, and the second fails on the table's unique constraint)
        from mlflow import MlflowClient

        from gdlab.data.core import load_split
        client = MlflowClient(exp["uri"])
        parent = T.open_parent(T.ClientAccess(client), exp["experiment_id"], DATASET, MODEL,
                               "bench")
        client.log_inputs(parent, [T._dataset_input(T.split_dataset(
            load_split(prep["split_path"]), prep["split_path"], DATASET))])
    env = {**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true",
           # what Snakemake sets for a 1-thread job
           **{k: "1" for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
                               "GOTO_NUM_THREADS", "VECLIB_MAXIMUM_THREADS",
                               "NUMEXPR_NUM_THREADS")}}
    specs = []
    for k, manifest in enumerate(prep["manifests"]):
        spec = {"uri": exp["uri"], "experiment": str(root / "experiment.json"),
                "experiment_name": exp["name"], "manifest": str(manifest),
                "split": str(prep["split_path"]), "record": str(root / f"record-{k}.json"),
                "times": str(root / f"times-{k}.json"),
                "lock": str(root / "store.lock") if mode == "lock" else None}
        path = root / f"spec-{k}.json"
        path.write_text(json.dumps(spec))
        specs.append(path)
    load0 = os.getloadavg()[0]
    pending, running, spawned, failed = list(enumerate(specs)), {}, {}, []
    t0 = time.time()
    while pending or running:
        while pending and len(running) < parallel:
            k, path = pending.pop(0)
            spawned[k] = time.time()
            log = open(root / f"worker-{k}.log", "w")  # noqa: SIM115 - closed below
            running[k] = (subprocess.Popen([sys.executable, __file__, "--worker", str(path)],
                                           cwd=root, env=env, stdout=log,
                                           stderr=subprocess.STDOUT), log)
        time.sleep(0.01)
        for k, (proc, log) in list(running.items()):
            if proc.poll() is not None:
                log.close()
                del running[k]
                if proc.returncode != 0:
                    failed.append(k)
    wall = time.time() - t0
    load1 = os.getloadavg()[0]
    if failed:
        tail = (root / f"worker-{failed[0]}.log").read_text(errors="replace")[-3000:]
        raise SystemExit(f"{store}, P={parallel}, {mode}: track processes {failed} failed "
                         f"(logs in {root}):\n{tail}")
    times = [json.loads((root / f"times-{k}.json").read_text()) for k in range(len(specs))]
    records = [json.loads((root / f"record-{k}.json").read_text()) for k in range(len(specs))]
    check_store(exp, records, prep, stores)
    syncs = sorted((t["sync"], t["synced"]) for t in times)
    busy, cur_start, cur_end = 0.0, None, None  # union of the sync intervals
    for s, e in syncs:
        if cur_end is None or s > cur_end:
            busy += (cur_end - cur_start) if cur_end is not None else 0.0
            cur_start, cur_end = s, e
        else:
            cur_end = max(cur_end, e)
    busy += cur_end - cur_start
    n = len(prep["runs"])
    return {
        "wall": wall, "busy": busy, "n": n,
        "per_wall": n / wall, "per_busy": n / busy,
        "startup": statistics.median(t["gdlab"] - spawned[k] for k, t in enumerate(times)),
        "import": statistics.median(t["mlflow"] - t["gdlab"] for t in times),
        "wait": statistics.median(t["sync"] - t["wait"] for t in times),
        "sync": statistics.median(t["synced"] - t["sync"] for t in times),
        # sync_shard's own figure: the write of the children, per child
        "write": statistics.median(_write_ms(t) / 1000 for t in times),
        "per_shard": statistics.median(t["created"] for t in times),
        "load": f"{load0:.2f}->{load1:.2f}", "exp": exp,
    }


def _write_ms(times: dict) -> float:
    """ms per child of the write, from sync_shard's log line "(children 12.3 ms each)"."""
    import re

    found = re.search(r"\(children ([0-9.]+) ms each\)", " ".join(times["log"]))
    if not found:
        raise SystemExit(f"no write time in sync_shard's log: {times['log']}")
    return float(found.group(1))


# --------------------------------------------------------------------------------------
# Every child exactly once
# --------------------------------------------------------------------------------------


def check_store(exp: dict, records: list[dict], prep: dict, stores: Stores) -> None:
    """Read the store back with SQL: fail unless it holds exactly the runs, once each."""
    from sqlalchemy import create_engine, text

    from gdlab import tracking as T

    want = sorted(r.name for r in prep["runs"])
    eid = int(exp["experiment_id"])
    engine = create_engine(exp["db_uri"])
    try:
        with engine.connect() as con:
            rows = con.execute(text(
                "select r.run_uuid, r.name, r.status, r.lifecycle_stage, "
                "(select value from tags t where t.run_uuid = r.run_uuid and t.key = :role), "
                "(select value from tags t where t.run_uuid = r.run_uuid and t.key = :done), "
                "(select value from tags t where t.run_uuid = r.run_uuid and t.key = :parent) "
                "from runs r where r.experiment_id = :eid"),
                {"role": T.ROLE_TAG, "done": T.COMPLETE_TAG, "parent": T.PARENT_TAG,
                 "eid": eid}).fetchall()
            children = [r for r in rows if r[4] == T.ROLE_RUN]
            parents = [r for r in rows if r[4] == T.ROLE_SWEEP]
            ids = [r[0] for r in children]
            metric_rows = con.execute(text(
                "select count(*) from metrics m join runs r on m.run_uuid = r.run_uuid "
                "where r.experiment_id = :eid and r.run_uuid in (select run_uuid from tags "
                "where key = :role and value = :run)"),
                {"eid": eid, "role": T.ROLE_TAG, "run": T.ROLE_RUN}).scalar()
            artifact_uri = con.execute(text(
                "select artifact_location from experiments where experiment_id = :eid"),
                {"eid": eid}).scalar()
    finally:
        engine.dispose()
    problems = []
    if len(rows) != len(want) + 1:
        problems.append(f"{len(rows)} runs in the experiment, expected {len(want) + 1}")
    if sorted(r[1] for r in children) != want:
        problems.append(f"children's names are not the runs' names, once each "
                        f"({len(children)} children, {len({r[1] for r in children})} names)")
    bad = [r for r in children if (r[2], r[3], r[5]) != ("FINISHED", "active", "true")]
    if bad:
        problems.append(f"{len(bad)} children not FINISHED, active and complete: {bad[:2]}")
    if len(parents) != 1 or parents[0][3] != "active":
        problems.append(f"{len(parents)} parents, expected one active")
    elif any(r[6] != parents[0][0] for r in children):
        problems.append("children not all under the one parent")
    if metric_rows != prep["metric_rows"]:
        problems.append(f"{metric_rows} metric rows, expected {prep['metric_rows']}")
    recorded = {i for rec in records for i in rec["children"].values()}
    if recorded != set(ids) or sum(len(rec["children"]) for rec in records) != len(want):
        problems.append("the track processes' records do not name exactly the children")
    if sum(rec["created"] for rec in records) != len(want):
        problems.append("not every child was created by this measurement")
    # the artifacts: four files per child, on disk (local root, or the server's destination)
    if exp["store"] == "server":
        art_root = stores.server_root / "artifacts" / str(eid)
    else:
        art_root = T.local_artifact_root(artifact_uri)
    files = {i: sorted(p.name for p in (art_root / i / "artifacts").glob("*")) for i in ids}
    expect = sorted(f.name for f in prep["runs"][0].files)
    wrong = [i for i, names in files.items() if names != expect]
    if wrong:
        problems.append(f"{len(wrong)} children without exactly their "
                        f"{len(expect)} artifact files (e.g. {files[wrong[0]]})")
    if problems:
        raise SystemExit(f"{exp['store']} store {exp['root']}: WRONG COUNTS:\n  "
                         + "\n  ".join(problems))


def search_growth(stores: Stores, prep: dict, sizes: list[int]) -> list[tuple[int, float]]:
    """Seconds of a server's ``find_children`` as the sweep grows to each of ``sizes``.

    A track job on a server used to search all of the sweep's children (every shard, so a
    sweep's syncs cost O(N^2 / shard size)); it now reads its own shard's recorded runs.
    The sweep is filled fast, with the SQL path straight into the server's database
    (copies of the runs under one parent); the search goes over http with MLflow's own
    timeout (120 s), not gdlab's fail-fast one.
    """
    from mlflow import MlflowClient

    from gdlab import tracking as T

    exp = stores.fresh("server-db", "search")
    direct = MlflowClient(exp["uri"])
    parent = T.open_parent(T.ClientAccess(direct), exp["experiment_id"], DATASET, MODEL,
                           "bench")
    records = [T.child_record(r, DATASET, MODEL, parent, "bench") for r in prep["runs"]]
    http = MlflowClient(stores.server_url)
    name = prep["runs"][0].name
    out, total = [], 0
    for _ in range(2):  # the first request also opens the connection: not timed
        t0 = time.perf_counter()
        assert not T.find_children(http, exp["experiment_id"], DATASET, MODEL, [name])
    out.append((0, time.perf_counter() - t0))
    for size in sizes:
        while total < size:
            T.write_children_sql(direct, exp["experiment_id"], records[:size - total])
            total += min(len(records), size - total)
        t0 = time.perf_counter()
        found = T.find_children(http, exp["experiment_id"], DATASET, MODEL, [name])
        out.append((total, time.perf_counter() - t0))
        copies = total // len(records) + (total % len(records) > 0)
        if len(found) != copies:
            raise SystemExit(f"find_children found {len(found)} children named {name!r}, "
                             f"expected {copies}")
        print(f"server: find_children in a sweep of {total} children: {out[-1][1]:.2f} s",
              flush=True)
    return out


def run_worker(root: Path, spec: dict, label: str, src: str) -> dict:
    """One track process (gdlab from ``src``) for one shard; its times."""
    path = root / f"spec-{label}.json"
    path.write_text(json.dumps(spec))
    env = {**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true", "PYTHONPATH": src,
           # the whole-sweep search of older code outlasted gdlab's http timeout past ~800 children:
           # give every variant the same long timeout, to measure it instead of failing
           "MLFLOW_HTTP_REQUEST_TIMEOUT": "300"}
    with open(root / f"worker-{label}.log", "w") as log:
        done = subprocess.run([sys.executable, __file__, "--worker", str(path)], cwd=root,
                              env=env, stdout=log, stderr=subprocess.STDOUT)
    if done.returncode != 0:
        tail = (root / f"worker-{label}.log").read_text(errors="replace")[-3000:]
        raise SystemExit(f"track process {label} failed:\n{tail}")
    return json.loads(Path(spec["times"]).read_text())


def fill_shards(stores: Stores, exp: dict, shards: list[list], parent_id: str,
                records: Path, first: int) -> None:
    """Shards synced between the first and the last, straight into the server's database
    with the SQL rows of complete children (tagged with their shard, recorded as a track
    job records them; no artifact files: a search does not read them)."""
    import uuid

    from mlflow import MlflowClient
    from sqlalchemy import insert, text

    from gdlab import tracking as T
    from gdlab.io import write_json

    store = T._sql_store(MlflowClient(stores.server_db))
    tables = T._sql_tables()
    with store.ManagedSessionMaker() as session:
        eid = int(exp["experiment_id"])
        dataset = session.execute(text(
            "select dataset_uuid from datasets where experiment_id = :e"), {"e": eid}).scalar()
        location = session.execute(text(
            "select artifact_location from experiments where experiment_id = :e"),
            {"e": eid}).scalar()
    for k, runs in enumerate(shards, start=first):
        recs = [T.child_record(r, DATASET, MODEL, parent_id, "bench") for r in runs]
        for rec in recs:
            rec.tags[T.SHARD_TAG] = str(k)
        ids = {rec.name: uuid.uuid4().hex for rec in recs}
        rows = T._children_rows(recs, ids, str(eid), location, dataset)
        with store.ManagedSessionMaker(read_only=False) as session:
            for table in T.CHILD_TABLES:
                if rows[table]:
                    session.execute(insert(tables[table]), rows[table])
        write_json(records / f"{k}.json", {"experiment_id": str(eid),
                                           "parent_run_id": parent_id,
                                           "children": dict(sorted(ids.items()))})


def sweep_growth(stores: Stores, prep: dict, variants: dict[str, str]) -> dict[str, dict]:
    """Per variant (label -> a gdlab src directory): a fresh experiment on the server; the
    first shard synced by a track process, the middle ones filled straight into the
    database, the last shard synced by a track process, then synced again (nothing to
    write: the idempotent rerun). Seconds of each sync and runs per shard."""
    shards = [read_shard(m, prep) for m in prep["manifests"]]
    out = {}
    for label, src in variants.items():
        exp = stores.fresh("server", f"growth-{label}")
        root, records = exp["root"], exp["root"] / "records"
        records.mkdir()

        def spec(k: int, tag: str, exp=exp, records=records) -> dict:
            return growth_spec(exp, prep, records, k, tag)

        last = len(shards) - 1
        first = run_worker(root, spec(0, "first"), "first", src)
        parent = json.loads((records / "0.json").read_text())["parent_run_id"]
        fill_shards(stores, exp, shards[1:last], parent, records, 1)
        final = run_worker(root, spec(last, "last"), "last", src)
        again = run_worker(root, spec(last, "again"), "again", src)
        res = {k: t["synced"] - t["sync"] for k, t in
               (("first", first), ("last", final), ("again", again))}
        res.update(created=(first["created"], final["created"], again["created"]),
                   size=len(shards[0]), before_last=sum(len(s) for s in shards[:last]))
        if res["created"] != (len(shards[0]), len(shards[last]), 0):
            raise SystemExit(f"{label}: created {res['created']} children, expected "
                             f"{len(shards[0])}, {len(shards[last])}, 0")
        check_growth(stores, exp, sum(len(s) for s in shards))
        out[label] = res
        print(f"{label}: first shard {res['first']:.1f} s, last shard (after "
              f"{res['before_last']} children) {res['last']:.1f} s, again "
              f"{res['again']:.1f} s - counts exact", flush=True)
    return out


def growth_spec(exp: dict, prep: dict, records: Path, k: int, tag: str) -> dict:
    root = exp["root"]
    return {"uri": exp["uri"], "experiment": str(root / "experiment.json"),
            "experiment_name": exp["name"], "manifest": str(prep["manifests"][k]),
            "split": str(prep["split_path"]), "record": str(records / f"{k}.json"),
            "times": str(root / f"times-{tag}.json"), "lock": None,
            "records": str(records), "shard": str(k), "lock_dir": str(root / "locks")}


def read_shard(manifest: Path, prep: dict) -> list:
    names = json.loads(manifest.read_text())["runs"]
    return [r for r in prep["runs"] if r.name in names]


def check_growth(stores: Stores, exp: dict, n_children: int) -> None:
    """One active parent, every run once as a complete FINISHED child, nothing else."""
    from sqlalchemy import create_engine, text

    from gdlab import tracking as T

    engine = create_engine(stores.server_db)
    try:
        with engine.connect() as con:
            rows = con.execute(text(
                "select r.name, r.status, "
                "(select value from tags t where t.run_uuid = r.run_uuid and t.key = :role), "
                "(select value from tags t where t.run_uuid = r.run_uuid and t.key = :done) "
                "from runs r where r.experiment_id = :eid and r.lifecycle_stage = 'active'"),
                {"role": T.ROLE_TAG, "done": T.COMPLETE_TAG,
                 "eid": int(exp["experiment_id"])}).fetchall()
    finally:
        engine.dispose()
    children = [r for r in rows if r[2] == T.ROLE_RUN]
    if (len(rows) != n_children + 1 or len({r[0] for r in children}) != n_children
            or any((r[1], r[3]) != ("FINISHED", "true") for r in children)):
        raise SystemExit(f"{exp['root']}: WRONG COUNTS: {len(rows)} active runs, "
                         f"{len({r[0] for r in children})} child names, expected "
                         f"{n_children} + a parent")


# --------------------------------------------------------------------------------------
# Main
# --------------------------------------------------------------------------------------


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true",
                    help="2 shards of 5 runs, P = 1 and 2 only, 1 repeat")
    ap.add_argument("--shards", type=int, help="shards per measurement (4; --quick 2)")
    ap.add_argument("--shard-size", type=int, help="runs per shard (50; --quick 5)")
    ap.add_argument("--epochs", type=int, default=100)
    ap.add_argument("--parallel", help="track processes at a time (1,2,4; --quick 1,2)")
    ap.add_argument("--stores", default=",".join(STORES), help=",".join(STORES))
    ap.add_argument("--modes", default="lock,nolock",
                    help="lock (as the pipeline runs), nolock (P > 1 only)")
    ap.add_argument("--server-workers", type=int, default=4,
                    help="mlflow server --workers (4, MLflow's default)")
    ap.add_argument("--search-sizes",
                    help="sweep sizes for the server's find_children (1000,4000; --quick 100)")
    ap.add_argument("--repeats", type=int, help="interleaved repeats (1)")
    ap.add_argument("--workdir", type=Path)
    ap.add_argument("--keep", action="store_true")
    ap.add_argument("--results", type=Path, default=HERE / "results")
    ap.add_argument("--no-save", action="store_true")
    ap.add_argument("--growth", action="store_true",
                    help="only the server's cost per child as a sweep grows: the first and "
                    "the last of --shards (10) shards of --shard-size (200), and the last "
                    "again; per --growth-src")
    ap.add_argument("--growth-src", default=f"after={HERE.parent / 'src'}",
                    help="label=gdlab src directory, comma-separated (e.g. "
                    "before=/path/to/main/src,after=src): the code the track processes run")
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    if a.worker:
        return worker(a.worker)

    sys.path.insert(0, str(HERE))
    from _machine import Machine, median, print_table, save_results, size_str, t_str

    from gdlab.tracking import HTTP_FAIL_FAST as T_HTTP
    from gdlab.tracking import SEARCH_PAGE

    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    n_shards = a.shards or (2 if a.quick else 10 if a.growth else 4)
    shard_size = a.shard_size or (5 if a.quick else 200 if a.growth else 50)
    if a.growth:
        return main_growth(a, argv, n_shards, shard_size)
    reps = a.repeats or 1
    ps = [int(p) for p in (a.parallel or ("1,2" if a.quick else "1,2,4")).split(",")]
    search_sizes = [int(x) for x in (a.search_sizes or ("100" if a.quick else "1000,4000"))
                    .split(",") if x]
    wanted = [s for s in a.stores.split(",") if s]
    modes = [m for m in a.modes.split(",") if m]
    unknown = set(wanted) - set(STORES) | set(modes) - {"lock", "nolock"}
    if unknown:
        ap.error(f"unknown store or mode: {sorted(unknown)}")
    work = Path(a.workdir or tempfile.mkdtemp(prefix="gdlab-throughput-")).resolve()
    work.mkdir(parents=True, exist_ok=True)
    machine = Machine({"server workers": a.server_workers})
    machine.print()
    t0 = time.perf_counter()
    prep = prepare(work, n_shards, shard_size, a.epochs)
    n = len(prep["runs"])
    print(f"{n} runs trained and written in {time.perf_counter() - t0:.1f} s; "
          f"{n_shards} shards of {shard_size}", flush=True)
    stores = Stores(work, wanted, a.server_workers)
    out: dict[tuple, list[dict]] = {}
    search = []
    try:
        for rep in range(reps):
            for p in ps:
                for mode in modes:
                    if mode == "nolock" and p == 1:
                        continue  # one process at a time: the lock changes nothing
                    for store in stores.wanted:  # interleaved: stores side by side
                        res = measure(stores, store, p, mode, prep)
                        out.setdefault((store, p, mode), []).append(res)
                        print(f"repeat {rep + 1}/{reps}: {store:8s} P={p} {mode:6s}: "
                              f"{res['per_wall']:6.1f} children/s (wall {res['wall']:.1f} s; "
                              f"while syncing {res['per_busy']:.1f}/s; import mlflow "
                              f"{res['import']:.2f} s; load {res['load']}) - counts exact",
                              flush=True)
        if stores.server_url and search_sizes:
            search = search_growth(stores, prep, search_sizes)
    finally:
        stores.close()

    def med(key, *k):
        return median([r[key] for r in out[k]])

    # the matrix (children/s over the wall time), with ratios
    table = ["| store | mode | " + " | ".join(f"P={p}" for p in ps)
             + " | " + " | ".join(f"P={p} / P={ps[0]}" for p in ps[1:]) + " |",
             "|---|---|" + "---|" * (2 * len(ps) - 1)]
    for mode in modes:
        for store in stores.wanted:
            cells = [f"{med('per_wall', store, p, mode):.1f}" if (store, p, mode) in out
                     else "–" for p in ps]
            base = out.get((store, ps[0], mode)) or out.get((store, ps[0], "lock"))
            base = median([r["per_wall"] for r in base]) if base else None
            ratios = [f"{med('per_wall', store, p, mode) / base:.2f}x"
                      if (store, p, mode) in out and base else "–" for p in ps[1:]]
            table.append(f"| {STORE_NAMES[store]} | {mode} | " + " | ".join(cells) + " | "
                         + " | ".join(ratios) + " |")
    rows = []
    for p in ps:
        for mode in modes:
            for store in stores.wanted:
                k = (store, p, mode)
                if k not in out:
                    continue
                ref = ("sqlite", p, mode)
                vs = (f"; **{med('per_wall', *k) / med('per_wall', *ref):.2f}x SQLite**"
                      if store != "sqlite" and ref in out else "")
                rows.append((f"P={p}, {mode}", STORE_NAMES[store],
                             f"{med('per_wall', *k):.1f} children/s",
                             f"wall {t_str(med('wall', *k))} for {n} children"
                             f"{vs}; while syncing {med('per_busy', *k):.1f}/s (sync "
                             f"{t_str(med('sync', *k))} per shard of "
                             f"{med('per_shard', *k):.0f}, of which the write "
                             f"{t_str(med('write', *k))} per child; lock wait "
                             f"{t_str(med('wait', *k))}); per process: start + gdlab "
                             f"{t_str(med('startup', *k))}, import mlflow "
                             f"{t_str(med('import', *k))}; load "
                             + ", ".join(r["load"] for r in out[k])))
    if search:
        timeout = float(T_HTTP["MLFLOW_HTTP_REQUEST_TIMEOUT"])
        for size, seconds in search[1:]:
            per_request = seconds / math.ceil(size / SEARCH_PAGE)  # one call per page
            rows.append(("server", f"find_children over http, sweep of {size} children",
                         t_str(seconds),
                         f"{t_str(per_request)} per request of {SEARCH_PAGE} runs, "
                         + ("inside" if per_request < timeout else "**over**")
                         + f" gdlab's {timeout:.0f} s http timeout (a request's own limit)"))
        (n0, s0), (n1, s1) = search[0], search[-1]
        rows.append(("server", "find_children over http, per child in the sweep",
                     t_str((s1 - s0) / (n1 - n0)),
                     f"({t_str(s1)} - {t_str(s0)} for an empty sweep) / {n1}; what every "
                     "shard paid for all the sweep's children before find_recorded_children "
                     "(a shard's recorded runs, 100 per run_id IN search); SQL stores ask for "
                     "the shard's names (two indexed queries)"))
    rows.append(("runs", "files and bytes per run (the artifacts of a child)",
                 f"{prep['files_per_run']} files, {size_str(prep['run_bytes'])}",
                 f"median run directory of {a.epochs} epochs; metric rows per child "
                 f"{prep['metric_rows'] / n:.0f}"))
    for note in stores.notes:
        rows.append(("note", note, "", ""))
    machine.finish()
    print()
    print("\n".join(table))
    print()
    print_table(rows)
    if not a.no_save:
        preamble = (
            f"{n} child runs of {a.epochs} epochs (moons, logistic regression) in "
            f"{n_shards} shards of {shard_size}; each measurement syncs all shards into a "
            f"fresh experiment with at most P track processes at a time (a process per "
            f"shard, as track_shard jobs), {reps} interleaved repeat(s), medians. lock: as "
            "the pipeline runs (the project's store lock around sync_shard); nolock: "
            "without it (the parent and the dataset row made first). PostgreSQL: "
            f"tests/_services.py, fsync=off; mlflow server --workers {a.server_workers}. "
            "Children per second over the wall "
            "time (first process started to last ended):\n\n" + "\n".join(table))
        save_results("tracking_throughput.py", rows, machine, argv=argv, quick=a.quick,
                       preamble=preamble, results=a.results)
    if not a.keep:
        shutil.rmtree(work, ignore_errors=True)
    else:
        print(f"kept {work}")
    return 0


def main_growth(a, argv, n_shards: int, shard_size: int) -> int:
    from _machine import Machine, print_table, save_results, t_str

    variants = dict(v.split("=", 1) for v in a.growth_src.split(",") if v)
    variants = {k: str(Path(v).resolve()) for k, v in variants.items()}
    work = Path(a.workdir or tempfile.mkdtemp(prefix="gdlab-growth-")).resolve()
    work.mkdir(parents=True, exist_ok=True)
    machine = Machine({"server workers": a.server_workers, **{f"src {k}": v
                                                              for k, v in variants.items()}})
    machine.print()
    prep = prepare(work, n_shards, shard_size, a.epochs)
    stores = Stores(work, ["server"], a.server_workers)
    try:
        if not stores.server_url:
            raise SystemExit("no server: " + "; ".join(stores.notes))
        res = sweep_growth(stores, prep, variants)
    finally:
        stores.close()
    rows = []
    for label, r in res.items():
        n = r["size"]
        rows.append((label, "first shard: sync per child (empty sweep)",
                     t_str(r["first"] / n), f"sync {t_str(r['first'])} for {n} children"))
        rows.append((label, f"last shard: sync per child (after {r['before_last']} children)",
                     t_str(r["last"] / n), f"sync {t_str(r['last'])}; "
                     f"**{r['last'] / r['first']:.2f}x the first shard**"))
        rows.append((label, "last shard again (nothing to write)", t_str(r["again"]),
                     f"{t_str(r['again'] / n)} per child of the shard"))
    if len(res) == 2:
        (la, ra), (lb, rb) = res.items()
        for key, what in (("last", "last shard"), ("again", "last shard again")):
            rows.append((f"{lb} / {la}", what, f"{rb[key] / ra[key]:.2f}x", ""))
    machine.finish()
    print_table(rows)
    if not a.no_save:
        preamble = (
            f"A sweep of {n_shards * shard_size} child runs of {a.epochs} epochs in "
            f"{n_shards} shards of {shard_size}, on mlflow server (--workers "
            f"{a.server_workers}) on PostgreSQL (tests/_services.py, fsync=off). Per code "
            "variant, a fresh experiment: shard 0 synced by a track process (as "
            "track_shard.py: its records, shard and lock directory where the code takes "
            "them), shards 1.."
            f"{n_shards - 2} filled straight into the server's database (complete "
            f"children, recorded; no artifact files), shard {n_shards - 1} synced by a "
            "track process, then synced again. MLFLOW_HTTP_REQUEST_TIMEOUT=300 for every "
            "variant (gdlab's own timeout would fail the old whole-sweep search). Counts checked "
            "with SQL after each variant.")
        save_results("tracking_throughput.py", rows, machine, argv=argv, quick=a.quick,
                       preamble=preamble, results=a.results)
    if not a.keep:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
