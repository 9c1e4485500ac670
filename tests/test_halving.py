"""Successive halving without Snakemake: a fit continued from a saved state is the fit
straight through; the config; candidates, rung specs; promotion and the best run.

The oracle of continuation is the plain fit to the same number of epochs (one
uninterrupted loop); a continued fit must give the same bytes: parameters, every history
row, metrics.
"""

from __future__ import annotations

import copy
from io import BytesIO
from pathlib import Path

import numpy as np
import pytest
from conftest import tiny_config

from gdlab.config import ConfigError, load_schema, validate_config
from gdlab.io import npz_bytes
from gdlab.methods import halving as H
from gdlab.methods import method_of, run_specs
from gdlab.methods import random as R
from gdlab.models.registry import model_info
from gdlab.summary import promote, select_best
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


# -- config, candidates, promotion -------------------------------------------------------
SCHEMA = load_schema(Path(__file__).resolve().parents[1] / "config" / "schema.yaml")
SPACE = {"lr": {"loguniform": [0.01, 1.0]}, "optimizer": {"choice": ["gd", "adam"]}}
HALVING = {"method": "halving", "eta": 3, "budgets": [5, 15], "n_trials": 6, "seed": 4,
           "space": SPACE}


def _validated(search: dict, **model) -> dict:
    config = tiny_config()
    config["models"]["logistic_regression"] = {"search": copy.deepcopy(search), **model}
    return validate_config(config, SCHEMA)


@pytest.mark.parametrize(("change", "message"), [
    ({"eta": 1}, "search.eta: 1 is less than the minimum of 2"),
    ({"budgets": [15, 15]}, "search.budgets: must increase from rung to rung, got [15, 15]"),
    ({"budgets": [15]}, "search.budgets: [15] is too short"),
    ({"budgets": [0, 3]}, "search.budgets[0]: 0 is less than the minimum of 1"),
    ({"space": {**SPACE, "epochs": {"int": [1, 5]}}},
     "search.space.epochs: the rungs' budgets are the epochs"),
    ({"grid": {"lr": [0.1]}}, "give the candidates as 'space' (with n_trials) or as 'grid'"),
    ({"n_trials": None}, "search.n_trials: required with"),
    ({"method": "hyperband"}, "search.method: 'hyperband' is not one of"),
    ({"eta": None}, "'eta' is a required property"),
])
def test_a_bad_halving_search_is_an_error_naming_the_key(change, message):
    search = {**HALVING, **change}
    search = {k: v for k, v in search.items() if v is not None}
    with pytest.raises(ConfigError, match="models.logistic_regression.search") as err:
        _validated(search)
    assert message in str(err.value)


def test_halving_refuses_repeats_and_a_grid_with_n_trials():
    with pytest.raises(ConfigError, match=r"models.logistic_regression.repeats: successive"):
        _validated(HALVING, repeats=2)
    grid_search = {"method": "halving", "eta": 2, "budgets": [2, 4], "grid": {"lr": [0.1]},
                   "n_trials": 3}
    with pytest.raises(ConfigError, match="a grid's candidates are all its combinations"):
        _validated(grid_search)


def test_candidates_are_drawn_exactly_as_a_random_search_with_epochs_the_last_budget():
    config = _validated(HALVING)
    random = {**HALVING, "method": "random", "space": {**SPACE, "epochs": {"choice": [15]}}}
    del random["eta"], random["budgets"]
    drawn = R.search_trials(random, "logistic_regression", 7)
    spec = config["models"]["logistic_regression"]
    halving = method_of(spec).points(spec, "logistic_regression", 7)
    # same values; names without epochs (not an axis of the space here)
    assert [hp for _, hp in halving] == [hp for _, hp in drawn]
    assert [n for n, _ in halving] == [n.replace("/epochs~15", "") for n, _ in drawn]


def test_rung_specs_keep_the_seed_and_the_top_rung_is_the_full_sweeps_run():
    config = _validated({"method": "halving", "eta": 2, "budgets": [2, 6],
                         "grid": {"lr": [0.1, 1.0], "optimizer": ["gd", "adam"]}})
    specs = run_specs(config, "moons", "logistic_regression", "data", "code")
    assert sorted(specs) == sorted(f"lr~{lr}/optimizer~{o}" for lr in (0.1, 1.0)
                                   for o in ("adam", "gd"))
    for spec in specs.values():
        assert spec["rung"] == 1 and spec["hyperparameters"]["epochs"] == 6
        low = H.at_rung(spec, 0, [2, 6])
        assert low["seed"] == spec["seed"] and low["rung"] == 0
        assert low["hyperparameters"] == {**spec["hyperparameters"], "epochs": 2}
        assert low["run_key"] != spec["run_key"]
    # the top rung is the same run as the point of a grid sweep at the last budget: same
    # seed and run key (so the same bytes), only its name lacks epochs (the budgets' axis)
    config["models"]["logistic_regression"] = {
        "grid": {"lr": [0.1, 1.0], "optimizer": ["gd", "adam"], "epochs": [6]}}
    full = run_specs(config, "moons", "logistic_regression", "data", "code")
    for name, spec in specs.items():
        same = full[f"epochs~6/{name}"]
        assert (spec["seed"], spec["run_key"], spec["hyperparameters"]) == \
            (same["seed"], same["run_key"], same["hyperparameters"])


def _run(name, val, diverged=False, rung=0):
    return {"run_name": name, "diverged": diverged, "n_epochs": 3, "rung": rung,
            "metrics": {"val": {"log_loss": val, "accuracy": 1 - val}}}


def test_promotion_ranks_on_results_breaks_ties_by_name_and_never_promotes_a_diverged_run():
    runs = [_run("c", 0.3), _run("a", 0.5), _run("b", 0.3), _run("d", 0.01, diverged=True),
            _run("e", float("nan")), _run("f", 0.9)]
    rec = promote(runs, "log_loss", eta=3)
    assert [e["run_name"] for e in rec["ranking"]] == ["b", "c", "a", "f", "d", "e"]
    assert rec["promoted"] == ["b", "c"]  # 6 // 3, the tie at 0.3 in name order
    assert promote(list(reversed(runs)), "log_loss", eta=3) == rec  # order-free
    assert promote(runs, "accuracy", eta=2)["promoted"] == ["b", "c", "a"]
    # fewer finite runs than places: only those go on; a lone run goes on (at least one)
    assert promote([_run("x", 1.0, diverged=True), _run("y", 0.2)], "log_loss", 3)[
        "promoted"] == ["y"]
    assert promote([_run("x", 1.0, diverged=True)], "log_loss", 3)["promoted"] == []
    assert promote(runs, "log_loss", eta=3, last=True)["promoted"] == []


def test_the_best_run_comes_from_the_top_rung():
    def full(run):
        return {**run, "metrics": {**run["metrics"], "train": {}, "test": {}}}

    runs = [full(_run("low", 0.1, rung=0)), full(_run("top2", 0.4, rung=2)),
            full(_run("top1", 0.3, rung=2)), full(_run("mid", 0.2, rung=1))]
    assert select_best(runs, "log_loss")["run_name"] == "top1"
