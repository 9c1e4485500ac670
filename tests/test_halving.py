"""Successive halving: a fit continued from a saved state is the fit straight through.

The oracle is the plain fit to the same number of epochs (one uninterrupted loop); a
continued fit must give the same bytes: parameters, every history row, metrics.
"""

from __future__ import annotations

from io import BytesIO

import numpy as np
import pytest

from gdlab.io import npz_bytes
from gdlab.models.registry import model_info
from gdlab.train import evaluate


def _data(task: str, n: int = 90, seed: int = 3):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, 3))
    w = np.array([1.5, -2.0, 0.5])
    if task == "regression":
        y = X @ w + 0.3 * rng.standard_normal(n)
    else:
        y = (X @ w + 0.5 * rng.standard_normal(n) > 0).astype(float)
    return X[:60], y[:60], X[60:], y[60:]


def _saved(state: dict) -> dict:
    """A state as a rung writes it and the next rung reads it (npz, no pickle)."""
    with np.load(BytesIO(npz_bytes(state)), allow_pickle=False) as f:
        return {k: f[k] for k in f.files}


def _bytes(model) -> dict:
    return {"arrays": {k: v.tobytes() for k, v in model.to_arrays().items()},
            "history": {k: (v.dtype.str, v.tobytes()) for k, v in model.history_.items()},
            "flags": (model.n_epochs_, model.diverged_, model.converged_)}


CASES = [  # (model, hyperparameters): gd and adam, mini-batches, full batch, momentum
    ("logistic_regression", {"lr": 0.3, "optimizer": "gd", "batch_size": 16, "l2": 0.01}),
    ("logistic_regression", {"lr": 0.05, "optimizer": "adam", "batch_size": 7}),
    ("linear_regression", {"lr": 0.05, "optimizer": "adam", "batch_size": 16, "l2": 0.1}),
    ("linear_regression", {"lr": 0.1, "optimizer": "momentum"}),
    ("mlp_classifier", {"lr": 0.05, "optimizer": "adam", "batch_size": 16,
                        "hidden_layer_sizes": (5,)}),
    ("logistic_regression", {"lr": 0.3, "optimizer": "gd", "init": "normal"}),
]


@pytest.mark.parametrize(("model", "hp"), CASES)
def test_a_continued_fit_is_byte_identical_to_one_straight_through(model, hp):
    info = model_info(model)
    X, y, X_val, y_val = _data(info.task)
    cls = info.load()
    straight = cls(**hp, epochs=30, seed=11).fit(X, y, X_val, y_val)
    # two rungs: 10 epochs, then on to 20, then on to 30, each from the saved state
    state = None
    for budget in (10, 20, 30):
        rung = cls(**hp, epochs=budget, seed=11).fit(X, y, X_val, y_val, resume=state)
        state = _saved(rung.training_state())
        assert rung.n_epochs_ == budget
    assert _bytes(rung) == _bytes(straight)
    assert list(rung.history_["epoch"]) == list(range(1, 31))
    for part in ((X, y), (X_val, y_val)):
        assert evaluate(info.task, rung, *part) == evaluate(info.task, straight, *part)
    # and the state itself (optimizer moments, generator) is what the straight fit ends in
    end = _saved(straight.training_state())
    assert state.keys() == end.keys()
    assert all(state[k].tobytes() == end[k].tobytes() for k in state)


@pytest.mark.parametrize("tol", [None, 1e-3])
def test_a_stopped_fit_stays_stopped_when_continued(tol):
    """A diverged (lr far too large with l2) or converged fit goes no further: the straight
    fit stopped at the same epoch."""
    X, y, X_val, y_val = _data("classification")
    cls = model_info("logistic_regression").load()
    hp = {"lr": 200.0, "l2": 0.1} if tol is None else {"lr": 0.5, "tol": tol * 10}
    first = cls(**hp, epochs=40, seed=1).fit(X, y, X_val, y_val)
    assert first.diverged_ or first.converged_
    assert first.n_epochs_ < 40
    on = cls(**hp, epochs=80, seed=1).fit(X, y, X_val, y_val,
                                          resume=_saved(first.training_state()))
    straight = cls(**hp, epochs=80, seed=1).fit(X, y, X_val, y_val)
    assert _bytes(on) == _bytes(straight) == _bytes(first)


def test_a_state_of_other_hyperparameters_or_past_the_budget_is_refused():
    X, y, X_val, y_val = _data("classification")
    cls = model_info("logistic_regression").load()
    state = _saved(cls(lr=0.1, epochs=20, seed=1).fit(X, y, X_val, y_val).training_state())
    with pytest.raises(ValueError, match="other hyperparameters"):
        cls(lr=0.2, epochs=30, seed=1).fit(X, y, X_val, y_val, resume=state)
    with pytest.raises(ValueError, match="other hyperparameters"):
        cls(lr=0.1, epochs=30, seed=2).fit(X, y, X_val, y_val, resume=state)
    with pytest.raises(ValueError, match="past epochs=10"):
        cls(lr=0.1, epochs=10, seed=1).fit(X, y, X_val, y_val, resume=state)
