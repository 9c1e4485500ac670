"""MLflow as a view of ``results/``: every sweep and run on record, idempotently.

``results/`` is the source of truth; this package copies finished runs into an MLflow
tracking store so they can be browsed, compared and charted in the UI. Nothing here
trains or evaluates anything. One module per concern:

* :mod:`~gdlab.tracking.uri`: which store; its URI hashed, redacted, and fail-fast HTTP;
* :mod:`~gdlab.tracking.layout`: what gdlab writes (names, tags, metrics, descriptions);
* :mod:`~gdlab.tracking.plan`: the runs in the store against those in ``results/``;
* :mod:`~gdlab.tracking.store`: the one store interface, its backend chosen once from
  the URI: :mod:`~gdlab.tracking.server` (a team's server), :mod:`~gdlab.tracking.sql`
  (MLflow's tables, one transaction), :mod:`~gdlab.tracking.sqlite` (all that is
  particular to a SQLite file: creation, journal, lock, lost or edited);
* :mod:`~gdlab.tracking.setup`: the project, the store, the experiment; what the
  workflow checks at every start;
* :mod:`~gdlab.tracking.sync`: the track job of a sweep;
* :mod:`~gdlab.tracking.best_model`: the best model, logged on its run and registered.

Importing this package imports no MLflow: the workflow asks it at every start.
"""

from gdlab.tracking.setup import (
    edited_sweeps,
    project_id,
    setup_experiment,
    store_lost,
)
from gdlab.tracking.sync import sync_sweep, track_lock
from gdlab.tracking.uri import (
    job_uri,
    redact_uri,
    redacted_errors,
    resolve_tracking_uri,
    uri_hash,
)

__all__ = [
    "edited_sweeps",
    "job_uri",
    "project_id",
    "redact_uri",
    "redacted_errors",
    "resolve_tracking_uri",
    "setup_experiment",
    "store_lost",
    "sync_sweep",
    "track_lock",
    "uri_hash",
]
