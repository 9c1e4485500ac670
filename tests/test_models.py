"""The NumPy models against independent oracles: finite differences, closed forms, sklearn."""

import numpy as np
import pytest
from sklearn.datasets import load_breast_cancer, load_diabetes
from sklearn.linear_model import LinearRegression as SkLinearRegression
from sklearn.linear_model import LogisticRegression as SkLogisticRegression
from sklearn.linear_model import Ridge
from sklearn.metrics import log_loss as sk_log_loss

from gdlab.losses import LogisticLoss, SquaredLoss, sigmoid
from gdlab.models import DIVERGENCE_FACTOR, LinearRegression, LogisticRegression
from gdlab.optimizers import Adam, GradientDescent, Momentum
from gdlab.preprocessing import StandardScaler

LOSSES = [SquaredLoss, LogisticLoss]


def random_problem(rng, loss_cls, n=None, d=None):
    n = n or int(rng.integers(5, 40))
    d = d or int(rng.integers(1, 8))
    X = rng.normal(size=(n, d)) * rng.uniform(0.1, 3, size=d)
    y = rng.integers(0, 2, size=n).astype(float) if loss_cls is LogisticLoss else rng.normal(size=n)
    w = rng.normal(size=d)
    b = float(rng.normal())
    return X, y, w, b


@pytest.mark.parametrize("loss_cls", LOSSES)
@pytest.mark.parametrize("l2", [0.0, 0.37])
@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("case", range(8))
def test_gradient_matches_central_finite_differences(loss_cls, l2, fit_intercept, case):
    rng = np.random.default_rng(1000 + case)
    X, y, w, b = random_problem(rng, loss_cls)
    obj = loss_cls(l2=l2, fit_intercept=fit_intercept)
    value, gw, gb = obj.value_and_gradient(w, b, X, y)
    assert value == pytest.approx(obj.value(w, b, X, y), rel=1e-14)

    h = 1e-5
    fd_w = np.array([
        (obj.value(w + h * e, b, X, y) - obj.value(w - h * e, b, X, y)) / (2 * h)
        for e in np.eye(len(w))
    ])
    fd_b = (obj.value(w, b + h, X, y) - obj.value(w, b - h, X, y)) / (2 * h)
    grad = np.append(gw, gb)
    fd = np.append(fd_w, fd_b if fit_intercept else 0.0)
    rel = np.linalg.norm(grad - fd) / max(np.linalg.norm(fd), 1e-12)
    assert rel <= 1e-6
    if not fit_intercept:
        assert gb == 0.0


@pytest.mark.parametrize("loss_cls", LOSSES)
def test_penalty_has_the_right_sign_and_spares_the_intercept(loss_cls):
    # numpy-ml shipped an L2 gradient with the wrong sign: check the penalty term alone.
    rng = np.random.default_rng(7)
    X, y, w, b = random_problem(rng, loss_cls)
    _, gw0, gb0 = loss_cls(l2=0.0).value_and_gradient(w, b, X, y)
    _, gw1, gb1 = loss_cls(l2=0.5).value_and_gradient(w, b, X, y)
    np.testing.assert_allclose(gw1 - gw0, 0.5 * w, rtol=1e-12)
    assert gb1 == gb0


def test_logistic_loss_is_stable_for_huge_logits():
    z = np.array([-1000.0, -50.0, 0.0, 50.0, 1000.0])
    with np.errstate(over="raise", divide="raise", invalid="raise"):  # underflow to 0 is fine
        for y in (0.0, 1.0):
            loss = LogisticLoss().pointwise(z, np.full_like(z, y))
            assert np.all(np.isfinite(loss))
        p = sigmoid(z)
    # closed forms: loss(z, y=0) = log(1 + e^z) ~ z for large z; loss(z, y=1) ~ -z for z << 0
    np.testing.assert_allclose(LogisticLoss().pointwise(z, np.zeros(5))[[0, -1]], [0.0, 1000.0])
    np.testing.assert_allclose(LogisticLoss().pointwise(z, np.ones(5))[[0, -1]], [1000.0, 0.0])
    np.testing.assert_allclose(p, [0.0, 1 / (1 + np.exp(50)), 0.5, 1 / (1 + np.exp(-50)), 1.0])


def test_optimizers_follow_their_update_rules():
    theta, g1, g2 = np.array([1.0, -2.0]), np.array([0.5, 0.25]), np.array([-1.0, 2.0])
    np.testing.assert_allclose(GradientDescent(0.1).step(theta, g1), theta - 0.1 * g1)
    m = Momentum(0.1, beta=0.9)
    t1 = m.step(theta, g1)
    np.testing.assert_allclose(m.step(t1, g2), t1 - 0.1 * (0.9 * g1 + g2))
    a = Adam(0.1)
    # first Adam step moves every coordinate by lr * sign(g), up to eps
    np.testing.assert_allclose(a.step(theta, g1), theta - 0.1 * np.sign(g1), rtol=1e-6)


# -- agreement with scikit-learn at convergence -------------------------------------------

@pytest.fixture(scope="module")
def breast_cancer():
    X, y = load_breast_cancer(return_X_y=True)
    return StandardScaler().fit_transform(X), y.astype(float)


@pytest.fixture(scope="module")
def diabetes():
    X, y = load_diabetes(return_X_y=True)
    return StandardScaler().fit_transform(X), y


@pytest.mark.parametrize("optimizer,lr", [("gd", 1.0), ("momentum", 0.5)])
def test_logistic_regression_matches_sklearn(breast_cancer, optimizer, lr):
    X, y = breast_cancer
    n, l2 = len(y), 0.01
    sk = SkLogisticRegression(C=1 / (n * l2), tol=1e-10, max_iter=10000).fit(X, y)
    ours = LogisticRegression(lr=lr, epochs=50000, l2=l2, tol=1e-16, optimizer=optimizer)
    ours.fit(X, y)
    assert ours.converged_ and not ours.diverged_
    np.testing.assert_allclose(ours.coef_, sk.coef_[0], atol=1e-5)
    assert ours.intercept_ == pytest.approx(sk.intercept_[0], abs=1e-5)
    np.testing.assert_allclose(ours.predict_proba(X), sk.predict_proba(X), atol=1e-5)
    assert ours.score(X, y) == pytest.approx(sk.score(X, y))


def test_ridge_gradient_descent_matches_sklearn(diabetes):
    X, y = diabetes
    n, l2 = len(y), 0.01
    sk = Ridge(alpha=n * l2, solver="cholesky").fit(X, y)
    ours = LinearRegression(lr=0.1, epochs=20000, l2=l2, optimizer="momentum")
    ours.fit(X, y)
    np.testing.assert_allclose(ours.coef_, sk.coef_, atol=1e-5)
    assert ours.intercept_ == pytest.approx(sk.intercept_, abs=1e-5)


def test_unpenalised_gradient_descent_matches_sklearn_linear_regression(diabetes):
    X, y = diabetes
    sk = SkLinearRegression().fit(X, y)
    ours = LinearRegression(lr=0.1, epochs=50000, optimizer="momentum").fit(X, y)
    np.testing.assert_allclose(ours.coef_, sk.coef_, atol=1e-5)
    assert ours.intercept_ == pytest.approx(sk.intercept_, abs=1e-5)


@pytest.mark.parametrize("l2", [0.0, 0.01])
def test_closed_form_matches_lstsq_and_ridge(diabetes, l2):
    X, y = diabetes
    n = len(y)
    ours = LinearRegression(solver="closed_form", l2=l2).fit(X, y)
    if l2 == 0:
        ref = np.linalg.lstsq(np.column_stack([X, np.ones(n)]), y, rcond=None)[0]
        np.testing.assert_allclose(ours.coef_, ref[:-1], rtol=0, atol=1e-10)
        assert ours.intercept_ == pytest.approx(ref[-1], abs=1e-10)
    else:
        # ridge closed form: (Xc'Xc + n*l2 I) w = Xc'yc
        Xc, yc = X - X.mean(0), y - y.mean()
        ref = np.linalg.solve(Xc.T @ Xc + n * l2 * np.eye(X.shape[1]), Xc.T @ yc)
        np.testing.assert_allclose(ours.coef_, ref, rtol=0, atol=1e-10)
        sk = Ridge(alpha=n * l2, solver="cholesky").fit(X, y)
        np.testing.assert_allclose(ours.coef_, sk.coef_, atol=1e-8)


def test_closed_form_without_intercept_matches_lstsq():
    rng = np.random.default_rng(3)
    X, y = rng.normal(size=(50, 4)), rng.normal(size=50)
    ours = LinearRegression(solver="closed_form", fit_intercept=False).fit(X, y)
    np.testing.assert_allclose(ours.coef_, np.linalg.lstsq(X, y, rcond=None)[0], atol=1e-10)
    assert ours.intercept_ == 0.0


# -- training behaviour -------------------------------------------------------------------

@pytest.mark.parametrize("model_cls", [LinearRegression, LogisticRegression])
@pytest.mark.parametrize("batch_size,optimizer", [(None, "gd"), (16, "gd"), (7, "adam")])
def test_same_seed_gives_bit_identical_fit(model_cls, batch_size, optimizer):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(100, 3))
    y = (X[:, 0] > 0).astype(float) if model_cls is LogisticRegression else X @ [1, 2, 3]
    kw = dict(lr=0.05, epochs=20, batch_size=batch_size, optimizer=optimizer, seed=5)
    a, b = model_cls(**kw).fit(X, y), model_cls(**kw).fit(X, y)
    assert a.coef_.tobytes() == b.coef_.tobytes()
    assert a.history_["train_objective"].tobytes() == b.history_["train_objective"].tobytes()
    if batch_size is not None:
        c = model_cls(**{**kw, "seed": 6}).fit(X, y)
        assert c.coef_.tobytes() != a.coef_.tobytes()  # the seed really drives batch order


def test_history_records_every_epoch_with_validation():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(80, 2))
    y = (X @ [1.0, -1.0] > 0).astype(float)
    m = LogisticRegression(lr=0.5, epochs=30).fit(X[:60], y[:60], X_val=X[60:], y_val=y[60:])
    h = m.history_
    assert m.n_epochs_ == 30
    assert list(h["epoch"]) == list(range(1, 31))
    assert set(h) == {"epoch", "train_objective", "val_log_loss", "val_accuracy"}
    # the recorded objective is the objective of the parameters after that epoch
    assert h["train_objective"][-1] == pytest.approx(m.objective(X[:60], y[:60]), rel=1e-12)
    assert np.all(np.diff(h["train_objective"]) <= 1e-12)  # full-batch GD, small lr: monotone
    z = X[60:] @ m.coef_ + m.intercept_
    assert h["val_log_loss"][-1] == pytest.approx(LogisticLoss().mean_loss(z, y[60:]))
    assert h["val_log_loss"][-1] == pytest.approx(sk_log_loss(y[60:], 1 / (1 + np.exp(-z))),
                                                  rel=1e-12)
    assert h["val_accuracy"][-1] == pytest.approx(np.mean((z > 0) == y[60:]))


def test_tol_stops_training_early():
    rng = np.random.default_rng(2)
    X = rng.normal(size=(50, 2))
    y = X @ [2.0, -1.0] + 0.5
    m = LinearRegression(lr=0.3, epochs=10000, tol=1e-10).fit(X, y)
    assert m.converged_ and m.n_epochs_ < 10000
    gaps = -np.diff(m.history_["train_objective"])
    assert 0 <= gaps[-1] < 1e-10 and gaps[-2] >= 1e-10


@pytest.mark.parametrize("model_cls,l2", [(LinearRegression, 0.0), (LogisticRegression, 0.1)])
def test_huge_learning_rate_diverges_without_raising(model_cls, l2):
    rng = np.random.default_rng(4)
    X = rng.normal(size=(60, 3)) * 3
    y = (X[:, 0] > 0).astype(float) if model_cls is LogisticRegression else X @ [1, 2, 3]
    with np.errstate(over="raise", invalid="raise"):  # the loop silences its own
        m = model_cls(lr=1e3, epochs=500, l2=l2).fit(X, y)
    assert m.diverged_ and not m.converged_
    assert m.n_epochs_ < 500
    obj = m.history_["train_objective"]
    start = m._objective().value(np.zeros(3), 0.0, X, y)  # objective at the zero start
    limit = DIVERGENCE_FACTOR * max(start, 1.0)
    assert len(obj) == m.n_epochs_ and obj[-1] > limit and np.all(obj[:-1] <= limit)
    assert np.all(np.isfinite(m.coef_))  # the parameters before the blow-up are kept
    assert m.objective(X, y) == pytest.approx(obj[-2]) if len(obj) > 1 else True


def test_non_finite_objective_stops_training():
    X, y = np.array([[1.0], [2.0], [3.0]]), np.array([1.0, 2.0, 3.0])
    m = LinearRegression(lr=1e300, epochs=50).fit(X, y)  # overflows at once
    assert m.diverged_ and m.n_epochs_ == 1 and not np.isfinite(m.history_["train_objective"][0])
    assert np.all(m.coef_ == 0) and m.intercept_ == 0  # the zero start is what is kept


def test_constant_feature_is_harmless():
    rng = np.random.default_rng(5)
    X = np.column_stack([rng.normal(size=40), np.full(40, 3.0)])
    y = 2 * X[:, 0] + 1
    Z = StandardScaler().fit_transform(X)
    assert np.all(Z[:, 1] == 0)
    m = LinearRegression(lr=0.5, epochs=2000, tol=1e-20).fit(Z, y)
    assert m.coef_[0] == pytest.approx(2 * X[:, 0].std(), rel=1e-6)
    assert m.coef_[1] == 0.0


@pytest.mark.parametrize("kwargs,match", [
    ({"lr": -0.1}, "lr must be a positive"),
    ({"lr": 0}, "lr must be a positive"),
    ({"epochs": 0}, "epochs must be an integer >= 1"),
    ({"epochs": 2.5}, "epochs must be an integer"),
    ({"l2": -1}, "l2 must be"),
    ({"batch_size": 0}, "batch_size must be"),
    ({"optimizer": "sgd2"}, "optimizer must be one of"),
    ({"tol": -1}, "tol must be"),
])
def test_bad_hyperparameters_are_named(kwargs, match):
    X, y = np.ones((4, 1)), np.array([0.0, 1, 0, 1])
    with pytest.raises(ValueError, match=match):
        LogisticRegression(**kwargs).fit(X, y)


@pytest.mark.parametrize("X,y,match", [
    (np.empty((0, 2)), np.empty(0), "X is empty"),
    (np.ones((3, 2)), np.ones(4), "X has 3 samples but y has 4"),
    (np.ones(3), np.ones(3), "X must be 2-D"),
    (np.ones((3, 2)), np.ones((3, 1)), "y must be 1-D"),
    (np.array([[1.0], [np.nan]]), np.ones(2), "X contains NaN"),
])
def test_bad_data_is_named(X, y, match):
    with pytest.raises(ValueError, match=match):
        LinearRegression().fit(X, y)


def test_logistic_rejects_non_binary_labels_and_unfitted_use():
    with pytest.raises(ValueError, match="binary labels 0 and 1"):
        LogisticRegression().fit(np.ones((3, 1)), [0, 1, 2])
    with pytest.raises(ValueError, match="not fitted"):
        LogisticRegression().predict(np.ones((3, 1)))
    m = LogisticRegression(epochs=1).fit(np.ones((2, 2)), [0, 1])
    with pytest.raises(ValueError, match="X has 3 features"):
        m.predict(np.ones((1, 3)))
    with pytest.raises(ValueError, match="X_val has 1 features but X has 2"):
        LogisticRegression(epochs=1).fit(np.ones((2, 2)), [0, 1], np.ones((2, 1)), [0, 1])


@pytest.mark.parametrize("loss_cls", LOSSES)
def test_fused_loss_and_derivative_equal_the_plain_formulas(loss_cls):
    rng = np.random.default_rng(11)
    z = np.concatenate([rng.normal(scale=30, size=2000), [0.0, -0.0, 700.0, -700.0, 1e4, -1e4]])
    y = rng.integers(0, 2, size=z.size).astype(float)
    loss, r = loss_cls().pointwise_and_derivative(z, y)
    np.testing.assert_allclose(loss, loss_cls().pointwise(z, y), rtol=1e-15, atol=0)
    np.testing.assert_allclose(r, loss_cls().dpointwise(z, y), rtol=1e-15, atol=0)
