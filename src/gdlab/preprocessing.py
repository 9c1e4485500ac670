"""Feature scaling, fitted on the training part only (never on validation or test data)."""

from __future__ import annotations

import numpy as np


class StandardScaler:
    """Standardise features: ``(X - mean_) / scale_``.

    ``mean_`` and ``scale_`` (population std, ``ddof=0``, as scikit-learn) come from the
    data given to :meth:`fit`. A constant feature gets ``scale_ = 1`` so it maps to zeros
    instead of dividing by zero.
    """

    def fit(self, X) -> StandardScaler:
        X = np.asarray(X, dtype=np.float64)
        if X.ndim != 2 or X.shape[0] == 0:
            raise ValueError(f"StandardScaler.fit needs a non-empty 2-D array, got shape {X.shape}")
        self.mean_ = X.mean(axis=0)
        std = X.std(axis=0)
        # Relative threshold: a feature constant up to rounding must not be blown up.
        tiny = 10 * np.finfo(np.float64).eps * np.maximum(np.abs(self.mean_), 1.0)
        self.scale_ = np.where(std > tiny, std, 1.0)
        return self

    def transform(self, X) -> np.ndarray:
        X = np.asarray(X, dtype=np.float64)
        if X.ndim != 2 or X.shape[1] != self.mean_.shape[0]:
            raise ValueError(
                f"StandardScaler was fitted on {self.mean_.shape[0]} features, got shape {X.shape}"
            )
        return (X - self.mean_) / self.scale_

    def fit_transform(self, X) -> np.ndarray:
        return self.fit(X).transform(X)

    def inverse_transform(self, Z) -> np.ndarray:
        return np.asarray(Z, dtype=np.float64) * self.scale_ + self.mean_
