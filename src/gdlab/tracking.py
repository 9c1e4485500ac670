"""MLflow as a view of ``results/``: every sweep and run on record, streamed, idempotently.

``results/`` is the source of truth; this module copies finished runs into an MLflow
tracking store so they can be browsed, compared and charted in the UI. Nothing here
trains or evaluates anything.

Layout in MLflow
----------------
One experiment (the config's ``experiment``) holds, per sweep (dataset x model):

* one **parent run** (tag ``gdlab.role=sweep``, named ``<dataset>/<model>``), kept for the
  life of the sweep. Params ``dataset`` and ``model``. Everything that changes with the
  grid or the results is a tag or a metric, since MLflow params cannot change: tags
  ``grid.<hyperparameter>`` (JSON list of its values) or, for a random search,
  ``search.method``, ``search.n_trials``, ``search.seed`` and ``search.space.<axis>``
  (the distribution, JSON), ``n_runs``, ``selection_metric``, ``best.run_name``,
  ``best.<hyperparameter>``, ``best_run_id``, ``gdlab.sweep_key``; metrics ``n_runs``,
  ``n_configs``, ``n_diverged``, the best run's ``best/<part>_<metric>``, the scikit-learn
  baseline's ``sklearn/<part>_<metric>`` (at the best run's ``l2``) and
  ``sklearn_l2_<l2>/...`` (every ``l2``, up to :data:`MAX_REFERENCE_METRICS` of them);
  artifacts ``summary.csv``, ``configs.csv``, ``best.json``, ``baseline.json`` and the
  sweep's plots; and the best model as a pyfunc (see below). **With repeats** the
  aggregate lives here too: tags ``repeats`` and ``best.config``, metrics
  ``best/<part>_<metric>_mean``, ``..._ci_low``, ``..._ci_high`` (validation and test:
  the best configuration's mean and 95 % interval over its repeats) and every
  configuration's in ``configs.csv``.
  While shards stream in it is ``RUNNING``; it is ``FINISHED`` once the sweep is
  summarised and plotted (:func:`finish_sweep`).
* a **child run** per grid point (tag ``mlflow.parentRunId``, named like its run
  directory, ``epochs~15/l2~0.0/lr~0.1``), logged by :func:`sync_shard` as soon as its
  shard is trained: every hyperparameter and the seed as params; each ``history.csv``
  column as a step metric (step = epoch); the final ``metrics.json`` metrics as
  ``<part>/<metric>`` with ``n_epochs``, ``final_objective``, ``diverged`` and
  ``converged`` (0/1); tags ``dataset``, ``model``, ``task``, ``run_key``,
  ``code_version``, ``config_hash`` (hash of the run's spec), ``git_commit``,
  ``diverged``, and with repeats ``config`` (the configuration's name) and ``repeat``
  (each repeat is a child of its own); the split as a dataset input; artifacts ``history.csv``,
  ``metrics.json``, ``model.npz``, ``timing.json``, and the run's figures under
  ``plots/`` when it has any; the real training start and end times.

Non-finite values: a diverged run's last epochs may hold NaN or infinity. They are logged
as they are (NaN stays NaN, +-inf is clamped to +-1.797e308 by MLflow), so a metric
history has one point per trained epoch; a final metric that is ``null`` in
``metrics.json`` is logged as NaN.

Identity and idempotence
------------------------
A child is identified by its run's **content key** (tag ``gdlab.content_key``,
:func:`gdlab.runfiles.content_key`): what its results are, not which code made them. A
retrained run whose results are byte-identical keeps its child (only its ``run_key``,
``code_version`` and ``git_commit`` tags are updated). For a shard, :func:`plan_shard`
decides and :func:`sync_shard` carries it out:

* a complete child of the same run name and content key is kept;
* a run without one gets a new child;
* **superseded runs are soft-deleted** (``MlflowClient.delete_run``): a child whose
  results changed, an incomplete or duplicate child; at the end of the sweep
  (:func:`finish_sweep`, :func:`plan_cleanup`) also children of grid points no longer in
  the config and extra parents. Deleted runs vanish from the UI and from searches but stay
  in the store (``mlflow gc`` purges them; the UI can restore them);
* a run is **complete** only if its status is ``FINISHED`` and it has the tag
  ``gdlab.complete=true``, written last. A run a crash cut off mid-sync is marked
  ``FAILED`` before it is soft-deleted, and logged again.

Two ways to the store
---------------------
Logging a child through ``MlflowClient`` costs ~0.1 s (``log_batch`` turns each of the
~300 metric points into an ORM object and queries the latest value per key), and a job
that imports mlflow pays 2-10 s before it logs anything. So a shard is written in **one
transaction** wherever gdlab can: the rows MLflow's ``create_run``, ``log_batch``,
``log_inputs`` and ``set_terminated`` write (:func:`_children_rows`), a child all there or
not at all, its artifacts hard-linked (copied across filesystems) into its artifact
directory first.

* **SQLite** (the default ``sqlite:///mlflow.db``) with local artifacts: the whole sync
  (check the experiment, find, plan, parent, retire, write, kept tags) runs through
  :class:`SqliteAccess`, the stdlib ``sqlite3`` in one ``BEGIN IMMEDIATE`` transaction
  (:mod:`gdlab.mlflow_sql`), without importing mlflow; only when the installed MLflow is
  the verified one and the store is at its schema revision (:func:`writes_sqlite_itself`).
* **Any other store** (a tracking server, PostgreSQL) goes through :class:`ClientAccess`:
  MlflowClient calls, and on a SQL store with local artifacts
  :func:`write_children_sql` (the same rows with MLflow's SQLAlchemy table definitions).

Both ways share everything but the store access: :func:`plan_shard`,
:func:`choose_parent`, :func:`open_parent`, :func:`_retire`, :func:`child_record`, the
rows. Tests sync the same shards both ways and compare what MlflowClient reads back.

The best model
--------------
The sweep's best run (``best.json``) is logged on the parent as a pyfunc model from code
(:mod:`gdlab.mlflow_model`, artifact ``weights`` = its ``model.npz``; no pickle) with a
signature and an input example of raw training features. It predicts on **raw**
features; for classification it returns the **probability of class 1**. If
``mlflow.register_models`` is on, it is registered as ``gdlab-<dataset>-<model>``
unless the latest version already comes from the same results (model-version tag
``gdlab.content_key``), so ``models:/gdlab-<dataset>-<model>/latest`` is always the
current best. A model with the same results is reused, not logged again.
One process logs the best models of every sweep (:func:`log_best_models`, the workflow's
``best_models`` job): MLflow's import and store cost a few seconds, paid once per
experiment instead of once per sweep, and not at all when every best model is on record
already (a sqlite3 check).

Concurrency and the store
-------------------------
:func:`setup_experiment` runs once, before anything fans out: it creates the database
(SQLite runs its migrations here: four processes migrating one fresh file crash) and the
experiment, and switches SQLite to WAL journaling. A new SQLite file is made under a
temporary name and renamed into place: from gdlab's schema template when it is the
installed MLflow's schema (milliseconds, :mod:`gdlab.mlflow_sql`), else by MLflow's
migrations (seconds). Track jobs use the experiment *id* and never
``set_experiment`` (which, racing, silently puts runs in "Default"). On a SQLite store they
hold that store's lock file (:func:`track_lock`) while they write: one writer at a time
(the sqlite3 way also waits up to 60 s for any writer outside gdlab: SQLite's busy
timeout). Other stores take concurrent writes of distinct runs, so their jobs run in
parallel; a sweep's parent is found or created under the sweep's lock file
(:func:`sweep_lock_file`), so it is created once, and a new dataset row is inserted so
that two jobs racing for it both succeed (:func:`_sql_dataset_uuid`, :func:`_log_inputs`).
On a server a shard's children are fetched by the ids its track records name and by its
shard's tag (:func:`find_recorded_children`), never by a search over the sweep. If the
SQLite file is deleted, :func:`store_lost` tells the workflow, which sets the store up
again and re-syncs.

The tracking URI may carry credentials: only :func:`uri_hash` of it goes into params,
outputs and tags, and log messages show :func:`redact_uri` of it.

A tracking server that is down fails a job within 30 s (:func:`fail_fast_http`, called by
the job scripts, bounds MLflow's retries) with a message naming the redacted URI
(:class:`ServerUnreachable`); ``results/`` is untouched, so the next run syncs it.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import time
import uuid
import warnings
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit, urlunsplit

import numpy as np

from gdlab import grid as G
from gdlab import mlflow_sql
from gdlab.data.core import Split, load_split
from gdlab.io import load_npz, read_json
from gdlab.models.registry import model_info, predict
from gdlab.runfiles import RUN_FILES, read_history, run_dir

DEFAULT_TRACKING_URI = "sqlite:///mlflow.db"

ROLE_TAG = "gdlab.role"
ROLE_SWEEP, ROLE_RUN = "sweep", "run"
COMPLETE_TAG = "gdlab.complete"
CONTENT_TAG = "gdlab.content_key"
SWEEP_KEY_TAG = "gdlab.sweep_key"
PARENT_TAG = "mlflow.parentRunId"
#: the shard (its number) whose track job created a child: on a server, where runs cannot be
#: searched by a list of names, it finds a child a crash left unrecorded without searching
#: the whole sweep
SHARD_TAG = "gdlab.shard"

#: MLflow's limits per ``log_batch`` call
MAX_METRICS, MAX_PARAMS_OR_TAGS, MAX_ENTITIES = 1000, 100, 1000
#: the sweep plots and the per-run plots the plot rule writes (a search's sweep has no
#: heatmap; the track job names its sweep's own: sweep_plots in workflow/rules/common.smk)
SWEEP_PLOTS = ("heatmap.png", "learning_curves.png", "convergence.png",
               "parallel_coordinates.png", "importance.png", "optimisation_history.png")
#: more scikit-learn references than this (a search over a continuous l2) are left to the
#: parent's baseline.json instead of one set of metrics each
MAX_REFERENCE_METRICS = 50
RUN_PLOTS = ("learning_curve.png", "model.png")
MODEL_FILE = Path(__file__).with_name("mlflow_model.py")
#: runs per server search call. A server answers 8-11 ms per run it returns (measured:
#: benchmarks/tracking_throughput.py), 2-3x that when busy, so a page of 100 takes 1-3 s,
#: well inside the 7 s http timeout (:data:`HTTP_FAIL_FAST`) however large the sweep
SEARCH_PAGE = 100
#: run ids per ``attributes.run_id IN (...)`` search (MLflow's one list filter)
IDS_PER_SEARCH = 100


def code_version() -> str:
    """Version of this module (and what it imports from gdlab): part of the sweep key."""
    return G.code_version("gdlab.tracking")


def model_code_version(model: str) -> str:
    """Version of the pyfunc code (with the model's own module, which it loads lazily): part
    of the best model's key and of the sweep key."""
    return G.code_version("gdlab.mlflow_model", model_info(model).module)


def registered_model_name(dataset: str, model: str) -> str:
    return f"gdlab-{dataset}-{model}"


# --------------------------------------------------------------------------------------
# The tracking URI (may hold credentials)
# --------------------------------------------------------------------------------------


def resolve_tracking_uri(config: dict | None = None) -> str:
    """``MLFLOW_TRACKING_URI``, else the config's ``mlflow.tracking_uri``, else SQLite."""
    return (os.environ.get("MLFLOW_TRACKING_URI")
            or ((config or {}).get("mlflow") or {}).get("tracking_uri")
            or DEFAULT_TRACKING_URI)


def uri_hash(uri: str) -> str:
    """What may be written down about a tracking URI: a hash of it."""
    return hashlib.sha256(uri.encode("utf-8")).hexdigest()[:16]


def redact_uri(uri: str) -> str:
    """The URI without user, password, query or fragment: safe for a log."""
    parts = urlsplit(uri)
    if not parts.netloc:  # sqlite:///mlflow.db, file paths: nothing secret but a query
        return uri.partition("?")[0]
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


def job_uri(spec: dict, config: dict) -> str:
    """The real tracking URI of a setup or track job (never written down): MLflow set to
    fail fast on a server that is down, and the URI checked against the planned hash."""
    fail_fast_http()
    uri = resolve_tracking_uri(config)
    check_uri(uri, spec["uri_hash"])
    return uri


def check_uri(uri: str, expected_hash: str) -> None:
    """Fail if the job sees another tracking URI than the one Snakemake planned with."""
    if uri_hash(uri) != expected_hash:
        raise RuntimeError(
            f"this job's tracking URI ({redact_uri(uri)}) is not the one the workflow was "
            "planned with; set MLFLOW_TRACKING_URI the same way for snakemake and its jobs")


def sqlite_path(uri: str) -> Path | None:
    """The database file of a ``sqlite:///`` URI (relative to the working directory)."""
    if not uri.startswith("sqlite:///"):
        return None
    path = uri.removeprefix("sqlite:///").partition("?")[0]
    return Path(path) if path and path != ":memory:" else None


@contextlib.contextmanager
def store_lock(path: str | os.PathLike) -> Iterator[None]:
    """Hold an exclusive lock on ``path`` (created if missing) for the block."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def track_lock_dir(experiment_record: str | os.PathLike) -> Path:
    """Where the track jobs keep their lock files: ``locks/`` beside the experiment record
    (``results/mlflow/experiment.json``) that every track job reads."""
    return Path(experiment_record).with_name("locks")


def track_lock(uri: str, lock_dir: str | os.PathLike) -> contextlib.AbstractContextManager:
    """The lock a track job holds around its whole sync: on a SQLite store, that store's
    (a lock file in ``lock_dir`` keyed by the database file): SQLite takes one writer at a
    time, and gdlab's jobs wait for their turn here without SQLite's 60 s busy limit; jobs
    of another store do not wait. Any other store (a server, PostgreSQL) takes concurrent
    writes of distinct runs, and a shard's runs are its own: no lock around the sync, only
    around the creation of a sweep's parent (:func:`sweep_lock_file`, :func:`open_parent`).
    """
    db = sqlite_path(uri)
    if db is None:
        return contextlib.nullcontext()
    return store_lock(Path(lock_dir) / f"store-{uri_hash(str(db.resolve()))}.lock")


def sweep_lock_file(uri: str, lock_dir: str | os.PathLike, experiment_id: str,
                    dataset: str, model: str) -> Path:
    """The lock file of one sweep in one store: held while its parent is found or created,
    so that parallel shards of a sweep make one parent."""
    store = uri_hash(redact_uri(uri))
    return Path(lock_dir) / f"sweep-{store}-{experiment_id}-{dataset}-{model}.lock"


@contextlib.contextmanager
def redacted_errors(uri: str) -> Iterator[None]:
    """Re-raise any error with the URI (and its credentials) replaced by its redacted form."""
    try:
        yield
    except Exception as err:
        text = f"{type(err).__name__}: {err}"
        password = urlsplit(uri).password
        if unreachable(err):
            raise ServerUnreachable(uri, text) from None
        if uri in text or (password and password in text):
            text = text.replace(uri, redact_uri(uri))
            if password:
                text = text.replace(password, "***")
            raise RuntimeError(text) from None  # the chained original would repeat it
        raise


#: MLflow's HTTP settings for gdlab's jobs. MLflow's own (7 retries, back-off factor 2, 120 s
#: timeout) take 252 s to give up on a server that is down; these give up within 23.5 s
#: (:func:`http_budget`), so that with a job's start-up (3-6 s) it fails within 30 s, and
#: still ride out a server restart of a few seconds. The environment wins: export any of
#: them to override.
HTTP_FAIL_FAST = {
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "2",
    "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
    "MLFLOW_HTTP_REQUEST_BACKOFF_JITTER": "0.5",
    "MLFLOW_HTTP_REQUEST_TIMEOUT": "7",
    # a Retry-After header would make the sleep unbounded
    "MLFLOW_HTTP_RESPECT_RETRY_AFTER_HEADER": "false",
}


def fail_fast_http(environ: dict | None = None) -> float:
    """Set :data:`HTTP_FAIL_FAST` where unset (before any request); return the budget."""
    environ = os.environ if environ is None else environ
    for key, value in HTTP_FAIL_FAST.items():
        environ.setdefault(key, value)
    return http_budget(environ)


def http_budget(environ: dict) -> float:
    """Worst-case seconds MLflow spends on a request that never gets through: every
    attempt times out (a server that accepts no connection, or never answers), with
    urllib3's back-off between attempts (none before the first retry, then
    factor * 2**(n-1) + jitter, at most 120 s). A refused connection fails at once: the
    back-off alone (2.5 s here)."""
    retries = int(environ["MLFLOW_HTTP_REQUEST_MAX_RETRIES"])
    factor = float(environ["MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR"])
    jitter = float(environ["MLFLOW_HTTP_REQUEST_BACKOFF_JITTER"])
    timeout = float(environ["MLFLOW_HTTP_REQUEST_TIMEOUT"])
    sleeps = sum(min(factor * 2 ** (n - 1) + jitter, 120) for n in range(2, retries + 1))
    return (retries + 1) * timeout + sleeps


def unreachable(err: BaseException) -> bool:
    """Whether ``err`` (or what it was raised from) is a failed connection or a timeout."""
    import requests

    seen = set()
    while err is not None and id(err) not in seen:
        if isinstance(err, requests.ConnectionError | requests.Timeout):
            return True
        seen.add(id(err))
        err = err.__cause__ or err.__context__
    return False


class ServerUnreachable(RuntimeError):
    """The tracking server did not answer; the message names it without credentials."""

    def __init__(self, uri: str, detail: str = ""):
        password = urlsplit(uri).password
        detail = detail.replace(uri, redact_uri(uri))
        if password:
            detail = detail.replace(password, "***")
        super().__init__(
            f"cannot reach the MLflow tracking server {redact_uri(uri)}: is it up? The "
            "results are kept; run snakemake again once the server answers to sync them. "
            f"({detail})")


@contextlib.contextmanager
def _global_tracking_uri(uri: str) -> Iterator[None]:
    """``log_model`` and the registry read the process-wide URI: point it at ``uri``."""
    import mlflow

    previous = mlflow.get_tracking_uri()
    mlflow.set_tracking_uri(uri)
    try:
        yield
    finally:
        mlflow.set_tracking_uri(previous)


def setup_experiment(uri: str, name: str) -> dict:
    """Create the store and the experiment ``name`` (or restore it); returns its id.

    The one place that creates anything by name: run it once, before parallel jobs. A
    SQLite store gdlab can write itself (:func:`gdlab.mlflow_sql.writable_store`) is set
    up without importing mlflow.
    """
    db = sqlite_path(uri)
    if db is not None:
        if not db.exists():
            _create_sqlite_store(db)
        _enable_wal(db)
        if mlflow_sql.writable_store(db):
            experiment_id = mlflow_sql.ensure_experiment(db, name)
            if experiment_id is not None:  # None: deleted, MLflow restores it below
                return _experiment_record(uri, experiment_id, name)
    from mlflow import MlflowClient

    client = MlflowClient(uri)
    exp = client.get_experiment_by_name(name)
    if exp is None:
        experiment_id = client.create_experiment(name)
    else:
        experiment_id = exp.experiment_id
        if exp.lifecycle_stage == "deleted":
            client.restore_experiment(experiment_id)
    return _experiment_record(uri, experiment_id, name)


def _experiment_record(uri: str, experiment_id: str, name: str) -> dict:
    return {"experiment_id": str(experiment_id), "experiment_name": name,
            "tracking_uri_hash": uri_hash(uri)}


def _create_sqlite_store(db: Path) -> None:
    """Create a new SQLite store under a temporary name, then rename it: from gdlab's
    schema template where it is the installed MLflow's schema (milliseconds), else by
    MLflow's migrations (seconds).

    Measured: a migration killed half-way leaves a file that MLflow cannot open again
    (``table _alembic_tmp_experiments already exists``); a complete file renamed into
    place never does.
    """
    db.parent.mkdir(parents=True, exist_ok=True)
    for stale in db.parent.glob(f".{db.name}.*.tmp*"):  # left by a killed setup
        stale.unlink()
    tmp = db.with_name(f".{db.name}.{os.getpid()}.tmp")
    if mlflow_sql.template_fits():
        mlflow_sql.create_store_from_template(tmp)
    else:
        mlflow_sql.create_store_with_mlflow(tmp)
    os.replace(tmp, db)


def _enable_wal(db: Path) -> None:
    """WAL journaling is a property of the file: set once, every connection uses it."""
    con = sqlite3.connect(db, timeout=60)
    try:
        con.execute("PRAGMA journal_mode=WAL")
    finally:
        con.close()


def check_experiment(client, experiment_id: str, name: str) -> None:
    from mlflow.exceptions import MlflowException

    try:
        exp = client.get_experiment(experiment_id)
    except MlflowException as err:
        if unreachable(err):  # a server that is down: not a missing experiment
            raise
        exp = None
    _check_found(experiment_id, name, exp and (exp.name, exp.lifecycle_stage))


def _check_found(experiment_id: str, name: str, found: tuple[str, str] | None) -> None:
    """Fail unless the store's experiment ``experiment_id`` is active and named ``name``
    (``found``: its name and lifecycle stage, or None)."""
    if found is None or tuple(found) != (name, "active"):
        raise RuntimeError(
            f"experiment {name!r} (id {experiment_id}) is not in the tracking store (was the "
            "store deleted or the experiment renamed?); recreate it with "
            "`snakemake --forcerun mlflow_setup`")


def git_commit(cwd: str | os.PathLike = ".") -> str:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True,
                             text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    commit = out.stdout.strip()
    return commit if out.returncode == 0 and commit else "unknown"


def store_lost(uri: str, experiment_record: str | os.PathLike) -> bool:
    """Whether a SQLite store lacks the experiment that ``experiment_record`` says is there.

    ``mlflow.db`` deleted (or replaced) by hand: the workflow then removes the records
    (:func:`forget_store`), so the setup job and every track job run again and the store
    gets ``results/`` back.
    Reads SQLite directly (no mlflow import: the Snakefile asks on every start). Other
    stores are not checked (no network at planning time).
    """
    db = sqlite_path(uri)
    record = Path(experiment_record)
    if db is None or not record.is_file():
        return False
    if not db.is_file():
        return True
    try:
        experiment = read_json(record)
        con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30)
        try:
            row = con.execute("SELECT name, lifecycle_stage FROM experiments "
                              "WHERE experiment_id = ?",
                              (int(experiment["experiment_id"]),)).fetchone()
        finally:
            con.close()
    except (sqlite3.Error, ValueError, KeyError):
        return True
    return row is None or tuple(row) != (experiment.get("experiment_name"), "active")


def forget_store(results_dir: str | os.PathLike = "results") -> list[Path]:
    """Remove the records of what a lost store held: the setup's and every track job's.

    Snakemake reruns a job whose output is missing, not one whose input is: so each track
    job's record goes too, and the next run sets the store up and syncs every sweep again.
    """
    root = Path(results_dir)
    records = [root / "mlflow" / "experiment.json", root / "mlflow" / "best_models.json",
               *root.glob("*/*/mlflow.json"),
               *root.glob("*/*/mlflow/shards/*.json")]
    removed = [p for p in records if p.is_file()]
    for p in removed:
        p.unlink()
    return removed


# --------------------------------------------------------------------------------------
# Reading runs from results/
# --------------------------------------------------------------------------------------


def _file_hash(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@dataclass
class RunResult:
    """One run directory of a sweep (as a shard manifest lists it)."""

    name: str
    dir: Path
    result: dict  # metrics.json
    timing: dict  # timing.json
    content_key: str
    plots: list[Path] = field(default_factory=list)

    @property
    def run_key(self) -> str:
        return self.result["run_key"]

    @property
    def files(self) -> list[Path]:
        return [self.dir / f for f in RUN_FILES]

    def history(self) -> dict[str, np.ndarray]:
        return read_history(self.dir / "history.csv")


def load_runs(sweep_dir: str | os.PathLike, entries: dict[str, dict],
              plots_dir: str | os.PathLike | None = None) -> list[RunResult]:
    """The runs ``entries`` (run name -> manifest entry) of ``sweep_dir``, sorted by name.

    With ``plots_dir`` (``plots/runs``), each run's figures found there are attached.
    """
    runs = []
    for name in sorted(entries):
        d = run_dir(sweep_dir, name)
        plots = []
        if plots_dir is not None:
            plot_dir = Path(plots_dir, *name.split("/"))
            plots = [p for p in (plot_dir / f for f in RUN_PLOTS) if p.is_file()]
        runs.append(RunResult(name, d, read_json(d / "metrics.json"),
                              read_json(d / "timing.json"), entries[name]["content_key"],
                              plots))
    return runs


@dataclass
class SweepResult:
    """A finished sweep: its runs, summary, best run, baseline and plots."""

    dataset: str
    model: str
    dir: Path
    runs: list[RunResult]
    best: dict
    baseline: dict
    plots: list[Path]
    split_path: Path | None
    sweep_key: str = ""
    files: list[Path] = field(default_factory=list)

    @property
    def best_run(self) -> RunResult | None:
        name = self.best.get("run_name")
        return next((r for r in self.runs if r.name == name), None)

    @cached_property
    def split(self) -> Split | None:
        """The dataset's split (``None`` when no split file was given)."""
        if self.split_path is None or not self.split_path.is_file():
            return None
        return load_split(self.split_path)


def load_sweep(sweep_dir: str | os.PathLike, entries: dict[str, dict],
               split_path: str | os.PathLike | None = None,
               plots: Iterable[str | os.PathLike] | None = None) -> SweepResult:
    """Read ``results/<dataset>/<model>/`` for the runs ``entries`` (name -> manifest entry).

    ``plots``: the sweep's figures, those its plot job declares (the track job passes its
    inputs; only their file names count, the figures are in ``plots/``). A figure left
    there by an earlier sweep of another method (a grid's heatmap, say, once the model is
    searched) is no figure of this sweep. None: every figure of :data:`SWEEP_PLOTS` found
    there. Missing plots are skipped (the library does not require the plot step).
    """
    sweep_dir = Path(sweep_dir)
    runs = load_runs(sweep_dir, entries, sweep_dir / "plots" / "runs")
    best = read_json(sweep_dir / "best.json")
    names = SWEEP_PLOTS if plots is None else [Path(p).name for p in plots]
    plots = [p for p in (sweep_dir / "plots" / name for name in names) if p.is_file()]
    files = [p for p in (sweep_dir / f for f in ("summary.csv", "configs.csv", "best.json",
                                                  "baseline.json")) if p.is_file()]
    sweep = SweepResult(best["dataset"], best["model"], sweep_dir, runs, best,
                        read_json(sweep_dir / "baseline.json"), plots,
                        Path(split_path) if split_path else None, files=files)
    sweep.sweep_key = G.stable_hash([
        code_version(), model_code_version(sweep.model), sweep.dataset, sweep.model,
        sorted((r.name, r.content_key) for r in runs),
        {p.relative_to(sweep_dir).as_posix(): _file_hash(p)
         for p in files + plots + [q for r in runs for q in r.plots]},
    ], 32)
    return sweep


def load_best(sweep_dir: str | os.PathLike, entries: dict[str, dict],
              split_path: str | os.PathLike | None = None) -> SweepResult:
    """The sweep's best run alone, what logging its model needs: no figures, no sweep
    key (the figures may still be drawn while the best model is logged)."""
    sweep_dir = Path(sweep_dir)
    best = read_json(sweep_dir / "best.json")
    name = best.get("run_name")
    if name is not None and name not in entries:
        raise ValueError(f"{sweep_dir / 'best.json'} names the run {name!r}, which no shard "
                         "manifest of the sweep lists")
    runs = load_runs(sweep_dir, {name: entries[name]}) if name is not None else []
    return SweepResult(best["dataset"], best["model"], sweep_dir, runs, best, {}, [],
                       Path(split_path) if split_path else None)


# --------------------------------------------------------------------------------------
# Deciding what to write (pure: testable without MLflow)
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Existing:
    """What planning needs to know about a run already in the store."""

    run_id: str
    status: str
    tags: dict
    start_time: int = 0
    name: str = ""

    @property
    def role(self) -> str | None:
        return self.tags.get(ROLE_TAG)

    @property
    def complete(self) -> bool:
        return self.status == "FINISHED" and self.tags.get(COMPLETE_TAG) == "true"


@dataclass
class ShardPlan:
    keep: dict[str, str]  # run name -> id of the complete child that stays
    create: list[str]  # run names that need a new child
    delete: list[Existing]  # superseded, incomplete or duplicate children

    @property
    def writes(self) -> bool:
        return bool(self.create or self.delete)


def _oldest_first(runs: Iterable[Existing]) -> list[Existing]:
    return sorted(runs, key=lambda r: (r.start_time, r.run_id))


def plan_shard(existing: Iterable[Existing], content_keys: dict[str, str]) -> ShardPlan:
    """Which children to keep, create and delete so the store holds exactly these runs.

    ``existing`` are the sweep's children named like a run of ``content_keys`` (run name
    -> content key); the oldest complete child with the run's content key stays.
    """
    keep: dict[str, str] = {}
    delete = []
    for r in _oldest_first(e for e in existing if e.role == ROLE_RUN):
        if (r.complete and content_keys.get(r.name) == r.tags.get(CONTENT_TAG)
                and r.name not in keep):
            keep[r.name] = r.run_id
        else:
            delete.append(r)
    return ShardPlan(keep, [n for n in sorted(content_keys) if n not in keep], delete)


def plan_cleanup(existing: Iterable[Existing], children: dict[str, str],
                 parent_id: str) -> list[Existing]:
    """Runs of a sweep to delete once it is whole: every gdlab run that is neither its
    parent nor a current child (``children``: run name -> id)."""
    current = set(children.values()) | {parent_id}
    return [r for r in _oldest_first(existing)
            if r.role in (ROLE_SWEEP, ROLE_RUN) and r.run_id not in current]


def choose_parent(existing: Iterable[Existing]) -> Existing | None:
    """The sweep's parent: its oldest parent run (later ones are duplicates)."""
    parents = _oldest_first(r for r in existing if r.role == ROLE_SWEEP)
    return parents[0] if parents else None


# --------------------------------------------------------------------------------------
# Writing children
# --------------------------------------------------------------------------------------


def _batches(metrics: list, params: list, tags: list) -> Iterator[tuple[list, list, list]]:
    """Split into ``log_batch`` calls within MLflow's limits (1000 metrics, 100 params, ...)."""
    metrics, params, tags = list(metrics), list(params), list(tags)
    while metrics or params or tags:
        p, params = params[:MAX_PARAMS_OR_TAGS], params[MAX_PARAMS_OR_TAGS:]
        t, tags = tags[:MAX_PARAMS_OR_TAGS], tags[MAX_PARAMS_OR_TAGS:]
        n = min(MAX_METRICS, MAX_ENTITIES - len(p) - len(t))
        m, metrics = metrics[:n], metrics[n:]
        yield m, p, t


def log_batch(client, run_id: str, metrics=(), params=(), tags=()) -> None:
    for m, p, t in _batches(metrics, params, tags):
        client.log_batch(run_id, metrics=m, params=p, tags=t)


def _value(v) -> float:
    return float("nan") if v is None else float(v)


def _param(v) -> str:
    return G.format_value(v)


def _search(client, experiment_id: str, dataset: str, model: str, extra: str = "") -> list:
    """Every active run of the sweep matching ``extra`` (a filter clause), paged."""
    return _search_pages(client, experiment_id,
                         f"tags.dataset = '{dataset}' and tags.model = '{model}'" + extra)


def _search_pages(client, experiment_id: str, query: str) -> list:
    """Every active run of the experiment matching ``query``, :data:`SEARCH_PAGE` a call
    (one call for thousands of runs outlasts a server's http timeout)."""
    from mlflow.entities import ViewType

    runs, token = [], None
    while True:
        page = client.search_runs([experiment_id], query, run_view_type=ViewType.ACTIVE_ONLY,
                                  max_results=SEARCH_PAGE, page_token=token)
        runs += page
        token = page.token
        if not token:
            return runs


def _existing(run) -> Existing:
    return Existing(run.info.run_id, run.info.status, dict(run.data.tags),
                    run.info.start_time or 0, run.info.run_name or "")


def _of_sweep(runs: Iterable[Existing], dataset: str, model: str,
              role: str) -> list[Existing]:
    """The runs tagged as this sweep's runs of ``role`` (``ROLE_RUN``, ``ROLE_SWEEP``)."""
    return [r for r in runs if r.tags.get("dataset") == dataset
            and r.tags.get("model") == model and r.role == role]


def find_children(client, experiment_id: str, dataset: str, model: str,
                  names: Iterable[str]) -> list[Existing]:
    """The sweep's active child runs named like one of ``names``.

    MLflow's search cannot ask for a list of run names; on a SQL store this asks the
    tables directly (two indexed queries). Elsewhere (a server) it searches the sweep's
    children: 8-11 ms per child on a server, for every shard, so the track jobs use
    :func:`find_recorded_children` instead.
    """
    names = sorted(set(names))
    if not names:
        return []
    store = _sql_store(client)
    if store is None:
        wanted = set(names)
        return [e for e in (_existing(r) for r in _search(
            client, experiment_id, dataset, model, f" and tags.`{ROLE_TAG}` = '{ROLE_RUN}'"))
            if e.name in wanted]
    from mlflow.store.tracking.dbmodels.models import SqlRun, SqlTag

    found: dict[str, tuple] = {}
    tags: dict[str, dict] = {}
    with store.ManagedSessionMaker() as session:
        for i in range(0, len(names), 500):
            for row in session.query(SqlRun.run_uuid, SqlRun.name, SqlRun.status,
                                     SqlRun.start_time).filter(
                    SqlRun.experiment_id == int(experiment_id),
                    SqlRun.lifecycle_stage == "active",
                    SqlRun.name.in_(names[i:i + 500])):
                found[row.run_uuid] = (row.name, row.status, row.start_time or 0)
        ids = sorted(found)
        for i in range(0, len(ids), 500):
            for row in session.query(SqlTag.run_uuid, SqlTag.key, SqlTag.value).filter(
                    SqlTag.run_uuid.in_(ids[i:i + 500])):
                tags.setdefault(row.run_uuid, {})[row.key] = row.value
    return _of_sweep((Existing(run_id, status, tags.get(run_id, {}), start, name)
                      for run_id, (name, status, start) in found.items()),
                     dataset, model, ROLE_RUN)


def recorded_children(records: Iterable[str | os.PathLike]) -> dict[str, list[str]]:
    """Run name -> the child ids that a sweep's track records (``results/<dataset>/<model>/
    mlflow/shards/*.json``) name. Records are hints, not truth: an unreadable one is
    skipped, and every id is looked up in the store (:func:`find_recorded_children`)."""
    ids: dict[str, list[str]] = {}
    for path in records:
        try:
            children = read_json(path)["children"]
        except (OSError, ValueError, KeyError, TypeError):
            continue
        for name, run_id in children.items():
            ids.setdefault(name, []).append(run_id)
    return ids


def find_recorded_children(client, experiment_id: str, dataset: str, model: str,
                           names: Iterable[str], recorded: dict[str, list[str]],
                           shard: str | None) -> list[Existing]:
    """The sweep's active children named like one of ``names`` (a shard's runs), on a
    server, reading only this shard's runs, never the whole sweep.

    First the runs whose ids the track records name (``recorded``: run name -> ids), by
    ``attributes.run_id IN (...)``. A run with no complete child among them is new, or
    changed, or one a crash cut off between creating its child and recording it: then
    the children this shard created (tag :data:`SHARD_TAG` = ``shard``) are searched too,
    so a crashed child is found and retired. A child of the same name that a job of
    another shard numbering created and never recorded is left to the sweep's track job
    (:func:`finish_sweep` deletes every run that is not a current child). Without a
    ``shard`` (a caller outside the pipeline) that search covers the sweep's children.
    """
    wanted = set(names)
    ids = sorted({i for n in wanted for i in recorded.get(n, ())})
    found: dict[str, Existing] = {}
    for i in range(0, len(ids), IDS_PER_SEARCH):
        listed = ", ".join(f"'{run_id}'" for run_id in ids[i:i + IDS_PER_SEARCH])
        for r in _search_pages(client, experiment_id, f"attributes.run_id IN ({listed})"):
            found[r.info.run_id] = _existing(r)
    complete = {e.name for e in found.values() if e.complete}
    if wanted - complete:
        extra = f" and tags.`{ROLE_TAG}` = '{ROLE_RUN}'"
        if shard is not None:
            extra += f" and tags.`{SHARD_TAG}` = '{shard}'"
        for r in _search(client, experiment_id, dataset, model, extra):
            found.setdefault(r.info.run_id, _existing(r))
    return [e for e in _of_sweep(found.values(), dataset, model, ROLE_RUN) if e.name in wanted]


def _retire(access, runs: Iterable[Existing]) -> None:
    """Soft-delete superseded runs; one a crash cut off mid-sync is marked FAILED first."""
    for r in runs:
        if r.status == "RUNNING":
            access.set_terminated(r.run_id, "FAILED")
        access.delete_run(r.run_id)


def _common_tags(dataset: str, model: str, commit: str) -> dict[str, str]:
    tags = {"dataset": dataset, "model": model, "git_commit": commit}
    if commit != "unknown":
        tags["mlflow.source.git.commit"] = commit
    return tags


def _code_tags(run: RunResult, commit: str) -> dict[str, str]:
    """Tags that name the code, not the results: updated on a kept child."""
    tags = {"run_key": run.run_key, "code_version": str(run.result.get("code_version", "")),
            "git_commit": commit}
    if commit != "unknown":
        tags["mlflow.source.git.commit"] = commit
    return tags


@dataclass
class ChildRecord:
    """Everything one child run holds, ready to write by either path."""

    name: str
    start: int
    end: int
    tags: dict[str, str]
    params: dict[str, str]
    metrics: list[tuple[str, float, int, int]]  # key, value, timestamp, step
    files: list[Path]


def child_record(run: RunResult, dataset: str, model: str, parent_id: str,
                 commit: str) -> ChildRecord:
    res = run.result
    spec = {k: res[k] for k in ("dataset", "model", "task", "run_name", "hyperparameters",
                                "seed", "config", "repeat", "data_key", "code_version",
                                "run_key") if k in res}
    tags = {
        **_common_tags(dataset, model, commit), **_code_tags(run, commit),
        ROLE_TAG: ROLE_RUN, PARENT_TAG: parent_id, CONTENT_TAG: run.content_key,
        "config_hash": G.stable_hash(spec), "task": res.get("task", ""),
        "diverged": str(bool(res["diverged"])).lower(),
    }
    if "config" in res:  # one repeat of a configuration
        tags.update(config=res["config"], repeat=str(res["repeat"]))
    if "rung" in res:  # successive halving: the last rung the configuration reached
        tags["rung"] = str(res["rung"])
    if "round" in res:  # TPE: the round that asked the trial
        tags["round"] = str(res["round"])
    params = {k: _param(v) for k, v in sorted(res["hyperparameters"].items())}
    params["seed"] = str(res["seed"])
    start, end = int(run.timing["start_time_ms"]), int(run.timing["end_time_ms"])
    metrics = []
    history = run.history()
    steps = history["epoch"]
    for col, values in history.items():
        if col != "epoch":
            metrics += [(col, float(v), end, int(s))
                        for s, v in zip(steps, values, strict=True)]
    for part, values in res["metrics"].items():
        metrics += [(f"{part}/{k}", _value(v), end, 0) for k, v in values.items()]
    for k in ("n_epochs", "final_objective", "diverged", "converged"):
        metrics.append((k, _value(res.get(k)), end, 0))
    return ChildRecord(run.name, start, end, tags, params, metrics, run.files)


#: the tags of a child's dataset input
DATASET_INPUT_TAGS = {"mlflow.data.context": "training"}


def split_dataset(split: Split | None, split_path: Path | None, name: str) -> dict | None:
    """The split as MLflow logs a NumPy dataset (``mlflow.data.from_numpy`` of the training
    part, source the split file): name, digest, source type, source, schema, profile. One
    description for both paths; a test compares it with MLflow's own."""
    if split is None or split_path is None:
        return None
    source = Path(split_path).resolve().as_uri()
    try:
        return mlflow_sql.numpy_dataset(split.X_train, split.y_train, source, name)
    except TypeError:  # arrays gdlab cannot describe without MLflow (non-numeric)
        return mlflow_numpy_dataset(split.X_train, split.y_train, source, name)


def mlflow_numpy_dataset(features, targets, source: str, name: str) -> dict:
    """MLflow's own description of a NumPy dataset (the oracle of :func:`split_dataset`)."""
    import mlflow

    with warnings.catch_warnings():  # two equivalent local-file sources are registered
        warnings.filterwarnings("ignore", message=".*interpreted in multiple ways.*")
        ds = mlflow.data.from_numpy(features, targets=targets, source=source, name=name)
    entity = ds._to_mlflow_entity()
    return {k: getattr(entity, k)
            for k in ("name", "digest", "source_type", "source", "schema", "profile")}


def _dataset_input(dataset: dict | None):
    """A :func:`split_dataset` description as MLflow's ``DatasetInput`` (training context)."""
    from mlflow.entities import Dataset, DatasetInput, InputTag

    if dataset is None:
        return None
    return DatasetInput(Dataset(**dataset),
                        tags=[InputTag(k, v) for k, v in DATASET_INPUT_TAGS.items()])


def write_children_with_client(client, experiment_id: str, records: list[ChildRecord],
                               dataset_input=None) -> dict[str, str]:
    """Log children one call at a time (any store); each is complete only at its end."""
    from mlflow.entities import Metric, Param, RunTag

    ids = {}
    for rec in records:
        tags = {k: v for k, v in rec.tags.items()}
        run_id = client.create_run(experiment_id, start_time=rec.start, tags=tags,
                                   run_name=rec.name).info.run_id
        log_batch(client, run_id, metrics=[Metric(*m) for m in rec.metrics],
                  params=[Param(k, v) for k, v in rec.params.items()])
        if dataset_input is not None:
            _log_inputs(client, run_id, dataset_input)
        for p in rec.files:
            client.log_artifact(run_id, str(p))
        client.log_batch(run_id, tags=[RunTag(COMPLETE_TAG, "true")])
        client.set_terminated(run_id, "FINISHED", end_time=rec.end)
        ids[rec.name] = run_id
    return ids


def _log_inputs(client, run_id: str, dataset_input) -> None:
    """``client.log_inputs``, once more if it lost a race for a new dataset's row: MLflow's
    store looks for the dataset (experiment, name, digest), then inserts it, so two jobs
    logging one new dataset at once collide on that key and one request fails, rolled
    back whole; by then the row exists and the second attempt uses it."""
    from mlflow.exceptions import MlflowException

    try:
        client.log_inputs(run_id, datasets=[dataset_input])
    except MlflowException as err:
        if not _duplicate_dataset(err):
            raise
        client.log_inputs(run_id, datasets=[dataset_input])


def _duplicate_dataset(err: BaseException) -> bool:
    """Whether ``err`` is a unique-key violation on MLflow's datasets table (PostgreSQL,
    SQLite or MySQL wording)."""
    text = str(err).lower()
    return ("dataset" in text and any(
        w in text for w in ("duplicate key", "unique constraint", "duplicate entry")))


def _sql_store(client):
    """The client's SQL store, or None (a tracking server, a file store)."""
    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

    store = getattr(client._tracking_client, "store", None)
    return store if isinstance(store, SqlAlchemyStore) else None


def local_artifact_root(location: str) -> Path | None:
    """The directory of a local artifact location (a path or ``file:`` URI), else None."""
    parts = urlsplit(location)
    if parts.scheme == "file":
        return Path(unquote(parts.path))
    if parts.scheme == "" or (len(parts.scheme) == 1 and os.name == "nt"):
        return Path(location)
    return None


def _place(src: Path, dest_dir: Path) -> None:
    """Hard-link ``src`` into ``dest_dir`` (a run's files never change in place: they are
    replaced by rename), or copy it where linking is impossible."""
    dest = dest_dir / src.name
    dest_dir.mkdir(parents=True, exist_ok=True)
    dest.unlink(missing_ok=True)
    try:
        os.link(src, dest)
    except OSError:
        shutil.copy2(src, dest)


#: the tables a child's rows go to, in an order their foreign keys allow
CHILD_TABLES = ("runs", "tags", "params", "metrics", "latest_metrics", "inputs", "input_tags")


def _children_rows(records: list[ChildRecord], ids: dict[str, str], experiment_id: str,
                   artifact_location: str, dataset_uuid: str | None) -> dict[str, list]:
    """Every row of these complete children, table by table: what MLflow's ``create_run``,
    ``log_batch``, ``log_inputs`` and ``set_terminated`` write (both SQL paths write these).
    """
    rows: dict[str, list] = {table: [] for table in CHILD_TABLES}
    for rec in records:
        run_id = ids[rec.name]
        rows["runs"].append(mlflow_sql.run_row(
            run_id, int(experiment_id), rec.name, artifact_location, rec.start,
            status="FINISHED", end_time=rec.end))
        tags = {**rec.tags, "mlflow.runName": rec.name, COMPLETE_TAG: "true"}
        mlflow_sql.check_limits("tag", tags, mlflow_sql.MAX_TAG_VALUE)
        mlflow_sql.check_limits("param", rec.params, mlflow_sql.MAX_PARAM_VALUE)
        rows["tags"] += mlflow_sql.key_value_rows(run_id, tags)
        rows["params"] += mlflow_sql.key_value_rows(run_id, rec.params)
        metrics, latest = mlflow_sql.metric_rows(run_id, rec.metrics)
        rows["metrics"] += metrics
        rows["latest_metrics"] += latest
        if dataset_uuid is not None:
            edge, edge_tags = mlflow_sql.input_rows(dataset_uuid, run_id, DATASET_INPUT_TAGS)
            rows["inputs"].append(edge)
            rows["input_tags"] += edge_tags
    return rows


def _place_artifacts(records: list[ChildRecord], ids: dict[str, str], root: Path) -> None:
    """Each child's files into its artifact directory (before its rows are committed)."""
    for rec in records:
        for p in rec.files:
            _place(p, root / ids[rec.name] / "artifacts")


def write_children_sql(client, experiment_id: str, records: list[ChildRecord],
                       dataset_input=None) -> dict[str, str] | None:
    """Write ``records`` as complete children in one transaction, or return None when the
    store is not SQL or its artifacts are not local (then use the client path).

    The rows are :func:`_children_rows`, inserted with MLflow's own table definitions
    (SQLAlchemy), so the UI and the API cannot tell the difference; a test compares the
    two paths field by field.
    """
    store = _sql_store(client)
    if store is None or not records:
        return None if store is None else {}
    experiment = client.get_experiment(experiment_id)
    root = local_artifact_root(experiment.artifact_location)
    if root is None:
        return None
    from sqlalchemy import insert

    ids = {rec.name: uuid.uuid4().hex for rec in records}
    _place_artifacts(records, ids, root)
    dataset_uuid = (None if dataset_input is None
                    else _sql_dataset_uuid(store, experiment_id, dataset_input.dataset))
    with store.ManagedSessionMaker(read_only=False) as session:
        rows = _children_rows(records, ids, experiment_id, experiment.artifact_location,
                              dataset_uuid)
        tables = _sql_tables()
        for name in CHILD_TABLES:
            if rows[name]:
                session.execute(insert(tables[name]), rows[name])
    return ids


def _find_sql_dataset(store, experiment_id: str, ds) -> str | None:
    """The uuid of the experiment's dataset row of ``ds`` (name, digest), or None."""
    from mlflow.store.tracking.dbmodels.models import SqlDataset

    with store.ManagedSessionMaker() as session:
        found = session.query(SqlDataset.dataset_uuid).filter(
            SqlDataset.experiment_id == int(experiment_id), SqlDataset.name == ds.name,
            SqlDataset.digest == ds.digest).first()
    return found[0] if found is not None else None


def _sql_dataset_uuid(store, experiment_id: str, ds) -> str:
    """The dataset's row, inserted if missing in a transaction of its own.

    Parallel track jobs (no store lock outside SQLite) may both miss a new dataset and both
    insert it: the second insert fails on the table's key (experiment, name, digest) and
    rolls back, and the row the first committed is used. Committing the row apart from the
    children costs nothing in safety: a dataset row is shared by every run that uses it.
    """
    from mlflow.exceptions import MlflowException
    from mlflow.store.tracking.dbmodels.models import SqlDataset
    from sqlalchemy import insert
    from sqlalchemy.exc import IntegrityError

    found = _find_sql_dataset(store, experiment_id, ds)
    if found is not None:
        return found
    row = mlflow_sql.dataset_row(int(experiment_id), {
        k: getattr(ds, k) for k in ("name", "digest", "source_type", "source", "schema",
                                    "profile")})
    try:
        with store.ManagedSessionMaker(read_only=False) as session:
            session.execute(insert(SqlDataset.__table__), [row])
    except MlflowException as err:  # MLflow's session wraps the driver's error
        if not isinstance(err.__cause__, IntegrityError):
            raise
        found = _find_sql_dataset(store, experiment_id, ds)
        if found is None:
            raise
        return found
    return row["dataset_uuid"]


def _sql_tables() -> dict:
    """MLflow's table definitions by name."""
    from mlflow.store.db.base_sql_model import Base

    return Base.metadata.tables


def write_children(client, experiment_id: str, records: list[ChildRecord],
                   dataset_input=None) -> dict[str, str]:
    """Log ``records`` as child runs: one transaction on a SQL store, else the client."""
    ids = write_children_sql(client, experiment_id, records, dataset_input)
    if ids is None:
        ids = write_children_with_client(client, experiment_id, records, dataset_input)
    return ids


# --------------------------------------------------------------------------------------
# Two ways to the store, one sync: MLflow's client, or sqlite3 on a SQLite store
# --------------------------------------------------------------------------------------


class ClientAccess:
    """The store through ``MlflowClient`` (a server, PostgreSQL, SQLite: any store).

    ``recorded`` (run name -> child ids, :func:`recorded_children`) and ``shard``: on a
    server, children are looked up by these ids and the shard's tag
    (:func:`find_recorded_children`) instead of a search over the sweep; new children
    carry the tag. ``parent_lock``: a lock file held while the parent is found or created
    (:func:`open_parent`).
    """

    via = "MLflow"

    def __init__(self, client, recorded: dict[str, list[str]] | None = None,
                 shard: str | None = None, parent_lock: Path | None = None):
        self.client = client
        self.recorded, self.shard, self.parent_lock_file = recorded, shard, parent_lock

    def parent_lock(self) -> contextlib.AbstractContextManager:
        return (contextlib.nullcontext() if self.parent_lock_file is None
                else store_lock(self.parent_lock_file))

    def check_experiment(self, experiment_id: str, name: str) -> None:
        check_experiment(self.client, experiment_id, name)

    def find_children(self, experiment_id: str, dataset: str, model: str,
                      names: Iterable[str]) -> list[Existing]:
        if self.recorded is not None and _sql_store(self.client) is None:
            return find_recorded_children(self.client, experiment_id, dataset, model, names,
                                          self.recorded, self.shard)
        return find_children(self.client, experiment_id, dataset, model, names)

    def find_parents(self, experiment_id: str, dataset: str, model: str) -> list[Existing]:
        return [_existing(r) for r in _search(
            self.client, experiment_id, dataset, model,
            f" and tags.`{ROLE_TAG}` = '{ROLE_SWEEP}'")]

    def find_sweep_runs(self, experiment_id: str, dataset: str, model: str) -> list[Existing]:
        return [_existing(r) for r in _search(self.client, experiment_id, dataset, model)]

    def log_metrics(self, run_id: str, metrics: list[tuple[str, float, int, int]]) -> None:
        from mlflow.entities import Metric

        log_batch(self.client, run_id, metrics=[Metric(*m) for m in metrics])

    def log_artifact(self, run_id: str, path: Path, artifact_path: str | None = None) -> None:
        self.client.log_artifact(run_id, str(path), artifact_path)

    def delete_artifacts(self, run_id: str, artifact_dir: str, names: Iterable[str]) -> list[str]:
        """Delete those of ``names`` the run has in ``artifact_dir``; the names deleted."""
        listed = {Path(a.path).name for a in self.client.list_artifacts(run_id, artifact_dir)}
        gone = sorted(listed & set(names))
        if gone:
            from mlflow.store.artifact.artifact_repository_registry import (
                get_artifact_repository,
            )

            repo = get_artifact_repository(self.client.get_run(run_id).info.artifact_uri,
                                           tracking_uri=self.client.tracking_uri)
            for name in gone:
                repo.delete_artifacts(f"{artifact_dir}/{name}")
        return gone

    def link_ready_model(self, experiment_id: str, run_id: str | None, key: str) -> str | None:
        """What :meth:`SqliteAccess.link_ready_model` does, through MLflow's client."""
        from mlflow.entities import LoggedModelOutput

        found = self.client.search_logged_models(
            [experiment_id], filter_string=f"tags.`{CONTENT_TAG}` = '{key}'")
        model_id = next((lm.model_id for lm in found if lm.status == "READY"), None)
        if model_id is not None and run_id is not None:
            outputs = self.client.get_run(run_id).outputs
            if model_id not in [o.model_id for o in (outputs.model_outputs if outputs else [])]:
                self.client.log_outputs(run_id, [LoggedModelOutput(model_id, step=0)])
        return model_id

    def create_run(self, experiment_id: str, name: str, start_time: int | None,
                   tags: dict[str, str]) -> str:
        return self.client.create_run(experiment_id, start_time=start_time, tags=tags,
                                      run_name=name).info.run_id

    def log_params(self, run_id: str, params: dict[str, str]) -> None:
        from mlflow.entities import Param

        self.client.log_batch(run_id, params=[Param(k, v) for k, v in params.items()])

    def set_tags(self, run_id: str, tags: dict[str, str]) -> None:
        from mlflow.entities import RunTag

        log_batch(self.client, run_id, tags=[RunTag(k, v) for k, v in tags.items()])

    def update_run(self, run_id: str, status: str) -> None:
        self.client.update_run(run_id, status=status)

    def set_terminated(self, run_id: str, status: str, end_time: int | None = None) -> None:
        self.client.set_terminated(run_id, status, end_time=end_time)

    def delete_run(self, run_id: str) -> None:
        self.client.delete_run(run_id)

    def write_children(self, experiment_id: str, records: list[ChildRecord],
                       dataset: dict | None) -> dict[str, str]:
        if self.shard is not None:
            for rec in records:
                rec.tags[SHARD_TAG] = self.shard
        return write_children(self.client, experiment_id, records, _dataset_input(dataset))


class SqliteAccess:
    """A SQLite store written by gdlab with ``sqlite3`` (:mod:`gdlab.mlflow_sql`), in one
    transaction: the rows MLflow would write, without importing it."""

    via = "sqlite3"

    def __init__(self, store: mlflow_sql.SqliteStore):
        self.store = store

    def local_artifacts(self, experiment_id: str) -> bool:
        """Whether the experiment's artifacts are on local disk (or it is gone: then
        :meth:`check_experiment` says so)."""
        found = self.store.experiment(experiment_id)
        return found is None or local_artifact_root(found[2]) is not None

    def check_experiment(self, experiment_id: str, name: str) -> None:
        found = self.store.experiment(experiment_id)
        _check_found(experiment_id, name, found and found[:2])

    def find_children(self, experiment_id: str, dataset: str, model: str,
                      names: Iterable[str]) -> list[Existing]:
        runs = self.store.active_runs_named(experiment_id, names)
        return _of_sweep((Existing(*r) for r in runs), dataset, model, ROLE_RUN)

    def find_parents(self, experiment_id: str, dataset: str, model: str) -> list[Existing]:
        runs = self.store.active_runs_tagged(
            experiment_id, {"dataset": dataset, "model": model, ROLE_TAG: ROLE_SWEEP})
        return [Existing(*r) for r in runs]

    def find_sweep_runs(self, experiment_id: str, dataset: str, model: str) -> list[Existing]:
        runs = self.store.active_runs_tagged(experiment_id, {"dataset": dataset, "model": model})
        return [Existing(*r) for r in runs]

    def log_metrics(self, run_id: str, metrics: list[tuple[str, float, int, int]]) -> None:
        self.store.log_metrics(run_id, metrics)

    def log_artifact(self, run_id: str, path: Path, artifact_path: str | None = None) -> None:
        """What MLflow's local artifact repository does: a copy (with the file's times and
        mode) written beside its place, then renamed into it."""
        dest_dir = local_artifact_root(self.store.artifact_uri(run_id))
        if artifact_path:
            dest_dir = dest_dir / artifact_path
        dest_dir.mkdir(parents=True, exist_ok=True)
        tmp = dest_dir / f".{Path(path).name}.{uuid.uuid4().hex}.tmp"
        shutil.copy2(path, tmp)
        os.replace(tmp, dest_dir / Path(path).name)

    def delete_artifacts(self, run_id: str, artifact_dir: str, names: Iterable[str]) -> list[str]:
        """What :meth:`ClientAccess.delete_artifacts` does, in the local artifact root."""
        folder = local_artifact_root(self.store.artifact_uri(run_id)) / artifact_dir
        gone = sorted(name for name in set(names) if (folder / name).is_file())
        for name in gone:
            (folder / name).unlink()
        return gone

    def current_best_model(self, experiment_id: str, parent_id: str | None, key: str,
                           registered_name: str | None) -> tuple[str, dict | None] | None:
        """The best model when the store holds it already (what :func:`log_best_model` and
        :func:`register_best` would find, without MLflow): its logged model id, made the
        parent's output if it is not, and the registered version whose tag says it holds
        these results (``registered_name`` None: not registered). None when MLflow has to
        log or register it."""
        registered = None
        if registered_name is not None:
            latest = self.store.latest_model_version(registered_name)
            if latest is None or latest[1].get(CONTENT_TAG) != key:
                return None
            registered = {"name": registered_name, "version": latest[0], "new": False}
        model_id = self.link_ready_model(experiment_id, parent_id, key)
        return None if model_id is None else (model_id, registered)

    def link_ready_model(self, experiment_id: str, run_id: str | None, key: str) -> str | None:
        """The READY logged model of content key ``key``, made ``run_id``'s output if it is
        not (``run_id`` None: only found); None when there is none."""
        model_id = self.store.ready_model_tagged(experiment_id, CONTENT_TAG, key)
        if model_id is not None and run_id is not None \
                and model_id not in self.store.model_outputs(run_id):
            self.store.log_model_output(run_id, model_id)
        return model_id

    def create_run(self, experiment_id: str, name: str, start_time: int | None,
                   tags: dict[str, str]) -> str:
        found = self.store.experiment(experiment_id)
        if found is None or found[1] != "active":  # MLflow refuses too
            raise RuntimeError(f"experiment {experiment_id} is not active: no run goes in")
        return self.store.create_run(experiment_id, name, found[2],
                                     start_time or mlflow_sql.now_ms(), tags)

    def log_params(self, run_id: str, params: dict[str, str]) -> None:
        self.store.log_params(run_id, params)

    def set_tags(self, run_id: str, tags: dict[str, str]) -> None:
        self.store.set_tags(run_id, tags)

    def update_run(self, run_id: str, status: str) -> None:
        self.store.set_status(run_id, status)

    def set_terminated(self, run_id: str, status: str, end_time: int | None = None) -> None:
        self.store.set_status(run_id, status, end_time=end_time or mlflow_sql.now_ms())

    def delete_run(self, run_id: str) -> None:
        self.store.delete_run(run_id)

    def parent_lock(self) -> contextlib.AbstractContextManager:
        return contextlib.nullcontext()  # the whole sync is one transaction, under track_lock

    def write_children(self, experiment_id: str, records: list[ChildRecord],
                       dataset: dict | None) -> dict[str, str]:
        """Files placed, then every row of every child (the transaction commits them)."""
        location = self.store.experiment(experiment_id)[2]
        ids = {rec.name: uuid.uuid4().hex for rec in records}
        _place_artifacts(records, ids, local_artifact_root(location))
        dataset_uuid = None
        if dataset is not None and records:
            dataset_uuid = self.store.dataset_uuid(experiment_id, dataset["name"],
                                                   dataset["digest"])
            if dataset_uuid is None:
                row = mlflow_sql.dataset_row(int(experiment_id), dataset)
                self.store.insert("datasets", [row])
                dataset_uuid = row["dataset_uuid"]
        rows = _children_rows(records, ids, experiment_id, location, dataset_uuid)
        for table in CHILD_TABLES:
            self.store.insert(table, rows[table])
        return ids


# --------------------------------------------------------------------------------------
# Syncing: a shard as soon as it is trained, the sweep once it is summarised
# --------------------------------------------------------------------------------------


def open_parent(access, experiment_id: str, dataset: str, model: str, commit: str,
                existing: list[Existing] | None = None, start_time: int | None = None) -> str:
    """The sweep's parent run, created if missing, marked RUNNING and incomplete (the
    sweep is being updated) if it was finished. ``access``: a :class:`ClientAccess` or
    :class:`SqliteAccess`; under its ``parent_lock`` (parallel shards make one parent)."""
    with access.parent_lock():
        if existing is None:
            existing = access.find_parents(experiment_id, dataset, model)
        parent = choose_parent(existing)
        if parent is None:
            tags = {**_common_tags(dataset, model, commit), ROLE_TAG: ROLE_SWEEP,
                    COMPLETE_TAG: "false"}
            run_id = access.create_run(experiment_id, f"{dataset}/{model}", start_time, tags)
            access.log_params(run_id, {"dataset": dataset, "model": model})
            return run_id
    if parent.tags.get(COMPLETE_TAG) != "false" or parent.status != "RUNNING":
        access.set_tags(parent.run_id, {COMPLETE_TAG: "false"})
        access.update_run(parent.run_id, "RUNNING")
    return parent.run_id


def _client(uri: str, experiment_id: str, experiment_name: str | None):
    """A client of the store; with ``experiment_name``, first checks the id still names it."""
    from mlflow import MlflowClient

    client = MlflowClient(uri)
    if experiment_name is not None:
        check_experiment(client, experiment_id, experiment_name)
    return client


def import_mlflow_timed(uri: str) -> None:
    """A sync job's one-off ``import mlflow`` (~1.5-10 s), timed apart in its log; none on
    a SQLite store gdlab writes itself."""
    if writes_sqlite_itself(uri):
        print("import mlflow: 0.00 s (not imported: gdlab writes this SQLite store with "
              "sqlite3)", file=sys.stderr)
        return
    start = time.perf_counter()
    import mlflow  # noqa: F401

    print(f"import mlflow: {time.perf_counter() - start:.2f} s", file=sys.stderr)


def writes_sqlite_itself(uri: str) -> bool:
    """Whether a sync into ``uri`` goes through sqlite3 (no mlflow import): a SQLite store
    :func:`gdlab.mlflow_sql.writable_store` accepts."""
    return mlflow_sql.writable_store(sqlite_path(uri))


def sync_shard(uri: str, experiment_id: str, dataset: str, model: str,
               runs: list[RunResult], split_path: str | os.PathLike | None = None, *,
               experiment_name: str | None = None, commit: str | None = None,
               log: Callable[[str], Any] | None = None,
               recorded: dict[str, list[str]] | None = None, shard: str | int | None = None,
               lock_dir: str | os.PathLike | None = None) -> dict:
    """Make the store hold exactly these runs of a shard as children of the sweep's parent.

    Returns the record a ``track_shard`` job writes (parent id, run name -> child id).
    A SQLite store gdlab can write itself is synced with sqlite3 in one transaction
    (:func:`writes_sqlite_itself`); any other through MLflow's client. Call under
    :func:`track_lock`. ``recorded`` (:func:`recorded_children` of the sweep's track
    records) and ``shard`` (the shard's number) let a server sync read only this shard's
    runs (:func:`find_recorded_children`); ``lock_dir``: where parallel jobs lock the
    creation of the sweep's parent (:func:`sweep_lock_file`).
    """
    args = (experiment_id, dataset, model, runs, split_path, experiment_name,
            commit or git_commit(), log or (lambda msg: print(msg, file=sys.stderr)))
    if writes_sqlite_itself(uri):
        with mlflow_sql.SqliteStore.transaction(sqlite_path(uri)) as store:
            access = SqliteAccess(store)
            if access.local_artifacts(experiment_id):
                return _sync_shard(access, *args)
    access = ClientAccess(
        _client(uri, experiment_id, None), recorded,
        None if shard is None else str(shard),
        None if lock_dir is None else sweep_lock_file(uri, lock_dir, experiment_id, dataset,
                                                      model))
    return _sync_shard(access, *args)


def _sync_shard(access, experiment_id: str, dataset: str, model: str, runs: list[RunResult],
                split_path: str | os.PathLike | None, experiment_name: str | None,
                commit: str, log: Callable[[str], Any]) -> dict:
    """:func:`sync_shard` through ``access`` (a :class:`ClientAccess` or
    :class:`SqliteAccess`): find, plan, write."""
    t0 = time.perf_counter()
    if experiment_name is not None:
        access.check_experiment(experiment_id, experiment_name)
    by_name = {r.name: r for r in runs}
    existing = access.find_children(experiment_id, dataset, model, by_name)
    plan = plan_shard(existing, {r.name: r.content_key for r in runs})
    by_id = {r.run_id: r for r in existing}
    kept_ok = all(by_id[i].tags.get(PARENT_TAG) for i in plan.keep.values())
    starts = [int(r.timing["start_time_ms"]) for r in runs]
    parent_id = (open_parent(access, experiment_id, dataset, model, commit,
                             start_time=min(starts, default=None))
                 if plan.writes or not kept_ok or not runs else None)
    _retire(access, plan.delete)
    split_path = Path(split_path) if split_path else None
    t_write = time.perf_counter()
    created = {}
    if plan.create:
        split = load_split(split_path) if split_path and split_path.is_file() else None
        records = [child_record(by_name[n], dataset, model, parent_id, commit)
                   for n in plan.create]
        created = access.write_children(experiment_id, records,
                                        split_dataset(split, split_path, dataset))
    t_write = time.perf_counter() - t_write
    _update_kept(access, plan.keep, by_id, by_name, parent_id, commit)
    children = {**plan.keep, **created}
    parent_id = parent_id or next(
        (by_id[i].tags[PARENT_TAG] for i in plan.keep.values()), None)
    log(f"{dataset}/{model} shard: kept {len(plan.keep)}, created {len(created)}, deleted "
        f"{len(plan.delete)} in {time.perf_counter() - t0:.2f} s (children "
        f"{1000 * t_write / max(len(created), 1):.1f} ms each) via {access.via}")
    return {"experiment_id": str(experiment_id), "parent_run_id": parent_id,
            "children": dict(sorted(children.items())),
            "created": len(created), "deleted": len(plan.delete)}


def _update_kept(access, keep: dict[str, str], by_id: dict[str, Existing],
                 by_name: dict[str, RunResult], parent_id: str | None, commit: str) -> None:
    """A kept child's results are unchanged; its code tags and parent may not be."""
    for name, run_id in keep.items():
        want = _code_tags(by_name[name], commit)
        if parent_id is not None:
            want[PARENT_TAG] = parent_id
        have = by_id[run_id].tags
        changed = {k: v for k, v in want.items() if have.get(k) != v}
        if changed:
            access.set_tags(run_id, changed)


def _model_key(run: RunResult) -> str:
    """Identity of a logged best model: the run's results and the pyfunc code."""
    return G.stable_hash([run.content_key, model_code_version(run.result["model"])], 32)


def pyfunc_files(model: str, weights) -> dict:
    """What makes a gdlab model an MLflow pyfunc (arguments of ``mlflow.pyfunc.log_model`` /
    ``save_model``): :mod:`gdlab.mlflow_model` as the model's code, the ``gdlab`` package
    beside it (``code_paths``), the run's ``model.npz`` as ``weights``."""
    import mlflow

    return {"python_model": str(MODEL_FILE), "code_paths": [str(MODEL_FILE.parent)],
            "artifacts": {"weights": str(weights)}, "model_config": {"model": model},
            "pip_requirements": [f"mlflow=={mlflow.__version__}", f"numpy=={np.__version__}"]}


def log_best_model(client, experiment_id: str, parent_id: str | None, sweep: SweepResult,
                   run: RunResult, uri: str) -> str:
    """The best run's model as a pyfunc on the parent; reuses an identical logged model.
    Without a parent (``None``) the model is only logged: :func:`finish_sweep` links it."""
    import mlflow
    from mlflow.entities import LoggedModelOutput
    from mlflow.models import infer_signature

    key = _model_key(run)
    found = ClientAccess(client).link_ready_model(experiment_id, parent_id, key)
    if found is not None:
        return found
    task = run.result.get("task", "regression")
    split = sweep.split
    w = load_npz(run.dir / "model.npz")
    # input example: raw (unstandardised) training rows, what the model is meant to get
    example = (split.X_train[:5] * split.x_scale + split.x_mean if split is not None
               else w["x_mean"][None, :])
    output = predict(sweep.model, w, example)  # the pyfunc's own predict
    lm = client.create_logged_model(
        experiment_id=experiment_id, name="best_model", source_run_id=parent_id,
        params={"run_name": run.name, **{k: _param(v) for k, v in
                                         run.result["hyperparameters"].items()}},
        tags={CONTENT_TAG: key, "run_key": run.run_key, "dataset": sweep.dataset,
              "model": sweep.model})
    meta = {"task": task, "model": sweep.model, "run_key": run.run_key, "run_name": run.name,
            "output": "class probabilities, shape (n, K)" if task == "classification"
            else "prediction",
            "input": "raw features, columns in training order"}
    if split is not None:
        meta["feature_names"] = list(split.feature_names)
        meta["classes"] = [str(c) for c in split.classes]
    with _global_tracking_uri(uri):
        mlflow.pyfunc.log_model(
            name="best_model", model_id=lm.model_id,
            **pyfunc_files(sweep.model, run.dir / "model.npz"),
            signature=infer_signature(example, output), input_example=example, metadata=meta)
    if parent_id is not None:
        client.log_outputs(parent_id, [LoggedModelOutput(lm.model_id, step=0)])
    return lm.model_id


def register_best(client, sweep: SweepResult, run: RunResult, model_id: str,
                  uri: str) -> dict:
    """Register the logged best model unless the latest version holds the same results."""
    import mlflow

    name = registered_model_name(sweep.dataset, sweep.model)
    key = _model_key(run)
    versions = client.search_model_versions(f"name = '{name}'")
    latest = max(versions, key=lambda v: int(v.version), default=None)
    if latest is not None and latest.tags.get(CONTENT_TAG) == key:
        return {"name": name, "version": int(latest.version), "new": False}
    with _global_tracking_uri(uri):
        mv = mlflow.register_model(f"models:/{model_id}", name,
                                   tags={CONTENT_TAG: key, "run_key": run.run_key,
                                         "run_name": run.name})
    return {"name": name, "version": int(mv.version), "new": True}


def _sweep_tags_metrics(sweep: SweepResult, search: dict | None = None):
    """The parent's description: tags (they may change, params may not) and metrics
    (key, value, timestamp, step).

    A grid sweep's tags list each hyperparameter's values (``grid.<key>``); a random
    search's give its method, trials, seed and space (``search.*``) instead: thousands of
    drawn values would not fit a tag (a halving search's also its ``eta`` and ``budgets``,
    and its candidates' ``search.grid.<key>`` when they come from a grid). With repeats,
    the best configuration's mean and 95 % interval of each validation and test metric
    are metrics
    (``best/<part>_<metric>_mean``, ``..._ci_low``, ``..._ci_high``), ``repeats`` and
    ``best.config`` tags; every configuration's are in the ``configs.csv`` artifact.
    """
    now = mlflow_sql.now_ms()

    def metric(key: str, value) -> tuple[str, float, int, int]:
        return key, float(value), now, 0

    hps = [r.result["hyperparameters"] for r in sweep.runs]
    tags = {"n_runs": str(len(sweep.runs)),
            "selection_metric": str(sweep.best.get("selection_metric"))}
    if search is None:
        for key in sorted({k for hp in hps for k in hp}):
            values = sorted({json.dumps(hp.get(key)) for hp in hps}, key=_json_sort_key)
            tags[f"grid.{key}"] = "[" + ", ".join(values) + "]"
    else:
        tags.update({f"search.{k}": str(search[k])
                     for k in ("method", "n_trials", "seed", "eta", "budgets", "batch",
                               "n_startup_trials") if k in search})
        tags.update({f"search.{part}.{axis}": json.dumps(dist, sort_keys=True)
                     for part in ("space", "grid")
                     for axis, dist in sorted(search.get(part, {}).items())})
    configs = {G.config_of(r.result)[0] for r in sweep.runs}
    if len(configs) < len(sweep.runs):  # repeats
        tags["repeats"] = str(max(int(r.result.get("repeat", 0)) for r in sweep.runs) + 1)
    metrics = [metric("n_runs", len(sweep.runs)),
               metric("n_diverged", sum(bool(r.result["diverged"]) for r in sweep.runs))]
    best = sweep.best
    tags["best.run_name"] = str(best.get("run_name"))
    if best.get("run_name") is not None:
        tags.update({f"best.{k}": _param(v) for k, v in sorted(best["hyperparameters"].items())})
        for part, values in best["metrics"].items():
            metrics += [metric(f"best/{part}_{k}", _value(v)) for k, v in values.items()]
        metrics.append(metric("best/final_objective", _value(best["final_objective"])))
        if "config" in best:
            tags["best.config"] = best["config"]["name"]
            for part, values in best["config"]["metrics"].items():
                if part == "train":
                    continue
                metrics += [metric(f"best/{part}_{k}_{stat}", _value(agg[stat]))
                            for k, agg in values.items() for stat in ("mean", "ci_low",
                                                                      "ci_high")]
        ref = best.get("sklearn", {})
        for part, values in ref.get("metrics", {}).items():
            metrics += [metric(f"sklearn/{part}_{k}", _value(v))
                        for k, v in values.items()]
        if "objective" in ref:
            metrics.append(metric("sklearn/objective", _value(ref["objective"])))
            metrics.append(metric("best/objective_gap",
                                  _value(best["final_objective"]) - _value(ref["objective"])))
    references = sweep.baseline.get("references", {})
    metrics.append(metric("n_configs", len(configs)))
    for key, entry in (references.items() if len(references) <= MAX_REFERENCE_METRICS
                       else ()):
        # the extra axes of a key (loss~squared, hidden_layer_sizes~16...) as metric-safe text
        extra = key.partition("/")[2].replace("~", "_")
        prefix = f"sklearn_l2_{entry['l2']!r}" + (f"/{extra}" if extra else "")
        metrics.append(metric(f"{prefix}/objective", _value(entry["objective"])))
        for part, values in entry["metrics"].items():
            metrics += [metric(f"{prefix}/{part}_{k}", _value(v))
                        for k, v in values.items()]
    return tags, metrics


def _json_sort_key(s: str):
    v = json.loads(s)
    return (0, v, "") if isinstance(v, int | float) and not isinstance(v, bool) else (1, 0, s)


def finish_sweep(uri: str, experiment_id: str, sweep: SweepResult,
                 children: dict[str, str], *, experiment_name: str | None = None,
                 commit: str | None = None, search: dict | None = None,
                 log: Callable[[str], Any] | None = None) -> dict:
    """Complete the sweep's parent once its shards are synced, summarised and plotted.

    ``children`` (run name -> child id) come from the shard records. Deletes the sweep's
    other gdlab runs (children of removed grid points, duplicates, extra parents), then
    writes the parent's description and the runs' figures, links the best model if
    :func:`log_best_models` has logged it already (a new parent gets it too), and marks the
    parent complete. Writes nothing when the parent is
    complete with this sweep key. ``search``: the model's random search (its config),
    described on the parent instead of the grid's values. Returns the content of
    ``mlflow.json``. Call under :func:`track_lock`.

    On a SQLite store gdlab writes itself (:func:`writes_sqlite_itself`) it all goes
    through sqlite3 in one transaction, without importing mlflow.
    """
    log = log or (lambda msg: print(msg, file=sys.stderr))
    t0 = time.perf_counter()
    args = (experiment_id, sweep, children, experiment_name, commit or git_commit(), search)
    if writes_sqlite_itself(uri):
        with mlflow_sql.SqliteStore.transaction(sqlite_path(uri)) as store:
            access = SqliteAccess(store)
            if access.local_artifacts(experiment_id):
                return _finish_sweep(access, args, t0, log)
    return _finish_sweep(ClientAccess(_client(uri, experiment_id, None)), args, t0, log)


def _finish_sweep(access, args: tuple, t0: float, log: Callable[[str], Any]) -> dict:
    """:func:`finish_sweep` through one store access: open the parent and describe it,
    link the best model if :func:`log_best_models` has logged it already (a parent made
    after it, its predecessor deleted by hand, gets it too), complete it."""
    experiment_id, sweep = args[:2]
    record, parent_id = _open_sweep(access, *args, log=log)
    if parent_id is None:
        return record
    if sweep.best_run is not None:
        access.link_ready_model(experiment_id, parent_id, _model_key(sweep.best_run))
    return _complete_sweep(access, sweep, record, parent_id, t0, log)


def _log_best(client, experiment_id: str, parent_id: str | None, sweep: SweepResult,
              best: RunResult, uri: str, register: bool) -> tuple[str, dict | None]:
    """The best model logged (or found) by MLflow, and registered if asked."""
    model_id = log_best_model(client, experiment_id, parent_id, sweep, best, uri)
    return model_id, register_best(client, sweep, best, model_id, uri) if register else None


def _sweep_parent(access, experiment_id: str, sweep: SweepResult) -> str | None:
    """The id of the sweep's parent (the one :func:`finish_sweep` keeps), or None when it
    has none (deleted by hand: the sweep's track job makes a new one and links the model)."""
    parent = choose_parent(access.find_parents(experiment_id, sweep.dataset, sweep.model))
    return None if parent is None else parent.run_id


def log_best_models(uri: str, experiment_id: str, sweeps: Iterable[SweepResult], *,
                    register: bool = True, experiment_name: str | None = None,
                    lock: Callable[[], contextlib.AbstractContextManager] = (
                        contextlib.nullcontext),
                    log: Callable[[str], Any] | None = None) -> dict[str, dict]:
    """Each sweep's best model on its parent as a pyfunc, and registered if asked, all in
    one process (MLflow's import and store are paid once).

    A best model already on record (its content key: the same results and pyfunc code) is
    only linked to the parent if it is not; on a SQLite store gdlab writes itself that
    check is sqlite3 alone, so nothing imports mlflow unless a model is new. ``lock``
    (e.g. :func:`track_lock`) is held around the writes, not around MLflow's import.
    Returns ``"<dataset>/<model>"`` -> parent id, logged model id and registered version
    (``new``: made by this call), for the sweeps that have a best run.
    """
    log = log or (lambda msg: print(msg, file=sys.stderr))
    t0 = time.perf_counter()
    todo = {f"{s.dataset}/{s.model}": s for s in sweeps if s.best_run is not None}
    done: dict[str, dict] = {}

    def record(parent_id: str | None, model_id: str, registered: dict | None) -> dict:
        return {"parent_run_id": parent_id, "logged_model_id": model_id,
                "registered_model": registered}

    if todo and writes_sqlite_itself(uri):
        with lock(), mlflow_sql.SqliteStore.transaction(sqlite_path(uri)) as store:
            access = SqliteAccess(store)
            if access.local_artifacts(experiment_id):
                if experiment_name is not None:
                    access.check_experiment(experiment_id, experiment_name)
                for key, sweep in todo.items():
                    parent_id = _sweep_parent(access, experiment_id, sweep)
                    name = registered_model_name(sweep.dataset, sweep.model)
                    found = access.current_best_model(experiment_id, parent_id,
                                                      _model_key(sweep.best_run),
                                                      name if register else None)
                    if found is not None:
                        done[key] = record(parent_id, *found)
    new = {k: s for k, s in todo.items() if k not in done}
    if new:
        log(f"new best models, MLflow logs them: {', '.join(new)}")
        client = _client(uri, experiment_id, None)  # imports mlflow: outside the lock
        with lock():
            access = ClientAccess(client)
            if experiment_name is not None:
                access.check_experiment(experiment_id, experiment_name)
            for key, sweep in new.items():
                parent_id = _sweep_parent(access, experiment_id, sweep)
                done[key] = record(parent_id, *_log_best(client, experiment_id, parent_id,
                                                         sweep, sweep.best_run, uri,
                                                         register))
    log(f"best models of {len(done)} sweeps on record ({len(new)} logged by MLflow) in "
        f"{time.perf_counter() - t0:.2f} s")
    return dict(sorted(done.items()))


def _open_sweep(access, experiment_id: str, sweep: SweepResult, children: dict[str, str],
                experiment_name: str | None, commit: str, search: dict | None,
                log: Callable[[str], Any]) -> tuple[dict, str | None]:
    """The first part of :func:`finish_sweep`: check the children, clean up, open the parent
    and write its description and the figures. Returns the record so far and the parent's
    id, or the final record and None when the store already shows this sweep."""
    if experiment_name is not None:
        access.check_experiment(experiment_id, experiment_name)
    existing = access.find_sweep_runs(experiment_id, sweep.dataset, sweep.model)
    missing = sorted(set(sweep_names := [r.name for r in sweep.runs]) - set(children))
    if missing:
        raise ValueError(f"no child run recorded for {missing[:3]} (of {len(missing)})")
    alive = {r.run_id for r in existing if r.complete}
    lost = [n for n in sweep_names if children[n] not in alive]
    if lost:
        raise RuntimeError(
            f"{len(lost)} child runs of {sweep.dataset}/{sweep.model} (e.g. {lost[0]!r}) are "
            "gone from the tracking store; rerun their shards with "
            f"`snakemake --forcerun track_shard`")
    parent = choose_parent(existing)
    cleanup = plan_cleanup(existing, children, parent.run_id if parent else "")
    done = (parent is not None and parent.complete and not cleanup
            and parent.tags.get(SWEEP_KEY_TAG) == sweep.sweep_key)
    best = sweep.best_run
    record = {"experiment_id": str(experiment_id), "dataset": sweep.dataset,
              "model": sweep.model, "sweep_key": sweep.sweep_key,
              "children": dict(sorted(children.items())),
              "best_run_id": children.get(best.name) if best is not None else None,
              "deleted": len(cleanup)}
    if done:
        log(f"{sweep.dataset}/{sweep.model}: the store already shows this sweep")
        return {**record, "parent_run_id": parent.run_id, "updated": False}, None
    parent_id = open_parent(access, experiment_id, sweep.dataset, sweep.model, commit,
                            existing=existing,
                            start_time=min((int(r.timing["start_time_ms"]) for r in sweep.runs),
                                           default=None))
    _retire(access, cleanup)
    by_id = {r.run_id: r for r in existing}
    for run_id in children.values():
        if run_id in by_id and by_id[run_id].tags.get(PARENT_TAG) != parent_id:
            access.set_tags(run_id, {PARENT_TAG: parent_id})
    tags, metrics = _sweep_tags_metrics(sweep, search)
    access.set_tags(parent_id, tags)
    access.log_metrics(parent_id, metrics)
    for p in sweep.files:
        access.log_artifact(parent_id, p)
    # a figure the sweep no longer has (a grid's heatmap once the model is searched) would
    # stay on the reused parent and show an old sweep: only gdlab's own figure names go
    stale = set(SWEEP_PLOTS) - {p.name for p in sweep.plots}
    if gone := access.delete_artifacts(parent_id, "plots", stale):
        log(f"{sweep.dataset}/{sweep.model}: removed the parent's old {', '.join(gone)}")
    for p in sweep.plots:
        access.log_artifact(parent_id, p, "plots")
    for run in sweep.runs:
        for p in run.plots:
            access.log_artifact(children[run.name], p, "plots")
    return record, parent_id


def _complete_sweep(access, sweep: SweepResult, record: dict, parent_id: str, t0: float,
                    log: Callable[[str], Any]) -> dict:
    """The last part of :func:`finish_sweep`: the parent's final tags (the complete tag
    last) and status."""
    ends = [int(r.timing["end_time_ms"]) for r in sweep.runs]
    access.set_tags(parent_id, {"best_run_id": record["best_run_id"] or "none",
                                SWEEP_KEY_TAG: sweep.sweep_key, COMPLETE_TAG: "true"})
    access.set_terminated(parent_id, "FINISHED", end_time=max(ends, default=None))
    log(f"{sweep.dataset}/{sweep.model}: parent completed, {record['deleted']} runs deleted, "
        f"in {time.perf_counter() - t0:.2f} s via {access.via}")
    return {**record, "parent_run_id": parent_id, "updated": True}
