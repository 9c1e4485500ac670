#!/usr/bin/env python
"""Per-job overhead of a train job: its wall time minus its training time, and where it goes.

Run from the repository root::

    .venv/bin/python benchmarks/job_overhead.py            # 9 repeats of each piece
    .venv/bin/python benchmarks/job_overhead.py --quick    # 3 repeats

A fresh copy of the project with a one-sweep config (moons x logistic regression, the
default grid: 24 train jobs) runs with ``--cores 1`` (one job at a time, so no job's time
includes another's). For every train job, Snakemake's records (.snakemake/metadata) give
the job's wall time and ``metrics/timing.json`` the fit's. Then each piece of a job is
timed on its own, interleaved (round-robin), each a median over repeats:

- interpreter start (``python -c pass``), ``import numpy``, ``import gdlab.train``
  (NumPy + the gdlab modules a train job needs), with the BLAS/OpenMP thread variables
  set to 1 as Snakemake sets them for a 1-thread job;
- the train job's own command, run directly (``python -m gdlab.train --spec ...``: the
  train rule is a ``shell:`` job since this benchmark showed that Snakemake's ``script:``
  preamble cost 68 ms of a 210 ms job);
- for comparison, the ``script:`` preamble alone of a rule that still uses one
  (``summarize``; kept with ``--skip-script-cleanup``, with an empty body:
  ``from snakemake import script``, unpickling the ``snakemake`` object);
- inside the process: ``load_split``, ``fit``, evaluation, writing the four files;
- the rest of the job's wall time is Snakemake's: writing the script, starting the
  process, checking outputs, writing metadata; compared with an empty ``shell: touch``
  job (the floor of benchmarks/_workflow.py).
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
import _workflow as W  # noqa: E402
from _machine import Machine, append_results, median, print_table, t_str  # noqa: E402


def one_sweep_config() -> dict:
    cfg = W.default_config()
    cfg["datasets"] = {"moons": cfg["datasets"]["moons"]}
    cfg["models"] = {"logistic_regression": cfg["models"]["logistic_regression"]}
    return cfg


def train_jobs(root: Path) -> list[dict]:
    out = []
    for j in W.jobs_from_metadata(root):
        if j["rule"] != "train":
            continue
        timing = next(o for o in j["outputs"] if o.endswith("timing.json"))
        t = json.loads((root / timing).read_text())
        out.append({"wall": j["end"] - j["start"],
                    "fit": (t["end_time_ms"] - t["start_time_ms"]) / 1000, "dir": timing})
    return out


def proc_time(cmd, cwd, env) -> float:
    t0 = time.perf_counter()
    subprocess.run(cmd, cwd=cwd, env=env, check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    return time.perf_counter() - t0


IN_PROCESS = r'''
import json, sys, time
from pathlib import Path
t = {}
t0 = time.perf_counter()
from gdlab import train as T
from gdlab.data import load_split
from gdlab.io import save_npz, write_json, write_text
import numpy as np
spec = json.loads(Path(sys.argv[1]).read_text())
split_path, out = sys.argv[2], Path(sys.argv[3])
REPS = int(sys.argv[4])
res = {k: [] for k in ("load_split", "fit", "evaluate", "write model.npz", "write history.csv",
                       "write metrics.json", "write timing.json", "gdlab.train.run (all)")}
for _ in range(REPS):
    a = time.perf_counter(); split = load_split(split_path); b = time.perf_counter()
    res["load_split"].append(b - a)
    model, s, e = T.fit_run(spec, split); c = time.perf_counter(); res["fit"].append(c - b)
    metrics = {p: T.evaluate(split.task, model, X, y) for p, X, y in (
        ("train", split.X_train, split.y_train), ("val", split.X_val, split.y_val),
        ("test", split.X_test, split.y_test))}
    d = time.perf_counter(); res["evaluate"].append(d - c)
    save_npz(out / "model.npz", coef=model.coef_, intercept=np.float64(model.intercept_),
             x_mean=split.x_mean, x_scale=split.x_scale)
    e1 = time.perf_counter(); res["write model.npz"].append(e1 - d)
    write_text(out / "history.csv", T.history_csv(model.history_))
    e2 = time.perf_counter(); res["write history.csv"].append(e2 - e1)
    write_json(out / "metrics.json", {**spec, "metrics": metrics})
    e3 = time.perf_counter(); res["write metrics.json"].append(e3 - e2)
    write_json(out / "timing.json", {"start_time_ms": s, "end_time_ms": e})
    e4 = time.perf_counter(); res["write timing.json"].append(e4 - e3)
    T.run(spec, split_path, out)
    res["gdlab.train.run (all)"].append(time.perf_counter() - e4)
print(json.dumps(res))
'''


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="3 repeats")
    ap.add_argument("--repeats", type=int, help="repeats of each piece (default 9)")
    ap.add_argument("--workdir", type=Path)
    ap.add_argument("--keep", action="store_true")
    ap.add_argument("--results", type=Path, default=Path(__file__).resolve().parent / "RESULTS.md")
    ap.add_argument("--no-save", action="store_true")
    a = ap.parse_args(argv)
    reps = a.repeats or (3 if a.quick else 9)
    work = Path(a.workdir or tempfile.mkdtemp(prefix="gdlab-overhead-"))
    machine = Machine()
    machine.print()
    cfg = one_sweep_config()
    root = W.make_copy(work / "project", cfg)
    W.snakemake(root, "--cores", "1", "--skip-script-cleanup")
    jobs = train_jobs(root)
    floor = W.make_floor(work / "floor", cfg)
    W.snakemake(floor, "--cores", "1")
    floor_train = [j["end"] - j["start"] for j in W.jobs_from_metadata(floor)
                   if j["rule"] == "train"]
    # wall time per train job seen from outside: rerun every train job (and nothing
    # downstream: --until train) minus the same command with nothing to run, / number of
    # jobs; gdlab and the floor interleaved
    n_train = len(jobs)
    marginal = {"gdlab": [], "floor": []}
    for _ in range(max(1, reps // 3)):
        for name, proj in (("gdlab", root), ("floor", floor)):
            force = W.snakemake(proj, "--cores", "1", "--forcerun", "train", "--until", "train")
            noop = W.snakemake(proj, "--cores", "1", "--until", "train")  # same DAG, no job
            marginal[name].append((force["wall"] - noop["wall"]) / n_train)

    # the preamble of a script: rule that still has one
    scripts = sorted((root / ".snakemake" / "scripts").glob("*.summarize.py"))
    text = scripts[-1].read_text()
    end = "######## snakemake preamble end #########"
    preamble = root / "preamble_only.py"
    preamble.write_text(text[: text.index(end) + len(end)] + "\n")
    env = W.clean_env()
    env["PYTHONPATH"] = str(root / "src")
    # what Snakemake's shell() sets for a job with threads=1 (script jobs run through it);
    # a 2-thread OpenBLAS makes `import numpy` ~45 ms slower here
    for var in ("OMP_NUM_THREADS", "GOTO_NUM_THREADS", "OPENBLAS_NUM_THREADS",
                "MKL_NUM_THREADS", "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS"):
        env[var] = "1"
    py = W.PYTHON
    spec_job = jobs[0]
    run_dir = root / Path(spec_job["dir"]).parent
    spec = {k: v for k, v in json.loads((run_dir / "metrics.json").read_text()).items()
            if k in ("dataset", "model", "task", "run_name", "hyperparameters", "seed",
                     "data_key", "code_version", "run_key")}
    spec_file = work / "spec.json"
    spec_file.write_text(json.dumps(spec))
    scratch = work / "scratch"
    scratch.mkdir(exist_ok=True)
    split_file = str(root / "data" / "moons" / "split.npz")
    pieces = {
        "interpreter start (python -c pass)": [py, "-c", "pass"],
        "python -c 'import numpy'": [py, "-c", "import numpy"],
        "python -c 'import gdlab.train'": [py, "-c", "import gdlab.train"],
        "snakemake script preamble alone": [py, str(preamble)],
        "whole train job command": [py, "-m", "gdlab.train", "--spec", json.dumps(spec),
                                    "--split", split_file, "--out", str(scratch / "cli")],
    }
    times = {k: [] for k in pieces}
    for _ in range(reps):
        for k, cmd in pieces.items():
            times[k].append(proc_time(cmd, root, env))

    # inside the process
    r = subprocess.run([py, "-c", IN_PROCESS, str(spec_file),
                        str(root / "data" / "moons" / "split.npz"), str(scratch), str(reps)],
                       cwd=root, env=env, check=True, capture_output=True, text=True)
    inproc = json.loads(r.stdout)

    wall = median([j["wall"] for j in jobs])
    fit = median([j["fit"] for j in jobs])
    m = {k: median(v) for k, v in times.items()}
    per_job = median(marginal["gdlab"])
    rows = [
        ("job", "wall time per train job, from outside", t_str(per_job),
         f"(rerun all {n_train} train jobs - no-op) / {n_train}, --cores 1, "
         f"{len(marginal['gdlab'])} repeats"),
        ("job", "same for the floor (empty shell touch job)", t_str(median(marginal["floor"])),
         "Snakemake's own per-job cost, interleaved"),
        ("job", "train job wall time (Snakemake's start..end)", t_str(wall),
         f"median of {len(jobs)} jobs, --cores 1 (from .snakemake/metadata: misses "
         "part of the job)"),
        ("job", "fit time (timing.json)", t_str(fit), "median"),
        ("job", "overhead = wall per job (from outside) - fit", t_str(per_job - fit),
         f"{100 * (per_job - fit) / per_job:.0f}% of the job"),
        ("job", "floor's job time in .snakemake/metadata", t_str(median(floor_train)), ""),
    ]
    base = m["interpreter start (python -c pass)"]
    for k, v in m.items():
        note = "" if k.startswith("interpreter") else f"{t_str(v - base)} above interpreter start"
        rows.append(("process", k, t_str(v), note))
    for k, v in inproc.items():
        rows.append(("in process", k, t_str(median(v)), f"{reps} repeats, warm"))
    rows.append(("split", "Snakemake around the command (per job - whole command)",
                 t_str(per_job - m["whole train job command"]),
                 "shell spawn, output checks, metadata"))
    rows.append(("split", "(not paid by train any more) a script: preamble",
                 t_str(m["snakemake script preamble alone"] - base),
                 "snakemake imports, unpickling; summarize/plot/track still pay it"))
    rows.append(("split", "numpy + gdlab imports",
                 t_str(m["python -c 'import gdlab.train'"] - base), ""))
    rows.append(("split", "interpreter start", t_str(base), ""))
    run_itself = median(inproc["gdlab.train.run (all)"])
    rows.append(("split", "the run itself (gdlab.train.run, warm)", t_str(run_itself),
                 f"the first fit in a process is slower: {t_str(fit)} in timing.json"))
    rest = m["whole train job command"] - m["python -c 'import gdlab.train'"] - run_itself
    rows.append(("split", "rest of the command (argparse, json, first-call costs)",
                 t_str(rest), "whole command - imports - warm run"))

    machine.finish()
    print()
    print_table(rows)
    if not a.no_save:
        append_results("job_overhead.py", rows, machine, argv=argv, quick=a.quick,
                       preamble="One sweep (moons x logistic_regression, the default grid, "
                                f"24 train jobs), --cores 1; {reps} repeats of each piece.",
                       results=a.results)
    if not a.keep:
        shutil.rmtree(work, ignore_errors=True)
    os.environ.pop("PYTHONPATH", None)
    return 0


if __name__ == "__main__":
    sys.exit(main())
