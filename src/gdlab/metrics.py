"""Evaluation metrics in pure NumPy.

Every metric reproduces the value of its ``sklearn.metrics`` counterpart (to about 1e-12)
without importing scikit-learn, which takes seconds to import. Classification metrics
are binary, with labels 0 and 1; class 1 is the positive class.

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
    "log_loss",
    "mae",
    "mse",
    "precision",
    "r2",
    "recall",
    "regression_metrics",
    "rmse",
    "roc_auc",
    "roc_curve",
]

#: direction of each metric: True when larger is better (used to pick a sweep's best run)
HIGHER_IS_BETTER = {
    "accuracy": True, "f1": True, "roc_auc": True, "precision": True, "recall": True,
    "r2": True, "log_loss": False, "mse": False, "rmse": False, "mae": False,
}


def _validate(y_true, other, other_name: str, kind: str) -> tuple[np.ndarray, np.ndarray]:
    """Return ``y_true`` and ``other`` as 1-D float64 arrays, or raise ``ValueError``.

    ``kind`` is ``"regression"`` (any finite values), ``"labels"`` (both arrays 0/1),
    ``"proba"`` (``y_true`` 0/1, ``other`` in [0, 1]) or ``"score"`` (``y_true`` 0/1,
    ``other`` any finite values).
    """
    arrays = []
    for name, values in (("y_true", y_true), (other_name, other)):
        try:
            arr = np.asarray(values, dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"{name} must be numeric: {exc}") from exc
        if arr.ndim != 1:
            raise ValueError(f"{name} must be 1-D, got an array of shape {arr.shape}")
        if arr.size == 0:
            raise ValueError(f"{name} is empty; at least one sample is required")
        arrays.append(arr)
    a, b = arrays
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
