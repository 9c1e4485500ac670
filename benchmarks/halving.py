#!/usr/bin/env python
"""Successive halving against the full search at the largest budget, same candidates.

Run from the repository root::

    .venv/bin/python benchmarks/halving.py                 # config/halving.yaml's search
    .venv/bin/python benchmarks/halving.py --quick --no-save   # 9 trials, 3 rungs

Two fresh copies of the project (as the tests make them), each with one sweep —
logistic regression on moons, the default config's dataset — and the same candidates:

- ``halving``: ``config/halving.yaml``'s search (27 trials, eta 3, budgets 10, 30, 90,
  270 epochs: 27 -> 9 -> 3 -> 1), or with ``--quick`` 9 trials and budgets 10, 30, 90;
- ``full``: the same trials as a random search (``method: random``, same ``n_trials``,
  ``seed`` and space: the same drawn values), every one trained to the largest budget
  (``epochs: {choice: [<last budget>]}``).

Each repeat runs both, interleaved (the order alternates), ``snakemake --cores 2`` from
nothing to the end (train, summarize, plot, track). Reported per case: wall time
(median), the training jobs' summed time (train / train_rung, from Snakemake's records),
the epochs trained in all (the sum of the runs' ``n_epochs``: a halving run continues, so
its history counts every epoch it trained once), the best run's validation and test log
loss, and whether the full search's best trial is the one halving kept to the top rung
(then both best runs are the same bytes: a candidate's seed is its seed in the full search).
"""

from __future__ import annotations

import argparse
import copy
import json
import tempfile
import time
from pathlib import Path

import yaml
from _machine import Machine, add_run_args, clean_up, median, print_table, save_results, t_str
from _records import jobs_from_metadata, rule_breakdown
from _workflow import REPO, default_config, make_copy
from _workflow import snakemake as run_snakemake

TRAIN_RULES = ("train", "train_rung")


def configs(quick: bool) -> tuple[dict, dict]:
    """(halving, full) configs: the default config with only moons and logistic regression."""
    with open(REPO / "config" / "halving.yaml", encoding="utf-8") as f:
        search = yaml.safe_load(f)["models"]["logistic_regression"]["search"]
    if quick:
        search = {**search, "n_trials": 9, "budgets": [10, 30, 90]}
    base = default_config()
    base["datasets"] = {"moons": base["datasets"]["moons"]}
    base["models"] = {}
    halving = copy.deepcopy(base)
    halving["models"]["logistic_regression"] = {"search": search}
    full = copy.deepcopy(base)
    full["models"]["logistic_regression"] = {"search": {
        "method": "random", "n_trials": search["n_trials"], "seed": search["seed"],
        "space": {**search["space"], "epochs": {"choice": [search["budgets"][-1]]}}}}
    return halving, full


def run_case(root: Path, config: dict) -> dict:
    make_copy(root, config)
    t0 = time.time()
    out = run_snakemake(root, "--cores", "2")
    jobs = rule_breakdown(jobs_from_metadata(root, since=t0 - 1))
    sweep = root / "results" / "moons" / "logistic_regression"
    best = json.loads((sweep / "best.json").read_text())
    epochs = sum(json.loads(p.read_text())["n_epochs"]
                 for p in (sweep / "runs").rglob("metrics.json"))
    return {"wall": out["wall"], "best": best, "epochs": epochs,
            "train": sum(jobs[r]["sum"] for r in TRAIN_RULES if r in jobs),
            "train_jobs": sum(jobs[r]["jobs"] for r in TRAIN_RULES if r in jobs),
            "jobs": sum(j["jobs"] for j in jobs.values())}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="9 trials, budgets 10, 30, 90")
    ap.add_argument("--repeats", type=int, default=1, help="interleaved repeats (default 1)")
    add_run_args(ap)
    args = ap.parse_args()
    halving, full = configs(args.quick)
    search = halving["models"]["logistic_regression"]["search"]
    machine = Machine()
    machine.print()
    work = Path(tempfile.mkdtemp(prefix="gdlab-halving-", dir=args.workdir))
    results: dict[str, list[dict]] = {"halving": [], "full": []}
    try:
        for i in range(args.repeats):
            order = ["halving", "full"] if i % 2 == 0 else ["full", "halving"]
            for name in order:
                res = run_case(work / f"{name}-{i}", halving if name == "halving" else full)
                results[name].append(res)
                print(f"repeat {i + 1}, {name}: {res['wall']:.1f} s, best "
                      f"{res['best']['run_name']} val log loss "
                      f"{res['best']['metrics']['val']['log_loss']:.4f}")
        machine.finish()
    finally:
        clean_up(work, args.keep)
    sec = (f"{search['n_trials']} trials, eta {search['eta']}, "
           f"budgets {search['budgets']}")
    rows = []
    for name, runs in results.items():
        last = runs[-1]
        rows += [
            (sec, f"{name}: wall time, from nothing", t_str(median(r["wall"] for r in runs)),
             f"{len(runs)} repeats: " + ", ".join(f"{r['wall']:.1f}" for r in runs)
             + f"; {last['jobs']} jobs"),
            (sec, f"{name}: training jobs, summed", t_str(median(r["train"] for r in runs)),
             f"{last['train_jobs']} train/train_rung jobs; {last['epochs']} epochs trained"),
            (sec, f"{name}: best val log loss",
             f"{last['best']['metrics']['val']['log_loss']:.4f}",
             f"test {last['best']['metrics']['test']['log_loss']:.4f}; "
             f"{last['best']['run_name']} ({last['best']['n_epochs']} epochs)"),
        ]
    h, f = results["halving"][-1], results["full"][-1]
    same = h["best"]["run_name"].split("/")[0] == f["best"]["run_name"].split("/")[0]

    def ratio(key):
        return median(r[key] for r in results["halving"]) / \
            max(1e-9, median(r[key] for r in results["full"]))

    rows.append((sec, "halving / full: wall time", f"{ratio('wall'):.2f}x",
                 f"epochs {h['epochs'] / f['epochs']:.2f}x; training jobs "
                 f"{ratio('train'):.2f}x; same best trial: {'yes' if same else 'no'}"))
    print()
    print_table(rows)
    if not args.no_save:
        save_results("halving.py", rows, machine, quick=args.quick, results=args.results)


if __name__ == "__main__":
    main()
