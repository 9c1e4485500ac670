#!/usr/bin/env python
"""What logging a child run costs on SQLite, and what a track job's whole sync costs:
MLflow's own tables in one transaction (``SqlStore``) against MlflowClient's calls.

Run from the repository root::

    PYTHONPATH=src .venv/bin/python benchmarks/tracking_cost.py      # 200 runs, 3 repeats
    PYTHONPATH=src .venv/bin/python benchmarks/tracking_cost.py --quick --no-save  # 50, 1
    PYTHONPATH=src .venv/bin/python benchmarks/tracking_cost.py --runs 1000 --before REV \
        --methods sync                       # the track job of this tree beside REV's

The sweep is real and made once by the pipeline, not timed: a fresh copy of the project
with one sweep, moons (config/config.yaml's) x logistic regression, N runs of E epochs
(N/2 learning rates from 1e-3 to 1, l2 0 or 1e-3, gd), run with ``snakemake --cores 2
--omit-from mlflow_setup``: the split, the train shards, the baseline, summarize and the
plot job's figures, everything a track job reads. Each child holds what gdlab logs
(``gdlab.tracking.layout.child_record``): params, tags, the per-epoch curves, the summary
metrics, the split's three dataset inputs, the run's four files as artifacts.

Every repeat, interleaved (the order alternates), each in a fresh SQLite store made by
``gdlab.tracking.setup_experiment`` (not timed): ``bulk`` (``SqlStore.write_children``,
every child in one transaction through MLflow's own tables), ``client``
(``Store.write_children``, MlflowClient's calls: every other store's path), ``sync`` (the
whole ``sync_sweep`` in a fresh process that does what ``workflow/scripts/track.py``
does), ``sync, client`` (the same through MlflowClient's path), ``sync, before`` (with
``--before REV``: ``sync`` with REV's ``src/``, exported with ``git archive``). ``--server
N`` adds ``server`` (and ``server, before``): N children written to ``mlflow server
--workers 4`` on PostgreSQL, proxied artifacts (started as ``tests/_services.py`` does),
by ``open_store(url).write_children`` in a fresh process: children per second, each read
back complete. With ``--before`` and ``bulk``, ``write`` and ``write, before`` time the
children's write alone. ``--methods`` picks some (default all but ``sync, before``, which
``--before`` adds); benchmarks/README.md says more.

The records' build (``child_record``, which reads each history.csv) is timed apart from
the bulk and client writes. ``import mlflow`` and ``import gdlab.tracking`` are timed in
fresh processes. Reported: ms per child (medians), client / bulk, the rows each path
wrote, the whole sync and its own split (its log line: the children's ms each, the
rest), the sync process's imports. Target (issue 10): <= 25 ms per child.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
DATASET, MODEL = "moons", "logistic_regression"
import _records as R  # noqa: E402
import _workflow as W  # noqa: E402
from _machine import Machine, add_run_args, clean_up, median, report, t_str  # noqa: E402

#: the tables a child's rows go to (gdlab.tracking.store.CHILD_TABLES)
TABLES = ("runs", "tags", "params", "metrics", "latest_metrics", "inputs", "input_tags")
METHODS = ("bulk", "client", "sync", "sync, client")
SYNC_LABELS = {"sync": "sync_sweep, whole, as on SQLite (children in one transaction)",
               "sync, client": "sync_sweep, whole, forced through MlflowClient's calls",
               "sync, before": "sync_sweep, whole, as on SQLite, the --before tree"}
def fresh_store(root: Path) -> tuple[str, dict]:
    """A new SQLite store and experiment in ``root``, made as mlflow_setup makes them (the
    working directory is set there: its artifacts go to ``root/mlruns``)."""
    from gdlab import tracking as T

    if root.exists():
        shutil.rmtree(root)
    root.mkdir(parents=True)
    os.chdir(root)
    # an absolute URI: MLflow caches a store per URI, so a relative one would reuse the
    # first store whatever the working directory
    uri = f"sqlite:///{root / 'mlflow.db'}"
    record = T.setup_experiment(uri, "tracking-cost", log=lambda _msg: None)
    return uri, {**record, "project_id": "bench"}


def count_rows(db: Path) -> dict[str, int]:
    con = sqlite3.connect(db)
    try:
        return {t: con.execute(f"select count(*) from {t}").fetchone()[0] for t in TABLES}
    finally:
        con.close()


def write_children(method: str, built: dict, root: Path, limit: int | None = None) -> dict:
    """The children of ``built`` written one way into a fresh store: seconds of the build
    and of the write."""
    from gdlab.baseline import optimum_objective
    from gdlab.data.core import load_split
    from gdlab.runfiles import read_sweep
    from gdlab.runnames import short_names
    from gdlab.tracking import layout as L
    from gdlab.tracking.backends import open_store
    from gdlab.tracking.sql import SqlStore
    from gdlab.tracking.store import Store, now_ms
    from gdlab.tracking.sync import split_inputs, top_runs

    uri, record = fresh_store(root)
    exp_id = record["experiment_id"]
    store = open_store(uri)
    assert isinstance(store, SqlStore), type(store)
    sweep = read_sweep(built["dir"], built["manifests"])  # a fresh read: histories not cached
    runs = sweep.runs[:limit]
    parent = store.create_run(exp_id, f"{DATASET}/{MODEL}", now_ms(), {})
    datasets = split_inputs(load_split(built["split"]), built["split"], DATASET)
    store.log_inputs(parent, datasets)
    t0 = time.perf_counter()
    names = short_names([r.result for r in sweep.runs])
    top = top_runs(sweep)
    records = [L.child_record(r, names[r.name], parent, "bench", "bench",
                              optimum_objective(sweep.baseline, r.hyperparameters),
                              r.name in top) for r in runs]
    build = time.perf_counter() - t0
    write = SqlStore.write_children if method == "bulk" else Store.write_children
    t0 = time.perf_counter()
    ids = write(store, exp_id, records, datasets)
    seconds = time.perf_counter() - t0
    assert len(ids) == len(runs), method
    return {"seconds": seconds, "build": build, "rows": count_rows(root / "mlflow.db")}


def sync(method: str, built: dict, root: Path, n_runs: int, src: Path = W.REPO / "src") -> dict:
    """The whole sync_sweep of ``built`` in a fresh process, as a track job runs it, with
    the code of ``src``."""
    uri, record = fresh_store(root)
    spec = {"uri": uri, "record": record, "sweep": str(built["dir"]),
            "manifests": [str(m) for m in built["manifests"]], "split": str(built["split"]),
            "figures": [str(f) for f in built["figures"]], "method": built["method"],
            "client": method == "sync, client", "locks": str(root / "locks")}
    res, process = W.worker(__file__, "--sync-worker", spec, root / "sync.json", src, root)
    line = R.sync_line("\n".join(res["log"]))
    if line is None or line["created"] != n_runs:
        raise RuntimeError(f"{method}: sync_sweep did not create {n_runs} children: "
                           f"{res['log']}")
    return {**res, "process": process, "line": line,
            "rows": count_rows(root / "mlflow.db")}


def server(method: str, built: dict, url: str, n_runs: int, src: Path,
           cwd: Path | None = None) -> dict:
    """``n_runs`` children written to the store at ``url`` (a server, or a fresh SQLite
    file) by the code of ``src``."""
    path = Path(tempfile.mkstemp(suffix=".json")[1])
    try:
        res, _ = W.worker(__file__, "--server-worker", {
            "url": url, "sweep": str(built["dir"]), "n": n_runs, "split": str(built["split"]),
            "manifests": [str(m) for m in built["manifests"]]}, path, src, cwd)
    finally:
        path.unlink()
    if res["complete"] != n_runs:
        raise RuntimeError(f"{method}: {res['complete']} of {n_runs} children complete")
    return res


def server_worker(spec_path: str) -> int:
    """A parent and its inputs, then ``n`` children through the store's write_children."""
    spec = json.loads(Path(spec_path).read_text())
    from mlflow import MlflowClient

    from gdlab.data.core import load_split
    from gdlab.runfiles import read_sweep
    from gdlab.tracking import layout as L
    from gdlab.tracking.backends import open_store
    from gdlab.tracking.store import now_ms
    from gdlab.tracking.sync import split_inputs
    from gdlab.tracking.uri import fail_fast_http

    fail_fast_http()
    client = MlflowClient(spec["url"])
    experiment_id = client.create_experiment(f"server-{time.time_ns()}")
    store = open_store(spec["url"])
    runs = read_sweep(spec["sweep"], spec["manifests"]).runs[:spec["n"]]
    datasets = split_inputs(load_split(spec["split"]), Path(spec["split"]), DATASET)
    parent = store.create_run(experiment_id, f"{DATASET}/{MODEL}", now_ms(), {})
    store.log_inputs(parent, datasets)
    records = [L.child_record(r, r.name, parent, "bench", "bench", None, False) for r in runs]
    t0 = time.perf_counter()
    store.write_children(experiment_id, records, datasets)
    seconds = time.perf_counter() - t0
    done = [r for r in client.search_runs([experiment_id], max_results=len(runs) + 1)
            if r.data.tags.get(L.COMPLETE_TAG) == "true"
            and r.info.status in ("FINISHED", "FAILED")]
    print(json.dumps({"seconds": seconds, "per_s": len(runs) / seconds,
                      "complete": len(done)}))
    return 0


def sync_worker(spec_path: str) -> int:
    """What workflow/scripts/track.py does, timed: imports, the sweep read, the sync."""
    t0 = time.perf_counter()
    spec = json.loads(Path(spec_path).read_text())
    from gdlab import tracking

    t_gdlab = time.perf_counter()
    import mlflow  # noqa: F401 - a job's one fixed cost, timed apart as track.py does

    t_mlflow = time.perf_counter()
    from gdlab.runfiles import read_sweep

    if spec["client"]:  # the path of a store that is not SQL
        from gdlab.tracking import store as S
        from gdlab.tracking import sync as sync_module

        sync_module.open_store = S.Store
    sweep = read_sweep(spec["sweep"], spec["manifests"])
    t_read = time.perf_counter()
    messages: list[str] = []
    with tracking.track_lock(spec["uri"], spec["locks"]):
        t_locked = time.perf_counter()
        tracking.sync_sweep(spec["uri"], spec["record"], spec["record"]["project_id"], sweep,
                            spec["split"], [Path(p) for p in spec["figures"]],
                            method=spec["method"], register_model=True, log=messages.append)
    t_end = time.perf_counter()
    print(json.dumps({"import_gdlab": t_gdlab - t0, "import_mlflow": t_mlflow - t_gdlab,
                      "read": t_read - t_mlflow, "sync": t_end - t_locked,
                      "in_process": t_end - t0, "log": messages}))
    return 0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="50 runs, 1 repeat")
    ap.add_argument("--runs", type=int, help="children (default 200, even)")
    ap.add_argument("--epochs", type=int, default=100)
    ap.add_argument("--repeats", type=int, help="interleaved repeats (default 3)")
    ap.add_argument("--before", help="git revision whose track job is measured beside")
    ap.add_argument("--methods", help=f"some of: {', '.join(METHODS)} (default all)")
    ap.add_argument("--server", type=int, help="children written to an MLflow server")
    ap.add_argument("--sync-worker", help=argparse.SUPPRESS)
    ap.add_argument("--server-worker", help=argparse.SUPPRESS)
    add_run_args(ap)
    a = ap.parse_args(argv)
    if a.sync_worker:
        return sync_worker(a.sync_worker)
    if a.server_worker:
        return server_worker(a.server_worker)
    n_runs = a.runs or (50 if a.quick else 200)
    reps = a.repeats or (1 if a.quick else 3)
    work = Path(a.workdir or tempfile.mkdtemp(prefix="gdlab-tracking-cost-")).resolve()
    work.mkdir(parents=True, exist_ok=True)
    here = os.getcwd()
    os.environ["MLFLOW_DISABLE_TELEMETRY"] = "true"
    os.environ.pop("MLFLOW_TRACKING_URI", None)
    methods = tuple(a.methods.split(",") if a.methods else METHODS)
    methods = tuple(m.strip() for m in methods) + (("sync, before",) if a.before else ())
    if a.server:
        methods += ("server", "server, before") if a.before else ("server",)
    if a.before and "bulk" in methods:  # the write alone, each tree in its own process
        methods += ("write", "write, before")
    before_src = W.export_tree(a.before, work / "before") / "src" if a.before else None
    machine = Machine()
    machine.print()
    t_import = W.import_seconds("mlflow")
    t_import_gdlab = W.import_seconds("gdlab.tracking")
    t0 = time.perf_counter()
    project = W.make_copy(work / "project", W.one_sweep(W.REPO, W.gd_grid(n_runs, a.epochs),
                                                        "gdlab-tracking-cost"))
    W.snakemake(project, "--cores", "2", "--omit-from", "mlflow_setup", timeout=3600)
    built = W.finished_sweep(project)
    n = len(list((built["dir"] / "runs").rglob("metrics.json")))
    print(f"made a sweep of {n} runs up to its figures with the pipeline in "
          f"{time.perf_counter() - t0:.1f} s", flush=True)
    import mlflow  # noqa: F401 - imported once: the in-process writes exclude it

    for method in ("bulk", "client"):  # warm-up (not timed): each path's first use
        if method in methods:
            write_children(method, built, work / "stores" / f"warmup-{method}", limit=3)
    out: dict[str, list[dict]] = {m: [] for m in methods}
    loads = []
    stack = contextlib.ExitStack()
    if a.server:
        sys.path.insert(0, str(W.REPO / "tests"))
        import _services

        url = stack.enter_context(_services.mlflow_server(
            work / "server", stack.enter_context(_services.postgres()).createdb("mlflow"),
            workers=4))
    for rep in range(reps):
        for m in (methods if rep % 2 == 0 else methods[::-1]):
            l0 = os.getloadavg()[0]
            root = work / "stores" / f"{m.replace(', ', '-')}-{rep}"
            if m.startswith("write"):
                root = work / "stores" / f"{m.replace(', ', '-')}-{rep}"
                root.mkdir(parents=True)
                res = server(m, built, f"sqlite:///{root / 'mlflow.db'}", n,
                             before_src if m.endswith("before") else W.REPO / "src", root)
                out[m].append(res)
                print(f"repeat {rep + 1}/{reps}: {m}: {t_str(res['seconds'])}", flush=True)
                continue
            if m.startswith("server"):
                res = server(m, built, url, a.server,
                             before_src if m.endswith("before") else W.REPO / "src")
                out[m].append(res)
                print(f"repeat {rep + 1}/{reps}: {m}: {res['per_s']:.2f} children/s",
                      flush=True)
                continue
            res = (write_children(m, built, root) if m in ("bulk", "client")
                   else sync(m, built, root, n, before_src) if m == "sync, before"
                   else sync(m, built, root, n))
            out[m].append(res)
            loads.append(f"{m} {l0:.2f}->{os.getloadavg()[0]:.2f}")
            took = res["seconds"] if "seconds" in res else res["sync"]
            print(f"repeat {rep + 1}/{reps}: {m}: {t_str(took)}, {1000 * took / n:.1f} ms per "
                  f"child (load {loads[-1]})", flush=True)
            if not a.keep:
                shutil.rmtree(root, ignore_errors=True)
    stack.close()
    os.chdir(here)
    def repeats(m: str, key: str = "seconds") -> str:
        return f"{reps} repeat(s): " + ", ".join(f"{1000 * r[key] / n:.1f}" for r in out[m])

    def target(ms: float) -> str:
        return f"; target <= 25 ms: {'met' if ms <= 25 else 'MISSED'}"

    rows = []
    per = {m: median([r["seconds"] for r in out[m]]) / n for m in ("bulk", "client")
           if m in out}
    if "bulk" in per:
        rows.append(("per child", "SqlStore.write_children (one transaction through MLflow's "
                     "tables)", f"{1000 * per['bulk']:.1f} ms",
                     repeats("bulk") + target(1000 * per["bulk"])))
    if "client" in per:
        rows.append(("per child", "Store.write_children (MlflowClient's calls)",
                     f"{1000 * per['client']:.1f} ms", repeats("client") + (
                         f"; **{per['client'] / per['bulk']:.1f}x the one transaction**"
                         if "bulk" in per else "")))
    if per:
        build = median([r["build"] for m in per for r in out[m]]) / n
        rows.append(("per child", "building the records (child_record: reads history.csv)",
                     f"{1000 * build:.1f} ms", "apart from the writes above; inside "
                     "sync_sweep's"))
    if "bulk" in per and "client" in per:
        counts = {m: out[m][-1]["rows"] for m in per}
        differ = [t for t in TABLES if counts["bulk"][t] != counts["client"][t]]
        rows.append(("store", "rows written: " + ", ".join(TABLES),
                     ", ".join(str(counts["bulk"][t]) for t in TABLES),
                     "one transaction (last repeat); MlflowClient: "
                     + ", ".join(str(counts["client"][t]) for t in TABLES)
                     + (f" (differ in {', '.join(differ)})" if differ else " (the same)")))
    for m in (m for m in ("sync", "sync, client", "sync, before") if m in out):
        res = out[m]
        whole = median([r["sync"] for r in res])
        child = median([r["line"]["ms_per_child"] for r in res])
        rows.append(("track job", SYNC_LABELS[m], t_str(whole),
                     f"{repeats(m, 'sync')} ms per child; its children {child:.1f} ms each "
                     f"via {res[-1]['line']['via']}{target(child)}; the rest (find, plan, "
                     f"parent, figures, best model logged and registered) "
                     f"{t_str(whole - child * n / 1000)}"))
        rows.append(("track job", f"{m}: the process",
                     t_str(median([r["process"] for r in res])),
                     f"import gdlab.tracking {t_str(median([r['import_gdlab'] for r in res]))}"
                     f", import mlflow {t_str(median([r['import_mlflow'] for r in res]))}, "
                     f"read_sweep {t_str(median([r['read'] for r in res]))}, sync_sweep "
                     f"{t_str(whole)}; store rows "
                     + ", ".join(str(res[-1]["rows"][t]) for t in TABLES)))
    if "sync" in out and "sync, before" in out:
        now, before = (median([r["sync"] for r in out[m]]) for m in ("sync", "sync, before"))
        rows.append(("track job", f"sync_sweep, this tree / {a.before}",
                     f"{now / before:.2f}x", f"{t_str(now)} against {t_str(before)}"))
    written = {m: median([r["seconds"] for r in out[m]]) for m in ("write", "write, before")
               if m in out}
    for m, seconds in written.items():
        ratio = (f"; this tree / {a.before}: {seconds / written['write, before']:.2f}x"
                 if m == "write" else "")
        rows.append(("per child", f"{m}: write_children on SQLite, a fresh process",
                     f"{1000 * seconds / n:.2f} ms", f"{reps} repeat(s): " + ", ".join(
                         t_str(r["seconds"]) for r in out[m]) + ratio))
    for m in (m for m in ("server", "server, before") if m in out):
        rows.append(("server", f"{m}: {a.server} children, 4 threads",
                     f"{median([r['per_s'] for r in out[m]]):.2f} /s",
                     f"{reps} repeat(s): " + ", ".join(f"{r['per_s']:.2f}" for r in out[m])
                     + "; mlflow server --workers 4 on PostgreSQL, proxied artifacts"))
    rows += [
        ("setup", "import mlflow, fresh process", t_str(t_import),
         "paid once by every track job (and mlflow_setup)"),
        ("setup", "import gdlab.tracking, fresh process", t_str(t_import_gdlab),
         "no mlflow: the workflow imports it at every start"),
        ("setup", "load average per measurement (1 min)", "", "; ".join(loads)),
    ]
    report("tracking_cost.py", rows, machine, a, argv=argv,
           preamble=f"{n} child runs of {a.epochs} epochs (moons, logistic "
                    f"regression), SQLite, {reps} interleaved repeat(s).")
    clean_up(work, a.keep)
    return 0


if __name__ == "__main__":
    sys.exit(main())
