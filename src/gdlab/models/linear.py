r"""What linear and logistic regression share: parameters :math:`\theta = (w, b)`.

Both minimise :math:`J(w, b) = \frac1n \sum_i \ell(x_i \cdot w + b, y_i) +
\frac{\lambda}{2}\lVert w\rVert^2` for a pointwise loss :math:`\ell` of
:mod:`gdlab.losses`; the flat vector the optimizer updates is ``[w_1..w_d, b]``.
"""

from __future__ import annotations

import numpy as np

from gdlab.losses import LinearObjective
from gdlab.models.training import GradientDescentModel


class LinearModel(GradientDescentModel):
    """A linear model ``z = X @ coef_ + intercept_`` trained on a :class:`LinearObjective`.

    Fitted attributes: ``coef_`` of shape (d,), ``intercept_`` (float), ``history_``,
    ``n_epochs_``, ``converged_``, ``diverged_``, ``n_features_in_``.
    """

    def __init__(self, lr=0.1, epochs=100, l2=0.0, batch_size=None, optimizer="gd",
                 tol=None, fit_intercept=True, seed=0):
        super().__init__(lr=lr, epochs=epochs, l2=l2, batch_size=batch_size,
                         optimizer=optimizer, tol=tol, seed=seed)
        self.fit_intercept = fit_intercept

    # -- defined by the two models ---------------------------------------------------------
    def _objective(self) -> LinearObjective:
        raise NotImplementedError

    # -- the training loop's hooks ---------------------------------------------------------
    def _initial_parameters(self, n_features, rng):
        return np.zeros(n_features + 1)  # convex problems: the zero start is fine

    def _value(self, theta, X, y):
        return self._objective().value(theta[:-1], theta[-1], X, y)

    def _value_and_gradient(self, theta, X, y):
        value, grad_w, grad_b = self._objective().value_and_gradient(theta[:-1], theta[-1], X, y)
        return value, np.append(grad_w, grad_b)

    def _hessian(self, theta, X, y):
        return self._objective().hessian(theta[:-1], theta[-1], X, y)

    def _newton_free(self, theta):
        # without an intercept its entry stays 0: the objective does not depend on it
        return None if self.fit_intercept else np.arange(theta.size - 1)

    def _store_parameters(self, theta):
        self.coef_ = theta[:-1].copy()
        self.intercept_ = float(theta[-1])

    # -- prediction ------------------------------------------------------------------------
    def decision_function(self, X) -> np.ndarray:
        """``X @ coef_ + intercept_``, shape (n,)."""
        X = self._check_input(X)
        return X @ self.coef_ + self.intercept_

    def objective(self, X, y) -> float:
        """The training objective (mean loss + L2 penalty) of the fitted model on ``X, y``."""
        X, y = self._check_data(X, y)
        return self._objective().value(self.coef_, self.intercept_, X, y)

    # -- persistence -----------------------------------------------------------------------
    def to_arrays(self) -> dict[str, np.ndarray]:
        """``{"coef": (d,), "intercept": 0-d}``: everything prediction needs."""
        return {"coef": np.asarray(self.coef_, dtype=np.float64),
                "intercept": np.float64(self.intercept_)}

    @classmethod
    def from_arrays(cls, arrays) -> LinearModel:
        """A model that predicts like the one whose :meth:`to_arrays` gave ``arrays``."""
        model = cls()
        model.coef_ = np.asarray(arrays["coef"], dtype=np.float64).reshape(-1)
        model.intercept_ = float(arrays["intercept"])
        model.n_features_in_ = model.coef_.shape[0]
        return model
