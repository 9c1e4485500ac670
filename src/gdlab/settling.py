"""What a run's validation curve holds at the end of training, not at its last epoch.

A run whose validation loss swings from epoch to epoch can end on a low point by luck;
picking the best run by that one value rewards oscillation. So gdlab scores a run by its
**tail**: the mean of each validation curve over the last :data:`TAIL` of its epochs
(:func:`tail_record`, written into ``metrics.json`` by the train job, and read by every
choice of a best run: :func:`score`). A curve that moves back and forth in its tail by
more than :data:`OSCILLATION` of its level is **oscillating** (:func:`swing`): such a run
is flagged in the tables and in MLflow, and ranks after every run that is not.

Pure Python and NumPy: the train job imports it.
"""

from __future__ import annotations

import math

import numpy as np

from gdlab.metrics import metric_name

#: the part of a run's epochs whose validation values make its score (the last 20 %)
TAIL = 0.2
#: a tail that moves back and forth by more than this share of its mean level oscillates
OSCILLATION = 0.10
#: the curves judged for oscillation: the continuous losses (an accuracy on 80 points
#: moves in steps of 1/80, which is not a swing of the model)
LOSS_CURVES = ("log_loss", "mse")


def tail_length(n_epochs: int) -> int:
    """How many of ``n_epochs`` epochs are the tail: the last :data:`TAIL`, at least one."""
    return max(1, math.ceil(TAIL * n_epochs)) if n_epochs > 0 else 0


def swing(values) -> float:
    """How far a curve moves back and forth, as a share of its mean level: half of its
    total variation beyond its net change (0 for a curve that only falls or only rises),
    over ``|mean|``. NaN for a curve with a non-finite value."""
    v = np.asarray(values, dtype=np.float64)
    if v.size == 0 or not np.all(np.isfinite(v)):
        return float("nan")
    if v.size < 2:
        return 0.0
    back_and_forth = (np.abs(np.diff(v)).sum() - abs(v[-1] - v[0])) / 2
    level = abs(float(v.mean()))
    return float(back_and_forth / level) if level > 0 else (0.0 if back_and_forth == 0
                                                           else math.inf)


def tail_record(history: dict) -> dict:
    """``metrics.json``'s ``tail``: over the last :func:`tail_length` epochs of
    ``history`` (a run's ``history_``), each validation curve's mean (``val``, by metric)
    and the swing of its loss curves (``swing``, :data:`LOSS_CURVES`), and whether the run
    oscillates (a loss curve's swing above :data:`OSCILLATION`). None where a curve has
    a non-finite value in its tail."""
    epochs = len(history.get("epoch", ()))
    k = tail_length(epochs)
    means, swings = {}, {}
    for column, values in history.items():
        if not column.startswith("val_"):
            continue
        tail = np.asarray(values, dtype=np.float64)[epochs - k:]
        finite = tail.size > 0 and bool(np.all(np.isfinite(tail)))
        name = metric_name(column)
        means[name] = float(tail.mean()) if finite else None
        if name in LOSS_CURVES:
            s = swing(tail)
            swings[name] = s if math.isfinite(s) else None
    return {"epochs": k, "val": means, "swing": swings,
            "oscillating": any(s is not None and s > OSCILLATION for s in swings.values())}


def score(result: dict, metric: str) -> float:
    """A run's selection score (``result``: its ``metrics.json``): the tail mean of its
    validation ``metric`` when its history has that curve, else the final value (f1,
    roc_auc, ... have no per-epoch curve); NaN when there is no finite number."""
    tail = (result.get("tail") or {}).get("val") or {}
    if metric in tail:
        v = tail[metric]
    elif metric == "rmse" and "mse" in tail:  # rmse has no curve of its own
        v = None if tail["mse"] is None else math.sqrt(tail["mse"])
    else:
        v = result["metrics"]["val"].get(metric)
    return float("nan") if v is None else float(v)


def oscillating(result: dict) -> bool:
    """Whether the run's validation loss swings in its tail (:func:`tail_record`)."""
    return bool((result.get("tail") or {}).get("oscillating", False))
