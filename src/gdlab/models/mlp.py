r"""A small neural network (multi-layer perceptron), with backpropagation written out.

Layers :math:`l = 1..L` have weights :math:`W_l` of shape (fan_in, fan_out) and biases
:math:`b_l` of shape (fan_out,). With :math:`A_0 = X` and an activation :math:`g`
(``tanh`` or ``relu``) on the hidden layers:

.. math::  Z_l = A_{l-1} W_l + b_l, \qquad A_l = g(Z_l) \ (l < L), \qquad
           \text{output } Z_L

- :class:`MLPClassifier`: K outputs, :math:`P = \mathrm{softmax}(Z_L)`, mean cross-entropy;
- :class:`MLPRegressor`: one output :math:`\hat y = Z_L`, mean :math:`\tfrac12(\hat y - y)^2`.

Objective: :math:`J = \text{mean loss} + \frac{\lambda}{2}\sum_l \lVert W_l\rVert_F^2`,
biases not penalised (scikit-learn's ``MLPClassifier(alpha=n*l2)`` penalises the same
way). Backpropagation, from :math:`\delta_L = \partial(\text{mean loss})/\partial Z_L`
(:math:`(P - Y)/n` or :math:`(\hat y - y)/n`):

.. math::  \nabla_{W_l} J = A_{l-1}^\top \delta_l + \lambda W_l, \qquad
           \nabla_{b_l} J = \delta_l^\top \mathbf 1, \qquad
           \delta_{l-1} = (\delta_l W_l^\top) \odot g'(Z_{l-1})

with :math:`g'(z) = 1 - \tanh^2 z` or :math:`[z > 0]`. The objective is not convex, so
the start matters: weights are drawn from the model's seed, Glorot-uniform
:math:`U(\pm\sqrt{6/(\text{fan\_in}+\text{fan\_out})})` for ``tanh`` and He-normal
:math:`N(0, 2/\text{fan\_in})` for ``relu``; biases start at 0.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from gdlab.losses import softmax, softmax_cross_entropy
from gdlab.models.training import (
    Classifier,
    GradientDescentModel,
    ParameterLayout,
    Regressor,
    array_to_str,
    check_choice,
    hyperparameter_error,
    is_int,
)


def _glorot_uniform(rng: np.random.Generator, shape: tuple[int, int]) -> np.ndarray:
    limit = np.sqrt(6.0 / (shape[0] + shape[1]))
    return rng.uniform(-limit, limit, size=shape)


def _he_normal(rng: np.random.Generator, shape: tuple[int, int]) -> np.ndarray:
    return rng.standard_normal(shape) * np.sqrt(2.0 / shape[0])


@dataclass(frozen=True)
class Activation:
    """A hidden layer's activation: ``g``, its derivative from the layer's output
    ``A = g(Z)`` (what backpropagation keeps), and the start its weights get."""

    forward: Callable[[np.ndarray], np.ndarray]
    derivative_from_output: Callable[[np.ndarray], np.ndarray]
    initial_weights: Callable[[np.random.Generator, tuple[int, int]], np.ndarray]


#: the activations, as scikit-learn keeps them (``neural_network._base.ACTIVATIONS`` and
#: ``DERIVATIVES``): one entry each, so the forward pass, the backward pass and the start
#: never branch on a name
ACTIVATIONS = {
    "tanh": Activation(np.tanh, lambda A: 1.0 - A * A, _glorot_uniform),
    "relu": Activation(lambda Z: np.maximum(Z, 0.0), lambda A: A > 0, _he_normal),
}


class _MLP(GradientDescentModel):
    """The network both MLPs share; subclasses define the output layer's size and loss.

    Parameters
    ----------
    hidden_layer_sizes : sequence of int, default=(16,)
        Units of each hidden layer, input side first.
    activation : {"tanh", "relu"}, default="tanh"
    lr, epochs, optimizer : default 0.05, 500, "adam"
        Defaults that reach 0.97 test accuracy on moons and xor (see the tests).
    Other parameters: see :class:`gdlab.models.training.GradientDescentModel`.
    """

    def __init__(self, hidden_layer_sizes=(16,), *, activation="tanh", lr=0.05, epochs=500,
                 l2=0.0, batch_size=None, optimizer="adam", tol=None, seed=0):
        super().__init__(lr=lr, epochs=epochs, l2=l2, batch_size=batch_size,
                         optimizer=optimizer, tol=tol, seed=seed)
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation

    # -- defined by the two networks -------------------------------------------------------
    def _n_outputs(self) -> int:
        raise NotImplementedError

    def _output_loss(self, Z: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
        """``(mean loss, its gradient with respect to the output scores Z)``."""
        raise NotImplementedError

    # -- the network -----------------------------------------------------------------------
    def _check_model_hyperparameters(self):
        sizes = self.hidden_layer_sizes
        if isinstance(sizes, str | bytes) or not hasattr(sizes, "__len__") \
                or not all(is_int(s) and s >= 1 for s in sizes):
            raise hyperparameter_error(self, "hidden_layer_sizes",
                                       "a sequence of integers >= 1 (units per hidden layer)")
        check_choice(self, "activation", ACTIVATIONS)

    def _layer_sizes(self, n_features: int) -> list[int]:
        return [n_features, *(int(s) for s in self.hidden_layer_sizes), self._n_outputs()]

    def _layout(self, n_features: int) -> ParameterLayout:
        sizes = self._layer_sizes(n_features)
        shapes = []
        for fan_in, fan_out in zip(sizes[:-1], sizes[1:], strict=True):
            shapes += [(fan_in, fan_out), (fan_out,)]
        return ParameterLayout(shapes)

    def _forward(self, params: list[np.ndarray], X: np.ndarray) -> list[np.ndarray]:
        """``[A_0 = X, A_1, ..., A_{L-1}, Z_L]``: every layer's output, scores last."""
        outputs = [X]
        n_layers = len(params) // 2
        for layer in range(n_layers):
            W, b = params[2 * layer], params[2 * layer + 1]
            Z = outputs[-1] @ W + b
            if layer < n_layers - 1:
                Z = ACTIVATIONS[self.activation].forward(Z)
            outputs.append(Z)
        return outputs

    def _scores(self, X: np.ndarray) -> np.ndarray:
        return self._forward(self.coefs_and_biases_, X)[-1]

    # -- the training loop's hooks ---------------------------------------------------------
    def _initial_parameters(self, n_features, rng):
        layout = self._layout(n_features)
        arrays = []
        for shape in layout.shapes:
            if len(shape) == 1:
                arrays.append(np.zeros(shape))  # biases
            else:
                arrays.append(ACTIVATIONS[self.activation].initial_weights(rng, shape))
        return layout.pack(arrays)

    def _value(self, theta, X, y):
        params = self._layout(X.shape[1]).unpack(theta)
        loss, _ = self._output_loss(self._forward(params, X)[-1], y)
        return loss + self._penalty(params)

    def _penalty(self, params) -> float:
        return 0.5 * self.l2 * sum(float(np.sum(W * W)) for W in params[0::2])

    def _value_and_gradient(self, theta, X, y):
        layout = self._layout(X.shape[1])
        params = layout.unpack(theta)
        outputs = self._forward(params, X)
        loss, delta = self._output_loss(outputs[-1], y)
        grads = [None] * len(params)
        for layer in range(len(params) // 2 - 1, -1, -1):
            W = params[2 * layer]
            A_prev = outputs[layer]
            grads[2 * layer] = A_prev.T @ delta + self.l2 * W
            grads[2 * layer + 1] = delta.sum(axis=0)
            if layer > 0:  # through the activation of the layer below
                derivative = ACTIVATIONS[self.activation].derivative_from_output
                delta = (delta @ W.T) * derivative(A_prev)
        return loss + self._penalty(params), layout.pack(grads)

    def _store_parameters(self, theta):
        arrays = self._layout(self.n_features_in_).unpack(theta)
        #: [W_1, b_1, ..., W_L, b_L], as in the module's formulas
        self.coefs_and_biases_ = [a.copy() for a in arrays]

    @property
    def coefs_(self) -> list[np.ndarray]:
        """Weights ``W_l`` of shape (fan_in, fan_out), input layer first (scikit-learn's name)."""
        return self.coefs_and_biases_[0::2]

    @property
    def intercepts_(self) -> list[np.ndarray]:
        """Biases ``b_l`` of shape (fan_out,), input layer first (scikit-learn's name)."""
        return self.coefs_and_biases_[1::2]

    def objective(self, X, y) -> float:
        """The training objective (mean loss + L2 penalty) of the fitted network."""
        X, y = self._check_data(X, y)
        return self._value(self._layout(X.shape[1]).pack(self.coefs_and_biases_), X, y)

    # -- persistence -----------------------------------------------------------------------
    def to_arrays(self) -> dict[str, np.ndarray]:
        """``{"activation": 0-d str, "W0": (d, h1), "b0": (h1,), ..., "W{L-1}", "b{L-1}"}``."""
        arrays = {"activation": np.array(self.activation, dtype=np.str_)}
        for layer, (W, b) in enumerate(zip(self.coefs_, self.intercepts_, strict=True)):
            arrays[f"W{layer}"], arrays[f"b{layer}"] = W, b
        return arrays

    @classmethod
    def from_arrays(cls, arrays):
        """A network that predicts like the one whose :meth:`to_arrays` gave ``arrays``."""
        n_layers = sum(1 for key in arrays if key.startswith("W") and key[1:].isdigit())
        params = []
        for layer in range(n_layers):
            params += [np.asarray(arrays[f"W{layer}"], dtype=np.float64),
                       np.asarray(arrays[f"b{layer}"], dtype=np.float64)]
        model = cls(tuple(W.shape[1] for W in params[0:-2:2]),
                    activation=array_to_str(arrays["activation"]))
        model.coefs_and_biases_ = params
        model.n_features_in_ = params[0].shape[0]
        return model


class MLPClassifier(Classifier, _MLP):
    """A neural network for labels 0..K-1: softmax outputs, mean cross-entropy.

    Fitted attributes: ``coefs_`` / ``intercepts_`` (lists, input layer first),
    ``n_classes_``, ``history_``, ``n_epochs_``, ``converged_``, ``diverged_``.
    See :mod:`gdlab.models.mlp` for the objective and its gradient.
    """

    def _n_outputs(self):
        return self.n_classes_

    def _output_loss(self, Z, y):
        return softmax_cross_entropy(Z, y)

    def predict_proba(self, X) -> np.ndarray:
        """Class probabilities, shape (n, K), rows sum to 1."""
        return softmax(self._scores(self._check_input(X)))

    @classmethod
    def from_arrays(cls, arrays):
        model = super().from_arrays(arrays)
        model.n_classes_ = model.coefs_[-1].shape[1]
        return model


class MLPRegressor(Regressor, _MLP):
    """A neural network for a real target: one linear output, mean half squared error.

    See :mod:`gdlab.models.mlp` for the objective and its gradient.
    """

    def _n_outputs(self):
        return 1

    def _output_loss(self, Z, y):
        residual = Z[:, 0] - y
        loss = 0.5 * float(np.mean(residual * residual))
        return loss, (residual / y.shape[0])[:, None]

    def predict(self, X) -> np.ndarray:
        """Predicted targets, shape (n,)."""
        return self._scores(self._check_input(X))[:, 0]
