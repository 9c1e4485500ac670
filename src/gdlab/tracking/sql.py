"""A SQL store opened directly (PostgreSQL, MySQL, SQL Server; SQLite through
:mod:`~gdlab.tracking.sqlite`): MLflow's own tables, written with SQLAlchemy Core.

The sweep's runs are found with one query, and all its new children are written **in
one transaction**, one ``executemany`` a table: the rows ``create_run``, ``log_batch``,
``log_inputs`` and ``set_terminated`` write (``tests/test_tracking.py`` proves what
MLflow's client reads back equal to what its own calls write), each child validated by
MLflow's own checks before anything is written, all there or not at all. Their files are
copied (never linked: a damaged results file must not damage MLflow's copy) before the
commit. Everything else (parents, the experiment, artifacts of the parent, models) goes
through MLflow's client, as on any store.
"""

from __future__ import annotations

import getpass
import math
import numbers
import os
import shutil
import uuid
from concurrent.futures import ThreadPoolExecutor

from gdlab.tracking.layout import COMPLETE_TAG, PROJECT_TAG, RUN_NAME_TAG, SWEEP_TAG, ChildRecord
from gdlab.tracking.plan import Existing
from gdlab.tracking.store import Store, local_artifact_root

#: children whose artifact files are copied at once into a local artifact store
COPY_THREADS = 8
#: what SQL stores in place of +-inf (MLflow's sanitize_metric_value)
MAX_FLOAT = 1.7976931348623157e308
#: the tables a child's rows go to, in an order their foreign keys allow
CHILD_TABLES = ("runs", "tags", "params", "metrics", "latest_metrics", "inputs", "input_tags")


def mlflow_tables() -> dict:
    """MLflow's own table definitions (SQLAlchemy ``Table`` objects), by name."""
    from mlflow.store.db.base_sql_model import Base
    from mlflow.store.tracking.dbmodels import models  # noqa: F401 - defines the tables

    return Base.metadata.tables


class SqlStore(Store):
    """A SQL database holding MLflow's tables, written through them directly."""

    via = "one transaction through MLflow's tables"

    def __init__(self, uri: str):
        from mlflow.store.db.utils import create_sqlalchemy_engine_with_retry

        super().__init__(uri)
        self.engine = create_sqlalchemy_engine_with_retry(uri)
        self.tables = mlflow_tables()

    def find_sweep(self, experiment_id: str, project: str, sweep: str) -> list[Existing]:
        from sqlalchemy import select

        runs, tags = self.tables["runs"], self.tables["tags"]
        s, p = tags.alias("s"), tags.alias("p")
        ids = select(s.c.run_uuid).join(p, p.c.run_uuid == s.c.run_uuid).where(
            s.c.key == SWEEP_TAG, s.c.value == sweep, p.c.key == PROJECT_TAG,
            p.c.value == project)
        active = select(runs.c.run_uuid).where(
            runs.c.experiment_id == int(experiment_id), runs.c.lifecycle_stage == "active",
            runs.c.run_uuid.in_(ids))
        with self.engine.connect() as con:
            found = {r.run_uuid: r for r in con.execute(select(
                runs.c.run_uuid, runs.c.name, runs.c.status, runs.c.start_time).where(
                runs.c.run_uuid.in_(active)))}
            by_run: dict[str, dict] = {}
            for row in con.execute(select(tags.c.run_uuid, tags.c.key, tags.c.value).where(
                    tags.c.run_uuid.in_(active))):
                by_run.setdefault(row.run_uuid, {})[row.key] = row.value
        return [Existing(i, r.status, by_run.get(i, {}), r.start_time or 0, r.name or "")
                for i, r in found.items()]

    def write_children(self, experiment_id: str, records: list[ChildRecord],
                       datasets: list) -> dict[str, str]:
        experiment = self.experiment(experiment_id)
        root = local_artifact_root(experiment.artifact_location)
        if root is None or not records:  # artifacts elsewhere: MLflow's client uploads them
            return super().write_children(experiment_id, records, datasets)
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
        with self.engine.begin() as con:
            for name, table_rows in rows.items():
                if table_rows:
                    _insert_many(con, self.tables[name], table_rows,
                                 METRIC_COLUMNS if "metrics" in name else None)
        return ids

    def update_children(self, updates: dict[str, tuple[str | None, dict[str, str]]]) -> None:
        """Kept children brought up to date in one transaction: what ``set_tag`` and
        ``update_run(name=)`` write (a renamed run's ``mlflow.runName`` tag too)."""
        if not updates:
            return
        from sqlalchemy import bindparam

        runs, tags = self.tables["runs"], self.tables["tags"]
        names, rows = [], []
        for run_id, (name, new) in updates.items():
            if name is not None:
                names.append({"id": run_id, "new_name": name})
                new = {**new, RUN_NAME_TAG: name}
            rows += [{"key": k, "value": v, "run_uuid": run_id} for k, v in new.items()]
        with self.engine.begin() as con:
            if names:
                con.execute(runs.update().where(runs.c.run_uuid == bindparam("id")).values(
                    name=bindparam("new_name")), names)
            if rows:
                con.execute(tags.delete().where(tags.c.run_uuid == bindparam("run_uuid"),
                                                tags.c.key == bindparam("key")),
                            [{"run_uuid": r["run_uuid"], "key": r["key"]} for r in rows])
                _insert_many(con, tags, rows)

    def _dataset_uuids(self, experiment_id: str, datasets: list) -> list[tuple[str, dict]]:
        """(dataset uuid, input tags) of each ``DatasetInput`` (its row made by MLflow's
        ``log_inputs`` on the parent beforehand)."""
        from sqlalchemy import select

        table = self.tables["datasets"]
        out = []
        with self.engine.connect() as con:
            for d in datasets:
                row = con.execute(select(table.c.dataset_uuid).where(
                    table.c.experiment_id == int(experiment_id),
                    table.c.name == d.dataset.name,
                    table.c.digest == d.dataset.digest)).first()
                if row is None:
                    raise RuntimeError(f"dataset {d.dataset.name!r} is not in the store: log "
                                       "it on the parent first")
                out.append((row[0], {t.key: t.value for t in d.tags}))
        return out

    def _create_version(self, name: str, model_id: str, run_id: str, tags: dict[str, str]):
        """MLflow's SQL registry resolves a ``models:/`` source through the process's
        global tracking URI (its own TODO); the logged model's own location, which that
        resolution yields, is given instead, with the model id and source run."""
        lm = self._client.get_logged_model(model_id)
        return self._client.create_model_version(name, lm.artifact_location, run_id=run_id,
                                                 tags=tags, model_id=model_id)


def _metric_rows(run_id: str, metrics) -> tuple[list[tuple], list[tuple]]:
    """``metrics`` and ``latest_metrics`` rows (:data:`METRIC_COLUMNS`) of ``log_batch``:
    NaN stored as 0 with ``is_nan``, +-inf as the largest float (MLflow's
    ``sanitize_metric_value``), exact duplicates dropped, the latest value per key the
    greatest (step, timestamp, stored value)."""
    rows: dict[tuple, None] = {}
    newest: dict[str, tuple] = {}
    for key, value, timestamp, step in metrics:
        value, timestamp, step = float(value), int(timestamp), int(step)
        if math.isfinite(value):
            row = (key, value, timestamp, step, False, run_id)
        elif value != value:
            row = (key, 0.0, timestamp, step, True, run_id)
        else:
            row = (key, math.copysign(MAX_FLOAT, value), timestamp, step, False, run_id)
        rows[row] = None
        old = newest.get(key)
        if old is None or (step, timestamp, row[1]) > (old[3], old[2], old[1]):
            newest[key] = row
    return list(rows), list(newest.values())


#: the columns of a metrics or latest_metrics row, in :func:`_metric_rows`' order
METRIC_COLUMNS = ("key", "value", "timestamp", "step", "is_nan", "run_uuid")


def _insert_many(connection, table, rows: list, columns: tuple[str, ...] | None = None) -> None:
    """``rows`` into MLflow's ``table``: the INSERT its SQLAlchemy definition compiles to
    on this database, run as one ``executemany``. ``rows``: dicts of the same keys, or
    tuples of ``columns``. SQLAlchemy's own bulk insert processes every row's parameters
    in Python, ~4 ms a child of ~300 metric points; the values here are already what the
    columns store."""
    from sqlalchemy import insert

    if columns is None:
        columns = tuple(rows[0])
        rows = [tuple(row[k] for k in columns) for row in rows]
    compiled = insert(table).compile(dialect=connection.dialect, column_keys=list(columns))
    if compiled.positional:
        where = [columns.index(k) for k in compiled.positiontup]
        params = rows if where == list(range(len(columns))) else [
            tuple(row[i] for i in where) for row in rows]
    else:
        params = [dict(zip(columns, row, strict=True)) for row in rows]
    connection.exec_driver_sql(compiled.string, params)


def _metric_shapes(metrics) -> dict[tuple, tuple]:
    """One metric of each shape: all of a metric MLflow's validation looks at
    (``_validate_metric``): its key, the types of value, timestamp and step, and the
    timestamp's sign. Metrics of one shape pass or fail alike, so a sweep's ~300,000
    points are checked by one metric per shape."""
    shapes: dict[tuple, tuple] = {}
    for m in metrics:
        key, value, timestamp, step = m
        kind = timestamp.__class__
        negative = (timestamp < 0 if kind is int or kind is float  # the common case, fast
                    else isinstance(timestamp, numbers.Number) and timestamp < 0)
        shape = (key, value.__class__, kind, step.__class__, negative)
        if shape not in shapes:
            shapes[shape] = m
    return shapes


def _validated(rec: ChildRecord, seen: dict) -> tuple[dict[str, str], dict[str, str]]:
    """A child's params and tags as MLflow's ``log_batch`` takes them, and its metrics
    checked: by MLflow's own validation (names, lengths, values), long values cut as it
    cuts them; an invalid one raises the error ``log_batch`` raises. MLflow checks each
    metric, param and tag on its own, so ``seen`` keeps what was checked already (metric
    shapes, :func:`_metric_shapes`; params and tags by key and value, with what they
    became): a sweep's children share most of their tags."""
    from mlflow.entities import Metric, Param, RunTag
    from mlflow.utils.validation import _validate_batch_log_data

    shapes, known = seen.setdefault("shapes", set()), seen.setdefault("pairs", {})
    new = {k: m for k, m in _metric_shapes(rec.metrics).items() if k not in shapes}
    params = [("p", k, v) for k, v in rec.params.items() if ("p", k, v) not in known]
    tags = [("t", k, v) for k, v in rec.tags.items() if ("t", k, v) not in known]
    _, checked_params, checked_tags = _validate_batch_log_data(
        [Metric(*m) for m in new.values()], [Param(k, v) for _, k, v in params],
        [RunTag(k, v) for _, k, v in tags])
    shapes.update(new)
    for pair, entity in zip(params + tags, checked_params + checked_tags, strict=True):
        known[pair] = entity.value
    return ({k: known["p", k, v] for k, v in rec.params.items()},
            {k: known["t", k, v] for k, v in rec.tags.items()})


def _children_rows(records: list[ChildRecord], ids: dict[str, str], experiment_id: str,
                   artifact_location: str, inputs: list[tuple[str, dict]]) -> dict[str, list]:
    """Every row of these complete children, table by table: what ``create_run``,
    ``log_batch``, ``log_inputs`` and ``set_terminated`` write. Metric rows are tuples
    of :data:`METRIC_COLUMNS`, the others dicts."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    rows: dict[str, list] = {table: [] for table in CHILD_TABLES}
    seen: dict = {}
    checked = {rec.run: _validated(rec, seen) for rec in records}  # all, before any row
    for rec in records:
        run_id = ids[rec.run]
        params, tags = checked[rec.run]
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
        metric_rows, latest = _metric_rows(run_id, rec.metrics)
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
