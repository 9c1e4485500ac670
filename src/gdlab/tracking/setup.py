"""The project, the store and the experiment: made once by the setup job, checked by the
workflow at every start.

* :func:`setup_experiment` (job ``mlflow_setup``, once, before anything fans out: four
  processes migrating one fresh SQLite file crash, parallel ``set_experiment`` drops runs
  into "Default") makes the store, MLflow's own way, and the experiment;
* :func:`store_lost` and :func:`edited_sweeps` (the Snakefile, at planning time, SQLite
  only, read-only sqlite3: no mlflow import) notice a store deleted by hand, or runs
  deleted or restored in the UI, so that what they concern is synced again.

A **project** is one checkout's ``results/``: its id (``results/mlflow/project.json``,
made once) tags every run gdlab makes, and a sync only ever finds, keeps or deletes runs
of its own project, so two projects sharing a store and experiment name never touch each
other's runs. A SQLite store's journal is MLflow's own (a rollback journal, no WAL), and
a store made anew never meets the journal files of a deleted one (:func:`_clear_leftovers`).
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import os
import sqlite3
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from gdlab.io import DamagedFile, read_json, write_json
from gdlab.tracking import layout as L
from gdlab.tracking.store import Store, local_artifact_root
from gdlab.tracking.uri import (
    check_sqlite_writable,
    redact_uri,
    sqlite_path,
    sqlite_read_only,
    uri_hash,
)

EXPERIMENT_RECORD = Path("results/mlflow/experiment.json")
PROJECT_RECORD = Path("results/mlflow/project.json")


# --------------------------------------------------------------------------------------
# The project, the store, the experiment
# --------------------------------------------------------------------------------------


def project_id(record: str | os.PathLike = PROJECT_RECORD) -> str:
    """This project's id: made once (from the directory it was made in) and kept in
    ``results/mlflow/project.json``, so a moved project keeps it and a second clone, made
    elsewhere, has its own. Deleting ``results/`` makes it again from the directory."""
    record = Path(record)
    with contextlib.suppress(DamagedFile, KeyError, TypeError):  # damaged: made again
        if record.is_file():
            return read_json(record)["id"]
    where = str(record.resolve().parents[2])  # the project: results/mlflow/project.json
    ident = hashlib.sha256(where.encode()).hexdigest()[:16]
    write_json(record, {"id": ident, "made_in": where})
    return ident


def _clear_leftovers(db: Path) -> list[Path]:
    """Delete the journal files of a database that is gone (``rm mlflow.db`` leaves its
    ``-wal``, ``-shm`` or ``-journal`` while another process holds it): a new file at that
    path would read them as its own and be corrupted."""
    gone = []
    for suffix in ("-wal", "-shm", "-journal"):
        leftover = db.with_name(db.name + suffix)
        if leftover.exists():
            leftover.unlink()
            gone.append(leftover)
    return gone


def holders(db: Path, deleted: bool = False) -> list[int]:
    """PIDs of processes that have ``db`` open (``deleted``: a deleted file of its path,
    as an ``mlflow ui`` started before ``rm mlflow.db`` does: it shows the old record until
    it is restarted). Linux only; empty elsewhere."""
    target = f"{Path(db).resolve()}{' (deleted)' if deleted else ''}"
    pids = []
    for fd_dir in Path("/proc").glob("[0-9]*/fd"):
        with contextlib.suppress(OSError):
            if any(os.readlink(fd) == target for fd in fd_dir.iterdir()):
                pids.append(int(fd_dir.parent.name))
    return sorted(pids)


def holders_of_deleted(db: Path) -> list[int]:
    return holders(db, deleted=True)


def _command(pid: int) -> str:
    with contextlib.suppress(OSError):
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode().strip()
    return "?"


@functools.cache  # once a parse, whichever check meets it first
def _say_locked(db: Path, err: str) -> None:
    """A store another process holds locked is not lost: say so, and by what."""
    who = [f"pid {p}: {_command(p)[:80]}" for p in holders(db) if p != os.getpid()]
    print(f"gdlab: {db} is locked by another process ({'; '.join(who) or err}); its runs "
          "are not compared with results/ now. A track job waits for it.", file=sys.stderr)


#: how long a check at planning waits for a store another process writes
PLANNING_WAIT_S = 2


def _make_sqlite_store(db: Path, name: str, log: Callable[[str], Any]) -> None:
    """A new SQLite store with the experiment ``name``, made by MLflow under a temporary
    name and renamed into place (a migration killed half-way leaves a file MLflow cannot
    open again; a complete file renamed never does)."""
    from mlflow import MlflowClient

    db.parent.mkdir(parents=True, exist_ok=True)
    for stale in db.parent.glob(f".{db.name}.*.tmp*"):  # left by a killed setup
        stale.unlink()
    for path in _clear_leftovers(db):
        log(f"removed {path}: the journal of a deleted {db.name}, not of the new one")
    tmp = db.with_name(f".{db.name}.{os.getpid()}.tmp")
    client = MlflowClient(f"sqlite:///{tmp}")
    client.create_experiment(name)
    client._tracking_client.store.engine.dispose()  # no connection follows the rename
    os.replace(tmp, db)
    if holders := holders_of_deleted(db):
        log(f"process(es) {', '.join(map(str, holders))} still hold a deleted {db.name} "
            "open (an `mlflow ui` started before it was deleted?): if it shows the old "
            "runs, restart it")


def _rollback_journal(db: Path, log: Callable[[str], Any]) -> None:
    """A store an earlier gdlab switched to WAL goes back to MLflow's rollback journal."""
    con = sqlite3.connect(sqlite_read_only(db).replace("?mode=ro", ""), uri=True, timeout=5)
    try:
        if con.execute("PRAGMA journal_mode").fetchone()[0] == "wal":
            con.execute("PRAGMA journal_mode=DELETE")
            log(f"{db.name}: back to MLflow's rollback journal (an earlier gdlab used WAL)")
    except sqlite3.OperationalError as err:  # another process has it open: next time
        log(f"{db.name} stays in WAL mode for now ({err})")
    finally:
        con.close()


def setup_experiment(uri: str, name: str, log: Callable[[str], Any] | None = None) -> dict:
    """Make the store if needed and the experiment ``name`` (or restore it); its record
    (``results/mlflow/experiment.json``). The one place that creates anything by name."""
    from mlflow import MlflowClient

    log = log or (lambda msg: print(msg, file=sys.stderr))
    db = sqlite_path(uri)
    if db is not None:
        check_sqlite_writable(db)
    if db is not None and not db.is_file():
        _make_sqlite_store(db, name, log)
    elif db is not None:
        _rollback_journal(db, log)
    client = MlflowClient(uri)
    exp = client.get_experiment_by_name(name)
    if exp is None:
        experiment_id = client.create_experiment(name)
    else:
        experiment_id = exp.experiment_id
        if exp.lifecycle_stage == "deleted":
            client.restore_experiment(experiment_id)
    client.set_experiment_tag(experiment_id, L.NOTE_TAG,
                              L.experiment_description(name, experiment_id))
    client.set_experiment_tag(experiment_id, f"mlflow.sharedViewState.{L.VIEW_KEY}",
                              L.overview_view(int(time.time() * 1000)))
    # MLflow 3.17's UI opens on its GenAI side whatever this says (its "Model training"
    # switch decides, or the links' workflowType); the tag still says what this is
    client.set_experiment_tag(experiment_id, "mlflow.experimentKind", "custom_model_development")
    exp = client.get_experiment(experiment_id)
    return {"experiment_id": str(experiment_id), "experiment_name": name,
            "tracking_uri_hash": uri_hash(uri), "creation_time": exp.creation_time,
            "project_dir": str(Path.cwd().resolve())}


def check_experiment(store: Store, record: dict) -> None:
    """Fail, saying what to do, unless the store still has the recorded experiment and
    the project is where its local artifacts were placed."""
    exp = store.experiment(record["experiment_id"])
    if exp is None or exp.name != record["experiment_name"] or \
            exp.lifecycle_stage != "active":
        raise RuntimeError(
            f"experiment {record['experiment_name']!r} (id {record['experiment_id']}) is not "
            f"in the tracking store {redact_uri(store.uri)} (was it deleted or renamed?); "
            "recreate it with `snakemake --forcerun mlflow_setup`")
    root = local_artifact_root(exp.artifact_location)
    here = str(Path.cwd().resolve())
    if root is not None and record.get("project_dir") not in (None, here) and \
            sqlite_path(store.uri) is not None and not sqlite_path(store.uri).is_absolute():
        raise RuntimeError(
            f"this project was moved from {record['project_dir']}: its MLflow store keeps "
            f"absolute artifact paths ({exp.artifact_location}), so new artifacts would be "
            "written there. Start a fresh record (results/ is kept and synced into it): "
            "`rm -r mlflow.db mlruns` and run snakemake again; or move the project back")


def store_lost(uri: str, record_path: str | os.PathLike = EXPERIMENT_RECORD) -> bool:
    """Whether a SQLite store lacks the experiment its record names (``mlflow.db`` deleted
    or replaced by hand). Asked by the workflow at every start, so it reads the file with
    sqlite3, read-only, and never imports mlflow; other stores are not checked (no network
    at planning time)."""
    db, record = sqlite_path(uri), Path(record_path)
    if db is None or not record.is_file():
        return False
    if not db.is_file():
        return True
    try:
        experiment = read_json(record)
        con = sqlite3.connect(sqlite_read_only(db), uri=True, timeout=PLANNING_WAIT_S)
        try:
            row = con.execute("SELECT name, lifecycle_stage, creation_time FROM experiments "
                              "WHERE experiment_id = ?",
                              (int(experiment["experiment_id"]),)).fetchone()
        finally:
            con.close()
    except sqlite3.OperationalError as err:
        if "locked" in str(err):
            _say_locked(db, str(err))
            return False
        return True
    except (sqlite3.Error, ValueError, KeyError):
        return True
    return row is None or tuple(row) != (experiment.get("experiment_name"), "active",
                                         experiment.get("creation_time", row[2]))


def edited_sweeps(uri: str, results_dir: str | os.PathLike = "results") -> list[Path]:
    """The sweep records (``results/<d>/<m>/mlflow.json``) that no longer match a SQLite
    store: runs deleted or restored in the UI, or ``mlflow gc``. One query, read-only;
    the workflow removes them so that their track jobs run again."""
    db, root = sqlite_path(uri), Path(results_dir)
    records = sorted(root.glob("*/*/mlflow.json"))
    if db is None or not db.is_file() or not records:
        return []
    try:
        project = read_json(root / "mlflow" / "project.json")["id"]
        con = sqlite3.connect(sqlite_read_only(db), uri=True, timeout=PLANNING_WAIT_S)
        try:
            counts = dict(con.execute(
                "SELECT s.value, count(*) FROM tags s JOIN tags p ON p.run_uuid = s.run_uuid "
                "JOIN runs r ON r.run_uuid = s.run_uuid WHERE s.key = ? AND p.key = ? AND "
                "p.value = ? AND r.lifecycle_stage = 'active' GROUP BY s.value",
                (L.SWEEP_TAG, L.PROJECT_TAG, project)).fetchall())
        finally:
            con.close()
    except sqlite3.OperationalError as err:
        if "locked" in str(err):
            _say_locked(db, str(err))
        return []
    except (sqlite3.Error, OSError, ValueError, KeyError):
        return []
    edited = []
    for path in records:
        try:
            record = read_json(path)
            expected = 1 + len(record["children"])
        except (OSError, ValueError, KeyError):
            edited.append(path)  # a damaged record: remade by its job
            continue
        if counts.get(f"{path.parent.parent.name}/{path.parent.name}", 0) != expected:
            edited.append(path)
    return edited
