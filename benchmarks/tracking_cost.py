#!/usr/bin/env python
"""What a child run costs to log on SQLite: gdlab's one-transaction path vs MlflowClient.

Run from the repository root::

    .venv/bin/python benchmarks/tracking_cost.py            # 200 runs x 100 epochs, 3 repeats
    .venv/bin/python benchmarks/tracking_cost.py --quick --no-save   # 50 runs, 1 repeat

The records are real: a moons split (gdlab.data, 400 samples) and N logistic-regression
runs of E epochs (lr from 1e-3 to 1, l2 0 or 1e-3; no early stop, no divergence, so every
run has E epochs), each trained and written by ``gdlab.train.train_run`` into a sweep
directory as a train job writes it, then read back with ``gdlab.tracking.load_runs``. Each
child holds what gdlab logs: params, tags, ``train_objective``/``val_loss``/
``val_accuracy`` per epoch, the final metrics, the dataset input, the run's four files as
artifacts.

Every repeat, interleaved, each in a fresh SQLite store made by
``gdlab.tracking.setup_experiment`` (not timed):

- ``write_children_sql``: one SQLAlchemy transaction for all N children with MLflow's table
  definitions (files hard-linked into the artifact store): the path of PostgreSQL;
- ``SqliteAccess.write_children``: the same rows with the stdlib ``sqlite3``, one
  transaction, no mlflow (the path of a SQLite store, ``gdlab.mlflow_sql``);
- ``write_children_with_client``: the same records through MlflowClient's calls
  (``create_run``, ``log_batch``, ``log_inputs``, ``log_artifact``, ``set_terminated``);
- ``sync_shard``: what a track_shard job does after its imports: search the store, plan,
  open the parent, build the records (``child_record``: reads history.csv), the dataset
  input, and the write; on SQLite (sqlite3) and, forced, through MLflow as any other
  store is synced.

The imports a job pays (``mlflow``, ``gdlab.tracking``) are timed in fresh processes.

Reported: ms per child (median over repeats), and the client path / fast path ratio.
Target: <= 25 ms per child on the fast path (issue 10), with the default per-epoch
metrics and artifacts. The records' build (``child_record``) is timed apart.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _workflow as W  # noqa: E402
from _machine import Machine, add_run_args, median, print_table, save_results, t_str  # noqa: E402

try:
    import gdlab  # noqa: F401
except ImportError:  # pragma: no cover
    sys.path.insert(0, str(W.REPO / "src"))

DATASET, MODEL = "moons", "logistic_regression"


def build_runs(work: Path, n_runs: int, epochs: int):
    """A split and ``n_runs`` trained runs written as a train job writes them."""
    import numpy as np

    from gdlab import grid as G
    from gdlab import tracking as T
    from gdlab.data import make_synthetic, save_split, split_dataset
    from gdlab.train import train_run

    split = split_dataset(make_synthetic("moons", 400, 2, 0.2, 1), test_size=0.2,
                         val_size=0.2, seed=42, stratify=True, standardize=True)
    split_path = work / "data" / DATASET / "split.npz"
    split_path.parent.mkdir(parents=True, exist_ok=True)
    save_split(split_path, split)
    sweep_dir = work / "results" / DATASET / MODEL
    grid = {"lr": [float(f"{x:.6g}") for x in np.geomspace(1e-3, 1.0, -(-n_runs // 2))],
            "l2": [0.0, 1e-3], "epochs": [epochs], "optimizer": ["gd"]}
    entries = {}
    for hp in G.expand_grid(grid, MODEL)[:n_runs]:
        name = G.run_name(hp, grid)
        spec = {"dataset": DATASET, "model": MODEL, "task": "classification",
                "run_name": name, "hyperparameters": hp,
                "seed": G.derive_seed(42, DATASET, MODEL, hp), "data_key": "bench",
                "code_version": "bench"}
        spec["run_key"] = G.stable_hash([spec["seed"], hp])
        _, key = train_run(spec, split, T.run_dir(sweep_dir, name))
        entries[name] = {"run_key": spec["run_key"], "content_key": key}
    return split, split_path, T.load_runs(sweep_dir, entries)


def fresh_store(root: Path):
    """A new SQLite store and experiment in ``root`` (cwd is set there: mlruns/ too)."""
    from mlflow import MlflowClient

    from gdlab import tracking as T

    if root.exists():
        shutil.rmtree(root)
    root.mkdir(parents=True)
    os.chdir(root)  # the store's default artifact root is ./mlruns
    # an absolute URI: MLflow caches a store per URI, so a relative one would reuse the
    # first store whatever the working directory
    uri = f"sqlite:///{root / 'mlflow.db'}"
    exp = T.setup_experiment(uri, "tracking-cost")
    return uri, exp["experiment_id"], MlflowClient(uri)


def count_rows(db: Path) -> tuple[int, int, int, int]:
    con = sqlite3.connect(db)
    try:
        return tuple(con.execute(f"select count(*) from {t}").fetchone()[0]
                     for t in ("runs", "metrics", "params", "tags"))
    finally:
        con.close()


def _sqlite3_write(uri: str, exp_id: str, records, dataset) -> dict:
    """The sqlite3 path's write alone: the children in one transaction, no mlflow."""
    from gdlab import mlflow_sql
    from gdlab import tracking as T

    with mlflow_sql.SqliteStore.transaction(T.sqlite_path(uri)) as con:
        return T.SqliteAccess(con).write_children(exp_id, records, dataset)


def measure(method: str, runs, split, split_path: Path, root: Path) -> dict:
    from gdlab import tracking as T

    uri, exp_id, client = fresh_store(root)
    t0 = time.perf_counter()
    if method.startswith("sync_shard"):
        real = T.writes_sqlite_itself
        if method == "sync_shard_mlflow":  # the path every other store takes
            T.writes_sqlite_itself = lambda _uri: False
        try:
            T.sync_shard(uri, exp_id, DATASET, MODEL, runs, split_path,
                         experiment_name="tracking-cost", commit="bench", log=lambda _m: None)
        finally:
            T.writes_sqlite_itself = real
        build = float("nan")
    else:
        parent = client.create_run(exp_id, run_name=f"{DATASET}/{MODEL}").info.run_id
        t0 = time.perf_counter()
        records = [T.child_record(r, DATASET, MODEL, parent, "bench") for r in runs]
        dataset = T.split_dataset(split, split_path, DATASET)
        build = time.perf_counter() - t0
        t0 = time.perf_counter()
        if method == "sqlite3":
            ids = _sqlite3_write(uri, exp_id, records, dataset)
        else:
            write = (T.write_children_sql if method == "sql" else T.write_children_with_client)
            ids = write(client, exp_id, records, T._dataset_input(dataset))
        assert ids is not None and len(ids) == len(runs), method
    seconds = time.perf_counter() - t0
    rows = count_rows(root / "mlflow.db")
    return {"seconds": seconds, "build": build, "rows": rows}


def import_seconds(module: str) -> float:
    """Import time of ``module`` in a fresh process (what a job pays)."""
    code = f"import time; t = time.perf_counter(); import {module}; " \
           "print(time.perf_counter() - t)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, env={**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true"})
    return float(out.stdout.split()[-1])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="50 runs, 1 repeat")
    ap.add_argument("--runs", type=int, help="children per shard (default 200)")
    ap.add_argument("--epochs", type=int, default=100)
    ap.add_argument("--repeats", type=int, help="interleaved repeats (default 3)")
    add_run_args(ap)
    a = ap.parse_args(argv)
    n_runs = a.runs or (50 if a.quick else 200)
    reps = a.repeats or (1 if a.quick else 3)
    work = Path(a.workdir or tempfile.mkdtemp(prefix="gdlab-tracking-cost-")).resolve()
    work.mkdir(parents=True, exist_ok=True)
    here = os.getcwd()
    machine = Machine()
    machine.print()
    # in fresh processes: what a track_shard job pays before it syncs
    t_import = import_seconds("mlflow")
    t_import_gdlab = import_seconds("gdlab.tracking")
    import mlflow  # noqa: F401 - imported here once: the in-process times below exclude it

    split, split_path, runs = build_runs(work, n_runs, a.epochs)
    # warm-up (not timed): first use of each code path in this process
    for method in ("sql", "sqlite3", "client"):
        measure(method, runs[:3], split, split_path, work / "stores" / f"warmup-{method}")
    methods = ("sql", "sqlite3", "client", "sync_shard", "sync_shard_mlflow")
    out = {m: [] for m in methods}
    loads = []
    for rep in range(reps):
        for m in methods:
            l0 = os.getloadavg()[0]
            res = measure(m, runs, split, split_path, work / "stores" / f"{m}-{rep}")
            out[m].append(res)
            loads.append(f"{l0:.2f}->{os.getloadavg()[0]:.2f}")
            print(f"repeat {rep + 1}/{reps}: {m}: {1000 * res['seconds'] / n_runs:.1f} ms per "
                  f"child (load {loads[-1]})", flush=True)
    os.chdir(here)
    per = {m: median([r["seconds"] for r in v]) / n_runs for m, v in out.items()}
    build = median([r["build"] for r in out["sql"]]) / n_runs

    def repeats(m: str) -> str:
        return f"{reps} repeats: " + ", ".join(f"{1000 * r['seconds'] / n_runs:.1f}"
                                               for r in out[m])

    def target(m: str) -> str:
        return f"; target <= 25 ms: {'met' if per[m] <= 0.025 else 'MISSED'}"

    counts = {m: out[m][-1]["rows"] for m in ("sql", "sqlite3", "client")}
    rows = [
        ("per child", "write_children_sql (one transaction, SQLAlchemy)",
         f"{1000 * per['sql']:.1f} ms", repeats("sql") + target("sql")),
        ("per child", "SqliteAccess.write_children (one transaction, sqlite3, no mlflow)",
         f"{1000 * per['sqlite3']:.1f} ms", repeats("sqlite3") + target("sqlite3")),
        ("per child", "write_children_with_client (MlflowClient calls)",
         f"{1000 * per['client']:.1f} ms",
         repeats("client") + f"; **{per['client'] / per['sql']:.1f}x the SQLAlchemy path**"),
        ("per child", "sync_shard, whole, on SQLite (sqlite3: search, plan, parent, records, "
         "write)", f"{1000 * per['sync_shard']:.1f} ms",
         repeats("sync_shard") + target("sync_shard")),
        ("per child", "sync_shard, whole, through MLflow (client + SQLAlchemy: other stores)",
         f"{1000 * per['sync_shard_mlflow']:.1f} ms",
         repeats("sync_shard_mlflow") + target("sync_shard_mlflow")),
        ("per child", "building the records (child_record, dataset input)",
         f"{1000 * build:.1f} ms", "not in the write times above; in sync_shard's"),
        ("store", "rows written: runs, metrics, params, tags",
         ", ".join(map(str, counts["sql"])),
         f"SQLAlchemy path (last repeat); sqlite3 path: {', '.join(map(str, counts['sqlite3']))}"
         f"; client path: {', '.join(map(str, counts['client']))} "
         f"({'same' if len(set(counts.values())) == 1 else 'DIFFERENT'})"),
        ("setup", "import mlflow, fresh process (a track_shard job through MLflow)",
         t_str(t_import), "not paid by a track_shard job on SQLite"),
        ("setup", "import gdlab.tracking, fresh process (every track_shard job)",
         t_str(t_import_gdlab), "NumPy and gdlab"),
        ("setup", "load average per measurement (1 min)", "", "; ".join(loads)),
    ]
    machine.finish()
    print()
    print_table(rows)
    if not a.no_save:
        save_results("tracking_cost.py", rows, machine, argv=argv, quick=a.quick,
                       preamble=f"{n_runs} child runs of {a.epochs} epochs (moons, logistic "
                                f"regression), SQLite, {reps} interleaved repeats.",
                       results=a.results)
    if not a.keep:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
