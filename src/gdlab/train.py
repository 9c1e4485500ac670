"""Training: one run alone, or a shard of a sweep's runs in one process.

A train job trains a *shard*: the runs of one sweep that :func:`gdlab.grid.shard_of`
assigns to it. The runs share one load of the split; each is computed exactly as if it
were alone (its model, seed and data depend on its spec only), so its files are
byte-identical whatever the sharding and ``--cores``. The files of a run and the shard
manifest are described in :mod:`gdlab.runfiles`. Imports NumPy and gdlab only: a train
job must start fast.

Successive halving trains a sweep in *rungs*: rung r's job is a shard of the runs promoted
to it, written under ``<sweep>/rungs/<r>/`` with each run's training state
(``state.npz``), and each run goes on from its state of rung r - 1 (byte-identical to
training it straight through). :func:`publish_shard` then puts every run's last rung in
its ordinary place, so summaries, figures and MLflow see a sweep like any other.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from gdlab import metrics as M
from gdlab.data.core import Split, load_split
from gdlab.io import (
    canonical_json,
    load_npz,
    npz_bytes,
    read_json,
    stamp,
    write_bytes,
    write_json,
)
from gdlab.models.registry import model_info
from gdlab.runfiles import (
    RUN_FILES,
    content_key,
    file_sizes,
    history_csv,
    read_run,
    run_content_key,
    run_dir,
)
from gdlab.settling import tail_record


def evaluate(task: str, model, X, y, n_classes: int = 2) -> dict[str, float]:
    """Metrics of a fitted model on one part of the data (NaN where outputs are not finite).

    Every metric of :data:`gdlab.metrics.METRIC_KEYS` for the target
    (:func:`gdlab.metrics.metrics_of` of ``predict`` or ``predict_proba``: the function the
    validation curves use, so a curve ends at its final value).
    """
    kind = M.target_kind(task, n_classes)
    params = [a for a in model.to_arrays().values() if a.dtype.kind == "f"]
    if not all(np.all(np.isfinite(a)) for a in params):
        return dict.fromkeys(M.METRIC_KEYS[kind], float("nan"))
    with np.errstate(all="ignore"):  # a diverged model's overflow: NaN metrics below
        out = model.predict(X) if kind == "regression" else model.predict_proba(X)
    return M.metrics_of(kind, y, out)


def fit_run(spec: dict, split: Split, resume: dict | None = None):
    """Fit the model a run spec describes (going on from the training state ``resume``);
    returns the fitted model and its wall times (ms)."""
    model = model_info(spec["model"]).load()(**spec["hyperparameters"], seed=spec["seed"])
    start = time.time()
    model.fit(split.X_train, split.y_train, X_val=split.X_val, y_val=split.y_val,
              resume=resume)
    return model, int(start * 1000), int(time.time() * 1000)


#: a halving run's training state at its rung, beside its RUN_FILES
STATE_FILE = "state.npz"


def train_run(spec: dict, split: Split, out_dir,
              resumed: tuple[dict, int] | None = None) -> tuple[dict, str]:
    """Train the run ``spec`` and write its files to ``out_dir``; returns (result, content key).

    ``resumed``: (training state, start time in ms) of the run at an earlier rung of a
    halving search; training goes on from it, and the run's start is that rung's.
    """
    model, start_ms, end_ms = fit_run(spec, split, resumed[0] if resumed else None)
    start_ms = resumed[1] if resumed else start_ms
    out = Path(out_dir)
    # the model's own arrays and the scaler: what gdlab.models.registry.predict reads
    weights = npz_bytes({**model.to_arrays(), "x_mean": split.x_mean, "x_scale": split.x_scale})
    history = history_csv(model.history_).encode("utf-8")
    result = {
        **spec,
        "n_epochs": model.n_epochs_,
        "diverged": bool(model.diverged_),
        "converged": bool(model.converged_),
        "final_objective": float(model.history_["train_objective"][-1]),
        # a solver's iterations, evaluations and why it stopped (gdlab.solvers)
        **({"solver_stats": model.solver_} if hasattr(model, "solver_") else {}),
        "metrics": {part: evaluate(split.task, model, X, y, split.n_classes)
                    for part, X, y in (
            ("train", split.X_train, split.y_train),
            ("val", split.X_val, split.y_val),
            ("test", split.X_test, split.y_test))},
        # the validation curves over the last epochs: what the best run is chosen by
        "tail": tail_record(model.history_),
    }
    write_bytes(out / "model.npz", weights)
    write_bytes(out / "history.csv", history)
    if "rung" in spec:
        write_bytes(out / STATE_FILE, npz_bytes(model.training_state()))
    write_json(out / "timing.json", {"start_time_ms": start_ms, "end_time_ms": end_ms})
    write_json(out / "metrics.json", result)  # last: a run with metrics.json is whole
    return result, content_key(weights, history, _json_roundtrip(result))


def run(spec: dict, split_path, out_dir) -> dict:
    """Train the run ``spec`` on the split at ``split_path`` and write its files to ``out_dir``."""
    return train_run(spec, load_split(split_path), out_dir)[0]


def train_shard(shard: dict, split_path, sweep_dir, manifest_path,
                log: Callable[[str], None] | None = None, previous_dir=None,
                repair: str = "") -> dict:
    """Train every run of ``shard`` (``{"dataset", "model", "shard", "runs": [spec...]}``).

    Writes each run's files under ``<sweep_dir>/runs/<run name>/``, then the shard manifest
    at ``manifest_path`` (last, so a shard with a manifest is whole). Returns the manifest.
    ``previous_dir``: a halving search's previous rung (``<sweep>/rungs/<r - 1>``), whose
    runs' saved states this rung's runs go on from. ``repair``: the job's repair token
    (:mod:`gdlab.repairs`), kept in the manifest.
    """
    log = log or (lambda _msg: None)
    split = None  # loaded only if a run needs fitting
    entries, fit_seconds, reused = {}, 0.0, 0
    for spec in sorted(shard["runs"], key=lambda s: s["run_name"]):
        out = run_dir(sweep_dir, spec["run_name"])
        key = finished_run(out, spec)
        if key is not None:  # trained before with this very spec: same bytes, not refit
            reused += 1
        else:
            split = split if split is not None else load_split(split_path)
            resumed = saved_state(run_dir(previous_dir, spec["run_name"]), spec) \
                if previous_dir is not None else None
            t = time.perf_counter()
            result, key = train_run(spec, split, out, resumed)
            fit_seconds += time.perf_counter() - t
            log(f"{spec['run_name']}: {result['n_epochs']} epochs"
                f"{' (continued)' if resumed else ''}, diverged={result['diverged']}")
        entries[spec["run_name"]] = {"run_key": spec["run_key"], "content_key": key,
                                     "sizes": file_sizes(out)}
    manifest = {"dataset": shard["dataset"], "model": shard["model"], "shard": shard["shard"],
                "runs": entries}
    if "rung" in shard:
        manifest["rung"] = shard["rung"]
    manifest = stamp(manifest, repair)
    write_json(manifest_path, manifest)
    log(f"trained {len(entries) - reused} runs, reused {reused}: fit and write "
        f"{fit_seconds:.3f} s, job {_process_seconds():.3f} s since the process started")
    return manifest


def saved_state(directory, spec: dict) -> tuple[dict, int] | None:
    """(training state, start time in ms) of the run ``spec`` saved at an earlier rung in
    ``directory``, or None (train from the start) unless it is the same run — spec equal
    but for epochs, rung and run key — trained to fewer epochs. Either way the result is
    the same bytes: going on from a state is only faster."""
    d = Path(directory)
    try:
        before = read_json(d / "metrics.json")
        timing = read_json(d / "timing.json")
        state = load_npz(d / STATE_FILE)
    except (OSError, ValueError, KeyError):
        return None

    now = _json_roundtrip(spec)
    then = {k: before.get(k) for k in now}

    def same_run(s):  # a spec but for its budget
        return {**{k: v for k, v in s.items() if k not in ("rung", "run_key")},
                "hyperparameters": {k: v for k, v in s["hyperparameters"].items()
                                    if k != "epochs"}}

    if same_run(then) != same_run(now) or \
            then["hyperparameters"]["epochs"] > now["hyperparameters"]["epochs"]:
        return None
    return state, int(timing["start_time_ms"])


def publish_shard(names: list[str], sweep_dir, rungs: list[dict], shard: str,
                  dataset: str, model: str, manifest_path, repair: str = "") -> dict:
    """The ordinary shard manifest of a halving sweep's runs ``names``: each run's files
    of the last rung that trained it are copied to ``<sweep_dir>/runs/<run name>/``.

    ``rungs``: every rung's record (:func:`gdlab.summary.promote`), rung 0 first.
    """
    last = {entry["run_name"]: r for r, rec in enumerate(rungs) for entry in rec["ranking"]}
    entries = {}
    for name in sorted(names):
        src = run_dir(Path(sweep_dir, "rungs", str(last[name])), name)
        out = run_dir(sweep_dir, name)
        for f in ("model.npz", "history.csv", "timing.json", "metrics.json"):  # metrics last
            write_bytes(out / f, (src / f).read_bytes())
        entries[name] = {"run_key": read_json(out / "metrics.json")["run_key"],
                         "content_key": run_content_key(out), "sizes": file_sizes(out)}
    manifest = stamp({"dataset": dataset, "model": model, "shard": shard, "runs": entries},
                     repair)
    write_json(manifest_path, manifest)
    return manifest


def finished_run(directory, spec: dict) -> str | None:
    """The content key of a run already trained from exactly ``spec``, else None.

    Another shard, or this one before a grid edit or a kill, may have trained it: its run
    key covers its data, model, hyperparameters, seed and code, and training is
    deterministic, so its files are what training again would write. Files that are not
    whole (a history cut short, an archive that does not open, a file missing) are not
    reused: the run is trained again. Delete the run's directory to force a refit.
    """
    d = Path(directory)
    files = (*RUN_FILES, STATE_FILE) if "rung" in spec else RUN_FILES
    if not all((d / f).is_file() for f in files):
        return None
    try:
        run = read_run(d.parents[len(Path(spec["run_name"]).parts)], spec["run_name"])
        if any(run.result.get(k) != v for k, v in _json_roundtrip(spec).items()):
            return None
        run.history, run.arrays  # noqa: B018 - reading them checks them
        read_json(d / "timing.json")
    except (OSError, ValueError, KeyError):  # DamagedFile is a ValueError
        return None
    return run_content_key(d)


def _json_roundtrip(result: dict) -> dict:
    """The result as metrics.json reads back (non-finite floats are null there)."""
    return json.loads(canonical_json(result))


def _process_seconds() -> float:
    """Seconds since this process started (Linux; NaN elsewhere): a job's whole cost."""
    try:
        with open("/proc/self/stat", encoding="ascii") as f:
            start_ticks = int(f.read().rsplit(")", 1)[1].split()[19])
        with open("/proc/uptime", encoding="ascii") as f:
            uptime = float(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return float("nan")
    return uptime - start_ticks / os.sysconf("SC_CLK_TCK")
