"""The one way to a tracking store: MLflow's own (its client, and its own table definitions).

:class:`Store` does everything a sync needs through ``MlflowClient``, on any store (a
server, PostgreSQL, SQLite). Logging a child that way takes about ten calls (create,
params and metrics, inputs, each artifact, tags, status), 30-200 ms on SQLite, a second on
a busy server; so a sweep's children are written in a thread pool on a server (its
requests wait on the network, not on this process).

:class:`SqlStore` is the one optimisation, chosen in :func:`open_store` only: on a SQL
store whose artifacts are on local disk it finds the sweep's runs with one query and
writes all new children **in one transaction** through MLflow's own SQLAlchemy table
definitions: the rows ``create_run``, ``log_batch``, ``log_inputs`` and ``set_terminated``
write (a test compares them with what the client writes), ~2 ms a child, all there or
not at all. Its artifacts are copied (never linked) into place before the commit. The
rest (parents, tags, artifacts of the parent, models) goes through the client as
everywhere.
"""

from __future__ import annotations

import getpass
import math
import numbers
import os
import shutil
import time
import uuid
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import unquote, urlsplit

from gdlab.tracking.layout import (
    COMPLETE_TAG,
    PROJECT_TAG,
    RUN_NAME_TAG,
    SWEEP_TAG,
    ChildRecord,
)
from gdlab.tracking.plan import Existing
from gdlab.tracking.uri import check_sqlite_writable, is_server, sqlite_path

#: MLflow's limits per ``log_batch`` call
MAX_METRICS, MAX_PARAMS_OR_TAGS, MAX_ENTITIES = 1000, 100, 1000
#: runs per search call: a busy server answers a page of 100 in 1-3 s, inside the timeout
SEARCH_PAGE = 100
#: children written at once on a server (each is a chain of requests)
SERVER_THREADS = 4
#: children whose artifact files are copied at once into a local artifact store
COPY_THREADS = 8
#: what SQL stores in place of +-inf (MLflow's sanitize_metric_value)
MAX_FLOAT = 1.7976931348623157e308


def now_ms() -> int:
    return int(time.time() * 1000)


def local_artifact_root(location: str) -> Path | None:
    """The directory of a local artifact location (a path or ``file:`` URI), else None."""
    parts = urlsplit(location)
    if parts.scheme == "file":
        return Path(unquote(parts.path))
    if parts.scheme == "":
        return Path(location)
    return None


def _batches(metrics: list, params: list, tags: list):
    """Split into ``log_batch`` calls within MLflow's limits (1000 metrics, 100 params...)."""
    metrics, params, tags = list(metrics), list(params), list(tags)
    while metrics or params or tags:
        p, params = params[:MAX_PARAMS_OR_TAGS], params[MAX_PARAMS_OR_TAGS:]
        t, tags = tags[:MAX_PARAMS_OR_TAGS], tags[MAX_PARAMS_OR_TAGS:]
        n = min(MAX_METRICS, MAX_ENTITIES - len(p) - len(t))
        m, metrics = metrics[:n], metrics[n:]
        yield m, p, t


def _existing(run) -> Existing:
    return Existing(run.info.run_id, run.info.status, dict(run.data.tags),
                    run.info.start_time or 0, run.info.run_name or "")


class Store:
    """A tracking store through MLflow's client: every operation a sync needs."""

    via = "MLflow's client"

    def __init__(self, uri: str, client=None):
        from mlflow import MlflowClient

        self.uri = uri
        self.client = client or MlflowClient(uri)

    # -- reading ---------------------------------------------------------------------------
    def experiment(self, experiment_id: str):
        """The experiment (MLflow's entity), or None if the store does not have it."""
        from mlflow.exceptions import MlflowException

        from gdlab.tracking.uri import unreachable

        try:
            return self.client.get_experiment(experiment_id)
        except MlflowException as err:
            if unreachable(err):  # a server that is down: not a missing experiment
                raise
            return None

    def find_sweep(self, experiment_id: str, project: str, sweep: str) -> list[Existing]:
        """Every active run of this project's sweep (its parents and children)."""
        from mlflow.entities import ViewType

        query = f"tags.`{PROJECT_TAG}` = '{project}' and tags.`{SWEEP_TAG}` = '{sweep}'"
        runs, token = [], None
        while True:
            page = self.client.search_runs([experiment_id], query,
                                           run_view_type=ViewType.ACTIVE_ONLY,
                                           max_results=SEARCH_PAGE, page_token=token)
            runs += [_existing(r) for r in page]
            token = page.token
            if not token:
                return runs

    # -- writing runs ----------------------------------------------------------------------
    def create_run(self, experiment_id: str, name: str, start: int, tags: dict[str, str],
                   params: dict[str, str] | None = None) -> str:
        run_id = self.client.create_run(experiment_id, start_time=start, tags=tags,
                                        run_name=name).info.run_id
        if params:
            self.log(run_id, params=params)
        return run_id

    def log(self, run_id: str, metrics=(), params: dict | None = None,
            tags: dict | None = None) -> None:
        """Metrics (key, value, timestamp, step), params and tags, in batches."""
        from mlflow.entities import Metric, Param, RunTag

        for m, p, t in _batches([Metric(*m) for m in metrics],
                                [Param(k, v) for k, v in (params or {}).items()],
                                [RunTag(k, v) for k, v in (tags or {}).items()]):
            self.client.log_batch(run_id, metrics=m, params=p, tags=t)

    def rename(self, run_id: str, name: str) -> None:
        self.client.update_run(run_id, name=name)

    def log_inputs(self, run_id: str, datasets: list) -> None:
        """``datasets``: MLflow ``DatasetInput`` entities (a split's parts, with context).

        Once more if it lost a race for a new dataset's row: MLflow's store looks for the
        dataset (experiment, name, digest), then inserts it, so two track jobs of one
        dataset (two sweeps, a server or PostgreSQL: no lock) collide on that key and one
        request fails, rolled back whole; by then the row exists and the second attempt
        uses it."""
        from mlflow.exceptions import MlflowException

        try:
            self.client.log_inputs(run_id, datasets=datasets)
        except MlflowException as err:
            text = str(err).lower()
            if "dataset" not in text or not any(
                    w in text for w in ("duplicate key", "unique constraint", "duplicate entry")):
                raise
            self.client.log_inputs(run_id, datasets=datasets)

    def log_artifacts(self, run_id: str, files: Iterable[Path], artifact_path: str | None = None):
        for p in files:
            self.client.log_artifact(run_id, str(p), artifact_path)

    def delete_artifacts(self, run_id: str, artifact_dir: str, names: Iterable[str]) -> list[str]:
        """Delete those of ``names`` the run has in ``artifact_dir``; the names deleted."""
        from mlflow.store.artifact.artifact_repository_registry import get_artifact_repository

        listed = {Path(a.path).name for a in self.client.list_artifacts(run_id, artifact_dir)}
        gone = sorted(listed & set(names))
        if gone:
            repo = get_artifact_repository(self.client.get_run(run_id).info.artifact_uri,
                                           tracking_uri=self.client.tracking_uri)
            for name in gone:
                repo.delete_artifacts(f"{artifact_dir}/{name}")
        return gone

    def set_terminated(self, run_id: str, status: str, end: int | None = None) -> None:
        self.client.set_terminated(run_id, status, end_time=end)

    def delete_runs(self, runs: Iterable[Existing]) -> None:
        """Soft-delete ``runs``; one a crash cut off mid-sync is marked FAILED first."""
        for r in runs:
            if r.status == "RUNNING":
                self.set_terminated(r.run_id, "FAILED")
            self.client.delete_run(r.run_id)

    # -- children in bulk ------------------------------------------------------------------
    def write_children(self, experiment_id: str, records: list[ChildRecord],
                       datasets: list) -> dict[str, str]:
        """Log ``records`` as complete children (run -> child id); each is complete only at
        its end (:data:`COMPLETE_TAG`, then its status)."""
        def one(rec: ChildRecord) -> tuple[str, str]:
            # its tags through log_batch, which validates them (create_run does not)
            run_id = self.create_run(experiment_id, rec.name, rec.start, {})
            self.log(run_id, metrics=rec.metrics, params=rec.params, tags=rec.tags)
            if datasets:
                self.log_inputs(run_id, datasets)
            self.log_artifacts(run_id, rec.files)
            self.log(run_id, tags={COMPLETE_TAG: "true"})
            self.set_terminated(run_id, rec.status, rec.end)
            return rec.run, run_id

        if not is_server(self.uri) or len(records) < 2:
            return dict(map(one, records))
        with ThreadPoolExecutor(SERVER_THREADS) as pool:
            return dict(pool.map(one, records))

    def update_children(self, updates: dict[str, tuple[str | None, dict[str, str]]]) -> None:
        """Kept children brought up to date: run id -> (new name or None, tags to set)."""
        for run_id, (name, tags) in updates.items():
            if name is not None:
                self.rename(run_id, name)
            if tags:
                self.log(run_id, tags=tags)


def open_store(uri: str) -> Store:
    """The store of ``uri``: :class:`SqlStore` on a SQL store (its artifacts checked to be
    local when children are written), else :class:`Store`. The one place the optimisation
    is chosen."""
    if (db := sqlite_path(uri)) is not None:
        check_sqlite_writable(db)
    store = Store(uri)
    # MLflow's SqlAlchemyStore, asked by what it has (importing its class costs a second)
    sql = getattr(store.client._tracking_client, "store", None)
    return SqlStore(uri, store.client, sql) if hasattr(sql, "ManagedSessionMaker") else store


class SqlStore(Store):
    """A SQL store (SQLite, PostgreSQL opened directly): the sweep's runs found with one
    query, new children written in one transaction with MLflow's table definitions."""

    via = "one transaction through MLflow's tables"

    def __init__(self, uri: str, client, sql):
        super().__init__(uri, client)
        self.sql = sql

    def find_sweep(self, experiment_id: str, project: str, sweep: str) -> list[Existing]:
        from mlflow.store.tracking.dbmodels.models import SqlRun, SqlTag

        with self.sql.ManagedSessionMaker() as session:
            mine = session.query(SqlTag.run_uuid).filter(
                SqlTag.key == PROJECT_TAG, SqlTag.value == project).subquery()
            ids = session.query(SqlTag.run_uuid).filter(
                SqlTag.key == SWEEP_TAG, SqlTag.value == sweep,
                SqlTag.run_uuid.in_(session.query(mine.c.run_uuid))).subquery()
            found = {r.run_uuid: r for r in session.query(
                SqlRun.run_uuid, SqlRun.name, SqlRun.status, SqlRun.start_time).filter(
                SqlRun.experiment_id == int(experiment_id), SqlRun.lifecycle_stage == "active",
                SqlRun.run_uuid.in_(session.query(ids.c.run_uuid)))}
            tags: dict[str, dict] = {}
            for row in session.query(SqlTag.run_uuid, SqlTag.key, SqlTag.value).filter(
                    SqlTag.run_uuid.in_(session.query(ids.c.run_uuid))):
                tags.setdefault(row.run_uuid, {})[row.key] = row.value
        return [Existing(i, r.status, tags.get(i, {}), r.start_time or 0, r.name or "")
                for i, r in found.items()]

    def write_children(self, experiment_id: str, records: list[ChildRecord],
                       datasets: list) -> dict[str, str]:
        experiment = self.client.get_experiment(experiment_id)
        root = local_artifact_root(experiment.artifact_location)
        if root is None or not records:
            return super().write_children(experiment_id, records, datasets)
        from mlflow.store.db.base_sql_model import Base

        ids = {rec.run: uuid.uuid4().hex for rec in records}
        inputs = self._dataset_uuids(experiment_id, datasets)
        # every child checked by MLflow's validation before a file is placed or a row written
        rows = _children_rows(records, ids, experiment_id, experiment.artifact_location, inputs)
        # copies, as MLflow's local repository makes them (results/ may be rewritten, MLflow's
        # record may not), in threads: a folder or a copy waits on the file system, not on
        # Python (~1 ms a mkdir on a loaded disk: 2000 of them for 1000 children)
        def place(rec: ChildRecord) -> None:
            dest = root / ids[rec.run] / "artifacts"
            os.makedirs(dest, exist_ok=True)
            for p in rec.files:
                shutil.copy2(p, dest / p.name)

        with ThreadPoolExecutor(COPY_THREADS) as pool:
            list(pool.map(place, records))
        with self.sql.ManagedSessionMaker(read_only=False) as session:
            connection = session.connection()
            for name, table_rows in rows.items():
                if table_rows:
                    _insert_many(connection, Base.metadata.tables[name], table_rows)
        return ids

    def update_children(self, updates: dict[str, tuple[str | None, dict[str, str]]]) -> None:
        """Kept children brought up to date in one transaction: what ``set_tag`` and
        ``update_run(name=)`` write (a renamed run's ``mlflow.runName`` tag too)."""
        if not updates:
            return
        from mlflow.store.tracking.dbmodels.models import SqlRun, SqlTag

        with self.sql.ManagedSessionMaker(read_only=False) as session:
            for run_id, (name, tags) in updates.items():
                if name is not None:
                    session.query(SqlRun).filter(SqlRun.run_uuid == run_id).update(
                        {SqlRun.name: name})
                    tags = {**tags, RUN_NAME_TAG: name}
                for key, value in tags.items():
                    session.merge(SqlTag(run_uuid=run_id, key=key, value=value))

    def _dataset_uuids(self, experiment_id: str, datasets: list) -> list[tuple[str, dict]]:
        """(dataset uuid, input tags) of each ``DatasetInput`` (its row made by MLflow's
        ``log_inputs`` on the parent beforehand)."""
        from mlflow.store.tracking.dbmodels.models import SqlDataset

        out = []
        with self.sql.ManagedSessionMaker() as session:
            for d in datasets:
                row = session.query(SqlDataset.dataset_uuid).filter(
                    SqlDataset.experiment_id == int(experiment_id),
                    SqlDataset.name == d.dataset.name,
                    SqlDataset.digest == d.dataset.digest).first()
                if row is None:
                    raise RuntimeError(f"dataset {d.dataset.name!r} is not in the store: log "
                                       "it on the parent first")
                out.append((row[0], {t.key: t.value for t in d.tags}))
        return out


#: the tables a child's rows go to, in an order their foreign keys allow
CHILD_TABLES = ("runs", "tags", "params", "metrics", "latest_metrics", "inputs", "input_tags")


def _sanitize(value: float) -> tuple[float, bool]:
    """MLflow's ``sanitize_metric_value``: NaN stored as 0 with ``is_nan``, +-inf as the
    largest float."""
    if math.isnan(value):
        return 0.0, True
    if math.isinf(value):
        return math.copysign(MAX_FLOAT, value), False
    return float(value), False


def _metric_rows(run_id: str, metrics) -> tuple[list[dict], list[dict]]:
    """``metrics`` and ``latest_metrics`` rows of ``log_batch``: exact duplicates dropped,
    the latest value per key the greatest (step, timestamp, stored value)."""
    rows, newest, seen = [], {}, set()
    for key, value, timestamp, step in metrics:
        stored, is_nan = _sanitize(value)
        row = {"key": key, "value": stored, "timestamp": int(timestamp), "step": int(step),
               "is_nan": is_nan, "run_uuid": run_id}
        ident = (key, stored, row["timestamp"], row["step"], is_nan)
        if ident not in seen:
            seen.add(ident)
            rows.append(row)
        old = newest.get(key)
        if old is None or (row["step"], row["timestamp"], stored) > (
                old["step"], old["timestamp"], old["value"]):
            newest[key] = row
    return rows, list(newest.values())


def _insert_many(connection, table, rows: list[dict]) -> None:
    """``rows`` (dicts of the same keys) into MLflow's ``table``: the INSERT its SQLAlchemy
    definition compiles to on this database, run as one ``executemany`` of plain tuples.
    SQLAlchemy's own bulk insert processes every row's parameters in Python, ~4 ms a child
    of ~300 metric points; the values here are already what the columns store."""
    from sqlalchemy import insert

    compiled = insert(table).compile(dialect=connection.dialect, column_keys=list(rows[0]))
    if compiled.positional:
        order = compiled.positiontup
        params = [tuple(row[k] for k in order) for row in rows]
    else:
        params = rows
    connection.exec_driver_sql(compiled.string, params)


def _metric_shape(metric: tuple) -> tuple:
    """All of a metric MLflow's validation looks at (``_validate_metric``): its key, the
    types of value, timestamp and step, and the timestamp's sign. Metrics of one shape pass
    or fail alike, so a sweep's ~300,000 points are checked by one metric per shape."""
    key, value, timestamp, step = metric
    negative = isinstance(timestamp, numbers.Number) and timestamp < 0
    return key, type(value), value is None, type(timestamp), negative, type(step)


def _validated(rec: ChildRecord, shapes: set) -> tuple[list, dict[str, str], dict[str, str]]:
    """A child's metrics, params and tags as MLflow's ``log_batch`` takes them: checked by
    MLflow's own validation (names, lengths, values), long values cut as it cuts them; an
    invalid one raises the error ``log_batch`` raises. ``shapes``: the metric shapes
    (:func:`_metric_shape`) already checked, to which this child's are added."""
    from mlflow.entities import Metric, Param, RunTag
    from mlflow.utils.validation import _validate_batch_log_data, _validate_param_keys_unique

    new = {}
    for m in rec.metrics:
        new.setdefault(_metric_shape(m), m)
    _, params, tags = _validate_batch_log_data(
        [Metric(*m) for shape, m in new.items() if shape not in shapes],
        [Param(k, v) for k, v in rec.params.items()],
        [RunTag(k, v) for k, v in rec.tags.items()])
    _validate_param_keys_unique(params)
    shapes.update(new)
    return (list(rec.metrics), {p.key: p.value for p in params},
            {t.key: t.value for t in tags})


def _children_rows(records: list[ChildRecord], ids: dict[str, str], experiment_id: str,
                   artifact_location: str, inputs: list[tuple[str, dict]]) -> dict[str, list]:
    """Every row of these complete children, table by table: what ``create_run``,
    ``log_batch``, ``log_inputs`` and ``set_terminated`` write."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    rows: dict[str, list] = {table: [] for table in CHILD_TABLES}
    shapes: set = set()
    checked = {rec.run: _validated(rec, shapes) for rec in records}  # all, before any row
    for rec in records:
        run_id = ids[rec.run]
        metrics, params, tags = checked[rec.run]
        rows["runs"].append({
            "run_uuid": run_id, "name": rec.name, "source_type": "UNKNOWN", "source_name": "",
            "entry_point_name": "", "user_id": user, "status": rec.status,
            "start_time": rec.start, "end_time": rec.end, "deleted_time": None,
            "source_version": "", "lifecycle_stage": "active",
            "artifact_uri": f"{artifact_location}/{run_id}/artifacts",
            "experiment_id": int(experiment_id)})
        tags = {RUN_NAME_TAG: rec.name, **tags, COMPLETE_TAG: "true"}
        rows["tags"] += [{"key": k, "value": v, "run_uuid": run_id} for k, v in tags.items()]
        rows["params"] += [{"key": k, "value": v, "run_uuid": run_id} for k, v in params.items()]
        metric_rows, latest = _metric_rows(run_id, metrics)
        rows["metrics"] += metric_rows
        rows["latest_metrics"] += latest
        for dataset_uuid, input_tags in inputs:
            input_uuid = uuid.uuid4().hex
            rows["inputs"].append({"input_uuid": input_uuid, "source_type": "DATASET",
                                   "source_id": dataset_uuid, "destination_type": "RUN",
                                   "destination_id": run_id})
            rows["input_tags"] += [{"input_uuid": input_uuid, "name": k, "value": v}
                                   for k, v in input_tags.items()]
    return rows
