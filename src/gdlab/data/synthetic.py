"""Synthetic datasets drawn from a seed: linear regression, blobs (K classes), moons, xor.

Every draw comes from ``numpy.random.default_rng(seed)``: one seed, one dataset, bit for
bit (the binary generators give exactly the arrays they always gave).
"""

from __future__ import annotations

import numpy as np

from gdlab.data.core import Dataset, float_arg, int_arg

SYNTHETIC_TASKS = {
    "linear": "regression",
    "blobs": "classification",
    "moons": "classification",
    "xor": "classification",
}


def _balanced_labels(n: int, n_classes: int = 2) -> np.ndarray:
    """``n // K`` rows of each class 0..K-1 in order, the ``n % K`` extra ones going to the
    last classes (``n // 2`` zeros then ``n - n // 2`` ones for K = 2); callers shuffle."""
    counts = [n // n_classes + (k >= n_classes - n % n_classes) for k in range(n_classes)]
    return np.repeat(np.arange(n_classes, dtype=np.int64), counts)


def _make_linear(rng: np.random.Generator, n: int, d: int, noise: float):
    # Coefficients first, so one seed gives the same true model whatever n is.
    w = rng.standard_normal(d)
    b = rng.standard_normal()
    X = rng.standard_normal((n, d))
    eps = rng.standard_normal(n)
    # Multiply-and-sum instead of X @ w: NumPy's pairwise summation does not depend on
    # the BLAS build or CPU kernel, so y is bit-identical across machines.
    y = (X * w).sum(axis=1) + b + noise * eps
    return X, y


def _unit(v: np.ndarray, fallback: np.ndarray) -> np.ndarray:
    norm = np.sqrt((v * v).sum())
    return v / norm if norm > 0 else fallback


def _make_blobs(rng: np.random.Generator, n: int, d: int, noise: float, n_classes: int = 2):
    direction = _unit(rng.standard_normal(d), np.eye(d)[0])
    y = _balanced_labels(n, n_classes)
    if n_classes == 2:
        centres = np.where(y[:, None] == 1, direction, -direction)
    else:
        # K centres evenly spaced on the unit circle of a random plane (u, v); for K = 2
        # that circle gives the +-u above, so the binary case draws no second direction.
        second = rng.standard_normal(d)
        second = _unit(second - (second * direction).sum() * direction, np.eye(d)[1])
        angle = np.pi + 2 * np.pi * np.arange(n_classes) / n_classes
        circle = np.cos(angle)[:, None] * direction + np.sin(angle)[:, None] * second
        centres = circle[y]
    X = centres + noise * rng.standard_normal((n, d))
    perm = rng.permutation(n)
    return X[perm], y[perm]


def _make_moons(rng: np.random.Generator, n: int, d: int, noise: float):
    n_outer = n // 2
    n_inner = n - n_outer
    t_outer = np.linspace(0.0, np.pi, n_outer)
    t_inner = np.linspace(0.0, np.pi, n_inner)
    outer = np.column_stack([np.cos(t_outer), np.sin(t_outer)])
    inner = np.column_stack([1.0 - np.cos(t_inner), 0.5 - np.sin(t_inner)])
    X = np.vstack([outer, inner]) + noise * rng.standard_normal((n, 2))
    y = _balanced_labels(n)
    perm = rng.permutation(n)
    return X[perm], y[perm]


def _make_xor(rng: np.random.Generator, n: int, d: int, noise: float):
    # Uniform on [-1, 1]^2 conditioned on an exact 50/50 label split: magnitudes in (0, 1],
    # a random sign for x0, and x1's sign equal to x0's (label 1) or opposite (label 0).
    y = _balanced_labels(n)
    magnitude = 1.0 - rng.random((n, 2))
    sign0 = np.where(rng.random(n) < 0.5, -1.0, 1.0)
    sign1 = np.where(y == 1, sign0, -sign0)
    clean = magnitude * np.column_stack([sign0, sign1])
    X = clean + noise * rng.standard_normal((n, 2))
    perm = rng.permutation(n)
    return X[perm], y[perm]


_GENERATORS = {
    "linear": _make_linear,
    "blobs": _make_blobs,
    "moons": _make_moons,
    "xor": _make_xor,
}
_TWO_D_GENERATORS = ("moons", "xor")


def make_synthetic(
    generator: str, n_samples: int, n_features: int, noise: float, seed: int,
    n_classes: int = 2,
) -> Dataset:
    """Draw a synthetic dataset; the task follows from the generator (:data:`SYNTHETIC_TASKS`).

    * ``linear`` (regression): ``X ~ N(0, 1)``, coefficients ``w`` and intercept ``b`` drawn
      from N(0, 1), ``y = X @ w + b + noise * N(0, 1)``.
    * ``blobs``: ``n_classes`` Gaussian blobs of std ``noise``. Two are centred at ``±u``
      for a random unit vector ``u``; K > 2 (``n_features >= 2``) at the K points
      ``-(cos(2 pi k / K) u + sin(2 pi k / K) v)`` of the unit circle in a random plane.
    * ``moons``: two interleaving half circles (2-D), Gaussian jitter of std ``noise``.
    * ``xor``: uniform on ``[-1, 1]^2``, label ``x0 * x1 > 0`` (computed before jitter),
      Gaussian jitter of std ``noise`` (2-D).

    Classification generators give ``n_samples // K`` rows of each class, the remainder
    going to the last classes (``n_samples // 2`` of class 0 and the rest of class 1 for
    K = 2), in shuffled order. Only ``blobs`` takes ``n_classes`` other than 2.
    """
    where = "make_synthetic"
    if generator not in _GENERATORS:
        raise ValueError(
            f"{where}: unknown generator {generator!r}; choose one of {sorted(_GENERATORS)}"
        )
    task = SYNTHETIC_TASKS[generator]
    n = int_arg(n_samples, "n_samples", where, 2 if task == "classification" else 1)
    d = int_arg(n_features, "n_features", where, 1)
    if generator in _TWO_D_GENERATORS and d != 2:
        raise ValueError(f"{where}: generator {generator!r} is 2-D; n_features must be 2, got {d}")
    noise_ = float_arg(noise, "noise", where)
    if noise_ < 0:
        raise ValueError(f"{where}: noise must be >= 0, got {noise_}")
    seed_ = int_arg(seed, "seed", where, 0)
    k = int_arg(n_classes, "n_classes", where, 2)
    if k != 2 and generator != "blobs":
        raise ValueError(f"{where}: n_classes applies to 'blobs' only; {generator!r} makes "
                         f"{'regression data' if task == 'regression' else 'two classes'}")
    if k > 2 and d < 2:
        raise ValueError(f"{where}: blobs with n_classes={k} > 2 need n_features >= 2, got {d}")
    if task == "classification" and n < k:
        raise ValueError(f"{where}: n_samples must be >= n_classes = {k}, got {n}")
    rng = np.random.default_rng(seed_)
    if generator == "blobs":
        X, y = _make_blobs(rng, n, d, noise_, k)
    else:
        X, y = _GENERATORS[generator](rng, n, d, noise_)
    names = tuple(f"x{i}" for i in range(d))
    classes = tuple(range(k)) if task == "classification" else ()
    return Dataset(X=X, y=y, task=task, feature_names=names, classes=classes)
