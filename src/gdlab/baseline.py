"""The scikit-learn reference a sweep is compared with: same split, same objective.

For each problem of the sweep (:func:`gdlab.grid.reference_key`: its ``l2``, and its loss or
architecture when the grid sets them), scikit-learn fits the model that minimises the
same objective (see :mod:`gdlab.losses` and the models' docstrings):

- ``linear_regression``: ``LinearRegression`` / ``Ridge(alpha=n*l2)``, exact;
- ``logistic_regression``: ``LogisticRegression(C=1/(n*l2))``, lbfgs with a tight tol;
- ``softmax_regression``: the same, multinomial for K > 2 (for K = 2 the binary fit at
  ``C = 2/(n*l2)``, whose weights ``±w/2`` are the softmax optimum);
- ``mlp_classifier``, ``mlp_regressor``: ``MLPClassifier`` / ``MLPRegressor`` of the same
  architecture with ``alpha = n*l2``. A non-convex problem: a comparison of accuracy, not
  an exact oracle.

scikit-learn's parameters are loaded into the gdlab model (``from_arrays``), so the
reference's objective and metrics are computed by gdlab's own code. For a logistic run
with ``loss="squared"`` the reference is the log-loss fit, its objective the squared one
at that point: a point to compare with, not that problem's optimum.
"""

from __future__ import annotations

import warnings

import numpy as np

from gdlab.data.core import Split
from gdlab.grid import reference_key
from gdlab.models.registry import model_info
from gdlab.train import evaluate

_SKLEARN_TOL = 1e-10


def sklearn_arrays(model: str, hp: dict, X, y) -> tuple[dict[str, np.ndarray], bool]:
    """scikit-learn's solution of the run's problem as the gdlab model's ``to_arrays()``;
    returns (arrays, converged)."""
    from sklearn.exceptions import ConvergenceWarning

    est = model_info(model).load()(**hp)  # the run's problem, with the class's defaults
    n, l2 = X.shape[0], float(est.l2)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        if model == "linear_regression":
            from sklearn.linear_model import LinearRegression, Ridge

            sk = (LinearRegression() if l2 == 0 else Ridge(alpha=n * l2, solver="cholesky"))
            sk.fit(X, y)
            arrays = {"coef": sk.coef_, "intercept": np.float64(sk.intercept_)}
        elif model in ("logistic_regression", "softmax_regression"):
            from sklearn.linear_model import LogisticRegression

            k = int(y.max()) + 1
            # two-class softmax: W = [-w/2, w/2] has penalty l2/4 ||w||^2, so C doubles
            scale = 2.0 if model == "softmax_regression" and k == 2 else 1.0
            # l2 = 0: C = inf is scikit-learn's unpenalised fit (penalty= is deprecated in 1.9)
            C = np.inf if l2 == 0 else scale / (n * l2)
            sk = LogisticRegression(C=C, tol=_SKLEARN_TOL, max_iter=10000).fit(X, y)
            if model == "logistic_regression":
                arrays = {"coef": sk.coef_[0], "intercept": np.float64(sk.intercept_[0])}
            elif k == 2:
                arrays = {"coef": np.vstack([-sk.coef_[0], sk.coef_[0]]) / 2,
                          "intercept": np.array([-1.0, 1.0]) * sk.intercept_[0] / 2}
            else:
                arrays = {"coef": sk.coef_, "intercept": sk.intercept_}
        else:
            from sklearn.neural_network import MLPClassifier, MLPRegressor

            cls = MLPClassifier if model == "mlp_classifier" else MLPRegressor
            # lbfgs to a (local) optimum of the same objective: adam with scikit-learn's
            # defaults stops at tol=1e-4 far from it (0.875 test accuracy on moons where
            # both reach 1.0 when run on)
            sk = cls(hidden_layer_sizes=tuple(est.hidden_layer_sizes),
                     activation=est.activation, alpha=n * l2, solver="lbfgs", max_iter=5000,
                     tol=1e-8, random_state=0)
            sk.fit(X, y)
            layers = list(zip(sk.coefs_, sk.intercepts_, strict=True))
            if model == "mlp_classifier" and sk.coefs_[-1].shape[1] == 1:
                # scikit-learn's two-class output is sigmoid(z): the softmax of [0, z]
                W, b = layers[-1]
                layers[-1] = (np.hstack([np.zeros_like(W), W]), np.concatenate([[0.0], b]))
            arrays = {"activation": np.array(est.activation, dtype=np.str_)}
            for i, (W, b) in enumerate(layers):
                arrays[f"W{i}"], arrays[f"b{i}"] = W, b
    converged = not any(issubclass(w.category, ConvergenceWarning) for w in caught)
    return {k: np.asarray(v) for k, v in arrays.items()}, converged


def _fitted(model: str, hp: dict, arrays: dict):
    """The gdlab model with ``arrays`` as parameters and the run's objective."""
    fitted = model_info(model).load().from_arrays(arrays)
    est = model_info(model).load()(**hp)
    for key in ("l2", "loss", "fit_intercept"):
        if hasattr(est, key):
            setattr(fitted, key, getattr(est, key))
    return fitted


def baseline(split: Split, model: str, hyperparameters) -> dict:
    """scikit-learn's solution, objective and metrics for each problem of the runs
    ``hyperparameters`` (keyed by :func:`gdlab.grid.reference_key`)."""
    problems = {reference_key(hp): hp for hp in hyperparameters}
    out = {"task": split.task, "model": model, "references": {}}
    for key in sorted(problems):
        hp = problems[key]
        arrays, converged = sklearn_arrays(model, hp, split.X_train, split.y_train)
        fitted = _fitted(model, hp, arrays)
        out["references"][key] = {
            "l2": float(hp["l2"]),
            **{k: v.tolist() for k, v in arrays.items()},
            "converged": converged,
            "objective": float(fitted.objective(split.X_train, split.y_train)),
            "metrics": {part: evaluate(split.task, fitted, X, y, split.n_classes)
                        for part, X, y in (("train", split.X_train, split.y_train),
                                           ("val", split.X_val, split.y_val),
                                           ("test", split.X_test, split.y_test))},
        }
    return out
