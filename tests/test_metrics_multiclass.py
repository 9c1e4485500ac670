"""K-class metrics against sklearn.metrics (to 1e-12), on random and edge-case inputs."""

import warnings

import numpy as np
import pytest
import sklearn.metrics as skm
from hypothesis import given, settings
from hypothesis import strategies as st

from gdlab import metrics


@st.composite
def k_class_problem(draw):
    k = draw(st.integers(2, 7))
    n = draw(st.integers(1, 60))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    y = rng.integers(0, k, size=n)
    logits = rng.normal(scale=draw(st.sampled_from([0.1, 3.0, 40.0])), size=(n, k))
    P = np.exp(logits - logits.max(axis=1, keepdims=True))
    P /= P.sum(axis=1, keepdims=True)
    if draw(st.booleans()):  # exact zeros and ones: the clipping matters
        P = np.eye(k)[rng.integers(0, k, size=n)]
    return y, P


def sk(fn, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn(*args, **kwargs)


@settings(max_examples=150, deadline=None)
@given(k_class_problem())
def test_multiclass_metrics_match_sklearn(problem):
    y, P = problem
    k = P.shape[1]
    pred = P.argmax(axis=1)
    out = metrics.multiclass_metrics(y, P)
    assert list(out) == ["accuracy", "log_loss", "f1_macro"]
    assert all(type(v) is float for v in out.values())
    assert out["accuracy"] == pytest.approx(skm.accuracy_score(y, pred), rel=1e-12, abs=1e-12)
    assert out["log_loss"] == pytest.approx(sk(skm.log_loss, y, P, labels=range(k)),
                                            rel=1e-12, abs=1e-12)
    assert out["f1_macro"] == pytest.approx(
        sk(skm.f1_score, y, pred, average="macro", labels=range(k)), rel=1e-12, abs=1e-12)
    np.testing.assert_array_equal(metrics.multiclass_confusion_matrix(y, pred, k),
                                  skm.confusion_matrix(y, pred, labels=range(k)))


def test_binary_case_agrees_with_the_binary_functions():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, size=200)
    p1 = rng.uniform(size=200)
    P = np.column_stack([1 - p1, p1])
    assert metrics.multiclass_log_loss(y, P) == pytest.approx(metrics.log_loss(y, p1),
                                                              rel=1e-12)
    pred = (p1 > 0.5).astype(int)
    np.testing.assert_array_equal(metrics.multiclass_confusion_matrix(y, pred, 2),
                                  metrics.confusion_matrix(y, pred))


def test_a_class_nobody_has_scores_zero_in_the_macro_mean():
    # class 2 neither true nor predicted: per-class F1 is [1, 1, 0], mean 2/3
    assert metrics.f1_macro([0, 1, 0, 1], [0, 1, 0, 1], 3) == pytest.approx(2 / 3)
    cm = metrics.multiclass_confusion_matrix([0, 1, 2, 2], [0, 2, 2, 1], 3)
    np.testing.assert_array_equal(cm, [[1, 0, 0], [0, 0, 1], [0, 1, 1]])


@pytest.mark.parametrize(("y", "P", "match"), [
    ([0, 3], np.full((2, 3), 1 / 3), r"labels 0\.\.2; found \[3\.0\]"),
    ([0, 1], np.full((2, 1), 1.0), r"shape \(n_samples, K\) with K >= 2"),
    ([0, 1, 1], np.full((2, 2), 0.5), "y_true has 3 samples but proba has 2"),
    ([0, 1], np.array([[1.5, -0.5], [0.5, 0.5]]), r"probabilities in \[0, 1\]"),
    ([0, 1], np.array([[np.nan, 0.5], [0.5, 0.5]]), "NaN"),
    ([0.5, 1], np.full((2, 2), 0.5), "class labels"),
])
def test_bad_multiclass_input_is_named(y, P, match):
    with pytest.raises(ValueError, match=match):
        metrics.multiclass_metrics(y, P)


def test_higher_is_better_knows_the_macro_f1():
    assert metrics.HIGHER_IS_BETTER["f1_macro"] is True
