r"""The gradient-descent training loop that every gdlab model shares.

A model is a parameter vector :math:`\theta` and an objective :math:`J(\theta)`. This
module knows nothing about what :math:`\theta` means: a model subclasses
:class:`GradientDescentModel` and says how to start (``_initial_parameters``), how to
evaluate :math:`J` and :math:`\nabla J` on a batch (``_value`` / ``_value_and_gradient``),
how to score validation data, and how to keep the result (``_store_parameters``).
Models with several weight arrays (a neural network) lay them out in one flat vector
with :class:`ParameterLayout`, so that the optimizers of :mod:`gdlab.optimizers` see a
single array whatever the model.
"""

from __future__ import annotations

import inspect
import json
import numbers
import operator

import numpy as np

from gdlab import metrics
from gdlab.models.solving import SOLVERS, fit_by_solver
from gdlab.optimizers import OPTIMIZERS, make_optimizer

#: a run has diverged once its objective is non-finite or this many times its starting
#: value (at least 1): a stable step size never climbs that far on these objectives,
#: while an unstable one grows geometrically and would take hundreds of epochs to overflow.
DIVERGENCE_FACTOR = 1e6


class GradientDescentModel:
    r"""Gradient descent over one flat parameter vector, with history and divergence.

    One epoch is one pass over the training data: a single step when ``batch_size`` is
    None (full batch), else one step per mini-batch in an order drawn from
    ``numpy.random.default_rng(seed)`` (after any draws of the initial parameters). After
    each epoch the full training objective is recorded in ``history_["train_objective"]``
    (and, when validation data are given, the task's validation metrics, the same for
    every model whatever loss it trains: ``val_log_loss`` and ``val_accuracy`` for a
    classifier, ``val_mse`` and ``val_r2`` for a regressor, computed from ``predict_proba``
    or ``predict`` as the final metrics are). Training stops early when the objective
    improves by less than ``tol`` (``converged_``), or when it is no longer finite or has
    blown up past ``DIVERGENCE_FACTOR`` times its start (``diverged_``: the history keeps
    that last value, the parameters are those of the epoch before, and nothing is raised
    so that a sweep can go on).

    Parameters
    ----------
    lr : float
        Learning rate :math:`\eta > 0`.
    epochs : int
        Maximum number of passes over the training data.
    l2 : float
        Strength :math:`\lambda \ge 0` of the penalty
        :math:`\tfrac{\lambda}{2}\lVert W\rVert^2` (each model says which parameters
        :math:`W` are penalised; never the intercepts).
    batch_size : int or None
        Mini-batch size; None (or at least the number of samples) is full-batch descent.
    optimizer : {"gd", "momentum", "adam", "newton", "lbfgs"}
        Update rule, see :mod:`gdlab.optimizers`; or a solver of :mod:`gdlab.solvers`
        (full batch; an epoch is one iteration, ``lr`` is not used, and ``solver_``
        reports the iterations, evaluations and why it stopped). ``newton`` needs the
        model's exact Hessian (``_hessian``): not the MLPs'.
    tol : float or None
        Stop once an epoch lowers the objective by less than this; for a solver, once
        the gradient's largest component is at most this.
    seed : int
        Seeds every random draw of a fit (initial parameters, mini-batch order).
    """

    #: "binary"/"multiclass" (a :class:`Classifier`) or "regression": which validation
    #: metrics the history records (:data:`gdlab.metrics.CURVE_KEYS`)
    def _target_kind(self) -> str:
        raise NotImplementedError

    def __init__(self, lr=0.1, epochs=100, l2=0.0, batch_size=None, optimizer="gd",
                 tol=None, seed=0):
        self.lr = lr
        self.epochs = epochs
        self.l2 = l2
        self.batch_size = batch_size
        self.optimizer = optimizer
        self.tol = tol
        self.seed = seed

    # -- what a model defines --------------------------------------------------------------
    def _check_model_hyperparameters(self) -> None:
        """Raise ``ValueError`` naming a bad model-specific hyperparameter."""

    def _check_y(self, y: np.ndarray, name: str) -> np.ndarray:
        return y

    def _prepare(self, X: np.ndarray, y: np.ndarray, y_val: np.ndarray | None) -> None:
        """Learn what the data fix before training (number of classes, ...)."""

    def _initial_parameters(self, n_features: int, rng: np.random.Generator) -> np.ndarray:
        raise NotImplementedError

    def _value(self, theta: np.ndarray, X: np.ndarray, y: np.ndarray) -> float:
        raise NotImplementedError

    def _value_and_gradient(self, theta, X, y) -> tuple[float, np.ndarray]:
        raise NotImplementedError

    def _validation_scores(self, theta, X_val, y_val) -> dict[str, float]:
        """The task's validation metrics (:data:`gdlab.metrics.CURVE_KEYS`) of ``theta``,
        through the model's own prediction, as the final metrics are computed."""
        self._store_parameters(theta)
        kind = self._target_kind()
        with np.errstate(all="ignore"):  # a diverging step's overflow: NaN metrics
            out = self.predict(X_val) if kind == "regression" else self.predict_proba(X_val)
        scorer = getattr(self, "_curve_scorer", None)
        if scorer is None or scorer.y_true is not y_val:  # one per fit: labels checked once
            scorer = self._curve_scorer = metrics.CurveScorer(kind, y_val)
        return scorer(out)

    def _store_parameters(self, theta: np.ndarray) -> None:
        """Set the fitted attributes (``coef_``, ...) from the final parameter vector."""
        raise NotImplementedError

    #: ``_hessian(theta, X, y)``: the objective's exact Hessian, shape (p, p); a model
    #: that has none affordable (the MLP) leaves it None and cannot use ``newton``
    _hessian = None

    def _newton_free(self, theta: np.ndarray) -> np.ndarray | None:
        """The parameters Newton's method moves (None: all); the others are redundant
        (their Hessian is singular) and stay at their start."""
        return None

    def _canonical(self, theta: np.ndarray) -> np.ndarray:
        """The representative of ``theta`` a solver ends at, where parameters are
        redundant (softmax's class shift); ``theta`` by default."""
        return theta

    def _after_step(self, theta: np.ndarray) -> None:
        """Called with the start and with the parameters after every epoch (see
        :func:`descent_path`); does nothing by default."""

    # -- validation ------------------------------------------------------------------------
    def _check_hyperparameters(self) -> None:
        if not is_real(self.lr) or not self.lr > 0 or not np.isfinite(self.lr):
            raise hyperparameter_error(self, "lr", "a positive finite number")
        if not is_int(self.epochs) or self.epochs < 1:
            raise hyperparameter_error(self, "epochs", "an integer >= 1")
        if not is_real(self.l2) or not self.l2 >= 0 or not np.isfinite(self.l2):
            raise hyperparameter_error(self, "l2", "a finite number >= 0")
        if self.batch_size is not None and (not is_int(self.batch_size) or self.batch_size < 1):
            raise hyperparameter_error(self, "batch_size", "None (full batch) or an integer >= 1")
        if self.optimizer not in (*OPTIMIZERS, *SOLVERS):
            raise hyperparameter_error(self, "optimizer",
                                       f"one of {[*sorted(OPTIMIZERS), *SOLVERS]}")
        if self.optimizer == "newton" and self._hessian is None:
            raise ValueError(f"optimizer 'newton' needs the exact Hessian, which "
                             f"{type(self).__name__} does not have; use 'lbfgs'")
        if self.optimizer in SOLVERS and self.batch_size is not None:
            raise ValueError(f"optimizer {self.optimizer!r} is full batch: batch_size must "
                             f"be None, got {self.batch_size!r}")
        if self.tol is not None and (not is_real(self.tol) or not self.tol >= 0):
            raise hyperparameter_error(self, "tol", "None or a number >= 0")
        if not is_int(self.seed):
            raise hyperparameter_error(self, "seed", "an integer")
        self._check_model_hyperparameters()

    def _check_data(self, X, y, name="X", yname="y") -> tuple[np.ndarray, np.ndarray]:
        X = as_2d(X, name)
        y = np.asarray(y, dtype=np.float64)
        if y.ndim != 1:
            raise ValueError(f"{yname} must be 1-D, got shape {y.shape}")
        if X.shape[0] != y.shape[0]:
            raise ValueError(f"{name} has {X.shape[0]} samples but {yname} has {y.shape[0]}")
        if not np.all(np.isfinite(y)):
            raise ValueError(f"{yname} contains NaN or infinity")
        return X, self._check_y(y, yname)

    def _check_input(self, X) -> np.ndarray:
        """``X`` as a float 2-D array with the fitted number of features."""
        if not hasattr(self, "n_features_in_"):
            raise ValueError(f"this {type(self).__name__} is not fitted yet; call fit first")
        X = as_2d(X, "X")
        if X.shape[1] != self.n_features_in_:
            raise ValueError(f"X has {X.shape[1]} features, the model was fitted on "
                             f"{self.n_features_in_}")
        return X

    # -- training --------------------------------------------------------------------------
    def fit(self, X, y, X_val=None, y_val=None, *, resume: dict | None = None):
        """Minimise the objective on ``X, y`` by gradient descent; returns ``self``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
            Targets (regression) or class labels 0..K-1 (classification).
        X_val, y_val : array-like, optional
            Validation data, scored after every epoch into ``history_``.
        resume : dict of arrays, optional
            A :meth:`training_state` saved by a fit of the same hyperparameters (all but
            ``epochs``) on the same data, after at most ``epochs`` epochs. Training goes on
            from it up to ``epochs``: parameters, optimizer state, mini-batch generator,
            history and stopping state are restored, so the result is byte-identical to a
            fit straight through to ``epochs`` (successive halving continues its rungs so).
        """
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
        self._prepare(X, y, y_val)
        if self.optimizer in SOLVERS:  # solves from the start: nothing to resume
            return fit_by_solver(self, X, y, X_val, y_val)
        n, d = X.shape
        optimizer = make_optimizer(self.optimizer, float(self.lr))
        rng = np.random.default_rng(self.seed)
        full_batch = self.batch_size is None or self.batch_size >= n

        grad = None
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            if resume:  # an empty state (a closed-form fit's) has nothing to go on from
                theta, last_good, value, grad, prev, blow_up, history, stopped = \
                    self._restore(resume, optimizer, rng, has_val)
            else:
                theta = self._initial_parameters(d, rng)
                self._after_step(theta)
                history = {"epoch": [], "train_objective": []}
                if has_val:
                    history.update({f"val_{k}": [] for k in
                                    metrics.CURVE_KEYS[self._target_kind()]})
                stopped = ""
                last_good = theta
                if full_batch:
                    value, grad = self._value_and_gradient(theta, X, y)
                else:
                    value = self._value(theta, X, y)
                prev = value
                blow_up = DIVERGENCE_FACTOR * max(value, 1.0)
            first = len(history["epoch"]) + 1
            self.n_features_in_ = d  # the validation scores predict through the model
            for epoch in range(first, self.epochs + 1) if not stopped else ():
                if full_batch:
                    # The objective at the new parameters comes with the next gradient,
                    # so a full-batch epoch streams X exactly twice.
                    theta = optimizer.step(theta, grad)
                    value, grad = self._value_and_gradient(theta, X, y)
                else:
                    order = rng.permutation(n)
                    for start in range(0, n, self.batch_size):
                        idx = order[start : start + self.batch_size]
                        _, g = self._value_and_gradient(theta, X[idx], y[idx])
                        theta = optimizer.step(theta, g)
                    value = self._value(theta, X, y)
                self._after_step(theta)
                history["epoch"].append(epoch)
                history["train_objective"].append(value)
                if has_val:
                    for key, score in self._validation_scores(theta, X_val, y_val).items():
                        history[f"val_{key}"].append(score)
                if not value <= blow_up:  # also true for NaN
                    stopped = "diverged"
                    break
                last_good = theta
                if self.tol is not None and 0 <= prev - value < self.tol:
                    stopped = "converged"
                    break
                prev = value

        self.diverged_ = stopped == "diverged"
        self.converged_ = stopped == "converged"
        self.n_features_in_ = d
        self._store_parameters(last_good)
        self.n_epochs_ = len(history["epoch"])
        self.history_ = {k: np.asarray(v, dtype=np.float64 if k != "epoch" else np.int64)
                         for k, v in history.items()}
        self._last_state = (theta, last_good, value, grad, prev, blow_up, stopped,
                            optimizer, rng)
        return self

    # -- resumable state -------------------------------------------------------------------
    def _state_identity(self) -> str:
        """The hyperparameters a training state belongs to: all but ``epochs``."""
        names = [p for p in inspect.signature(type(self).__init__).parameters
                 if p not in ("self", "epochs")]
        return json.dumps({k: _plain(getattr(self, k)) for k in names}, sort_keys=True)

    def training_state(self) -> dict[str, np.ndarray]:
        """Everything the last :meth:`fit` needs to go on later (``fit(..., resume=)``), as
        plain arrays for ``np.savez`` (no pickle): current and last good parameters,
        objective values, the full-batch gradient, the optimizer's state
        (``optimizer.<attr>``), the mini-batch generator's state (JSON), the history
        (``history.<column>``) and why training stopped, if it did. Empty after a fit
        that has no epochs (a closed-form solve)."""
        if self._last_state is None:
            return {}
        theta, last_good, value, grad, prev, blow_up, stopped, optimizer, rng = \
            self._last_state
        state = {"identity": np.array(self._state_identity()),
                 "theta": theta, "last_good": last_good, "value": np.float64(value),
                 "prev": np.float64(prev), "blow_up": np.float64(blow_up),
                 "stopped": np.array(stopped),
                 "rng": np.array(json.dumps(rng.bit_generator.state, sort_keys=True))}
        if grad is not None:
            state["grad"] = grad
        for attr in type(optimizer).STATE:
            if getattr(optimizer, attr) is not None:
                state[f"optimizer.{attr}"] = np.asarray(getattr(optimizer, attr))
        state.update({f"history.{k}": v for k, v in self.history_.items()})
        return {k: np.asarray(v) for k, v in state.items()}

    def _restore(self, state: dict, optimizer, rng: np.random.Generator, has_val: bool):
        """The loop's variables from a :meth:`training_state` (checked to be this fit's)."""
        if array_to_str(state["identity"]) != self._state_identity():
            raise ValueError("resume: the state was saved by a fit of other hyperparameters "
                             f"({array_to_str(state['identity'])})")
        history = {k.removeprefix("history."): list(v) for k, v in state.items()
                   if k.startswith("history.")}
        if len(history["epoch"]) > self.epochs:
            raise ValueError(f"resume: the state is after epoch {len(history['epoch'])}, "
                             f"past epochs={self.epochs}")
        if any(k.startswith("val_") for k in history) != has_val:
            raise ValueError("resume: give validation data exactly when the saved fit had")
        for attr in type(optimizer).STATE:
            if f"optimizer.{attr}" in state:
                value = state[f"optimizer.{attr}"]
                setattr(optimizer, attr, int(value) if value.ndim == 0 else value.copy())
        rng.bit_generator.state = json.loads(array_to_str(state["rng"]))
        grad = state["grad"].copy() if "grad" in state else None
        return (state["theta"].copy(), state["last_good"].copy(), state["value"][()], grad,
                state["prev"][()], state["blow_up"][()], history,
                array_to_str(state["stopped"]))


def _plain(value):
    """A hyperparameter as JSON can hold it (tuples as lists)."""
    return list(value) if isinstance(value, tuple) else value


def descent_path(model: GradientDescentModel, X, y) -> np.ndarray:
    """Fit ``model`` on ``X, y`` and return the path its parameters took.

    Returns
    -------
    ndarray of shape (n_epochs_ + 1, n_parameters)
        The flat parameter vector at the start, then after every epoch (for a linear
        model ``[w_1..w_d, b]``): the gradient-descent path to draw on an
        objective surface. A diverged run's last row is the blown-up step.
    """
    path: list[np.ndarray] = []
    model._after_step = lambda theta: path.append(np.array(theta, dtype=np.float64))
    try:
        model.fit(X, y)
    finally:
        del model._after_step
    return np.array(path)


class Classifier:
    """What every classifier shares: labels 0..K-1, ``predict`` as the arg-max, accuracy.

    A subclass defines ``predict_proba(X)`` of shape (n, K) whose rows sum to 1.
    """

    def _target_kind(self) -> str:
        return "binary" if self.n_classes_ == 2 else "multiclass"

    def _check_y(self, y, name):
        return check_class_labels(y, name)

    def _prepare(self, X, y, y_val):
        # K is learnt from the training labels: scikit-learn's classes_, as 0..K-1.
        self.n_classes_ = max(int(y.max()) + 1, 2)
        if y_val is not None and y_val.max() >= self.n_classes_:
            raise ValueError(f"y_val holds label {int(y_val.max())}, but the training labels "
                             f"are 0..{self.n_classes_ - 1}")

    def predict(self, X) -> np.ndarray:
        """The most probable class of each row, shape (n,), int64."""
        return np.argmax(self.predict_proba(X), axis=1).astype(np.int64)

    def score(self, X, y) -> float:
        """Accuracy, as scikit-learn's classifiers."""
        return float(np.mean(np.asarray(y) == self.predict(X)))


class Regressor:
    """What every regressor shares: R² as the score."""

    def _target_kind(self) -> str:
        return "regression"

    def score(self, X, y) -> float:
        """R² of the predictions, as scikit-learn's regressors."""
        return metrics.r2(y, self.predict(X))


class ParameterLayout:
    """Several arrays (weights, biases...) laid end to end in one flat vector.

    ``unpack(theta)`` returns views into ``theta`` in the order of ``shapes``; ``pack``
    is its inverse. The optimizers update one vector; the model reads it as arrays.
    """

    def __init__(self, shapes):
        self.shapes = [tuple(int(s) for s in shape) for shape in shapes]
        self.sizes = [int(np.prod(shape)) for shape in self.shapes]
        self.size = sum(self.sizes)

    def unpack(self, theta: np.ndarray) -> list[np.ndarray]:
        arrays, start = [], 0
        for shape, size in zip(self.shapes, self.sizes, strict=True):
            arrays.append(theta[start : start + size].reshape(shape))
            start += size
        return arrays

    def pack(self, arrays) -> np.ndarray:
        return np.concatenate([np.asarray(a, dtype=np.float64).ravel() for a in arrays])


def check_class_labels(y: np.ndarray, name: str) -> np.ndarray:
    """``y`` if it holds class labels 0, 1, 2, ... (as floats or ints), else ``ValueError``."""
    if not np.all((y >= 0) & (y == np.floor(y))):
        bad = np.unique(y[(y < 0) | (y != np.floor(y))])[:5]
        raise ValueError(f"{name} must hold class labels 0, 1, ..., K-1, got {bad}")
    return y


def hyperparameter_error(model, name: str, expected: str) -> ValueError:
    return ValueError(f"{name} must be {expected}, got {getattr(model, name)!r}")


def check_choice(model, name: str, choices) -> None:
    if getattr(model, name) not in choices:
        raise hyperparameter_error(model, name, f"one of {list(choices)}")


def is_int(v) -> bool:
    return isinstance(v, numbers.Integral) and not isinstance(v, bool)


def is_real(v) -> bool:
    return isinstance(v, numbers.Real) and not isinstance(v, bool)


def as_2d(X, name: str) -> np.ndarray:
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


def array_to_str(value: np.ndarray) -> str:
    """A string stored by :meth:`to_arrays` as a 0-d unicode array, back as ``str``."""
    return str(np.asarray(value).item())


def ints(values) -> tuple[int, ...]:
    """A sequence of integers as a tuple of Python ints (``hidden_layer_sizes``)."""
    return tuple(operator.index(v) for v in values)
