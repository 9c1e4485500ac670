#!/usr/bin/env python
"""Tracking throughput in child runs per second: a project's track jobs (one per sweep)
into SQLite, PostgreSQL and an MLflow server on PostgreSQL, with 1, 2 and 4 at a time.

Run from the repository root::

    PYTHONPATH=src .venv/bin/python benchmarks/tracking_throughput.py   # 4 sweeps of 200
    PYTHONPATH=src .venv/bin/python benchmarks/tracking_throughput.py --quick --no-save

One project, made once by the pipeline in a fresh copy (``snakemake --cores 2
--omit-from mlflow_setup``, not timed): S sweeps (``--sweeps``, datasets ``moons0`` ...,
each config/config.yaml's moons under another name, so other data) of logistic regression,
R runs each (``--runs``: R/2 learning rates from 1e-3 to 1, l2 0 or 1e-3, E epochs; one
shard). A *measurement* gives the project a fresh store and experiment and runs
``snakemake --cores P``: the mlflow_setup job, then the S track jobs, at most P at a time,
each syncing its whole sweep (``workflow/scripts/track.py``: imports, ``read_sweep``,
``track_lock``, ``sync_sweep``: children, parent, figures, best model logged and
registered). Then ``snakemake --cores P --forcerun track``: every track job again, with
nothing to write (the store already shows each sweep: a search of the sweep's runs and a
plan).

Stores (``--stores``):

- ``sqlite``: ``sqlite:///mlflow.db`` (deleted before each measurement, with ``mlruns/``:
  Snakemake then sets it up again and reruns every track job), local artifacts: the
  children in one transaction through MLflow's tables; its track jobs take turns under
  the store's lock (``tracking.track_lock``), P overlaps their start-up and imports;
- ``postgres``: ``postgresql+psycopg2://`` straight to PostgreSQL (a fresh database per
  measurement), local artifacts: the same one-transaction path, no lock;
- ``server``: ``mlflow server`` (``--server-workers``, default 4) on PostgreSQL with
  ``--artifacts-destination``, over http: MlflowClient's calls (4 threads a job),
  artifacts uploaded, no lock.

PostgreSQL and the server are the tests' (``tests/_services.py``: a temporary cluster on
127.0.0.1 with ``fsync=off``, stopped by PID at the end; without the Debian
``postgresql`` package or ``psycopg2`` only SQLite is measured). Every measurement has
its own experiment (``throughput-<k>``).

Reported per store and P (medians over ``--repeats`` interleaved repeats): children per
second over the track jobs' span (first track job started to last ended, Snakemake's own
records), the whole command, the track jobs' own figures from their logs (whole sync,
children's ms each, ``import mlflow``) and the no-op re-sync; each store against SQLite
at the same P, each P against the first. After each measurement the store is read back
with SQL: per sweep exactly one parent and R complete children, or the script stops.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import _records as R  # noqa: E402
import _workflow as W  # noqa: E402
from _machine import Machine, add_run_args, clean_up, median, print_table, save_results, t_str  # noqa: E402

MODEL = "logistic_regression"
STORES = ("sqlite", "postgres", "server")
STORE_NAMES = {"sqlite": "SQLite (one transaction, the store's lock)",
               "postgres": "PostgreSQL direct (one transaction)",
               "server": "mlflow server on PostgreSQL (http, MlflowClient)"}


def project_config(n_sweeps: int, n_runs: int, epochs: int) -> dict:

    cfg = W.default_config()
    moons = cfg["datasets"]["moons"]
    cfg["experiment"] = "throughput-0"
    cfg["datasets"] = {f"moons{k}": dict(moons) for k in range(n_sweeps)}
    cfg["models"] = {MODEL: W.gd_grid(n_runs, epochs)}
    cfg["train"] = {**cfg.get("train", {}), "shard_size": max(n_runs, 200)}
    return cfg


class Stores:
    """PostgreSQL and the server, started once (the tests' services); a fresh store and
    experiment for each measurement."""

    def __init__(self, work: Path, wanted: list[str], server_workers: int):
        self.work, self.wanted = work, list(wanted)
        self.stack = contextlib.ExitStack()
        self.pg = self.server_url = self.server_db = None
        self.notes: list[str] = []
        self.count = 0
        if not {"postgres", "server"} & set(wanted):
            return
        sys.path.insert(0, str(W.REPO / "tests"))
        import _services
        import pytest

        try:
            self.pg = self.stack.enter_context(_services.postgres())
        except pytest.skip.Exception as err:  # no PostgreSQL here: say so, go on
            self.notes.append(f"PostgreSQL and the server skipped: {err}")
            print(f"WARNING: {self.notes[-1]}", flush=True)
            self.wanted = [s for s in wanted if s == "sqlite"]
            return
        if "server" in wanted:
            self.server_db = self.pg.createdb("mlflow_server")
            t0 = time.perf_counter()
            self.server_url = self.stack.enter_context(_services.mlflow_server(
                work / "server", self.server_db, workers=server_workers))
            print(f"mlflow server ({server_workers} workers) up in "
                  f"{time.perf_counter() - t0:.1f} s", flush=True)

    def close(self) -> None:
        self.stack.close()

    def fresh(self, store: str, root: Path) -> dict:
        """The project's config for a fresh store of kind ``store``: its tracking URI, a
        new experiment, and the database to read it back from."""
        self.count += 1
        experiment = f"throughput-{self.count}"
        for leftover in ("mlflow.db", "mlruns"):  # a fresh SQLite store; local artifacts
            path = root / leftover
            if path.is_dir():
                shutil.rmtree(path)
            elif path.exists():
                path.unlink()
        if store == "sqlite":
            uri = "sqlite:///mlflow.db"
            db = f"sqlite:///{root / 'mlflow.db'}"
        elif store == "postgres":
            uri = db = self.pg.createdb(f"direct{self.count}")
        else:
            uri, db = self.server_url, self.server_db
        return {"store": store, "uri": uri, "db": db, "experiment": experiment}


def measure(root: Path, cfg: dict, stores: Stores, store: str, parallel: int,
            n_sweeps: int, n_runs: int) -> dict:
    """One measurement: a fresh store, ``snakemake --cores P`` (setup and every track job),
    the counts checked, then every track job again with nothing to write."""
    fresh = stores.fresh(store, root)
    W.write_config(root, {**cfg, "experiment": fresh["experiment"],
                          "mlflow": {**cfg["mlflow"], "tracking_uri": fresh["uri"]}})
    load0 = os.getloadavg()[0]
    started = time.time()
    r = W.snakemake(root, "--cores", str(parallel), timeout=4 * 3600)
    stats = W.job_stats(r["stderr"])
    if stats.get("track") != n_sweeps:
        raise SystemExit(f"{store}, P={parallel}: expected {n_sweeps} track jobs, ran "
                         f"{stats}")
    jobs = R.jobs_from_metadata(root, since=started - 1)
    tracks = [j for j in jobs if j["rule"] == "track"]
    setup = [j for j in jobs if j["rule"] == "mlflow_setup"]
    logs = R.track_logs(root, since=started - 1)
    if len(logs) != n_sweeps or any(t["created"] != n_runs for t in logs):
        raise SystemExit(f"{store}, P={parallel}: the track logs do not say {n_sweeps} x "
                         f"{n_runs} children created: {logs}")
    check_store(fresh, n_sweeps, n_runs)
    again_started = time.time()
    again = W.snakemake(root, "--cores", str(parallel), "--forcerun", "track",
                        timeout=4 * 3600)
    again_tracks = [j for j in R.jobs_from_metadata(root, since=again_started - 1)
                    if j["rule"] == "track"]
    again_logs = R.track_logs(root, since=again_started - 1)
    if len(again_logs) != n_sweeps or not all(t["shown"] for t in again_logs):
        raise SystemExit(f"{store}, P={parallel}: the re-sync wrote something: {again_logs}")
    span = max(j["end"] for j in tracks) - min(j["start"] for j in tracks)
    n = n_sweeps * n_runs
    return {
        "wall": r["wall"], "span": span, "per_span": n / span,
        "setup": setup[0]["end"] - setup[0]["start"] if setup else float("nan"),
        "job": median([j["end"] - j["start"] for j in tracks]),
        "sync": median([t["seconds"] for t in logs]),
        "child_ms": median([t["ms_per_child"] for t in logs]),
        "import": median([t["import_mlflow"] for t in logs]),
        "via": logs[0]["via"],
        "again_wall": again["wall"],
        "again_span": max(j["end"] for j in again_tracks) - min(j["start"]
                                                               for j in again_tracks),
        "again_sync": median([t["seconds"] for t in again_logs]),
        "load": f"{load0:.2f}->{os.getloadavg()[0]:.2f}",
    }


def check_store(fresh: dict, n_sweeps: int, n_runs: int) -> None:
    """Read the store back with SQL: per sweep one active parent and ``n_runs`` active,
    complete, distinct children under it, nothing else in the experiment."""
    from sqlalchemy import create_engine, text

    engine = create_engine(fresh["db"])
    try:
        with engine.connect() as con:
            eid = con.execute(text("select experiment_id from experiments where name = :n"),
                              {"n": fresh["experiment"]}).scalar()
            rows = con.execute(text(
                "select r.run_uuid, r.lifecycle_stage, "
                "(select value from tags t where t.run_uuid = r.run_uuid and t.key = "
                "'gdlab.role'), "
                "(select value from tags t where t.run_uuid = r.run_uuid and t.key = "
                "'gdlab.sweep'), "
                "(select value from tags t where t.run_uuid = r.run_uuid and t.key = "
                "'gdlab.complete'), "
                "(select value from tags t where t.run_uuid = r.run_uuid and t.key = "
                "'gdlab.run'), "
                "(select value from tags t where t.run_uuid = r.run_uuid and t.key = "
                "'mlflow.parentRunId') from runs r where r.experiment_id = :e"),
                {"e": eid}).fetchall()
    finally:
        engine.dispose()
    problems = []
    if len(rows) != n_sweeps * (n_runs + 1):
        problems.append(f"{len(rows)} runs, expected {n_sweeps} x ({n_runs} + a parent)")
    sweeps: dict[str, dict] = {}
    for run_id, stage, role, sweep, complete, run, parent in rows:
        s = sweeps.setdefault(sweep, {"parents": [], "children": []})
        if stage != "active" or complete != "true":
            problems.append(f"{run_id} of {sweep}: {stage}, complete={complete}")
        (s["parents"] if role == "sweep" else s["children"]).append((run_id, run, parent))
    if len(sweeps) != n_sweeps:
        problems.append(f"{len(sweeps)} sweeps, expected {n_sweeps}")
    for sweep, s in sweeps.items():
        if len(s["parents"]) != 1:
            problems.append(f"{sweep}: {len(s['parents'])} parents")
            continue
        pid = s["parents"][0][0]
        if len({run for _, run, _ in s["children"]}) != n_runs or len(s["children"]) != n_runs:
            problems.append(f"{sweep}: {len(s['children'])} children, expected {n_runs}")
        if any(parent != pid for _, _, parent in s["children"]):
            problems.append(f"{sweep}: children not all under its parent")
    if problems:
        raise SystemExit(f"{fresh['store']} ({fresh['experiment']}): WRONG COUNTS:\n  "
                         + "\n  ".join(problems[:10]))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true",
                    help="2 sweeps of 10 runs, P = 1 and 2, 1 repeat")
    ap.add_argument("--sweeps", type=int, help="sweeps, one track job each (4; --quick 2)")
    ap.add_argument("--runs", type=int, help="runs per sweep, even (200; --quick 10)")
    ap.add_argument("--epochs", type=int, default=100)
    ap.add_argument("--parallel", help="track jobs at a time: --cores (1,2,4; --quick 1,2)")
    ap.add_argument("--stores", default=",".join(STORES), help=",".join(STORES))
    ap.add_argument("--server-workers", type=int, default=4,
                    help="mlflow server --workers (4, MLflow's default)")
    ap.add_argument("--repeats", type=int, help="interleaved repeats (1)")
    add_run_args(ap)
    a = ap.parse_args(argv)
    n_sweeps = a.sweeps or (2 if a.quick else 4)
    n_runs = a.runs or (10 if a.quick else 200)
    reps = a.repeats or 1
    ps = [int(p) for p in (a.parallel or ("1,2" if a.quick else "1,2,4")).split(",")]
    wanted = [s for s in a.stores.split(",") if s]
    if set(wanted) - set(STORES):
        ap.error(f"unknown store: {sorted(set(wanted) - set(STORES))}")
    work = Path(a.workdir or tempfile.mkdtemp(prefix="gdlab-throughput-")).resolve()
    work.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    machine = Machine({"server workers": a.server_workers})
    machine.print()
    cfg = project_config(n_sweeps, n_runs, a.epochs)
    t0 = time.perf_counter()
    root = W.make_copy(work / "project", cfg)
    W.snakemake(root, "--cores", "2", "--omit-from", "mlflow_setup", timeout=4 * 3600)
    n_runs = len(list((root / "results" / "moons0" / MODEL / "runs").rglob("metrics.json")))
    n = n_sweeps * n_runs
    print(f"{n_sweeps} sweeps of {n_runs} runs made up to their figures in "
          f"{time.perf_counter() - t0:.1f} s", flush=True)
    stores = Stores(work, wanted, a.server_workers)
    out: dict[tuple, list[dict]] = {}
    try:
        for rep in range(reps):
            for p in ps:
                order = stores.wanted if rep % 2 == 0 else stores.wanted[::-1]
                for store in order:  # interleaved: the stores side by side
                    res = measure(root, cfg, stores, store, p, n_sweeps, n_runs)
                    out.setdefault((store, p), []).append(res)
                    print(f"repeat {rep + 1}/{reps}: {store:8s} P={p}: "
                          f"{res['per_span']:6.1f} children/s (track jobs' span "
                          f"{res['span']:.1f} s, command {res['wall']:.1f} s; sync "
                          f"{res['sync']:.1f} s, {res['child_ms']:.1f} ms a child; re-sync "
                          f"{res['again_sync']:.2f} s; load {res['load']}) - counts exact",
                          flush=True)
    finally:
        stores.close()

    def med(key, *k):
        return median([r[key] for r in out[k]])

    table = ["| store | " + " | ".join(f"P={p}" for p in ps) + " | "
             + " | ".join(f"P={p} / P={ps[0]}" for p in ps[1:]) + " |",
             "|---|" + "---|" * (2 * len(ps) - 1)]
    for store in stores.wanted:
        cells = [f"{med('per_span', store, p):.1f}" for p in ps]
        ratios = [f"{med('per_span', store, p) / med('per_span', store, ps[0]):.2f}x"
                  for p in ps[1:]]
        table.append(f"| {STORE_NAMES[store]} | " + " | ".join(cells + ratios) + " |")
    rows = []
    for p in ps:
        for store in stores.wanted:
            k = (store, p)
            vs = (f"; **{med('per_span', *k) / med('per_span', 'sqlite', p):.2f}x SQLite**"
                  if store != "sqlite" and ("sqlite", p) in out else "")
            rows.append((f"P={p}", STORE_NAMES[store], f"{med('per_span', *k):.1f} children/s",
                         f"track jobs' span {t_str(med('span', *k))} for {n} children{vs}; "
                         f"command {t_str(med('wall', *k))} (mlflow_setup "
                         f"{t_str(med('setup', *k))}); per track job {t_str(med('job', *k))}: "
                         f"import mlflow {t_str(med('import', *k))}, sync_sweep "
                         f"{t_str(med('sync', *k))}, its children {med('child_ms', *k):.1f} ms "
                         f"each via {out[k][-1]['via']}; load "
                         + ", ".join(r["load"] for r in out[k])))
            rows.append((f"P={p}", f"{STORE_NAMES[store]}: re-sync, nothing to write",
                         t_str(med("again_span", *k)),
                         f"track jobs' span; sync_sweep {t_str(med('again_sync', *k))} a sweep "
                         f"of {n_runs}; command {t_str(med('again_wall', *k))}"))
    for note in stores.notes:
        rows.append(("note", note, "", ""))
    machine.finish()
    print()
    print("\n".join(table))
    print()
    print_table(rows)
    if not a.no_save:
        preamble = (
            f"{n_sweeps} sweeps of {n_runs} runs of {a.epochs} epochs (moons under "
            f"{n_sweeps} names, logistic regression), made once by the pipeline; each "
            "measurement: a fresh store and experiment, `snakemake --cores P` (mlflow_setup "
            f"and {n_sweeps} track jobs), the counts checked with SQL, then `--forcerun "
            f"track` (nothing to write); {reps} interleaved repeat(s), medians. PostgreSQL: "
            f"tests/_services.py, fsync=off; mlflow server --workers {a.server_workers}. "
            "Children per second over the track jobs' span (Snakemake's records):\n\n"
            + "\n".join(table))
        save_results("tracking_throughput.py", rows, machine, argv=argv, quick=a.quick,
                     preamble=preamble, results=a.results)
    clean_up(work, a.keep)
    return 0


if __name__ == "__main__":
    sys.exit(main())
