r"""Binary logistic regression, with the study note's lesson built in: the loss is a choice.

With :math:`z = Xw + b` and :math:`\sigma(z) = 1/(1+e^{-z})`, the objective is
:math:`J(w, b) = \frac1n\sum_i \ell(z_i, y_i) + \frac{\lambda}{2}\lVert w\rVert^2` for

- ``loss="log_loss"``: :math:`\ell = \log(1+e^{z}) - yz`, convex in :math:`(w, b)`;
- ``loss="squared"``: :math:`\ell = (\sigma(z) - y)^2`, *not* convex: where
  :math:`|z|` is large, :math:`\sigma'(z) \approx 0` flattens the objective into
  plateaus on which gradient descent stalls (start there with ``init="normal"`` and a
  large ``init_scale``).

:func:`objective_surface` evaluates both on a grid of parameter vectors, for the
figure that shows the convex bowl next to the plateaus.
"""

from __future__ import annotations

import numpy as np

from gdlab.losses import LogisticLoss, SigmoidSquaredLoss, sigmoid
from gdlab.models.linear import LinearModel
from gdlab.models.training import Classifier, check_choice, hyperparameter_error, is_real

#: pointwise loss of each ``loss`` choice
LOSSES = {"log_loss": LogisticLoss, "squared": SigmoidSquaredLoss}
INITS = ("zeros", "normal")


class LogisticRegression(Classifier, LinearModel):
    """Binary logistic regression (labels 0/1) with optional L2 penalty.

    Objective with the default ``loss="log_loss"``: ``mean(logaddexp(0, z) - y*z) +
    l2/2 * ||coef_||**2`` with ``z = X @ coef_ + intercept_`` (see
    :class:`gdlab.losses.LogisticLoss`); ``loss="squared"`` uses ``mean((sigmoid(z) -
    y)**2)`` instead (:class:`gdlab.losses.SigmoidSquaredLoss`).

    Parameters
    ----------
    loss : {"log_loss", "squared"}, default="log_loss"
    init : {"zeros", "normal"}, default="zeros"
        Starting parameters: all zeros, or every weight and the intercept drawn from
        ``init_scale * N(0, 1)`` with ``numpy.random.default_rng(seed)`` (the intercept
        stays 0 without ``fit_intercept``).
    init_scale : float, default=1.0
        Standard deviation of the normal start.
    Other parameters: see :class:`gdlab.models.training.GradientDescentModel`.
    """

    def __init__(self, lr=0.1, epochs=100, l2=0.0, batch_size=None, optimizer="gd",
                 tol=None, fit_intercept=True, seed=0, *, loss="log_loss", init="zeros",
                 init_scale=1.0):
        super().__init__(lr, epochs, l2, batch_size, optimizer, tol, fit_intercept, seed)
        self.loss = loss
        self.init = init
        self.init_scale = init_scale

    def _check_model_hyperparameters(self):
        check_choice(self, "loss", LOSSES)
        check_choice(self, "init", INITS)
        if not is_real(self.init_scale) or not self.init_scale >= 0 \
                or not np.isfinite(self.init_scale):
            raise hyperparameter_error(self, "init_scale", "a finite number >= 0")

    def _objective(self):
        return LOSSES[self.loss](self.l2, self.fit_intercept)

    def _check_y(self, y, name):
        if not np.all((y == 0) | (y == 1)):
            raise ValueError(f"{name} must hold binary labels 0 and 1, got {np.unique(y)[:5]}")
        return y

    def _initial_parameters(self, n_features, rng):
        if self.init == "zeros":
            return np.zeros(n_features + 1)
        theta = self.init_scale * rng.standard_normal(n_features + 1)
        if not self.fit_intercept:
            theta[-1] = 0.0
        return theta

    def predict_proba(self, X) -> np.ndarray:
        """Probabilities of classes 0 and 1, shape (n, 2), as scikit-learn."""
        p1 = sigmoid(self.decision_function(X))
        return np.column_stack([1.0 - p1, p1])

    def predict(self, X) -> np.ndarray:
        """Class 1 where ``z > 0`` (probability above one half), else 0; int64."""
        return (self.decision_function(X) > 0).astype(np.int64)


def objective_surface(X, y, thetas, *, loss: str = "log_loss", l2: float = 0.0) -> np.ndarray:
    r"""The objective of logistic regression at many parameter vectors at once.

    .. math:: J(\theta) = \frac1n \sum_i \ell(x_i \cdot w + b, y_i)
              + \frac{\lambda}{2}\lVert w\rVert^2, \qquad \theta = (w_1, \dots, w_d, b)

    Parameters
    ----------
    X : array of shape (n, d)
    y : array of shape (n,)
        Labels 0/1.
    thetas : array of shape (..., d + 1)
        Parameter vectors, weights then intercept, e.g. a plane from :func:`plane_grid`.
    loss : {"log_loss", "squared"}
    l2 : float

    Returns
    -------
    ndarray of shape ``thetas.shape[:-1]``
    """
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    thetas = np.asarray(thetas, dtype=np.float64)
    if thetas.shape[-1] != X.shape[1] + 1:
        raise ValueError(f"thetas must end in d + 1 = {X.shape[1] + 1} values (weights, "
                         f"intercept), got shape {thetas.shape}")
    pointwise = LOSSES[loss](l2).pointwise
    weights, intercepts = thetas[..., :-1], thetas[..., -1:]
    z = weights @ X.T + intercepts  # (..., n)
    penalty = 0.5 * l2 * np.sum(weights * weights, axis=-1)
    return np.mean(pointwise(z, y), axis=-1) + penalty


def plane_grid(center, direction1, direction2, alphas, betas) -> np.ndarray:
    r"""Points :math:`c + \alpha u + \beta v` of a plane through parameter space.

    Parameters
    ----------
    center, direction1, direction2 : array of shape (p,)
    alphas : array of shape (a,)
    betas : array of shape (b,)

    Returns
    -------
    ndarray of shape (b, a, p)
        Row ``j``, column ``i`` is ``center + alphas[i] * direction1 + betas[j] *
        direction2`` (the layout of ``numpy.meshgrid(alphas, betas)``). For a line,
        pass ``direction2`` of zeros and ``betas=[0]``.
    """
    c, u, v = (np.asarray(a, dtype=np.float64) for a in (center, direction1, direction2))
    a = np.asarray(alphas, dtype=np.float64)[None, :, None]
    b = np.asarray(betas, dtype=np.float64)[:, None, None]
    return c + a * u + b * v
