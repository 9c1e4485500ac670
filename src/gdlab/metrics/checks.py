"""The one validator of every metric's input: 1-D float64 arrays of equal length, finite,
and labels 0/1 where a binary metric needs them; ``ValueError`` naming the problem."""

from __future__ import annotations

import numpy as np


def as_1d(values, name: str) -> np.ndarray:
    """``values`` as a non-empty 1-D float64 array, or ``ValueError`` naming ``name``."""
    try:
        arr = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be numeric: {exc}") from exc
    if arr.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got an array of shape {arr.shape}")
    if arr.size == 0:
        raise ValueError(f"{name} is empty; at least one sample is required")
    return arr


def validated(y_true, other, other_name: str, kind: str) -> tuple[np.ndarray, np.ndarray]:
    """Return ``y_true`` and ``other`` as 1-D float64 arrays, or raise ``ValueError``.

    ``kind`` is ``"regression"`` (any finite values), ``"labels"`` (both arrays 0/1),
    ``"proba"`` (``y_true`` 0/1, ``other`` in [0, 1]) or ``"score"`` (``y_true`` 0/1,
    ``other`` any finite values).
    """
    a, b = as_1d(y_true, "y_true"), as_1d(other, other_name)
    if a.size != b.size:
        raise ValueError(f"y_true has {a.size} samples but {other_name} has {b.size}")
    for name, arr in (("y_true", a), (other_name, b)):
        if not np.all(np.isfinite(arr)):
            raise ValueError(f"{name} contains NaN or infinity")
    if kind == "regression":
        return a, b
    label_names = ("y_true", other_name) if kind == "labels" else ("y_true",)
    for name, arr in zip(label_names, (a, b), strict=False):
        bad = np.unique(arr[(arr != 0) & (arr != 1)])
        if bad.size:
            raise ValueError(
                f"{name} must contain only binary labels 0 and 1; found {bad[:5].tolist()}"
            )
    if kind == "proba" and (b.min() < 0 or b.max() > 1):
        raise ValueError(
            f"{other_name} must contain probabilities in [0, 1]; "
            f"found values in [{b.min()}, {b.max()}]"
        )
    return a, b
