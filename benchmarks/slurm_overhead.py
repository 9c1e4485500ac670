#!/usr/bin/env python
"""Per-job overhead of train jobs on SLURM (profiles/slurm) against local execution.

Run from the repository root, as root, with the Debian packages of .ci/services::

    .venv/bin/python benchmarks/slurm_overhead.py            # 3 repeats
    .venv/bin/python benchmarks/slurm_overhead.py --quick    # 1 repeat

Starts the tests' single-node cluster (tests/_services.py: munged, slurmctld, slurmd on
this machine, stopped by PID at the end). A copy of the project with one sweep (line x
linear regression, ``--jobs`` grid points of 15 epochs, shards of one run: about a train
job each) is run up to its split locally; then, interleaved, fresh clones of it run every train job
(``--until train``) locally with ``--cores 2`` and through ``--profile profiles/slurm``
(only train is a cluster job), and a single train job both ways. Per-job overhead = wall
time / jobs; the gap = (SLURM - local) / jobs. ``--slurm-init-seconds-before-status-checks
2`` as in the tests (the plugin's 40 s default would dominate); status polling still
backs off in 10 s steps.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "tests"))
import _floor as F  # noqa: E402
import _services  # noqa: E402
import _workflow as W  # noqa: E402
from _machine import Machine, add_save_args, median, print_table, save_results, t_str  # noqa: E402


def sweep_config(n_jobs: int) -> dict:
    cfg = W.default_config()
    cfg["datasets"] = {"line": {"task": "regression", "source": "synthetic",
                                "generator": "linear", "n_samples": 200, "n_features": 1,
                                "noise": 0.3}}
    lrs = [round(0.01 * (k + 1), 2) for k in range(n_jobs)]
    cfg["models"] = {"linear_regression": {"grid": {"lr": lrs, "l2": [0.0], "epochs": [15]}}}
    cfg["train"] = {**cfg.get("train", {}), "shard_size": 1}  # a train job per grid point
    return cfg


def _secs(xs: list[float]) -> str:
    return ", ".join(f"{x:.1f} s" for x in xs)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="1 repeat instead of 3")
    ap.add_argument("--jobs", type=int, default=8, help="train jobs in the sweep (default 8)")
    add_save_args(ap)
    args = ap.parse_args()
    repeats = 1 if args.quick else 3
    machine = Machine()
    tmp = Path(tempfile.mkdtemp(prefix="gdlab-slurm-bench-"))
    config = sweep_config(args.jobs)
    base = W.make_copy(tmp / "base", config)
    W.snakemake(base, "--cores", "2", "data/line/split.npz")
    # runs go to shards by a hash of their names, so some shards get two and some none
    shards = F.shards(config)["line/linear_regression"]
    n_train = len(shards)
    one = (f"results/line/linear_regression/shards/{next(iter(shards))}.json",)
    slurm_flags = ("--profile", "profiles/slurm", "--slurm-init-seconds-before-status-checks",
                   "2")
    cases = {  # name -> (jobs, snakemake arguments)
        "sweep, local": (n_train, ("--cores", "2", "--until", "train")),
        "sweep, SLURM": (n_train, (*slurm_flags, "--until", "train")),
        "one job, local": (1, ("--cores", "2", *one)),
        "one job, SLURM": (1, (*slurm_flags, *one)),
    }
    walls: dict[str, list[float]] = {name: [] for name in cases}
    with _services.slurm_cluster() as cluster:
        os.environ.update(cluster.env)
        for r in range(repeats):
            for name, (_, cmd) in cases.items():  # interleaved: same load for both
                root = tmp / f"run{r}-{name.replace(' ', '').replace(',', '-')}"
                shutil.copytree(base, root, symlinks=True)
                res = W.run(["timeout", "-k", "10", "600", W.PYTHON, "-m", "snakemake",
                             *cmd], root)
                walls[name].append(res["wall"])
                print(f"repeat {r + 1}: {name}: {res['wall']:.2f} s", flush=True)
    machine.finish()
    shutil.rmtree(tmp, ignore_errors=True)

    rows = []
    for what in ("sweep", "one job"):
        n = cases[f"{what}, local"][0]
        local, slurm = median(walls[f"{what}, local"]), median(walls[f"{what}, SLURM"])
        rows += [
            (what, "local (--cores 2)", t_str(local),
             f"{n} train jobs, {t_str(local / n)} per job; runs {_secs(walls[what + ', local'])}"),
            (what, "SLURM (profiles/slurm)", t_str(slurm),
             f"{n} train jobs, {t_str(slurm / n)} per job; runs {_secs(walls[what + ', SLURM'])}"),
            (what, "SLURM / local", f"{slurm / local:.1f}x",
             f"overhead {t_str((slurm - local) / n)} per job"),
        ]
    print_table(rows)
    if not args.no_save:
        save_results("slurm_overhead.py", rows, machine, quick=args.quick, results=args.results,
                     preamble=f"Single-node SLURM on this machine; {repeats} repeats, "
                              "medians; each job is a train job of 15 epochs.")


if __name__ == "__main__":
    main()
