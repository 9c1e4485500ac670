"""How a model is fitted by a solver of :mod:`gdlab.solvers` (``optimizer`` ``newton`` or
``lbfgs``), the other branch of :meth:`gdlab.models.training.GradientDescentModel.fit`.

The solver sees the model's objective through the same hooks as gradient descent
(``_value``, ``_value_and_gradient``; Newton also ``_hessian``, ``_newton_free``), and
each iteration becomes one history entry, so curves, MLflow and figures read a solver's
run as any other. ``solver_`` reports iterations, evaluations and why it stopped
(``metrics.json``'s ``solver_stats``). A solve is not resumable: a halving rung fits it again
from the start, which gives the same bytes.
"""

from __future__ import annotations

import numpy as np

from gdlab import metrics, solvers

#: the optimizers that are solvers: full batch, ``epochs`` the most iterations, ``tol``
#: the largest gradient component to stop at, ``lr`` unused
SOLVERS = ("newton", "lbfgs")
#: L-BFGS's memory: the pairs (s, y) it keeps (scikit-learn's and scipy's default is 10)
LBFGS_MEMORY = 10


def fit_by_solver(model, X, y, X_val, y_val):
    """Fit ``model`` on ``X, y`` by Newton's method or L-BFGS: one history entry per iteration."""
    d = X.shape[1]
    model.n_features_in_ = d  # the validation scores predict through the model
    theta = model._initial_parameters(d, np.random.default_rng(model.seed))
    model._after_step(theta)
    history = {"epoch": [], "train_objective": []}
    if X_val is not None:
        history.update({f"val_{k}": [] for k in metrics.CURVE_KEYS[model._target_kind()]})

    def record(theta, value):
        theta = model._canonical(theta)
        model._after_step(theta)
        history["epoch"].append(len(history["epoch"]) + 1)
        history["train_objective"].append(value)
        if X_val is not None:
            for key, score in model._validation_scores(theta, X_val, y_val).items():
                history[f"val_{key}"].append(score)

    def value_and_gradient(t):
        return model._value_and_gradient(t, X, y)

    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        if model.optimizer == "newton":
            theta, count = solvers.newton(
                lambda t: model._value(t, X, y), value_and_gradient,
                lambda t: model._hessian(t, X, y), theta, model.epochs, model.tol,
                record, model._newton_free(theta))
        else:
            theta, count = solvers.lbfgs(value_and_gradient, theta, model.epochs,
                                         model.tol, LBFGS_MEMORY, record)
        if not history["epoch"]:  # a stationary start: one entry, of no step
            record(theta, model._value(theta, X, y))
    model.diverged_ = False  # every step decreases the objective
    model.converged_ = count.stop_reason in ("gradient", "objective")
    model.solver_ = count.report()
    model._store_parameters(model._canonical(theta))
    model.n_epochs_ = len(history["epoch"])
    model.history_ = {k: np.asarray(v, dtype=np.float64 if k != "epoch" else np.int64)
                     for k, v in history.items()}
    model._last_state = None  # a solve is not resumed: fit again (same bytes)
    return model
