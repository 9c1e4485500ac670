"""MLflow as a view of ``results/``: every sweep and run on record, idempotently.

``results/`` is the source of truth (DESIGN.md, decision 1); this module copies a finished
sweep into an MLflow tracking store so it can be browsed, compared and charted in the UI.
Nothing here trains or evaluates anything.

Layout in MLflow
----------------
One experiment (the config's ``experiment``) holds, per sweep (dataset x model):

* a **parent run** (tag ``gdlab.role=sweep``, named ``<dataset>/<model>``): the grid as
  params (``grid.<hyperparameter>``: the JSON list of its values), the best run's
  hyperparameters (``best.<hyperparameter>``) and metrics (``best/<part>_<metric>``), the
  scikit-learn baseline's metrics (``sklearn/<part>_<metric>`` for the best run's ``l2``,
  ``sklearn_l2_<l2>/...`` for every ``l2``), tag ``best_run_id``; artifacts
  ``summary.csv``, ``best.json``, ``baseline.json`` and the sweep's plots; and the best
  model as an MLflow pyfunc model (see below);
* a **child run** per grid point (tag ``mlflow.parentRunId``, named like its run
  directory, ``epochs~15/l2~0.0/lr~0.1``): every hyperparameter and the seed as params;
  each ``history.csv`` column as a step metric (step = epoch); the final
  ``metrics.json`` metrics as ``<part>/<metric>`` (``train/``, ``val/``, ``test/``) with
  ``n_epochs``, ``final_objective``, ``diverged`` and ``converged`` (0/1); tags
  ``dataset``, ``model``, ``run_key``, ``config_hash`` (hash of the run's spec: the slice
  of the config it depends on), ``git_commit`` (``git rev-parse HEAD``, else
  ``unknown``), ``diverged``; the split as an MLflow dataset input; artifacts
  ``history.csv``, ``metrics.json``, ``model.npz``, ``timing.json`` and the run's plots
  (under ``plots/``). Its start and end times are the real training times
  (``timing.json``).

Non-finite values: a diverged run's last epochs may hold NaN or infinity. They are logged
as they are, so a metric history has exactly one point per trained epoch. MLflow accepts
both (checked with 3.17 on SQLite and through a server): NaN is stored as NaN (the REST
API returns ``"NaN"``), +-inf is clamped to +-1.797e308. A final metric that
``metrics.json`` records as ``null`` (not finite) is logged as NaN, so every child has the
same metric keys.

Idempotence
-----------
A child is identified by its **content key** (tag ``gdlab.content_key``): a hash of its
``run_key``, the bytes of its run files and plots, and this module's code version. A
parent is identified by its **sweep key** (``gdlab.sweep_key``): a hash of its children's
content keys, ``summary.csv``, ``best.json``, ``baseline.json``, the sweep plots and the
code. One ``search_runs`` per sweep (filter on ``tags.dataset``/``tags.model``) finds what
is there; :func:`plan_sweep` decides, :func:`sync_sweep` carries it out:

* a complete child whose content key matches is kept (re-parented if its parent is
  replaced); a grid point without one gets a new child (so does every grid point when
  this module's code changes: the record is a function of the results and the code);
* **superseded runs are soft-deleted** (``MlflowClient.delete_run``): a child whose
  results changed, a child of a grid point no longer in the config, an incomplete or
  duplicate run, an old parent. Deleted runs vanish from the UI and from searches but
  stay in the store (``mlflow gc`` purges them; the UI can restore them), so history is
  not destroyed and the experiment shows exactly one parent per sweep and one child
  per grid point;
* a run is **complete** only if its status is ``FINISHED`` and it has the tag
  ``gdlab.complete=true``, which is the last thing written before ``set_terminated``. A
  crash leaves a run without it (``RUNNING`` or ``FAILED``): the next sync deletes it and
  logs it again. The parent is completed last, after all its children exist.

Running the same results again therefore writes nothing; adding a grid value adds one
child and replaces the parent (whose key covers the whole sweep).

The best model
--------------
The sweep's best run (``best.json``) is logged on the parent as a pyfunc model from code
(:mod:`gdlab.mlflow_model`, artifact ``weights`` = its ``model.npz``; no pickle) with a
signature and an input example of raw training features. It predicts on **raw**
features; for classification it returns the **probability of class 1**. If
``mlflow.register_models`` is on, it is registered as ``gdlab-<dataset>-<model>``
unless the latest version already comes from the same run with the same results
(model-version tags ``run_key`` and ``gdlab.content_key``, a hash of the best run's
content key, which covers its ``run_key``, and of the pyfunc code); so
``models:/gdlab-<dataset>-<model>/latest`` is always the current best. A replaced parent
reuses the logged model when the best run's content is unchanged.

Concurrency and the store
-------------------------
:func:`setup_experiment` runs once, before anything fans out: it creates the database
(SQLite runs its migrations here: four processes migrating one fresh file crash) and the
experiment, and switches SQLite to WAL journaling (a commit costs ~5 ms instead of
~20 ms). A new SQLite file is migrated under a temporary name and renamed into place,
so a setup killed half-way leaves nothing MLflow cannot open. Sync jobs use the
experiment *id* and never ``set_experiment`` (which, racing, silently puts runs in
"Default"); they hold an exclusive lock file (:func:`store_lock`) while they write, so two
sweeps never write the store at once. If the experiment id is gone (``mlflow.db``
deleted), sync fails with a message: rerun the setup (``snakemake --forcerun
mlflow_setup``), which re-syncs every sweep.

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
import subprocess
import sys
import time
import warnings
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import numpy as np

from gdlab import grid as G
from gdlab.data import Split, load_split
from gdlab.io import load_npz, read_json
from gdlab.train import read_history

DEFAULT_TRACKING_URI = "sqlite:///mlflow.db"

ROLE_TAG = "gdlab.role"
ROLE_SWEEP, ROLE_RUN = "sweep", "run"
COMPLETE_TAG = "gdlab.complete"
CONTENT_TAG = "gdlab.content_key"
SWEEP_KEY_TAG = "gdlab.sweep_key"
PARENT_TAG = "mlflow.parentRunId"

#: MLflow's limits per ``log_batch`` call
MAX_METRICS, MAX_PARAMS_OR_TAGS, MAX_ENTITIES = 1000, 100, 1000
#: the sweep plots and the per-run plots the plot rule writes
SWEEP_PLOTS = ("heatmap.png", "learning_curves.png", "convergence.png")
RUN_PLOTS = ("learning_curve.png", "model.png")
MODEL_FILE = Path(__file__).with_name("mlflow_model.py")


def code_version() -> str:
    """Version of this module (and what it imports from gdlab): part of every content key."""
    return G.code_version("gdlab.tracking")


def model_code_version() -> str:
    """Version of the pyfunc code: part of the best model's key and of the sweep key."""
    return G.code_version("gdlab.mlflow_model")


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
#: timeout) take 252 s to give up on a server that is down; these give up within 30 s
#: (:func:`http_budget`), which still rides out a server restart of a few seconds. The
#: environment wins: export any of them to override.
HTTP_FAIL_FAST = {
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "2",
    "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
    "MLFLOW_HTTP_REQUEST_BACKOFF_JITTER": "0.5",
    "MLFLOW_HTTP_REQUEST_TIMEOUT": "9",
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

    The one place that creates anything by name: run it once, before parallel jobs.
    """
    from mlflow import MlflowClient

    db = sqlite_path(uri)
    if db is not None:
        if not db.exists():
            _create_sqlite_store(db)
        _enable_wal(db)
    client = MlflowClient(uri)
    exp = client.get_experiment_by_name(name)
    if exp is None:
        experiment_id = client.create_experiment(name)
    else:
        experiment_id = exp.experiment_id
        if exp.lifecycle_stage == "deleted":
            client.restore_experiment(experiment_id)
    return {"experiment_id": str(experiment_id), "experiment_name": name,
            "tracking_uri_hash": uri_hash(uri)}


def _create_sqlite_store(db: Path) -> None:
    """Create and migrate a new SQLite store under a temporary name, then rename it.

    Measured: a migration killed half-way leaves a file that MLflow cannot open again
    (``table _alembic_tmp_experiments already exists``); a complete file renamed into
    place never does.
    """
    from mlflow import MlflowClient

    db.parent.mkdir(parents=True, exist_ok=True)
    for stale in db.parent.glob(f".{db.name}.*.tmp*"):  # left by a killed setup
        stale.unlink()
    tmp = db.with_name(f".{db.name}.{os.getpid()}.tmp")
    client = MlflowClient(f"sqlite:///{tmp.resolve()}")
    client.search_experiments(max_results=1)  # opening the store runs every migration
    store = getattr(client._tracking_client, "store", None)
    if getattr(store, "engine", None) is not None:
        store.engine.dispose()  # no connection stays open on the file being renamed
    os.replace(tmp, db)


def _enable_wal(db: Path) -> None:
    """WAL journaling is a property of the file: set once, every connection uses it."""
    import sqlite3

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
    if exp is None or exp.name != name or exp.lifecycle_stage != "active":
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


# --------------------------------------------------------------------------------------
# Reading a finished sweep from results/
# --------------------------------------------------------------------------------------


def _file_hash(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@dataclass
class RunResult:
    """One run directory of a sweep, and its plots."""

    name: str
    dir: Path
    result: dict  # metrics.json
    timing: dict  # timing.json
    plots: list[Path]
    content_key: str

    @property
    def run_key(self) -> str:
        return self.result["run_key"]

    @property
    def files(self) -> list[Path]:
        return [self.dir / f for f in ("history.csv", "metrics.json", "model.npz",
                                       "timing.json")]

    def history(self) -> dict[str, np.ndarray]:
        return read_history(self.dir / "history.csv")


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


def run_names_from_paths(sweep_dir: str | os.PathLike, paths: Iterable) -> list[str]:
    """Run names from paths ``<sweep_dir>/runs/<name>/<file>`` (names contain slashes)."""
    runs = Path(sweep_dir) / "runs"
    return [Path(p).parent.relative_to(runs).as_posix() for p in paths]


def load_sweep(sweep_dir: str | os.PathLike, run_names: Iterable[str] | None = None,
               split_path: str | os.PathLike | None = None) -> SweepResult:
    """Read ``results/<dataset>/<model>/`` (all runs under ``runs/`` unless names are given).

    Missing plots are skipped (the library does not require the plot step).
    """
    sweep_dir = Path(sweep_dir)
    if run_names is None:
        run_names = run_names_from_paths(sweep_dir, (sweep_dir / "runs").rglob("metrics.json"))
    code = code_version()
    runs = []
    for name in sorted(run_names):
        run_dir = sweep_dir / "runs" / name
        plot_dir = sweep_dir / "plots" / "runs" / name
        plots = [p for p in (plot_dir / f for f in RUN_PLOTS) if p.is_file()]
        result = read_json(run_dir / "metrics.json")
        hashed = [run_dir / f for f in ("history.csv", "metrics.json", "model.npz",
                                         "timing.json")] + plots
        content = G.stable_hash([code, name, result["run_key"],
                                 {p.name: _file_hash(p) for p in hashed}], 32)
        runs.append(RunResult(name, run_dir, result, read_json(run_dir / "timing.json"),
                              plots, content))
    best = read_json(sweep_dir / "best.json")
    dataset, model = best["dataset"], best["model"]
    plots = [p for p in (sweep_dir / "plots" / f for f in SWEEP_PLOTS) if p.is_file()]
    files = [sweep_dir / f for f in ("summary.csv", "best.json", "baseline.json")]
    sweep = SweepResult(dataset, model, sweep_dir, runs, best,
                        read_json(sweep_dir / "baseline.json"), plots,
                        Path(split_path) if split_path else None, files=files)
    sweep.sweep_key = G.stable_hash([
        code, model_code_version(), dataset, model, sorted(r.content_key for r in runs),
        {p.name: _file_hash(p) for p in files + plots},
    ], 32)
    return sweep


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

    @property
    def role(self) -> str | None:
        return self.tags.get(ROLE_TAG)

    @property
    def complete(self) -> bool:
        return self.status == "FINISHED" and self.tags.get(COMPLETE_TAG) == "true"


@dataclass
class Plan:
    keep: dict[str, str]  # run name -> id of the complete child that stays
    create: list[str]  # run names that need a new child
    parent: str | None  # id of the complete parent that stays, or None: make a new one
    delete: list[str]  # ids of superseded, incomplete or duplicate runs

    @property
    def writes(self) -> bool:
        return bool(self.create or self.delete or self.parent is None)


def plan_sweep(existing: Iterable[Existing], content_keys: dict[str, str],
               sweep_key: str) -> Plan:
    """Which runs to keep, create and delete so the store shows exactly this sweep.

    ``content_keys`` maps each run name of the sweep to its content key. Runs without a
    gdlab role (someone else's) are left alone.
    """
    ours = sorted((r for r in existing if r.role in (ROLE_SWEEP, ROLE_RUN)),
                  key=lambda r: (r.start_time, r.run_id))
    by_content = {key: name for name, key in content_keys.items()}
    keep: dict[str, str] = {}
    parent = None
    delete = []
    for r in ours:
        if r.role == ROLE_RUN:
            name = by_content.get(r.tags.get(CONTENT_TAG))
            if r.complete and name is not None and name not in keep:
                keep[name] = r.run_id
                continue
        elif r.complete and r.tags.get(SWEEP_KEY_TAG) == sweep_key and parent is None:
            parent = r.run_id
            continue
        delete.append(r.run_id)
    create = [name for name in content_keys if name not in keep]
    return Plan(keep, create, parent, delete)


# --------------------------------------------------------------------------------------
# Writing
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


def _search(client, experiment_id: str, dataset: str, model: str) -> list:
    """Every active run of the sweep, in one search (paged)."""
    from mlflow.entities import ViewType

    runs, token = [], None
    while True:
        page = client.search_runs(
            [experiment_id], f"tags.dataset = '{dataset}' and tags.model = '{model}'",
            run_view_type=ViewType.ACTIVE_ONLY, max_results=50000, page_token=token)
        runs += page
        token = page.token
        if not token:
            return runs


def _existing(run) -> Existing:
    return Existing(run.info.run_id, run.info.status, dict(run.data.tags),
                    run.info.start_time or 0)


def _dataset_input(sweep: SweepResult):
    """The split as an MLflow dataset (name = dataset, digest of the arrays, train context)."""
    import mlflow
    from mlflow.entities import DatasetInput, InputTag

    split = sweep.split
    if split is None:
        return None
    with warnings.catch_warnings():  # two equivalent local-file sources are registered
        warnings.filterwarnings("ignore", message=".*interpreted in multiple ways.*")
        ds = mlflow.data.from_numpy(split.X_train, targets=split.y_train,
                                    source=sweep.split_path.resolve().as_uri(),
                                    name=sweep.dataset)
    return DatasetInput(ds._to_mlflow_entity(),
                        tags=[InputTag("mlflow.data.context", "training")])


def _common_tags(sweep: SweepResult, commit: str) -> dict[str, str]:
    tags = {"dataset": sweep.dataset, "model": sweep.model, "git_commit": commit}
    if commit != "unknown":
        tags["mlflow.source.git.commit"] = commit
    return tags


def log_child(client, experiment_id: str, parent_id: str, sweep: SweepResult, run: RunResult,
              commit: str, dataset_input=None) -> str:
    """Log one grid point as a child run; returns its id. Complete only at the very end."""
    from mlflow.entities import Metric, Param, RunTag

    res = run.result
    spec = {k: res[k] for k in ("dataset", "model", "task", "run_name", "hyperparameters",
                                "seed", "data_key", "code_version", "run_key") if k in res}
    tags = {
        **_common_tags(sweep, commit), ROLE_TAG: ROLE_RUN, PARENT_TAG: parent_id,
        CONTENT_TAG: run.content_key, "run_key": run.run_key,
        "config_hash": G.stable_hash(spec), "task": res.get("task", ""),
        "diverged": str(bool(res["diverged"])).lower(),
    }
    start, end = int(run.timing["start_time_ms"]), int(run.timing["end_time_ms"])
    run_id = client.create_run(experiment_id, start_time=start, tags=tags,
                               run_name=run.name).info.run_id
    params = [Param(k, _param(v)) for k, v in sorted(res["hyperparameters"].items())]
    params.append(Param("seed", str(res["seed"])))
    metrics = []
    history = run.history()
    steps = history["epoch"]
    for col, values in history.items():
        if col != "epoch":
            metrics += [Metric(col, float(v), end, int(s)) for s, v in zip(steps, values,
                                                                         strict=True)]
    for part, values in res["metrics"].items():
        metrics += [Metric(f"{part}/{k}", _value(v), end, 0) for k, v in values.items()]
    for k in ("n_epochs", "final_objective", "diverged", "converged"):
        metrics.append(Metric(k, _value(res.get(k)), end, 0))
    log_batch(client, run_id, metrics=metrics, params=params)
    if dataset_input is not None:
        client.log_inputs(run_id, datasets=[dataset_input])
    if _only_run_files(run):
        client.log_artifacts(run_id, str(run.dir))  # one copy call instead of four
    else:
        for p in run.files:
            client.log_artifact(run_id, str(p))
    for p in run.plots:
        client.log_artifact(run_id, str(p), "plots")
    client.log_batch(run_id, tags=[RunTag(COMPLETE_TAG, "true")])
    client.set_terminated(run_id, "FINISHED", end_time=end)
    return run_id


def _only_run_files(run: RunResult) -> bool:
    """True when the run directory holds exactly its four files (one copy call is enough)."""
    return sorted(p.name for p in run.dir.iterdir()) == sorted(p.name for p in run.files)


def _sweep_params_metrics(sweep: SweepResult):
    from mlflow.entities import Metric, Param

    now = int(time.time() * 1000)
    hps = [r.result["hyperparameters"] for r in sweep.runs]
    params = [Param("dataset", sweep.dataset), Param("model", sweep.model),
              Param("n_runs", str(len(sweep.runs))),
              Param("selection_metric", str(sweep.best.get("selection_metric")))]
    for key in sorted({k for hp in hps for k in hp}):
        values = sorted({json.dumps(hp.get(key)) for hp in hps}, key=_json_sort_key)
        params.append(Param(f"grid.{key}", "[" + ", ".join(values) + "]"))
    metrics = [Metric("n_runs", len(sweep.runs), now, 0),
               Metric("n_diverged", sum(bool(r.result["diverged"]) for r in sweep.runs), now,
                      0)]
    best = sweep.best
    if best.get("run_name") is not None:
        params.append(Param("best.run_name", best["run_name"]))
        params += [Param(f"best.{k}", _param(v))
                   for k, v in sorted(best["hyperparameters"].items())]
        for part, values in best["metrics"].items():
            metrics += [Metric(f"best/{part}_{k}", _value(v), now, 0) for k, v in values.items()]
        metrics.append(Metric("best/final_objective", _value(best["final_objective"]), now, 0))
        ref = best.get("sklearn", {})
        for part, values in ref.get("metrics", {}).items():
            metrics += [Metric(f"sklearn/{part}_{k}", _value(v), now, 0)
                        for k, v in values.items()]
        if "objective" in ref:
            metrics.append(Metric("sklearn/objective", _value(ref["objective"]), now, 0))
            metrics.append(Metric("best/objective_gap",
                                  _value(best["final_objective"]) - _value(ref["objective"]),
                                  now, 0))
    for entry in sweep.baseline.get("by_l2", {}).values():
        prefix = f"sklearn_l2_{entry['l2']!r}"
        metrics.append(Metric(f"{prefix}/objective", _value(entry["objective"]), now, 0))
        for part, values in entry["metrics"].items():
            metrics += [Metric(f"{prefix}/{part}_{k}", _value(v), now, 0)
                        for k, v in values.items()]
    return params, metrics


def _json_sort_key(s: str):
    v = json.loads(s)
    return (0, v, "") if isinstance(v, int | float) and not isinstance(v, bool) else (1, 0, s)


def create_parent(client, experiment_id: str, sweep: SweepResult, commit: str) -> str:
    """The sweep's parent run, left RUNNING and incomplete (see :func:`finish_parent`)."""
    starts = [int(r.timing["start_time_ms"]) for r in sweep.runs]
    tags = {**_common_tags(sweep, commit), ROLE_TAG: ROLE_SWEEP, SWEEP_KEY_TAG: sweep.sweep_key,
            "config_hash": G.stable_hash(sorted(r.result["run_key"] for r in sweep.runs))}
    run_id = client.create_run(experiment_id, start_time=min(starts, default=None), tags=tags,
                               run_name=f"{sweep.dataset}/{sweep.model}").info.run_id
    params, metrics = _sweep_params_metrics(sweep)
    log_batch(client, run_id, metrics=metrics, params=params)
    for p in sweep.files:
        client.log_artifact(run_id, str(p))
    for p in sweep.plots:
        client.log_artifact(run_id, str(p), "plots")
    return run_id


def finish_parent(client, run_id: str, sweep: SweepResult, best_run_id: str | None) -> None:
    from mlflow.entities import RunTag

    ends = [int(r.timing["end_time_ms"]) for r in sweep.runs]
    tags = [RunTag("best_run_id", best_run_id or "none"), RunTag(COMPLETE_TAG, "true")]
    client.log_batch(run_id, tags=tags)  # one write; the complete tag is the last one
    client.set_terminated(run_id, "FINISHED", end_time=max(ends, default=None))


def _model_key(run: RunResult) -> str:
    """Identity of a logged best model: the run's results and the pyfunc code."""
    return G.stable_hash([run.content_key, model_code_version()], 32)


def log_best_model(client, experiment_id: str, parent_id: str, sweep: SweepResult,
                   run: RunResult, uri: str) -> str:
    """The best run's model as a pyfunc on the parent; reuses an identical logged model."""
    import mlflow
    from mlflow.entities import LoggedModelOutput
    from mlflow.models import infer_signature

    key = _model_key(run)
    found = client.search_logged_models([experiment_id],
                                        filter_string=f"tags.`{CONTENT_TAG}` = '{key}'")
    for lm in found:
        if lm.status == "READY":
            client.log_outputs(parent_id, [LoggedModelOutput(lm.model_id, step=0)])
            return lm.model_id
    task = run.result.get("task", "regression")
    w = load_npz(run.dir / "model.npz")
    split = sweep.split
    # input example: raw (unstandardised) training rows, what the model is meant to get
    example = (split.X_train[:5] * split.x_scale + split.x_mean if split is not None
               else w["x_mean"][None, :])
    z = ((example - w["x_mean"]) / w["x_scale"]) @ w["coef"] + w["intercept"]
    output = np.exp(-np.logaddexp(0.0, -z)) if task == "classification" else z
    lm = client.create_logged_model(
        experiment_id=experiment_id, name="best_model", source_run_id=parent_id,
        params={"run_name": run.name, **{k: _param(v) for k, v in
                                         run.result["hyperparameters"].items()}},
        tags={CONTENT_TAG: key, "run_key": run.run_key, "dataset": sweep.dataset,
              "model": sweep.model})
    meta = {"task": task, "run_key": run.run_key, "run_name": run.name,
            "output": "probability of class 1" if task == "classification" else "prediction",
            "input": "raw features, columns in training order"}
    if split is not None:
        meta["feature_names"] = list(split.feature_names)
        meta["classes"] = [str(c) for c in split.classes]
    with _global_tracking_uri(uri):
        mlflow.pyfunc.log_model(
            name="best_model", python_model=str(MODEL_FILE), model_id=lm.model_id,
            artifacts={"weights": str(run.dir / "model.npz")},
            model_config={"task": task}, signature=infer_signature(example, output),
            input_example=example, metadata=meta,
            pip_requirements=[f"mlflow=={mlflow.__version__}", f"numpy=={np.__version__}"],
        )
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


def sync_sweep(uri: str, experiment_id: str, sweep: SweepResult, *, register: bool = True,
               experiment_name: str | None = None, commit: str | None = None,
               log: Callable[[str], Any] | None = None) -> dict:
    """Make the store show ``sweep`` exactly; returns the ids (the content of mlflow.json).

    Give ``experiment_name`` to check first that the id still names that experiment.
    """
    from mlflow import MlflowClient

    log = log or (lambda msg: print(msg, file=sys.stderr))
    clock = time.perf_counter
    t0 = clock()
    commit = commit or git_commit()
    client = MlflowClient(uri)
    if experiment_name is not None:
        check_experiment(client, experiment_id, experiment_name)  # also opens the store
    t_connect = clock()
    existing = [_existing(r) for r in _search(client, experiment_id, sweep.dataset, sweep.model)]
    plan = plan_sweep(existing, {r.name: r.content_key for r in sweep.runs}, sweep.sweep_key)
    log(f"{sweep.dataset}/{sweep.model}: keep {len(plan.keep)} runs, create "
        f"{len(plan.create)}, delete {len(plan.delete)}, "
        f"{'keep' if plan.parent else 'new'} parent")
    by_id = {r.run_id: r for r in existing}
    runs = {r.name: r for r in sweep.runs}

    new_parent = plan.parent is None
    parent_id = create_parent(client, experiment_id, sweep, commit) if new_parent \
        else plan.parent
    children = dict(plan.keep)
    t_children = clock()
    if plan.create:
        dataset_input = _dataset_input(sweep)
        for name in plan.create:
            children[name] = log_child(client, experiment_id, parent_id, sweep, runs[name],
                                       commit, dataset_input)
    for run_id in plan.keep.values():
        if by_id[run_id].tags.get(PARENT_TAG) != parent_id:
            client.set_tag(run_id, PARENT_TAG, parent_id)
    t_children = clock() - t_children

    best = sweep.best_run
    best_id = children.get(best.name) if best is not None else None
    model_id = None
    t_model = clock()
    if new_parent:
        if best is not None:
            model_id = log_best_model(client, experiment_id, parent_id, sweep, best, uri)
        finish_parent(client, parent_id, sweep, best_id)
    else:
        if by_id[parent_id].tags.get("best_run_id") != (best_id or "none"):
            client.set_tag(parent_id, "best_run_id", best_id or "none")
        outputs = client.get_run(parent_id).outputs
        model_ids = [o.model_id for o in (outputs.model_outputs if outputs else [])]
        model_id = model_ids[-1] if model_ids else None
    for run_id in plan.delete:
        client.delete_run(run_id)
    registered = None
    if register and best is not None and model_id is not None:
        registered = register_best(client, sweep, best, model_id, uri)
    t_model = clock() - t_model
    total = clock() - t0
    log(f"time: {total:.2f} s = open store {t_connect - t0:.2f} s + children "
        f"{t_children:.2f} s ({1000 * t_children / max(len(plan.create), 1):.0f} ms per new "
        f"run) + best model, registry, deletions {t_model:.2f} s + rest "
        f"{total - (t_connect - t0) - t_children - t_model:.2f} s")
    return {
        "experiment_id": str(experiment_id),
        "dataset": sweep.dataset, "model": sweep.model,
        "parent_run_id": parent_id, "sweep_key": sweep.sweep_key,
        "children": dict(sorted(children.items())),
        "best_run_id": best_id, "logged_model_id": model_id,
        "registered_model": registered,
        "created": {"parent": new_parent, "children": len(plan.create)},
        "deleted": len(plan.delete),
    }
