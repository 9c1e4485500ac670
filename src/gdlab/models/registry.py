"""Every model gdlab can train, by name: the one list the pipeline is driven from.

An entry says which task a model solves, where its code lives, which hyperparameters a
grid may sweep (as JSON-Schema fragments, so ``config/schema.yaml`` can be checked
against them) and a default grid. Model modules are imported **lazily**, through
:mod:`importlib`, when a class is asked for: this module never names them in an
``import`` statement, so the code identity of a job (:func:`gdlab.codeversion.code_version`,
which follows ``from gdlab... import`` statements) contains only the model it runs
when the job adds ``ModelInfo.module`` to it.

Adding a model: its module (parameters, prediction, objective and gradient,
``to_arrays`` / ``from_arrays``), an entry in :data:`REGISTRY`, and tests.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

import numpy as np

#: one value of each hyperparameter every gradient-descent model has, as JSON Schema
COMMON_AXES = MappingProxyType({
    "lr": {"type": "number", "exclusiveMinimum": 0},
    "epochs": {"type": "integer", "minimum": 1},
    "l2": {"type": "number", "minimum": 0},
    "batch_size": {"type": ["integer", "null"], "minimum": 1},
    # newton and lbfgs: the solvers of gdlab.solvers (newton only where `hessian`)
    "optimizer": {"enum": ["gd", "momentum", "adam", "newton", "lbfgs"]},
    "tol": {"type": ["number", "null"], "minimum": 0},
})


@dataclass(frozen=True)
class ModelInfo:
    """What the pipeline needs to know about one model, without importing it.

    Attributes
    ----------
    name : str
        The config's and the results' name of the model (``models.<name>``).
    task : {"regression", "classification"}
        The datasets it is swept over.
    multiclass : bool
        Classification only: whether it fits K > 2 classes (False: labels 0/1 only).
    module, class_name : str
        Where the estimator lives: ``importlib.import_module(module).<class_name>``.
    axes : mapping of str to dict
        Each hyperparameter a grid may list, with the JSON Schema of one value (the
        common axes of :data:`COMMON_AXES` and the model's own).
    default_grid : mapping of str to list
        A grid that shows the model at work (the config's default for it).
    hessian : bool
        Whether the model has an exact Hessian, so ``optimizer: newton`` (the MLPs: no).
    """

    name: str
    task: str
    multiclass: bool
    module: str
    class_name: str
    own_axes: Mapping[str, dict] = field(default_factory=dict)
    default_grid: Mapping[str, list] = field(default_factory=dict)
    hessian: bool = True

    @property
    def axes(self) -> dict[str, dict]:
        return {**COMMON_AXES, **self.own_axes}

    def load(self) -> type:
        """The estimator class (imports its module on first use)."""
        return getattr(importlib.import_module(self.module), self.class_name)


_LOGISTIC_LOSSES = ["log_loss", "squared"]
_MLP_AXES = {
    # one value of the axis is a whole architecture, e.g. [16] or [32, 16]
    "hidden_layer_sizes": {"type": "array", "minItems": 1,
                           "items": {"type": "integer", "minimum": 1}},
    "activation": {"enum": ["tanh", "relu"]},
}

REGISTRY: Mapping[str, ModelInfo] = MappingProxyType({info.name: info for info in (
    ModelInfo(
        "linear_regression", "regression", False,
        "gdlab.models.linear_regression", "LinearRegression",
        own_axes={"solver": {"enum": ["gd", "closed_form"]}},
        default_grid={"lr": [0.001, 0.01, 0.1, 0.5, 1.0, 2.5], "optimizer": ["gd", "momentum"],
                      "l2": [0.0, 0.1], "epochs": [100]},
    ),
    ModelInfo(
        "logistic_regression", "classification", False,
        "gdlab.models.logistic_regression", "LogisticRegression",
        own_axes={"loss": {"enum": _LOGISTIC_LOSSES},
                  "init": {"enum": ["zeros", "normal"]},
                  "init_scale": {"type": "number", "minimum": 0}},
        default_grid={"lr": [0.001, 0.01, 0.1, 1.0, 10.0, 100.0], "optimizer": ["gd", "momentum"],
                      "l2": [0.0, 0.05], "epochs": [100]},
    ),
    ModelInfo(
        "softmax_regression", "classification", True,
        "gdlab.models.softmax_regression", "SoftmaxRegression",
        default_grid={"lr": [0.01, 0.1, 0.5], "optimizer": ["gd", "momentum"],
                      "l2": [0.0, 0.01], "epochs": [200]},
    ),
    ModelInfo(
        "mlp_classifier", "classification", True, "gdlab.models.mlp", "MLPClassifier",
        own_axes=_MLP_AXES,
        # reaches 0.97 test accuracy on moons (noise 0.15) and xor (noise 0.02): tests/test_mlp.py
        default_grid={"hidden_layer_sizes": [[16]], "activation": ["tanh", "relu"],
                      "lr": [0.05], "optimizer": ["adam"], "epochs": [500]},
        hessian=False,
    ),
    ModelInfo(
        "mlp_regressor", "regression", False, "gdlab.models.mlp", "MLPRegressor",
        own_axes=_MLP_AXES,
        default_grid={"hidden_layer_sizes": [[16]], "activation": ["tanh"],
                      "lr": [0.01, 0.05], "optimizer": ["adam"], "epochs": [500]},
        hessian=False,
    ),
)})


class _LazyClasses(Mapping):
    """``name -> estimator class`` over :data:`REGISTRY`; a class is imported when read."""

    def __getitem__(self, name: str) -> type:
        return model_info(name).load()

    def __iter__(self) -> Iterator[str]:
        return iter(REGISTRY)

    def __len__(self) -> int:
        return len(REGISTRY)

    def __repr__(self) -> str:
        return f"MODELS({', '.join(REGISTRY)})"


#: name -> estimator class (imported on access)
MODELS: Mapping[str, type] = _LazyClasses()
#: which task each model solves; the pipeline sweeps a model over every dataset of its task
MODEL_TASKS: Mapping[str, str] = MappingProxyType(
    {name: info.task for name, info in REGISTRY.items()})


def model_info(name: str) -> ModelInfo:
    """The registry entry of ``name``, or a ``ValueError`` listing the known models."""
    try:
        return REGISTRY[name]
    except KeyError:
        raise ValueError(f"unknown model {name!r}; choose one of {sorted(REGISTRY)}") from None


def predict(model_name: str, arrays: Mapping[str, np.ndarray], X_raw) -> np.ndarray:
    """Predict on raw features from a model's saved arrays: the one predict of gdlab.

    The inputs are standardised exactly as the pipeline's split did,
    ``X = (X_raw - x_mean) / x_scale``, then the model of ``model_name`` is rebuilt with
    its ``from_arrays(arrays)``.

    Parameters
    ----------
    model_name : str
        A key of :data:`REGISTRY`.
    arrays : mapping of str to ndarray
        The model's ``to_arrays()`` plus ``x_mean`` and ``x_scale`` of shape (d,), e.g.
        an opened ``model.npz``.
    X_raw : array-like of shape (n, d)
        Raw features, columns in training order (one row may be given as shape (d,)).

    Returns
    -------
    ndarray
        Regression: predicted targets, shape (n,). Classification: class
        probabilities, shape (n, K), rows summing to 1 (for a binary model, column 1 is
        the probability of class 1).
    """
    info = model_info(model_name)
    X = np.asarray(X_raw, dtype=np.float64)
    if X.ndim == 1:
        X = X.reshape(1, -1)
    x_mean = np.asarray(arrays["x_mean"], dtype=np.float64)
    x_scale = np.asarray(arrays["x_scale"], dtype=np.float64)
    if X.ndim != 2 or X.shape[1] != x_mean.shape[0]:
        raise ValueError(f"expected raw features of shape (n, {x_mean.shape[0]}), got {X.shape}")
    model = info.load().from_arrays(arrays)
    X = (X - x_mean) / x_scale
    return model.predict_proba(X) if info.task == "classification" else model.predict(X)
