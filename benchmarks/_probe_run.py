"""The fault probe's runner: the processes it starts (each in its own session, stopped by
PID with its process group) and a scenario's context (its directory, projects, notes,
counted reruns, the open UI), with ``snakemake --cores 2`` run as a user runs it or killed
with SIGKILL at a moment.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import _workflow as W
from _probe_store import PROJECT_TAG, count, phase, project_id, store_count

PYTHON = sys.executable
#: the last line of a Python traceback in a failed job's log (Snakemake prints the log)
ERROR_LINE = re.compile(r"^(?:[\w.]+\.)?\w*(?:Error|Exception|DamagedRunFile): .+")
#: what a track job says of a damaged run (gdlab.runfiles.DamagedRunFile)
DAMAGED = re.compile(r"DamagedRunFile: \S+ is damaged: .*?Delete the run's folder \((\S+)\)")


def project_env(extra: dict | None = None) -> dict:
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    return {**env, "MLFLOW_DISABLE_TELEMETRY": "true", **(extra or {})}


# --------------------------------------------------------------------------------------
# Processes: each started in its own session, stopped by PID with its process group
# --------------------------------------------------------------------------------------


def _group_members(pgid: int) -> list[int]:
    """PIDs in process group ``pgid`` (a zombie leader included), read from /proc."""
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, IndexError, ValueError):
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if int(fields[2]) == pgid:
                out.append(int(stat.parent.name))
    return out


def _alive(pid: int) -> bool:
    """Whether ``pid`` runs (not a zombie), without reaping it."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


class Processes:
    """Every process the probe starts. ``stop`` kills a process's group (the jobs a
    Snakemake started go with it) only while that group exists: no other process is hit."""

    def __init__(self):
        self.started: list[subprocess.Popen] = []

    def start(self, cmd: list[str], cwd: Path, env: dict, out=None, **kw) -> subprocess.Popen:
        proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=out or subprocess.DEVNULL,
                                stderr=subprocess.STDOUT if out else subprocess.DEVNULL,
                                start_new_session=True, **kw)
        self.started.append(proc)
        return proc

    def stop(self, proc: subprocess.Popen, sig: int = signal.SIGKILL) -> None:
        if _group_members(proc.pid):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, sig)
        proc.wait()
        if proc in self.started:
            self.started.remove(proc)

    def stop_all(self) -> None:
        for proc in list(self.started):
            self.stop(proc)



# --------------------------------------------------------------------------------------
# A scenario's context: its directory, processes, notes and counted reruns
# --------------------------------------------------------------------------------------


@dataclass
class Ctx:
    dir: Path
    procs: Processes
    base: Callable[[], Path]
    notes: list[str] = field(default_factory=list)
    n: int = 0
    rerun_rcs: list[int] = field(default_factory=list)
    #: the scenario's projects by name ("project" unless there are two)
    roots: dict[str, Path] = field(default_factory=dict)
    store: Path | None = None  # a store the projects share (else each its own mlflow.db)
    env: dict | None = None
    url: str | None = None  # the open UI's
    ui: int | None = None  # UI faults (None: the UI was not looked at)
    stack: contextlib.ExitStack = field(default_factory=contextlib.ExitStack)  # the open UI
    found: dict = field(default_factory=dict)  # what an action leaves for a check
    rows: list[dict] = field(default_factory=list)
    t0: float = field(default_factory=time.perf_counter)

    @property
    def root(self) -> Path:
        return self.roots["project"]

    def db(self, project: str = "project") -> Path:
        return self.store or self.roots[project] / "mlflow.db"

    def note(self, text: str) -> None:
        self.notes.append(text)

    def _log(self, label: str) -> Path:
        self.n += 1
        return self.dir / f"{self.n:02d}-{label}.txt"

    def snakemake(self, root: Path, *args: str, env: dict | None = None,
                  timeout: float = 900) -> tuple[int, str]:
        log = self._log("snakemake")
        with open(log, "w") as out:
            proc = self.procs.start([PYTHON, "-m", "snakemake", *args], root,
                                    project_env(env), out)
            try:
                rc = proc.wait(timeout)
            except subprocess.TimeoutExpired:
                rc = -1
            finally:
                self.procs.stop(proc)  # anything of it still running goes with it
        return rc, log.read_text(errors="replace")

    def run(self, root: Path, *args: str, env: dict | None = None, label: str = "run",
            follow: bool = True) -> int:
        """``snakemake --cores 2`` as a user runs it; if it fails naming a damaged run and
        saying to delete it, do so and run again. Its exit status is counted."""
        rc, out = self.snakemake(root, "--cores", "2", *args, env=env)
        self.note(f"{label}: {_said(rc, out)}")
        if rc != 0 and follow and (found := DAMAGED.search(out)):
            shutil.rmtree(root / found[1], ignore_errors=True)
            rc, out = self.snakemake(root, "--cores", "2", *args, env=env)
            self.note(f"it named {found[1]} damaged, to delete: done; run again: "
                      f"{_said(rc, out)}")
        self.rerun_rcs.append(rc)
        return rc

    def kill_at(self, root: Path, moment: Callable[[], bool], *args: str,
                env: dict | None = None, db: Path | None = None, timeout: float = 600) -> None:
        """``snakemake --cores 2`` killed with SIGKILL (Snakemake and every job of its
        group) as soon as ``moment()`` holds; notes when, and where the run was."""
        log = self._log("killed")
        t0 = time.monotonic()
        with open(log, "w") as out:
            proc = self.procs.start([PYTHON, "-m", "snakemake", "--cores", "2", *args], root,
                                    project_env(env), out)
            hit = False
            try:
                while time.monotonic() - t0 < timeout and _alive(proc.pid):
                    if moment():
                        hit = True
                        break
                    time.sleep(0.02)
            finally:
                self.procs.stop(proc)
        when = f"kill -9 at {time.monotonic() - t0:.1f} s" if hit else \
            "NOT killed: the run ended before the moment"
        db = db or root / "mlflow.db"
        try:
            where = phase(root, db)
        except sqlite3.OperationalError as err:
            # the writer was killed mid-transaction: its hot journal is left, which only a
            # writer may roll back (the rerun's first connection does); a read-only look fails
            hot = db.with_name(db.name + "-journal")
            where = (f"not readable read-only ({err}); {hot.name} left: "
                     f"{'yes' if hot.exists() else 'no'}")
        self.note(f"{when}: {where}")

    def result(self, name: str = "", project: str = "project", known: set[str] = frozenset(),
               foreign: list[str] | None = None) -> dict:
        """A row: ``project`` counted in its store, the UI's and the reruns' faults."""
        counts, details = count(self.roots[project], self.db(project), known)
        counts["foreign"] = None if foreign is None else len(foreign)
        details += [f"foreign touched: {k}" for k in foreign or []]
        counts["ui"] = self.ui
        counts["failed"] = sum(rc != 0 for rc in self.rerun_rcs)
        self.rerun_rcs.clear()
        return {"name": name, "counts": counts, "details": details, "notes": list(self.notes),
                "seconds": time.perf_counter() - self.t0}


def _said(rc: int, out: str) -> str:
    lines = [ln.strip() for ln in out.splitlines()]
    said = [ln[len("gdlab: "):] for ln in lines if ln.startswith("gdlab: ")
            and not ln.startswith(("gdlab: done", "gdlab: a job failed"))]
    if "Nothing to be done" in out:
        said.append("nothing to do")
    jobs = W.job_stats(out)
    if jobs:
        said.append("jobs " + ", ".join(f"{k} {v}" for k, v in jobs.items() if k != "all"))
    if rc != 0:
        rules = [ln.removeprefix("Error in rule ").rstrip(":") for ln in lines
                 if ln.startswith("Error in rule")]
        errors = [ln for ln in lines if ERROR_LINE.match(ln)]
        said.append(f"FAILED rc {rc}" + (f" in {rules[0]}" if rules else "")
                    + (f": {errors[-1]}" if errors else ""))
    return "; ".join(dict.fromkeys(_short(s) for s in said)) or f"rc {rc}"


def _short(text: str, n: int = 220) -> str:
    return text if len(text) <= n else text[:n - 1] + "…"


#: what ``in_store`` waits for, by name
SQL = {
    "parent open": "SELECT count(*) FROM runs r JOIN tags t ON t.run_uuid = r.run_uuid AND "
                   "t.key = 'gdlab.role' AND t.value = 'sweep' WHERE r.status = 'RUNNING'",
    "children": "SELECT count(*) FROM runs r JOIN tags t ON t.run_uuid = r.run_uuid AND "
                "t.key = 'gdlab.role' AND t.value = 'run' WHERE r.lifecycle_stage = 'active'",
    "model pending": "SELECT count(*) FROM logged_models WHERE status = 1",
    "registered": "SELECT count(*) FROM model_versions",
    "superseded": "SELECT count(*) FROM runs WHERE lifecycle_stage = 'deleted'",
}


# -- Kill moments ------------------------------------------------------------------------

def trained(ctx: Ctx, root: Path, n: int):
    """``n`` runs trained (their metrics.json written)."""
    results = root / "results"
    return lambda: results.is_dir() and sum(1 for _ in results.rglob("metrics.json")) >= n


def _track_started(root: Path, since: float) -> bool:
    """A track job of this run has started: its script opened (emptied) its log. (Its first
    line, ``import mlflow: ...``, is buffered until MLflow's own logging flushes it, at the
    best model: no use as a moment.)"""
    for log in (root / "logs" / "track").rglob("*.log"):
        with contextlib.suppress(OSError):
            if log.stat().st_mtime >= since:
                return True
    return False


def _setup_started(root: Path, since: float) -> bool:
    return any(root.glob(".mlflow.db.*.tmp*"))


def after(ctx: Ctx, root: Path, seen: str, delay: float):
    """``delay`` seconds after ``seen`` (``track`` started, or ``setup``: mlflow_setup
    making the store) first holds."""
    test = {"track": _track_started, "setup": _setup_started}[seen]
    first: list[float] = []
    since = time.time() - 0.05  # a log written since the run started

    def hit() -> bool:
        if not first:
            if test(root, since):
                first.append(time.monotonic())
            return False
        return time.monotonic() - first[0] >= delay
    return hit


def in_store(ctx: Ctx, root: Path, sql: str, own: bool = False):
    """As soon as ``SQL[sql]`` counts something in the store (``own``: of runs of this
    project only)."""
    query = SQL[sql]
    if own:
        query += (" AND r.run_uuid IN (SELECT run_uuid FROM tags WHERE "
                  f"key = '{PROJECT_TAG}' AND value = '{project_id(root)}')")
    db = ctx.store or root / "mlflow.db"
    return lambda: store_count(db, query) > 0


MOMENTS = {f.__name__: f for f in (trained, after, in_store)}
