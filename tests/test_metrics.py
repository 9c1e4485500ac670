"""gdlab.metrics must reproduce sklearn.metrics to 1e-12 without importing it."""

import re
import subprocess
import sys
import warnings

import numpy as np
import pytest
import sklearn.metrics as skm
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from gdlab import metrics

TOL = {"rel": 1e-12, "abs": 1e-12}
FAST = settings(max_examples=100, deadline=None)

REGRESSION = [
    (metrics.mse, skm.mean_squared_error),
    (metrics.rmse, skm.root_mean_squared_error),
    (metrics.mae, skm.mean_absolute_error),
    (metrics.r2, skm.r2_score),
]
LABEL_METRICS = [
    (metrics.accuracy, skm.accuracy_score),
    (metrics.precision, skm.precision_score),
    (metrics.recall, skm.recall_score),
    (metrics.f1, skm.f1_score),
]


def sk(fn, *args, **kwargs):
    """Call an sklearn metric with its UndefinedMetricWarning etc. silenced."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn(*args, **kwargs)


def sk_log_loss(y, p):
    # Without labels=[0, 1] sklearn refuses a y_true holding a single class.
    return sk(skm.log_loss, y, p, labels=[0, 1])


def sk_confusion(y, p):
    return sk(skm.confusion_matrix, y, p, labels=[0, 1])


def assert_close(ours, theirs):
    assert ours == pytest.approx(theirs, nan_ok=True, **TOL)


# ------------------------------------------------------------------------ strategies

sizes = st.integers(min_value=1, max_value=300)
real = st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False)
# Probabilities, with the boundary values and a coarse grid over-represented.
proba_el = st.one_of(
    st.floats(0.0, 1.0),
    st.sampled_from([0.0, 1.0, 0.5, 1e-17, 1 - 1e-17]),
    st.integers(0, 10).map(lambda k: k / 10),
)


@st.composite
def regression_pair(draw):
    n = draw(sizes)
    y = draw(hnp.arrays(np.float64, n, elements=real))
    # Sometimes predictions are y plus a small perturbation, so r2 is not always negative.
    if draw(st.booleans()):
        p = y + draw(hnp.arrays(np.float64, n, elements=st.floats(-1, 1)))
    else:
        p = draw(hnp.arrays(np.float64, n, elements=real))
    return y, p


def labels(n):
    return hnp.arrays(np.int64, n, elements=st.integers(0, 1))


@st.composite
def label_pair(draw):
    n = draw(sizes)
    return draw(labels(n)), draw(labels(n))


@st.composite
def proba_pair(draw):
    n = draw(sizes)
    return draw(labels(n)), draw(hnp.arrays(np.float64, n, elements=proba_el))


@st.composite
def score_pair(draw):
    """Both classes present; scores either continuous or rounded to 1 decimal (ties)."""
    n = draw(st.integers(min_value=2, max_value=300))
    y = draw(labels(n))
    y[draw(st.integers(0, n - 1))] = 1 - y[0]  # guarantee both classes
    assume(0 < y.sum() < n)
    s = draw(hnp.arrays(np.float64, n, elements=st.floats(-5, 5)))
    if draw(st.booleans()):
        s = np.round(s, 1)
    return y, s


# ----------------------------------------------------------- random agreement with sklearn


@FAST
@given(regression_pair())
def test_regression_metrics_match_sklearn(pair):
    y, p = pair
    for ours, theirs in REGRESSION:
        assert_close(ours(y, p), sk(theirs, y, p))


@FAST
@given(label_pair())
def test_label_metrics_match_sklearn(pair):
    y, p = pair
    for ours, theirs in LABEL_METRICS:
        assert_close(ours(y, p), sk(theirs, y, p))
    np.testing.assert_array_equal(metrics.confusion_matrix(y, p), sk_confusion(y, p))


@FAST
@given(proba_pair())
def test_log_loss_matches_sklearn(pair):
    y, p = pair
    assert_close(metrics.log_loss(y, p), sk_log_loss(y, p))


@FAST
@given(score_pair())
def test_roc_auc_and_curve_match_sklearn(pair):
    y, s = pair
    assert_close(metrics.roc_auc(y, s), sk(skm.roc_auc_score, y, s))
    fpr, tpr, thr = metrics.roc_curve(y, s)
    sk_fpr, sk_tpr, sk_thr = sk(skm.roc_curve, y, s, drop_intermediate=False)
    np.testing.assert_allclose(fpr, sk_fpr, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(tpr, sk_tpr, rtol=1e-12, atol=1e-12)
    np.testing.assert_array_equal(thr, sk_thr)


@FAST
@given(proba_pair(), st.sampled_from([0.5, 0.3, 0.9]))
def test_classification_metrics_dict_matches_sklearn(pair, threshold):
    y, p = pair
    out = metrics.classification_metrics(y, p, threshold=threshold)
    assert list(out) == ["accuracy", "log_loss", "precision", "recall", "f1", "roc_auc"]
    assert all(type(v) is float for v in out.values())
    pred = (p > threshold).astype(int)
    assert_close(out["accuracy"], sk(skm.accuracy_score, y, pred))
    assert_close(out["precision"], sk(skm.precision_score, y, pred))
    assert_close(out["recall"], sk(skm.recall_score, y, pred))
    assert_close(out["f1"], sk(skm.f1_score, y, pred))
    assert_close(out["log_loss"], sk_log_loss(y, p))
    # sklearn 1.9.1 also answers NaN (with a warning) for a single class.
    assert_close(out["roc_auc"], sk(skm.roc_auc_score, y, p))


def test_seeded_large_inputs_match_sklearn():
    rng = np.random.default_rng(12345)
    for n in (1_000, 10_007, 100_000):
        y = rng.normal(size=n) * 100
        p = y + rng.normal(size=n) * 30
        out = metrics.regression_metrics(y, p)
        for (ours, theirs), key in zip(REGRESSION, ["mse", "rmse", "mae", "r2"], strict=True):
            assert_close(out[key], theirs(y, p))
            assert out[key] == ours(y, p)
        labels_ = rng.integers(0, 2, size=n)
        prob = np.clip(labels_ * 0.3 + rng.uniform(size=n) * 0.7, 0, 1)
        assert_close(metrics.roc_auc(labels_, prob), skm.roc_auc_score(labels_, prob))
        assert_close(metrics.log_loss(labels_, prob), skm.log_loss(labels_, prob))
        pred = (prob > 0.5).astype(int)
        for ours, theirs in LABEL_METRICS:
            assert_close(ours(labels_, pred), theirs(labels_, pred))


def test_regression_metrics_dict():
    out = metrics.regression_metrics([1.0, 2.0, 4.0], [1.0, 3.0, 2.0])
    assert out == pytest.approx({"mse": 5 / 3, "rmse": np.sqrt(5 / 3), "mae": 1.0, "r2": -1 / 14})
    assert list(out) == ["mse", "rmse", "mae", "r2"]
    assert all(type(v) is float for v in out.values())


# ---------------------------------------------------------------------------- edge cases


@pytest.mark.parametrize("cls", [0, 1])
@pytest.mark.parametrize("pred_kind", ["same", "other", "mixed"])
def test_single_class_label_metrics_match_sklearn(cls, pred_kind):
    y = np.full(6, cls)
    pred = {"same": y, "other": 1 - y, "mixed": np.array([0, 1, 0, 1, 1, 0])}[pred_kind]
    for ours, theirs in LABEL_METRICS:
        assert_close(ours(y, pred), sk(theirs, y, pred))
    cm = metrics.confusion_matrix(y, pred)
    assert cm.shape == (2, 2) and cm.dtype == np.int64 and cm.sum() == 6
    np.testing.assert_array_equal(cm, sk_confusion(y, pred))


@pytest.mark.parametrize("cls", [0, 1])
def test_single_class_log_loss_and_roc(cls):
    y = np.full(4, cls)
    p = np.array([0.0, 0.2, 0.9, 1.0])
    assert_close(metrics.log_loss(y, p), sk_log_loss(y, p))
    with pytest.raises(ValueError, match=f"only one class .all 4 labels are {cls}"):
        metrics.roc_auc(y, p)
    with pytest.raises(ValueError, match="roc_curve is undefined .* only one class"):
        metrics.roc_curve(y, p)
    out = metrics.classification_metrics(y, p)
    assert np.isnan(out["roc_auc"])
    assert np.isfinite([v for k, v in out.items() if k != "roc_auc"]).all()


def test_zero_division_gives_zero_like_sklearn():
    y, pred = [0, 0, 1], [0, 0, 0]  # nothing predicted positive
    assert metrics.precision(y, pred) == 0.0 == sk(skm.precision_score, y, pred)
    y, pred = [0, 0, 0], [0, 0, 0]  # no positives at all
    assert metrics.recall(y, pred) == 0.0 == sk(skm.recall_score, y, pred)
    assert metrics.f1(y, pred) == 0.0 == sk(skm.f1_score, y, pred)
    assert metrics.accuracy(y, pred) == 1.0


def test_perfect_predictions():
    y = np.array([0, 1, 1, 0, 1])
    for fn in (metrics.accuracy, metrics.precision, metrics.recall, metrics.f1):
        assert fn(y, y) == 1.0
    np.testing.assert_array_equal(metrics.confusion_matrix(y, y), [[2, 0], [0, 3]])
    assert metrics.roc_auc(y, y * 0.8 + 0.1) == 1.0
    assert metrics.log_loss(y, y) == pytest.approx(sk_log_loss(y, y), **TOL)
    assert metrics.log_loss(y, y) < 1e-15
    yr = np.array([1.5, -2.0, 3.0])
    assert metrics.regression_metrics(yr, yr) == {"mse": 0.0, "rmse": 0.0, "mae": 0.0, "r2": 1.0}


def test_all_wrong_predictions():
    y = np.array([0, 1, 1, 0, 1])
    for ours, theirs in LABEL_METRICS:
        assert ours(y, 1 - y) == 0.0 == sk(theirs, y, 1 - y)
    np.testing.assert_array_equal(metrics.confusion_matrix(y, 1 - y), [[0, 2], [3, 0]])
    assert metrics.roc_auc(y, 1 - y) == 0.0 == skm.roc_auc_score(y, 1 - y)
    # Confidently wrong: each sample costs -log(eps) = 36.04..., as in sklearn.
    loss = metrics.log_loss(y, 1 - y)
    assert loss == pytest.approx(-np.log(np.finfo(float).eps), **TOL)
    assert loss == pytest.approx(sk_log_loss(y, 1 - y), **TOL)


def test_log_loss_exact_zero_and_one_probabilities_are_clipped():
    y = np.array([0, 1, 1, 0])
    p = np.array([0.0, 1.0, 0.0, 1.0])
    expected = -np.log(np.finfo(float).eps) / 2 - np.log(1 - np.finfo(float).eps) / 2
    assert metrics.log_loss(y, p) == pytest.approx(expected, **TOL)
    assert metrics.log_loss(y, p) == pytest.approx(sk_log_loss(y, p), **TOL)


@pytest.mark.parametrize(
    ("y", "s", "expected"),
    [
        ([0, 1], [0.5, 0.5], 0.5),  # one tie: half credit
        ([0, 0, 1, 1], [0.3] * 4, 0.5),
        ([0, 1, 0, 1], [0.1, 0.4, 0.4, 0.8], 0.875),  # 3 wins, 1 tie of 4 pairs
        ([1, 0, 1, 0, 1], [0.2, 0.2, 0.7, 0.7, 0.1], 1 / 3),
    ],
)
def test_roc_auc_ties(y, s, expected):
    assert metrics.roc_auc(y, s) == pytest.approx(expected, **TOL)
    assert metrics.roc_auc(y, s) == pytest.approx(skm.roc_auc_score(y, s), **TOL)


def test_roc_curve_shape():
    fpr, tpr, thr = metrics.roc_curve([0, 1, 1, 0], [0.1, 0.4, 0.4, 0.8])
    np.testing.assert_array_equal(fpr, [0.0, 0.5, 0.5, 1.0])
    np.testing.assert_array_equal(tpr, [0.0, 0.0, 1.0, 1.0])
    np.testing.assert_array_equal(thr, [np.inf, 0.8, 0.4, 0.1])


@pytest.mark.parametrize(
    ("y", "p", "expected"),
    [
        ([3.0, 3.0, 3.0], [3.0, 3.0, 3.0], 1.0),  # constant and perfect
        ([3.0, 3.0, 3.0], [1.0, 2.0, 3.0], 0.0),  # constant, imperfect
        ([-2.5, -2.5], [0.0, 1.0], 0.0),
        ([0.1, 0.1, 0.1], [0.1, 0.1, 0.1], 1.0),
    ],
)
def test_r2_constant_y_true(y, p, expected):
    assert metrics.r2(y, p) == expected
    assert metrics.r2(y, p) == sk(skm.r2_score, y, p)


def test_r2_matches_sklearn_quirks():
    # The mean of [0.1]*3 is not exactly 0.1, so the denominator is ~1e-34 and not 0:
    # sklearn returns a huge negative score rather than 0.0, and so do we.
    y, p = [0.1, 0.1, 0.1], [1.1, 1.1, 1.1]
    assert metrics.r2(y, p) < -1e30
    assert_close(metrics.r2(y, p), sk(skm.r2_score, y, p))
    # A single sample: sklearn warns and returns NaN.
    assert np.isnan(metrics.r2([1.0], [2.0]))
    assert np.isnan(sk(skm.r2_score, [1.0], [2.0]))


def test_accepts_lists_bools_and_float_labels():
    assert metrics.accuracy([True, False, True], [1.0, 0.0, 0.0]) == pytest.approx(2 / 3)
    assert metrics.mse((1, 2), [1, 4]) == 2.0


# ---------------------------------------------------------------------------- validation

CLASSIFICATION_FUNCS = [
    metrics.accuracy,
    metrics.precision,
    metrics.recall,
    metrics.f1,
    metrics.confusion_matrix,
    metrics.log_loss,
    metrics.roc_auc,
    metrics.roc_curve,
    metrics.classification_metrics,
]
ALL_PAIR_FUNCS = [
    metrics.mse,
    metrics.rmse,
    metrics.mae,
    metrics.r2,
    metrics.regression_metrics,
    *CLASSIFICATION_FUNCS,
]
ids = [f.__name__ for f in ALL_PAIR_FUNCS]


@pytest.mark.parametrize("fn", ALL_PAIR_FUNCS, ids=ids)
def test_mismatched_lengths(fn):
    with pytest.raises(ValueError, match=r"y_true has 5 samples but \w+ has 4"):
        fn([0, 1, 0, 1, 0], [0, 1, 0, 1])


def test_mismatched_lengths_exact_message():
    with pytest.raises(ValueError, match=re.escape("y_true has 5 samples but y_pred has 4")):
        metrics.mse([1, 2, 3, 4, 5], [1, 2, 3, 4])
    with pytest.raises(ValueError, match=re.escape("y_true has 2 samples but score has 3")):
        metrics.roc_auc([0, 1], [0.1, 0.2, 0.3])


@pytest.mark.parametrize("fn", ALL_PAIR_FUNCS, ids=ids)
def test_empty(fn):
    with pytest.raises(ValueError, match="y_true is empty"):
        fn([], [])


@pytest.mark.parametrize("fn", ALL_PAIR_FUNCS, ids=ids)
def test_not_1d(fn):
    with pytest.raises(ValueError, match=re.escape("y_true must be 1-D, got an array of shape")):
        fn([[0, 1], [1, 0]], [0, 1])
    with pytest.raises(ValueError, match=r"must be 1-D, got an array of shape \(2, 1\)"):
        fn([0, 1], [[0.0], [1.0]])
    with pytest.raises(ValueError, match=r"y_true must be 1-D, got an array of shape \(\)"):
        fn(1, 1)


@pytest.mark.parametrize("fn", ALL_PAIR_FUNCS, ids=ids)
def test_non_finite(fn):
    with pytest.raises(ValueError, match="contains NaN or infinity"):
        fn([0, 1], [0.0, np.nan])


def test_non_numeric():
    with pytest.raises(ValueError, match="y_pred must be numeric"):
        metrics.mae([1, 2], ["a", "b"])




@pytest.mark.parametrize("fn", CLASSIFICATION_FUNCS, ids=lambda f: f.__name__)
@pytest.mark.parametrize("bad", [[0, 2, 1], [-1, 0, 1], [0.5, 0, 1]])
def test_y_true_must_be_binary(fn, bad):
    with pytest.raises(ValueError, match="y_true must contain only binary labels 0 and 1"):
        fn(bad, [0, 1, 1])


@pytest.mark.parametrize(
    "fn",
    [metrics.accuracy, metrics.precision, metrics.recall, metrics.f1, metrics.confusion_matrix],
)
def test_y_pred_labels_must_be_binary(fn):
    with pytest.raises(
        ValueError, match=re.escape("y_pred must contain only binary labels 0 and 1; found [0.7]")
    ):
        fn([0, 1, 1], [0, 0.7, 1])


@pytest.mark.parametrize("fn", [metrics.log_loss, metrics.classification_metrics])
def test_probabilities_must_be_in_unit_interval(fn):
    with pytest.raises(ValueError, match=r"must contain probabilities in \[0, 1\]"):
        fn([0, 1], [0.5, 1.2])
    with pytest.raises(ValueError, match=r"must contain probabilities in \[0, 1\]"):
        fn([0, 1], [-0.1, 0.5])


def test_roc_scores_may_be_any_real():
    assert metrics.roc_auc([0, 1, 0], [-3.0, 7.5, 2.0]) == 1.0


def test_module_does_not_import_heavy_libraries():
    code = (
        "import sys, gdlab.metrics; "
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'sklearn', 'pandas', 'scipy'}))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"


@pytest.mark.parametrize("kind, k", [("binary", 2), ("multiclass", 3), ("regression", 0)])
def test_the_curve_scorer_gives_metrics_of_to_the_bit(kind, k):
    """A fit's validation curve checks its labels once, then scores each epoch by the same
    arithmetic as metrics_of: every epoch's numbers equal, diverged epochs NaN alike."""
    from gdlab.metrics import CURVE_KEYS, CurveScorer, metrics_of

    rng = np.random.default_rng(7)
    n = 57
    y = rng.normal(size=n) if kind == "regression" else rng.integers(0, k, n)
    scorer = CurveScorer(kind, y)
    for epoch in range(6):
        if kind == "regression":
            out = y + rng.normal(size=n)
        else:
            logits = rng.normal(scale=3.0 * epoch, size=(n, k))
            out = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
            out[0] = [1.0] + [0.0] * (k - 1)  # a saturated row: the clip matters
        if epoch == 4:
            out = out * np.nan  # a diverged step
        expected = metrics_of(kind, y, out, CURVE_KEYS[kind])
        got = scorer(out)
        assert list(got) == list(expected)
        for key in expected:
            assert (got[key] == expected[key]) or (np.isnan(got[key]) and np.isnan(expected[key]))
