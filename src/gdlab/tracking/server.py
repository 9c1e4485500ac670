"""A team's tracking server (``http``, ``https``): MLflow's REST API through its client.

A child is four requests and one upload a file (:meth:`Store.write_child`: the run, its
dataset inputs, its files, one ``log_batch`` of params, metrics and tags, its status),
with no read in between. Every request is checked (MLflow's client raises on any answer
but success), and a child is complete only once its last request succeeded, so a server
that dies mid-sync loses nothing a rerun would not write again. A child's requests wait
on the network, not on this process, so a sweep's new children are written several at
a time.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

from gdlab.tracking.layout import ChildRecord
from gdlab.tracking.store import Store

#: children written at once (each is a chain of requests)
SERVER_THREADS = 4


class ServerStore(Store):
    """An MLflow tracking server."""

    via = "MLflow's REST API"

    def __init__(self, uri: str):
        # MLflow's client prints a run's address at each set_terminated, fetching the whole
        # run for it: one request a child, for a line nobody reads in a job's log
        os.environ.setdefault("MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT", "true")
        super().__init__(uri)

    def write_children(self, experiment_id: str, records: list[ChildRecord],
                       datasets: list) -> dict[str, str]:
        if len(records) < 2:
            return super().write_children(experiment_id, records, datasets)
        with ThreadPoolExecutor(SERVER_THREADS) as pool:
            ids = pool.map(lambda rec: self.write_child(experiment_id, rec, datasets), records)
            return dict(zip([rec.run for rec in records], ids, strict=True))
