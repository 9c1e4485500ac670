"""Deciding what to write: the runs of a sweep already in the store, against the runs in
``results/``. Pure: testable without MLflow.

A child is identified by its run's directory name (tag ``gdlab.run``) and its **content
key** (tag ``gdlab.content_key``, :func:`gdlab.runfiles.content_key`): what its results
are, not which code made them. So:

* a complete child of the same run and content key is kept (its code tags, parent and
  name are brought up to date);
* a run without one gets a new child;
* everything else of the sweep is soft-deleted (``MlflowClient.delete_run``): a child
  whose results changed, an incomplete or duplicate child, the child of a run no longer
  in the config, a second parent. A run a crash cut off mid-sync (still ``RUNNING``) is
  marked ``FAILED`` first.

Only runs of this project and sweep (tags ``gdlab.project``, ``gdlab.sweep``) are ever
looked at: another project's runs in the same experiment are never touched.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from gdlab.tracking.layout import (
    COMPLETE_TAG,
    CONTENT_TAG,
    CURVES_TAG,
    LAYOUT,
    LAYOUT_TAG,
    ROLE_RUN,
    ROLE_SWEEP,
    ROLE_TAG,
    RUN_TAG,
)

#: statuses of a run gdlab finished writing (a diverged child is FAILED on purpose)
DONE = ("FINISHED", "FAILED")


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
    def run(self) -> str | None:
        """The directory name of the run it logs (a child's identity)."""
        return self.tags.get(RUN_TAG)

    @property
    def complete(self) -> bool:
        return self.status in DONE and self.tags.get(COMPLETE_TAG) == "true"


@dataclass
class SweepPlan:
    parent: Existing | None  # the parent that stays; None: make one
    keep: dict[str, Existing]  # run name -> its complete child that stays
    create: list[str]  # run names that need a new child
    delete: list[Existing]  # superseded, incomplete or duplicate runs, extra parents

    @property
    def unchanged(self) -> bool:
        return self.parent is not None and not self.create and not self.delete


def _oldest_first(runs: Iterable[Existing]) -> list[Existing]:
    return sorted(runs, key=lambda r: (r.start_time, r.run_id))


def plan_sweep(existing: Iterable[Existing], content_keys: dict[str, str],
               curves: str | None = None) -> SweepPlan:
    """What to keep, create and delete so that the store holds exactly one parent and one
    complete child per run of ``content_keys`` (run name -> the child's key,
    :func:`gdlab.tracking.layout.child_key`: the run's results and gdlab's layout).

    ``existing``: the active runs of this project's sweep. Of a run's complete children
    with its content key, the oldest stays. The parent holds its best run's curves (tag
    ``gdlab.curves``: that run's content key), which MLflow cannot take back: a parent
    holding another run's curves, or written by another layout (tag ``gdlab.layout``), is
    replaced (``parent`` None, it goes in ``delete``); one holding none yet, or
    ``curves``, stays (the oldest, if several).
    """
    existing = _oldest_first(existing)

    def stale(parent: Existing) -> bool:
        return parent.tags.get(CURVES_TAG) not in (None, curves) or \
            parent.tags.get(LAYOUT_TAG) != LAYOUT

    parents = sorted((r for r in existing if r.role == ROLE_SWEEP), key=stale)
    if parents and stale(parents[0]):
        parents = [None, *parents]
    keep: dict[str, Existing] = {}
    delete = parents[1:]
    for r in (e for e in existing if e.role == ROLE_RUN):
        if (r.complete and r.run in content_keys and r.run not in keep
                and content_keys[r.run] == r.tags.get(CONTENT_TAG)):
            keep[r.run] = r
        else:
            delete.append(r)
    create = [n for n in sorted(content_keys) if n not in keep]
    return SweepPlan(parents[0] if parents else None, keep, create, delete)
