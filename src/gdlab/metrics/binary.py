"""Binary classification metrics, labels 0 and 1 (class 1 is the positive class): the
confusion matrix, accuracy, precision, recall, F1, log loss, the ROC curve and its area."""

from __future__ import annotations

import numpy as np

from gdlab.metrics.checks import validated


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
    y, p = validated(y_true, y_pred, "y_pred", "labels")
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
    y, p = validated(y_true, y_pred, "y_pred", "labels")
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
    y, prob = validated(y_true, p, "p", "proba")
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
    y, s = validated(y_true, score, "score", "score")
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
    y, prob = validated(y_true, proba, "proba", "proba")
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
