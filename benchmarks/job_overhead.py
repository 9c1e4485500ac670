#!/usr/bin/env python
"""Per-shard overhead of a train job: its wall time minus its runs' fits, and where it goes.

Run from the repository root::

    .venv/bin/python benchmarks/job_overhead.py            # 200 runs in 1 shard, 9 repeats
    .venv/bin/python benchmarks/job_overhead.py --quick    # 3 repeats
    .venv/bin/python benchmarks/job_overhead.py --shard-size 50   # 4 shards of ~50 runs

A train job trains a *shard* (``train.shard_size`` runs, default 200) in one process. A
fresh copy of the project with one sweep (moons x logistic regression, ``--runs`` grid
points, default 200: 20 lr x 10 l2, 100 epochs) runs with ``--cores 1`` (one job at a
time) and ``--skip-script-cleanup``. Then:

- the **wall time per shard from outside**: ``snakemake --cores 1 --forcerun train
  --until train`` (the runs' files removed first, untimed: a train job would reuse them)
  minus the same command with nothing to do, / shards; likewise for the
  floor project's empty ``touch`` job (benchmarks/_workflow.py), interleaved;
- the **fit share** of the train jobs: "fit and write" / process time from the train logs,
  and ``model.fit`` (every run's ``timing.json``) / the wall per shard from outside;
- as separate processes, interleaved, with the BLAS/OpenMP thread variables at 1 as
  Snakemake sets them for a 1-thread job: interpreter start, ``import numpy``,
  ``import gdlab.train``, the train rule's ``script:`` preamble alone (the generated
  script kept by ``--skip-script-cleanup``, its body cut off: Snakemake's imports and the
  unpickling of its ``snakemake`` object), and the whole generated train script (the job's
  command; its runs' files removed before, untimed, so that it fits them: a train job
  reuses a run already trained from the same spec);
- inside one warm process: ``load_split``, and per run ``fit``, evaluation, each file's
  write, and ``train_run`` whole; and ``train_shard`` for the whole shard.

The last table splits a shard's job into interpreter, preamble, imports, the runs, and
Snakemake around the command, with the overhead per run.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _floor as F  # noqa: E402
import _records as R  # noqa: E402
import _workflow as W  # noqa: E402
from _machine import Machine, add_run_args, median, report, t_str  # noqa: E402

SPEC_FIELDS = ("dataset", "model", "task", "run_name", "hyperparameters", "seed", "data_key",
               "code_version", "run_key")


def one_sweep_config(n_runs: int, shard_size: int | None) -> dict:

    cfg = W.default_config()
    cfg["datasets"] = {"moons": cfg["datasets"]["moons"]}
    n_l2 = 10 if n_runs % 10 == 0 and n_runs >= 20 else 1
    cfg["models"] = {"logistic_regression": {"grid": {
        "lr": W.geo_axis(1e-3, 10.0, n_runs // n_l2), "optimizer": ["gd"],
        "l2": W.l2_axis(n_l2), "epochs": [100]}}}
    if shard_size:
        cfg["train"] = {"shard_size": shard_size}
    return cfg


def fresh_runs(root: Path) -> None:
    """Remove the sweeps' run files (not timed): a train job reuses a run already trained
    from the same spec, so a rerun shard would read its runs back instead of fitting."""
    for runs in (Path(root) / "results").glob("*/*/runs"):
        shutil.rmtree(runs)


def proc_time(cmd, cwd, env, before=None) -> float:
    if before is not None:
        before()
    t0 = time.perf_counter()
    subprocess.run(cmd, cwd=cwd, env=env, check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    return time.perf_counter() - t0


IN_PROCESS = r'''
import json, sys, time
from pathlib import Path
from gdlab import train as T
from gdlab.data import load_split
from gdlab.io import npz_bytes, write_bytes, write_json
from gdlab.runfiles import history_csv
import numpy as np
shard = json.loads(Path(sys.argv[1]).read_text())
split_path, out = sys.argv[2], Path(sys.argv[3])
REPS = int(sys.argv[4])
spec = shard["runs"][len(shard["runs"]) // 2]
res = {k: [] for k in ("load_split", "fit", "evaluate", "write model.npz", "write history.csv",
                       "write metrics.json", "write timing.json", "train_run (all)")}
for _ in range(REPS):
    a = time.perf_counter(); split = load_split(split_path); b = time.perf_counter()
    res["load_split"].append(b - a)
    model, s, e = T.fit_run(spec, split); c = time.perf_counter(); res["fit"].append(c - b)
    metrics = {p: T.evaluate(split.task, model, X, y) for p, X, y in (
        ("train", split.X_train, split.y_train), ("val", split.X_val, split.y_val),
        ("test", split.X_test, split.y_test))}
    d = time.perf_counter(); res["evaluate"].append(d - c)
    write_bytes(out / "model.npz", npz_bytes({"coef": model.coef_,
                "intercept": np.float64(model.intercept_), "x_mean": split.x_mean,
                "x_scale": split.x_scale}))
    e1 = time.perf_counter(); res["write model.npz"].append(e1 - d)
    write_bytes(out / "history.csv", history_csv(model.history_).encode())
    e2 = time.perf_counter(); res["write history.csv"].append(e2 - e1)
    write_json(out / "metrics.json", {**spec, "metrics": metrics})
    e3 = time.perf_counter(); res["write metrics.json"].append(e3 - e2)
    write_json(out / "timing.json", {"start_time_ms": s, "end_time_ms": e})
    e4 = time.perf_counter(); res["write timing.json"].append(e4 - e3)
    T.train_run(spec, split, out / "run")
    res["train_run (all)"].append(time.perf_counter() - e4)
a = time.perf_counter()
T.train_shard(shard, split_path, out / "sweep", out / "manifest.json")
res["train_shard (whole shard, warm)"] = [time.perf_counter() - a]
print(json.dumps(res))
'''


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="3 repeats")
    ap.add_argument("--repeats", type=int, help="repeats of each piece (default 9)")
    ap.add_argument("--runs", type=int, default=200, help="grid points of the sweep")
    ap.add_argument("--shard-size", type=int, help="train.shard_size (default: gdlab's)")
    add_run_args(ap)
    a = ap.parse_args(argv)
    reps = a.repeats or (3 if a.quick else 9)
    work = Path(a.workdir or tempfile.mkdtemp(prefix="gdlab-overhead-")).resolve()
    machine = Machine()
    machine.print()
    cfg = one_sweep_config(a.runs, a.shard_size)
    root = W.make_copy(work / "project", cfg)
    W.snakemake(root, "--cores", "1", "--skip-script-cleanup")
    logs = R.train_logs(root)
    n_shards = len(logs)
    n_runs, fit_sum = R.fit_seconds(root)
    floor = F.make_floor(work / "floor", cfg)
    W.snakemake(floor, "--cores", "1")
    # wall time per shard seen from outside: rerun every train job (and nothing
    # downstream: --until train) minus the same command with nothing to run, / shards;
    # gdlab and the floor interleaved
    marginal = {"gdlab": [], "floor": []}
    loads = []
    for _ in range(max(1, reps // 3)):
        for name, proj in (("gdlab", root), ("floor", floor)):
            l0 = os.getloadavg()[0]
            fresh_runs(proj)  # every run fitted again, not reused
            force = W.snakemake(proj, "--cores", "1", "--forcerun", "train", "--until", "train")
            noop = W.snakemake(proj, "--cores", "1", "--until", "train")  # same DAG, no job
            marginal[name].append((force["wall"] - noop["wall"]) / n_shards)
            loads.append(f"{l0:.2f}->{os.getloadavg()[0]:.2f}")
    logs = R.train_logs(root)  # the last forced run's logs
    n_runs, fit_sum = R.fit_seconds(root)

    scripts = sorted((root / ".snakemake" / "scripts").glob("*.train.py"),
                     key=lambda p: p.stat().st_mtime)
    text = scripts[-1].read_text()
    end = "######## snakemake preamble end #########"
    preamble = root / "preamble_only.py"
    preamble.write_text(text[: text.index(end) + len(end)] + "\n")
    env = W.clean_env()
    env["PYTHONPATH"] = str(root / "src")
    env.update(W.ONE_THREAD)  # what Snakemake sets for a job with threads=1
    py = W.PYTHON
    pieces = {
        "interpreter start (python -c pass)": [py, "-c", "pass"],
        "python -c 'import numpy'": [py, "-c", "import numpy"],
        "python -c 'import gdlab.train'": [py, "-c", "import gdlab.train"],
        "train script: preamble alone": [py, str(preamble)],
        "train script: whole (the job's command)": [py, str(scripts[-1])],
    }
    times = {k: [] for k in pieces}
    for _ in range(reps):
        for k, cmd in pieces.items():
            times[k].append(proc_time(cmd, root, env, before=(
                (lambda: fresh_runs(root)) if k.startswith("train script: whole") else None)))

    # inside one warm process: a shard's spec rebuilt from its runs' metrics.json
    manifest = sorted((root / "results" / "moons" / "logistic_regression" / "shards")
                      .glob("*.json"))[0]
    entries = json.loads(manifest.read_text())
    sweep_dir = manifest.parent.parent
    specs = []
    for name in entries["runs"]:
        res = json.loads((sweep_dir / "runs" / name / "metrics.json").read_text())
        specs.append({k: res[k] for k in SPEC_FIELDS})
    shard_file = work / "shard.json"
    shard_file.write_text(json.dumps({**{k: entries[k] for k in ("dataset", "model", "shard")},
                                      "runs": specs}))
    scratch = work / "scratch"
    scratch.mkdir(exist_ok=True)
    r = subprocess.run([py, "-c", IN_PROCESS, str(shard_file),
                        str(root / "data" / "moons" / "split.npz"), str(scratch), str(reps)],
                       cwd=root, env=env, check=True, capture_output=True, text=True)
    inproc = json.loads(r.stdout)

    m = {k: median(v) for k, v in times.items()}
    per_shard = median(marginal["gdlab"])
    runs_per_shard = n_runs / n_shards
    fw = sum(t["fit_write"] for t in logs)
    proc = sum(t["process"] for t in logs)
    rows = [
        ("shard", "wall time per train job (shard), from outside", t_str(per_shard),
         f"(rerun all {n_shards} shards - no-op) / {n_shards}, --cores 1, "
         f"{len(marginal['gdlab'])} repeats; {runs_per_shard:.0f} runs per shard; load "
         f"{', '.join(loads)}"),
        ("shard", "same for the floor (empty shell touch job)",
         t_str(median(marginal["floor"])), "Snakemake's own per-job cost, interleaved"),
        ("shard", "fit share: fit and write / job process time (train logs)",
         f"{100 * fw / proc:.0f} %", f"{t_str(fw)} / {t_str(proc)} (target >= 50 %)"),
        ("shard", "fit share, strict: model.fit (timing.json) / wall from outside",
         f"{100 * fit_sum / (per_shard * n_shards):.0f} %",
         f"{t_str(fit_sum)} over {n_runs} fits / {t_str(per_shard * n_shards)}"),
        ("shard", "overhead per shard = wall from outside - fit and write",
         t_str(per_shard - fw / n_shards),
         f"{t_str((per_shard - fw / n_shards) / runs_per_shard)} per run"),
    ]
    base = m["interpreter start (python -c pass)"]
    for k, v in m.items():
        note = "" if k.startswith("interpreter") else f"{t_str(v - base)} above interpreter start"
        rows.append(("process", k, t_str(v), note))
    for k, v in inproc.items():
        rows.append(("in process", k, t_str(median(v)),
                     f"{len(v)} repeat(s), warm" + (f"; {t_str(median(v) / len(specs))} per run"
                                                   if k.startswith("train_shard") else "")))
    whole = m["train script: whole (the job's command)"]
    pre = m["train script: preamble alone"] - base
    imports = m["python -c 'import gdlab.train'"] - base
    rows += [
        ("split", "Snakemake around the command (per shard - whole command)",
         t_str(per_shard - whole), "writing the script, spawn, output checks, metadata"),
        ("split", "interpreter start", t_str(base), ""),
        ("split", "script: preamble (Snakemake imports, unpickling)", t_str(pre), ""),
        ("split", "numpy + gdlab imports", t_str(imports), ""),
        ("split", "the runs (whole command - the above)", t_str(whole - base - pre - imports),
         f"{runs_per_shard:.0f} runs; warm train_shard: "
         f"{t_str(median(inproc['train_shard (whole shard, warm)']))}"),
    ]

    report("job_overhead.py", rows, machine, a, argv=argv,
           preamble=f"One sweep (moons x logistic_regression, {n_runs} runs of 100 "
                    f"epochs in {n_shards} shard(s)), --cores 1; {reps} repeats "
                    "of each piece.")
    if not a.keep:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
