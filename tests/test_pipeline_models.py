"""Every model of the registry through train and baseline: files, K-class metrics, oracles."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
from sklearn import metrics as skm

from gdlab.baseline import baseline, default_estimator, optimum_arrays, reference
from gdlab.data import load_sklearn, make_synthetic, split_dataset
from gdlab.grid import expand_grid, reference_key, run_name
from gdlab.models.registry import model_info, predict
from gdlab.train import evaluate, train_run


def _split(ds, seed=4):
    return split_dataset(ds, test_size=0.25, val_size=0.25, seed=seed, stratify=True,
                         standardize=True)


@pytest.fixture(scope="module")
def blobs3():
    return _split(make_synthetic("blobs", 150, 2, 0.6, seed=3, n_classes=3))


@pytest.fixture(scope="module")
def moons():
    return _split(make_synthetic("moons", 200, 2, 0.15, seed=3))


@pytest.fixture(scope="module")
def line():
    return _split(make_synthetic("linear", 120, 3, 0.3, seed=3))


def _train(tmp_path, model, split, grid):
    [hp] = expand_grid(grid, model)
    spec = {"dataset": "d", "model": model, "task": split.task,
            "run_name": run_name(hp, grid), "hyperparameters": hp, "seed": 5}
    result, _ = train_run(spec, split, tmp_path)
    with np.load(tmp_path / "model.npz", allow_pickle=False) as npz:
        arrays = dict(npz)
    return result, arrays


def test_k_class_runs_report_multiclass_metrics_that_sklearn_agrees_with(tmp_path, blobs3):
    result, arrays = _train(tmp_path, "softmax_regression", blobs3,
                            {"lr": [0.5], "epochs": [200]})
    assert set(arrays) == {"coef", "intercept", "x_mean", "x_scale"}
    assert arrays["coef"].shape == (3, 2) and arrays["intercept"].shape == (3,)
    # the saved model predicts through the one predict, on raw features
    X_raw = blobs3.X_test * blobs3.x_scale + blobs3.x_mean
    P = predict("softmax_regression", arrays, X_raw)
    test = result["metrics"]["test"]
    assert set(test) == {"accuracy", "log_loss", "f1_macro"}
    y = blobs3.y_test
    assert test["accuracy"] == pytest.approx(skm.accuracy_score(y, P.argmax(1)), abs=1e-12)
    assert test["log_loss"] == pytest.approx(skm.log_loss(y, P, labels=[0, 1, 2]), abs=1e-12)
    assert test["f1_macro"] == pytest.approx(
        skm.f1_score(y, P.argmax(1), average="macro"), abs=1e-12)
    assert test["accuracy"] > 0.8


def test_the_mlp_runs_learn_moons_and_save_every_layer(tmp_path, moons):
    result, arrays = _train(tmp_path, "mlp_classifier", moons,
                            {"lr": [0.05], "epochs": [500], "hidden_layer_sizes": [[16]]})
    assert {"W0", "b0", "W1", "b1", "activation"} <= set(arrays)
    assert arrays["W0"].shape == (2, 16) and arrays["W1"].shape == (16, 2)
    # two classes keep the binary metrics
    assert set(result["metrics"]["test"]) == {"accuracy", "log_loss", "precision", "recall",
                                              "f1", "roc_auc"}
    assert result["metrics"]["test"]["accuracy"] >= 0.95
    assert "fit_intercept" not in result["hyperparameters"]


def test_a_closed_form_run_is_one_solve(tmp_path, line):
    result, arrays = _train(tmp_path, "linear_regression", line,
                            {"lr": [0.1], "epochs": [100], "solver": ["closed_form"]})
    assert result["n_epochs"] == 0
    coef, _ = optimum_arrays("linear_regression", {"l2": 0.0}, line.X_train, line.y_train)
    np.testing.assert_allclose(arrays["coef"], coef["coef"], rtol=1e-10)


def test_a_non_finite_model_gets_nan_metrics(blobs3):
    cls = model_info("softmax_regression").load()
    coef = np.ones((3, 2))
    finite = evaluate("classification", cls.from_arrays({"coef": coef, "intercept": np.zeros(3)}),
                      blobs3.X_val, blobs3.y_val, 3)
    assert not any(np.isnan(v) for v in finite.values())
    coef[1, 0] = np.inf
    nan = evaluate("classification", cls.from_arrays({"coef": coef, "intercept": np.zeros(3)}),
                   blobs3.X_val, blobs3.y_val, 3)
    assert set(nan) == set(finite) and all(np.isnan(v) for v in nan.values())


@pytest.mark.parametrize("k", [2, 3])
def test_the_softmax_reference_is_the_optimum_of_gdlabs_objective(k):
    """The gradient of gdlab's objective at scikit-learn's solution is ~0 (for K = 2, the
    mapping of the binary fit onto two softmax rows is what is checked)."""
    split = _split(make_synthetic("blobs", 120, 3, 1.5, seed=1, n_classes=k))
    l2 = 0.05
    arrays, converged = optimum_arrays("softmax_regression", {"l2": l2}, split.X_train,
                                       split.y_train)
    assert converged
    model = model_info("softmax_regression").load()(l2=l2)
    model.n_classes_ = k
    layout = model._layout(split.X_train.shape[1])
    theta = layout.pack([arrays["coef"], arrays["intercept"]])
    _, grad = model._value_and_gradient(theta, split.X_train, split.y_train.astype(float))
    assert np.max(np.abs(grad)) < 1e-6


def test_the_baseline_of_a_softmax_sweep_beats_or_matches_gradient_descent(tmp_path):
    split = _split(load_sklearn("iris"))
    grid = {"lr": [0.5], "l2": [0.01], "epochs": [300]}
    result, _ = _train(tmp_path, "softmax_regression", split, grid)
    base = baseline(split, "softmax_regression", expand_grid(grid, "softmax_regression"))
    optimum = base["references"][reference_key(result["hyperparameters"])]["optimum"]
    assert optimum["converged"]
    assert optimum["objective"] <= result["final_objective"] + 1e-12
    assert result["final_objective"] - optimum["objective"] < 1e-3  # GD got close
    assert set(optimum["metrics"]["test"]) == {"accuracy", "log_loss", "f1_macro"}
    assert base["default"][""]["estimator"] == "LogisticRegression()"


def test_only_a_problem_with_one_minimum_has_an_optimum(moons):
    """Non-convex (the squared loss on the sigmoid, a network): no optimum. Without L2 on
    data a line separates, log loss has no minimum: doubling scikit-learn's weights lowers
    it. With L2 it has one."""
    squared = reference(moons, "logistic_regression", {"l2": 0.0, "loss": "squared"})
    assert squared["optimum"] is None and "not convex" in squared["no_optimum"]
    mlp = reference(moons, "mlp_classifier", {"l2": 0.0, "hidden_layer_sizes": [4]})
    assert mlp["optimum"] is None and "not convex" in mlp["no_optimum"]
    assert reference(moons, "logistic_regression", {"l2": 0.0})["optimum"] is not None
    separable = _split(make_synthetic("blobs", 120, 2, 0.3, seed=2, n_classes=2))
    unpenalised = reference(separable, "logistic_regression", {"l2": 0.0})
    assert unpenalised["optimum"] is None and "separable" in unpenalised["no_optimum"]
    penalised = reference(separable, "logistic_regression", {"l2": 0.01})
    assert penalised["optimum"]["converged"]


@pytest.mark.parametrize("model", ["logistic_regression", "softmax_regression"])
def test_the_default_estimator_is_what_sklearns_two_lines_give(model, moons):
    """LogisticRegression() fitted on the training split, loaded into gdlab: the same
    probabilities as scikit-learn's own, so its metrics are the two lines' metrics."""
    from sklearn.linear_model import LogisticRegression

    text, arrays, converged = default_estimator(model, {"l2": 0.0}, moons.X_train,
                                                moons.y_train)
    assert text == "LogisticRegression()" and converged
    sk = LogisticRegression().fit(moons.X_train, moons.y_train)
    ours = model_info(model).load().from_arrays(arrays)
    np.testing.assert_allclose(ours.predict_proba(moons.X_test), sk.predict_proba(moons.X_test),
                               atol=1e-12)


@pytest.mark.parametrize("model", ["mlp_classifier", "mlp_regressor"])
def test_the_mlp_reference_is_sklearns_default_network_of_the_same_architecture(model, moons,
                                                                                line):
    """MLPClassifier/MLPRegressor with the run's hidden layers and activation and scikit-
    learn's defaults otherwise; gdlab's copy predicts as scikit-learn's does."""
    from sklearn.neural_network import MLPClassifier, MLPRegressor

    split = moons if model == "mlp_classifier" else line
    hp = {"l2": 0.001, "hidden_layer_sizes": [16], "activation": "tanh"}
    text, arrays, _ = default_estimator(model, hp, split.X_train, split.y_train)
    cls = MLPClassifier if model == "mlp_classifier" else MLPRegressor
    assert text == f"{cls.__name__}(hidden_layer_sizes=(16,), activation='tanh', random_state=0)"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sk = cls(hidden_layer_sizes=(16,), activation="tanh", random_state=0).fit(
            split.X_train, split.y_train)
    ours = model_info(model).load().from_arrays(arrays)
    if model == "mlp_classifier":
        np.testing.assert_allclose(ours.predict_proba(split.X_test),
                                   sk.predict_proba(split.X_test), atol=1e-12)
        base = baseline(split, model, [hp])
        assert base["references"]["0.001/hidden_layer_sizes~16/activation~tanh"][
            "optimum"] is None
        default = base["default"]["hidden_layer_sizes~[16]/activation~tanh"]
        assert default["metrics"]["test"]["accuracy"] >= 0.8
        json.dumps(base, allow_nan=False)  # plain JSON
    else:
        np.testing.assert_allclose(ours.predict(split.X_test), sk.predict(split.X_test),
                                   atol=1e-10)
