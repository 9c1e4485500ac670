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

from functools import lru_cache

import numpy as np

from gdlab.losses import log_softmax, softmax, softmax_cross_entropy, weighted_gram
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
        return _layout(self.n_classes_, n_features)

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

    def _hessian(self, theta, X, y):
        r"""The block Hessian over ``[W.ravel(), b]``: with :math:`\tilde x = (x, 1)`,
        block :math:`(k, l)` is :math:`\tfrac1n \sum_i p_{ik}(\delta_{kl} - p_{il})
        \tilde x_i \tilde x_i^\top`, plus :math:`\lambda` on the weights' diagonal."""
        n, d = X.shape
        K = self.n_classes_
        W, b = self._layout(d).unpack(theta)
        P = np.exp(log_softmax(X @ W.T + b))
        Xa = np.column_stack([X, np.ones(n)])  # (n, q): the intercept as feature q - 1
        q = d + 1
        A = (Xa[:, :, None] * P[:, None, :]).reshape(n, q * K)  # column j*K + k
        H4 = (-(A.T @ A) / n).reshape(q, K, q, K)
        for k in range(K):
            H4[:, k, :, k] += weighted_gram(Xa, P[:, k] / n)
        H4[np.arange(d), :, np.arange(d), :] += self.l2 * np.eye(K)
        # theta's order: W row-major (k, j), then b_k (feature d)
        order = np.concatenate([(np.arange(d)[None, :] * K + np.arange(K)[:, None]).ravel(),
                                d * K + np.arange(K)])
        H = H4.reshape(q * K, q * K)[np.ix_(order, order)]
        if not self.fit_intercept:  # b's entries are fixed (see _newton_free)
            H[K * d:, :] = H[:, K * d:] = 0.0
            H[K * d + np.arange(K), K * d + np.arange(K)] = 1.0
        return H

    def _newton_free(self, theta):
        # Adding one vector to every class's scores changes no probability, so the
        # unpenalised parameters are redundant; as scikit-learn's newton-cholesky, the
        # last class's are held at their start (0): its intercept, and with l2 = 0 its
        # weights too. _canonical then centres them over the classes.
        d, K = self.n_features_in_, self.n_classes_
        fixed = set() if self.fit_intercept else set(range(K * d, K * d + K))
        fixed.add(K * d + K - 1)
        if self.l2 == 0:
            fixed.update(range((K - 1) * d, K * d))
        return np.array([i for i in range(theta.size) if i not in fixed])

    def _canonical(self, theta):
        W, b = (a.copy() for a in self._layout(self.n_features_in_).unpack(theta))
        if self.fit_intercept:
            b -= b.mean()
        if self.l2 == 0:
            W -= W.mean(axis=0)
        return self._layout(self.n_features_in_).pack([W, b])

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


@lru_cache(maxsize=64)
def _layout(n_classes: int, n_features: int) -> ParameterLayout:
    """W (K, d) then b (K,); made once per shape (a solver asks for it at every step)."""
    return ParameterLayout([(n_classes, n_features), (n_classes,)])
