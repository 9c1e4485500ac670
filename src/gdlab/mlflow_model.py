"""The MLflow pyfunc of a gdlab model, logged with MLflow's "models from code".

:func:`gdlab.tracking.pyfunc_files` passes this file's *path* as ``python_model`` and the
``gdlab`` package as ``code_paths``: MLflow copies both into the model's artifacts and puts
the package first on ``sys.path`` when the model is loaded, so predictions come from
gdlab's one predict, :func:`gdlab.models.registry.predict`, with nothing pickled. The one
artifact, ``weights``, is the run's ``model.npz`` (the model's ``to_arrays()`` with
``x_mean`` and ``x_scale``), read with ``allow_pickle=False``; the model config names the
model (``{"model": "softmax_regression"}``).

``predict`` takes **raw** features (an array or a DataFrame of shape ``(n, n_features)``,
columns in training order), standardises them with the training split's ``x_mean`` and
``x_scale`` exactly as the pipeline did, and returns what ``registry.predict`` returns:
regression, the predicted targets, shape (n,); classification, the class probabilities,
shape (n, K) (the original class names are in the model's metadata, ``classes``).
"""

import mlflow
import numpy as np

from gdlab.models.registry import predict


class GdlabModel(mlflow.pyfunc.PythonModel):
    """A fitted gdlab model of any kind, evaluated by :func:`gdlab.models.registry.predict`."""

    # The logged signature (a float64 tensor of raw features) validates the input; MLflow's
    # type-hint validation does not fit a 2-D array, so skip it (and its warning on load).
    _skip_type_hint_validation = True

    def load_context(self, context) -> None:
        with np.load(context.artifacts["weights"], allow_pickle=False) as data:
            self.arrays = dict(data)
        self.model = (context.model_config or {}).get("model")

    def predict(self, context, model_input, params=None):
        to_numpy = getattr(model_input, "to_numpy", None)
        X = to_numpy(dtype=np.float64) if to_numpy else np.asarray(model_input, np.float64)
        return predict(self.model, self.arrays, X)


mlflow.models.set_model(GdlabModel())
