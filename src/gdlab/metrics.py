"""Evaluation metrics in pure NumPy.

Every metric reproduces the value of its ``sklearn.metrics`` counterpart (to about 1e-12)
without importing scikit-learn, which takes seconds to import. The binary
classification metrics take labels 0 and 1 (class 1 is the positive class); the
``multiclass_*`` ones, and :func:`f1_macro`, take labels 0..K-1 and an (n, K) matrix of
class probabilities.

All inputs are converted to 1-D float64 arrays by one validator, which raises
``ValueError`` for non-1-D, empty, mismatched-length or non-finite input, and for
classification labels other than 0/1.
"""

from __future__ import annotations

import numpy as np

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


def _as_1d(values, name: str) -> np.ndarray:
    """``values`` as a non-empty 1-D float64 array, or ``ValueError`` naming ``name``."""
    try:
        arr = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be numeric: {exc}") from exc
    if arr.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got an array of shape {arr.shape}")
    if arr.size == 0:
        raise ValueError(f"{name} is empty; at least one sample is required")
    return arr


def _validate(y_true, other, other_name: str, kind: str) -> tuple[np.ndarray, np.ndarray]:
    """Return ``y_true`` and ``other`` as 1-D float64 arrays, or raise ``ValueError``.

    ``kind`` is ``"regression"`` (any finite values), ``"labels"`` (both arrays 0/1),
    ``"proba"`` (``y_true`` 0/1, ``other`` in [0, 1]) or ``"score"`` (``y_true`` 0/1,
    ``other`` any finite values).
    """
    a, b = _as_1d(y_true, "y_true"), _as_1d(other, other_name)
    if a.size != b.size:
        raise ValueError(f"y_true has {a.size} samples but {other_name} has {b.size}")
    for name, arr in (("y_true", a), (other_name, b)):
        if not np.all(np.isfinite(arr)):
            raise ValueError(f"{name} contains NaN or infinity")
    if kind == "regression":
        return a, b
    label_names = ("y_true", other_name) if kind == "labels" else ("y_true",)
    for name, arr in zip(label_names, (a, b), strict=False):
        bad = np.unique(arr[(arr != 0) & (arr != 1)])
        if bad.size:
            raise ValueError(
                f"{name} must contain only binary labels 0 and 1; found {bad[:5].tolist()}"
            )
    if kind == "proba" and (b.min() < 0 or b.max() > 1):
        raise ValueError(
            f"{other_name} must contain probabilities in [0, 1]; "
            f"found values in [{b.min()}, {b.max()}]"
        )
    return a, b


# --------------------------------------------------------------------------- regression


def mse(y_true, y_pred) -> float:
    r"""Mean squared error.

    .. math:: \mathrm{MSE} = \frac{1}{n} \sum_i (y_i - \hat y_i)^2

    Parameters
    ----------
    y_true, y_pred : array-like of shape (n_samples,)
        Observed and predicted targets.

    Returns
    -------
    float
    """
    y, p = _validate(y_true, y_pred, "y_pred", "regression")
    return float(np.mean((y - p) ** 2))


def rmse(y_true, y_pred) -> float:
    r"""Root mean squared error.

    .. math:: \mathrm{RMSE} = \sqrt{\frac{1}{n} \sum_i (y_i - \hat y_i)^2}

    Parameters
    ----------
    y_true, y_pred : array-like of shape (n_samples,)
        Observed and predicted targets.

    Returns
    -------
    float
    """
    return float(np.sqrt(mse(y_true, y_pred)))


def mae(y_true, y_pred) -> float:
    r"""Mean absolute error.

    .. math:: \mathrm{MAE} = \frac{1}{n} \sum_i |y_i - \hat y_i|

    Parameters
    ----------
    y_true, y_pred : array-like of shape (n_samples,)
        Observed and predicted targets.

    Returns
    -------
    float
    """
    y, p = _validate(y_true, y_pred, "y_pred", "regression")
    return float(np.mean(np.abs(y - p)))


def r2(y_true, y_pred) -> float:
    r"""Coefficient of determination, as ``sklearn.metrics.r2_score``.

    .. math:: R^2 = 1 - \frac{\sum_i (y_i - \hat y_i)^2}{\sum_i (y_i - \bar y)^2}

    Parameters
    ----------
    y_true, y_pred : array-like of shape (n_samples,)
        Observed and predicted targets.

    Returns
    -------
    float
        If the numerator is 0 (perfect predictions) the score is 1.0; if only the
        denominator is 0 (constant ``y_true``) it is 0.0; with a single sample it is NaN.

    Notes
    -----
    As in scikit-learn, "constant" means the computed denominator is exactly 0. For
    some constants the float mean of ``y_true`` is not exactly the constant (e.g.
    ``[0.1, 0.1, 0.1]``); the denominator is then tiny but non-zero and the score is a
    huge negative number, exactly as ``r2_score`` returns.
    """
    y, p = _validate(y_true, y_pred, "y_pred", "regression")
    if y.size < 2:
        return float("nan")
    numerator = np.sum((y - p) ** 2)
    denominator = np.sum((y - np.mean(y)) ** 2)
    if numerator == 0:
        return 1.0
    if denominator == 0:
        return 0.0
    with np.errstate(over="ignore"):  # a tiny denominator may give -inf, as r2_score does
        return float(1 - numerator / denominator)


def regression_metrics(y_true, y_pred) -> dict[str, float]:
    """All regression metrics at once.

    Parameters
    ----------
    y_true, y_pred : array-like of shape (n_samples,)
        Observed and predicted targets.

    Returns
    -------
    dict
        Keys ``mse``, ``rmse``, ``mae``, ``r2``; values are Python floats.
    """
    y, p = _validate(y_true, y_pred, "y_pred", "regression")
    err = mse(y, p)
    return {"mse": err, "rmse": float(np.sqrt(err)), "mae": mae(y, p), "r2": r2(y, p)}


# ----------------------------------------------------------------------- classification


def confusion_matrix(y_true, y_pred) -> np.ndarray:
    """Binary confusion matrix.

    Parameters
    ----------
    y_true, y_pred : array-like of shape (n_samples,)
        True and predicted labels, 0 or 1.

    Returns
    -------
    ndarray of shape (2, 2), int64
        ``[[tn, fp], [fn, tp]]``; always 2x2, even if a class is absent
        (``sklearn.metrics.confusion_matrix(..., labels=[0, 1])``).
    """
    y, p = _validate(y_true, y_pred, "y_pred", "labels")
    counts = np.bincount((2 * y + p).astype(np.int64), minlength=4)
    return counts.astype(np.int64).reshape(2, 2)


def accuracy(y_true, y_pred) -> float:
    r"""Fraction of correct predictions.

    .. math:: \mathrm{accuracy} = \frac{1}{n} \sum_i [y_i = \hat y_i]

    Parameters
    ----------
    y_true, y_pred : array-like of shape (n_samples,)
        True and predicted labels, 0 or 1.

    Returns
    -------
    float
    """
    y, p = _validate(y_true, y_pred, "y_pred", "labels")
    return float(np.mean(y == p))


def precision(y_true, y_pred) -> float:
    r"""Precision of the positive class.

    .. math:: \mathrm{precision} = \frac{TP}{TP + FP}

    Parameters
    ----------
    y_true, y_pred : array-like of shape (n_samples,)
        True and predicted labels, 0 or 1.

    Returns
    -------
    float
        0.0 when nothing is predicted positive (sklearn's default ``zero_division``
        value, without its warning).
    """
    (_, fp), (_, tp) = confusion_matrix(y_true, y_pred)
    return float(tp / (tp + fp)) if tp + fp else 0.0


def recall(y_true, y_pred) -> float:
    r"""Recall (sensitivity, true-positive rate) of the positive class.

    .. math:: \mathrm{recall} = \frac{TP}{TP + FN}

    Parameters
    ----------
    y_true, y_pred : array-like of shape (n_samples,)
        True and predicted labels, 0 or 1.

    Returns
    -------
    float
        0.0 when ``y_true`` has no positives (sklearn's default ``zero_division``).
    """
    _, (fn, tp) = confusion_matrix(y_true, y_pred)
    return float(tp / (tp + fn)) if tp + fn else 0.0


def f1(y_true, y_pred) -> float:
    r"""F1 score of the positive class (harmonic mean of precision and recall).

    .. math:: F_1 = \frac{2\,TP}{2\,TP + FP + FN}

    Parameters
    ----------
    y_true, y_pred : array-like of shape (n_samples,)
        True and predicted labels, 0 or 1.

    Returns
    -------
    float
        0.0 when there are neither true nor predicted positives (sklearn's default).
    """
    (_, fp), (fn, tp) = confusion_matrix(y_true, y_pred)
    denom = 2 * tp + fp + fn
    return float(2 * tp / denom) if denom else 0.0


def log_loss(y_true, p) -> float:
    r"""Mean binary cross-entropy, as ``sklearn.metrics.log_loss(..., labels=[0, 1])``.

    .. math:: L = -\frac{1}{n} \sum_i \left[ y_i \log q_{i,1} + (1 - y_i) \log q_{i,0} \right],
        \quad q_{i,1} = \mathrm{clip}(p_i), \; q_{i,0} = \mathrm{clip}(1 - p_i)

    where ``clip`` limits to :math:`[\epsilon, 1 - \epsilon]` with
    :math:`\epsilon` = float64 machine epsilon, as scikit-learn does.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        True labels, 0 or 1.
    p : array-like of shape (n_samples,)
        Predicted probability of class 1, in [0, 1].

    Returns
    -------
    float
        Finite even for probabilities of exactly 0 or 1. Unlike sklearn without
        ``labels``, a ``y_true`` with a single class is accepted.
    """
    y, prob = _validate(y_true, p, "p", "proba")
    eps = np.finfo(prob.dtype).eps
    q1 = np.clip(prob, eps, 1 - eps)
    q0 = np.clip(1 - prob, eps, 1 - eps)
    return float(np.mean(-np.log(np.where(y == 1, q1, q0))))


def roc_curve(y_true, score) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    r"""Receiver operating characteristic curve.

    Same output as ``sklearn.metrics.roc_curve(..., drop_intermediate=False)``: one
    point per distinct score, from high to low, preceded by the point (0, 0) at
    threshold ``inf``. Point ``k`` predicts positive when ``score >= thresholds[k]``:

    .. math:: \mathrm{fpr}_k = FP_k / N, \quad \mathrm{tpr}_k = TP_k / P

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        True labels, 0 or 1; both must be present.
    score : array-like of shape (n_samples,)
        Score of class 1 (probability or decision value); higher means more positive.

    Returns
    -------
    fpr, tpr, thresholds : ndarray
        Non-decreasing false- and true-positive rates and decreasing thresholds.

    Raises
    ------
    ValueError
        If ``y_true`` contains only one class (sklearn warns and returns NaN rates).
    """
    y, s = _validate(y_true, score, "score", "score")
    _require_both_classes(y, "roc_curve")
    order = np.argsort(s, kind="stable")[::-1]
    s, y = s[order], y[order]
    # Last index of each run of equal scores, plus the final sample.
    idx = np.r_[np.flatnonzero(np.diff(s)), y.size - 1]
    tps = np.cumsum(y)[idx]
    fps = 1 + idx - tps
    fpr = np.r_[0.0, fps] / fps[-1]
    tpr = np.r_[0.0, tps] / tps[-1]
    return fpr, tpr, np.r_[np.inf, s[idx]]


def roc_auc(y_true, score) -> float:
    r"""Area under the ROC curve, as ``sklearn.metrics.roc_auc_score``.

    Trapezoid rule over the ROC curve, so tied scores count one half:

    .. math:: \mathrm{AUC} = \sum_k (\mathrm{fpr}_k - \mathrm{fpr}_{k-1})
        \frac{\mathrm{tpr}_k + \mathrm{tpr}_{k-1}}{2}
        = P(s_+ > s_-) + \tfrac12 P(s_+ = s_-)

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        True labels, 0 or 1; both must be present.
    score : array-like of shape (n_samples,)
        Score of class 1; higher means more positive.

    Returns
    -------
    float

    Raises
    ------
    ValueError
        If ``y_true`` contains only one class (sklearn 1.9 warns and returns NaN).
    """
    fpr, tpr, _ = roc_curve(y_true, score)
    return float(np.trapezoid(tpr, fpr))


def _require_both_classes(y: np.ndarray, name: str) -> None:
    n_pos = int(np.count_nonzero(y))
    if n_pos == 0 or n_pos == y.size:
        only = "1" if n_pos else "0"
        raise ValueError(
            f"{name} is undefined when y_true contains only one class "
            f"(all {y.size} labels are {only}); both 0 and 1 are required"
        )


def classification_metrics(y_true, proba, threshold: float = 0.5) -> dict[str, float]:
    """All binary classification metrics at once, for reporting.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        True labels, 0 or 1.
    proba : array-like of shape (n_samples,)
        Predicted probability of class 1, in [0, 1].
    threshold : float, default=0.5
        Predicted label is 1 where ``proba > threshold`` (as scikit-learn: a tie predicts 0).

    Returns
    -------
    dict
        Keys ``accuracy``, ``log_loss``, ``precision``, ``recall``, ``f1``, ``roc_auc``;
        values are Python floats. ``roc_auc`` is NaN (instead of raising) when ``y_true``
        contains only one class.
    """
    y, prob = _validate(y_true, proba, "proba", "proba")
    pred = (prob > threshold).astype(np.float64)
    n_pos = np.count_nonzero(y)
    auc = roc_auc(y, prob) if 0 < n_pos < y.size else float("nan")
    return {
        "accuracy": accuracy(y, pred),
        "log_loss": log_loss(y, prob),
        "precision": precision(y, pred),
        "recall": recall(y, pred),
        "f1": f1(y, pred),
        "roc_auc": auc,
    }


# ------------------------------------------------------------------- K classes (0..K-1)


def _validate_class_labels(values, name: str, n_classes: int) -> np.ndarray:
    """``values`` as a 1-D int64 array of labels 0..n_classes-1, or ``ValueError``."""
    arr = _as_1d(values, name)
    bad = np.unique(arr[~np.isin(arr, np.arange(n_classes))])
    if bad.size:
        raise ValueError(f"{name} must contain only the class labels 0..{n_classes - 1}; "
                         f"found {bad[:5].tolist()}")
    return arr.astype(np.int64)


def _validate_proba_matrix(y_true, proba) -> tuple[np.ndarray, np.ndarray]:
    """``(labels, probabilities)`` with shapes (n,) and (n, K), or ``ValueError``."""
    try:
        P = np.asarray(proba, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"proba must be numeric: {exc}") from exc
    if P.ndim != 2 or P.shape[1] < 2:
        raise ValueError(f"proba must have shape (n_samples, K) with K >= 2, got {P.shape}")
    if not np.all(np.isfinite(P)):
        raise ValueError("proba contains NaN or infinity")
    if P.size and (P.min() < 0 or P.max() > 1):
        raise ValueError(f"proba must contain probabilities in [0, 1]; "
                         f"found values in [{P.min()}, {P.max()}]")
    y = _validate_class_labels(y_true, "y_true", P.shape[1])
    if y.size != P.shape[0]:
        raise ValueError(f"y_true has {y.size} samples but proba has {P.shape[0]}")
    return y, P


def multiclass_confusion_matrix(y_true, y_pred, n_classes: int) -> np.ndarray:
    """K x K confusion matrix.

    Parameters
    ----------
    y_true, y_pred : array-like of shape (n_samples,)
        True and predicted labels, 0..K-1.
    n_classes : int
        K; the matrix is K x K even if some class is absent
        (``sklearn.metrics.confusion_matrix(..., labels=range(K))``).

    Returns
    -------
    ndarray of shape (K, K), int64
        Entry ``[i, j]`` counts samples of true class ``i`` predicted as ``j``.
    """
    y = _validate_class_labels(y_true, "y_true", n_classes)
    p = _validate_class_labels(y_pred, "y_pred", n_classes)
    if y.size != p.size:
        raise ValueError(f"y_true has {y.size} samples but y_pred has {p.size}")
    counts = np.bincount(n_classes * y + p, minlength=n_classes * n_classes)
    return counts.astype(np.int64).reshape(n_classes, n_classes)


def f1_macro(y_true, y_pred, n_classes: int) -> float:
    r"""Unweighted mean of the K per-class F1 scores.

    .. math:: F_1^{\text{macro}} = \frac1K \sum_{k=0}^{K-1}
        \frac{2\,TP_k}{2\,TP_k + FP_k + FN_k}

    A class with neither true nor predicted samples scores 0, as
    ``sklearn.metrics.f1_score(..., average="macro", labels=range(K))`` does.

    Parameters
    ----------
    y_true, y_pred : array-like of shape (n_samples,)
        True and predicted labels, 0..K-1.
    n_classes : int
        K.

    Returns
    -------
    float
    """
    C = multiclass_confusion_matrix(y_true, y_pred, n_classes)
    tp = np.diag(C)
    denom = C.sum(axis=0) + C.sum(axis=1)  # 2 TP + FP + FN
    per_class = np.divide(2.0 * tp, denom, out=np.zeros(n_classes), where=denom > 0)
    return float(np.mean(per_class))


def multiclass_log_loss(y_true, proba) -> float:
    r"""Mean cross-entropy of K-class probabilities, as ``sklearn.metrics.log_loss``.

    .. math:: L = -\frac1n \sum_i \log \mathrm{clip}(P_{i, y_i})

    with ``clip`` to :math:`[\epsilon, 1 - \epsilon]`, :math:`\epsilon` the float64
    machine epsilon, as scikit-learn does.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        True labels, 0..K-1.
    proba : array-like of shape (n_samples, K)
        Predicted class probabilities (rows sum to 1).

    Returns
    -------
    float
    """
    y, P = _validate_proba_matrix(y_true, proba)
    eps = np.finfo(np.float64).eps
    picked = np.clip(P[np.arange(y.size), y], eps, 1 - eps)
    return float(np.mean(-np.log(picked)))


def multiclass_metrics(y_true, proba) -> dict[str, float]:
    """The K-class metrics at once, for reporting; the predicted class is the most probable.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        True labels, 0..K-1.
    proba : array-like of shape (n_samples, K)
        Predicted class probabilities; K is taken from its shape.

    Returns
    -------
    dict
        Keys ``accuracy``, ``log_loss``, ``f1_macro``; values are Python floats. The
        confusion matrix is :func:`multiclass_confusion_matrix` of ``argmax(proba)``.
    """
    y, P = _validate_proba_matrix(y_true, proba)
    pred = np.argmax(P, axis=1)
    return {
        "accuracy": float(np.mean(y == pred)),
        "log_loss": multiclass_log_loss(y, P),
        "f1_macro": f1_macro(y, pred, P.shape[1]),
    }
