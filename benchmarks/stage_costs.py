#!/usr/bin/env python
"""Where a sweep's time goes, stage by stage, beside what each stage needs at the least.

Run from the repository root::

    PYTHONPATH=src .venv/bin/python benchmarks/stage_costs.py              # 1000 points
    PYTHONPATH=src .venv/bin/python benchmarks/stage_costs.py --size 200 --no-save

A fresh copy of the workflow runs one sweep of ``--size`` points (``before_after.py``'s
sweep: moons x logistic regression, lr x l2, 100 epochs) with ``--cores 2``, from nothing.
Every rule's ``benchmark:`` records are merged by the ``costs`` job into
``results/costs.csv`` (``gdlab.costs``); this script sums them per rule and puts beside
each the floor of that stage, measured here in the same run:

* **train**: the same fits in one process, nothing written (``gdlab.train.fit_run``);
* **track**: the sweep's metric rows inserted into a table of MLflow's ``metrics`` shape
  with one ``executemany`` (SQLite, a fresh file), the store's own write at its fastest;
* **plot, lesson**: importing ``matplotlib.pyplot`` (a job's fixed cost);
* **the rest**: a Python process that imports NumPy (a job's fixed cost);
* **Snakemake**: the same DAG's no-op (``snakemake -n`` after the run), its own planning.

Reported: per rule its jobs, summed job seconds, the floor and their ratio, and the wall
time of the whole run. Summed job seconds exceed the wall time: two jobs run at a time.
"""

from __future__ import annotations

import argparse
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _workflow as W  # noqa: E402
from _machine import Machine, add_run_args, clean_up, print_table, save_results  # noqa: E402
from before_after import sweep_config  # noqa: E402

SWEEP = Path("results") / "moons" / "logistic_regression"


def fit_floor(root: Path) -> float:
    """Seconds to fit every run of the sweep in this process, writing nothing."""
    from gdlab.data.core import load_split
    from gdlab.io import read_json
    from gdlab.runfiles import manifest_runs
    from gdlab.train import fit_run

    split = load_split(root / "data" / "moons" / "split.npz")
    names = manifest_runs(sorted((root / SWEEP).glob("shards/*.json")))
    specs = [read_json(root / SWEEP / "runs" / name / "metrics.json") for name in names]
    start = time.perf_counter()
    for spec in specs:
        fit_run(spec, split)
    return time.perf_counter() - start


def insert_floor(root: Path) -> tuple[float, int]:
    """Seconds for one ``executemany`` of the store's metric rows into a fresh SQLite
    table of MLflow's ``metrics`` shape, and the number of rows."""
    con = sqlite3.connect(root / "mlflow.db")
    rows = con.execute("SELECT key, value, timestamp, run_uuid, step, is_nan "
                       "FROM metrics").fetchall()
    con.close()
    with tempfile.TemporaryDirectory() as tmp:
        out = sqlite3.connect(Path(tmp) / "floor.db")
        out.execute("CREATE TABLE metrics (key VARCHAR(250), value FLOAT, timestamp BIGINT, "
                    "run_uuid VARCHAR(32), step BIGINT, is_nan BOOLEAN, "
                    "PRIMARY KEY (key, timestamp, step, run_uuid, value, is_nan))")
        start = time.perf_counter()
        with out:
            out.executemany("INSERT INTO metrics VALUES (?, ?, ?, ?, ?, ?)", rows)
        seconds = time.perf_counter() - start
        out.close()
    return seconds, len(rows)


def import_floor(module: str) -> float:
    """Seconds for a fresh Python process to import ``module`` (a job's fixed cost)."""
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", f"import {module}"], check=True)
    return time.perf_counter() - start


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--size", type=int, default=1000, help="points of the sweep (default 1000)")
    add_run_args(ap)
    args = ap.parse_args()
    machine = Machine({"sweep": f"{args.size} points, --cores 2"})
    machine.print()
    work = Path(args.workdir or tempfile.mkdtemp(prefix="gdlab-stage-costs-"))
    root = work / "sweep"
    W.make_copy(root, sweep_config(args.size, W.REPO))
    wall = W.snakemake(root, "--cores", "2")["wall"]
    noop = W.snakemake(root, "-n")["wall"]
    sys.path.insert(0, str(root / "src"))
    from gdlab import costs

    by_rule = costs.by_rule(costs.read_records(root / costs.BENCHMARK_DIR))
    python_floor, mpl_floor = import_floor("numpy"), import_floor("matplotlib.pyplot")
    fit_s = fit_floor(root)
    insert_s, n_rows = insert_floor(root)
    floors = {"train": (fit_s, "the same fits in one process, no files"),
              "track": (insert_s, f"{n_rows} metric rows, one executemany"),
              "plot": (mpl_floor, "import matplotlib.pyplot"),
              "lesson": (mpl_floor, "import matplotlib.pyplot")}
    rows = [("whole", "from nothing, wall", f"{wall:.1f} s", f"{args.size} points"),
            ("whole", "no-op (snakemake -n)", f"{noop:.2f} s", "Snakemake's own planning")]
    for rule, entry in sorted(by_rule.items(), key=lambda kv: -kv[1]["seconds"]):
        floor, what = floors.get(rule, (python_floor * entry["jobs"], "a process with NumPy"
                                        " per job"))
        rows.append(("by rule", f"{rule} ({entry['jobs']} jobs)", f"{entry['seconds']:.2f} s",
                     f"floor {floor:.2f} s ({what}): {entry['seconds'] / floor:.1f}x"))
    machine.finish()
    print_table(rows)
    if not args.no_save:
        save_results("stage_costs.py", rows, machine, results=args.results)
    clean_up(work, args.keep)


if __name__ == "__main__":
    main()
