"""What a run must repair, found read-only while the Snakefile is parsed; jobs repair it.

Snakemake parses the Snakefile for ``-n``, ``--summary``, ``--lint``, ``--dag`` and
``--report`` too, often beside a live run, so parsing changes nothing. A record that gdlab
wrote can still need its job again: cut short or edited by hand (it no longer parses), a
shard manifest listing runs whose folders were deleted, a sweep's ``mlflow.json`` out of
step with the store (runs deleted or restored in the UI, ``mlflow gc``), or
``experiment.json`` naming an experiment the store lacks (``mlflow.db`` deleted).

Such a record's job gets a **repair token** among its params. Snakemake reruns a job whose
params changed (a default rerun trigger; ``--list-changes params`` names it), and the job
writes the token into the record it makes (:func:`gdlab.io.stamp`). The next parse reads the token
back from the whole record, so it stays equal, and nothing reruns again, until the record
is damaged anew. A healthy record that never needed a repair has the empty token, and
gdlab writes no token field into it.

Only records gdlab writes, found by their names in the rules, are looked at: a user's own
files under ``results/`` are never read, let alone removed. NumPy is not needed here: the
workflow imports this module at every start.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from gdlab.io import TOKEN_KEY
from gdlab.runfiles import manifest_problem, runs_folder


def _digest(*parts: Any) -> str:
    return hashlib.sha256(json.dumps(parts, default=str).encode()).hexdigest()[:16]


def read_record(path: str | os.PathLike) -> tuple[dict | None, str | None]:
    """``(record, None)`` for a whole JSON object, ``(None, why)`` for a damaged one,
    ``(None, None)`` for a missing file."""
    try:
        raw = Path(path).read_bytes()
    except FileNotFoundError:
        return None, None
    try:
        record = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return None, "is damaged (not valid JSON)"
    if not isinstance(record, dict):
        return None, f"is damaged (a JSON {type(record).__name__}, not the record gdlab writes)"
    return record, None


def token(path: str | os.PathLike, problem: Callable[[dict], str | None] | None = None
          ) -> tuple[str, str | None]:
    """The record's repair token, and why it must be made again (None: it need not).

    ``problem(record)`` says why a whole record is stale (None: it is not); it is given the
    record as read here, so nothing is read twice. A whole record without a problem keeps
    its own token; one with a problem gets a token derived from its own and the problem; a
    damaged one, a token
    from its bytes, time and inode (damage cut the same way twice still differs). A
    missing record has the empty token: its job runs anyway, as Snakemake's own rule."""
    record, damage = read_record(path)
    if damage is not None:
        st = Path(path).stat()
        raw = Path(path).read_bytes()
        return _digest("damaged", hashlib.sha256(raw).hexdigest(), st.st_mtime_ns,
                       st.st_ino), damage
    if record is None:
        return "", None
    own = str(record.get(TOKEN_KEY, ""))
    why = problem(record) if problem else None
    if why is None:
        return own, None
    return _digest(own, why), why


class Repairs:
    """The repair tokens of one parse: each record read once, each repair said once.

    A token is computed at a job's first asking and kept: Snakemake asks for a job's
    params again while it runs the job, after it has removed the job's old outputs, and
    the job must write the token it was planned with. ``report`` prints what must be made
    again and by which job (the workflow's main process only: a cluster job parses the
    Snakefile too)."""

    def __init__(self, report: bool = True):
        self._tokens: dict[Path, str] = {}
        self._edited: set[Path] | None = None  # the sweeps the store shows otherwise
        self.report = report

    def token(self, path: str | os.PathLike, job: str,
              problem: Callable[[dict], str | None] | None = None) -> str:
        """``path``'s token; ``problem(record)`` (asked once) says why a whole record is
        stale."""
        path = Path(path)
        if path not in self._tokens:
            value, why = token(path, problem)
            if why is not None and self.report:
                print(f"gdlab: {path} {why}; the {job} job makes it again", file=sys.stderr)
            self._tokens[path] = value
        return self._tokens[path]

    def setup(self, uri: str, experiment: str | os.PathLike) -> str:
        """``experiment.json``'s token: also new when the store lacks its experiment
        (``mlflow.db`` deleted or replaced), or the project's id record is damaged. The
        setup job then rewrites it, and every track job, which reads it, runs after."""

        def problem(_record):
            from gdlab.tracking import store_lost

            problems = []
            if store_lost(uri, experiment):
                problems.append("names an experiment the tracking store lacks (mlflow.db "
                                "deleted or replaced?): every sweep syncs into it again")
            _, damage = read_record(Path(experiment).with_name("project.json"))
            if damage is not None:
                problems.append(f"goes with project.json, which {damage}")
            return "; ".join(problems) or None

        return self.token(experiment, "mlflow_setup", problem)

    def track(self, uri: str, record: str | os.PathLike) -> str:
        """A sweep's ``mlflow.json`` token: also new when the store's runs of the sweep
        are not the ones it lists (deleted or restored in the UI, ``mlflow gc``)."""

        def problem(_record):
            if self._edited is None:  # one query for every sweep
                from gdlab.tracking import edited_sweeps

                self._edited = set(edited_sweeps(uri, Path(record).parents[2]))
            if Path(record) in self._edited:
                return ("is out of step with the tracking store: its runs changed (deleted "
                        "or restored in the UI?), or mlflow gc removed some")
            return None

        return self.token(record, "track", problem)

    def shard(self, manifest: str | os.PathLike, job: str = "train") -> str:
        """A shard manifest's token: also new when it lists runs whose files are gone or
        changed (:func:`stale_runs`): its shard trains them anew."""
        return self.token(manifest, job, lambda record: stale_runs(manifest, record))


def stale_runs(manifest: str | os.PathLike, record: dict | None = None) -> str | None:
    """Why a whole shard manifest must be made again: the runs it lists whose files are
    gone (a damaged run's folder deleted, as its error advises) or are not the size it
    recorded (cut short, edited): a ``stat`` a file, no file read. Its train job then
    trains them anew (a run whose files do not read back whole is never reused).
    ``record``: the manifest, if already read."""
    manifest = Path(manifest)
    if record is None:
        record, _ = read_record(manifest)
    if record is None:
        return None  # missing or damaged: said by token()
    problem = manifest_problem(record)
    if problem is not None:  # valid JSON of another shape ([] or {})
        return f"is damaged ({problem})"
    runs = record["runs"]
    folder = runs_folder(manifest)
    stale = [name for name, entry in runs.items()
             if _changed(folder.joinpath(*name.split("/")), entry)]
    if not stale:
        return None
    return (f"lists {len(stale)} run(s) whose files are gone or changed ({stale[0]}"
            f"{', ...' if len(stale) > 1 else ''})")


def _changed(run: Path, entry) -> bool:
    sizes = entry.get("sizes") if isinstance(entry, dict) else None
    if not isinstance(sizes, dict):  # a manifest of an older gdlab: metrics.json is there
        return not (run / "metrics.json").is_file()
    for name, size in sizes.items():
        try:
            if (run / name).stat().st_size != size:
                return True
        except OSError:
            return True
    return False
