#!/usr/bin/env python
"""How gdlab scales with the grid: one sweep of 1000 and of 10,000 grid points.

Run from the repository root::

    .venv/bin/python benchmarks/scaling.py                 # 1000 and 10000 points, the
                                                           # loop and the incremental rerun
    .venv/bin/python benchmarks/scaling.py --quick --no-save   # 10 and 100 points
    .venv/bin/python benchmarks/scaling.py --sizes 1000 --loop-size 1000 --loop-repeats 3

One dataset (moons) and one model (logistic regression), in ONE sweep whose grid is a
product ``lr x l2 x epochs`` of N points (1000: 10 log-spaced lr from 1e-3 to 10, 10 l2
values 0 and 1e-4..1e-1, epochs 10, 20, ..., 100; 10,000: 100 lr values; small sizes drop
epochs, then l2). ``train.shard_size`` is gdlab's default unless ``--shard-size``.
Each size, from nothing with ``snakemake --cores 2``:

- **wall time**, the jobs, the summed job time by rule (Snakemake's .snakemake/metadata);
- the **fit share**: summed "fit and write" time / summed train-job time, both from the
  train logs (``trained N runs, reused M: fit and write X s, job Y s since the process started``),
  and the stricter summed ``model.fit`` time (every run's ``timing.json``) / summed
  train-job time as Snakemake saw it (start..end of each job). Target >= 50 %;
- **tracking**: the sweep's track job (its log): ms per child written, the whole sync
  (children, parent, figures, best model), its ``import mlflow``;
- the **peak RSS** of the process tree (snakemake and every job it runs, summed, sampled
  every 0.1 s from /proc), the size of ``.snakemake/``, ``mlflow.db``, the MLflow
  artifacts (``mlruns/``) and ``results/``;
- the **no-op rerun** (``snakemake --cores 2`` with nothing to do; target <= 3 s at
  10,000), interleaved with Snakemake's own no-op for the same DAG of touch jobs
  (``_workflow.make_floor``), bare and with one param per job as gdlab's jobs have.

At ``--loop-size`` (default 1000), side by side and interleaved (gdlab from nothing, then
the loop, ``--loop-repeats`` times): ``benchmarks/naive_loop.py --per-epoch`` in another
fresh copy with the same config, i.e. the same fits with gdlab's own models and the same
per-epoch and final metrics, one ``log_batch`` per run. Target gdlab / loop <= 0.75.

At ``--incremental-size`` (default 1000): one learning rate added to the finished
project's grid (a copy of it), ``snakemake --cores 2``: wall time (target <= 10 s), the
jobs that ran, and the MLflow store read with sqlite3 before and after: the new child
runs must be exactly the new grid points, and every existing child keeps its run id.
"""

from __future__ import annotations

import argparse
import copy
import os
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _floor as F  # noqa: E402
import _records as R  # noqa: E402
import _workflow as W  # noqa: E402
from _machine import Machine, add_run_args, median, print_table, save_results, size_str, t_str  # noqa: E402

LOOP = Path(__file__).resolve().parent / "naive_loop.py"
MODEL = "logistic_regression"


def grid_for(n: int) -> dict:
    """A grid of exactly ``n`` points: lr x l2 x epochs."""

    n_epochs = 10 if n >= 1000 and n % 10 == 0 else 1
    n_l2 = 10 if (n // n_epochs) >= 100 and (n // n_epochs) % 10 == 0 else 1
    n_lr = n // (n_epochs * n_l2)
    if n_lr * n_l2 * n_epochs != n:
        raise SystemExit(f"size {n}: no lr x l2 x epochs grid of that product")
    lrs = W.geo_axis(1e-3, 10.0, n_lr) if n_lr > 1 else [0.1]
    l2s = W.l2_axis(n_l2)
    epochs = list(range(10, 101, 10)) if n_epochs > 1 else [20]
    return {"lr": lrs, "optimizer": ["gd"], "l2": l2s, "epochs": epochs}


def config_for(n: int, shard_size: int | None = None, tree: Path = W.REPO) -> dict:
    """The one-sweep config of ``n`` points, from the default config of this checkout or of
    an exported revision's ``tree``."""
    cfg = W.one_sweep(tree, {"grid": grid_for(n)}, f"gdlab-scaling-{n}", "moons", MODEL)
    if shard_size:
        cfg.setdefault("train", {})["shard_size"] = shard_size
    return cfg


def with_extra_lr(cfg: dict) -> tuple[dict, float]:
    """The config with one more learning rate (between the two largest)."""
    new = copy.deepcopy(cfg)
    lrs = new["models"][MODEL]["grid"]["lr"]
    extra = float(f"{(lrs[-1] * lrs[-2]) ** 0.5 if len(lrs) > 1 else lrs[0] * 3:.4g}")
    new["models"][MODEL]["grid"]["lr"] = sorted(lrs + [extra])
    return new, extra


def load1() -> str:
    return f"{os.getloadavg()[0]:.2f}"


def pct(x: float) -> str:
    return f"{100 * x:.0f} %"


def verdict(ok: bool) -> str:
    return "met" if ok else "MISSED"


def describe(root: Path, r: dict, n: int, label: str, rows: list) -> dict:
    """Rows for one finished from-nothing run of ``n`` points in ``root``."""
    stats = W.job_stats(r["stderr"])
    jobs = R.jobs_from_metadata(root)
    by_rule = R.rule_breakdown(jobs)
    logs = R.train_logs(root)
    n_fit, fit = R.fit_seconds(root)
    train_jobs = [j for j in jobs if j["rule"] == "train"]
    sm_train = sum(j["end"] - j["start"] for j in train_jobs)
    fw = sum(t["fit_write"] for t in logs)
    proc = sum(t["process"] for t in logs)
    share = fw / proc if proc else float("nan")
    rows.append((label, "fit share: fit and write / train-job time (train logs)", pct(share),
                 f"{t_str(fw)} / {t_str(proc)} over {len(logs)} train jobs of "
                 f"{sum(t['runs'] for t in logs)} runs (target >= 50 %: "
                 f"{verdict(share >= 0.5)})"))
    rows.append((label, "fit share, strict: model.fit (timing.json) / Snakemake job time",
                 pct(fit / sm_train) if sm_train else "n/a",
                 f"{t_str(fit)} over {n_fit} fits / {t_str(sm_train)} (start..end in "
                 f".snakemake/metadata); mean fit {t_str(fit / max(n_fit, 1))}"))
    for t in R.track_logs(root):  # one track job per sweep: children, parent, best model
        rows.append((label, f"track {t['sweep']}: ms per child (write) / whole sync",
                     f"{t['ms_per_child']:.1f} ms",
                     f"{t['created']} children created via {t['via']}; whole sync "
                     f"{t_str(t['seconds'])} ({1000 * t['seconds'] / max(t['created'], 1):.1f}"
                     f" ms per child, parent, figures and best model included); import "
                     f"mlflow {t_str(t['import_mlflow'])} (target <= 25 ms per child: "
                     f"{verdict(t['ms_per_child'] <= 25)})"))
    rows.append((label, "jobs", str(sum(stats.values())),
                 ", ".join(f"{k} {v}" for k, v in stats.items())))
    total = sum(b["sum"] for b in by_rule.values())
    rows.append((label, "summed job time by rule", t_str(total),
                 ", ".join(f"{rule} {t_str(b['sum'])} ({b['jobs']})"
                           for rule, b in by_rule.items())))
    records = sum(1 for p in (root / ".snakemake" / "metadata").rglob("*") if p.is_file())
    rows.append((label, "peak RSS, process tree", size_str(r["peak_rss"]),
                 "snakemake + running jobs, summed"))
    rows.append((label, ".snakemake/ size", size_str(R.dir_size(root / ".snakemake")),
                 f"metadata records: {records}"))
    counts = R.mlflow_counts(root / "mlflow.db")
    rows.append((label, "mlflow.db size", size_str((root / "mlflow.db").stat().st_size),
                 f"{counts.get('runs', 0)} runs, {counts.get('metrics', 0)} metric values"))
    rows.append((label, "artifacts (mlruns/) size", size_str(R.dir_size(root / "mlruns")),
                 f"results/ {size_str(R.dir_size(root / 'results'))}"))
    return {"stats": stats, "by_rule": by_rule}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true",
                    help="sizes 10 and 100, loop and incremental at 100")
    ap.add_argument("--sizes", type=int, nargs="+", help="grid points (default 1000 10000)")
    ap.add_argument("--repeats", type=int, help="no-op reruns per size (default 3)")
    ap.add_argument("--loop-size", type=int,
                    help="size measured against the naive loop (default 1000; 0: none)")
    ap.add_argument("--loop-repeats", type=int, default=1,
                    help="interleaved gdlab/loop pairs at the loop size (default 1: the "
                         "size's own run and one loop)")
    ap.add_argument("--incremental-size", type=int,
                    help="size whose grid gets one more lr (default 1000; 0: none)")
    ap.add_argument("--shard-size", type=int, help="train.shard_size (default: gdlab's)")
    add_run_args(ap)
    a = ap.parse_args(argv)
    sizes = a.sizes or ([10, 100] if a.quick else [1000, 10000])
    default_special = 100 if a.quick else 1000
    loop_size = default_special if a.loop_size is None else a.loop_size
    inc_size = default_special if a.incremental_size is None else a.incremental_size
    noop_reps = a.repeats or 3
    work = Path(a.workdir or tempfile.mkdtemp(prefix="gdlab-scaling-"))
    work.mkdir(parents=True, exist_ok=True)
    machine = Machine()
    machine.print()
    rows = []
    for n in sizes:
        cfg = config_for(n, a.shard_size)
        label = f"{n} points"
        n_shards = sum(len(v) for v in F.shards(cfg).values())
        pairs = a.loop_repeats if n == loop_size else 1
        walls, loops, loads = [], [], []
        root = None
        for rep in range(pairs):
            if root is not None and not a.keep:
                shutil.rmtree(root)
            root = W.make_copy(work / f"n{n}-r{rep}", cfg)
            l0 = load1()
            r = W.snakemake(root, "--cores", "2", memory=True, timeout=4 * 3600)
            walls.append(r["wall"])
            loads.append(f"{l0}->{load1()}")
            print(f"{label} repeat {rep + 1}/{pairs}: gdlab {r['wall']:.1f} s, peak "
                  f"{size_str(r['peak_rss'])}, load {loads[-1]}", flush=True)
            if n == loop_size:
                lroot = W.make_copy(work / f"loop-n{n}-r{rep}", cfg)
                l0 = load1()
                lr = W.run([W.PYTHON, str(LOOP), "--per-epoch"], lroot, timeout=4 * 3600)
                loops.append(lr["wall"])
                loop_counts = R.mlflow_counts(lroot / "mlflow-loop.db")
                loop_db = (lroot / "mlflow-loop.db").stat().st_size
                loop_out = lr["stdout"].strip()
                print(f"{label} repeat {rep + 1}/{pairs}: loop {lr['wall']:.1f} s, load "
                      f"{l0}->{load1()} ({loop_out})", flush=True)
                loads[-1] += f", loop {l0}->{load1()}"
                if not a.keep:
                    shutil.rmtree(lroot)
        wall = median(walls)
        rows.append((label, "wall time from nothing, snakemake --cores 2", t_str(wall),
                     f"{len(walls)} run(s): {', '.join(f'{w:.1f}' for w in walls)}; "
                     f"{n_shards} shards; 1-min load {'; '.join(loads)}"
                     + ("; target <= 60 s: " + verdict(wall <= 60) if n == 1000 else "")))
        if loops:
            ratio = wall / median(loops)
            rows.append((label, "naive loop --per-epoch, same fits (gdlab models)",
                         t_str(median(loops)),
                         f"{len(loops)} run(s) interleaved with gdlab: "
                         f"{', '.join(f'{w:.1f}' for w in loops)}; **gdlab {ratio:.2f}x the "
                         f"loop** (target <= 0.75: {verdict(ratio <= 0.75)}); {loop_out}"))
            rows.append((label, "loop logs", f"{loop_counts.get('runs', 0)} runs",
                         f"{loop_counts.get('params', 0)} params, "
                         f"{loop_counts.get('metrics', 0)} metric values; mlflow-loop.db "
                         f"{size_str(loop_db)}; no artifacts"))
        info = describe(root, r, n, label, rows)
        noops, noop_loads = [], []
        # Snakemake's own no-op for the same DAG (touch jobs), bare and with one param per
        # job as every gdlab job has: the floor under gdlab's no-op, interleaved with it
        floors = {False: F.make_floor(work / f"floor-n{n}", cfg),
                  True: F.make_floor(work / f"floor-params-n{n}", cfg, params=True)}
        floor_walls = {False: [], True: []}
        for froot in floors.values():
            W.snakemake(froot, "--cores", "2")
        for _ in range(noop_reps):
            l0 = load1()
            nr = W.snakemake(root, "--cores", "2")
            assert "Nothing to be done" in nr["stdout"] + nr["stderr"], nr["stderr"][-3000:]
            noops.append(nr["wall"])
            noop_loads.append(f"{l0}->{load1()}")
            for params, froot in floors.items():
                fr = W.snakemake(froot, "--cores", "2")
                assert "Nothing to be done" in fr["stdout"] + fr["stderr"], fr["stderr"]
                floor_walls[params].append(fr["wall"])
        rows.append((label, "no-op rerun", t_str(median(noops)),
                     f"{noop_reps} repeats: {', '.join(f'{x:.2f}' for x in noops)}; load "
                     f"{', '.join(noop_loads)}"
                     + (f"; target <= 3 s: {verdict(median(noops) <= 3)}" if n >= 10000
                        else "")
                     + f"; {median(noops) / median(floor_walls[True]):.2f}x Snakemake's "
                       "floor with params"))
        for params, what in ((False, "touch jobs, no params"),
                             (True, "touch jobs, one param per job (Snakemake then imports "
                                    "pandas to compare params)")):
            rows.append((label, f"no-op floor: the same DAG, {what}",
                         t_str(median(floor_walls[params])),
                         f"{noop_reps} repeats, interleaved with gdlab's: "
                         + ", ".join(f"{x:.2f}" for x in floor_walls[params])))
        if not a.keep:
            for froot in floors.values():
                shutil.rmtree(froot)
        if n == inc_size:
            incremental(root, cfg, work / f"n{n}-incremental", label, rows, a.keep)
        del info
        if not a.keep:
            shutil.rmtree(root)
    machine.finish()
    print()
    print_table(rows)
    if not a.no_save:
        shard = a.shard_size or F.shard_size({})
        save_results("scaling.py", rows, machine, argv=argv, quick=a.quick,
                     preamble=f"moons x logistic_regression, one sweep of N grid points "
                              f"(lr x l2 x epochs, gd); train.shard_size {shard}; "
                              "--cores 2.", results=a.results)
    if not a.keep:
        shutil.rmtree(work, ignore_errors=True)
    return 0


def incremental(root: Path, cfg: dict, clone: Path, label: str, rows: list,
                keep: bool) -> None:
    """One more learning rate in a copy of the finished project: time, jobs, MLflow ids."""
    import time

    W.clone(root, clone)
    new_cfg, extra = with_extra_lr(cfg)
    before = R.mlflow_children(clone / "mlflow.db")
    W.write_config(clone, new_cfg)
    old_shards, new_shards = F.shards(cfg), F.shards(new_cfg)
    n_old = sum(len(v) for s in old_shards.values() for v in s.values())
    n_new = sum(len(v) for s in new_shards.values() for v in s.values())
    started = time.time()
    l0 = load1()
    r = W.snakemake(clone, "--cores", "2", timeout=4 * 3600)
    load = f"{l0}->{load1()}"
    after = R.mlflow_children(clone / "mlflow.db")
    stats = W.job_stats(r["stderr"])
    by_rule = R.rule_breakdown(R.jobs_from_metadata(clone, since=started - 1))
    gained = sorted(set(after["active"]) - set(before["active"]))
    lost = sorted(set(before["active"]) - set(after["active"]))
    changed = [k for k in before["active"] if k in after["active"]
               and after["active"][k] != before["active"][k]]
    expected = n_new - n_old
    ok = len(gained) == expected and not lost and not changed
    k_old = sum(len(s) for s in old_shards.values())
    k_new = sum(len(s) for s in new_shards.values())
    rows.append((label, f"incremental: add lr={extra}, snakemake --cores 2", t_str(r["wall"]),
                 f"{n_old} -> {n_new} runs, shards {k_old} -> {k_new}; target <= 10 s: "
                 f"{verdict(r['wall'] <= 10)}; load {load}; jobs: "
                 + ", ".join(f"{k} {v}" for k, v in stats.items())))
    rows.append((label, "incremental: MLflow children",
                 "ok" if ok else "NOT OK",
                 f"gained {len(gained)} (expected {expected}), existing gone {len(lost)}, "
                 f"existing with a new run id {len(changed)}; active children "
                 f"{len(before['active'])} -> {len(after['active'])}, deleted "
                 f"{len(before['deleted'])} -> {len(after['deleted'])} (read with sqlite3)"))
    retrained = [t for t in R.train_logs(clone) if Path(t["log"]).stat().st_mtime >= started]
    rows.append((label, "incremental: runs retrained", str(sum(t["runs"] for t in retrained)),
                 f"in {len(retrained)} train jobs (the new runs: {expected}); fit and write "
                 f"{t_str(sum(t['fit_write'] for t in retrained))}, process "
                 f"{t_str(sum(t['process'] for t in retrained))}"))
    for t in R.track_logs(clone, since=started):
        rows.append((label, f"incremental: track {t['sweep']}", t_str(t["seconds"]),
                     f"kept {t['kept']}, created {t['created']}, deleted {t['deleted']}; "
                     f"{t['ms_per_child']:.1f} ms a child via {t['via']}; import mlflow "
                     f"{t_str(t['import_mlflow'])}"))
    rows.append((label, "incremental: job time by rule",
                 t_str(sum(b["sum"] for b in by_rule.values())),
                 ", ".join(f"{rule} {t_str(b['sum'])} ({b['jobs']})"
                           for rule, b in by_rule.items())))
    if not keep:
        shutil.rmtree(clone)


if __name__ == "__main__":
    sys.exit(main())
