"""The study note's lesson: log loss is convex in the weights, MSE on a sigmoid is not.

Oracles: central finite differences for the squared-sigmoid gradient, direct evaluation
for the objective surface, and the midpoint definition of convexity.
"""

import numpy as np
import pytest
from sklearn.metrics import log_loss as sk_log_loss

from gdlab.losses import LogisticLoss, SigmoidSquaredLoss, sigmoid
from gdlab.models.logistic_regression import LogisticRegression, objective_surface, plane_grid
from gdlab.models.training import descent_path


def binary_problem(seed, n=60, d=3):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d)) * rng.uniform(0.3, 2.0, size=d)
    y = (X @ rng.normal(size=d) + 0.5 * rng.normal(size=n) > 0).astype(float)
    return X, y


@pytest.mark.parametrize("l2", [0.0, 0.3])
@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("seed", range(5))
def test_squared_sigmoid_gradient_matches_central_finite_differences(l2, fit_intercept, seed):
    X, y = binary_problem(seed)
    rng = np.random.default_rng(100 + seed)
    w, b = rng.normal(size=X.shape[1]) * 2, float(rng.normal())
    obj = SigmoidSquaredLoss(l2=l2, fit_intercept=fit_intercept)
    value, gw, gb = obj.value_and_gradient(w, b, X, y)
    assert value == pytest.approx(np.mean((sigmoid(X @ w + b) - y) ** 2) + l2 / 2 * w @ w,
                                  rel=1e-14)
    h = 1e-6
    fd_w = [(obj.value(w + h * e, b, X, y) - obj.value(w - h * e, b, X, y)) / (2 * h)
            for e in np.eye(len(w))]
    fd_b = (obj.value(w, b + h, X, y) - obj.value(w, b - h, X, y)) / (2 * h)
    grad, fd = np.append(gw, gb), np.append(fd_w, fd_b if fit_intercept else 0.0)
    assert np.linalg.norm(grad - fd) <= 1e-6 * np.linalg.norm(fd)
    assert fit_intercept or gb == 0.0


def test_squared_sigmoid_derivative_is_finite_for_huge_logits():
    z = np.array([-1000.0, -40.0, 0.0, 40.0, 1000.0])
    for label in (0.0, 1.0):
        r = SigmoidSquaredLoss().dpointwise(z, np.full_like(z, label))
        assert np.all(np.isfinite(r))
    # at z = 0, sigma = 1/2 and sigma' = 1/4: r = 2 * (1/2 - y) / 4
    assert SigmoidSquaredLoss().dpointwise(np.zeros(1), np.ones(1))[0] == -0.25


def test_objective_surface_equals_direct_evaluation():
    X, y = binary_problem(1, d=2)
    rng = np.random.default_rng(2)
    center, u, v = rng.normal(size=(3, 3))
    thetas = plane_grid(center, u, v, np.linspace(-3, 3, 7), np.linspace(-2, 2, 5))
    assert thetas.shape == (5, 7, 3)
    np.testing.assert_array_equal(thetas[4, 6], center + 3 * u + 2 * v)
    for loss, loss_cls in (("log_loss", LogisticLoss), ("squared", SigmoidSquaredLoss)):
        surface = objective_surface(X, y, thetas, loss=loss, l2=0.1)
        assert surface.shape == (5, 7)
        direct = np.array([[loss_cls(0.1).value(t[:-1], t[-1], X, y) for t in row]
                           for row in thetas])
        np.testing.assert_allclose(surface, direct, rtol=1e-12)
    with pytest.raises(ValueError, match="d \\+ 1 = 3"):
        objective_surface(X, y, np.zeros((4, 2)))


def midpoint_gaps(X, y, loss, rng, n_lines=200, scale=6.0):
    """J(midpoint) - mean(J(ends)) for random segments: <= 0 on every one iff convex there."""
    ends = rng.normal(size=(n_lines, 2, X.shape[1] + 1)) * scale
    values = objective_surface(X, y, ends, loss=loss)
    mid = objective_surface(X, y, ends.mean(axis=1), loss=loss)
    return mid - values.mean(axis=1)


def test_log_loss_is_convex_and_squared_sigmoid_is_not():
    X, y = binary_problem(3)
    rng = np.random.default_rng(4)
    assert midpoint_gaps(X, y, "log_loss", rng).max() <= 1e-12
    assert midpoint_gaps(X, y, "squared", rng).max() > 1e-3  # a segment bulging upward


def test_normal_init_is_a_seeded_draw():
    X, y = binary_problem(5)
    # lr so small that one step changes nothing: the fitted parameters are the start
    start = LogisticRegression(lr=1e-300, epochs=1, init="normal", init_scale=2.5, seed=9)
    start.fit(X, y)
    draw = 2.5 * np.random.default_rng(9).standard_normal(X.shape[1] + 1)
    np.testing.assert_array_equal(np.append(start.coef_, start.intercept_), draw)
    no_b = LogisticRegression(lr=1e-300, epochs=1, init="normal", fit_intercept=False, seed=9)
    assert no_b.fit(X, y).intercept_ == 0.0
    zeros = LogisticRegression(lr=1e-300, epochs=1).fit(X, y)
    assert np.abs(zeros.coef_).max() < 1e-290 and abs(zeros.intercept_) < 1e-290


def test_squared_loss_stalls_on_a_plateau_where_log_loss_learns():
    X, y = binary_problem(6, n=200)
    common = dict(lr=0.5, epochs=200, init="normal", init_scale=8.0, seed=1)
    squared = LogisticRegression(loss="squared", **common).fit(X, y)
    log = LogisticRegression(loss="log_loss", **common).fit(X, y)
    # from the same saturated start, MSE's gradient is tiny: it barely moves
    moved_sq = np.linalg.norm(np.append(squared.coef_, squared.intercept_)
                              - 8.0 * np.random.default_rng(1).standard_normal(4))
    moved_log = np.linalg.norm(np.append(log.coef_, log.intercept_)
                               - 8.0 * np.random.default_rng(1).standard_normal(4))
    assert moved_sq < 0.1 * moved_log
    best = LogisticRegression(lr=1.0, epochs=2000).fit(X, y).score(X, y)  # about 0.89
    assert log.score(X, y) >= best - 0.02 and squared.score(X, y) < best - 0.2
    # and from zeros both learn: the plateau, not the loss, is what stalls it
    from_zeros = LogisticRegression(loss="squared", lr=2.0, epochs=500).fit(X, y)
    assert from_zeros.score(X, y) >= best - 0.02


def test_loss_and_init_are_validated():
    X, y = binary_problem(7)
    for kwargs, match in (({"loss": "hinge"}, "loss must be one of"),
                          ({"init": "ones"}, "init must be one of"),
                          ({"init_scale": -1.0}, "init_scale must be")):
        with pytest.raises(ValueError, match=match):
            LogisticRegression(**kwargs).fit(X, y)


def test_squared_loss_history_measures_validation_log_loss_and_trains_its_own_loss():
    """The validation curve of a squared-loss run is the log loss, as every classifier's:
    two losses' runs are compared on one quantity; the training objective stays its own."""
    X, y = binary_problem(8)
    m = LogisticRegression(loss="squared", epochs=5).fit(X[:40], y[:40], X[40:], y[40:])
    p = sigmoid(m.decision_function(X[40:]))
    assert m.history_["val_log_loss"][-1] == pytest.approx(sk_log_loss(y[40:], p), rel=1e-12)
    assert m.history_["val_log_loss"][-1] != pytest.approx(np.mean((p - y[40:]) ** 2))
    train_p = sigmoid(m.decision_function(X[:40]))
    assert m.history_["train_objective"][-1] == pytest.approx(np.mean((train_p - y[:40]) ** 2))


@pytest.mark.parametrize("loss", ["log_loss", "squared"])
def test_descent_path_runs_from_the_start_to_the_fitted_parameters(loss):
    X, y = binary_problem(9, d=2)
    kwargs = dict(loss=loss, lr=0.5, epochs=40, init="normal", init_scale=3.0, seed=2)
    model = LogisticRegression(**kwargs)
    path = descent_path(model, X, y)
    assert path.shape == (model.n_epochs_ + 1, 3)
    np.testing.assert_array_equal(path[0], 3.0 * np.random.default_rng(2).standard_normal(3))
    np.testing.assert_array_equal(path[-1], np.append(model.coef_, model.intercept_))
    # every point's objective is what the history recorded for that epoch
    np.testing.assert_allclose(objective_surface(X, y, path[1:], loss=loss),
                               model.history_["train_objective"], rtol=1e-12)
    plain = LogisticRegression(**kwargs).fit(X, y)  # recording changes nothing
    assert plain.coef_.tobytes() == model.coef_.tobytes()
    assert "_after_step" not in vars(model)
