"""Shared by the workflow benchmarks: copies of the project and timed Snakemake runs.

A *copy* is what ``tests/conftest.py``'s ``Project`` makes: Snakefile, environment.yml,
profiles, workflow, src and config/schema.yaml in a fresh directory, plus a config. Every
benchmark runs Snakemake in such a copy (never in the checkout), so it starts from nothing
and leaves the checkout alone.
"""

from __future__ import annotations

import copy
import json
import os
import shutil
import subprocess
import sys
import threading
import time
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


#: what Snakemake sets for a 1-thread job (a 2-thread OpenBLAS slows ``import numpy`` here)
ONE_THREAD = {k: "1" for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
                               "GOTO_NUM_THREADS", "VECLIB_MAXIMUM_THREADS",
                               "NUMEXPR_NUM_THREADS")}


def job_env(src: Path = REPO / "src") -> dict:
    """A job's environment: one BLAS thread, ``src``'s gdlab, no MLFLOW_TRACKING_URI."""
    return {**clean_env(), **ONE_THREAD, "MLFLOW_DISABLE_TELEMETRY": "true",
            "PYTHONPATH": str(src)}


def geo_axis(lo: float, hi: float, n: int, digits: int = 6) -> list[float]:
    """``n`` values from ``lo`` to ``hi``, evenly spaced in log, rounded as a config is."""
    import numpy as np

    return [float(f"{x:.{digits}g}") for x in np.geomspace(lo, hi, n)]


def l2_axis(n: int) -> list[float]:
    """``n`` l2 values: 0, then 1e-4 to 1e-1 evenly in log."""
    return [0.0] + geo_axis(1e-4, 1e-1, n - 1, 3)


def gd_grid(n_runs: int, epochs: int) -> dict:
    """A plain-GD grid of ``n_runs`` points (even): learning rates x two l2."""
    return {"grid": {"lr": geo_axis(1e-3, 1.0, max(n_runs // 2, 1)), "l2": [0.0, 1e-3],
                     "epochs": [epochs], "optimizer": ["gd"]}}


def import_seconds(module: str, src: Path = REPO / "src") -> float:
    """Import time of ``module`` in a fresh process (what a job pays)."""
    code = f"import time; t = time.perf_counter(); import {module}; " \
           "print(time.perf_counter() - t)"
    out = subprocess.run([PYTHON, "-c", code], capture_output=True, text=True, check=True,
                         env={**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true",
                              "PYTHONPATH": str(src)})
    return float(out.stdout.split()[-1])


def worker(script: str, flag: str, spec: dict, path: Path, src: Path = REPO / "src",
           cwd: Path | None = None) -> tuple[dict, float]:
    """``script flag path`` in a fresh process as a job runs (``job_env``), its ``spec``
    written to ``path``: what it printed last (JSON), and the process's seconds."""
    Path(path).write_text(json.dumps(spec))
    t0 = time.perf_counter()
    out = subprocess.run([PYTHON, script, flag, str(path)], cwd=cwd, env=job_env(src),
                         capture_output=True, text=True)
    seconds = time.perf_counter() - t0
    if out.returncode != 0:
        raise RuntimeError(f"{Path(script).name} {flag} failed\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1]), seconds
