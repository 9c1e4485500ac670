#!/usr/bin/env python
"""A scripted fault run (issue 22): kill -9, the store's accidents, two projects on one store,
damaged files; each followed by a plain rerun, then the store counted.

Run from the repository root::

    .venv/bin/python benchmarks/fault_probe.py               # every scenario, ~7 min
    .venv/bin/python benchmarks/fault_probe.py --quick       # one moment per phase, ~3 min
    .venv/bin/python benchmarks/fault_probe.py --only kill   # scenarios whose name has "kill"
    .venv/bin/python benchmarks/fault_probe.py --list        # the scenarios

Every scenario runs in its own copy of the project (tests/conftest.py's, with the tiny
experiment of its ``TINY_CONFIG``: two sweeps of four runs, shards of three): from nothing
(the kill scenarios, two projects), or a copy of one finished project (``Project.clone``:
the store scenarios, damaged files). What a user would do next follows every fault: a
plain ``snakemake --cores 2`` (the default profile passes ``--rerun-incomplete``); when
that run fails naming a damaged run and saying to delete it, the probe does so and runs
once more. Then, read with sqlite3 from the store file itself:

- **lost**: a run of ``results/`` (its shard manifests) without a complete child (tag
  ``gdlab.complete``, not RUNNING) under an active parent of its sweep; a sweep without a
  complete parent (its own run: cut off, or gone);
- **duplicated**: a run with more than one active child, a sweep with more than one active
  parent;
- **stale**: active children of runs ``results/`` does not have, active runs of a project
  that is not there (every active run the UI shows must be one of ``results/``);
- **running**: active runs of the project left ``RUNNING``;
- **pending**: the project's logged models that are not ``READY``;
- **foreign**: runs, logged models and registered versions of the other project that
  changed across the scenario (status, lifecycle, name, tags, params, metrics; a
  version's run, status, stage, description), or appeared (two projects on one store);
- **integrity**: 1 unless ``PRAGMA integrity_check`` says ``ok``;
- **debris**: half-written temporaries (``gdlab.io.partial_writes``) left in ``results/``;
- **ui**: with ``mlflow ui`` open, the active runs the UI's REST API returns
  (``/api/2.0/mlflow/runs/search``) that differ from the store's, and failed UI reads;
- **failed**: reruns that exited non-zero (after doing what a failure said to do).

The goal is zero of each; the exit status is 1 if any count is not (usable as a check).
Every process the probe starts (snakemake, mlflow ui, crashed writers) is stopped by PID,
its process group with it, also on failure.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import hashlib
import json
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import _workflow as W  # noqa: E402
from _machine import Machine, add_run_args, clean_up, save_results  # noqa: E402

REPO = W.REPO
sys.path.insert(0, str(REPO / "tests"))  # _services.mlflow_ui
sys.path.insert(0, str(REPO / "src"))  # gdlab.runfiles.manifest_runs, gdlab.io

PYTHON = sys.executable

#: tests/conftest.py's TINY_CONFIG, copied (so that an edit of the tests' config does not
#: change what the probe measures): two sweeps, four runs each, one diverging point each,
#: several shards per sweep
PROBE_CONFIG = {
    "experiment": "gdlab-test",
    "seed": 7,
    "mlflow": {"tracking_uri": "sqlite:///mlflow.db", "register_models": True},
    "datasets": {
        "line": {"task": "regression", "source": "synthetic", "generator": "linear",
                 "n_samples": 60, "n_features": 1, "noise": 0.3},
        "moons": {"task": "classification", "source": "synthetic", "generator": "moons",
                  "n_samples": 80, "n_features": 2, "noise": 0.2},
    },
    "split": {"test_size": 0.25, "val_size": 0.25, "stratify": True, "standardize": True},
    "models": {
        "linear_regression": {"grid": {"lr": [0.1, 3.0], "l2": [0.0, 0.1], "epochs": [15]}},
        "logistic_regression": {"grid": {"lr": [0.5, 200.0], "l2": [0.0, 0.1],
                                         "epochs": [15]}},
    },
    "selection": {"classification": "log_loss", "regression": "mse"},
    "train": {"shard_size": 3},
}
SWEEPS = ("line/linear_regression", "moons/logistic_regression")

# gdlab's tags (gdlab.tracking.layout), spelled out: the probe reads the store with sqlite3
PROJECT_TAG, SWEEP_TAG, ROLE_TAG, RUN_TAG = ("gdlab.project", "gdlab.sweep", "gdlab.role",
                                             "gdlab.run")
COMPLETE_TAG, PARENT_TAG = "gdlab.complete", "mlflow.parentRunId"
READY = 2  # MLflow's LoggedModelStatus.READY in the logged_models table (PENDING is 1)

COUNTS = ("lost", "duplicated", "stale", "running", "pending", "foreign", "integrity",
          "debris", "ui", "failed")
#: the end of a track job that did its work
TRACKED = re.compile(r"kept \d+, created \d+, deleted \d+ in|the store already shows")
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
# The store, read with sqlite3 (read-only; no MLflow in this process)
# --------------------------------------------------------------------------------------


def _connect(db: Path, timeout: float) -> sqlite3.Connection:
    return sqlite3.connect(db.resolve().as_uri() + "?mode=ro", uri=True, timeout=timeout)


def read_store(db: Path, timeout: float = 30) -> dict | None:
    """Every run (name, status, lifecycle, experiment, end, tags, params and metrics
    digests), logged model (status, lifecycle, tags) and registered model version (its
    project, run, status, stage, description, source) of a SQLite store; None if there is
    no store file."""
    if not db.is_file():
        return None
    con = _connect(db, timeout)
    try:
        runs = {r[0]: {"id": r[0], "name": r[1], "status": r[2], "stage": r[3],
                       "experiment": str(r[4]), "end": r[5], "tags": {}, "data": ""}
                for r in con.execute("SELECT run_uuid, name, status, lifecycle_stage, "
                                     "experiment_id, end_time FROM runs")}
        for run_id, key, value in con.execute("SELECT run_uuid, key, value FROM tags"):
            if run_id in runs:
                runs[run_id]["tags"][key] = value
        for run_id, n, total in con.execute(
                "SELECT run_uuid, count(*), total(value) FROM metrics GROUP BY run_uuid"):
            if run_id in runs:
                runs[run_id]["data"] += f"metrics {n} {total!r};"
        for run_id, n, values in con.execute(
                "SELECT run_uuid, count(*), group_concat(key || '=' || value) FROM params "
                "GROUP BY run_uuid"):
            if run_id in runs:
                runs[run_id]["data"] += f"params {n} {values};"
        models = {m[0]: {"id": m[0], "status": m[1], "stage": m[2], "run": m[3], "tags": {}}
                  for m in con.execute("SELECT model_id, status, lifecycle_stage, "
                                       "source_run_id FROM logged_models")}
        for model_id, key, value in con.execute(
                "SELECT model_id, tag_key, tag_value FROM logged_model_tags"):
            if model_id in models:
                models[model_id]["tags"][key] = value
        versions = [{"name": v[0], "version": v[1], "project": v[2], "data": list(v[3:])}
                    for v in con.execute(
            "SELECT v.name, v.version, t.value, v.run_id, v.status, v.current_stage, "
            "v.description, v.source FROM model_versions v LEFT JOIN model_version_tags t "
            "ON t.name = v.name AND t.version = v.version AND t.key = 'gdlab.project'")]
        experiments = [str(e[0]) for e in con.execute("SELECT experiment_id FROM experiments")]
    finally:
        con.close()
    return {"runs": runs, "models": models, "versions": versions, "experiments": experiments}


def integrity(db: Path) -> str:
    if not db.is_file():
        return "no store file"
    con = _connect(db, 30)
    try:
        rows = [r[0] for r in con.execute("PRAGMA integrity_check")]
    except sqlite3.Error as err:
        return f"unreadable: {err}"
    finally:
        con.close()
    return "ok" if rows == ["ok"] else "; ".join(rows)[:200]


def store_count(db: Path, sql: str) -> int:
    """A count from the store while a run writes it (0 if busy or not there yet)."""
    if not db.is_file():
        return 0
    try:
        con = _connect(db, 0.05)
        try:
            row = con.execute(sql).fetchone()
        finally:
            con.close()
    except sqlite3.Error:
        return 0
    return int(row[0]) if row and row[0] else 0


def project_id(root: Path) -> str:
    """The project's id: its ``results/mlflow/project.json``, or, missing or damaged, the
    one gdlab makes again from the directory (``gdlab.tracking.setup.project_id``, which
    would write the file: not called)."""
    try:
        return json.loads((root / "results" / "mlflow" / "project.json").read_text())["id"]
    except (OSError, ValueError, KeyError):
        return hashlib.sha256(str(root.resolve()).encode()).hexdigest()[:16]


def expected_runs(root: Path) -> dict[str, set[str]]:
    """Sweep -> the run names of its shard manifests (what results/ has)."""
    from gdlab.runfiles import manifest_runs

    out = {}
    for shards in sorted((root / "results").glob("*/*/shards")):
        sweep = f"{shards.parent.parent.name}/{shards.parent.name}"
        out[sweep] = set(manifest_runs(sorted(shards.glob("*.json"))))
    return out


def snapshot(db: Path, project: str) -> dict[str, str]:
    """A digest of every run and logged model of ``project``: what must not change when
    another project runs."""
    store = read_store(db) or {"runs": {}, "models": {}}
    out = {}
    for run_id, r in store["runs"].items():
        if r["tags"].get(PROJECT_TAG) == project:
            out[f"run {run_id}"] = _digest([r["name"], r["status"], r["stage"], r["end"],
                                            sorted(r["tags"].items()), r["data"]])
    for model_id, m in store["models"].items():
        if m["tags"].get(PROJECT_TAG) == project:
            out[f"logged model {model_id}"] = _digest([m["status"], m["stage"],
                                                       sorted(m["tags"].items())])
    for v in store.get("versions", []):
        if v["project"] == project:
            out[f"model version {v['name']} {v['version']}"] = _digest(v["data"])
    return out


def _digest(value) -> str:
    return hashlib.sha256(json.dumps(value, default=str).encode()).hexdigest()[:16]


def touched(before: dict[str, str], after: dict[str, str]) -> list[str]:
    return sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k))


def count(root: Path, db: Path, known_projects: set[str] = frozenset()) -> tuple[dict, list]:
    """The counts of one project (``root``) in a store: lost, duplicated, stale, running,
    pending, integrity, debris; and a line per fault found."""
    out = dict.fromkeys(("lost", "duplicated", "stale", "running", "pending", "integrity"), 0)
    details: list[str] = []
    from gdlab.io import partial_writes

    debris = partial_writes(root / "results")
    out["debris"] = len(debris)
    details += [f"debris: {path.relative_to(root)}" for path in debris]
    check = integrity(db)
    if check != "ok":
        out["integrity"] = 1
        details.append(f"integrity: {check}")
    project = project_id(root)
    try:
        expected = expected_runs(root)
    except (OSError, ValueError) as err:
        expected = {}
        out["lost"] += 1
        details.append(f"{root.name}: a shard manifest does not read ({err})")
    store = read_store(db) if check != "no store file" else None
    if store is None:
        out["lost"] += sum(1 + len(names) for names in expected.values())
        details.append(f"{root.name}: no store: every run lost")
        return out, details
    active = [r for r in store["runs"].values() if r["stage"] == "active"]
    mine = [r for r in active if r["tags"].get(PROJECT_TAG) == project]
    for r in active:  # runs of a project that is not there: the UI shows them all the same
        if r["tags"].get(PROJECT_TAG) not in ({project} | set(known_projects)):
            out["stale"] += 1
            details.append(f"stale: run {r['name']!r} of project "
                           f"{r['tags'].get(PROJECT_TAG)} ({r['id']})")
    for r in mine:
        if r["status"] == "RUNNING":
            out["running"] += 1
            details.append(f"RUNNING: {r['tags'].get(SWEEP_TAG)} {r['tags'].get(ROLE_TAG)} "
                           f"{r['name']!r} ({r['id']})")
    for r in mine:
        if r["tags"].get(SWEEP_TAG) not in expected:
            out["stale"] += 1
            details.append(f"stale: run {r['name']!r} of sweep {r['tags'].get(SWEEP_TAG)} "
                           f"that results/ does not have ({r['id']})")
    for sweep, names in expected.items():
        runs = [r for r in mine if r["tags"].get(SWEEP_TAG) == sweep]
        parents = [r for r in runs if r["tags"].get(ROLE_TAG) == "sweep"]
        children = [r for r in runs if r["tags"].get(ROLE_TAG) == "run"]
        whole = [p for p in parents if _complete(p)]
        if len(parents) > 1:
            out["duplicated"] += len(parents) - 1
            details.append(f"duplicated: {sweep} has {len(parents)} active parents")
        if not whole:  # the sweep's own run: its record cut short, or gone
            out["lost"] += 1
            details.append(f"lost: {sweep} has no complete parent ({len(parents)} active: "
                           + ", ".join(f"{p['status']} complete={p['tags'].get(COMPLETE_TAG)}"
                                       for p in parents) + ")")
        parent_ids = {p["id"] for p in parents}
        for name in sorted(names):
            kids = [c for c in children if c["tags"].get(RUN_TAG) == name]
            if len(kids) > 1:
                out["duplicated"] += len(kids) - 1
                details.append(f"duplicated: {sweep} {name} has {len(kids)} active children")
            if not any(_complete(c) and c["tags"].get(PARENT_TAG) in parent_ids for c in kids):
                out["lost"] += 1
                details.append(f"lost: {sweep} {name} (active children: {len(kids)}, "
                               f"complete: {sum(map(_complete, kids))})")
        for c in children:
            if c["tags"].get(RUN_TAG) not in names:
                out["stale"] += 1
                details.append(f"stale: {sweep} child {c['tags'].get(RUN_TAG)} that results/ "
                               f"does not have ({c['id']})")
    for m in store["models"].values():
        if m["tags"].get(PROJECT_TAG) == project and m["stage"] != "deleted" and \
                m["status"] != READY:
            out["pending"] += 1
            details.append(f"pending: logged model {m['id']} of {m['tags'].get(SWEEP_TAG)} "
                           f"(status {m['status']})")
    return out, details


def _complete(run: dict) -> bool:
    return run["tags"].get(COMPLETE_TAG) == "true" and run["status"] != "RUNNING"


def sweep_state(root: Path, db: Path, sweep: str) -> str:
    """A cut-off sweep as the store holds it: its parent, children, best model."""
    store = read_store(db, timeout=5)
    if store is None:
        return "no store"
    project = project_id(root)
    runs = [r for r in store["runs"].values() if r["stage"] == "active"
            and r["tags"].get(SWEEP_TAG) == sweep
            and r["tags"].get(PROJECT_TAG) == project]
    parents = [r for r in runs if r["tags"].get(ROLE_TAG) == "sweep"]
    children = [r for r in runs if r["tags"].get(ROLE_TAG) == "run"]
    deleted = sum(1 for r in store["runs"].values() if r["stage"] == "deleted"
                  and r["tags"].get(SWEEP_TAG) == sweep and r["tags"].get(PROJECT_TAG) == project)
    parent = ", ".join(f"{p['status']} complete={p['tags'].get(COMPLETE_TAG)}"
                       for p in parents) or "none"
    models = [m for m in store["models"].values() if m["tags"].get(SWEEP_TAG) == sweep
              and m["tags"].get(PROJECT_TAG) == project and m["stage"] != "deleted"]
    status = {1: "PENDING", READY: "READY"}
    model = ", ".join(status.get(m["status"], str(m["status"])) for m in models) or "none"
    dataset, name = sweep.split("/")
    registered = sum(1 for v in store["versions"] if v["name"] == f"gdlab-{dataset}-{name}"
                     and v["project"] == project)
    return (f"parent {parent}; {len(children)} children "
            f"({sum(map(_complete, children))} complete){f', {deleted} deleted' if deleted else ''}"
            f"; logged model {model}; {registered} registered version(s)")


def phase(root: Path, db: Path) -> str:
    """Where a run was when it was killed: runs trained, the track jobs done or cut."""
    results = root / "results"
    trained = sum(1 for _ in results.rglob("metrics.json")) if results.is_dir() else 0
    parts = [f"runs trained: {trained}"]
    if not (root / "results" / "mlflow" / "experiment.json").is_file():
        parts.append("no store set up" if not db.is_file()
                     else "mlflow_setup not done")
    for log in sorted((root / "logs" / "track").rglob("*.log")):
        sweep = log.relative_to(root / "logs" / "track").with_suffix("").as_posix()
        text = log.read_text(errors="replace")  # its last line is written at its end
        if TRACKED.search(text):
            parts.append(f"{sweep} tracked")
        else:
            parts.append(f"{sweep} cut: {sweep_state(root, db, sweep)}")
    return "; ".join(parts)


# --------------------------------------------------------------------------------------
# The UI: its REST API, as its pages ask it
# --------------------------------------------------------------------------------------


def _post(url: str, path: str, payload: dict, timeout: float = 60) -> dict:
    req = urllib.request.Request(f"{url}/{path}", data=json.dumps(payload).encode(),
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=timeout) as resp:
        return json.loads(resp.read() or b"{}")


def ui_runs(url: str, experiment_ids: list[str]) -> dict[str, str]:
    """Run id -> status of every active run the UI returns for those experiments."""
    out, token = {}, None
    while True:
        body = {"experiment_ids": experiment_ids, "max_results": 1000,
                "run_view_type": "ACTIVE_ONLY", **({"page_token": token} if token else {})}
        page = _post(url, "api/2.0/mlflow/runs/search", body)
        out.update({r["info"]["run_id"]: r["info"]["status"] for r in page.get("runs", [])})
        token = page.get("next_page_token")
        if not token:
            return out


def ui_differs(url: str, db: Path) -> int:
    """Active runs on which the UI and the store disagree (missing, extra, other status)."""
    store = read_store(db) or {"runs": {}, "experiments": []}
    mine = {i: r["status"] for i, r in store["runs"].items() if r["stage"] == "active"}
    shown = ui_runs(url, store["experiments"] or ["0"])
    return len(mine.keys() ^ shown.keys()) + sum(shown[i] != s for i, s in mine.items()
                                                 if i in shown)


def ui_write(url: str, path: str, payload: dict) -> None:
    """A write the UI's pages make (delete a run, rename it)."""
    _post(url, f"ajax-api/2.0/mlflow/{path}", payload)


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

    def finished(self) -> Path:
        """A copy of the finished project (its store's paths pointing into the copy)."""
        return W.clone(self.base(), self.dir / "project")

    def result(self, name: str, root: Path, db: Path | None = None,
               known: set[str] = frozenset(), ui: int | None = None,
               foreign: list[str] | None = None) -> dict:
        counts, details = count(root, db or root / "mlflow.db", known)
        counts["foreign"] = None if foreign is None else len(foreign)
        details += [f"foreign touched: {k}" for k in foreign or []]
        counts["ui"] = ui
        counts["failed"] = sum(rc != 0 for rc in self.rerun_rcs)
        self.rerun_rcs.clear()
        return {"name": name, "counts": counts, "details": details, "notes": list(self.notes)}


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


def child_id(db: Path, sweep: str, name: str | None = None, role: str = "run") -> str:
    """The active run of ``sweep`` with that role (and run name)."""
    store = read_store(db)
    for r in sorted(store["runs"].values(), key=lambda r: r["tags"].get(RUN_TAG, "")):
        tags = r["tags"]
        if r["stage"] == "active" and tags.get(SWEEP_TAG) == sweep and \
                tags.get(ROLE_TAG) == role and (name is None or tags.get(RUN_TAG) == name):
            return r["id"]
    raise LookupError(f"no active {role} {name or ''} of {sweep}")


def run_names(root: Path, sweep: str) -> list[str]:
    return sorted(expected_runs(root)[sweep])


def best_run(root: Path, sweep: str) -> str:
    return json.loads((root / "results" / sweep / "best.json").read_text())["run_name"]


def client_do(root: Path, code: str) -> None:
    """MLflow's client on the project's store, in a process of its own (what the UI does
    through its REST API, with the UI closed)."""
    script = "from mlflow import MlflowClient\nclient = MlflowClient('sqlite:///mlflow.db')\n"
    subprocess.run([PYTHON, "-c", script + code], cwd=root, env=project_env(), check=True,
                   capture_output=True, timeout=300)


def crashed_writer(ctx: Ctx, db: Path, wal: bool) -> list[str]:
    """A process that writes the store and is killed with SIGKILL mid-way, leaving its
    journal files: ``-wal`` and ``-shm`` (a WAL store, the write committed and not
    checkpointed) or a hot ``-journal`` (MLflow's rollback journal, a transaction open)."""
    code = ("import sqlite3, sys, time\n"
            "con = sqlite3.connect(sys.argv[1], isolation_level=None)\n"
            + ("con.execute('PRAGMA journal_mode=WAL')\n"
               "con.execute('CREATE TABLE fault_probe (x)')\n"
               "con.execute('INSERT INTO fault_probe VALUES (1)')\n" if wal else
               "con.execute('BEGIN IMMEDIATE')\n"
               "con.execute('UPDATE metrics SET value = value + 1')\n")
            + "print('ready', flush=True)\ntime.sleep(600)\n")
    proc = ctx.procs.start([PYTHON, "-c", code, str(db)], db.parent, project_env(),
                           out=subprocess.PIPE, text=True)
    proc.stdout.readline()
    ctx.procs.stop(proc)
    proc.stdout.close()
    return [p.name for p in sorted(db.parent.glob(db.name + "-*"))]


# --------------------------------------------------------------------------------------
# The scenarios
# --------------------------------------------------------------------------------------


def clean_run(ctx: Ctx) -> list[dict]:
    """The tiny experiment from nothing, no fault: the probe's own check (all zeros), and
    the finished project the store and damage scenarios copy."""
    root = ctx.base()
    ctx.note("from nothing, as every copy starts")
    return [ctx.result("clean run from nothing", root)]


def _from_nothing(ctx: Ctx) -> Path:
    return W.make_copy(ctx.dir / "project", copy.deepcopy(PROBE_CONFIG))


def kill(moment: Callable[[Path], Callable[[], bool]], resync: bool = False):
    """A run killed at ``moment(root)``, then a plain rerun. ``resync``: a finished
    project whose linear_regression epochs change (every child of that sweep replaced:
    the superseded ones soft-deleted), killed during that run."""
    def scenario(ctx: Ctx) -> list[dict]:
        if resync:
            root = ctx.finished()
            config = copy.deepcopy(PROBE_CONFIG)
            config["models"]["linear_regression"]["grid"]["epochs"] = [16]
            W.write_config(root, config)
        else:
            root = _from_nothing(ctx)
        ctx.kill_at(root, moment(root))
        ctx.run(root, label="rerun")
        return [ctx.result("", root)]
    return scenario


def trained(n: int):
    def moment(root: Path):
        return lambda: sum(1 for _ in (root / "results").rglob("metrics.json")) >= n \
            if (root / "results").is_dir() else False
    return moment


def after(seen: Callable[[Path, float], bool], delay: float):
    """``delay`` seconds after ``seen(root, since)`` first holds (``since``: the wall
    clock when the run started)."""
    def moment(root: Path):
        first: list[float] = []
        since = time.time() - 0.05

        def hit() -> bool:
            if not first:
                if seen(root, since):
                    first.append(time.monotonic())
                return False
            return time.monotonic() - first[0] >= delay
        return hit
    return moment


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


def in_store(sql: str, db: Path | None = None):
    """As soon as ``sql`` counts something in the store (the project's, or ``db``)."""
    def moment(root: Path):
        return lambda: store_count(db or root / "mlflow.db", sql) > 0
    return moment


PARENT_OPEN = ("SELECT count(*) FROM runs r JOIN tags t ON t.run_uuid = r.run_uuid AND "
               "t.key = 'gdlab.role' AND t.value = 'sweep' WHERE r.status = 'RUNNING'")
CHILDREN = ("SELECT count(*) FROM runs r JOIN tags t ON t.run_uuid = r.run_uuid AND "
            "t.key = 'gdlab.role' AND t.value = 'run' WHERE r.lifecycle_stage = 'active'")
MODEL_PENDING = "SELECT count(*) FROM logged_models WHERE status = 1"
REGISTERED = "SELECT count(*) FROM model_versions"
SUPERSEDED = "SELECT count(*) FROM runs WHERE lifecycle_stage = 'deleted'"


def rm_store(leftover: str):
    """``rm mlflow.db`` with the UI closed: ``all`` its journal files with it
    (``rm mlflow.db*``), or only the file, leaving the ``wal`` (-wal, -shm) or the hot
    ``journal`` of a writer killed beside it."""
    def scenario(ctx: Ctx) -> list[dict]:
        root = ctx.finished()
        db = root / "mlflow.db"
        if leftover != "all":
            left = crashed_writer(ctx, db, wal=leftover == "wal")
            ctx.note(f"a writer killed -9 left {', '.join(left) or 'nothing'}")
            db.unlink()
        else:
            for p in root.glob("mlflow.db*"):
                p.unlink()
        ctx.run(root, label="rerun")
        if left := [p.name for p in root.glob("mlflow.db-*")]:
            ctx.note(f"still there: {', '.join(left)}")
        return [ctx.result("", root)]
    return scenario


def rm_store_ui_open(wal: bool):
    """``rm mlflow.db`` while ``mlflow ui`` has it open: rollback journal, ``rm
    mlflow.db*``; or (``wal``) a store in WAL mode (as an earlier gdlab left it), where the
    open UI keeps -wal and -shm, and only ``mlflow.db`` is removed. The open UI still
    reads the deleted file (gdlab's log says to restart it); counted is the restarted UI,
    and the open one only if nothing said to restart it."""
    def scenario(ctx: Ctx) -> list[dict]:
        import _services

        root = ctx.finished()
        db = root / "mlflow.db"
        if wal:
            con = sqlite3.connect(db)
            con.execute("PRAGMA journal_mode=WAL")
            con.close()
        with _services.mlflow_ui(root) as url:
            ctx.note(f"UI before: {ui_differs(url, db)} runs differ")
            if wal:
                ctx.note("the open UI keeps " + ", ".join(p.name for p in
                                                           sorted(root.glob("mlflow.db-*"))))
                db.unlink()
            else:
                for p in root.glob("mlflow.db*"):
                    p.unlink()
            ctx.run(root, label="rerun")
            stale_ui = ui_differs(url, db)
            told = "restart it" in \
                (root / "logs" / "mlflow_setup.log").read_text(errors="replace")
            ctx.note(f"the open UI: {stale_ui} runs differ from the new store; the setup log "
                     f"says to restart it: {'yes' if told else 'NO'}")
        with _services.mlflow_ui(root) as url:
            restarted = ui_differs(url, db)
        ctx.note(f"restarted UI: {restarted} differ")
        return [ctx.result("", root, ui=restarted + (0 if told or not stale_ui else 1))]
    return scenario


def ui_edits(ctx: Ctx) -> list[dict]:
    """In the open UI: delete a child and rename another of one sweep, delete the other
    sweep's parent and rename the first's; a rerun; the UI shows what the store has."""
    import _services

    root = ctx.finished()
    db = root / "mlflow.db"
    with _services.mlflow_ui(root) as url:
        names = run_names(root, SWEEPS[0])
        victim, renamed = child_id(db, SWEEPS[0], names[0]), child_id(db, SWEEPS[0], names[1])
        ui_write(url, "runs/delete", {"run_id": victim})
        ui_write(url, "runs/update", {"run_id": renamed, "run_name": "my favourite"})
        ui_write(url, "runs/update", {"run_id": child_id(db, SWEEPS[0], role="sweep"),
                                      "run_name": "my sweep"})
        ui_write(url, "runs/delete", {"run_id": child_id(db, SWEEPS[1], role="sweep")})
        ctx.note(f"deleted {SWEEPS[0]} {names[0]} and {SWEEPS[1]}'s parent; renamed "
                 f"{names[1]} and {SWEEPS[0]}'s parent")
        ctx.run(root, label="rerun")
        kept = read_store(db)["runs"][renamed]["name"]
        ctx.note(f"the renamed child is called {kept!r}")
        return [ctx.result("", root, ui=ui_differs(url, db))]


def gc(ctx: Ctx) -> list[dict]:
    """A child and a parent deleted (MLflow's client, what the UI's delete calls), then
    ``mlflow gc`` purges them, then a rerun."""
    root = ctx.finished()
    db = root / "mlflow.db"
    victims = [child_id(db, SWEEPS[0], run_names(root, SWEEPS[0])[0]),
               child_id(db, SWEEPS[1], role="sweep")]
    client_do(root, "".join(f"client.delete_run({v!r})\n" for v in victims))
    proc = subprocess.run([PYTHON, "-m", "mlflow", "gc", "--backend-store-uri",
                           "sqlite:///mlflow.db", "--tracking-uri", "sqlite:///mlflow.db"],
                          cwd=root, env=project_env(), capture_output=True, text=True,
                          timeout=600)
    purged = sum(1 for v in victims if v not in read_store(db)["runs"])
    ctx.note(f"mlflow gc: rc {proc.returncode}, purged {purged} of 2")
    ctx.run(root, label="rerun")
    return [ctx.result("", root)]


def two_runs_ui_reads(ctx: Ctx) -> list[dict]:
    """Two ``snakemake --cores 2 --forcerun track`` one after the other while a reader
    keeps asking the open UI for every run; failed reads count under ui."""
    import _services

    root = ctx.finished()
    db = root / "mlflow.db"
    with _services.mlflow_ui(root) as url:
        errors: list[str] = []
        reads = [0]
        stop = threading.Event()
        experiments = read_store(db)["experiments"]

        def read() -> None:
            while not stop.is_set():
                try:
                    ui_runs(url, experiments)
                    reads[0] += 1
                except Exception as err:  # noqa: BLE001 - any failure is the finding
                    errors.append(repr(err)[:200])

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        try:
            for i in range(2):
                ctx.run(root, "--forcerun", "track", label=f"run {i + 1}")
        finally:
            stop.set()
            reader.join(timeout=120)
        ctx.note(f"UI reads: {reads[0]}, failed: {len(errors)}"
                 + (f" ({errors[0]})" if errors else ""))
        return [ctx.result("", root, ui=ui_differs(url, db) + len(errors))]


def two_projects(kill_b: bool):
    """Two projects (fresh copies, the second with seed 8) on one SQLite store
    (MLFLOW_TRACKING_URI): A, then B, then A again with ``--forcerun track``; with
    ``kill_b``, then B with a learning rate added, killed as soon as the store shows B's
    parent re-opened (``RUNNING``), and a plain rerun of B. Each row: both projects
    counted, and the runs of the project that did not run compared before and after."""
    def scenario(ctx: Ctx) -> list[dict]:
        shared = ctx.dir / "shared" / "mlflow.db"
        shared.parent.mkdir(parents=True)
        env = {"MLFLOW_TRACKING_URI": f"sqlite:///{shared}"}
        a = W.make_copy(ctx.dir / "a", copy.deepcopy(PROBE_CONFIG))
        b = W.make_copy(ctx.dir / "b", {**copy.deepcopy(PROBE_CONFIG), "seed": 8})
        ctx.run(a, env=env, label="A")
        rows = []

        def row(name: str, other: Path, before: dict) -> None:
            pa, pb = project_id(a), project_id(b)
            result = ctx.result(name, a, shared, {pb},
                                foreign=touched(before, snapshot(shared, project_id(other))))
            counts_b, details_b = count(b, shared, {pa})
            for k, v in counts_b.items():
                result["counts"][k] = max(result["counts"][k], v) if k == "integrity" \
                    else result["counts"][k] + v
            result["details"] += [f"B: {d}" for d in details_b]
            result["seconds"] = time.perf_counter() - t0
            rows.append(result)
            ctx.notes.clear()

        t0 = time.perf_counter()
        before = snapshot(shared, project_id(a))
        ctx.run(b, env=env, label="B")
        ctx.note(f"projects {project_id(a)} and {project_id(b)}")
        if not kill_b:
            row("two projects: B after A (A's runs compared)", a, before)
            t0 = time.perf_counter()
        before = snapshot(shared, project_id(b))
        ctx.run(a, "--forcerun", "track", env=env, label="A --forcerun track")
        if not kill_b:
            row("two projects: A again (B's runs compared)", b, before)
            return rows
        t0 = time.perf_counter()
        before = snapshot(shared, project_id(a))
        config = {**copy.deepcopy(PROBE_CONFIG), "seed": 8}
        config["models"]["logistic_regression"]["grid"]["lr"].append(2.0)
        W.write_config(b, config)
        ctx.note("B: lr 2.0 added to logistic_regression's grid")
        b_parent_open = (PARENT_OPEN + " AND r.run_uuid IN (SELECT run_uuid FROM tags WHERE "
                         f"key = '{PROJECT_TAG}' AND value = '{project_id(b)}')")
        ctx.kill_at(b, in_store(b_parent_open, shared)(b), env=env, db=shared)
        ctx.run(b, env=env, label="rerun B")
        row("two projects: B killed in its re-sync, rerun (A's runs compared)", a, before)
        return rows
    return scenario


def _cut(path: Path, keep: int) -> None:
    data = path.read_bytes()
    path.write_bytes(data[:keep] if keep >= 0 else data[:len(data) // 2])


def damaged(what: str):
    """A finished project with one file cut short, then a plain rerun. ``manifest``: a
    shard manifest; ``record``: a sweep's track record (mlflow.json); ``project``: the
    project's and the experiment's records (a copy from nothing: its id is made from its
    directory); ``history``: a run's history.csv, then its child deleted in the UI (a
    child that must be written again from the files); ``model``: the best run's
    model.npz, then ``rm mlflow.db*`` (every child written again)."""
    def scenario(ctx: Ctx) -> list[dict]:
        if what == "project":
            root = _from_nothing(ctx)
            ctx.run(root, label="first run")
        else:
            root = ctx.finished()
        db = root / "mlflow.db"
        sweep = SWEEPS[1]
        if what == "manifest":
            target = sorted((root / "results" / sweep / "shards").glob("*.json"))[0]
            _cut(target, 40)
        elif what == "record":
            target = root / "results" / SWEEPS[0] / "mlflow.json"
            _cut(target, -1)
        elif what == "project":
            target = root / "results" / "mlflow" / "project.json"
            before = project_id(root)
            _cut(target, 10)
            _cut(root / "results" / "mlflow" / "experiment.json", 10)
        elif what == "history":
            name = [n for n in run_names(root, sweep) if n != best_run(root, sweep)][0]
            target = root / "results" / sweep / "runs" / name / "history.csv"
            target.write_text("".join(target.read_text().splitlines(keepends=True)[:5]))
        else:
            name = best_run(root, sweep)
            target = root / "results" / sweep / "runs" / name / "model.npz"
            _cut(target, 100)
        whole = None
        if what in ("history", "model"):
            ctx.run(root, label="rerun")
            ctx.note(f"{target.name} whole after it: "
                     f"{'yes' if _run_whole(root, sweep, name) else 'no'}")
            if what == "history":
                client_do(root, f"client.delete_run({child_id(db, sweep, name)!r})\n")
                ctx.note(f"deleted the child of {name} (as the UI does)")
            else:
                for p in root.glob("mlflow.db*"):
                    p.unlink()
                ctx.note("rm mlflow.db*")
        ctx.run(root, label="rerun")
        if what in ("history", "model"):
            whole = _run_whole(root, sweep, name)
        elif what == "project":
            there = [p.name for p in (target, target.with_name("experiment.json"))
                     if p.is_file()]
            ctx.note(f"after it: {', '.join(there) or 'neither record'} in results/mlflow; "
                     f"project id {'kept' if project_id(root) == before else 'CHANGED'}")
        else:
            try:
                json.loads(target.read_text())
                whole = True
            except (OSError, ValueError):
                whole = False
        if whole is not None:
            ctx.note(f"{target.relative_to(root)} whole: {'yes' if whole else 'NO'}")
        return [ctx.result("", root)]
    return scenario


def _run_whole(root: Path, sweep: str, name: str) -> bool:
    """Whether a run's files are the ones its shard manifest recorded, whole (gdlab's own
    check, ``Run.check``)."""
    from gdlab.runfiles import manifest_runs, read_run

    try:
        entries = manifest_runs(sorted((root / "results" / sweep / "shards").glob("*.json")))
        read_run(root / "results" / sweep, name, entries[name].get("content_key")).check()
    except Exception:  # noqa: BLE001 - missing, damaged, unreadable: not whole
        return False
    return True


@dataclass
class Scenario:
    name: str
    group: str
    quick: bool
    fn: Callable[[Ctx], list[dict]]


SCENARIOS = [
    Scenario("clean run from nothing", "clean", True, clean_run),
    Scenario("kill train (first run written)", "kill -9", False, kill(trained(1))),
    Scenario("kill train (3 of 8 runs written)", "kill -9", True, kill(trained(3))),
    Scenario("kill mlflow_setup (making the store)", "kill -9", False,
             kill(after(_setup_started, 0.3))),
    *(Scenario(f"kill track {d:.1f} s after it started", "kill -9", d == 1.0,
               kill(after(_track_started, d))) for d in (1.0, 1.5, 2.0, 2.5, 3.0)),
    Scenario("kill parent open (RUNNING)", "kill -9", True, kill(in_store(PARENT_OPEN))),
    Scenario("kill children written", "kill -9", True, kill(in_store(CHILDREN))),
    Scenario("kill best model (PENDING)", "kill -9", True, kill(in_store(MODEL_PENDING))),
    Scenario("kill best model registered, parent open", "kill -9", False,
             kill(in_store(REGISTERED))),
    Scenario("kill re-sync deleting superseded children", "kill -9", False,
             kill(in_store(SUPERSEDED), resync=True)),
    Scenario("rm mlflow.db* (UI closed)", "store", False, rm_store("all")),
    Scenario("rm mlflow.db, -wal/-shm of a killed writer left (UI closed)", "store", True,
             rm_store("wal")),
    Scenario("rm mlflow.db, hot -journal of a killed writer left (UI closed)", "store", False,
             rm_store("journal")),
    Scenario("rm mlflow.db* with mlflow ui open", "store", True, rm_store_ui_open(False)),
    Scenario("rm mlflow.db (WAL store, -wal/-shm left) with mlflow ui open", "store", False,
             rm_store_ui_open(True)),
    Scenario("delete and rename runs in the UI", "store", True, ui_edits),
    Scenario("mlflow gc after deletions", "store", True, gc),
    Scenario("two runs one after the other while the UI reads", "store", False,
             two_runs_ui_reads),
    Scenario("two projects on one store", "two projects", True, two_projects(False)),
    Scenario("two projects, B killed in its re-sync", "two projects", False,
             two_projects(True)),
    Scenario("truncated shard manifest", "damaged", True, damaged("manifest")),
    Scenario("truncated track record (mlflow.json)", "damaged", False, damaged("record")),
    Scenario("truncated project.json and experiment.json", "damaged", False,
             damaged("project")),
    Scenario("truncated history.csv, its child deleted in the UI", "damaged", True,
             damaged("history")),
    Scenario("truncated model.npz of the best run, rm mlflow.db*", "damaged", False,
             damaged("model")),
]


# --------------------------------------------------------------------------------------
# The table
# --------------------------------------------------------------------------------------

HEADS = ("lost", "dup", "stale", "RUNNING", "PENDING", "foreign", "integrity", "debris", "ui",
         "failed", "s")


def cells(row: dict) -> list[str]:
    c = row["counts"]
    out = ["-" if c.get(k) is None else str(c[k]) for k in COUNTS]
    out[COUNTS.index("integrity")] = "ok" if c["integrity"] == 0 else "BAD"
    return [*out, f"{row['seconds']:.0f}"]


def faults(row: dict) -> int:
    return sum(v for v in row["counts"].values() if v)


def print_rows(rows: list[dict]) -> None:
    w = max(len(r["name"]) for r in rows)
    print(f"\n{'scenario':<{w}}  " + "  ".join(f"{h:>9}" for h in HEADS))
    for r in rows:
        print(f"{r['name']:<{w}}  " + "  ".join(f"{c:>9}" for c in cells(r)))
    print("\nwhat happened (the kill moment: where the run was; each rerun: what gdlab said, "
          "the jobs it ran):")
    for r in rows:
        print(f"- {r['name']}: " + " | ".join(r["notes"]))
        for d in r["details"]:
            print(f"    FAULT {d}")


def markdown(rows: list[dict]) -> str:
    out = ["| scenario | " + " | ".join(HEADS) + " |", "|---" * (len(HEADS) + 1) + "|"]
    out += [f"| {r['name']} | " + " | ".join(cells(r)) + " |" for r in rows]
    return "\n".join(out)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true",
                    help="one kill moment per phase and a few store and damage scenarios")
    ap.add_argument("--only", nargs="+", metavar="TEXT",
                    help="only the scenarios whose name contains one of these")
    ap.add_argument("--list", action="store_true", help="list the scenarios and exit")
    add_run_args(ap)
    args = ap.parse_args()
    chosen = [s for s in SCENARIOS if (s.quick or not args.quick) and
              (not args.only or any(t.lower() in s.name.lower() for t in args.only))]
    if args.list or not chosen:
        for s in SCENARIOS:
            print(f"{'quick' if s.quick else '     '}  {s.group:<13} {s.name}")
        return 0 if args.list else 2
    machine = Machine({"scenarios": len(chosen)})
    machine.print()
    if args.workdir:
        args.workdir.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="gdlab-fault-probe-", dir=args.workdir))
    print(f"copies under {work}", flush=True)
    procs = Processes()
    base: list[Path] = []

    def finished_base() -> Path:
        if not base:
            ctx = Ctx(work / "base", procs, finished_base)
            ctx.dir.mkdir()
            root = _from_nothing(ctx)
            if ctx.run(root, label="first run") != 0:
                raise RuntimeError(f"the clean run failed: {ctx.notes}")
            base.append(root)
        return base[0]

    rows = []
    try:
        for i, s in enumerate(chosen, 1):
            ctx = Ctx(work / f"{i:02d}-{re.sub(r'[^a-z0-9]+', '-', s.name.lower())[:40]}",
                      procs, finished_base)
            ctx.dir.mkdir()
            t0 = time.perf_counter()
            print(f"[{i}/{len(chosen)}] {s.name} ...", flush=True)
            try:
                got = s.fn(ctx)
            except Exception as err:  # noqa: BLE001 - a scenario that breaks is a finding
                got = [{"name": "", "counts": {k: None for k in COUNTS} | {"failed": 1},
                        "details": [f"the scenario broke: {err!r}"[:500]],
                        "notes": list(ctx.notes)}]
            finally:
                procs.stop_all()
            for r in got:
                r["name"] = r["name"] or s.name
                r["group"] = s.group
                r.setdefault("seconds", time.perf_counter() - t0)
                print(f"    {r['name']}: {faults(r)} fault(s), {r['seconds']:.0f} s, load "
                      f"{os.getloadavg()[0]:.2f}", flush=True)
                for d in r["details"]:
                    print(f"      {d}", flush=True)
            rows += got
            if not args.keep:
                shutil.rmtree(ctx.dir, ignore_errors=True)
    finally:
        procs.stop_all()
        clean_up(work, args.keep)
    machine.finish()
    print_rows(rows)
    bad = [r for r in rows if faults(r)]
    print(f"\n{len(rows)} scenarios, {len(bad)} with faults"
          + (f": {', '.join(r['name'] for r in bad)}" if bad else " (the goal: zero of each)"))
    if not args.no_save:
        save_results(
            "fault_probe.py",
            [(r["group"], r["name"], f"{faults(r)} faults",
              " · ".join([*r["notes"], *(f"FAULT {d}" for d in r["details"])])
              .replace("|", "/")) for r in rows],
            machine, quick=args.quick, results=args.results,
            preamble="Faults and a plain rerun each (issue 22), counted from the store "
                     "(see README.md): every column should be 0.\n\n" + markdown(rows)
                     + "\n\nAfter the machine, per scenario: what happened (the column "
                       "'median' holds the faults found).")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
