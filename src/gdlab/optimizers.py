r"""Update rules of gradient descent, applied to one flat parameter vector.

Each optimizer is a small object with state; ``step(theta, grad)`` returns the new
parameters. With learning rate :math:`\eta`:

- ``gd``:       :math:`\theta \leftarrow \theta - \eta g`
- ``momentum``: :math:`v \leftarrow \beta v + g,\ \theta \leftarrow \theta - \eta v` (heavy ball)
- ``adam``:     :math:`m \leftarrow \beta_1 m + (1-\beta_1) g,\
  s \leftarrow \beta_2 s + (1-\beta_2) g^2,\
  \theta \leftarrow \theta - \eta \hat m / (\sqrt{\hat s} + \epsilon)` with bias-corrected
  :math:`\hat m = m / (1-\beta_1^t)`, :math:`\hat s = s / (1-\beta_2^t)`.
"""

from __future__ import annotations

import numpy as np


class GradientDescent:
    #: the attributes that carry an optimizer's state from one step to the next (saved and
    #: restored by :meth:`gdlab.models.training.GradientDescentModel.training_state`)
    STATE: tuple[str, ...] = ()

    def __init__(self, lr: float):
        self.lr = lr

    def step(self, theta: np.ndarray, grad: np.ndarray) -> np.ndarray:
        return theta - self.lr * grad


class Momentum:
    STATE = ("velocity",)

    def __init__(self, lr: float, beta: float = 0.9):
        self.lr, self.beta = lr, beta
        self.velocity = None

    def step(self, theta, grad):
        self.velocity = grad if self.velocity is None else self.beta * self.velocity + grad
        return theta - self.lr * self.velocity


class Adam:
    STATE = ("m", "s", "t")

    def __init__(self, lr: float, beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-8):
        self.lr, self.beta1, self.beta2, self.eps = lr, beta1, beta2, eps
        self.m = self.s = None
        self.t = 0

    def step(self, theta, grad):
        if self.m is None:
            self.m, self.s = np.zeros_like(theta), np.zeros_like(theta)
        self.t += 1
        self.m = self.beta1 * self.m + (1 - self.beta1) * grad
        self.s = self.beta2 * self.s + (1 - self.beta2) * grad**2
        m_hat = self.m / (1 - self.beta1**self.t)
        s_hat = self.s / (1 - self.beta2**self.t)
        return theta - self.lr * m_hat / (np.sqrt(s_hat) + self.eps)


OPTIMIZERS = {"gd": GradientDescent, "momentum": Momentum, "adam": Adam}


def make_optimizer(name: str, lr: float):
    try:
        return OPTIMIZERS[name](lr)
    except KeyError:
        raise ValueError(
            f"optimizer must be one of {sorted(OPTIMIZERS)}, got {name!r}"
        ) from None
