"""gdlab's models, trained by gradient descent in NumPy: one module per model.

- :mod:`gdlab.models.training`: the shared loop (optimizers, mini-batches, tol,
  divergence, history);
- one module per model: :mod:`~gdlab.models.linear_regression`,
  :mod:`~gdlab.models.logistic_regression` (on :mod:`~gdlab.models.linear`, the
  :math:`(w, b)` plumbing they share), :mod:`~gdlab.models.softmax_regression`,
  :mod:`~gdlab.models.mlp` (``MLPClassifier``, ``MLPRegressor``);
- :mod:`gdlab.models.registry`: names, tasks, grid axes, and the one ``predict``.

The estimator classes are importable from here (``from gdlab.models import
LogisticRegression``), but their modules are imported only when a class is asked for,
so that importing this package (and the code identity of whoever does) does not pull
in every model. Pipeline code imports from the submodules.
"""

from __future__ import annotations

from gdlab.models.registry import MODEL_TASKS, MODELS, REGISTRY, model_info, predict
from gdlab.models.training import DIVERGENCE_FACTOR

__all__ = ["DIVERGENCE_FACTOR", "MODELS", "MODEL_TASKS", "REGISTRY", "LinearRegression",
           "LogisticRegression", "MLPClassifier", "MLPRegressor", "SoftmaxRegression",
           "model_info", "predict"]


def __getattr__(name: str):
    for info in REGISTRY.values():
        if info.class_name == name:
            return info.load()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
