"""The MLflow pyfunc of a gdlab model, logged with MLflow's "models from code".

:func:`gdlab.tracking.log_best_model` passes this file's *path* as ``python_model``; MLflow
copies it into the model's artifacts and runs it when the model is loaded, so it must
stand alone: NumPy and MLflow only, no ``gdlab`` import, nothing pickled. Its one
artifact, ``weights``, is the run's ``model.npz`` (``coef``, ``intercept``, ``x_mean``,
``x_scale``), read with ``allow_pickle=False``.

``predict`` takes **raw** features (an array or a DataFrame of shape ``(n, n_features)``,
columns in training order), standardises them with the training split's ``x_mean`` and
``x_scale`` exactly as the pipeline did, and returns a 1-D float array:

* regression: the predicted target, ``z = ((X - x_mean) / x_scale) @ coef + intercept``;
* classification: the **probability of class 1**, ``sigmoid(z)`` (the label is
  ``p > 0.5``; the original class names are in the model's metadata, ``classes``).
"""

import mlflow
import numpy as np


class GdlabLinearModel(mlflow.pyfunc.PythonModel):
    """A fitted linear or logistic regression, evaluated in NumPy."""

    # The logged signature (a float64 tensor of raw features) validates the input; MLflow's
    # type-hint validation does not fit a 2-D array, so skip it (and its warning on load).
    _skip_type_hint_validation = True

    def load_context(self, context) -> None:
        with np.load(context.artifacts["weights"], allow_pickle=False) as data:
            self.coef = np.asarray(data["coef"], dtype=np.float64)
            self.intercept = float(data["intercept"])
            self.x_mean = np.asarray(data["x_mean"], dtype=np.float64)
            self.x_scale = np.asarray(data["x_scale"], dtype=np.float64)
        self.task = (context.model_config or {}).get("task", "regression")
        if self.task not in ("regression", "classification"):
            raise ValueError(f"unknown task {self.task!r} in the model config")

    def predict(self, context, model_input, params=None):
        to_numpy = getattr(model_input, "to_numpy", None)
        X = to_numpy(dtype=np.float64) if to_numpy else np.asarray(model_input, np.float64)
        if X.ndim == 1:
            X = X.reshape(1, -1)
        if X.ndim != 2 or X.shape[1] != self.coef.shape[0]:
            raise ValueError(f"expected raw features of shape (n, {self.coef.shape[0]}), "
                             f"got {X.shape}")
        z = ((X - self.x_mean) / self.x_scale) @ self.coef + self.intercept
        if self.task == "classification":
            # sigmoid without overflow: exp of a non-positive number only
            e = np.exp(-np.abs(z))
            return np.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e))
        return z


mlflow.models.set_model(GdlabLinearModel())
