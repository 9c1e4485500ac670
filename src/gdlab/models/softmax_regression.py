r"""Softmax (multinomial logistic) regression: K classes, one linear score per class.

With weights :math:`W` of shape (K, d), intercepts :math:`b` of shape (K,), scores
:math:`Z = XW^\top + b` of shape (n, K), :math:`P = \mathrm{softmax}(Z)` row-wise and
:math:`Y` the one-hot labels:

.. math::  J(W, b) = -\frac1n \sum_i \log P_{i, y_i} + \frac{\lambda}{2}\lVert W\rVert_F^2

.. math::  \nabla_W J = \tfrac1n (P - Y)^\top X + \lambda W, \qquad
           \nabla_b J = \tfrac1n (P - Y)^\top \mathbf{1}

The intercepts are not penalised. :math:`J` is convex; with :math:`\lambda > 0` its
minimiser :math:`W` is unique (the intercepts only up to a common shift, which changes
no probability), and scikit-learn's ``LogisticRegression(C=1/(n*l2))`` (lbfgs,
multinomial) minimises :math:`n` times it.
"""

from __future__ import annotations

import numpy as np

from gdlab.losses import softmax, softmax_cross_entropy
from gdlab.models.training import Classifier, GradientDescentModel, ParameterLayout


class SoftmaxRegression(Classifier, GradientDescentModel):
    """Multinomial logistic regression for labels 0..K-1, trained by gradient descent.

    Fitted attributes: ``coef_`` of shape (K, d), ``intercept_`` of shape (K,),
    ``n_classes_`` (K, learnt as the largest training label + 1), ``history_``,
    ``n_epochs_``, ``converged_``, ``diverged_``, ``n_features_in_``.

    Parameters
    ----------
    fit_intercept : bool, default=True
    Other parameters: see :class:`gdlab.models.training.GradientDescentModel`.
    """

    def __init__(self, lr=0.1, *, epochs=100, l2=0.0, batch_size=None, optimizer="gd",
                 tol=None, fit_intercept=True, seed=0):
        super().__init__(lr=lr, epochs=epochs, l2=l2, batch_size=batch_size,
                         optimizer=optimizer, tol=tol, seed=seed)
        self.fit_intercept = fit_intercept

    def _layout(self, n_features: int) -> ParameterLayout:
        return ParameterLayout([(self.n_classes_, n_features), (self.n_classes_,)])

    # -- the training loop's hooks ---------------------------------------------------------
    def _initial_parameters(self, n_features, rng):
        return np.zeros(self._layout(n_features).size)  # convex: the zero start is fine

    def _value(self, theta, X, y):
        return self._value_and_gradient(theta, X, y)[0]

    def _value_and_gradient(self, theta, X, y):
        layout = self._layout(X.shape[1])
        W, b = layout.unpack(theta)
        loss, dZ = softmax_cross_entropy(X @ W.T + b, y)
        value = loss + 0.5 * self.l2 * float(np.sum(W * W))
        grad_W = dZ.T @ X + self.l2 * W
        grad_b = dZ.sum(axis=0) if self.fit_intercept else np.zeros_like(b)
        return value, layout.pack([grad_W, grad_b])

    def _store_parameters(self, theta):
        W, b = self._layout(self.n_features_in_).unpack(theta)
        self.coef_, self.intercept_ = W.copy(), b.copy()

    # -- prediction ------------------------------------------------------------------------
    def decision_function(self, X) -> np.ndarray:
        """Class scores ``X @ coef_.T + intercept_``, shape (n, K)."""
        X = self._check_input(X)
        return X @ self.coef_.T + self.intercept_

    def predict_proba(self, X) -> np.ndarray:
        """Class probabilities ``softmax(decision_function(X))``, shape (n, K), rows sum to 1."""
        return softmax(self.decision_function(X))

    def objective(self, X, y) -> float:
        """The training objective (mean cross-entropy + L2 penalty) of the fitted model."""
        X, y = self._check_data(X, y)
        theta = self._layout(X.shape[1]).pack([self.coef_, self.intercept_])
        return self._value(theta, X, y)

    # -- persistence -----------------------------------------------------------------------
    def to_arrays(self) -> dict[str, np.ndarray]:
        """``{"coef": (K, d), "intercept": (K,)}``: everything prediction needs."""
        return {"coef": np.asarray(self.coef_, dtype=np.float64),
                "intercept": np.asarray(self.intercept_, dtype=np.float64)}

    @classmethod
    def from_arrays(cls, arrays) -> SoftmaxRegression:
        """A model that predicts like the one whose :meth:`to_arrays` gave ``arrays``."""
        model = cls()
        model.coef_ = np.asarray(arrays["coef"], dtype=np.float64)
        model.intercept_ = np.asarray(arrays["intercept"], dtype=np.float64)
        model.n_classes_, model.n_features_in_ = model.coef_.shape
        return model
