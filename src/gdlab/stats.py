"""Means and Student-t confidence intervals over a configuration's repeats.

Standard library and NumPy only: the summarize job must start fast, and importing
``scipy.stats`` costs about a second. The t quantile is exact for the integer degrees of
freedom a sample of ``n`` repeats has (``n - 1``): the two-sided probability
``P(|T| < t)`` of Student's t with an integer ``df`` is a finite series in
``theta = atan(t / sqrt(df))`` (Abramowitz & Stegun 26.7.3 and 26.7.4), increasing in
``theta``, so the quantile is found by bisection on ``theta`` to the last bit.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterable

import numpy as np

#: the confidence level of every interval gdlab reports
LEVEL = 0.95


def t_central_probability(t: float, df: int) -> float:
    """``P(-t < T < t)`` for Student's t with ``df`` (an integer >= 1) degrees of freedom."""
    return _central(math.atan(abs(t) / math.sqrt(df)), df)


def _central(theta: float, df: int) -> float:
    s, c = math.sin(theta), math.cos(theta)
    c2 = c * c
    if df % 2:  # odd: (2/pi) (theta + sin cos (1 + 2/3 cos^2 + 2*4/(3*5) cos^4 + ...))
        term, total = 1.0, 1.0
        for j in range(1, (df - 1) // 2):
            term *= c2 * (2 * j) / (2 * j + 1)
            total += term
        return 2.0 / math.pi * (theta + (s * c * total if df > 1 else 0.0))
    # even: sin (1 + 1/2 cos^2 + 1*3/(2*4) cos^4 + ...)
    term, total = 1.0, 1.0
    for j in range(1, df // 2):
        term *= c2 * (2 * j - 1) / (2 * j)
        total += term
    return s * total


@functools.cache  # one quantile per repeat count in a sweep
def t_quantile(p: float, df: int) -> float:
    """The ``p`` quantile of Student's t with ``df`` degrees of freedom (``0.5 < p < 1``):
    ``t_quantile(0.975, n - 1)`` is the factor of a 95 % interval's half-width."""
    if not 0.5 < p < 1:
        raise ValueError(f"p must be in (0.5, 1), got {p}")
    if int(df) != df or df < 1:
        raise ValueError(f"df must be an integer >= 1, got {df}")
    df = int(df)
    target = 2.0 * p - 1.0
    lo, hi = 0.0, math.pi / 2
    for _ in range(200):  # halves the bracket each time: exact long before 200
        mid = 0.5 * (lo + hi)
        if mid in (lo, hi):
            break
        if _central(mid, df) < target:
            lo = mid
        else:
            hi = mid
    return math.sqrt(df) * math.tan(0.5 * (lo + hi))


def mean_ci(values: Iterable[float], level: float = LEVEL) -> tuple[float, float, float]:
    """``(mean, low, high)``: the mean and its Student-t interval at ``level``.

    One value has no interval (low and high are NaN); a non-finite value makes all three
    NaN (a diverged repeat has no meaningful mean).
    """
    x = np.asarray(list(values), dtype=np.float64)
    if x.size == 0 or not np.all(np.isfinite(x)):
        return (math.nan, math.nan, math.nan)
    mean = float(x.mean())
    if x.size == 1:
        return (mean, math.nan, math.nan)
    half = t_quantile(0.5 + level / 2, x.size - 1) * float(x.std(ddof=1)) / math.sqrt(x.size)
    return (mean, mean - half, mean + half)


def mean_band(rows: np.ndarray, level: float = LEVEL) -> tuple[np.ndarray, np.ndarray]:
    """Column-wise mean and half-width of the interval of a ``(repeats, n)`` array (the
    band around a mean curve); half-width NaN for one row."""
    rows = np.asarray(rows, dtype=np.float64)
    mean = rows.mean(axis=0)
    k = rows.shape[0]
    if k < 2:
        return mean, np.full_like(mean, np.nan)
    factor = t_quantile(0.5 + level / 2, k - 1) / math.sqrt(k)
    return mean, factor * rows.std(axis=0, ddof=1)


def variance_explained(groups, y) -> float:
    """The share of ``y``'s variance that its grouping by ``groups`` explains (eta squared):
    the between-group sum of squares over the total one,
    ``sum_g n_g (mean_g - mean)^2 / sum_i (y_i - mean)^2``. NaN when ``y`` is constant.

    With as many groups as values it is 1 whatever ``y``; with ``G`` groups of ``n``
    values that do not matter its expectation is ``(G - 1) / (n - 1)``
    (:func:`chance_share`).
    """
    y = np.asarray(y, dtype=np.float64)
    labels = np.unique(np.asarray(groups, dtype=object).astype(str), return_inverse=True)[1]
    total = float(np.sum((y - y.mean()) ** 2))
    if y.size == 0 or not total > 0:
        return math.nan
    counts = np.bincount(labels)
    means = np.bincount(labels, weights=y) / counts
    return float(np.sum(counts * (means - y.mean()) ** 2)) / total


def chance_share(n_groups: int, n: int) -> float:
    """What :func:`variance_explained` is on average when the grouping does not matter
    (``n`` values in ``n_groups`` groups): ``(n_groups - 1) / (n - 1)``."""
    return (n_groups - 1) / (n - 1) if n > 1 else math.nan


def quantile_bins(x, n_bins: int) -> np.ndarray:
    """The bin (0 .. n_bins-1) of each value of ``x`` among ``n_bins`` bins of about equal
    counts (edges at quantiles of ``x``; equal values share a bin). A monotone transform
    of ``x`` (a log scale) gives the same bins."""
    x = np.asarray(x, dtype=np.float64)
    edges = np.quantile(x, np.linspace(0.0, 1.0, n_bins + 1)[1:-1])
    return np.searchsorted(edges, x, side="right")


#: an axis with more distinct numbers than this is binned for :func:`importance`
MAX_GROUPS = 10


def importance(columns: dict[str, list], y, binned: Iterable[str] = ()) -> list[dict]:
    """How much of ``y``'s variance each hyperparameter explains, largest first.

    ``columns``: hyperparameter -> its value in each of ``y``'s rows (the configurations
    that did not diverge; their mean metric with repeats). The measure is eta squared
    (:func:`variance_explained`) of ``y`` grouped by the value. An axis in ``binned`` (a
    search draws it from a range), or numeric with more distinct values than
    :data:`MAX_GROUPS` or than half the rows, is first cut into ``clip(n // 10, 2, 10)``
    quantile bins of about equal counts: grouped by value, every row would be its own
    group and explain all. Each entry: ``{"axis", "share", "groups", "binned", "chance"}``
    (``chance``: the share expected with that many groups if the axis did not matter).
    The shares need not add up to 1: axes overlap and interact.
    """
    y = np.asarray(y, dtype=np.float64)
    binned = set(binned)
    out = []
    for axis, values in columns.items():
        numeric = all(isinstance(v, int | float) and not isinstance(v, bool) for v in values)
        distinct = len(set(map(repr, values)))
        cut = axis in binned or (numeric and (distinct > MAX_GROUPS or distinct > y.size / 2))
        groups = (quantile_bins(np.asarray(values, dtype=np.float64),
                                min(max(y.size // 10, 2), MAX_GROUPS))
                  if cut and y.size else [repr(v) for v in values])
        n_groups = len(set(np.asarray(groups).tolist()))
        out.append({"axis": axis, "share": variance_explained(groups, y) if y.size else math.nan,
                    "groups": n_groups, "binned": cut, "chance": chance_share(n_groups, y.size)})
    return sorted(out, key=lambda e: (-(e["share"] if math.isfinite(e["share"]) else -1.0),
                                      e["axis"]))
