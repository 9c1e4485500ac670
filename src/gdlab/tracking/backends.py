"""Which store a tracking URI names: one backend per URI scheme, chosen here and only here
(as MLflow registers one store class per scheme).

The backends are imported when asked for: the workflow asks :func:`backend` for its
read-only checks at every start, and a SQL backend's module imports SQLAlchemy."""

from __future__ import annotations

from gdlab.tracking.store import Store


def backend(uri: str) -> type[Store]:
    """The store class of ``uri``, by its scheme (``postgresql+psycopg2`` is
    ``postgresql``); any other scheme gets :class:`~gdlab.tracking.store.Store`, MLflow's
    client as it is."""
    from gdlab.tracking.server import ServerStore
    from gdlab.tracking.sql import SqlStore
    from gdlab.tracking.sqlite import SqliteStore

    scheme = uri.partition(":")[0].partition("+")[0].lower()
    return {"http": ServerStore, "https": ServerStore, "sqlite": SqliteStore,
            "postgresql": SqlStore, "mysql": SqlStore, "mssql": SqlStore}.get(scheme, Store)


def open_store(uri: str) -> Store:
    """The store of ``uri``, through its backend (:func:`backend`)."""
    return backend(uri)(uri)
