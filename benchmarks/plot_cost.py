#!/usr/bin/env python
"""What a plot job costs at 1000 runs, before and after a change (by default: before and
after the sweep views, parallel coordinates and importance).

Run from the repository root::

    .venv/bin/python benchmarks/plot_cost.py                 # 1000 runs, 3 repeats
    .venv/bin/python benchmarks/plot_cost.py --quick --no-save   # 200 runs, 1 repeat

Builds two sweeps of logistic regression on moons with the pipeline itself, in fresh
copies (``snakemake --cores 2 --omit-from mlflow_setup``: data, train shards, baseline,
summarize, plot), so that each revision reads the files its own pipeline writes: a
**grid** of ``--runs`` points (lr x l2 x epochs) with each revision, and with this
checkout a **random search** of as many trials. Then, interleaved (the order alternates),
each repeat times a fresh process that does what a plot job does after Snakemake starts
it — import gdlab's figures, read the sweep, draw every sweep figure and the best run's
two figures — for:

- ``before``: the grid of ``--before`` (a git revision, default ``697686a``, the commit
  before the sweep views; exported with ``git archive``), drawn by its own ``src/``:
  heatmap, learning curves, convergence (``gdlab.plots``);
- ``after``: the grid with this checkout (``gdlab.figures.draw``): the same figures plus
  the parallel coordinates and the importance figure;
- ``after, no views``: the same, without the two views (what they add: after - this);
- ``after, search``: the random search with this checkout (no heatmap).

The driver speaks each API gdlab has had (``gdlab.figures.draw.plot_sweep_files`` with
the shard manifests; ``gdlab.plots.plot_sweep_files`` with and without the views).
Reported: each process's wall time (median over repeats), after - before, after - no
views, and each job's own split (its log: sweep figures, sweep views where they are
timed apart, the best run's figures). Target (issue 14): the views add no more than a few
seconds at 1000 runs.
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
from _machine import Machine, add_run_args, clean_up, median, print_table, save_results, t_str  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))
import _workflow as W  # noqa: E402

#: the plot job's work, in a fresh process; its argv: sweep dir, output dir, drawn (JSON),
#: views ("1": draw the parallel coordinates and the importance figure where the API can)
DRIVER = r"""
import glob, inspect, json, sys, time
t0 = time.perf_counter()
sweep, out, drawn, views = sys.argv[1], sys.argv[2], json.loads(sys.argv[3]), sys.argv[4] == "1"
split = sweep.split("/results/")[0] + "/data/moons/split.npz"
manifests = sorted(glob.glob(f"{sweep}/shards/*.json"))
names = sorted(n for m in manifests for n in json.load(open(m))["runs"])
logs = []
try:
    from gdlab.figures.draw import plot_sweep_files
except ImportError:
    from gdlab.plots import plot_sweep_files
params = inspect.signature(plot_sweep_files).parameters
heatmap = None if drawn else f"{out}/heatmap.png"
if "manifests" in params:  # gdlab.figures.draw
    figures = {"heatmap.png": heatmap, "learning_curves.png": f"{out}/learning_curves.png",
               "convergence.png": f"{out}/convergence.png"}
    if views:
        figures.update({"parallel_coordinates.png": f"{out}/parallel_coordinates.png",
                        "importance.png": f"{out}/importance.png"})
    plot_sweep_files(split, sweep, manifests, figures, f"{out}/runs", drawn=drawn,
                     log=logs.append)
elif "parallel_coordinates" in params:  # gdlab.plots with the views
    plot_sweep_files(split, f"{sweep}/configs.csv", f"{sweep}/best.json",
                     f"{sweep}/baseline.json", sweep, names, heatmap,
                     f"{out}/learning_curves.png", f"{out}/convergence.png",
                     f"{out}/parallel_coordinates.png" if views else None,
                     f"{out}/importance.png" if views else None, f"{out}/runs",
                     drawn=drawn, log=logs.append)
else:  # gdlab.plots before the views
    plot_sweep_files(split, f"{sweep}/summary.csv", f"{sweep}/best.json",
                     f"{sweep}/baseline.json", sweep, names, heatmap,
                     f"{out}/learning_curves.png", f"{out}/convergence.png", f"{out}/runs",
                     log=logs.append)
print(json.dumps({"log": logs[-1], "in_process": time.perf_counter() - t0}))
"""


def build(tree: Path, root: Path, n_runs: int, search: bool) -> tuple[Path, dict]:
    """A grid of about ``n_runs`` points (lr x l2 x epochs), or a random search of
    ``n_runs`` trials, of logistic regression on moons, made by ``tree``'s pipeline up to
    its plots in a fresh copy at ``root``; returns the sweep's directory and the axes its
    plot job draws from a range (``gdlab.grid.drawn_axes``, as the plot rule's params)."""
    import numpy as np

    from gdlab.grid import drawn_axes

    side = round(n_runs ** (1 / 3))
    if search:
        spec = {"search": {"method": "random", "n_trials": n_runs, "seed": 1, "space": {
            "lr": {"loguniform": [1e-3, 100.0]}, "l2": {"choice": [0.0, 0.001, 0.01, 0.1]},
            "epochs": {"int": [10, 100]}, "optimizer": {"choice": ["gd", "momentum"]}}}}
    else:
        spec = {"grid": {"lr": [float(f"{x:.6g}") for x in np.logspace(-3, 2, side)],
                         "l2": [0.0, *(float(f"{x:.6g}") for x in np.logspace(-4, -1, side - 1))],
                         "epochs": [int(x) for x in np.linspace(10, 100, n_runs // side**2)],
                         "optimizer": ["gd"]}}
    W.make_copy(root, W.one_sweep(tree, spec, "gdlab-plot-cost"), tree=tree)
    W.snakemake(root, "--cores", "2", "--omit-from", "mlflow_setup", timeout=3600)
    return root / "results" / "moons" / "logistic_regression", drawn_axes(spec)


def plot_job(src: Path, sweep: Path, out: Path, drawn: dict,
             views: bool) -> tuple[float, dict]:
    """Wall time of a fresh process drawing the sweep's figures with gdlab from ``src``."""
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    env = {"PYTHONPATH": str(src), "PATH": "/usr/bin:/bin", "MPLBACKEND": "Agg"}
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", DRIVER, str(sweep), str(out),
                           json.dumps(drawn), "1" if views else "0"], env=env,
                          capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr[-3000:])
    return wall, json.loads(proc.stdout.strip().splitlines()[-1])


def seconds_of(log: str, kind: str) -> float:
    """``kind`` seconds from a plot job's log line (``... sweep figures 1.23 s, ...``)."""
    for part in log.split(": ", 1)[1].split(", "):
        if part.startswith(kind + " "):
            return float(part.removeprefix(kind + " ").removesuffix(" s"))
    return float("nan")


KINDS = ("sweep figures", "sweep views", "run figures")


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
        before_tree = W.export_tree(args.before, work / "before-tree")
        before, _ = build(before_tree, work / "before", n_runs, search=False)
        grid, _ = build(REPO, work / "grid", n_runs, search=False)
        search, drawn = build(REPO, work / "search", n_runs, search=True)
        n_grid = len(list((grid / "runs").rglob("metrics.json")))
        print(f"built the grids ({n_grid} runs) and the search with the pipeline in "
              f"{time.perf_counter() - t0:.1f} s", flush=True)
        cases = {"before": (before_tree / "src", before, {}, True),
                 "after": (REPO / "src", grid, {}, True),
                 "after, no views": (REPO / "src", grid, {}, False),
                 "after, search": (REPO / "src", search, drawn, True)}
        times: dict[str, list[float]] = {k: [] for k in cases}
        parts: dict[str, dict[str, list[float]]] = {k: {p: [] for p in KINDS} for k in cases}
        for i in range(repeats):
            order = list(cases) if i % 2 == 0 else list(cases)[::-1]
            for name in order:
                src, sweep, dr, views = cases[name]
                out_dir = work / "out" / name.replace(", ", "_").replace(" ", "_")
                wall, out = plot_job(src, sweep, out_dir, dr, views)
                times[name].append(wall)
                for kind in KINDS:
                    parts[name][kind].append(seconds_of(out["log"], kind))
                print(f"repeat {i + 1}, {name}: {wall:.2f} s ({out['log']})", flush=True)
        machine.finish()
        label = f"{n_grid} runs"
        rows = [(label, f"plot job, {name}", t_str(median(times[name])),
                 f"{repeats} repeats: " + ", ".join(f"{t:.2f}" for t in times[name]) + "; "
                 + ", ".join(f"{k} {t_str(median(v))}" for k, v in parts[name].items()
                             if not all(x != x for x in v)) + " (its log)")
                for name in cases]
        rows.append((label, "after - before (grid)",
                     t_str(median(times["after"]) - median(times["before"])),
                     f"before: {args.before}; after: this checkout"))
        rows.append((label, "after - after without the views (grid)",
                     t_str(median(times["after"]) - median(times["after, no views"])),
                     "what the parallel coordinates and the importance figure add"))
        print()
        print_table(rows)
        if not args.no_save:
            save_results("plot_cost.py", rows, machine, quick=args.quick,
                         results=args.results,
                         preamble=f"Before: gdlab at {args.before}; after: this checkout.")
    finally:
        clean_up(work, args.keep)


if __name__ == "__main__":
    main()
