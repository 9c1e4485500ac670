#!/usr/bin/env python
"""What the sweep views (parallel coordinates, importance) add to a plot job at 1000 runs.

Run from the repository root::

    .venv/bin/python benchmarks/plot_cost.py                 # 1000 runs, 3 repeats
    .venv/bin/python benchmarks/plot_cost.py --quick --no-save   # 200 runs, 1 repeat

Builds, with this checkout's gdlab, two sweeps of logistic regression on moons (400
samples) as the pipeline writes them (runs, summary.csv, configs.csv, best.json,
baseline.json): a **grid** of ``--runs`` points (lr x l2 x epochs) and a **random search**
of as many trials. Then, interleaved, each repeat times a fresh process that does what a
plot job does after Snakemake starts it — import gdlab.plots, read the sweep, draw every
sweep figure and the best run's two figures — for:

- ``before``: the grid with the plots of ``--before`` (a git revision, default
  ``697686a``, the commit before the sweep views; its ``src/`` is exported with
  ``git archive``): heatmap, learning curves, convergence;
- ``after``: the grid with this checkout: the same figures plus the parallel coordinates
  and the importance figure;
- ``after, search``: the random search with this checkout (no heatmap).

Reported: each process's wall time (median over repeats), the difference after - before,
and the time the two new figures took inside the ``after`` job (its ``sweep views`` log).
Target (issue 14): the views add no more than a few seconds at 1000 runs.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _machine import Machine, add_run_args, median, print_table, save_results, t_str  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

#: the plot job's work, in a fresh process; its argv: sweep dir, output dir, drawn (JSON)
DRIVER = r"""
import inspect, json, sys, time
t0 = time.perf_counter()
from gdlab.plots import plot_sweep_files
sweep, out, drawn = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
names = json.load(open(f"{sweep}/names.json"))
logs = []
new = "parallel_coordinates" in inspect.signature(plot_sweep_files).parameters
if new:
    plot_sweep_files(f"{sweep}/split.npz", f"{sweep}/configs.csv", f"{sweep}/best.json",
                     f"{sweep}/baseline.json", sweep, names,
                     None if drawn else f"{out}/heatmap.png", f"{out}/learning_curves.png",
                     f"{out}/convergence.png", f"{out}/parallel_coordinates.png",
                     f"{out}/importance.png", f"{out}/runs", drawn=drawn, log=logs.append)
else:
    plot_sweep_files(f"{sweep}/split.npz", f"{sweep}/summary.csv", f"{sweep}/best.json",
                     f"{sweep}/baseline.json", sweep, names, f"{out}/heatmap.png",
                     f"{out}/learning_curves.png", f"{out}/convergence.png", f"{out}/runs",
                     log=logs.append)
print(json.dumps({"log": logs[-1], "in_process": time.perf_counter() - t0}))
"""


def build_sweep(root: Path, n_runs: int, search: bool) -> dict:
    """A split, ``n_runs`` trained runs and the sweep's tables, written as the pipeline
    writes them; returns the search's drawn axes (empty for the grid)."""
    import numpy as np

    from gdlab import grid as G
    from gdlab import summary as S
    from gdlab.baseline import baseline
    from gdlab.data import make_synthetic, save_split, split_dataset
    from gdlab.io import write_json, write_text
    from gdlab.runfiles import run_dir
    from gdlab.train import train_run

    split = split_dataset(make_synthetic("moons", 400, 2, 0.15, seed=1), test_size=0.2,
                          val_size=0.2, seed=2, stratify=True, standardize=True)
    root.mkdir(parents=True)
    save_split(root / "split.npz", split)
    side = round(n_runs ** (1 / 3))
    if search:
        spec = {"search": {"method": "random", "n_trials": n_runs, "seed": 1, "space": {
            "lr": {"loguniform": [1e-3, 100.0]}, "l2": {"choice": [0.0, 0.001, 0.01, 0.1]},
            "epochs": {"int": [10, 100]}, "optimizer": {"choice": ["gd", "momentum"]}}}}
    else:
        spec = {"grid": {"lr": np.logspace(-3, 2, side).tolist(),
                         "l2": [0.0, *np.logspace(-4, -1, side - 1).tolist()],
                         "epochs": np.linspace(10, 100, n_runs // side**2,
                                               dtype=int).tolist()}}
    config = {"seed": 3, "datasets": {"moons": {"task": "classification"}},
              "models": {"logistic_regression": spec}}
    specs = G.run_specs(config, "moons", "logistic_regression", "bench", "bench")
    runs = [train_run(s, split, run_dir(root, name))[0] for name, s in specs.items()]
    base = baseline(split, "logistic_regression", [r["hyperparameters"] for r in runs])
    best = S.select_best(runs, "log_loss")
    write_json(root / "baseline.json", base)
    write_text(root / "summary.csv", S.to_csv(S.sweep_table(runs, base, best)))
    write_text(root / "configs.csv", S.to_csv(S.config_table(runs, base, best)))
    write_json(root / "best.json", S.best_record(best, base, "log_loss", "moons",
                                                 "logistic_regression", runs))
    write_json(root / "names.json", sorted(specs))
    return G.drawn_axes(spec)


def export_src(rev: str, dest: Path) -> Path:
    """``src/`` of git revision ``rev``, exported to ``dest``."""
    dest.mkdir(parents=True)
    archive = subprocess.run(["git", "-C", str(REPO), "archive", rev, "src"], check=True,
                             capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(dest)], input=archive, check=True)
    return dest / "src"


def plot_job(src: Path, sweep: Path, out: Path, drawn: dict) -> tuple[float, dict]:
    """Wall time of a fresh process drawing the sweep's figures with gdlab from ``src``."""
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    env = {"PYTHONPATH": str(src), "PATH": "/usr/bin:/bin", "MPLBACKEND": "Agg"}
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", DRIVER, str(sweep), str(out),
                           json.dumps(drawn)], env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr[-3000:])
    return wall, json.loads(proc.stdout.strip().splitlines()[-1])


def seconds_of(log: str, kind: str) -> float:
    """``kind`` seconds from a plot_sweep log line (``... sweep views 1.23 s, ...``)."""
    for part in log.split(": ", 1)[1].split(", "):
        if part.startswith(kind + " "):
            return float(part.removeprefix(kind + " ").removesuffix(" s"))
    return float("nan")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="200 runs, 1 repeat")
    ap.add_argument("--runs", type=int, help="runs per sweep (default 1000)")
    ap.add_argument("--repeats", type=int, help="interleaved repeats (default 3)")
    ap.add_argument("--before", default="697686a", help="git revision to compare with")
    add_run_args(ap)
    args = ap.parse_args()
    n_runs = args.runs or (200 if args.quick else 1000)
    repeats = args.repeats or (1 if args.quick else 3)
    machine = Machine()
    machine.print()
    work = Path(tempfile.mkdtemp(prefix="gdlab-plot-cost-", dir=args.workdir))
    try:
        t0 = time.perf_counter()
        build_sweep(work / "grid", n_runs, search=False)
        drawn = build_sweep(work / "search", n_runs, search=True)
        print(f"built two sweeps of {n_runs} runs in {time.perf_counter() - t0:.1f} s")
        before_src = export_src(args.before, work / "before")
        cases = {"before": (before_src, work / "grid", {}),
                 "after": (REPO / "src", work / "grid", {}),
                 "after, search": (REPO / "src", work / "search", drawn)}
        times: dict[str, list[float]] = {k: [] for k in cases}
        views: dict[str, list[float]] = {k: [] for k in cases}
        for i in range(repeats):
            for name, (src, sweep, dr) in cases.items():
                wall, out = plot_job(src, sweep, work / "out" / name.replace(", ", "_"), dr)
                times[name].append(wall)
                views[name].append(seconds_of(out["log"], "sweep views"))
                print(f"repeat {i + 1}, {name}: {wall:.2f} s ({out['log']})")
        machine.finish()
        rows = [(f"{n_runs} runs", f"plot job, {name}", t_str(median(times[name])),
                 f"{repeats} repeats: " + ", ".join(f"{t:.2f}" for t in times[name]))
                for name in cases]
        rows.append((f"{n_runs} runs", "after - before (grid)",
                     t_str(median(times["after"]) - median(times["before"])),
                     "what the sweep views add to a grid's plot job"))
        for name in ("after", "after, search"):
            rows.append((f"{n_runs} runs", f"sweep views inside the job, {name}",
                         t_str(median(views[name])), "parallel coordinates + importance"))
        print()
        print_table(rows)
        if not args.no_save:
            save_results("plot_cost.py", rows, machine, quick=args.quick,
                           results=args.results,
                           preamble=f"Before: gdlab at {args.before}; after: this checkout.")
    finally:
        if args.keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
