"""The study note's lesson, measured: why logistic regression minimises log loss and not
the squared error of its sigmoid.

A lesson sweep is a logistic-regression sweep whose grid lists both losses. Its runs come
in **pairs**: the same hyperparameters but the loss, so the same seed (:func:`gdlab.grid.
run_seed` leaves the loss out) and therefore the same start. From a *saturated* start
(``init: normal`` with a large ``init_scale``: ``|w·x + b|`` large on most points) the
sigmoid is flat, so is the squared loss, and gradient descent on it barely moves; log
loss keeps a gradient of ``p - y`` and gets away. How long each loss stays on that
plateau is what the lesson shows:

* :func:`plateau_epochs`: the first epoch a run is **off the plateau**: its validation
  log loss has come down ``1 - NEAR`` of the way from the plateau (the pair's first
  epoch) to the best any run of the sweep with the same ``l2`` ended at (what is
  reachable there), *and* is below the log loss of a model that knows nothing, which
  always predicts the training class share (:func:`constant_log_loss`); None if never;
* :func:`lesson_record`: every pair from the saturated start, with each loss's epochs on
  the plateau and final validation log loss, and the pair the figure draws.

The "best run" of a lesson sweep is not the lesson: the pairs are chosen by their start
and learning rate, never by how well one of them did. NumPy only.
"""

from __future__ import annotations

import math

import numpy as np

from gdlab.names import LESSON_LOSSES
from gdlab.runfiles import Run

#: "off the plateau": the validation log loss within this fraction of the way from the
#: best reached back up to the plateau (and below :func:`constant_log_loss`)
NEAR = 0.10


def constant_log_loss(y_train, y_val) -> float:
    """The validation log loss of the model that knows nothing: it predicts the training
    share ``p`` of class 1 for every point, so its log loss on validation labels with
    share ``q`` is ``-(q log p + (1 - q) log(1 - p))``. Below it, a run has learned
    something; above it, it is worse than a guess."""
    p = float(np.mean(np.asarray(y_train) == 1))
    q = float(np.mean(np.asarray(y_val) == 1))
    eps = np.finfo(np.float64).eps  # the metric's clip (a one-class training split)
    p = min(max(p, eps), 1 - eps)
    return -(q * math.log(p) + (1 - q) * math.log(1 - p))


def pairs(runs: list[Run]) -> list[dict[str, Run]]:
    """Runs that differ only in their loss, as ``{loss: run}`` with both losses (repeats
    pair up by repeat), in order of their other hyperparameters."""
    groups: dict[str, dict[str, Run]] = {}
    for r in runs:
        hp = r.hyperparameters
        if hp.get("loss") not in LESSON_LOSSES:
            continue
        key = repr(sorted((k, repr(v)) for k, v in hp.items() if k != "loss")) + f"/{r.repeat}"
        groups.setdefault(key, {})[hp["loss"]] = r
    return [groups[k] for k in sorted(groups) if len(groups[k]) == len(LESSON_LOSSES)]


def saturated(pair: dict[str, Run]) -> bool:
    """Whether a pair starts from a seeded normal draw (``init: normal``, scale > 0): the
    start the lesson is about. A zero start has ``z = 0`` everywhere, where both losses
    have a gradient."""
    hp = pair[LESSON_LOSSES[0]].hyperparameters
    return hp.get("init") == "normal" and float(hp.get("init_scale") or 0.0) > 0


def lesson_pairs(runs: list[Run]) -> list[dict[str, Run]]:
    """The pairs the lesson is about: those from the saturated start, or every pair when
    the grid has no such start (``lesson.json``'s ``pairs``, in this order)."""
    every = pairs(runs)
    return [p for p in every if saturated(p)] or every


def plateau_epochs(run: Run, target: float) -> int | None:
    """The first epoch whose validation log loss is at most ``target``; None if none."""
    curve = np.asarray(run.history.get("val_log_loss", []), dtype=np.float64)
    hits = np.flatnonzero(np.isfinite(curve) & (curve <= target))
    return int(run.history["epoch"][hits[0]]) if hits.size else None


def _final(run: Run) -> float | None:
    curve = np.asarray(run.history.get("val_log_loss", []), dtype=np.float64)
    return float(curve[-1]) if curve.size and math.isfinite(curve[-1]) else None


def best_reached(runs: list[Run]) -> dict[float, float]:
    """``l2`` -> the least final validation log loss of the runs with that ``l2`` that did
    not diverge: what gradient descent can reach on that problem."""
    out: dict[float, float] = {}
    for r in runs:
        final = _final(r)
        if not r.diverged and final is not None:
            l2 = float(r.hyperparameters.get("l2") or 0.0)
            out[l2] = min(out.get(l2, math.inf), final)
    return out


def lesson_record(runs: list[Run], constant: float | None = None) -> dict:
    """What the lesson shows, as numbers (``lesson.json``).

    For every pair from the saturated start (every pair, if the grid has no such start):
    its hyperparameters but the loss, the target (:data:`NEAR` of the way from the log-loss
    run's first epoch to the best reached with its ``l2``, :func:`best_reached`, and never
    above ``constant``: the validation log loss of always predicting the class share,
    :func:`constant_log_loss`), and per
    loss the epochs until the validation log loss is at most the target (None: it never
    got there) and its final value. ``shown`` is the pair the figure draws (:func:`_shown`).
    """
    entries = []
    chosen = lesson_pairs(runs)
    reached = best_reached(runs)
    for p in chosen:
        first = p[LESSON_LOSSES[0]]
        best = reached.get(float(first.hyperparameters.get("l2") or 0.0))
        plateau = np.asarray(first.history.get("val_log_loss", [np.nan]))[0]
        target = (best + NEAR * (plateau - best)
                  if best is not None and math.isfinite(plateau) else None)
        if target is not None and constant is not None:
            target = min(target, constant)  # off the plateau: better than knowing nothing
        entries.append({
            "hyperparameters": {k: v for k, v in first.hyperparameters.items() if k != "loss"},
            "repeat": first.repeat,
            "target_val_log_loss": target,
            "runs": {loss: {"run_name": run.name, "diverged": run.diverged,
                            "plateau_epochs": (plateau_epochs(run, target)
                                               if target is not None else None),
                            "n_epochs": run.n_epochs, "final_val_log_loss": _final(run)}
                     for loss, run in p.items()},
        })
    return {"saturated_start": any(saturated(p) for p in chosen), "near": NEAR,
            "constant_val_log_loss": constant, "pairs": entries, "shown": _shown(entries)}


def _shown(entries: list[dict]) -> int | None:
    """The pair the figure draws: among those trained by plain gradient descent with the
    least ``l2`` when there are, the smallest learning rate at which the log-loss run
    leaves the plateau and the squared one does not (or later); failing that, the pair
    whose squared run ends furthest above its log-loss run."""
    if not entries:
        return None
    plain = [i for i, e in enumerate(entries) if e["hyperparameters"].get("optimizer") == "gd"]
    pool = plain or list(range(len(entries)))
    least = min(float(entries[i]["hyperparameters"].get("l2") or 0.0) for i in pool)
    pool = [i for i in pool if float(entries[i]["hyperparameters"].get("l2") or 0.0) == least]

    def lr(i: int) -> float:
        return float(entries[i]["hyperparameters"]["lr"])

    def epochs(i: int, loss: str) -> float:
        e = entries[i]["runs"][loss]["plateau_epochs"]
        return math.inf if e is None else e

    lesson = [i for i in pool if epochs(i, "log_loss") < epochs(i, "squared")]
    if lesson:
        return min(lesson, key=lambda i: (lr(i), i))

    def gap(i: int) -> float:
        runs = entries[i]["runs"]
        a, b = (runs[loss]["final_val_log_loss"] for loss in LESSON_LOSSES)
        return (b - a) if a is not None and b is not None else -math.inf

    return min(pool, key=lambda i: (-gap(i), lr(i), i))
