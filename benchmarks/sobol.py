#!/usr/bin/env python
"""Quasi-random (Sobol) search against random search: the best validation log loss at the
same budget, over search seeds.

Run from the repository root::

    .venv/bin/python benchmarks/sobol.py --quick          # ~1 min on 2 cores
    .venv/bin/python benchmarks/sobol.py                  # ~3 min
    .venv/bin/python benchmarks/sobol.py --trials 32      # ~6 min
    .venv/bin/python benchmarks/sobol.py --pipeline       # + one seed of each, Snakemake

The problems and spaces are those of ``benchmarks/tpe.py`` part 1: the MLP on moons
(``config/tpe.yaml``'s space) and logistic regression on breast_cancer (lr, l2, optimizer,
batch size, epochs). For each search seed (the search's ``seed``; data and split stay the
same), gdlab makes both searches' points (``gdlab.methods``: the trials a ``search:
{method: sobol}`` or ``{method: random}`` sweep trains, same names and values), and each
point is trained here as its run is in the pipeline: the model of the registry, the
run's seed (``gdlab.grid.run_seed``), the pipeline's split; its validation log loss is
what the run's ``metrics.json`` holds. The best after N trials is the minimum over trials
0..N-1 that did not diverge; mean and 95 % Student-t interval over the seeds, and the
number of seeds for which Sobol ends lower. N = 8, 16 (and 32 with ``--trials 32``):
powers of two, where a Sobol block is balanced, and what a small search spends.

Training in one process (not ``snakemake`` per search, as tpe.py does) keeps this to
minutes: the quantity is the search's sample efficiency, not the pipeline's cost, and
``--pipeline`` checks on one seed per method that the pipeline's runs have exactly these
values (the comparison would mean nothing otherwise).
"""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
import time
from pathlib import Path

from _machine import Machine, add_run_args, clean_up, print_table, save_results, t_str
from _workflow import REPO, default_config
from tpe import PROBLEMS, best_after, fmt_ci, run_search

sys.path.insert(0, str(REPO / "src"))
from gdlab.grid import run_seed  # noqa: E402
from gdlab.methods import METHODS  # noqa: E402
from gdlab.models.registry import model_info  # noqa: E402
from gdlab.train import evaluate  # noqa: E402

METHODS_COMPARED = ("sobol", "random")


def config(problem: str, method: str, seed: int, n_trials: int) -> dict:
    """The default config with one dataset and one model, searched by ``method``."""
    dataset, model = problem.split("/")
    base = default_config()
    base["datasets"] = {dataset: base["datasets"][dataset]}
    base["models"] = {model: {"datasets": [dataset], "search": {
        "method": method, "n_trials": n_trials, "seed": seed, "space": PROBLEMS[problem]}}}
    return base


def split_of(problem: str):
    """The split the pipeline makes of the problem's dataset (same generator, seeds)."""
    from naive_loop import build_split

    dataset = problem.split("/")[0]
    cfg = default_config()
    return build_split(dataset, cfg["datasets"][dataset], cfg)


def trial_values(problem: str, method: str, seed: int, n_trials: int, split) -> list[float]:
    """Each trial's validation log loss in trial order (NaN: diverged or not finite), each
    trained as the pipeline trains its run."""
    cfg = config(problem, method, seed, n_trials)
    dataset, model = problem.split("/")
    spec = cfg["models"][model]
    cls = model_info(model).load()
    values = []
    for _, hp in METHODS[method].points(spec, model, cfg["seed"]):
        fitted = cls(**hp, seed=run_seed(cfg["seed"], dataset, model, hp)).fit(
            split.X_train, split.y_train, X_val=split.X_val, y_val=split.y_val)
        v = evaluate(split.task, fitted, split.X_val, split.y_val)["log_loss"]
        values.append(math.nan if fitted.diverged_ or not math.isfinite(v) else float(v))
    return values


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="5 seeds")
    ap.add_argument("--seeds", type=int, help="search seeds (default 10)")
    ap.add_argument("--trials", type=int, default=16, help="n_trials (default 16)")
    ap.add_argument("--pipeline", action="store_true",
                    help="check one seed of each method against a Snakemake run")
    add_run_args(ap)
    args = ap.parse_args()
    n_trials = args.trials
    seeds = list(range(1, 1 + (args.seeds or (5 if args.quick else 10))))
    checkpoints = [n for n in (8, 16, 32) if n <= n_trials]
    machine = Machine({})
    machine.print()
    rows = []
    sec = (f"best val log loss after N trials, mean [95 % CI] over {len(seeds)} search "
           f"seeds (same points as the pipeline's runs)")
    values: dict = {}
    for problem in PROBLEMS:
        split = split_of(problem)
        for method in METHODS_COMPARED:
            t0 = time.perf_counter()
            for seed in seeds:
                values[(problem, method, seed)] = trial_values(problem, method, seed,
                                                               n_trials, split)
            print(f"{problem} {method}: {len(seeds)} seeds x {n_trials} trials in "
                  f"{t_str(time.perf_counter() - t0)}", flush=True)
        for n in checkpoints:
            cells = {m: [best_after(values[(problem, m, s)], n) for s in seeds]
                     for m in METHODS_COMPARED}
            wins = sum(a < b for a, b in zip(cells["sobol"], cells["random"], strict=True))
            ties = sum(a == b for a, b in zip(cells["sobol"], cells["random"], strict=True))
            rows.append((sec, f"{problem}, N = {n}", f"Sobol {fmt_ci(cells['sobol'])}",
                         f"random {fmt_ci(cells['random'])}; Sobol lower for {wins} of "
                         f"{len(seeds)} seeds" + (f" ({ties} ties)" if ties else "")))

    if args.pipeline:
        work = Path(tempfile.mkdtemp(prefix="gdlab-sobol-", dir=args.workdir))
        try:
            sec2 = "the pipeline's runs have these values (seed 1, N trials, snakemake)"
            for problem in PROBLEMS:
                for method in METHODS_COMPARED:
                    res = run_search(work / f"{problem.replace('/', '-')}-{method}",
                                     config(problem, method, seeds[0], n_trials))
                    same = all(a == b or (math.isnan(a) and math.isnan(b)) for a, b in
                               zip(res["values"], values[(problem, method, seeds[0])],
                                   strict=True))
                    rows.append((sec2, f"{problem}, {method}", "same" if same else "DIFFER",
                                 f"{len(res['values'])} runs; pipeline {t_str(res['wall'])}"))
        finally:
            clean_up(work, args.keep)

    print()
    print_table(rows)
    if not args.no_save:
        path = save_results("sobol.py", rows, machine, quick=args.quick,
                            results=args.results)
        print(f"\nrecord: {path}")


if __name__ == "__main__":
    main()
