"""Everything particular to a SQLite store (``sqlite:///mlflow.db``, the embedded default):
its file, its creation, its journal, its lock, and the read-only checks the workflow makes
at every start.

* **Creation** (:meth:`SqliteStore.prepare`, the setup job, once): MLflow's migrations
  make the store under a temporary name that is then renamed into place (a migration
  killed half-way leaves a file MLflow cannot open again); the journal files a deleted
  ``mlflow.db`` left behind are removed first (a new file would read them as its own).
* **The journal** is MLflow's own rollback journal: no WAL, so the database is one file a
  user can copy; a store an earlier gdlab switched to WAL goes back. gdlab's own
  connections get the PRAGMAs MLflow's sessions set (foreign keys, a 20 s busy timeout).
* **The lock** (:meth:`SqliteStore.lock`): track jobs on one file take turns under a lock
  file keyed by the database, instead of waiting inside SQLite's busy timeout.
* **Lost or edited** (:meth:`SqliteStore.lost`, :meth:`SqliteStore.sweep_counts`): read
  with stdlib ``sqlite3``, read-only, no MLflow import: the file is gone or is another
  store than the experiment record's; runs deleted or restored in the UI.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import os
import sqlite3
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

from gdlab.io import read_json
from gdlab.tracking.layout import PROJECT_TAG, SWEEP_TAG
from gdlab.tracking.sql import SqlStore
from gdlab.tracking.uri import uri_hash


def sqlite_path(uri: str) -> Path | None:
    """The database file of a ``sqlite:///`` URI (relative to the working directory)."""
    if not uri.startswith("sqlite:///"):
        return None
    path = uri.removeprefix("sqlite:///").partition("?")[0]
    return Path(path) if path and path != ":memory:" else None


class StoreNotWritable(RuntimeError):
    """A SQLite store gdlab cannot write: it names the file and why."""


def check_sqlite_writable(db: Path) -> None:
    """Raise :class:`StoreNotWritable` naming ``db`` when SQLite could not write it: its
    folder is not a folder, or is read-only (SQLite also writes its journal there), or the
    file is. SQLite itself says only "unable to open database file"."""
    db = Path(db).resolve()
    folder = next((p for p in [db.parent, *db.parent.parents] if p.exists()), None)
    if folder is not None and not folder.is_dir():
        raise StoreNotWritable(f"cannot make the tracking store {db}: {folder} is a file, "
                               "not a folder (MLFLOW_TRACKING_URI or mlflow.tracking_uri)")
    if folder is not None and not os.access(folder, os.W_OK | os.X_OK):
        raise StoreNotWritable(f"cannot write the tracking store {db}: the folder {folder} "
                               "is read-only (SQLite writes its journal beside the file); "
                               "make it writable or point MLFLOW_TRACKING_URI elsewhere")
    if db.exists() and not os.access(db, os.W_OK):
        raise StoreNotWritable(f"cannot write the tracking store {db}: the file is read-only")


def sqlite_read_only(db: Path) -> str:
    """A URI that opens ``db`` read-only with the stdlib's ``sqlite3.connect(..., uri=True)``:
    the path percent-quoted, so a ``#``, ``%`` or ``?`` in it names no other file."""
    return f"file:{quote(str(Path(db).resolve()))}?mode=ro"


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


def _locked(db: Path, err: sqlite3.Error) -> bool:
    """Whether ``err`` says another process holds ``db`` locked (and say so)."""
    if isinstance(err, sqlite3.OperationalError) and "locked" in str(err):
        _say_locked(db, str(err))
        return True
    return False


#: how long a check at planning waits for a store another process writes
PLANNING_WAIT_S = 2


#: what MLflow's sessions set on a SQLite connection (``mlflow.store.db.utils``)
SESSION_PRAGMAS = ("PRAGMA foreign_keys = ON", "PRAGMA busy_timeout = 20000",
                   "PRAGMA case_sensitive_like = true")


def _session_pragmas(connection, _record) -> None:
    for pragma in SESSION_PRAGMAS:
        connection.execute(pragma)


def _read(db: Path, query: str, args: tuple) -> list:
    """Rows of ``query``, the file opened read-only (no journal or lock file made)."""
    con = sqlite3.connect(sqlite_read_only(db), uri=True, timeout=PLANNING_WAIT_S)
    try:
        return con.execute(query, args).fetchall()
    finally:
        con.close()


class SqliteStore(SqlStore):
    """A SQLite file: a SQL store with its own creation, journal, lock and checks."""

    def __init__(self, uri: str):
        from sqlalchemy import event

        self.db = sqlite_path(uri)
        if self.db is not None:
            check_sqlite_writable(self.db)
        super().__init__(uri)
        # each connection as MLflow's own sessions set it up
        event.listen(self.engine, "connect", _session_pragmas)
        self.engine.dispose()  # the connection that checked the engine predates them

    @property
    def in_project(self) -> bool:
        return self.db is not None and not self.db.is_absolute()

    # -- the workflow's read-only checks (no MLflow) ---------------------------------------
    @classmethod
    def lost(cls, uri: str, record: Path) -> bool:
        """The file is gone, or lacks the recorded experiment (name, active, creation
        time): ``mlflow.db`` deleted or replaced by hand."""
        db = sqlite_path(uri)
        if db is None:
            return False
        if not db.is_file():
            return True
        try:
            record = read_json(record)
            rows = _read(db, "SELECT name, lifecycle_stage, creation_time FROM experiments "
                             "WHERE experiment_id = ?", (int(record["experiment_id"]),))
        except sqlite3.Error as err:
            return not _locked(db, err)  # locked by another process: not lost
        except (ValueError, KeyError):
            return True
        return not rows or tuple(rows[0]) != (record.get("experiment_name"), "active",
                                              record.get("creation_time", rows[0][2]))

    @classmethod
    def sweep_counts(cls, uri: str, project: str) -> dict[str, int] | None:
        """Active runs of ``project`` per sweep, in one query; None if unreadable."""
        db = sqlite_path(uri)
        if db is None or not db.is_file():
            return None
        try:
            return dict(_read(
                db, "SELECT s.value, count(*) FROM tags s JOIN tags p ON p.run_uuid = "
                    "s.run_uuid JOIN runs r ON r.run_uuid = s.run_uuid WHERE s.key = ? AND "
                    "p.key = ? AND p.value = ? AND r.lifecycle_stage = 'active' GROUP BY "
                    "s.value", (SWEEP_TAG, PROJECT_TAG, project)))
        except sqlite3.Error as err:
            _locked(db, err)
            return None
        except OSError:
            return None

    @classmethod
    @contextlib.contextmanager
    def lock(cls, uri: str, lock_dir: str | os.PathLike) -> Iterator[None]:
        """The store's lock: a lock file keyed by the database file."""
        db = sqlite_path(uri)
        if db is None:
            yield
            return
        path = Path(lock_dir) / f"store-{uri_hash(str(db.resolve()))}.lock"
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "a") as f:
            fcntl.flock(f, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(f, fcntl.LOCK_UN)

    # -- creation and the journal (the setup job) ------------------------------------------
    @classmethod
    def prepare(cls, uri: str, log: Callable[[str], Any]) -> None:
        db = sqlite_path(uri)
        if db is None:
            return
        check_sqlite_writable(db)
        if db.is_file():
            _rollback_journal(db, log)
        else:
            _make(db, log)


def _make(db: Path, log: Callable[[str], Any]) -> None:
    """A new store made by MLflow's migrations under a temporary name, renamed into
    place (a complete file renamed is never half-made)."""
    from mlflow.store.tracking import DEFAULT_LOCAL_FILE_AND_ARTIFACT_PATH
    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

    db.parent.mkdir(parents=True, exist_ok=True)
    for stale in db.parent.glob(f".{db.name}.*.tmp*"):  # left by a killed setup
        stale.unlink()
    for path in _clear_leftovers(db):
        log(f"removed {path}: the journal of a deleted {db.name}, not of the new one")
    tmp = db.with_name(f".{db.name}.{os.getpid()}.tmp")
    store = SqlAlchemyStore(f"sqlite:///{tmp}", DEFAULT_LOCAL_FILE_AND_ARTIFACT_PATH)
    store.engine.dispose()  # no connection follows the rename
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
