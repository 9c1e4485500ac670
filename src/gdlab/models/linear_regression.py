r"""Least squares (ridge with ``l2 > 0``), by gradient descent or in closed form.

Objective, with :math:`z = Xw + b`:

.. math::  J(w, b) = \frac{1}{n}\sum_i \tfrac12 (z_i - y_i)^2 + \frac{\lambda}{2}\lVert w\rVert^2,
           \qquad \nabla_w J = \tfrac1n X^\top (z - y) + \lambda w,
           \quad \partial_b J = \tfrac1n \textstyle\sum_i (z_i - y_i)

``Ridge(alpha=n*l2)`` in scikit-learn minimises :math:`n` times this objective.
"""

from __future__ import annotations

import numpy as np

from gdlab import metrics
from gdlab.losses import SquaredLoss
from gdlab.models.linear import LinearModel
from gdlab.models.training import Regressor, is_real

SOLVERS = ("gd", "closed_form")


class LinearRegression(Regressor, LinearModel):
    """Least squares with optional L2 penalty (ridge), by gradient descent or closed form.

    Objective: ``mean(0.5 * (X @ coef_ + intercept_ - y)**2) + l2/2 * ||coef_||**2``
    (see :class:`gdlab.losses.SquaredLoss`). ``solver="closed_form"`` solves the same
    problem exactly through a least-squares solve of the augmented system
    ``[Xc; sqrt(n*l2) I] w = [yc; 0]`` on centred data (no normal-equation squaring of
    the condition number); its history has one entry, epoch 0. That is the study note's
    "formula for w and b", one solve against many epochs.

    Parameters
    ----------
    solver : {"gd", "closed_form"}, default="gd"
        ``closed_form`` ignores ``lr``, ``epochs``, ``batch_size``, ``optimizer``, ``tol``.
    Other parameters: see :class:`gdlab.models.training.GradientDescentModel`.
    """

    def __init__(self, lr=0.1, epochs=100, l2=0.0, batch_size=None, optimizer="gd",
                 tol=None, fit_intercept=True, seed=0, solver="gd"):
        super().__init__(lr, epochs, l2, batch_size, optimizer, tol, fit_intercept, seed)
        self.solver = solver

    def _objective(self):
        return SquaredLoss(self.l2, self.fit_intercept)

    def fit(self, X, y, X_val=None, y_val=None, *, resume=None):
        if self.solver == "gd":
            return super().fit(X, y, X_val, y_val, resume=resume)
        if self.solver != "closed_form":
            raise ValueError(f"solver must be 'gd' or 'closed_form', got {self.solver!r}")
        if not is_real(self.l2) or not self.l2 >= 0:
            raise ValueError(f"l2 must be a finite number >= 0, got {self.l2!r}")
        X, y = self._check_data(X, y)
        n, d = X.shape
        x_mean = X.mean(axis=0) if self.fit_intercept else np.zeros(d)
        y_mean = y.mean() if self.fit_intercept else 0.0
        A, rhs = X - x_mean, y - y_mean
        if self.l2 > 0:
            A = np.vstack([A, np.sqrt(n * self.l2) * np.eye(d)])
            rhs = np.concatenate([rhs, np.zeros(d)])
        self.coef_ = np.linalg.lstsq(A, rhs, rcond=None)[0]
        self.intercept_ = float(y_mean - x_mean @ self.coef_)
        self.n_features_in_ = d
        self.n_epochs_ = 0
        self.diverged_, self.converged_ = False, True
        history = {"epoch": np.array([0]),
                   "train_objective": np.array([self.objective(X, y)])}
        if X_val is not None and y_val is not None:
            X_val, y_val = self._check_data(X_val, y_val, "X_val", "y_val")
            scores = metrics.metrics_of("regression", y_val, self.predict(X_val),
                                        metrics.CURVE_KEYS["regression"])
            history.update({f"val_{k}": np.array([v]) for k, v in scores.items()})
        self.history_ = history
        self._last_state = None  # nothing to go on from: the solution has no epochs
        return self

    def predict(self, X) -> np.ndarray:
        """Predicted targets ``X @ coef_ + intercept_``, shape (n,)."""
        return self.decision_function(X)
