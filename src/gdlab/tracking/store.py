"""The one store interface: every operation a sync, its models and the workflow's checks
need, with one backend per kind of store, chosen once from the URI
(:mod:`gdlab.tracking.backends`), as MLflow registers one store class per URI scheme.

:class:`Store` is the interface and its implementation through ``MlflowClient``, valid on
any store; the backends override what their kind of store does better:

* :class:`~gdlab.tracking.server.ServerStore` (``http``, ``https``): a team's server,
  every child in few requests, several children at once;
* :class:`~gdlab.tracking.sql.SqlStore` (``postgresql``, ``mysql``, ``mssql``): a SQL
  database opened directly: the sweep found with one query, new children written in one
  transaction through MLflow's own tables;
* :class:`~gdlab.tracking.sqlite.SqliteStore` (``sqlite``): the same, plus everything
  particular to a SQLite file (its creation, journal, lock, and the read-only checks of a
  lost or edited store).

Nothing outside the backends holds MLflow's client. Importing this module imports no
MLflow: the workflow asks a backend's read-only checks at every start.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from gdlab.tracking.layout import COMPLETE_TAG, PROJECT_TAG, SWEEP_TAG, ChildRecord
from gdlab.tracking.plan import Existing

#: MLflow's limits per ``log_batch`` call
MAX_METRICS, MAX_PARAMS_OR_TAGS, MAX_ENTITIES = 1000, 100, 1000
#: runs per search call: a busy server answers a page of 100 in 1-3 s, inside the timeout
SEARCH_PAGE = 100


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
    """A tracking store through MLflow's client: the interface, valid on any store."""

    via = "MLflow's client"

    def __init__(self, uri: str):
        from mlflow import MlflowClient

        self.uri = uri
        self._client = MlflowClient(uri)

    # -- what the workflow asks at every start, without MLflow (class methods) -----------
    @classmethod
    def lost(cls, uri: str, record: Path) -> bool:
        """Whether the store lacks the experiment of ``record`` (``experiment.json``): its
        file deleted or replaced. Only a store read without network or MLflow is checked."""
        return False

    @classmethod
    def sweep_counts(cls, uri: str, project: str) -> dict[str, int] | None:
        """Active runs of ``project`` per sweep, read-only; None: not checked here."""
        return None

    @classmethod
    @contextlib.contextmanager
    def lock(cls, uri: str, lock_dir: str | Path) -> Iterator[None]:
        """Held by a track job while it writes: stores that take concurrent writes of
        distinct runs (each sweep is one job's) need none."""
        yield

    @classmethod
    def prepare(cls, uri: str, log: Callable[[str], Any]) -> None:
        """Before the experiment is made (setup job): the store itself, if it is a file."""

    #: whether the store's local artifacts move with the project (a relative SQLite path)
    in_project = False

    # -- the experiment --------------------------------------------------------------------
    def experiment(self, experiment_id: str):
        """The experiment (MLflow's entity), or None if the store does not have it."""
        from mlflow.exceptions import MlflowException

        from gdlab.tracking.uri import unreachable

        try:
            return self._client.get_experiment(experiment_id)
        except MlflowException as err:
            if unreachable(err):  # a server that is down: not a missing experiment
                raise
            return None

    def ensure_experiment(self, name: str) -> str:
        """The id of the experiment ``name``, made or restored."""
        exp = self._client.get_experiment_by_name(name)
        if exp is None:
            experiment_id = self._client.create_experiment(name)
        else:
            experiment_id = exp.experiment_id
            if exp.lifecycle_stage == "deleted":
                self._client.restore_experiment(experiment_id)
        return str(experiment_id)

    def set_experiment_tags(self, experiment_id: str, tags: dict[str, str]) -> None:
        for key, value in tags.items():
            self._client.set_experiment_tag(experiment_id, key, value)

    # -- reading runs ----------------------------------------------------------------------
    def find_sweep(self, experiment_id: str, project: str, sweep: str) -> list[Existing]:
        """Every active run of this project's sweep (its parents and children)."""
        from mlflow.entities import ViewType

        query = f"tags.`{PROJECT_TAG}` = '{project}' and tags.`{SWEEP_TAG}` = '{sweep}'"
        runs, token = [], None
        while True:
            page = self._client.search_runs([experiment_id], query,
                                            run_view_type=ViewType.ACTIVE_ONLY,
                                            max_results=SEARCH_PAGE, page_token=token)
            runs += [_existing(r) for r in page]
            token = page.token
            if not token:
                return runs

    def model_outputs(self, run_id: str) -> list[str]:
        """The ids of the logged models the run lists as its outputs."""
        outputs = self._client.get_run(run_id).outputs
        return [o.model_id for o in (outputs.model_outputs if outputs else [])]

    # -- writing runs ----------------------------------------------------------------------
    def create_run(self, experiment_id: str, name: str, start: int, tags: dict[str, str],
                   params: dict[str, str] | None = None) -> str:
        run_id = self._client.create_run(experiment_id, start_time=start, tags=tags,
                                         run_name=name).info.run_id
        if params:
            self.log(run_id, params=params)
        return run_id

    def log(self, run_id: str, metrics=(), params: dict | None = None,
            tags: dict | None = None, model_id: str | None = None) -> None:
        """Metrics (key, value, timestamp, step), params and tags, in batches; the
        metrics of the logged model ``model_id`` if given."""
        from mlflow.entities import Metric, Param, RunTag

        for m, p, t in _batches([Metric(*m, model_id=model_id) for m in metrics],
                                [Param(k, v) for k, v in (params or {}).items()],
                                [RunTag(k, v) for k, v in (tags or {}).items()]):
            self._client.log_batch(run_id, metrics=m, params=p, tags=t)

    def rename(self, run_id: str, name: str) -> None:
        self._client.update_run(run_id, name=name)

    def reopen(self, run_id: str) -> None:
        """The run marked as being written (``RUNNING``)."""
        self._client.update_run(run_id, status="RUNNING")

    def log_inputs(self, run_id: str, datasets: list) -> None:
        """``datasets``: MLflow ``DatasetInput`` entities (a split's parts, with context).

        Once more if it lost a race for a new dataset's row: MLflow's store looks for the
        dataset (experiment, name, digest), then inserts it, so two track jobs of one
        dataset (two sweeps, a server or PostgreSQL: no lock) collide on that key and one
        request fails, rolled back whole; by then the row exists and the second attempt
        uses it."""
        from mlflow.exceptions import MlflowException

        try:
            self._client.log_inputs(run_id, datasets=datasets)
        except MlflowException as err:
            text = str(err).lower()
            if "dataset" not in text or not any(
                    w in text for w in ("duplicate key", "unique constraint", "duplicate entry")):
                raise
            self._client.log_inputs(run_id, datasets=datasets)

    def log_artifacts(self, run_id: str, files: Iterable[Path], artifact_path: str | None = None):
        for p in files:
            self._client.log_artifact(run_id, str(p), artifact_path)

    def delete_artifacts(self, run_id: str, artifact_dir: str, names: Iterable[str]) -> list[str]:
        """Delete those of ``names`` the run has in ``artifact_dir``; the names deleted."""
        from mlflow.store.artifact.artifact_repository_registry import get_artifact_repository

        listed = {Path(a.path).name for a in self._client.list_artifacts(run_id, artifact_dir)}
        gone = sorted(listed & set(names))
        if gone:
            repo = get_artifact_repository(self._client.get_run(run_id).info.artifact_uri,
                                           tracking_uri=self.uri)
            for name in gone:
                repo.delete_artifacts(f"{artifact_dir}/{name}")
        return gone

    def set_terminated(self, run_id: str, status: str, end: int | None = None) -> None:
        self._client.set_terminated(run_id, status, end_time=end)

    def delete_runs(self, runs: Iterable[Existing]) -> None:
        """Soft-delete ``runs``; one a crash cut off mid-sync is marked FAILED first."""
        for r in runs:
            if r.status == "RUNNING":
                self.set_terminated(r.run_id, "FAILED")
            self._client.delete_run(r.run_id)

    # -- children in bulk ------------------------------------------------------------------
    def write_child(self, experiment_id: str, rec: ChildRecord, datasets: list) -> str:
        """One complete child through the client's calls, in as few requests as MLflow's
        API allows: the run, its dataset inputs, its files, then one ``log_batch`` of
        params, metrics and tags (:data:`COMPLETE_TAG` last; more calls only past MLflow's
        limits), then its status. Complete only once its status is set."""
        from mlflow.store.artifact.artifact_repository_registry import get_artifact_repository

        info = self._client.create_run(experiment_id, start_time=rec.start,
                                       run_name=rec.name).info
        run_id = info.run_id
        if datasets:
            self.log_inputs(run_id, datasets)
        # its files straight to its artifact location (the client's log_artifact would
        # first fetch the whole run to find it)
        repo = get_artifact_repository(info.artifact_uri, tracking_uri=self.uri)
        for p in rec.files:
            repo.log_artifact(str(p))
        # its tags through log_batch, which validates them (create_run does not)
        self.log(run_id, metrics=rec.metrics, params=rec.params,
                 tags={**rec.tags, COMPLETE_TAG: "true"})
        self.set_terminated(run_id, rec.status, rec.end)
        return run_id

    def write_children(self, experiment_id: str, records: list[ChildRecord],
                       datasets: list) -> dict[str, str]:
        """Log ``records`` as complete children (run -> child id)."""
        return {rec.run: self.write_child(experiment_id, rec, datasets) for rec in records}

    def update_children(self, updates: dict[str, tuple[str | None, dict[str, str]]]) -> None:
        """Kept children brought up to date: run id -> (new name or None, tags to set)."""
        for run_id, (name, tags) in updates.items():
            if name is not None:
                self.rename(run_id, name)
            if tags:
                self.log(run_id, tags=tags)

    # -- logged models and the registry ----------------------------------------------------
    def logged_models(self, experiment_id: str, filter_string: str) -> list:
        return self._client.search_logged_models([experiment_id], filter_string=filter_string)

    def create_logged_model(self, experiment_id: str, name: str, run_id: str,
                            params: dict[str, str], tags: dict[str, str]) -> Any:
        return self._client.create_logged_model(experiment_id=experiment_id, name=name,
                                                source_run_id=run_id, params=params, tags=tags)

    def delete_logged_model(self, model_id: str) -> None:
        self._client.delete_logged_model(model_id)

    def finish_logged_model(self, model_id: str, folder: Path) -> None:
        """The model's files (a saved MLflow model in ``folder``) uploaded, then the
        model ``READY``, as ``log_model`` does."""
        from mlflow.entities import LoggedModelStatus

        self._client.log_model_artifacts(model_id, str(folder))
        self._client.finalize_logged_model(model_id, LoggedModelStatus.READY)

    def log_model_output(self, run_id: str, model_id: str) -> None:
        """The run lists the logged model as its output (the run's page links it)."""
        from mlflow.entities import LoggedModelOutput

        self._client.log_outputs(run_id, [LoggedModelOutput(model_id, step=0)])

    def model_versions(self, name: str) -> list:
        return self._client.search_model_versions(f"name = '{name}'")

    def register(self, name: str, model_id: str, run_id: str, tags: dict[str, str],
                 description: str) -> int:
        """A new version of the registered model ``name`` (made if new) from the logged
        model, its source run ``run_id``; the logged model tagged with it, as MLflow's
        ``register_model`` tags it. Returns the version."""
        import json

        from mlflow.exceptions import MlflowException

        try:
            self._client.create_registered_model(name)
        except MlflowException as err:
            if err.error_code not in ("RESOURCE_ALREADY_EXISTS", "ALREADY_EXISTS"):
                raise
        mv = self._create_version(name, model_id, run_id, tags)
        versions = json.loads(self._client.get_logged_model(model_id).tags.get(
            "mlflow.modelVersions", "[]"))
        self._client.set_logged_model_tags(model_id, {"mlflow.modelVersions": json.dumps(
            [*versions, {"name": mv.name, "version": mv.version}])})
        self.describe_version(name, mv.version, description)
        return int(mv.version)

    def _create_version(self, name: str, model_id: str, run_id: str, tags: dict[str, str]):
        return self._client.create_model_version(name, f"models:/{model_id}", run_id=run_id,
                                                 tags=tags, model_id=model_id)

    def describe_version(self, name: str, version, description: str) -> None:
        self._client.update_model_version(name, version, description=description)

    def describe_model(self, name: str, description: str) -> None:
        self._client.update_registered_model(name, description=description)
