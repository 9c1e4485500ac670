#!/usr/bin/env python
"""The largest grid tried: a 100 x 100 grid end to end, every child in MLflow, on SQLite and
on an MLflow server on PostgreSQL.

Run from the repository root::

    .venv/bin/python benchmarks/largest_grid.py                    # 100 lr x 100 l2, both stores
    .venv/bin/python benchmarks/largest_grid.py --stores sqlite    # SQLite only (minutes)
    .venv/bin/python benchmarks/largest_grid.py --lr 10 --l2 10    # a quick check

One sweep, logistic regression on moons, ``--lr`` learning rates (log-spaced, 0.001 to 10)
x ``--l2`` values of l2 (0 and log-spaced 0.0001 to 0.1), ``--epochs`` epochs, gd, in a
fresh copy per store, ``snakemake --cores 2`` from nothing. Stores: ``sqlite`` (the
default ``mlflow.db``) and ``server`` (``mlflow server --workers 4`` on PostgreSQL with
proxied artifacts, started as the tests start it: ``tests/_services.py``; the Debian
``postgresql`` package and ``psycopg2-binary``). Reported per store: the wall time, the
track job's time and its children per second (its log), and the check: the sweep's track
record lists one child per run, and the store holds exactly that many active complete
children under one complete parent (read back with MlflowClient).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "tests"))
import _records as R  # noqa: E402
import _workflow as W  # noqa: E402
from _machine import Machine, add_run_args, clean_up, print_table, save_results, t_str  # noqa: E402

SWEEP = ("moons", "logistic_regression")


def grid_config(n_lr: int, n_l2: int, epochs: int, uri: str) -> dict:
    grid = {"lr": W.geo_axis(1e-3, 10.0, n_lr), "optimizer": ["gd"], "l2": W.l2_axis(n_l2),
            "epochs": [epochs]}
    cfg = W.one_sweep(W.REPO, {"grid": grid}, f"gdlab-grid-{n_lr}x{n_l2}", *SWEEP)
    cfg["mlflow"] = {**cfg.get("mlflow", {}), "tracking_uri": uri}
    return cfg


def store_check(uri: str, record: dict, n: int) -> str:
    """The store holds one complete parent and ``n`` active complete children of the sweep."""
    from mlflow import MlflowClient
    from mlflow.entities import ViewType

    client = MlflowClient(uri)
    runs, token = [], None
    while True:
        page = client.search_runs([record["experiment_id"]], "tags.`gdlab.sweep` = "
                                  f"'{SWEEP[0]}/{SWEEP[1]}'", run_view_type=ViewType.ACTIVE_ONLY,
                                  max_results=1000, page_token=token)
        runs += page
        token = page.token
        if not token:
            break
    roles = [r.data.tags.get("gdlab.role") for r in runs]
    complete = sum(r.data.tags.get("gdlab.complete") == "true" for r in runs)
    names = {r.data.tags.get("gdlab.run") for r in runs if r.data.tags.get("gdlab.role") == "run"}
    ok = (roles.count("sweep") == 1 and roles.count("run") == n == len(names)
          == len(record["children"]) and complete == n + 1)
    return (f"{'ok' if ok else 'NOT OK'}: {roles.count('run')} children ({len(names)} runs), "
            f"{roles.count('sweep')} parent, {complete} complete; the track record lists "
            f"{len(record['children'])}")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--lr", type=int, default=100, help="learning rates (default 100)")
    ap.add_argument("--l2", type=int, default=100, help="values of l2 (default 100)")
    ap.add_argument("--epochs", type=int, default=20, help="epochs of every run (default 20)")
    ap.add_argument("--stores", default="sqlite,server", help="sqlite,server (default both)")
    add_run_args(ap)
    a = ap.parse_args(argv)
    n = a.lr * a.l2
    work = Path(a.workdir or tempfile.mkdtemp(prefix="gdlab-largest-grid-")).resolve()
    machine = Machine({"grid": f"{a.lr} lr x {a.l2} l2 = {n} runs of {a.epochs} epochs"})
    machine.print()
    rows = []
    for store in a.stores.split(","):
        with contextlib.ExitStack() as stack:
            if store == "server":
                import _services

                pg = stack.enter_context(_services.postgres())
                uri = stack.enter_context(_services.mlflow_server(
                    work / "server", pg.createdb("mlflow"), workers=4))
            else:
                uri = "sqlite:///mlflow.db"
            root = W.make_copy(work / store, grid_config(a.lr, a.l2, a.epochs, uri))
            r = W.snakemake(root, "--cores", "2", timeout=6 * 3600)
            log = (root / "logs" / "track" / SWEEP[0] / f"{SWEEP[1]}.log").read_text()
            sync = R.sync_line(log)
            sweep_dir = root / "results" / SWEEP[0] / SWEEP[1]
            record = json.loads((sweep_dir / "mlflow.json").read_text())
            with contextlib.chdir(root):
                check = store_check(uri, record, n)
            created, seconds = sync["created"], sync["seconds"]
            rows += [(store, "from nothing, --cores 2", t_str(r["wall"]), ""),
                     (store, "the track job's sync", t_str(seconds),
                      f"{created} children, {created / seconds:.0f} children/s"),
                     (store, "the store", "ok" if check.startswith("ok") else "NOT OK", check)]
            print(f"{store}: {r['wall']:.0f} s; {check}", flush=True)
    machine.finish()
    print_table(rows)
    if not a.no_save:
        save_results("largest_grid.py", rows, machine, argv=argv, results=a.results)
    clean_up(work, a.keep)
    return 0 if all(row[2] != "NOT OK" for row in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
