"""Newton and L-BFGS (gdlab.solvers) against independent oracles: finite differences,
scikit-learn's newton-cholesky and lbfgs, the strong Wolfe conditions, and the finite
termination of L-BFGS on a quadratic."""

import numpy as np
import pytest
import yaml
from sklearn.datasets import load_breast_cancer, load_diabetes, load_iris, make_moons
from sklearn.linear_model import LogisticRegression as SkLogisticRegression
from sklearn.linear_model import Ridge

from gdlab import solvers
from gdlab.config import ConfigError, load_schema, validate_config
from gdlab.losses import LogisticLoss, SigmoidSquaredLoss, SquaredLoss
from gdlab.models import LinearRegression, LogisticRegression
from gdlab.models.mlp import MLPClassifier, MLPRegressor
from gdlab.models.softmax_regression import SoftmaxRegression
from gdlab.models.training import descent_path
from gdlab.preprocessing import StandardScaler


def standardised(loader):
    X, y = loader(return_X_y=True)
    return StandardScaler().fit_transform(X), y.astype(float)


def fd_hessian(value_and_gradient, theta, h=1e-6):
    """Central differences of the gradient, column by column."""
    cols = [(value_and_gradient(theta + h * e)[1] - value_and_gradient(theta - h * e)[1])
            / (2 * h) for e in np.eye(theta.size)]
    return np.array(cols).T


@pytest.mark.parametrize("loss", [SquaredLoss, LogisticLoss, SigmoidSquaredLoss])
@pytest.mark.parametrize("l2", [0.0, 0.3])
def test_linear_hessians_match_finite_differences(loss, l2):
    rng = np.random.default_rng(3)
    X = rng.normal(size=(30, 4)) * 2
    y = rng.integers(0, 2, size=30).astype(float)
    obj = loss(l2)
    theta = rng.normal(size=5) * 2  # far out: the squared loss's non-convex part too

    def vg(t):
        v, gw, gb = obj.value_and_gradient(t[:-1], t[-1], X, y)
        return v, np.append(gw, gb)

    H = obj.hessian(theta[:-1], theta[-1], X, y)
    np.testing.assert_allclose(H, fd_hessian(vg, theta), rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("fit_intercept", [True, False])
def test_softmax_block_hessian_matches_finite_differences(fit_intercept):
    rng = np.random.default_rng(4)
    X, y = rng.normal(size=(40, 3)), rng.integers(0, 4, size=40).astype(float)
    model = SoftmaxRegression(l2=0.2, fit_intercept=fit_intercept)
    model._prepare(X, y, None)
    theta = rng.normal(size=4 * 3 + 4)
    if not fit_intercept:
        theta[-4:] = 0.0
    H = model._hessian(theta, X, y)
    fd = fd_hessian(lambda t: model._value_and_gradient(t, X, y), theta)
    weights = slice(0, 12) if not fit_intercept else slice(None)  # b is fixed without
    np.testing.assert_allclose(H[weights, weights], fd[weights, weights], atol=1e-7)


def _problems():
    Xb, yb = standardised(load_breast_cancer)
    Xi, yi = standardised(load_iris)
    return {"logistic": (LogisticRegression, Xb, yb), "softmax": (SoftmaxRegression, Xi, yi)}


@pytest.mark.parametrize("optimizer", ["newton", "lbfgs"])
@pytest.mark.parametrize("sk_solver", ["newton-cholesky", "lbfgs"])
@pytest.mark.parametrize("problem", ["logistic", "softmax"])
def test_coefficients_equal_sklearn(optimizer, sk_solver, problem):
    cls, X, y = _problems()[problem]
    n, l2 = len(y), 0.01
    sk = SkLogisticRegression(C=1 / (n * l2), tol=1e-10, max_iter=10000,
                              solver=sk_solver).fit(X, y)
    ours = cls(optimizer=optimizer, l2=l2, tol=1e-10, epochs=1000).fit(X, y)
    assert ours.converged_ and not ours.diverged_
    coef = sk.coef_[0] if problem == "logistic" else sk.coef_
    np.testing.assert_allclose(ours.coef_, coef, atol=1e-6, rtol=0)
    # softmax intercepts are unique up to a common shift: both are centred (symmetric)
    np.testing.assert_allclose(ours.intercept_, sk.intercept_ - sk.intercept_.mean()
                               if problem == "softmax" else sk.intercept_[0], atol=1e-6)
    assert ours.solver_["iterations"] == ours.n_epochs_ == len(ours.history_["epoch"])


@pytest.mark.parametrize("optimizer", ["newton", "lbfgs"])
def test_ridge_coefficients_equal_sklearn(optimizer):
    X, y = standardised(load_diabetes)
    n, l2 = len(y), 0.1
    sk = Ridge(alpha=n * l2, solver="cholesky", tol=1e-10).fit(X, y)
    ours = LinearRegression(optimizer=optimizer, l2=l2, tol=1e-10, epochs=1000).fit(X, y)
    np.testing.assert_allclose(ours.coef_, sk.coef_, atol=1e-6, rtol=0)
    assert abs(ours.intercept_ - sk.intercept_) <= 1e-6
    if optimizer == "newton":  # a quadratic: one Newton step from anywhere
        assert ours.n_epochs_ == 1 and ours.solver_["stop_reason"] == "gradient"


def test_newton_handles_the_redundant_class_without_penalty():
    # l2 = 0: the last class is held at 0 as scikit-learn's newton-cholesky does, then
    # centred; the probabilities equal scikit-learn's unpenalised fit on separable-free data
    rng = np.random.default_rng(5)
    X = rng.normal(size=(300, 3))
    y = np.argmax(X @ rng.normal(size=(3, 3)) + 2 * rng.normal(size=(300, 3)), axis=1)
    sk = SkLogisticRegression(C=np.inf, tol=1e-10, max_iter=10000,
                              solver="newton-cholesky").fit(X, y)
    ours = SoftmaxRegression(optimizer="newton", l2=0.0, tol=1e-10, epochs=100).fit(X, y)
    assert ours.converged_
    np.testing.assert_allclose(ours.coef_, sk.coef_, atol=1e-6)
    np.testing.assert_allclose(ours.coef_.sum(axis=0), 0.0, atol=1e-12)
    np.testing.assert_allclose(ours.predict_proba(X), sk.predict_proba(X), atol=1e-7)


def _assert_strong_wolfe(model, X, y, path):
    """Each step s = x_{k+1} - x_k meets both conditions (they are invariant to how s
    splits into alpha * p): J(x+s) <= J(x) + c1 g.s and |g(x+s).s| <= c2 |g.s|."""
    assert len(path) > 3
    for before, after in zip(path[:-1], path[1:], strict=True):
        s = after - before
        f0, g0 = model._value_and_gradient(before, X, y)
        f1, g1 = model._value_and_gradient(after, X, y)
        assert g0 @ s < 0
        assert f1 <= f0 + solvers.C1 * (g0 @ s) + 1e-15 * abs(f0)
        assert abs(g1 @ s) <= solvers.C2 * abs(g0 @ s) * (1 + 1e-9)


def test_strong_wolfe_holds_at_every_accepted_step_logistic():
    X, y = standardised(load_breast_cancer)
    model = LogisticRegression(optimizer="lbfgs", l2=0.001, tol=1e-8, epochs=200)
    path = descent_path(model, X, y)
    assert len(path) == model.n_epochs_ + 1
    _assert_strong_wolfe(model, X, y, path)


def test_strong_wolfe_holds_at_every_accepted_step_mlp():
    X, y = make_moons(200, noise=0.2, random_state=0)
    model = MLPClassifier((8,), optimizer="lbfgs", epochs=60, seed=1)
    path = descent_path(model, X, y.astype(float))
    model._prepare(X, y.astype(float), None)
    _assert_strong_wolfe(model, X, y.astype(float), path)


@pytest.mark.parametrize("n", [5, 12, 30])
def test_lbfgs_ends_within_n_plus_one_iterations_on_a_strictly_convex_quadratic(n):
    # With a near-exact line search (small c2: on a quadratic the zoom's cubic
    # interpolation is exact) and m >= n, L-BFGS is conjugate gradients: n steps. In
    # floating point that holds while the quadratic is well conditioned (here 100).
    rng = np.random.default_rng(n)
    Q = np.linalg.qr(rng.normal(size=(n, n)))[0]
    A = Q @ np.diag(np.geomspace(1.0, 100.0, n)) @ Q.T
    b = rng.normal(size=n)
    x, count = solvers.lbfgs(lambda x: (0.5 * x @ A @ x - b @ x, A @ x - b), np.zeros(n),
                             max_iter=10 * n, tol=1e-8, m=n, c2=1e-3)
    assert count.stop_reason == "gradient" and count.iterations <= n + 1
    np.testing.assert_allclose(x, np.linalg.solve(A, b), atol=1e-8)


def test_newton_refuses_the_mlp_and_says_to_use_lbfgs():
    X, y = make_moons(50, random_state=0)
    for cls in (MLPClassifier, MLPRegressor):
        with pytest.raises(ValueError, match="use 'lbfgs'"):
            cls(optimizer="newton").fit(X, y.astype(float))
    with open("config/config.yaml") as f:
        config = yaml.safe_load(f)
    config["models"]["mlp_classifier"]["grid"]["optimizer"] = ["adam", "newton"]
    with pytest.raises(ConfigError, match=r"models\.mlp_classifier\.grid\.optimizer: "
                                          r"newton .*use lbfgs"):
        validate_config(config, load_schema("config/schema.yaml"))


def test_solvers_are_full_batch():
    with pytest.raises(ValueError, match="batch_size"):
        LogisticRegression(optimizer="lbfgs", batch_size=8).fit([[0.0], [1.0]], [0, 1])


@pytest.mark.parametrize("seed", range(6))
def test_squared_loss_newton_never_increases_the_objective(seed):
    # a saturated start on the sigmoid's squared loss: the Hessian is indefinite there
    X, y = make_moons(200, noise=0.2, random_state=seed)
    model = LogisticRegression(optimizer="newton", loss="squared", init="normal",
                               init_scale=4.0, epochs=50, seed=seed)
    path = descent_path(model, X, y.astype(float))
    values = [model._value(t, X, y.astype(float)) for t in path]
    assert np.all(np.diff(values) <= 0)
    assert model.solver_["stop_reason"] in ("gradient", "objective", "no_progress",
                                            "max_iterations")


def test_squared_loss_newton_meets_an_indefinite_hessian_and_modifies_it():
    X, y = make_moons(200, noise=0.2, random_state=0)
    modified = 0
    for seed in range(6):
        model = LogisticRegression(optimizer="newton", loss="squared", init="normal",
                                   init_scale=4.0, epochs=50, seed=seed).fit(X, y)
        modified += model.solver_["hessian_modifications"]
    assert modified > 0  # the tests above did cross the non-convex part
