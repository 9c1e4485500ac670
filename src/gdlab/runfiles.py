"""A run's files and a sweep's files on disk: where they live, how they are written, and
the one reader every later step uses (summaries, figures, MLflow).

Every run of a sweep has one stable directory, ``results/<dataset>/<model>/runs/<run
name>/``, whatever shard trained it, holding:

* ``model.npz``: the fitted parameters and the scaler that standardised the inputs;
* ``history.csv``: one row per epoch;
* ``metrics.json``: the run's spec, flags and train/val/test metrics (identical bytes for
  identical inputs and code);
* ``timing.json``: wall-clock start and end (different on every training, so kept apart).

A train job writes a **shard manifest** (``shards/<k>.json``) after all its runs: the
names, run keys and content keys of its runs. The manifest is the job's declared output;
downstream jobs read run names from manifests. The **content key** of a run covers what
its results are (parameters, history, metrics), not the code version that produced them,
so a retrained run whose results are byte-identical keeps its MLflow run.

Files are written atomically (:mod:`gdlab.io`), so a damaged one comes from outside
(a disk, an editor, a copy cut short). The readers here check what they read: a history
with fewer rows than the run's epochs, an archive that does not open, files whose
content key is not the manifest's. They raise :class:`DamagedRunFile`, which names the
file and says what to do, instead of passing a damaged run on.

NumPy and the standard library only: train jobs must start fast.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np

from gdlab.io import DamagedFile, load_npz, read_json
from gdlab.methods import METHODS

RUN_FILES = ("model.npz", "history.csv", "metrics.json", "timing.json")
#: the files a run's content key covers; a shard manifest records their sizes, so that a
#: file cut short or edited is noticed at the next start with a stat, without reading it
CONTENT_FILES = ("model.npz", "history.csv", "metrics.json")
#: metrics.json fields that name the code, not the result (left out of the content key)
CODE_FIELDS = ("code_version", "run_key")
#: a sweep's tables and records, beside its runs/
SWEEP_FILES = ("summary.csv", "configs.csv", "best.json", "baseline.json")


class DamagedRunFile(DamagedFile):
    """A run's file that does not hold what its run says (see :class:`gdlab.io.DamagedFile`).
    The remedy is the run's whole folder: deleted, it is noticed at the next start (its
    shard's manifest lists a run that is gone: :func:`gdlab.repairs.stale_runs`) and
    trained anew."""

    def __init__(self, path: str | os.PathLike, problem: str):
        self.path = Path(path)
        folder = self.path if self.path.name not in RUN_FILES else self.path.parent
        ValueError.__init__(self, f"{path} is damaged: {problem}. Delete the run's folder "
                                  f"({folder}) and run snakemake again: its shard trains "
                                  "it anew (the shard's other runs are reused)")


def run_dir(sweep_dir: str | os.PathLike, run_name: str) -> Path:
    """``<sweep_dir>/runs/<run name>``: the run name's slashes become directories."""
    return Path(sweep_dir, "runs", *run_name.split("/"))


# --------------------------------------------------------------------------------------
# Writing and reading single files
# --------------------------------------------------------------------------------------


def history_csv(history: dict[str, np.ndarray]) -> str:
    cols = list(history)
    rows = [",".join(cols)]
    for i in range(len(history["epoch"])):
        rows.append(",".join(_fmt(history[c][i]) for c in cols))
    return "\n".join(rows) + "\n"


def read_history(path, n_epochs: int | None = None) -> dict[str, np.ndarray]:
    """Read ``history.csv`` back (NumPy only); with ``n_epochs``, check it has that many
    rows (a file cut short still parses)."""
    try:
        with open(path, encoding="utf-8") as f:
            cols = f.readline().strip().split(",")
            data = np.loadtxt(f, delimiter=",", ndmin=2)
    except ValueError as err:
        raise DamagedRunFile(path, f"not a table of numbers ({err})") from None
    if data.size and data.shape[1] != len(cols) or (n_epochs is not None
                                                    and data.shape[0] != n_epochs):
        raise DamagedRunFile(path, f"{data.shape[0]} rows of {data.shape[1] if data.size else 0}"
                                   f" columns, expected {n_epochs} rows of {len(cols)}")
    return {c: (data[:, i].astype(np.int64) if c == "epoch" else data[:, i])
            for i, c in enumerate(cols)}


def read_model(path) -> dict[str, np.ndarray]:
    """A run's ``model.npz`` (no pickles), or :class:`DamagedRunFile` naming it."""
    try:
        return load_npz(path)
    except (zipfile.BadZipFile, ValueError, EOFError, OSError) as err:
        if isinstance(err, FileNotFoundError):
            raise
        raise DamagedRunFile(path, f"not a readable .npz archive ({err})") from None


def file_sizes(directory: str | os.PathLike) -> dict[str, int]:
    """The sizes of a run's :data:`CONTENT_FILES`, as its shard manifest records them."""
    return {f: Path(directory, f).stat().st_size for f in CONTENT_FILES}


def content_key(model_npz: bytes, history: bytes, result: dict) -> str:
    """What a run's results are: its arrays, history and metrics, not the code's version."""
    h = hashlib.sha256()
    for part in (model_npz, history, json.dumps(
            {k: v for k, v in result.items() if k not in CODE_FIELDS},
            sort_keys=True, separators=(",", ":")).encode()):
        h.update(hashlib.sha256(part).digest())
    return h.hexdigest()[:32]


def run_content_key(directory: str | os.PathLike) -> str:
    """:func:`content_key` of a run directory's files."""
    d = Path(directory)
    return content_key((d / "model.npz").read_bytes(), (d / "history.csv").read_bytes(),
                       read_json(d / "metrics.json"))


def manifest_problem(record) -> str | None:
    """What is wrong with a shard manifest's JSON (``[]``, ``{}``), or None: it maps
    ``runs`` to ``{run name: {run_key, content_key}}``."""
    if not isinstance(record, dict):
        return f"a shard manifest is a JSON object, got {type(record).__name__}"
    runs = record.get("runs")
    if not isinstance(runs, dict):
        return "a shard manifest maps \"runs\" to its runs, and this one has no such mapping"
    bad = [n for n, e in runs.items() if not isinstance(e, dict)]
    return f"run {bad[0]!r} is not a mapping of its keys" if bad else None


def read_manifest(path: str | os.PathLike) -> dict:
    """A shard manifest; :class:`gdlab.io.DamagedFile` naming it and the fix when it is
    not one (cut short, or valid JSON of another shape)."""
    record = read_json(path)
    problem = manifest_problem(record)
    if problem is not None:
        raise DamagedFile(path, problem)
    return record


def manifest_runs(paths) -> dict[str, dict]:
    """Run name -> {run_key, content_key} over several shard manifests (names are unique)."""
    runs: dict[str, dict] = {}
    for path in paths:
        for name, entry in read_manifest(path)["runs"].items():
            if name in runs:
                raise ValueError(f"run {name!r} is in two shard manifests (one is {path})")
            runs[name] = entry
    return runs


#: the stage folders whose shards train into the sweep's runs/, not the stage's own
_SHARED_RUNS = {m.stage_folder for m in METHODS.values()
                if m.stage_folder and not m.stage_owns_runs}


def runs_folder(manifest: Path) -> Path:
    """Where the runs a shard manifest lists live: a sweep's shard's in the sweep's
    ``runs/``; a stage's (``<sweep>/<stages>/<s>/shards/``) in the stage's own ``runs/``,
    or the sweep's when its method says its stages share them."""
    owner = manifest.parent.parent  # the sweep, or a stage's folder
    if owner.parent.name in _SHARED_RUNS:
        return owner.parent.parent / "runs"
    return owner / "runs"


def read_table(path) -> list[dict[str, str]]:
    """The rows of a sweep's ``summary.csv`` or ``configs.csv`` (values stay strings)."""
    with open(path, encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def _fmt(v) -> str:
    v = v.item() if isinstance(v, np.generic) else v
    return str(v) if isinstance(v, int) else repr(float(v))


# --------------------------------------------------------------------------------------
# The one reader: a run, a sweep
# --------------------------------------------------------------------------------------


@dataclass
class Run:
    """One finished run, as its files describe it. ``metrics.json`` is read at once; the
    history, timing and model arrays when first asked for (a sweep figure of a thousand
    runs needs no model, MLflow's kept children need no history)."""

    name: str
    dir: Path
    #: its ``metrics.json``: spec, flags, metrics
    result: dict
    #: the content key its shard manifest records (None when read without a manifest)
    content_key: str | None = None

    @property
    def hyperparameters(self) -> dict:
        return self.result["hyperparameters"]

    @property
    def dataset(self) -> str:
        return self.result.get("dataset", "")

    @property
    def model(self) -> str:
        return self.result.get("model", "")

    @property
    def task(self) -> str:
        return self.result.get("task", "")

    @property
    def seed(self) -> int:
        return int(self.result.get("seed", 0))

    @property
    def diverged(self) -> bool:
        return bool(self.result.get("diverged", False))

    @property
    def metrics(self) -> dict:
        return self.result.get("metrics", {})

    @property
    def n_epochs(self) -> int:
        return int(self.result["n_epochs"])

    @property
    def run_key(self) -> str:
        return self.result["run_key"]

    @property
    def config(self) -> str:
        """Its configuration: the run name without ``/repeat~r``."""
        return self.result.get("config", self.name)

    @property
    def repeat(self) -> int:
        return int(self.result.get("repeat", 0))

    @property
    def files(self) -> list[Path]:
        return [self.dir / f for f in RUN_FILES]

    @cached_property
    def history(self) -> dict[str, np.ndarray]:
        """``history.csv``, checked to hold one row per epoch the run trained (a closed-form
        solve, 0 epochs, records its solution as epoch 0: one row)."""
        return read_history(self.dir / "history.csv", self.n_epochs or 1)

    @cached_property
    def timing(self) -> dict:
        return read_json(self.dir / "timing.json")

    @cached_property
    def arrays(self) -> dict[str, np.ndarray]:
        """Every array of ``model.npz`` (what :func:`gdlab.models.registry.predict` reads)."""
        return read_model(self.dir / "model.npz")

    def check(self) -> None:
        """Raise :class:`DamagedRunFile` unless the files are the ones its manifest
        recorded (their content key), the history is whole and the archive opens. Files
        that hash to the recorded key are the bytes training wrote (and opened): the
        archive is opened only when no key was recorded."""
        if self.content_key is not None and run_content_key(self.dir) != self.content_key:
            raise DamagedRunFile(self.dir, "its files are not the ones its shard manifest "
                                           "recorded (changed after training)")
        self.history  # noqa: B018 - the checks of reading them
        if self.content_key is None:
            self.arrays  # noqa: B018


def read_run(sweep_dir: str | os.PathLike, name: str, content_key: str | None = None,
             run_key: str | None = None) -> Run:
    """The run ``name`` of ``sweep_dir``, its ``metrics.json`` read and checked to be its
    (its name, and the run key its shard manifest recorded, when given)."""
    d = run_dir(sweep_dir, name)
    if not (d / "metrics.json").is_file():
        raise DamagedRunFile(d, "its files are gone (its shard's manifest lists it)")
    result = read_json(d / "metrics.json")
    if result.get("run_name") != name:
        raise DamagedRunFile(d / "metrics.json",
                             f"it describes run {result.get('run_name')!r}, not {name!r}")
    if run_key is not None and result.get("run_key") != run_key:
        raise DamagedRunFile(d / "metrics.json",
                             f"it is another run's (run key {result.get('run_key')!r}, its "
                             f"shard recorded {run_key!r}): a folder copied from another "
                             "project or config?")
    return Run(name, d, result, content_key)


def read_runs(sweep_dir: str | os.PathLike, entries: dict[str, dict]) -> list[Run]:
    """The runs ``entries`` (run name -> manifest entry) of ``sweep_dir``, sorted by name."""
    return [read_run(sweep_dir, name, entries[name].get("content_key"),
                     entries[name].get("run_key")) for name in sorted(entries)]


@dataclass
class Sweep:
    """A sweep's files: its runs (from the shard manifests), and the records summarize
    writes (``best.json``, ``baseline.json``, ``configs.csv``) when they exist."""

    dir: Path
    runs: list[Run]

    @property
    def dataset(self) -> str:
        return self.dir.parent.name

    @property
    def model(self) -> str:
        return self.dir.name

    @cached_property
    def best(self) -> dict:
        return read_json(self.dir / "best.json")

    @cached_property
    def baseline(self) -> dict:
        return read_json(self.dir / "baseline.json")

    @cached_property
    def configs(self) -> list[dict[str, str]]:
        """``configs.csv``: one row per configuration (values stay strings)."""
        return read_table(self.dir / "configs.csv")

    @property
    def best_run(self) -> Run | None:
        name = self.best.get("run_name")
        return next((r for r in self.runs if r.name == name), None)

    @property
    def files(self) -> list[Path]:
        """The sweep's tables and records that exist."""
        return [p for p in (self.dir / f for f in SWEEP_FILES) if p.is_file()]


def read_sweep(sweep_dir: str | os.PathLike, manifests: Iterable[str | os.PathLike]) -> Sweep:
    """``results/<dataset>/<model>/`` with the runs its shard ``manifests`` list."""
    return Sweep(Path(sweep_dir), read_runs(sweep_dir, manifest_runs(manifests)))
