"""K-class metrics, labels 0..K-1 and an (n, K) matrix of class probabilities: the
confusion matrix, macro-F1 and log loss."""

from __future__ import annotations

import numpy as np

from gdlab.metrics.checks import as_1d


def _validate_class_labels(values, name: str, n_classes: int) -> np.ndarray:
    """``values`` as a 1-D int64 array of labels 0..n_classes-1, or ``ValueError``."""
    arr = as_1d(values, name)
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
