"""SoftmaxRegression against finite differences and scikit-learn's multinomial lbfgs."""

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression as SkLogisticRegression

from gdlab.data import load_sklearn, make_synthetic, split_dataset
from gdlab.losses import log_softmax, softmax
from gdlab.models.softmax_regression import SoftmaxRegression
from gdlab.preprocessing import StandardScaler


def problem(seed, n=40, d=3, k=4):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d)) * rng.uniform(0.3, 2.0, size=d)
    y = rng.integers(0, k, size=n).astype(float)
    y[:k] = np.arange(k)  # every class present
    return X, y


def fitted_shell(X, y, **kwargs):
    """A model whose hooks know K and d, for evaluating the objective at any theta."""
    model = SoftmaxRegression(**kwargs)
    model.n_classes_ = int(y.max()) + 1
    model.n_features_in_ = X.shape[1]
    return model


@pytest.mark.parametrize("l2", [0.0, 0.2])
@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("seed", range(4))
def test_gradient_matches_central_finite_differences(l2, fit_intercept, seed):
    X, y = problem(seed)
    model = fitted_shell(X, y, l2=l2, fit_intercept=fit_intercept)
    theta = np.random.default_rng(50 + seed).normal(size=4 * 3 + 4)
    value, grad = model._value_and_gradient(theta, X, y)
    W, b = theta[:12].reshape(4, 3), theta[12:]
    Z = X @ W.T + b
    direct = -np.mean(log_softmax(Z)[np.arange(len(y)), y.astype(int)]) + l2 / 2 * np.sum(W**2)
    assert value == pytest.approx(direct, rel=1e-13)
    h = 1e-6
    fd = np.array([(model._value(theta + h * e, X, y) - model._value(theta - h * e, X, y))
                   / (2 * h) for e in np.eye(theta.size)])
    if not fit_intercept:
        fd[12:] = 0.0
    assert np.linalg.norm(grad - fd) <= 1e-6 * np.linalg.norm(fd)


def test_softmax_is_stable_for_huge_scores():
    Z = np.array([[1000.0, 0.0, -1000.0], [-800.0, -800.0, -800.0], [0.0, 0.0, 710.0]])
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        P = softmax(Z)
        L = log_softmax(Z)
    np.testing.assert_allclose(P, [[1, 0, 0], [1 / 3, 1 / 3, 1 / 3], [0, 0, 1]], atol=1e-300)
    assert np.all(np.isfinite(L)) and L[0, 2] == -2000.0


def standardised(name):
    ds = load_sklearn(name)
    return StandardScaler().fit_transform(ds.X), ds.y


@pytest.mark.parametrize("name", ["iris", "wine", "digits"])
def test_matches_sklearn_multinomial_logistic_regression(name):
    X, y = standardised(name)
    n, l2 = len(y), 0.01
    sk = SkLogisticRegression(C=1 / (n * l2), tol=1e-10, max_iter=10000).fit(X, y)
    ours = SoftmaxRegression(0.5, epochs=5000, l2=l2, optimizer="momentum", tol=1e-15)
    ours.fit(X, y)
    assert not ours.diverged_ and ours.coef_.shape == sk.coef_.shape
    np.testing.assert_allclose(ours.coef_, sk.coef_, atol=1e-5, rtol=0)
    # the intercepts are unique only up to a common shift: compare them centred
    np.testing.assert_allclose(ours.intercept_ - ours.intercept_.mean(),
                               sk.intercept_ - sk.intercept_.mean(), atol=1e-5, rtol=0)
    np.testing.assert_allclose(ours.predict_proba(X), sk.predict_proba(X), atol=1e-5)
    assert ours.score(X, y) == pytest.approx(sk.score(X, y))
    # and scikit-learn's optimum is a stationary point of our objective
    shell = fitted_shell(X, y, l2=l2)
    _, grad = shell._value_and_gradient(np.concatenate([sk.coef_.ravel(), sk.intercept_]), X, y)
    assert np.abs(grad).max() < 1e-6


def test_probabilities_sum_to_one_and_blobs_are_learnt():
    ds = make_synthetic("blobs", 600, 2, 0.3, seed=4, n_classes=5)
    split = split_dataset(ds, 0.2, 0.2, seed=0, stratify=True, standardize=True)
    m = SoftmaxRegression(0.5, epochs=300).fit(split.X_train, split.y_train,
                                                split.X_val, split.y_val)
    P = m.predict_proba(split.X_test)
    assert P.shape == (len(split.y_test), 5)
    np.testing.assert_allclose(P.sum(axis=1), 1.0, rtol=1e-12)
    assert m.score(split.X_test, split.y_test) >= 0.9
    np.testing.assert_array_equal(m.predict(split.X_test), P.argmax(axis=1))
    assert set(m.history_) == {"epoch", "train_objective", "val_log_loss", "val_accuracy"}
    assert m.history_["train_objective"][-1] == pytest.approx(
        m.objective(split.X_train, split.y_train), rel=1e-12)


@pytest.mark.parametrize("batch_size,optimizer", [(None, "gd"), (16, "momentum"), (7, "adam")])
def test_same_seed_gives_bit_identical_fit(batch_size, optimizer):
    X, y = problem(3, n=90)
    kw = dict(epochs=15, batch_size=batch_size, optimizer=optimizer, seed=2, l2=0.01)
    a, b = SoftmaxRegression(0.05, **kw).fit(X, y), SoftmaxRegression(0.05, **kw).fit(X, y)
    assert a.coef_.tobytes() == b.coef_.tobytes()
    assert a.history_["train_objective"].tobytes() == b.history_["train_objective"].tobytes()
    if batch_size is not None:
        c = SoftmaxRegression(0.05, **{**kw, "seed": 3}).fit(X, y)
        assert c.coef_.tobytes() != a.coef_.tobytes()


def test_to_arrays_and_back_predicts_the_same():
    X, y = problem(4)
    m = SoftmaxRegression(0.3, epochs=50).fit(X, y)
    arrays = m.to_arrays()
    assert set(arrays) == {"coef", "intercept"} and arrays["coef"].shape == (4, 3)
    back = SoftmaxRegression.from_arrays(arrays)
    np.testing.assert_array_equal(back.predict_proba(X), m.predict_proba(X))


def test_huge_learning_rate_diverges_without_raising():
    X, y = problem(5)
    with np.errstate(over="raise", invalid="raise"):
        m = SoftmaxRegression(1e4, epochs=300, l2=0.5).fit(X * 10, y)
    assert m.diverged_ and np.all(np.isfinite(m.coef_))


def test_labels_are_checked():
    X, y = problem(6)
    with pytest.raises(ValueError, match="class labels 0, 1, ..., K-1"):
        SoftmaxRegression().fit(X, y + 0.5)
    with pytest.raises(ValueError, match="y_val holds label 7"):
        SoftmaxRegression().fit(X, y, X[:3], [0, 1, 7])
    with pytest.raises(ValueError, match="not fitted"):
        SoftmaxRegression().predict_proba(X)
