"""Linear and logistic regression trained by gradient descent, in NumPy.

The estimators follow scikit-learn's shape: ``__init__`` only stores hyperparameters,
``fit`` validates them and the data and returns ``self``, fitted attributes end in ``_``.
The objective and its gradient live in :mod:`gdlab.losses`, the update rules in
:mod:`gdlab.optimizers`; this module is the training loop.
"""

from __future__ import annotations

import numbers

import numpy as np

from gdlab import metrics
from gdlab.losses import LinearObjective, LogisticLoss, SquaredLoss, sigmoid
from gdlab.optimizers import OPTIMIZERS, make_optimizer

#: a run has diverged once its objective is non-finite or this many times its starting
#: value (at least 1): a stable step size never climbs that far on these convex objectives,
#: while an unstable one grows geometrically and would take hundreds of epochs to overflow.
DIVERGENCE_FACTOR = 1e6


class _GradientDescentModel:
    """The training loop shared by both models.

    One epoch is one pass over the training data: a single step when ``batch_size`` is
    None (full batch), else one step per mini-batch in an order drawn from
    ``numpy.random.default_rng(seed)``. After each epoch the full training objective is
    recorded in ``history_["train_objective"]`` (and, when validation data are given,
    ``val_loss`` and the model's validation metric). Training stops early when the
    objective improves by less than ``tol`` (``converged_``), or when it is no longer
    finite or has blown up past ``DIVERGENCE_FACTOR`` times its start (``diverged_``: the
    history keeps that last value, the coefficients keep the parameters of the epoch
    before, and nothing is raised so that a sweep can go on).
    """

    _val_metric_name: str  # e.g. "accuracy"; history column is "val_" + this

    def __init__(
        self,
        lr: float = 0.1,
        epochs: int = 100,
        l2: float = 0.0,
        batch_size: int | None = None,
        optimizer: str = "gd",
        tol: float | None = None,
        fit_intercept: bool = True,
        seed: int = 0,
    ):
        self.lr = lr
        self.epochs = epochs
        self.l2 = l2
        self.batch_size = batch_size
        self.optimizer = optimizer
        self.tol = tol
        self.fit_intercept = fit_intercept
        self.seed = seed

    # -- hooks for the subclasses --------------------------------------------------------
    def _objective(self) -> LinearObjective:
        raise NotImplementedError

    def _check_y(self, y: np.ndarray, name: str) -> np.ndarray:
        return y

    def _val_metric(self, y_true: np.ndarray, z: np.ndarray) -> float:
        raise NotImplementedError

    # -- validation ----------------------------------------------------------------------
    def _check_hyperparameters(self) -> None:
        def bad(name, expected):
            return ValueError(f"{name} must be {expected}, got {getattr(self, name)!r}")

        if not _is_real(self.lr) or not self.lr > 0 or not np.isfinite(self.lr):
            raise bad("lr", "a positive finite number")
        if not _is_int(self.epochs) or self.epochs < 1:
            raise bad("epochs", "an integer >= 1")
        if not _is_real(self.l2) or not self.l2 >= 0 or not np.isfinite(self.l2):
            raise bad("l2", "a finite number >= 0")
        if self.batch_size is not None and (not _is_int(self.batch_size) or self.batch_size < 1):
            raise bad("batch_size", "None (full batch) or an integer >= 1")
        if self.optimizer not in OPTIMIZERS:
            raise bad("optimizer", f"one of {sorted(OPTIMIZERS)}")
        if self.tol is not None and (not _is_real(self.tol) or not self.tol >= 0):
            raise bad("tol", "None or a number >= 0")
        if not _is_int(self.seed):
            raise bad("seed", "an integer")

    def _check_data(self, X, y, name="X", yname="y") -> tuple[np.ndarray, np.ndarray]:
        X = _as_2d(X, name)
        y = np.asarray(y, dtype=np.float64)
        if y.ndim != 1:
            raise ValueError(f"{yname} must be 1-D, got shape {y.shape}")
        if X.shape[0] != y.shape[0]:
            raise ValueError(f"{name} has {X.shape[0]} samples but {yname} has {y.shape[0]}")
        if not np.all(np.isfinite(y)):
            raise ValueError(f"{yname} contains NaN or infinity")
        return X, self._check_y(y, yname)

    # -- training ------------------------------------------------------------------------
    def fit(self, X, y, X_val=None, y_val=None):
        self._check_hyperparameters()
        X, y = self._check_data(X, y)
        has_val = X_val is not None or y_val is not None
        if has_val:
            if X_val is None or y_val is None:
                raise ValueError("give both X_val and y_val, or neither")
            X_val, y_val = self._check_data(X_val, y_val, "X_val", "y_val")
            if X_val.shape[1] != X.shape[1]:
                raise ValueError(
                    f"X_val has {X_val.shape[1]} features but X has {X.shape[1]}"
                )
        n, d = X.shape
        objective = self._objective()
        optimizer = make_optimizer(self.optimizer, float(self.lr))
        rng = np.random.default_rng(self.seed)
        full_batch = self.batch_size is None or self.batch_size >= n

        theta = np.zeros(d + 1)  # weights, then intercept; convex problems: zero start is fine
        history = {"epoch": [], "train_objective": []}
        if has_val:
            history["val_loss"] = []
            history["val_" + self._val_metric_name] = []

        def gradient(theta, Xb, yb):
            value, gw, gb = objective.value_and_gradient(theta[:-1], theta[-1], Xb, yb)
            return value, np.append(gw, gb)

        self.diverged_ = self.converged_ = False
        last_good = theta
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            if full_batch:
                value, grad = gradient(theta, X, y)
            else:
                value = objective.value(theta[:-1], theta[-1], X, y)
            prev = value
            blow_up = DIVERGENCE_FACTOR * max(value, 1.0)
            for epoch in range(1, self.epochs + 1):
                if full_batch:
                    # The objective at the new parameters comes with the next gradient,
                    # so a full-batch epoch streams X exactly twice.
                    theta = optimizer.step(theta, grad)
                    value, grad = gradient(theta, X, y)
                else:
                    order = rng.permutation(n)
                    for start in range(0, n, self.batch_size):
                        idx = order[start : start + self.batch_size]
                        _, g = gradient(theta, X[idx], y[idx])
                        theta = optimizer.step(theta, g)
                    value = objective.value(theta[:-1], theta[-1], X, y)
                history["epoch"].append(epoch)
                history["train_objective"].append(value)
                if has_val:
                    z_val = X_val @ theta[:-1] + theta[-1]
                    history["val_loss"].append(objective.mean_loss(z_val, y_val))
                    history["val_" + self._val_metric_name].append(self._val_metric(y_val, z_val))
                if not value <= blow_up:  # also true for NaN
                    self.diverged_ = True
                    break
                last_good = theta
                if self.tol is not None and 0 <= prev - value < self.tol:
                    self.converged_ = True
                    break
                prev = value

        self.coef_ = last_good[:-1].copy()
        self.intercept_ = float(last_good[-1])
        self.n_epochs_ = len(history["epoch"])
        self.n_features_in_ = d
        self.history_ = {k: np.asarray(v, dtype=np.float64 if k != "epoch" else np.int64)
                         for k, v in history.items()}
        return self

    # -- prediction ----------------------------------------------------------------------
    def decision_function(self, X) -> np.ndarray:
        if not hasattr(self, "coef_"):
            raise ValueError(f"this {type(self).__name__} is not fitted yet; call fit first")
        X = _as_2d(X, "X")
        if X.shape[1] != self.coef_.shape[0]:
            raise ValueError(f"X has {X.shape[1]} features, the model was fitted on "
                             f"{self.coef_.shape[0]}")
        return X @ self.coef_ + self.intercept_

    def objective(self, X, y) -> float:
        """The training objective (mean loss + L2 penalty) of the fitted model on ``X, y``."""
        X, y = self._check_data(X, y)
        return self._objective().value(self.coef_, self.intercept_, X, y)


class LinearRegression(_GradientDescentModel):
    """Least squares with optional L2 penalty (ridge), by gradient descent or closed form.

    Objective: ``mean(0.5 * (X @ coef_ + intercept_ - y)**2) + l2/2 * ||coef_||**2``
    (see :class:`gdlab.losses.SquaredLoss`). ``solver="closed_form"`` solves the same
    problem exactly through a least-squares solve of the augmented system
    ``[Xc; sqrt(n*l2) I] w = [yc; 0]`` on centred data (no normal-equation squaring of
    the condition number); its history has one entry, epoch 0.
    """

    _val_metric_name = "r2"

    def __init__(self, lr=0.1, epochs=100, l2=0.0, batch_size=None, optimizer="gd",
                 tol=None, fit_intercept=True, seed=0, solver="gd"):
        super().__init__(lr, epochs, l2, batch_size, optimizer, tol, fit_intercept, seed)
        self.solver = solver

    def _objective(self):
        return SquaredLoss(self.l2, self.fit_intercept)

    def _val_metric(self, y_true, z):
        return metrics.r2(y_true, z) if np.all(np.isfinite(z)) else float("nan")

    def fit(self, X, y, X_val=None, y_val=None):
        if self.solver == "gd":
            return super().fit(X, y, X_val, y_val)
        if self.solver != "closed_form":
            raise ValueError(f"solver must be 'gd' or 'closed_form', got {self.solver!r}")
        if not _is_real(self.l2) or not self.l2 >= 0:
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
            z_val = self.decision_function(X_val)
            history["val_loss"] = np.array([self._objective().mean_loss(z_val, y_val)])
            history["val_r2"] = np.array([self._val_metric(y_val, z_val)])
        self.history_ = history
        return self

    def predict(self, X) -> np.ndarray:
        return self.decision_function(X)

    def score(self, X, y) -> float:
        """R² of the predictions, as scikit-learn's regressors."""
        return metrics.r2(y, self.predict(X))


class LogisticRegression(_GradientDescentModel):
    """Binary logistic regression (labels 0/1) with optional L2 penalty.

    Objective: ``mean(logaddexp(0, z) - y*z) + l2/2 * ||coef_||**2`` with
    ``z = X @ coef_ + intercept_`` (see :class:`gdlab.losses.LogisticLoss`).
    """

    _val_metric_name = "accuracy"

    def _objective(self):
        return LogisticLoss(self.l2, self.fit_intercept)

    def _check_y(self, y, name):
        if not np.all((y == 0) | (y == 1)):
            raise ValueError(f"{name} must hold binary labels 0 and 1, got {np.unique(y)[:5]}")
        return y

    def _val_metric(self, y_true, z):
        return metrics.accuracy(y_true, (z > 0).astype(np.float64))

    def predict_proba(self, X) -> np.ndarray:
        """Probabilities of classes 0 and 1, shape (n, 2), as scikit-learn."""
        p1 = sigmoid(self.decision_function(X))
        return np.column_stack([1.0 - p1, p1])

    def predict(self, X) -> np.ndarray:
        return (self.decision_function(X) > 0).astype(np.int64)

    def score(self, X, y) -> float:
        """Accuracy, as scikit-learn's classifiers."""
        return metrics.accuracy(y, self.predict(X))


MODELS = {"linear_regression": LinearRegression, "logistic_regression": LogisticRegression}
#: which task each model solves; the pipeline sweeps a model over every dataset of its task
MODEL_TASKS = {"linear_regression": "regression", "logistic_regression": "classification"}


def _is_int(v) -> bool:
    return isinstance(v, numbers.Integral) and not isinstance(v, bool)


def _is_real(v) -> bool:
    return isinstance(v, numbers.Real) and not isinstance(v, bool)


def _as_2d(X, name: str) -> np.ndarray:
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2:
        raise ValueError(f"{name} must be 2-D (samples x features), got shape {X.shape}")
    if X.shape[0] == 0:
        raise ValueError(f"{name} is empty: it has 0 samples")
    if X.shape[1] == 0:
        raise ValueError(f"{name} has 0 features")
    if not np.all(np.isfinite(X)):
        raise ValueError(f"{name} contains NaN or infinity")
    return X
