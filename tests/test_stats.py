"""gdlab.stats against independent computations: scipy.stats for Student's t, hand-worked
examples for the share of variance a grouping explains."""

import math

import numpy as np
import pytest
from scipy import stats as sps

from gdlab import stats


@pytest.mark.parametrize("df", [*range(1, 41), 57, 100, 101, 999, 1000])
def test_t_quantile_is_scipys(df):
    for p in (0.6, 0.9, 0.975, 0.995):
        assert stats.t_quantile(p, df) == pytest.approx(sps.t.ppf(p, df), rel=1e-12)


@pytest.mark.parametrize("df", [1, 2, 3, 4, 9, 10, 60])
def test_t_central_probability_is_scipys(df):
    for t in (0.0, 0.3, 1.0, 2.5, 12.7, 300.0):
        expected = sps.t.cdf(t, df) - sps.t.cdf(-t, df)
        assert stats.t_central_probability(t, df) == pytest.approx(expected, abs=1e-14)


def test_t_quantile_rejects_what_it_cannot_compute():
    for p, df in ((0.5, 3), (1.0, 3), (0.975, 0), (0.975, 2.5)):
        with pytest.raises(ValueError):
            stats.t_quantile(p, df)


@pytest.mark.parametrize("n", [2, 3, 5, 10, 30])
def test_mean_ci_is_scipys_t_interval(n):
    x = np.random.default_rng(n).normal(3.0, 2.0, size=n)
    mean, lo, hi = stats.mean_ci(x)
    want_lo, want_hi = sps.t.interval(0.95, n - 1, loc=x.mean(), scale=sps.sem(x))
    assert mean == pytest.approx(x.mean(), rel=1e-15)
    assert (lo, hi) == (pytest.approx(want_lo, rel=1e-12), pytest.approx(want_hi, rel=1e-12))


def test_mean_ci_of_one_value_or_a_non_finite_one():
    assert stats.mean_ci([0.25])[0] == 0.25
    assert all(math.isnan(v) for v in stats.mean_ci([0.25])[1:])
    assert all(math.isnan(v) for v in stats.mean_ci([0.25, float("nan"), 0.3]))
    assert stats.mean_ci([0.5, 0.5, 0.5]) == (0.5, 0.5, 0.5)  # no spread, no width


def test_mean_band_is_the_interval_of_each_column():
    rows = np.random.default_rng(1).normal(size=(4, 7))
    mean, half = stats.mean_band(rows)
    for j in range(rows.shape[1]):
        lo, hi = sps.t.interval(0.95, 3, loc=rows[:, j].mean(), scale=sps.sem(rows[:, j]))
        assert mean[j] == pytest.approx((lo + hi) / 2, rel=1e-12)
        assert half[j] == pytest.approx((hi - lo) / 2, rel=1e-12)
    assert np.isnan(stats.mean_band(rows[:1])[1]).all()


def test_variance_explained_of_a_hand_worked_example():
    # y = 1, 2, 3, 4 in groups a, a, b, b: group means 1.5 and 3.5, grand mean 2.5;
    # between = 2 * 1^2 + 2 * 1^2 = 4; total = 2.25 + 0.25 + 0.25 + 2.25 = 5
    assert stats.variance_explained(["a", "a", "b", "b"], [1, 2, 3, 4]) == pytest.approx(0.8)
    # grouped the other way round: means 2 and 3, between = 4 * 0.5^2 = 1
    assert stats.variance_explained(["a", "b", "a", "b"], [1, 2, 3, 4]) == pytest.approx(0.2)
    # three groups of unequal size: y = 0, 0, 3 | 6 | 9, 9; grand mean 4.5
    y, g = [0, 0, 3, 6, 9, 9], [0, 0, 0, 1, 2, 2]
    between = 3 * (1 - 4.5) ** 2 + 1 * (6 - 4.5) ** 2 + 2 * (9 - 4.5) ** 2
    total = sum((v - 4.5) ** 2 for v in y)
    assert stats.variance_explained(g, y) == pytest.approx(between / total)
    assert stats.variance_explained(range(6), y) == pytest.approx(1.0)  # a group each
    assert math.isnan(stats.variance_explained(["a", "b"], [2.0, 2.0]))  # nothing to explain


def test_chance_share_is_the_mean_share_of_a_grouping_that_does_not_matter():
    rng = np.random.default_rng(0)
    shares = [stats.variance_explained(rng.integers(0, 4, 40), rng.normal(size=40))
              for _ in range(3000)]
    assert np.mean(shares) == pytest.approx(stats.chance_share(4, 40), rel=0.05)


def test_quantile_bins_split_evenly_and_ignore_monotone_rescaling():
    x = np.random.default_rng(2).uniform(1e-4, 10.0, size=100)
    bins = stats.quantile_bins(x, 4)
    assert np.bincount(bins).tolist() == [25, 25, 25, 25]
    assert np.all(np.diff(bins[np.argsort(x)]) >= 0)  # ordered like x
    np.testing.assert_array_equal(stats.quantile_bins(np.log10(x), 4), bins)
