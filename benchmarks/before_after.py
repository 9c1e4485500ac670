#!/usr/bin/env python
"""The pipeline's speed before and after a change, measured side by side in one run.

Run from the repository root::

    .venv/bin/python benchmarks/before_after.py                  # 79668c5 against this tree
    .venv/bin/python benchmarks/before_after.py --quick --no-save    # 1 repeat, 100 points
    .venv/bin/python benchmarks/before_after.py --before REV --after REV --repeats 5

``--before`` (default ``79668c5``, the commit before tracking and figures became packages)
and ``--after`` (default: this working tree; or a revision) are each exported with ``git
archive`` (this tree is copied as it is); every measurement runs in a fresh copy of one of
them (``_workflow.make_copy``: Snakefile, environment.yml, profiles, workflow, src, the
schema), with the same venv: each copy's workflow imports its own ``src/``. Each repeat
runs every measurement for both revisions, one after the other (the order alternates from
repeat to repeat), so that a busy machine weighs on both alike:

(a) the **default experiment**: the revision's own ``config/config.yaml``, ``snakemake
    --cores 2`` from nothing, then again with nothing to do (no-op);
(b) a **sweep of N points** (default 1000; ``--quick`` 100), the sweep the speed figures
    of issue 23 were measured on: moons x logistic regression, one sweep, N/10 learning
    rates (log-spaced, 0.001 to 10) x 10 values of l2 (0 and 0.0001 to 0.1), gd, the
    default config's 100 epochs (:func:`sweep_config`), from nothing with ``--cores 2``;
    then one learning rate added (``scaling.with_extra_lr``: 10 new runs, 1000 -> 1010)
    and run again; then a no-op. After each, the MLflow store (``mlflow.db``) is read with
    sqlite3: its active child runs must be N, then N + the new points, then as many again,
    with every existing child's run id kept.

(c) **the loop a user writes** for the same sweep (``benchmarks/naive_loop.py --per-epoch``
    in a fresh copy: the same fits with gdlab's models in one process, each logged with one
    ``log_batch`` of params and per-epoch metrics), once per repeat, first: the ratio
    gdlab / loop of each revision.

Reported: the median wall time per revision of every measurement, after / before, the
1-minute load average around each measurement, the default experiment's summed job time
by rule (Snakemake's records: where a difference comes from), the MLflow child counts,
the jobs of the incremental rerun, and each revision's commit.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _floor as F  # noqa: E402
import _records as R  # noqa: E402
import _workflow as W  # noqa: E402
import scaling  # noqa: E402
from _machine import Machine, add_run_args, clean_up, median, print_table, save_results, t_str  # noqa: E402

LOOP = Path(__file__).resolve().parent / "naive_loop.py"

MEASUREMENTS = {
    "default": "default experiment from nothing, --cores 2",
    "default_noop": "default experiment, no-op rerun",
    "sweep": "{n}-point sweep from nothing, --cores 2",
    "sweep_lr": "{n}-point sweep, one lr added (rerun)",
    "sweep_noop": "{n}-point sweep, no-op rerun",
}


def user_loop(tree: Path, root: Path, n: int, loops: list) -> None:
    """The loop a user writes for the ``n``-point sweep, in a fresh copy."""
    W.make_copy(root, sweep_config(n, tree), tree=tree)
    l0 = load1()
    r = W.run([W.PYTHON, str(LOOP), "--per-epoch"], root, timeout=4 * 3600)
    loops.append({"wall": r["wall"], "load": f"{l0}->{load1()}"})


def load1() -> str:
    return f"{os.getloadavg()[0]:.2f}"


def timed_run(root: Path, out: dict, key: str, noop: bool = False) -> dict:
    """``snakemake --cores 2`` in ``root``; its wall time and the load around it go to
    ``out[key]``."""
    l0 = load1()
    r = W.snakemake(root, "--cores", "2", timeout=4 * 3600)
    if noop and "Nothing to be done" not in r["stdout"] + r["stderr"]:
        raise SystemExit(f"{root}: the no-op rerun ran jobs: {W.job_stats(r['stderr'])}")
    out.setdefault(key, []).append({"wall": r["wall"], "load": f"{l0}->{load1()}"})
    return r


def default_experiment(tree: Path, root: Path, out: dict, rules: dict) -> None:
    """The revision's default experiment from nothing (its job time by rule from
    Snakemake's records goes to ``rules``), then a no-op."""
    W.make_copy(root, W.default_config(tree), tree=tree)
    timed_run(root, out, "default")
    for rule, b in R.rule_breakdown(R.jobs_from_metadata(root)).items():
        rules.setdefault(rule, []).append((b["sum"], b["jobs"]))
    timed_run(root, out, "default_noop", noop=True)


def sweep_config(n: int, tree: Path) -> dict:
    """One sweep of ``n`` points (a multiple of 10): ``n // 10`` learning rates x 10 l2."""

    if n % 10 or n < 20:
        raise SystemExit(f"--size {n}: a multiple of 10, at least 20 (lr x 10 l2)")
    grid = {"lr": W.geo_axis(1e-3, 10.0, n // 10), "optimizer": ["gd"], "l2": W.l2_axis(10),
            "epochs": [100]}
    return W.one_sweep(tree, {"grid": grid}, f"gdlab-before-after-{n}", "moons",
                       scaling.MODEL)


def sweep(tree: Path, root: Path, n: int, out: dict, counts: dict) -> None:
    """The ``n``-point sweep from nothing, one lr added, a no-op: times and children."""
    cfg = sweep_config(n, tree)
    W.make_copy(root, cfg, tree=tree)
    timed_run(root, out, "sweep")
    first = R.mlflow_children(root / "mlflow.db")
    new_cfg, _extra = scaling.with_extra_lr(cfg)
    W.write_config(root, new_cfg)
    r = timed_run(root, out, "sweep_lr")
    added = R.mlflow_children(root / "mlflow.db")
    timed_run(root, out, "sweep_noop", noop=True)
    last = R.mlflow_children(root / "mlflow.db")
    n_new = sum(len(v) for s in F.shards(new_cfg).values() for v in s.values())
    kept = sum(1 for k, i in first["active"].items() if added["active"].get(k) == i)
    counts.setdefault("children", []).append(
        (len(first["active"]), len(added["active"]), len(last["active"])))
    counts.setdefault("ok", []).append(
        (len(first["active"]), len(added["active"]), len(last["active"])) == (n, n_new, n_new)
        and kept == n and last["active"] == added["active"])
    counts.setdefault("kept", []).append(kept)
    counts["expected"] = (n, n_new, n_new)
    counts.setdefault("jobs", []).append(W.job_stats(r["stderr"]))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--before", default="79668c5", help="git revision (default 79668c5)")
    ap.add_argument("--after", help="git revision (default: this working tree)")
    ap.add_argument("--repeats", type=int, help="interleaved repeats (default 3)")
    ap.add_argument("--quick", action="store_true", help="1 repeat, a 100-point sweep")
    ap.add_argument("--size", type=int, help="points of the sweep (default 1000; --quick 100)")
    add_run_args(ap)
    a = ap.parse_args(argv)
    reps = a.repeats or (1 if a.quick else 3)
    n = a.size or (100 if a.quick else 1000)
    work = Path(a.workdir or tempfile.mkdtemp(prefix="gdlab-before-after-")).resolve()
    work.mkdir(parents=True, exist_ok=True)
    revs = {"before": W.describe_rev(a.before),
            "after": W.describe_rev(a.after) if a.after else
            f"this working tree ({W.REPO}; HEAD {W.describe_rev('HEAD')})"}
    machine = Machine({f"{k} revision": v for k, v in revs.items()})
    machine.print()
    trees = {"before": W.export_tree(a.before, work / "tree-before"),
             "after": W.export_tree(a.after, work / "tree-after") if a.after else W.REPO}
    times: dict[str, dict[str, list[dict]]] = {"before": {}, "after": {}}
    counts: dict[str, dict] = {"before": {}, "after": {}}
    rules: dict[str, dict] = {"before": {}, "after": {}}
    loops: list[dict] = []
    for rep in range(reps):
        order = ["before", "after"] if rep % 2 == 0 else ["after", "before"]
        user_loop(trees["after"], work / f"loop-r{rep}", n, loops)
        print(f"repeat {rep + 1}/{reps}, the user's loop: {loops[-1]['wall']:.1f} s "
              f"(load {loops[-1]['load']})", flush=True)
        if not a.keep:
            shutil.rmtree(work / f"loop-r{rep}", ignore_errors=True)
        for kind in ("default", "sweep"):
            for side in order:
                root = work / f"{side}-{kind}-r{rep}"
                if kind == "default":
                    default_experiment(trees[side], root, times[side], rules[side])
                else:
                    sweep(trees[side], root, n, times[side], counts[side])
                last = {k: v[-1] for k, v in times[side].items()}
                print(f"repeat {rep + 1}/{reps}, {side}, {kind}: " + ", ".join(
                    f"{k} {v['wall']:.1f} s (load {v['load']})" for k, v in last.items()
                    if k.startswith(kind) and len(times[side][k]) == rep + 1)
                    + (f"; MLflow children {counts[side]['children'][-1]}"
                       if kind == "sweep" else ""), flush=True)
                if not a.keep:
                    shutil.rmtree(root, ignore_errors=True)
    machine.finish()

    rows, table = [], ["| measurement | before | after | after / before |", "|---|---|---|---|"]
    for key, what in MEASUREMENTS.items():
        what = what.format(n=n)
        med = {s: median([x["wall"] for x in times[s][key]]) for s in times}
        ratio = med["after"] / med["before"]
        table.append(f"| {what} | {t_str(med['before'])} | {t_str(med['after'])} | "
                     f"{ratio:.2f}x |")
        for side in ("before", "after"):
            rows.append((what, side, t_str(med[side]),
                         f"{len(times[side][key])} repeat(s): "
                         + ", ".join(f"{x['wall']:.2f}" for x in times[side][key])
                         + "; 1-min load " + ", ".join(x["load"] for x in times[side][key])))
        rows.append((what, "after / before", f"{ratio:.2f}x", ""))
    loop = median([x["wall"] for x in loops])
    rows.append((f"the loop a user writes for the {n}-point sweep", "naive_loop.py --per-epoch",
                 t_str(loop), f"{len(loops)} repeat(s): "
                 + ", ".join(f"{x['wall']:.2f}" for x in loops)
                 + "; 1-min load " + ", ".join(x["load"] for x in loops)))
    for side in ("before", "after"):
        sweep_med = median([x["wall"] for x in times[side]["sweep"]])
        rows.append((f"{n}-point sweep from nothing / the loop", side,
                     f"{sweep_med / loop:.2f}x", ""))
        table.append(f"| {n}-point sweep from nothing / the user's loop ({t_str(loop)}), "
                     f"{side} | | | {sweep_med / loop:.2f}x |")
    for side in ("before", "after"):
        by_rule = {r: (median([x[0] for x in v]), v[-1][1]) for r, v in rules[side].items()}
        rows.append(("default experiment from nothing: job time by rule", side,
                     t_str(sum(t for t, _ in by_rule.values())),
                     "summed job time (Snakemake's records; medians over repeats): "
                     + ", ".join(f"{r} {t_str(t)} ({k})" for r, (t, k) in
                                 sorted(by_rule.items(), key=lambda kv: -kv[1][0]))))
    for side in ("before", "after"):
        c = counts[side]
        rows.append((f"{n}-point sweep: MLflow children", side,
                     "ok" if all(c["ok"]) else "NOT OK",
                     "active children from nothing, after the new lr, after the no-op: "
                     + "; ".join(" -> ".join(map(str, x)) for x in c["children"])
                     + f" (expected {' -> '.join(map(str, c['expected']))}); existing "
                       f"children with their run id kept: {', '.join(map(str, c['kept']))}"
                     + "; read with sqlite3"))
        rows.append((f"{n}-point sweep: MLflow children", f"{side}: the new lr's jobs",
                     str(sum(c["jobs"][-1].values())),
                     ", ".join(f"{k} {v}" for k, v in c["jobs"][-1].items())))
    print()
    print("\n".join(table))
    print()
    print_table(rows)
    if not a.no_save:
        save_results("before_after.py", rows, machine, argv=argv, quick=a.quick,
                     preamble=f"Before: {revs['before']}. After: {revs['after']}. "
                              f"{reps} interleaved repeat(s) (the order alternates), "
                              "medians, each measurement in a fresh copy, --cores 2.\n\n"
                              + "\n".join(table), results=a.results)
    clean_up(work, a.keep)
    return 0


if __name__ == "__main__":
    sys.exit(main())
