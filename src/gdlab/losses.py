r"""Objectives of the linear models: one class per loss, value and gradient side by side.

Both models minimise the same shape of objective over weights :math:`w` and intercept
:math:`b`, with :math:`z_i = x_i \cdot w + b`:

.. math::  J(w, b) = \frac{1}{n} \sum_{i=1}^{n} \ell(z_i, y_i) + \frac{\lambda}{2} \lVert w \rVert^2

The intercept is not penalised. Its gradient is, with :math:`r_i = \partial \ell / \partial z_i`,

.. math::  \nabla_w J = \tfrac{1}{n} X^\top r + \lambda w, \qquad
           \partial_b J = \tfrac{1}{n} \textstyle\sum_i r_i

With this scaling scikit-learn is an exact oracle: ``Ridge(alpha=n*l2)`` for the squared
loss and ``LogisticRegression(C=1/(n*l2))`` for the logistic loss.
"""

from __future__ import annotations

import numpy as np


class LinearObjective:
    """Regularised mean loss of a linear model; subclasses define the pointwise loss."""

    #: name of the loss, as reported in histories and metrics
    name = "loss"

    def __init__(self, l2: float = 0.0, fit_intercept: bool = True):
        self.l2 = float(l2)
        self.fit_intercept = fit_intercept

    # -- pointwise loss, defined by subclasses -------------------------------------------
    def pointwise(self, z: np.ndarray, y: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def dpointwise(self, z: np.ndarray, y: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    # -- the objective -------------------------------------------------------------------
    def mean_loss(self, z: np.ndarray, y: np.ndarray) -> float:
        """Unpenalised mean loss (what validation reports)."""
        return float(np.mean(self.pointwise(z, y)))

    def value(self, w: np.ndarray, b: float, X: np.ndarray, y: np.ndarray) -> float:
        z = X @ w + b
        return self.mean_loss(z, y) + 0.5 * self.l2 * float(w @ w)

    def value_and_gradient(
        self, w: np.ndarray, b: float, X: np.ndarray, y: np.ndarray
    ) -> tuple[float, np.ndarray, float]:
        """Return ``(J, dJ/dw, dJ/db)``; ``dJ/db`` is 0 when the intercept is not fitted."""
        n = X.shape[0]
        z = X @ w + b
        value = self.mean_loss(z, y) + 0.5 * self.l2 * float(w @ w)
        r = self.dpointwise(z, y)
        # r @ X streams X row-major once; it is faster here than X.T @ r.
        grad_w = (r @ X) / n + self.l2 * w
        grad_b = float(r.mean()) if self.fit_intercept else 0.0
        return value, grad_w, grad_b


class SquaredLoss(LinearObjective):
    r"""Half squared error, :math:`\ell(z, y) = \tfrac12 (z - y)^2`, so :math:`r = z - y`.

    The half makes ``Ridge(alpha=n*l2)`` minimise exactly ``n`` times this objective.
    """

    name = "squared_loss"

    def pointwise(self, z, y):
        return 0.5 * (z - y) ** 2

    def dpointwise(self, z, y):
        return z - y


class LogisticLoss(LinearObjective):
    r"""Binary cross-entropy on the logit, labels :math:`y \in \{0, 1\}`:

    .. math::  \ell(z, y) = \log(1 + e^{z}) - y z, \qquad r = \sigma(z) - y

    computed as ``np.logaddexp(0, z) - y*z``: no ``log(0)``, no overflow even at
    :math:`|z| = 1000`.
    """

    name = "log_loss"

    def pointwise(self, z, y):
        return np.logaddexp(0.0, z) - y * z

    def dpointwise(self, z, y):
        return sigmoid(z) - y


def sigmoid(z: np.ndarray) -> np.ndarray:
    """Logistic function without overflow: ``exp(-log(1 + exp(-z)))``."""
    return np.exp(-np.logaddexp(0.0, -z))
