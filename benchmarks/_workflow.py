"""Shared by the workflow benchmarks: copies of the project, timed Snakemake runs, job tables.

A *copy* is what ``tests/conftest.py``'s ``Project`` makes: Snakefile, environment.yml,
profiles, workflow, src and config/schema.yaml in a fresh directory, plus a config. Every
benchmark runs Snakemake in such a copy (never in the checkout), so it starts from nothing
and leaves the checkout alone.
"""

from __future__ import annotations

import base64
import copy
import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import threading
import time
from collections import defaultdict
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
PYTHON = sys.executable


#: what a project is made of: tests/conftest.py's ``Project`` copies these (and the schema)
PROJECT_FILES = ("Snakefile", "environment.yml", "profiles", "workflow", "src")


def default_config(tree: Path = REPO) -> dict:
    """``config/config.yaml`` of this checkout, or of an exported revision's ``tree``."""
    with open(Path(tree) / "config" / "config.yaml", encoding="utf-8") as f:
        return yaml.safe_load(f)


def make_copy(root: Path, config: dict | None = None, tree: Path | None = None) -> Path:
    """A fresh copy of the workflow and library (no data/, results/, mlflow.db, .snakemake/).

    The copy is the tests' own (tests/conftest.py ``Project``): one list of what a project
    is made of. ``tree``: copy an exported revision (:func:`export_tree`) instead of this
    checkout, the same files; its workflow imports its own ``src/`` (common.smk)."""
    root = Path(root)
    if root.exists():
        shutil.rmtree(root)
    if tree is None:
        sys.path.insert(0, str(REPO / "tests"))
        from conftest import Project

        Project(root)
    else:
        root.mkdir(parents=True)
        for name in PROJECT_FILES:
            src = Path(tree) / name
            if src.is_dir():
                shutil.copytree(src, root / name, ignore=shutil.ignore_patterns("__pycache__"))
            else:
                shutil.copy2(src, root / name)
        (root / "config").mkdir()
        shutil.copy2(Path(tree) / "config" / "schema.yaml", root / "config" / "schema.yaml")
    write_config(root, default_config(tree or REPO) if config is None else config)
    return root


def export_tree(rev: str, dest: Path) -> Path:
    """Git revision ``rev`` of this repository, exported to ``dest`` (``git archive``)."""
    dest = Path(dest)
    dest.mkdir(parents=True)
    archive = subprocess.run(["git", "-C", str(REPO), "archive", rev], check=True,
                             capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(dest)], input=archive, check=True)
    return dest


def describe_rev(rev: str) -> str:
    """``rev`` as a short commit and its subject (``HEAD`` if not given)."""
    out = subprocess.run(["git", "-C", str(REPO), "log", "-1", "--format=%h %s", rev or "HEAD"],
                         capture_output=True, text=True, check=True).stdout.strip()
    return out[:100] + ("…" if len(out) > 100 else "")


def one_sweep(tree: Path, model_spec: dict, experiment: str,
              dataset: str = "moons", model: str = "logistic_regression") -> dict:
    """``tree``'s default config cut to one sweep: ``dataset`` x ``model`` with
    ``model_spec`` (a grid or a search)."""
    cfg = default_config(tree)
    cfg["experiment"] = experiment
    cfg["datasets"] = {dataset: cfg["datasets"][dataset]}
    cfg["models"] = {model: model_spec}
    return cfg


def finished_sweep(root: Path, dataset: str = "moons", model: str = "logistic_regression",
                   method: str = "grid") -> dict:
    """What a sweep's track job reads in a project run up to its plots (``snakemake
    --omit-from mlflow_setup``): the sweep directory, its shard manifests, the split and
    the sweep's figures (as gdlab.jobs.Plan.sweep_plots names them)."""
    sys.path.insert(0, str(REPO / "src"))
    from gdlab import names
    from gdlab.methods import METHODS

    sweep = Path(root) / "results" / dataset / model
    figures = [sweep / "plots" / f for f in METHODS[method].figures]
    if (sweep / "plots" / names.LESSON_FIGURE).is_file():
        figures.append(sweep / "plots" / names.LESSON_FIGURE)
    return {"dir": sweep, "manifests": sorted(sweep.glob("shards/*.json")),
            "split": Path(root) / "data" / dataset / "split.npz", "figures": figures,
            "method": method}


def clone(root: Path, dest: Path) -> Path:
    """A copy of the project ``root`` with everything it has run, as if made at ``dest``
    (the tests' ``Project.clone``: its SQLite store's absolute artifact paths and its
    experiment record point into the copy; gdlab refuses to sync a moved project)."""
    sys.path.insert(0, str(REPO / "tests"))
    from conftest import Project

    dest = Path(dest)
    if dest.exists():
        shutil.rmtree(dest)
    proj = Project.__new__(Project)
    proj.root = Path(root)
    Project.clone(proj, dest)
    return dest


def write_config(root: Path, config: dict) -> None:
    with open(Path(root) / "config" / "config.yaml", "w", encoding="utf-8") as f:
        yaml.safe_dump(copy.deepcopy(config), f, sort_keys=False)


def clean_env() -> dict:
    return {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}


class TreeMemory(threading.Thread):
    """Peak summed RSS of a process and all its descendants, sampled every ``interval`` s."""

    def __init__(self, pid: int, interval: float = 0.1):
        super().__init__(daemon=True)
        self.pid, self.interval = pid, interval
        self.peak = 0
        self._halt = threading.Event()

    @staticmethod
    def _children(pid: int) -> list[int]:
        out = []
        try:
            for task in os.listdir(f"/proc/{pid}/task"):
                with open(f"/proc/{pid}/task/{task}/children") as f:
                    out += [int(c) for c in f.read().split()]
        except OSError:
            pass
        return out

    @staticmethod
    def _rss(pid: int) -> int:
        try:
            with open(f"/proc/{pid}/statm") as f:
                return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
        except OSError:
            return 0

    def run(self) -> None:
        while not self._halt.is_set():
            todo, total = [self.pid], 0
            while todo:
                p = todo.pop()
                total += self._rss(p)
                todo += self._children(p)
            self.peak = max(self.peak, total)
            self._halt.wait(self.interval)

    def stop(self) -> int:
        self._halt.set()
        self.join()
        return self.peak


def run(cmd: list[str], cwd: Path, *, memory: bool = False, check: bool = True,
        timeout: float = 3600) -> dict:
    """Run ``cmd`` in ``cwd``; wall time, output, and (``memory``) peak RSS of its tree."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=cwd, env=clean_env(), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    mem = TreeMemory(proc.pid) if memory else None
    if mem:
        mem.start()
    out, err = proc.communicate(timeout=timeout)
    wall = time.perf_counter() - t0
    peak = mem.stop() if mem else None
    if check and proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} in {cwd} exited {proc.returncode}\n"
                           f"--- stdout ---\n{out[-3000:]}\n--- stderr ---\n{err[-5000:]}")
    return {"wall": wall, "rc": proc.returncode, "stdout": out, "stderr": err, "peak_rss": peak}


def snakemake(root: Path, *args: str, **kw) -> dict:
    return run([PYTHON, "-m", "snakemake", *args], root, **kw)


def job_stats(stderr: str) -> dict[str, int]:
    """Rule -> job count from the "Job stats" table Snakemake prints before running."""
    counts, inside = {}, False
    for line in stderr.splitlines():
        if line.startswith("Job stats:"):
            inside = True
            continue
        if inside:
            parts = line.split()
            if len(parts) == 2 and parts[1].isdigit():
                if parts[0] == "total":
                    break
                counts[parts[0]] = int(parts[1])
    return counts


# -- what ran: Snakemake's metadata (.snakemake/metadata: one record per output) ---------
def jobs_from_metadata(root: Path, since: float = 0.0) -> list[dict]:
    """One dict per job (rule, outputs, inputs, start, end) from Snakemake's records.

    Snakemake stores, for each output file, the job's rule, inputs and start/end times;
    the outputs of one job share them. ``since``: only jobs that started after it.
    """
    groups: dict[tuple, dict] = {}
    base = Path(root) / ".snakemake" / "metadata"
    for f in (p for p in base.rglob("*") if p.is_file()):
        try:
            rec = json.loads(f.read_text())
        except (OSError, ValueError):
            continue
        if rec.get("incomplete") or rec.get("starttime") is None:
            continue
        if rec["starttime"] < since:
            continue
        # a long name is split into directories "@part/@part/last" (persistence/file.py)
        b64 = "".join(part.lstrip("@") for part in f.relative_to(base).parts)
        out = base64.urlsafe_b64decode(b64).decode()
        # one job = one log file (every gdlab rule has its own), else same rule+inputs+start
        key = (rec["rule"], tuple(rec.get("log") or ()) or (rec["starttime"],
                                                            tuple(rec.get("input", []))))
        job = groups.setdefault(key, {"rule": rec["rule"], "start": rec["starttime"],
                                      "end": rec["endtime"], "inputs": rec.get("input", []),
                                      "outputs": []})
        job["outputs"].append(out)
        job["start"] = min(job["start"], rec["starttime"])
        job["end"] = max(job["end"], rec["endtime"])
    return sorted(groups.values(), key=lambda j: j["start"])


def rule_breakdown(jobs: list[dict]) -> dict[str, dict]:
    """Per rule: job count, summed and median job time, and when the rule was busy."""
    t0 = min(j["start"] for j in jobs)
    by = defaultdict(list)
    for j in jobs:
        by[j["rule"]].append(j)
    out = {}
    for rule, js in by.items():
        d = sorted(j["end"] - j["start"] for j in js)
        out[rule] = {"jobs": len(js), "sum": sum(d), "median": d[len(d) // 2], "max": d[-1],
                     "first_start": min(j["start"] for j in js) - t0,
                     "last_end": max(j["end"] for j in js) - t0}
    return dict(sorted(out.items(), key=lambda kv: kv[1]["first_start"]))


def critical_path(jobs: list[dict]) -> list[dict]:
    """The chain of jobs that decided the end: from the last job to finish, step back to
    the input-producing job that finished last (``wait`` is the gap before the job started:
    time it sat ready but waited for a free core, plus the scheduler's own latency)."""
    producer = {}
    for j in jobs:
        for o in j["outputs"]:
            producer[o] = j
    t0 = min(j["start"] for j in jobs)
    job = max(jobs, key=lambda j: j["end"])
    chain = []
    while job is not None:
        preds = [producer[i] for i in job["inputs"] if i in producer]
        # inputs under a directory output (plots/runs/...) map to the directory
        for i in job["inputs"]:
            if i not in producer:
                preds += [p for o, p in producer.items() if i.startswith(o.rstrip("/") + "/")]
        prev = max(preds, key=lambda p: p["end"]) if preds else None
        chain.append({"rule": job["rule"], "output": job["outputs"][0],
                      "start": job["start"] - t0, "duration": job["end"] - job["start"],
                      "wait": job["start"] - (prev["end"] if prev else t0)})
        job = prev
    return chain[::-1]


def dir_size(path: Path) -> int:
    total = 0
    for dirpath, _, files in os.walk(path):
        for f in files:
            try:
                total += os.lstat(os.path.join(dirpath, f)).st_size
            except OSError:
                pass
    return total


# -- what the jobs say: train and track logs ---------------------------------------------
# "trained N runs, reused M: fit and write X s, job Y s" (runs trained from the same spec
# before are reused, not refit)
_TRAIN_RE = re.compile(r"trained (\d+) runs, reused \d+: fit and write ([\d.]+) s, "
                       r"job ([\d.]+|nan) s")
# sync_sweep's last line (gdlab.tracking.sync): "<d>/<m>: kept K, created C, deleted D in
# X s, Y ms a child via <path>" (the per-child part only when it created any), or
# "<d>/<m>: the store already shows this sweep (X s)"
_SYNC_RE = re.compile(r"(\S+): kept (\d+), created (\d+), deleted (\d+) in ([\d.]+) s"
                      r"(?:, ([\d.]+) ms a child via (.+))?$", re.M)
_SHOWN_RE = re.compile(r"(\S+): the store already shows this sweep \(([\d.]+) s\)")


def train_logs(root: Path) -> list[dict]:
    """Per train job (logs/train/...): runs, "fit and write" seconds, process seconds."""
    out = []
    for f in sorted((Path(root) / "logs" / "train").rglob("*.log")):
        m = _TRAIN_RE.search(f.read_text(errors="replace"))
        if m:
            out.append({"log": str(f), "runs": int(m[1]), "fit_write": float(m[2]),
                        "process": float(m[3])})
    return out


def sync_line(text: str) -> dict | None:
    """What ``sync_sweep`` logged (a track job's log, or its messages): the sweep; kept,
    created, deleted children; the whole sync's seconds (find, plan, parent, children,
    figures, best model); the children's ms each (records built and written) and the
    path they went by (``via``: one transaction through MLflow's tables, or MLflow's
    client; NaN and None when none was created); ``shown``: the store already showed the
    sweep (nothing written). None if it logged neither line."""
    if m := _SYNC_RE.search(text):
        return {"sweep": m[1], "kept": int(m[2]), "created": int(m[3]),
                "deleted": int(m[4]), "seconds": float(m[5]), "shown": False,
                "ms_per_child": float(m[6]) if m[6] else float("nan"), "via": m[7]}
    if m := _SHOWN_RE.search(text):
        return {"sweep": m[1], "kept": None, "created": 0, "deleted": 0,
                "seconds": float(m[2]), "shown": True, "ms_per_child": float("nan"),
                "via": None}
    return None


def track_logs(root: Path, since: float = 0.0) -> list[dict]:
    """Per track job (logs/track/<dataset>/<model>.log, one per sweep; ``since``: only
    logs written after that time): :func:`sync_line` of its log, its ``import mlflow``."""
    out = []
    for f in sorted((Path(root) / "logs" / "track").rglob("*.log")):
        if f.stat().st_mtime < since:
            continue
        text = f.read_text(errors="replace")
        sync = sync_line(text)
        if sync is None:
            continue
        imp = re.search(r"import mlflow: ([\d.]+) s", text)
        out.append({"log": str(f), "import_mlflow": float(imp[1]) if imp else float("nan"),
                    **sync})
    return out


def fit_seconds(root: Path) -> tuple[int, float]:
    """(runs, summed fit time) from every run's timing.json (model.fit only, ms resolution)."""
    n, total = 0, 0.0
    for f in (Path(root) / "results").rglob("timing.json"):
        t = json.loads(f.read_text())
        n += 1
        total += (t["end_time_ms"] - t["start_time_ms"]) / 1000
    return n, total


def mlflow_counts(db: Path) -> dict:
    """Runs, params, metric rows (every step), registered models in an MLflow SQLite store."""
    if not Path(db).exists():
        return {}
    con = sqlite3.connect(db)
    try:
        out = {}
        for table in ("runs", "params", "metrics", "registered_models", "model_versions"):
            try:
                out[table] = con.execute(f"select count(*) from {table}").fetchone()[0]
            except sqlite3.Error:
                out[table] = 0
        return out
    finally:
        con.close()


def mlflow_children(db: Path) -> dict[str, dict[str, str]]:
    """gdlab's child runs in a SQLite store (read with sqlite3): ``"sweep/run"`` -> run id,
    the active and the deleted apart: ``{"active": {...}, "deleted": {...}}``. A child is
    named by its run's directory name (tag ``gdlab.run``; the run name where a store of
    older code has no such tag), not by the short name people read, which a new grid
    value may change."""
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        rows = con.execute(
            "select r.run_uuid, coalesce(rt.value, r.name), r.lifecycle_stage, p.name "
            "from runs r "
            "join tags t on t.run_uuid = r.run_uuid and t.key = 'gdlab.role' "
            "and t.value = 'run' "
            "left join tags rt on rt.run_uuid = r.run_uuid and rt.key = 'gdlab.run' "
            "left join tags pt on pt.run_uuid = r.run_uuid and pt.key = 'mlflow.parentRunId' "
            "left join runs p on p.run_uuid = pt.value").fetchall()
    finally:
        con.close()
    out: dict[str, dict[str, str]] = {"active": {}, "deleted": {}}
    for run_id, name, stage, parent in rows:
        out["active" if stage == "active" else "deleted"][f"{parent}/{name}"] = run_id
    return out


# -- Snakemake's own floor: the same DAG with empty jobs ---------------------------------
FLOOR_SNAKEFILE = r"""
# Generated by benchmarks/_workflow.py: gdlab's DAG shape (rules, jobs, wildcards, files
# per job, one log per job) with empty jobs. No params, no config validation, no gdlab.
# A train job trains a shard (its declared output is the shard manifest; the per-run
# files are not declared outputs); one track job per sweep makes MLflow show the sweep.
import json
FLOOR = json.load(open("floor.json"))
SHARDS = {tuple(k.split("/")): v for k, v in FLOOR["shards"].items()}  # sweep -> shard -> runs
LESSON = [tuple(k.split("/")) for k in FLOOR["lesson"]]  # sweeps with the lesson's figure
SWEEPS = list(SHARDS)
FIGURES = ["heatmap", "learning_curves", "convergence", "parallel_coordinates", "importance"]

wildcard_constraints:
    dataset=r"[A-Za-z0-9_-]+",
    model=r"[A-Za-z0-9_-]+",
    shard=r"\d+",

def shard_files(pattern):
    return lambda w: [pattern.format(dataset=w.dataset, model=w.model, shard=k)
                      for k in SHARDS[(w.dataset, w.model)]]

def sweep_plots(w):
    names = [f"{f}.png" for f in FIGURES]
    if (w.dataset, w.model) in LESSON:
        names.append("loss_landscape.png")
    return [f"results/{w.dataset}/{w.model}/plots/{n}" for n in names]

rule all:
    input:
        "results/summary.csv",
        [f"results/{d}/{m}/{f}" for d, m in SWEEPS
         for f in ("summary.csv", "best.json", "plots/parallel_coordinates.png",
                   "mlflow.json")],
        [f"results/{d}/{m}/plots/loss_landscape.png" for d, m in LESSON],
    default_target: True

rule make_dataset:
    output: "data/{dataset}/full.npz"
    log: "logs/make_dataset/{dataset}.log"
    shell: "touch {output} {log}"

rule split:
    input: "data/{dataset}/full.npz"
    output: "data/{dataset}/split.npz"
    log: "logs/split/{dataset}.log"
    shell: "touch {output} {log}"

rule train:
    input: "data/{dataset}/split.npz"
    output: "results/{dataset}/{model}/shards/{shard}.json"
    log: "logs/train/{dataset}/{model}/{shard}.log"
    shell: "touch {output} {log}"

rule baseline:
    input: "data/{dataset}/split.npz"
    output: "results/{dataset}/{model}/baseline.json"
    log: "logs/baseline/{dataset}/{model}.log"
    shell: "touch {output} {log}"

rule summarize:
    input:
        manifests=shard_files("results/{dataset}/{model}/shards/{shard}.json"),
        baseline="results/{dataset}/{model}/baseline.json",
    output:
        summary="results/{dataset}/{model}/summary.csv",
        configs="results/{dataset}/{model}/configs.csv",
        best="results/{dataset}/{model}/best.json",
    log: "logs/summarize/{dataset}/{model}.log"
    shell: "touch {output} {log}"

rule overview:
    input:
        best=[f"results/{d}/{m}/best.json" for d, m in SWEEPS],
        summaries=[f"results/{d}/{m}/summary.csv" for d, m in SWEEPS],
    output: "results/summary.csv"
    log: "logs/overview.log"
    shell: "touch {output} {log}"

rule plot:
    input:
        split="data/{dataset}/split.npz",
        configs="results/{dataset}/{model}/configs.csv",
        best="results/{dataset}/{model}/best.json",
        baseline="results/{dataset}/{model}/baseline.json",
        manifests=shard_files("results/{dataset}/{model}/shards/{shard}.json"),
    output:
        heatmap="results/{dataset}/{model}/plots/heatmap.png",
        learning_curves="results/{dataset}/{model}/plots/learning_curves.png",
        convergence="results/{dataset}/{model}/plots/convergence.png",
        parallel_coordinates="results/{dataset}/{model}/plots/parallel_coordinates.png",
        importance="results/{dataset}/{model}/plots/importance.png",
        runs=directory("results/{dataset}/{model}/plots/runs"),
    log: "logs/plot/{dataset}/{model}.log"
    shell:
        "mkdir -p {output.runs} && touch {output.heatmap} {output.learning_curves} "
        "{output.convergence} {output.parallel_coordinates} {output.importance} {log}"

rule lesson:
    input:
        split="data/{dataset}/split.npz",
        summary="results/{dataset}/{model}/summary.csv",
        baseline="results/{dataset}/{model}/baseline.json",
        manifests=shard_files("results/{dataset}/{model}/shards/{shard}.json"),
    output:
        figure="results/{dataset}/{model}/plots/loss_landscape.png",
        record="results/{dataset}/{model}/lesson.json",
    log: "logs/lesson/{dataset}/{model}.log"
    shell: "touch {output} {log}"

rule mlflow_setup:
    output: "results/mlflow/experiment.json"
    log: "logs/mlflow_setup.log"
    shell: "touch {output} {log}"

rule track:
    input:
        experiment="results/mlflow/experiment.json",
        split="data/{dataset}/split.npz",
        summary="results/{dataset}/{model}/summary.csv",
        configs="results/{dataset}/{model}/configs.csv",
        best="results/{dataset}/{model}/best.json",
        baseline="results/{dataset}/{model}/baseline.json",
        manifests=shard_files("results/{dataset}/{model}/shards/{shard}.json"),
        plots=sweep_plots,
        run_plots="results/{dataset}/{model}/plots/runs",
    output: "results/{dataset}/{model}/mlflow.json"
    log: "logs/track/{dataset}/{model}.log"
    shell: "touch {output} {log}"
"""

DEFAULT_SHARD_SIZE = 200  # gdlab.grid's default for train.shard_size


def shard_size(config: dict) -> int:
    try:
        from gdlab.grid import DEFAULT_SHARD_SIZE as size
    except ImportError:
        size = DEFAULT_SHARD_SIZE
    return int((config.get("train") or {}).get("shard_size", size))


def shards(config: dict) -> dict[str, dict[str, list[str]]]:
    """``"dataset/model"`` -> shard id -> run names, as workflow/rules/common.smk makes them."""
    sys.path.insert(0, str(REPO / "src"))
    from gdlab import grid as G

    size = shard_size(config)
    out = {}
    for d, m in G.sweeps(config):
        grid = config["models"][m]["grid"]
        names = sorted(G.run_name(hp, grid) for hp in G.expand_grid(grid, m))
        n = G.shard_count(len(names), size)
        by: dict[str, list[str]] = {}
        for name in names:
            by.setdefault(str(G.shard_of(name, n)), []).append(name)
        out[f"{d}/{m}"] = dict(sorted(by.items(), key=lambda kv: int(kv[0])))
    return out


def lesson_sweeps(config: dict) -> list[str]:
    """``"dataset/model"`` of the sweeps that get the lesson's figure (rule lesson)."""
    sys.path.insert(0, str(REPO / "src"))
    from gdlab import grid as G
    from gdlab.names import is_lesson

    return [f"{d}/{m}" for d, m in G.sweeps(config)
            if is_lesson(m, G.axis_values(config["models"][m], "loss"))]


def make_floor(root: Path, config: dict, params: bool = False) -> Path:
    """A project with gdlab's DAG shape for ``config`` (grid sweeps) and empty ``touch``
    jobs.

    Same sweeps, shards (``train.shard_size``, default 200), lesson jobs and files per job
    as gdlab.
    With ``params``, every job also has one small param (its wildcards), as every gdlab
    job has: Snakemake checks params on a rerun and, whenever pandas is installed, imports
    it to do so (~0.3 s here), a cost of Snakemake's own that the bare floor never pays.
    """
    root = Path(root)
    if root.exists():
        shutil.rmtree(root)
    root.mkdir(parents=True)
    (root / "floor.json").write_text(json.dumps({"shards": shards(config),
                                                 "lesson": lesson_sweeps(config)}))
    snakefile = FLOOR_SNAKEFILE
    if params:
        snakefile = snakefile.replace(
            "    log: ", "    params: spec=lambda w: repr(sorted(w.items()))\n    log: ")
    (root / "Snakefile").write_text(snakefile)
    return root
