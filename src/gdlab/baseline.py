"""The scikit-learn reference a sweep is compared with: same split, same objective.

For each L2 strength in the sweep's grid, scikit-learn solves the same regularised
problem to high precision (``LogisticRegression(C=1/(n*l2))`` or ``Ridge(alpha=n*l2)``,
see :mod:`gdlab.losses`). Its objective value is the optimum that the convergence plot
measures each gradient-descent run against.
"""

from __future__ import annotations

import warnings

import numpy as np

from gdlab.data.core import Split
from gdlab.losses import LogisticLoss, SquaredLoss
from gdlab.train import evaluate


class _Fitted:
    """The slice of the gdlab model interface that :func:`gdlab.train.evaluate` needs."""

    def __init__(self, coef, intercept):
        self.coef_, self.intercept_ = np.asarray(coef, dtype=np.float64), float(intercept)

    def decision_function(self, X):
        return X @ self.coef_ + self.intercept_

    def predict_proba(self, X):
        from gdlab.losses import sigmoid

        p = sigmoid(self.decision_function(X))
        return np.column_stack([1 - p, p])


def sklearn_fit(task: str, X, y, l2: float) -> tuple[np.ndarray, float, bool]:
    """Solve the penalised problem with scikit-learn; returns (coef, intercept, converged)."""
    from sklearn.exceptions import ConvergenceWarning

    n = X.shape[0]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        if task == "classification":
            from sklearn.linear_model import LogisticRegression

            # l2 = 0: C = inf is scikit-learn's unpenalised fit (penalty= is deprecated in 1.9)
            C = np.inf if l2 == 0 else 1.0 / (n * l2)
            est = LogisticRegression(C=C, tol=1e-10, max_iter=10000).fit(X, y)
            coef, intercept = est.coef_[0], est.intercept_[0]
        elif l2 == 0:
            from sklearn.linear_model import LinearRegression

            est = LinearRegression().fit(X, y)
            coef, intercept = est.coef_, est.intercept_
        else:
            from sklearn.linear_model import Ridge

            est = Ridge(alpha=n * l2, solver="cholesky").fit(X, y)
            coef, intercept = est.coef_, est.intercept_
    converged = not any(issubclass(w.category, ConvergenceWarning) for w in caught)
    return np.asarray(coef, dtype=np.float64), float(intercept), converged


def baseline(split: Split, l2_values) -> dict:
    """scikit-learn's solution, objective and metrics for every ``l2`` in ``l2_values``."""
    objective_cls = LogisticLoss if split.task == "classification" else SquaredLoss
    out = {"task": split.task, "by_l2": {}}
    for l2 in sorted({float(v) for v in l2_values}):
        coef, intercept, converged = sklearn_fit(split.task, split.X_train, split.y_train, l2)
        fitted = _Fitted(coef, intercept)
        out["by_l2"][repr(l2)] = {
            "l2": l2,
            "coef": coef.tolist(),
            "intercept": intercept,
            "converged": converged,
            "objective": objective_cls(l2).value(coef, intercept, split.X_train, split.y_train),
            "metrics": {part: evaluate(split.task, fitted, X, y) for part, X, y in (
                ("train", split.X_train, split.y_train),
                ("val", split.X_val, split.y_val),
                ("test", split.X_test, split.y_test))},
        }
    return out
