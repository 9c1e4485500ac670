"""What gdlab is compared with, from scikit-learn, on the same split: two references,
each named for what it is.

**The proof** (``references``, one per problem of the sweep, :func:`gdlab.grid.
reference_key`: its ``l2``, and its loss or architecture when the grid sets them): the
optimum of *the same objective* gradient descent minimises, found by scikit-learn's exact
solvers, so that a run's objective gap shows whether gradient descent reached what
``fit()`` reaches:

- ``linear_regression``: ``LinearRegression`` / ``Ridge(alpha=n*l2)``, exact;
- ``logistic_regression`` with log loss: ``LogisticRegression(C=1/(n*l2))``, lbfgs with a
  tight tol; ``softmax_regression``: the same, multinomial (for K = 2 the binary fit at
  ``C = 2/(n*l2)``, whose weights ``±w/2`` are the softmax optimum).

Only a problem that has one minimum gets an optimum (``optimum``; otherwise ``no_optimum``
says why): a non-convex objective (the squared loss on the sigmoid, a neural network) has
local minima and plateaus, and without L2 on data a line separates, log loss has no
minimum at all (its infimum 0 is approached as the weights grow without bound; scikit-
learn stops somewhere on the way, and doubling its weights lowers the objective further).

**What scikit-learn's two lines give** (``default``): the default estimator, fitted on the
same training split: ``LinearRegression()``, ``LogisticRegression()`` (its ``C=1.0`` is an
L2 penalty of ``1/n``), or ``MLPClassifier``/``MLPRegressor`` of the run's architecture
(hidden layers, activation; ``random_state=0``), one per architecture of the sweep. Its
test metrics stand beside gdlab's best run.

scikit-learn's parameters are loaded into the gdlab model (``from_arrays``), so every
objective and metric here is computed by gdlab's own code.
"""

from __future__ import annotations

import warnings

import numpy as np

from gdlab.data.core import Split
from gdlab.grid import reference_key
from gdlab.models.registry import model_info
from gdlab.train import evaluate

_SKLEARN_TOL = 1e-10
#: problems with one minimum: a convex objective (the MLP's, the squared loss's are not)
CONVEX = {"linear_regression": None, "logistic_regression": "log_loss",
          "softmax_regression": None}
#: the architecture of a network: one default estimator per value of these
ARCHITECTURE = ("hidden_layer_sizes", "activation")


def _convex(model: str, est) -> bool:
    return model in CONVEX and (CONVEX[model] is None or est.loss == CONVEX[model])


def _mlp_arrays(sk, model: str, activation: str) -> dict[str, np.ndarray]:
    """A fitted scikit-learn network as gdlab's MLP arrays."""
    layers = list(zip(sk.coefs_, sk.intercepts_, strict=True))
    if model == "mlp_classifier" and sk.coefs_[-1].shape[1] == 1:
        # scikit-learn's two-class output is sigmoid(z): the softmax of [0, z]
        W, b = layers[-1]
        layers[-1] = (np.hstack([np.zeros_like(W), W]), np.concatenate([[0.0], b]))
    arrays = {"activation": np.array(activation, dtype=np.str_)}
    for i, (W, b) in enumerate(layers):
        arrays[f"W{i}"], arrays[f"b{i}"] = W, b
    return arrays


def optimum_arrays(model: str, hp: dict, X, y) -> tuple[dict[str, np.ndarray], bool]:
    """scikit-learn's solution of the run's (convex) problem as the gdlab model's
    ``to_arrays()``; returns (arrays, converged)."""
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
        else:
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
    converged = not any(issubclass(w.category, ConvergenceWarning) for w in caught)
    return {k: np.asarray(v) for k, v in arrays.items()}, converged


def default_estimator(model: str, hp: dict, X, y) -> tuple[str, dict[str, np.ndarray], bool]:
    """scikit-learn's default estimator for ``model`` fitted on ``X, y``: (how it is
    written, its parameters as the gdlab model's arrays, converged)."""
    from sklearn.exceptions import ConvergenceWarning

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        if model == "linear_regression":
            from sklearn.linear_model import LinearRegression

            sk = LinearRegression().fit(X, y)
            text = "LinearRegression()"
            arrays = {"coef": sk.coef_, "intercept": np.float64(sk.intercept_)}
        elif model in ("logistic_regression", "softmax_regression"):
            from sklearn.linear_model import LogisticRegression

            sk = LogisticRegression().fit(X, y)
            text = "LogisticRegression()"
            if model == "logistic_regression":
                arrays = {"coef": sk.coef_[0], "intercept": np.float64(sk.intercept_[0])}
            elif sk.coef_.shape[0] == 1:  # two classes: the softmax of [-z/2, z/2]
                arrays = {"coef": np.vstack([-sk.coef_[0], sk.coef_[0]]) / 2,
                          "intercept": np.array([-1.0, 1.0]) * sk.intercept_[0] / 2}
            else:
                arrays = {"coef": sk.coef_, "intercept": sk.intercept_}
        else:
            from sklearn.neural_network import MLPClassifier, MLPRegressor

            est = model_info(model).load()(**hp)
            cls = MLPClassifier if model == "mlp_classifier" else MLPRegressor
            sizes = tuple(int(s) for s in est.hidden_layer_sizes)
            sk = cls(hidden_layer_sizes=sizes, activation=est.activation, random_state=0)
            sk.fit(X, y)
            text = (f"{cls.__name__}(hidden_layer_sizes={sizes}, "
                    f"activation={est.activation!r}, random_state=0)")
            arrays = _mlp_arrays(sk, model, est.activation)
    converged = not any(issubclass(w.category, ConvergenceWarning) for w in caught)
    return text, {k: np.asarray(v) for k, v in arrays.items()}, converged


def _fitted(model: str, hp: dict, arrays: dict):
    """The gdlab model with ``arrays`` as parameters and the run's objective."""
    fitted = model_info(model).load().from_arrays(arrays)
    est = model_info(model).load()(**hp)
    for key in ("l2", "loss", "fit_intercept"):
        if hasattr(est, key):
            setattr(fitted, key, getattr(est, key))
    return fitted


def _metrics(split: Split, fitted) -> dict:
    return {part: evaluate(split.task, fitted, X, y, split.n_classes)
            for part, X, y in (("train", split.X_train, split.y_train),
                               ("val", split.X_val, split.y_val),
                               ("test", split.X_test, split.y_test))}


def _lists(arrays: dict) -> dict:
    return {k: v.tolist() for k, v in arrays.items()}


def reference(split: Split, model: str, hp: dict) -> dict:
    """The optimum of one problem, or why it has none (``no_optimum``)."""
    est = model_info(model).load()(**hp)
    entry = {"l2": float(hp["l2"]), "optimum": None}
    if not _convex(model, est):
        entry["no_optimum"] = ("the objective is not convex (local minima and plateaus): "
                               "no one optimum to measure a gap to")
        return entry
    arrays, converged = optimum_arrays(model, hp, split.X_train, split.y_train)
    fitted = _fitted(model, hp, arrays)
    objective = float(fitted.objective(split.X_train, split.y_train))
    if model != "linear_regression" and float(hp["l2"]) == 0:
        doubled = _fitted(model, hp, {k: v * 2 if v.dtype.kind == "f" else v
                                      for k, v in arrays.items()})
        if not converged or doubled.objective(split.X_train, split.y_train) < objective:
            entry["no_optimum"] = (
                "without L2 the log loss of these training data has no minimum: doubling "
                "scikit-learn's weights lowers it further (the data are separable, the "
                "weights grow without bound)")
            return entry
    entry["optimum"] = {"objective": objective, "converged": converged,
                        "arrays": _lists(arrays), "metrics": _metrics(split, fitted)}
    return entry


def baseline(split: Split, model: str, hyperparameters) -> dict:
    """``baseline.json``: the optimum (or why none) of each problem of the runs
    ``hyperparameters``, and the default estimator of each architecture."""
    problems = {reference_key(hp): hp for hp in hyperparameters}
    architectures = {repr([hp.get(k) for k in ARCHITECTURE if k in hp]): hp
                     for hp in hyperparameters}
    out = {"task": split.task, "model": model,
           "references": {key: reference(split, model, problems[key])
                          for key in sorted(problems)},
           "default": {}}
    for key in sorted(architectures):
        hp = architectures[key]
        text, arrays, converged = default_estimator(model, hp, split.X_train, split.y_train)
        out["default"][architecture_key(hp)] = {
            "estimator": text, "converged": converged, "arrays": _lists(arrays),
            "metrics": _metrics(split, _fitted(model, hp, arrays))}
    return out


def architecture_key(hp: dict) -> str:
    """The key of a run's default estimator in ``baseline.json``: its architecture
    (``hidden_layer_sizes~16/activation~tanh``), empty for linear models."""
    return "/".join(f"{k}~{hp[k]}" for k in ARCHITECTURE if k in hp)


def optimum_objective(baseline_record: dict, hp: dict) -> float | None:
    """The optimum's objective of a run's problem, None when it has none."""
    entry = baseline_record.get("references", {}).get(reference_key(hp)) or {}
    return (entry.get("optimum") or {}).get("objective")


def no_optimum_reason(baseline_record: dict, hp: dict) -> str | None:
    """In a few words, why a run's problem has no optimum (None when it has one)."""
    entry = baseline_record.get("references", {}).get(reference_key(hp)) or {}
    reason = entry.get("no_optimum")
    if reason is None:
        return None
    return ("non-convex objective" if "not convex" in reason
            else "no minimum (l2 = 0, the data are separable)")


def default_of(baseline_record: dict, hp: dict) -> dict | None:
    """The default estimator's record for a run's architecture."""
    return baseline_record.get("default", {}).get(architecture_key(hp))
