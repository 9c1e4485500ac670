"""MLflow's tracking tables without MLflow: the rows its store writes, a ``sqlite3`` store
that writes them, and the empty SQLite store as a schema template.

Why: on the default store (``sqlite:///mlflow.db``, artifacts on local disk) a track job
that imports mlflow pays 2-10 s for the import alone on a loaded 2-core machine, and a fresh
store runs ~70 alembic migrations (~10 s). gdlab writes those rows itself instead, with the
standard library.

Exactness: each writing function here reproduces one operation of MLflow's
``SqlAlchemyStore`` (named in its docstring) for the MLflow version :data:`VERIFIED_MLFLOW`.
``tests/test_tracking.py`` syncs the same shards both ways and compares everything
``MlflowClient`` reads back (and ``search_runs`` finds), and creates a store both ways and
compares the schemas. gdlab writes itself only where that holds (:func:`writable_store`):
the verified MLflow is installed, the store's alembic revision is the template's, and no
MLflow setting changes what MLflow would write. Anywhere else gdlab goes through MLflow.

The schema template (:data:`SCHEMA_FILE`) is the ``sqlite_master`` of a store freshly
migrated by MLflow plus the rows its migrations insert; it is used only when the installed
MLflow's alembic head is the template's revision. After upgrading MLflow::

    python -m gdlab.mlflow_sql          # rewrites mlflow_sql_schema.sql from a migrated store

then run tests/test_tracking.py and set :data:`VERIFIED_MLFLOW` once it passes.

Standard library only (NumPy for a dataset's digest): no mlflow, SQLAlchemy or pandas.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import json
import math
import os
import re
import sqlite3
import sys
import time
import uuid
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import NamedTuple

#: the MLflow whose writes this module reproduces (tested); any other version: MLflow writes
VERIFIED_MLFLOW = "3.17.2"
SCHEMA_FILE = Path(__file__).with_name("mlflow_sql_schema.sql")
#: MLflow settings under which its store writes something else (workspace columns, a
#: server's artifact root): with either set, gdlab leaves the writing to MLflow
MLFLOW_ENV_OVERRIDES = ("MLFLOW_ENABLE_WORKSPACES", "_MLFLOW_SERVER_ARTIFACT_ROOT")
#: seconds a connection waits for another writer (gdlab's store lock serialises its own)
BUSY_TIMEOUT = 60
#: MLflow's limits (mlflow.utils.validation). It refuses longer keys and params and
#: truncates longer tag values; gdlab's never come near, so here any of them is an error
MAX_KEY, MAX_PARAM_VALUE, MAX_TAG_VALUE = 250, 6000, 8000
#: what SQL stores in place of +-inf (MLflow's sanitize_metric_value)
MAX_FLOAT = 1.7976931348623157e308
DEFAULT_WORKSPACE = "default"
DEFAULT_EXPERIMENT = (0, "Default")
#: the default artifact root of a store opened without one (MLflow's "./mlruns")
DEFAULT_ARTIFACT_DIR = "mlruns"
MAX_DIGEST_ROWS = 10000  # mlflow.data.digest_utils.MAX_ROWS
#: ``logged_models.status`` of a READY model (MLflow's LoggedModelStatus proto value)
LOGGED_MODEL_READY = 2
#: the stage of a model version MLflow deleted (its searches skip it)
STAGE_DELETED_INTERNAL = "Deleted_Internal"


def now_ms() -> int:
    """MLflow's ``get_current_time_millis``."""
    return int(time.time() * 1000)


# --------------------------------------------------------------------------------------
# When gdlab may write the store itself
# --------------------------------------------------------------------------------------


def installed_mlflow() -> str | None:
    """The installed MLflow's version, read from its metadata (nothing is imported)."""
    import importlib.metadata  # 25 ms: only when asked

    try:
        return importlib.metadata.version("mlflow")
    except importlib.metadata.PackageNotFoundError:
        return None


def mlflow_defaults(environ: dict | None = None) -> bool:
    """Whether MLflow runs with the settings whose writes are verified (no workspaces, no
    server artifact root)."""
    environ = os.environ if environ is None else environ
    return not any(environ.get(k, "").strip().lower() not in ("", "false", "0")
                   for k in MLFLOW_ENV_OVERRIDES)


def verified() -> bool:
    """The installed MLflow and its settings are those this module reproduces."""
    return installed_mlflow() == VERIFIED_MLFLOW and mlflow_defaults()


def template_revision(path: Path = SCHEMA_FILE) -> str:
    """The alembic revision the schema template was made at (its header says)."""
    match = re.search(r"^-- alembic revision: (\w+)$", path.read_text(encoding="utf-8"), re.M)
    if match is None:
        raise ValueError(f"{path} names no alembic revision")
    return match[1]


def installed_alembic_head() -> str | None:
    """The newest schema revision of the installed MLflow, read from its migration scripts
    (importing mlflow or alembic to ask would cost seconds)."""
    spec = importlib.util.find_spec("mlflow")
    if spec is None or not spec.submodule_search_locations:
        return None
    versions = Path(spec.submodule_search_locations[0], "store", "db_migrations", "versions")
    revisions, parents = set(), set()
    for script in versions.glob("*.py"):
        text = script.read_text(encoding="utf-8")
        revision = re.search(r"^revision\s*(?::\s*\w+\s*)?=\s*['\"](\w+)['\"]", text, re.M)
        parent = re.search(r"^down_revision\s*(?::[^=]+)?=\s*(.+)$", text, re.M)
        if revision:
            revisions.add(revision[1])
        if parent:
            parents.update(re.findall(r"['\"](\w+)['\"]", parent[1]))
    heads = revisions - parents
    return heads.pop() if len(heads) == 1 else None


def store_revision(db: Path) -> str | None:
    """The alembic revision of an existing SQLite store (None if it has none)."""
    try:
        con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=BUSY_TIMEOUT)
        try:
            row = con.execute("SELECT version_num FROM alembic_version").fetchone()
        finally:
            con.close()
    except sqlite3.Error:
        return None
    return row[0] if row else None


def writable_store(db: Path | None) -> bool:
    """Whether gdlab writes this SQLite store itself: it exists at the template's revision
    and MLflow (version and settings) is the verified one."""
    return (db is not None and db.is_file() and verified()
            and store_revision(db) == template_revision())


# --------------------------------------------------------------------------------------
# The rows MLflow writes (pure; shared by the SQLAlchemy path and the sqlite3 store)
# --------------------------------------------------------------------------------------


def check_limits(kind: str, values: dict[str, str], max_value: int) -> None:
    """Refuse keys and values over MLflow's limits (rather than write what MLflow would
    not, or truncate as it does a tag)."""
    for key, value in values.items():
        if len(key) > MAX_KEY or len(value) > max_value:
            raise ValueError(f"{kind} {key[:80]!r} is longer than MLflow allows")


def run_row(run_id: str, experiment_id: int, name: str, artifact_location: str,
            start_time: int, *, status: str = "RUNNING", end_time: int | None = None,
            user_id: str = "unknown") -> dict:
    """The ``runs`` row of ``create_run`` (``status``/``end_time``: after
    ``set_terminated``)."""
    return {"run_uuid": run_id, "name": name, "source_type": "UNKNOWN", "source_name": "",
            "entry_point_name": "", "user_id": user_id, "status": status,
            "start_time": start_time, "end_time": end_time, "deleted_time": None,
            "source_version": "", "lifecycle_stage": "active",
            "artifact_uri": f"{artifact_location}/{run_id}/artifacts",
            "experiment_id": int(experiment_id)}


def key_value_rows(run_id: str, values: dict[str, str]) -> list[dict]:
    """``tags`` or ``params`` rows of one run."""
    return [{"key": k, "value": v, "run_uuid": run_id} for k, v in values.items()]


def sanitize(value: float) -> tuple[float, bool]:
    """MLflow's ``sanitize_metric_value``: NaN is stored as 0 with ``is_nan``, +-inf as the
    largest float."""
    if math.isnan(value):
        return 0.0, True
    if math.isinf(value):
        return math.copysign(MAX_FLOAT, value), False
    return float(value), False


def metric_rows(run_id: str, metrics: Iterable[tuple[str, float, int, int]]
                ) -> tuple[list[dict], list[dict]]:
    """``metrics`` and ``latest_metrics`` rows of ``log_batch`` for (key, value, timestamp,
    step): exact duplicates dropped, the latest value per key the greatest (step,
    timestamp, stored value)."""
    rows, newest, seen = [], {}, set()
    for key, value, timestamp, step in metrics:
        stored, is_nan = sanitize(value)
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


def dataset_row(experiment_id: int, dataset: dict) -> dict:
    """The ``datasets`` row of ``log_inputs`` for a new dataset (``dataset``: name, digest,
    source_type, source, schema, profile)."""
    return {"dataset_uuid": uuid.uuid4().hex, "experiment_id": int(experiment_id),
            "name": dataset["name"], "digest": dataset["digest"],
            "dataset_source_type": dataset["source_type"],
            "dataset_source": dataset["source"], "dataset_schema": dataset["schema"],
            "dataset_profile": dataset["profile"]}


def input_rows(dataset_uuid: str, run_id: str, tags: dict[str, str]) -> tuple[dict, list]:
    """The ``inputs`` row (a dataset into a run) and its ``input_tags`` rows."""
    input_uuid = uuid.uuid4().hex
    return ({"input_uuid": input_uuid, "source_type": "DATASET", "source_id": dataset_uuid,
             "destination_type": "RUN", "destination_id": run_id},
            [{"input_uuid": input_uuid, "name": k, "value": v} for k, v in tags.items()])


# --------------------------------------------------------------------------------------
# A NumPy dataset as MLflow describes it (mlflow.data.from_numpy)
# --------------------------------------------------------------------------------------


def _pandas_hash(values):
    """``pandas.util.hash_array`` of a numeric array: what MLflow's digest hashes."""
    import numpy as np

    dtype = values.dtype
    if dtype.kind == "b":
        hashed = values.astype("u8")
    elif dtype.kind in "iuf" and dtype.itemsize <= 8:
        uint = f"u{dtype.itemsize}"
        hashed = values.view(uint).astype("u8")
        if dtype.kind == "f":  # one bit pattern for NaN and for zero (GH#28363)
            hashed[np.isnan(values)] = np.array(np.nan, dtype=dtype).view(uint)
            hashed[hashed == np.array(-0.0, dtype=dtype).view(uint)] = 0
    else:
        raise TypeError(f"no digest of {dtype} arrays without pandas")
    with np.errstate(over="ignore"):
        hashed ^= hashed >> np.uint64(30)
        hashed *= np.uint64(0xBF58476D1CE4E5B9)
        hashed ^= hashed >> np.uint64(27)
        hashed *= np.uint64(0x94D049BB133111EB)
        hashed ^= hashed >> np.uint64(31)
    return hashed


def numpy_digest(features, targets) -> str:
    """``mlflow.data.digest_utils.compute_numpy_digest`` for numeric arrays."""
    import numpy as np

    md5 = hashlib.md5(usedforsecurity=False)
    for array in (features, targets):
        if array is None:
            continue
        md5.update(_pandas_hash(array.flatten()[:MAX_DIGEST_ROWS]))
        for n in array.shape:
            md5.update(np.int64(n))
    return md5.hexdigest()[:8]


def _tensor_spec(array) -> str:
    if array.dtype.kind not in "biuf":
        raise TypeError(f"no schema of {array.dtype} arrays without mlflow")
    return json.dumps([{"type": "tensor", "tensor-spec": {
        "dtype": str(array.dtype), "shape": [-1, *array.shape[1:]]}}])


def numpy_dataset(features, targets, source_uri: str, name: str) -> dict:
    """What ``mlflow.data.from_numpy(features, targets=, source=, name=)`` logs: name,
    digest, source type and source, schema and profile (TypeError for non-numeric
    arrays: then ask MLflow)."""
    profile = {"features_shape": features.shape, "features_size": features.size,
               "features_nbytes": features.nbytes}
    if targets is not None:
        profile.update({"targets_shape": targets.shape, "targets_size": targets.size,
                        "targets_nbytes": targets.nbytes})
    schema = {"mlflow_tensorspec": {
        "features": _tensor_spec(features),
        "targets": _tensor_spec(targets) if targets is not None else None}}
    return {"name": name, "digest": numpy_digest(features, targets), "source_type": "local",
            "source": json.dumps({"uri": source_uri}), "schema": json.dumps(schema),
            "profile": json.dumps(profile)}


# --------------------------------------------------------------------------------------
# The store, written with sqlite3
# --------------------------------------------------------------------------------------


class StoredRun(NamedTuple):
    """A run as gdlab's planning sees it (the fields of ``tracking.Existing``)."""

    run_id: str
    status: str
    tags: dict
    start_time: int
    name: str


def _chunks(items: list, size: int = 500) -> Iterator[list]:
    for i in range(0, len(items), size):
        yield items[i:i + size]


class SqliteStore:
    """An MLflow SQLite store in one open transaction (:meth:`transaction`).

    Each method writes what the ``SqlAlchemyStore`` method it names writes.
    """

    def __init__(self, con: sqlite3.Connection):
        self.con = con

    @classmethod
    @contextlib.contextmanager
    def transaction(cls, db: Path) -> Iterator[SqliteStore]:
        """The store, write-locked from the start (``BEGIN IMMEDIATE``: no other writer can
        slip in between a read and the write it decides), committed at the end of the
        block, rolled back on any error: a sync is all there or not at all."""
        con = sqlite3.connect(db, timeout=BUSY_TIMEOUT, isolation_level=None)
        try:
            con.execute("PRAGMA foreign_keys = ON")  # as MLflow's engine does
            con.execute("BEGIN IMMEDIATE")
            try:
                yield cls(con)
            except BaseException:
                con.execute("ROLLBACK")
                raise
            con.execute("COMMIT")
        finally:
            con.close()

    def insert(self, table: str, rows: list[dict]) -> None:
        """Rows of one table (all with the same columns)."""
        if not rows:
            return
        columns = list(rows[0])
        names = ", ".join(f'"{c}"' for c in columns)
        values = ", ".join(f":{c}" for c in columns)  # sqlite3 reads each row's dict
        self.con.executemany(f'INSERT INTO "{table}" ({names}) VALUES ({values})', rows)

    # -- reading

    def experiment(self, experiment_id: str) -> tuple[str, str, str] | None:
        """(name, lifecycle stage, artifact location) of an experiment, or None."""
        try:
            key = int(experiment_id)
        except ValueError:
            return None
        row = self.con.execute("SELECT name, lifecycle_stage, artifact_location FROM "
                               "experiments WHERE experiment_id = ?", (key,)).fetchone()
        return tuple(row) if row else None

    def _tags(self, run_ids: list[str]) -> dict[str, dict]:
        tags: dict[str, dict] = {}
        for chunk in _chunks(run_ids):
            marks = ", ".join("?" * len(chunk))
            for run_id, key, value in self.con.execute(
                    f'SELECT run_uuid, "key", value FROM tags WHERE run_uuid IN ({marks})',
                    chunk):
                tags.setdefault(run_id, {})[key] = value
        return tags

    def _runs(self, rows: list[tuple]) -> list[StoredRun]:
        tags = self._tags([r[0] for r in rows])
        return [StoredRun(run_id, status, tags.get(run_id, {}), start or 0, name or "")
                for run_id, status, start, name in rows]

    def active_runs_named(self, experiment_id: str, names: Iterable[str]) -> list[StoredRun]:
        """The experiment's active runs with one of these names, with their tags."""
        rows = []
        for chunk in _chunks(sorted(set(names))):
            marks = ", ".join("?" * len(chunk))
            rows += self.con.execute(
                "SELECT run_uuid, status, start_time, name FROM runs WHERE experiment_id = ? "
                f"AND lifecycle_stage = 'active' AND name IN ({marks})",
                [int(experiment_id), *chunk]).fetchall()
        return self._runs(rows)

    def active_runs_tagged(self, experiment_id: str, tags: dict[str, str]) -> list[StoredRun]:
        """The experiment's active runs with all these tag values (what ``search_runs``
        finds with ``tags.k = 'v' and ...``), with all their tags."""
        where = " ".join('AND EXISTS (SELECT 1 FROM tags t WHERE t.run_uuid = r.run_uuid '
                         'AND t."key" = ? AND t.value = ?)' for _ in tags)
        rows = self.con.execute(
            "SELECT r.run_uuid, r.status, r.start_time, r.name FROM runs r WHERE "
            f"r.experiment_id = ? AND r.lifecycle_stage = 'active' {where}",
            [int(experiment_id), *(x for kv in tags.items() for x in kv)]).fetchall()
        return self._runs(rows)

    def dataset_uuid(self, experiment_id: str, name: str, digest: str) -> str | None:
        row = self.con.execute(
            "SELECT dataset_uuid FROM datasets WHERE experiment_id = ? AND name = ? AND "
            "digest = ?", (int(experiment_id), name, digest)).fetchone()
        return row[0] if row else None

    def artifact_uri(self, run_id: str) -> str:
        return self.con.execute("SELECT artifact_uri FROM runs WHERE run_uuid = ?",
                                (run_id,)).fetchone()[0]

    def model_outputs(self, run_id: str) -> list[str]:
        """The ids of the logged models a run output (``get_run(...).outputs``), in the
        order MLflow's query returns them."""
        return [r[0] for r in self.con.execute(
            "SELECT destination_id FROM inputs WHERE source_type = 'RUN_OUTPUT' AND "
            "source_id = ? AND destination_type = 'MODEL_OUTPUT'", (run_id,))]

    def ready_model_tagged(self, experiment_id: str, key: str, value: str) -> str | None:
        """The first READY model of ``search_logged_models`` with this tag value (its
        default order: newest first, then by id), or None."""
        rows = self.con.execute(
            "SELECT m.model_id, m.status FROM logged_models m JOIN logged_model_tags t ON "
            "t.model_id = m.model_id WHERE t.tag_key = ? AND t.tag_value = ? AND "
            "m.lifecycle_stage != 'deleted' AND m.experiment_id = ? "
            "ORDER BY m.creation_timestamp_ms DESC, m.model_id ASC",
            (key, value, int(experiment_id))).fetchall()
        return next((model_id for model_id, status in rows if status == LOGGED_MODEL_READY),
                    None)

    def latest_model_version(self, name: str) -> tuple[int, dict[str, str]] | None:
        """The highest version of a registered model that ``search_model_versions`` finds
        (not deleted), with its tags; None if it has none."""
        row = self.con.execute(
            "SELECT MAX(version) FROM model_versions WHERE workspace = ? AND name = ? AND "
            "current_stage != ?", (DEFAULT_WORKSPACE, name, STAGE_DELETED_INTERNAL)).fetchone()
        if row is None or row[0] is None:
            return None
        tags = dict(self.con.execute(
            'SELECT "key", value FROM model_version_tags WHERE workspace = ? AND name = ? '
            "AND version = ?", (DEFAULT_WORKSPACE, name, row[0])))
        return int(row[0]), tags

    # -- writing

    def create_run(self, experiment_id: str, name: str, artifact_location: str,
                   start_time: int, tags: dict[str, str]) -> str:
        """``create_run``: a RUNNING run, its tags and the ``mlflow.runName`` tag."""
        tags = {**tags, "mlflow.runName": tags.get("mlflow.runName", name)}
        check_limits("tag", tags, MAX_TAG_VALUE)
        run_id = uuid.uuid4().hex
        self.insert("runs", [run_row(run_id, int(experiment_id), name, artifact_location,
                                     start_time, user_id=tags.get("mlflow.user", "unknown"))])
        self.insert("tags", key_value_rows(run_id, tags))
        return run_id

    def log_params(self, run_id: str, params: dict[str, str]) -> None:
        """``log_batch(params=...)`` on a run without params."""
        check_limits("param", params, MAX_PARAM_VALUE)
        self.insert("params", key_value_rows(run_id, params))

    def set_tags(self, run_id: str, tags: dict[str, str]) -> None:
        """``log_batch(tags=...)``: a tag's value replaced, or the tag added."""
        check_limits("tag", tags, MAX_TAG_VALUE)
        self.con.executemany(
            'INSERT INTO tags ("key", value, run_uuid) VALUES (?, ?, ?) '
            'ON CONFLICT ("key", run_uuid) DO UPDATE SET value = excluded.value',
            [(k, v, run_id) for k, v in tags.items()])

    def set_status(self, run_id: str, status: str, end_time: int | None = None) -> None:
        """``update_run_info``: the status, and the end time unless None (``set_terminated``
        passes one, ``update_run`` keeps the run's)."""
        if end_time is None:
            self.con.execute("UPDATE runs SET status = ? WHERE run_uuid = ?",
                             (status, run_id))
        else:
            self.con.execute("UPDATE runs SET status = ?, end_time = ? WHERE run_uuid = ?",
                             (status, end_time, run_id))

    def log_metrics(self, run_id: str, metrics: Iterable[tuple[str, float, int, int]]) -> None:
        """``log_batch(metrics=...)`` on a run that may hold metrics already: rows already
        there are skipped, and a key's latest value is replaced by a newer one (greater
        step, timestamp, stored value)."""
        rows, newest = metric_rows(run_id, metrics)
        self.con.executemany(
            'INSERT OR IGNORE INTO metrics ("key", value, timestamp, step, is_nan, run_uuid) '
            "VALUES (:key, :value, :timestamp, :step, :is_nan, :run_uuid)", rows)
        for row in newest:
            old = self.con.execute(
                'SELECT step, timestamp, value FROM latest_metrics WHERE run_uuid = ? AND '
                '"key" = ?', (run_id, row["key"])).fetchone()
            if old is None:
                self.insert("latest_metrics", [row])
            elif (row["step"], row["timestamp"], row["value"]) > tuple(old):
                self.con.execute(
                    "UPDATE latest_metrics SET value = ?, timestamp = ?, step = ?, is_nan = ? "
                    'WHERE run_uuid = ? AND "key" = ?', (row["value"], row["timestamp"],
                                                         row["step"], row["is_nan"], run_id,
                                                         row["key"]))

    def log_model_output(self, run_id: str, model_id: str, step: int = 0) -> None:
        """``log_outputs``: a logged model as the run's output."""
        self.insert("inputs", [{"input_uuid": uuid.uuid4().hex, "source_type": "RUN_OUTPUT",
                                "source_id": run_id, "destination_type": "MODEL_OUTPUT",
                                "destination_id": model_id, "step": step}])

    def delete_run(self, run_id: str) -> None:
        """``delete_run``: the run's assessments go, the run is marked deleted (soft)."""
        self.con.execute("DELETE FROM assessments WHERE instr(assessment_metadata, ?) > 0",
                         (f'"mlflow.assessment.sourceRunId": "{run_id}"',))
        self.con.execute("UPDATE runs SET lifecycle_stage = 'deleted', deleted_time = ? "
                         "WHERE run_uuid = ?", (now_ms(), run_id))


# --------------------------------------------------------------------------------------
# A new store and its experiments
# --------------------------------------------------------------------------------------


def default_artifact_root() -> str:
    """MLflow's default artifact root of a store opened here: ``./mlruns`` made absolute
    (``resolve_uri_if_local``)."""
    return Path.cwd().joinpath(DEFAULT_ARTIFACT_DIR).as_posix()


def template_fits() -> bool:
    """The schema template is the installed MLflow's schema, and MLflow writes as verified."""
    return verified() and installed_alembic_head() == template_revision()


def create_store_from_template(path: Path) -> None:
    """An empty store at ``path`` (a new file) as MLflow creates it: the template's schema
    and rows, then the Default experiment MLflow adds when it first opens a store."""
    con = sqlite3.connect(path, isolation_level=None)
    try:
        # one transaction: a commit per statement would cost a disk sync each (seconds)
        con.executescript("BEGIN IMMEDIATE;\n" + SCHEMA_FILE.read_text(encoding="utf-8"))
        insert_experiment(con, DEFAULT_EXPERIMENT[1], DEFAULT_EXPERIMENT[0])
        con.execute("COMMIT")
    finally:
        con.close()


def create_store_with_mlflow(path: Path) -> None:
    """An empty store at ``path`` made by MLflow itself: every alembic migration (seconds)."""
    from mlflow import MlflowClient

    client = MlflowClient(f"sqlite:///{path.resolve()}")
    client.search_experiments(max_results=1)  # opening the store runs every migration
    store = getattr(client._tracking_client, "store", None)
    if getattr(store, "engine", None) is not None:
        store.engine.dispose()  # no connection stays open on a file about to be renamed


def insert_experiment(con: sqlite3.Connection, name: str,
                      experiment_id: int | None = None) -> str:
    """``create_experiment`` (and, with id 0, ``_create_default_experiment``): an active
    experiment whose artifact location is the default root plus its id."""
    created = now_ms()
    cur = con.execute(
        "INSERT INTO experiments (experiment_id, name, artifact_location, lifecycle_stage, "
        "creation_time, last_update_time, workspace) VALUES (?, ?, NULL, 'active', ?, ?, ?)",
        (experiment_id, name, created, created, DEFAULT_WORKSPACE))
    experiment_id = cur.lastrowid if experiment_id is None else experiment_id
    con.execute("UPDATE experiments SET artifact_location = ? WHERE experiment_id = ?",
                (f"{default_artifact_root()}/{experiment_id}", experiment_id))
    return str(experiment_id)


def ensure_experiment(db: Path, name: str) -> str | None:
    """The id of the active experiment ``name``, created if missing; None if it is deleted
    (restoring it is left to MLflow)."""
    con = sqlite3.connect(db, timeout=BUSY_TIMEOUT, isolation_level=None)
    try:
        con.execute("BEGIN IMMEDIATE")
        row = con.execute("SELECT experiment_id, lifecycle_stage FROM experiments WHERE "
                          "name = ? AND workspace = ?", (name, DEFAULT_WORKSPACE)).fetchone()
        if row is None:
            experiment_id = insert_experiment(con, name)
        else:
            experiment_id = str(row[0]) if row[1] == "active" else None
        con.execute("COMMIT")
    except BaseException:
        if con.in_transaction:
            con.execute("ROLLBACK")
        raise
    finally:
        con.close()
    return experiment_id


# --------------------------------------------------------------------------------------
# The schema template: made from a store MLflow migrated
# --------------------------------------------------------------------------------------


def _sql_literal(value) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, bytes):
        return f"X'{value.hex()}'"
    return "'" + str(value).replace("'", "''") + "'"


def dump_schema(db: Path, mlflow_version: str) -> str:
    """The template text of a freshly migrated store: its tables, indexes and triggers as
    ``sqlite_master`` holds them, and the rows its migrations inserted (the Default
    experiment left out: MLflow adds it on opening, with this machine's path and time)."""
    con = sqlite3.connect(db)
    try:
        revision = con.execute("SELECT version_num FROM alembic_version").fetchone()[0]
        objects = con.execute(
            "SELECT type, name, sql FROM sqlite_master WHERE sql IS NOT NULL AND name NOT "
            "LIKE 'sqlite_%' ORDER BY CASE type WHEN 'table' THEN 0 WHEN 'index' THEN 1 "
            "ELSE 2 END, rowid").fetchall()
        lines = [
            f"-- The empty MLflow tracking store on SQLite, as MLflow {mlflow_version} creates "
            "it (all",
            "-- migrations run), for gdlab.mlflow_sql.create_store_from_template. Generated: "
            "do not edit;",
            "-- regenerate with `python -m gdlab.mlflow_sql` (see that module).",
            f"-- mlflow: {mlflow_version}",
            f"-- alembic revision: {revision}",
        ]
        lines += [f"{sql};" for _, _, sql in objects]
        for (table,) in con.execute("SELECT name FROM sqlite_master WHERE type = 'table' AND "
                                    "name NOT LIKE 'sqlite_%' ORDER BY name").fetchall():
            if table == "experiments":
                continue
            for row in con.execute(f'SELECT * FROM "{table}" ORDER BY rowid'):
                lines.append(f'INSERT INTO "{table}" VALUES('
                             + ", ".join(_sql_literal(v) for v in row) + ");")
    finally:
        con.close()
    return "\n".join(lines) + "\n"


def regenerate(path: Path = SCHEMA_FILE) -> str:
    """Rewrite the template from a store the installed MLflow migrates; returns its
    revision."""
    import tempfile

    import mlflow

    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "mlflow.db"
        create_store_with_mlflow(db)
        path.write_text(dump_schema(db, mlflow.__version__), encoding="utf-8")
    return template_revision(path)


if __name__ == "__main__":
    print(f"{SCHEMA_FILE}: alembic revision {regenerate()}", file=sys.stderr)
