"""Regression metrics: MSE, RMSE, MAE and R², each as ``sklearn.metrics`` computes it."""

from __future__ import annotations

import numpy as np

from gdlab.metrics.checks import validated


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
    y, p = validated(y_true, y_pred, "y_pred", "regression")
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
    y, p = validated(y_true, y_pred, "y_pred", "regression")
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
    y, p = validated(y_true, y_pred, "y_pred", "regression")
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
    y, p = validated(y_true, y_pred, "y_pred", "regression")
    err = mse(y, p)
    return {"mse": err, "rmse": float(np.sqrt(err)), "mae": mae(y, p), "r2": r2(y, p)}
