"""Evaluation metrics in pure NumPy: which metrics a target has, and each of them.

Every metric reproduces the value of its ``sklearn.metrics`` counterpart (to about 1e-12)
without importing scikit-learn, which takes seconds to import. The binary
classification metrics take labels 0 and 1 (class 1 is the positive class); the
``multiclass_*`` ones, and :func:`f1_macro`, take labels 0..K-1 and an (n, K) matrix of
class probabilities.

All inputs are converted to 1-D float64 arrays by one validator, which raises
``ValueError`` for non-1-D, empty, mismatched-length or non-finite input, and for
classification labels other than 0/1.

Each family has its module: ``regression``, ``binary``, ``multiclass``; ``checks`` holds
the validator. Callers use ``gdlab.metrics.<name>``.
"""

from __future__ import annotations

import numpy as np

from gdlab.metrics.binary import (
    accuracy,
    classification_metrics,
    confusion_matrix,
    f1,
    log_loss,
    precision,
    recall,
    roc_auc,
    roc_curve,
)
from gdlab.metrics.multiclass import (
    f1_macro,
    multiclass_confusion_matrix,
    multiclass_log_loss,
    multiclass_metrics,
)
from gdlab.metrics.regression import mae, mse, r2, regression_metrics, rmse

__all__ = [
    "accuracy",
    "classification_metrics",
    "confusion_matrix",
    "f1",
    "f1_macro",
    "log_loss",
    "mae",
    "mse",
    "multiclass_confusion_matrix",
    "multiclass_log_loss",
    "multiclass_metrics",
    "precision",
    "r2",
    "recall",
    "regression_metrics",
    "rmse",
    "roc_auc",
    "roc_curve",
    "target_kind",
    "metrics_of",
    "metric_name",
    "higher_is_better",
    "CurveScorer",
]

#: direction of each metric: True when larger is better (used to pick a sweep's best run)
HIGHER_IS_BETTER = {
    "accuracy": True, "f1": True, "f1_macro": True, "roc_auc": True, "precision": True,
    "recall": True,
    "r2": True, "log_loss": False, "mse": False, "rmse": False, "mae": False,
}

#: every metric reported on each part of the data, by kind of target
METRIC_KEYS = {
    "regression": ("mse", "rmse", "mae", "r2"),
    "binary": ("accuracy", "log_loss", "precision", "recall", "f1", "roc_auc"),
    "multiclass": ("accuracy", "log_loss", "f1_macro"),
}
#: what a run's history records on the validation data after every epoch: the same two
#: metrics for every run of a task, whatever loss it trains, so that curves compare
CURVE_KEYS = {
    "regression": ("mse", "r2"),
    "binary": ("log_loss", "accuracy"),
    "multiclass": ("log_loss", "accuracy"),
}


def metric_name(column: str) -> str:
    """The metric a validation column or selection names: ``val_log_loss`` -> ``log_loss``."""
    return column.removeprefix("val_")


def higher_is_better(column: str) -> bool:
    """Whether larger values of the metric ``column`` names are better (a ``val_`` column
    too); unknown names count as losses."""
    return HIGHER_IS_BETTER.get(metric_name(column), False)


def target_kind(task: str, n_classes: int = 2) -> str:
    """``"regression"``, ``"binary"`` or ``"multiclass"``: which metrics a target has."""
    if task == "regression":
        return "regression"
    return "binary" if n_classes == 2 else "multiclass"


def metrics_of(kind: str, y_true, outputs, keys=None) -> dict[str, float]:
    """The metrics ``keys`` (default: all of :data:`METRIC_KEYS`) of a model's outputs.

    ``outputs``: predicted targets (n,) for ``"regression"``, class probabilities (n, K)
    otherwise (``"binary"`` reads column 1). Outputs that are not all finite (a diverged
    model's) give NaN for every key. The final metrics of a run and the points of its
    validation curves both come from here, so a curve's last point is the final value.
    """
    keys = METRIC_KEYS[kind] if keys is None else keys
    out = np.asarray(outputs, dtype=np.float64)
    if not np.all(np.isfinite(out)):
        return dict.fromkeys(keys, float("nan"))
    if kind == "regression":
        values = regression_metrics(y_true, out)
    elif kind == "binary":
        values = (classification_metrics(y_true, out[:, 1]) if set(keys) - {"log_loss",
                                                                           "accuracy"}
                  else {"log_loss": log_loss(y_true, out[:, 1]),
                        "accuracy": accuracy(y_true, (out[:, 1] > 0.5).astype(np.float64))})
    else:
        values = multiclass_metrics(y_true, out) if set(keys) - {"log_loss", "accuracy"} \
            else {"log_loss": multiclass_log_loss(y_true, out),
                  "accuracy": float(np.mean(np.asarray(y_true) == np.argmax(out, axis=1)))}
    return {k: values[k] for k in keys}


class CurveScorer:
    """The validation curve's metrics (:data:`CURVE_KEYS`) of one fit, epoch after epoch.

    The same numbers, to the bit, as :func:`metrics_of` with ``CURVE_KEYS[kind]``, with the
    labels checked once (by :func:`metrics_of`, on the first call) instead of at every
    epoch: checking a few hundred labels costs more than the epoch itself, and a sweep
    scores every epoch of every run (3/4 of a train job's time before)."""

    def __init__(self, kind: str, y_true):
        self.kind, self.keys = kind, CURVE_KEYS[kind]
        self.y_true = y_true
        self._y: np.ndarray | None = None  # the labels once checked

    def __call__(self, outputs) -> dict[str, float]:
        out = np.asarray(outputs, dtype=np.float64)
        if self._y is None or self.kind == "regression" or not np.all(np.isfinite(out)):
            values = metrics_of(self.kind, self.y_true, out, self.keys)
            if self.kind != "regression" and not np.isnan(values["log_loss"]):
                self._y = np.asarray(self.y_true, dtype=np.float64)
            return values
        y, eps = self._y, np.finfo(np.float64).eps
        if self.kind == "binary":  # as binary.log_loss and binary.accuracy
            prob = out[:, 1]
            q1 = np.clip(prob, eps, 1 - eps)
            q0 = np.clip(1 - prob, eps, 1 - eps)
            return {"log_loss": float(np.mean(-np.log(np.where(y == 1, q1, q0)))),
                    "accuracy": float(np.mean(y == (prob > 0.5).astype(np.float64)))}
        labels = y.astype(np.int64)  # as multiclass.multiclass_log_loss and metrics_of
        picked = np.clip(out[np.arange(labels.size), labels], eps, 1 - eps)
        return {"log_loss": float(np.mean(-np.log(picked))),
                "accuracy": float(np.mean(labels == np.argmax(out, axis=1)))}
