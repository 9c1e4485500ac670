#!/usr/bin/env python
"""How gdlab scales with the grid: ~10, ~100, ~1000 train jobs.

Run from the repository root::

    .venv/bin/python benchmarks/scaling.py              # 10, 100 and 1000 jobs (the last
                                                        # takes several minutes; run once)
    .venv/bin/python benchmarks/scaling.py --quick      # 10 and 100 jobs only
    .venv/bin/python benchmarks/scaling.py --sizes 10 100 300

One dataset (moons) and one model (logistic regression): the grid's ``lr`` list has N
values (log-spaced from 1e-3 to 10), ``optimizer: [gd]``, ``l2: [0.0]``, ``epochs: [20]``,
so N train jobs plus the fixed jobs (make_dataset, split, baseline, summarize, plot,
overview, mlflow_setup, track). Each size runs from nothing with ``snakemake --cores 2``;
reported: wall time, per train job, the time by rule, the peak memory of the whole process
tree (summed RSS of snakemake and every job it runs, sampled every 0.1 s from /proc), the
size of .snakemake/, of mlflow.db and of the MLflow artifacts, and a no-op rerun.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _workflow as W  # noqa: E402
from _machine import Machine, append_results, median, print_table, size_str, t_str  # noqa: E402


def config_for(n: int) -> dict:
    import numpy as np

    cfg = W.default_config()
    cfg["experiment"] = f"gdlab-scaling-{n}"
    cfg["datasets"] = {"moons": cfg["datasets"]["moons"]}
    lrs = [float(f"{x:.6g}") for x in np.geomspace(1e-3, 10.0, n)] if n > 1 else [0.1]
    cfg["models"] = {"logistic_regression": {"grid": {
        "lr": lrs, "optimizer": ["gd"], "l2": [0.0], "epochs": [20]}}}
    return cfg


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="sizes 10 and 100 only")
    ap.add_argument("--sizes", type=int, nargs="+", help="train jobs per run (default 10 100 1000)")
    ap.add_argument("--repeats", type=int,
                    help="repeats of the sizes below 1000 (default 3, quick 1); "
                         "1000 and above run once")
    ap.add_argument("--workdir", type=Path)
    ap.add_argument("--keep", action="store_true")
    ap.add_argument("--results", type=Path, default=Path(__file__).resolve().parent / "RESULTS.md")
    ap.add_argument("--no-save", action="store_true")
    a = ap.parse_args(argv)
    sizes = a.sizes or ([10, 100] if a.quick else [10, 100, 1000])
    reps = a.repeats or (1 if a.quick else 3)
    work = Path(a.workdir or tempfile.mkdtemp(prefix="gdlab-scaling-"))
    machine = Machine()
    machine.print()
    rows = []
    for n in sizes:
        k = reps if n < 1000 else 1
        walls, peaks, noops = [], [], []
        for rep in range(k):
            root = W.make_copy(work / f"n{n}-r{rep}", config_for(n))
            r = W.snakemake(root, "--cores", "2", memory=True, timeout=4 * 3600)
            walls.append(r["wall"])
            peaks.append(r["peak_rss"])
            noops.append(W.snakemake(root, "--cores", "2")["wall"])
            print(f"n={n} repeat {rep + 1}/{k}: {r['wall']:.1f} s, peak "
                  f"{size_str(r['peak_rss'])}", flush=True)
            if rep < k - 1 and not a.keep:
                shutil.rmtree(root)
        stats = W.job_stats(r["stderr"])
        by_rule = W.rule_breakdown(W.jobs_from_metadata(root))
        wall = median(walls)
        rows.append((f"{n} train jobs", "wall time from nothing, --cores 2", t_str(wall),
                     f"{k} repeat(s); {sum(stats.values())} jobs; "
                     f"{t_str(wall / n)} per train job"))
        rows.append((f"{n} train jobs", "no-op rerun", t_str(median(noops)), ""))
        rows.append((f"{n} train jobs", "peak memory, process tree (summed RSS)",
                     size_str(median(peaks)), "snakemake + running jobs"))
        records = sum(1 for p in (root / ".snakemake" / "metadata").rglob("*") if p.is_file())
        rows.append((f"{n} train jobs", ".snakemake/ size",
                     size_str(W.dir_size(root / ".snakemake")), f"metadata records: {records}"))
        rows.append((f"{n} train jobs", "mlflow.db size",
                     size_str((root / "mlflow.db").stat().st_size),
                     f"artifacts (mlruns/) {size_str(W.dir_size(root / 'mlruns'))}; results/ "
                     f"{size_str(W.dir_size(root / 'results'))}"))
        rows.append((f"{n} train jobs", "time by rule (summed job time)",
                     t_str(sum(b['sum'] for b in by_rule.values())),
                     ", ".join(f"{rule} {t_str(b['sum'])}" for rule, b in by_rule.items())))
        if not a.keep:
            shutil.rmtree(root)
    machine.finish()
    print()
    print_table(rows)
    if not a.no_save:
        append_results("scaling.py", rows, machine, argv=argv, quick=a.quick,
                       preamble="moons x logistic_regression, lr list of N values, gd, l2 0, "
                                "20 epochs; --cores 2.", results=a.results)
    if not a.keep:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
