"""Datasets for gdlab: synthetic generators, bundled scikit-learn sets, CSV files, splits.

This is the library side of the ``make_dataset`` and ``split`` pipeline steps.

Design rules
------------
* Every random draw comes from ``numpy.random.default_rng(seed)``; the same inputs give
  bit-identical arrays *and* bit-identical ``.npz`` files (fixed zip timestamps, no
  compression).
* Bad input raises ``ValueError`` whose message names the file and the problem. CSV
  problems name the column and the line, counted as in a text editor or spreadsheet:
  the header is line 1, so the first data row is line 2.
* Arrays are stored only as ``.npz`` and read back with ``np.load(..., allow_pickle=False)``;
  strings are stored as NumPy unicode arrays, never as objects.
* Importing this module is cheap: only NumPy (and the standard library) at module level;
  pandas and scikit-learn are imported inside the functions that need them.
"""

from __future__ import annotations

import hashlib
import json
import math
import operator
import os
import zipfile
from dataclasses import dataclass, fields
from typing import Any

import numpy as np

from gdlab.io import save_npz

__all__ = [
    "SKLEARN_TASKS",
    "SYNTHETIC_TASKS",
    "TASKS",
    "Dataset",
    "Split",
    "dataset_fingerprint",
    "load_csv",
    "load_dataset",
    "load_sklearn",
    "load_split",
    "make_synthetic",
    "save_dataset",
    "save_split",
    "split_dataset",
]

TASKS = ("regression", "classification")

SYNTHETIC_TASKS = {
    "linear": "regression",
    "blobs": "classification",
    "moons": "classification",
    "xor": "classification",
}

SKLEARN_TASKS = {
    "breast_cancer": "classification",
    "diabetes": "regression",
    "iris_binary": "classification",
    "wine_binary": "classification",
}

#: A CSV dataset needs at least this many data rows.
MIN_CSV_ROWS = 10

_DATASET_FORMAT = "gdlab.dataset/1"
_SPLIT_FORMAT = "gdlab.split/1"
# Fixed timestamp for every zip member, so identical arrays give identical .npz bytes.
# Cell texts read as "missing" rather than "non-numeric" (compared lower-cased, stripped).
_MISSING_TOKENS = frozenset(
    {"na", "n/a", "nan", "-nan", "null", "none", "<na>", "#n/a", "#na", "missing", "?"}
)


# --------------------------------------------------------------------------------------
# Containers
# --------------------------------------------------------------------------------------


def _frozen_array(value: Any, dtype: type, name: str, ndim: int) -> np.ndarray:
    """A private, C-contiguous, read-only copy of ``value`` with the given dtype and ndim."""
    arr = np.array(value, dtype=dtype, order="C", copy=True)
    if arr.ndim != ndim:
        raise ValueError(f"{name} must be {ndim}-D, got shape {arr.shape}")
    arr.flags.writeable = False
    return arr


def _as_label_array(value: Any, name: str) -> np.ndarray:
    """0/1 class labels as a read-only int64 array; refuses anything else."""
    arr = np.asarray(value)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got shape {arr.shape}")
    if arr.size and not (arr.dtype.kind in "biuf" and np.isin(arr, (0, 1)).all()):
        raise ValueError(f"{name} must contain only the class labels 0 and 1")
    return _frozen_array(arr, np.int64, name, 1)


def _as_target_array(value: Any, task: str, name: str) -> np.ndarray:
    if task == "classification":
        return _as_label_array(value, name)
    arr = _frozen_array(value, np.float64, name, 1)
    if not np.isfinite(arr).all():
        raise ValueError(f"{name} contains NaN or infinite values")
    return arr


def _as_feature_matrix(value: Any, name: str) -> np.ndarray:
    arr = _frozen_array(value, np.float64, name, 2)
    if not np.isfinite(arr).all():
        raise ValueError(f"{name} contains NaN or infinite values")
    return arr


def _check_task(task: Any, where: str) -> str:
    if task not in TASKS:
        raise ValueError(f"{where}: task must be one of {list(TASKS)}, got {task!r}")
    return str(task)


def _normalize_feature_names(names: Any, n_features: int, where: str) -> tuple[str, ...]:
    if isinstance(names, str):
        raise ValueError(f"{where}: feature_names must be a sequence of strings, not a string")
    out = tuple(names)
    if not all(isinstance(n, str) and n for n in out):
        raise ValueError(f"{where}: feature_names must be non-empty strings, got {out!r}")
    if len(out) != n_features:
        raise ValueError(f"{where}: {len(out)} feature_names for {n_features} features")
    if len(set(out)) != len(out):
        dup = sorted({n for n in out if out.count(n) > 1})
        raise ValueError(f"{where}: duplicate feature names {dup}")
    return out


def _normalize_classes(classes: Any, task: str, where: str) -> tuple:
    """Original class labels as plain Python values of one type (str, int, float or bool).

    A classification dataset always has exactly two; ``()`` there means ``(0, 1)``.
    A regression dataset has none.
    """
    out = tuple(c.item() if isinstance(c, np.generic) else c for c in classes)
    if task == "regression":
        if out:
            raise ValueError(f"{where}: a regression dataset has no classes, got {out!r}")
        return ()
    if not out:
        return (0, 1)
    if len(out) != 2 or out[0] == out[1]:
        raise ValueError(f"{where}: classification needs two distinct classes, got {out!r}")
    kinds = {type(c) for c in out}
    if len(kinds) != 1 or not kinds <= {str, int, float, bool}:
        raise ValueError(
            f"{where}: classes must both be str, int, float or bool (one type), got {out!r}"
        )
    return out


def _arrays_equal(a: np.ndarray, b: np.ndarray) -> bool:
    return a.dtype == b.dtype and a.shape == b.shape and bool(np.array_equal(a, b))


def _dataclass_eq(self: Any, other: Any) -> bool:
    """Exact equality: arrays must agree in dtype, shape and every value."""
    if type(other) is not type(self):
        return NotImplemented
    for f in fields(self):
        a, b = getattr(self, f.name), getattr(other, f.name)
        if isinstance(a, np.ndarray):
            if not _arrays_equal(a, b):
                return False
        elif a != b:
            return False
        elif isinstance(a, tuple) and [type(v) for v in a] != [type(v) for v in b]:
            return False  # (1, 2) == (1.0, 2.0) == (True, 2) in Python, but not here
    return True


@dataclass(frozen=True)
class Dataset:
    """A whole dataset: features ``X`` (float64, ``(n, d)``) and target ``y``.

    ``y`` is float64 for regression and int64 0/1 for classification; ``classes`` then
    holds the two original labels in the order that maps them to 0 and 1 (``(0, 1)`` when
    there were no other names). Arrays are private read-only copies; ``==`` compares
    them exactly.
    """

    X: np.ndarray
    y: np.ndarray
    task: str
    feature_names: tuple[str, ...]
    classes: tuple = ()

    def __post_init__(self) -> None:
        task = _check_task(self.task, "Dataset")
        X = _as_feature_matrix(self.X, "Dataset.X")
        y = _as_target_array(self.y, task, "Dataset.y")
        if X.shape[0] == 0 or X.shape[1] == 0:
            raise ValueError(f"Dataset.X must have at least one row and column, got {X.shape}")
        if y.shape[0] != X.shape[0]:
            raise ValueError(f"Dataset: X has {X.shape[0]} rows but y has {y.shape[0]}")
        names = _normalize_feature_names(self.feature_names, X.shape[1], "Dataset")
        classes = _normalize_classes(self.classes, task, "Dataset")
        for name, value in (
            ("X", X),
            ("y", y),
            ("task", task),
            ("feature_names", names),
            ("classes", classes),
        ):
            object.__setattr__(self, name, value)

    __eq__ = _dataclass_eq

    @property
    def n_samples(self) -> int:
        return int(self.X.shape[0])

    @property
    def n_features(self) -> int:
        return int(self.X.shape[1])


@dataclass(frozen=True)
class Split:
    """Train / validation / test parts of a :class:`Dataset`.

    If the split was standardised, every ``X_*`` is ``(X - x_mean) / x_scale`` with the
    statistics taken from the training part only; otherwise ``x_mean`` is zeros and
    ``x_scale`` ones, so that formula always describes what was done.
    """

    X_train: np.ndarray
    y_train: np.ndarray
    X_val: np.ndarray
    y_val: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    x_mean: np.ndarray
    x_scale: np.ndarray
    task: str
    feature_names: tuple[str, ...]
    classes: tuple = ()

    def __post_init__(self) -> None:
        task = _check_task(self.task, "Split")
        values: dict[str, Any] = {"task": task}
        n_features = None
        for part in ("train", "val", "test"):
            X = _as_feature_matrix(getattr(self, f"X_{part}"), f"Split.X_{part}")
            y = _as_target_array(getattr(self, f"y_{part}"), task, f"Split.y_{part}")
            if X.shape[0] != y.shape[0]:
                raise ValueError(
                    f"Split: X_{part} has {X.shape[0]} rows but y_{part} has {y.shape[0]}"
                )
            if n_features is None:
                n_features = X.shape[1]
            elif X.shape[1] != n_features:
                raise ValueError(
                    f"Split: X_{part} has {X.shape[1]} features, X_train has {n_features}"
                )
            values[f"X_{part}"], values[f"y_{part}"] = X, y
        for name in ("x_mean", "x_scale"):
            arr = _frozen_array(getattr(self, name), np.float64, f"Split.{name}", 1)
            if arr.shape != (n_features,) or not np.isfinite(arr).all():
                raise ValueError(f"Split.{name} must be {n_features} finite values")
            values[name] = arr
        if not (values["x_scale"] > 0).all():
            raise ValueError("Split.x_scale must be positive")
        values["feature_names"] = _normalize_feature_names(self.feature_names, n_features, "Split")
        values["classes"] = _normalize_classes(self.classes, task, "Split")
        for name, value in values.items():
            object.__setattr__(self, name, value)

    __eq__ = _dataclass_eq

    @property
    def n_features(self) -> int:
        return int(self.X_train.shape[1])


# --------------------------------------------------------------------------------------
# Argument checks
# --------------------------------------------------------------------------------------


def _int_arg(value: Any, name: str, where: str, minimum: int) -> int:
    if isinstance(value, bool | np.bool_):
        raise ValueError(f"{where}: {name} must be an integer, got {value!r}")
    try:
        out = operator.index(value)
    except TypeError:
        raise ValueError(f"{where}: {name} must be an integer, got {value!r}") from None
    if out < minimum:
        raise ValueError(f"{where}: {name} must be >= {minimum}, got {out}")
    return out


def _float_arg(value: Any, name: str, where: str) -> float:
    if isinstance(value, bool | np.bool_):
        raise ValueError(f"{where}: {name} must be a number, got {value!r}")
    try:
        out = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{where}: {name} must be a number, got {value!r}") from None
    if not math.isfinite(out):
        raise ValueError(f"{where}: {name} must be finite, got {value!r}")
    return out


# --------------------------------------------------------------------------------------
# Synthetic data
# --------------------------------------------------------------------------------------


def _balanced_labels(n: int) -> np.ndarray:
    """``n // 2`` zeros then ``n - n // 2`` ones (callers shuffle the rows afterwards)."""
    return np.repeat(np.array([0, 1], dtype=np.int64), [n // 2, n - n // 2])


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


def _make_blobs(rng: np.random.Generator, n: int, d: int, noise: float):
    direction = rng.standard_normal(d)
    norm = np.sqrt((direction * direction).sum())
    direction = direction / norm if norm > 0 else np.eye(d)[0]
    y = _balanced_labels(n)
    centres = np.where(y[:, None] == 1, direction, -direction)
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
    generator: str, n_samples: int, n_features: int, noise: float, seed: int
) -> Dataset:
    """Draw a synthetic dataset; the task follows from the generator (:data:`SYNTHETIC_TASKS`).

    * ``linear`` (regression): ``X ~ N(0, 1)``, coefficients ``w`` and intercept ``b`` drawn
      from N(0, 1), ``y = X @ w + b + noise * N(0, 1)``.
    * ``blobs``: two Gaussian blobs of std ``noise`` centred at ``±u`` for a random unit
      vector ``u``.
    * ``moons``: two interleaving half circles (2-D), Gaussian jitter of std ``noise``.
    * ``xor``: uniform on ``[-1, 1]^2``, label ``x0 * x1 > 0`` (computed before jitter),
      Gaussian jitter of std ``noise`` (2-D).

    Classification generators give exactly ``n_samples // 2`` rows of class 0 and the
    rest of class 1, in shuffled order.
    """
    where = "make_synthetic"
    if generator not in _GENERATORS:
        raise ValueError(
            f"{where}: unknown generator {generator!r}; choose one of {sorted(_GENERATORS)}"
        )
    task = SYNTHETIC_TASKS[generator]
    n = _int_arg(n_samples, "n_samples", where, 2 if task == "classification" else 1)
    d = _int_arg(n_features, "n_features", where, 1)
    if generator in _TWO_D_GENERATORS and d != 2:
        raise ValueError(f"{where}: generator {generator!r} is 2-D; n_features must be 2, got {d}")
    noise_ = _float_arg(noise, "noise", where)
    if noise_ < 0:
        raise ValueError(f"{where}: noise must be >= 0, got {noise_}")
    seed_ = _int_arg(seed, "seed", where, 0)
    rng = np.random.default_rng(seed_)
    X, y = _GENERATORS[generator](rng, n, d, noise_)
    names = tuple(f"x{i}" for i in range(d))
    classes = (0, 1) if task == "classification" else ()
    return Dataset(X=X, y=y, task=task, feature_names=names, classes=classes)


# --------------------------------------------------------------------------------------
# scikit-learn's bundled datasets (no download)
# --------------------------------------------------------------------------------------


def load_sklearn(name: str) -> Dataset:
    """One of the small datasets shipped inside scikit-learn (:data:`SKLEARN_TASKS`).

    * ``breast_cancer``: malignant (0) vs benign (1), 30 features.
    * ``diabetes``: regression (scikit-learn's scaled features), 10 features.
    * ``iris_binary``: versicolor (0) vs virginica (1), all 4 features, 100 rows
      (setosa is left out: it is linearly separable from the rest).
    * ``wine_binary``: cultivar ``class_0`` (0) vs the other two (``rest``, 1).
    """
    if name not in SKLEARN_TASKS:
        raise ValueError(
            f"load_sklearn: unknown dataset {name!r}; choose one of {sorted(SKLEARN_TASKS)}"
        )
    from sklearn import datasets  # lazy: importing scikit-learn is slow

    if name == "breast_cancer":
        bunch = datasets.load_breast_cancer()
        X, y = bunch.data, bunch.target
        classes = tuple(str(c) for c in bunch.target_names)
    elif name == "diabetes":
        bunch = datasets.load_diabetes()
        X, y = bunch.data, bunch.target
        classes = ()
    elif name == "iris_binary":
        bunch = datasets.load_iris()
        keep = bunch.target != 0
        X, y = bunch.data[keep], bunch.target[keep] - 1
        classes = (str(bunch.target_names[1]), str(bunch.target_names[2]))
    else:  # wine_binary
        bunch = datasets.load_wine()
        X, y = bunch.data, (bunch.target != 0).astype(np.int64)
        classes = (str(bunch.target_names[0]), "rest")
    names = tuple(str(f) for f in bunch.feature_names)
    return Dataset(X=X, y=y, task=SKLEARN_TASKS[name], feature_names=names, classes=classes)


# --------------------------------------------------------------------------------------
# CSV
# --------------------------------------------------------------------------------------


def _cell_problem(raw: str) -> str:
    """Why a cell that did not parse as a finite number is bad."""
    text = raw.strip()
    if not text:
        return "empty cell (missing value)"
    if text.lower() in _MISSING_TOKENS:
        return f"missing value {raw!r}"
    try:
        value = float(text)
    except ValueError:
        return f"non-numeric value {raw!r}"
    if not math.isfinite(value):
        return f"non-finite value {raw!r}"
    return f"unreadable value {raw!r}"


def _parse_numeric(series: Any) -> tuple[np.ndarray, np.ndarray]:
    """(values as float64, mask of cells that are not finite numbers)."""
    import pandas as pd

    parsed = pd.to_numeric(series, errors="coerce")
    values = np.asarray(parsed, dtype=np.float64)
    return values, ~np.isfinite(values)


def _line(lines: np.ndarray, header_line: int, row: int) -> str:
    """A data row as named in messages: its line number in the file."""
    return f"line {int(lines[row])} (the header is line {header_line})"


def _first_bad_cell(
    path: str,
    columns: list[str],
    raw: Any,
    bad: np.ndarray,
    lines: np.ndarray,
    header_line: int,
    note: str = "",
) -> ValueError:
    """Error for the first bad cell in file order (row by row, left to right)."""
    rows, cols = np.nonzero(bad)  # row-major order: the first hit is the first in the file
    r, c = int(rows[0]), int(cols[0])
    column = columns[c]
    value = raw[column].iloc[r]
    more = len(rows) - 1
    tail = f" ({more} more bad cell{'s' if more != 1 else ''} in the file)" if more else ""
    return ValueError(
        f"{path}: column {column!r}{note}, {_line(lines, header_line, r)}: "
        f"{_cell_problem(value)}{tail}"
    )


def _read_csv_cells(path: str) -> tuple[list[str], Any, np.ndarray, int]:
    """Header names, data cells as raw strings, each data row's line number, header line."""
    import pandas as pd

    if not os.path.exists(path):
        raise ValueError(f"{path}: file not found")
    if not os.path.isfile(path):
        raise ValueError(f"{path}: not a regular file")
    if os.path.getsize(path) == 0:
        raise ValueError(f"{path}: file is empty")
    try:
        # pandas cannot take its column count from a blank line: skip leading ones.
        leading_blank = 0
        with open(path, encoding="utf-8-sig") as fh:
            for text in fh:
                if text.strip():
                    break
                leading_blank += 1
            else:
                raise ValueError(f"{path}: file is empty (only blank lines)")
        # Everything as text, nothing turned into NaN and blank lines kept, so that row i
        # of the frame is line leading_blank + i + 1 of the file.
        frame = pd.read_csv(
            path,
            header=None,
            dtype=str,
            keep_default_na=False,
            skip_blank_lines=False,
            skiprows=leading_blank,
            encoding="utf-8-sig",
        )
    except pd.errors.EmptyDataError:
        raise ValueError(f"{path}: file is empty (no header line)") from None
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise ValueError(f"{path}: not a readable CSV file: {exc}") from None
    lines = np.arange(leading_blank + 1, leading_blank + len(frame) + 1)
    # Rows whose cells are all empty are blank lines: skip them (the line numbers stay).
    blank = (frame.apply(lambda col: col.str.strip()) == "").all(axis=1).to_numpy()
    frame, lines = frame[~blank], lines[~blank]
    if len(frame) == 0:
        raise ValueError(f"{path}: file is empty (no header line)")
    header = [str(h).strip() for h in frame.iloc[0]]
    for i, name in enumerate(header):
        if not name:
            raise ValueError(f"{path}: column {i + 1} has an empty name in the header line")
    duplicates = sorted({h for h in header if header.count(h) > 1})
    if duplicates:
        raise ValueError(f"{path}: duplicate column names in the header: {duplicates}")
    cells = frame.iloc[1:].reset_index(drop=True)
    cells.columns = header
    return header, cells, lines[1:], int(lines[0])


def _csv_classes(
    path: str, target: str, raw: Any, lines: np.ndarray, header_line: int
) -> tuple[np.ndarray, tuple]:
    """Map a two-valued target column to 0/1 (sorted order) and return the labels."""
    text = raw.str.strip()
    empty = (text == "").to_numpy()
    if empty.any():
        r = int(np.flatnonzero(empty)[0])
        raise ValueError(
            f"{path}: column {target!r} (the target), {_line(lines, header_line, r)}: "
            "empty cell (missing value)"
        )
    values, bad = _parse_numeric(text)
    if not bad.any():
        # Numeric labels: "3" and "3.0" are the same class; integral values become ints.
        uniques = np.unique(values)
        if all(v.is_integer() and abs(v) < 2**53 for v in uniques.tolist()):
            labels: list = [int(v) for v in uniques.tolist()]
        else:
            labels = uniques.tolist()
        codes = np.searchsorted(uniques, values)
    else:
        labels = sorted(set(text.tolist()))
        codes = np.searchsorted(np.array(labels), text.to_numpy(dtype=str))
    if len(labels) == 1:
        raise ValueError(
            f"{path}: target column {target!r} has only one class ({labels[0]!r}); "
            "binary classification needs two"
        )
    if len(labels) > 2:
        shown = ", ".join(repr(v) for v in labels[:5]) + (", ..." if len(labels) > 5 else "")
        raise ValueError(
            f"{path}: target column {target!r}: binary classification needs two classes, "
            f"found {len(labels)} ({shown})"
        )
    return codes.astype(np.int64), tuple(labels)


def load_csv(path: str | os.PathLike, target: str, task: str) -> Dataset:
    """Read a CSV file with a header line; every column except ``target`` is a feature.

    Features (and a regression target) must be finite numbers in every row. A
    classification target must take exactly two values, of any kind ("no"/"yes", 3/7):
    they become 0 and 1 in sorted order and are kept in ``Dataset.classes``. Completely
    blank lines are skipped. Problems raise ``ValueError`` starting with the path and
    naming the column and the line in the file (the header is line 1, so the first data
    row is line 2, as in a spreadsheet; quoted fields containing line breaks would shift
    this count).
    """
    path = os.fspath(path)
    if task not in TASKS:
        raise ValueError(f"{path}: task must be one of {list(TASKS)}, got {task!r}")
    header, cells, lines, header_line = _read_csv_cells(path)
    if target not in header:
        raise ValueError(f"{path}: target column {target!r} not found; available columns: {header}")
    features = [h for h in header if h != target]
    if not features:
        raise ValueError(f"{path}: no feature columns besides the target {target!r}")
    if len(cells) < MIN_CSV_ROWS:
        raise ValueError(
            f"{path}: only {len(cells)} data row{'s' if len(cells) != 1 else ''}; "
            f"at least {MIN_CSV_ROWS} are needed"
        )

    numeric_columns = features if task == "classification" else features + [target]
    parsed = [_parse_numeric(cells[c]) for c in numeric_columns]
    bad = np.column_stack([b for _, b in parsed])
    if task == "regression" and bad[:, -1].any():
        raise _first_bad_cell(
            path,
            [target],
            cells,
            bad[:, -1:],
            lines,
            header_line,
            note=" (the target; a regression target must be numeric)",
        )
    if bad.any():
        raise _first_bad_cell(path, numeric_columns, cells, bad, lines, header_line)
    X = np.column_stack([v for v, _ in parsed[: len(features)]])
    if task == "regression":
        y, classes = parsed[-1][0], ()
    else:
        y, classes = _csv_classes(path, target, cells[target], lines, header_line)
    return Dataset(X=X, y=y, task=task, feature_names=tuple(features), classes=classes)


# --------------------------------------------------------------------------------------
# Files
# --------------------------------------------------------------------------------------


def _text_array(values: Any) -> np.ndarray:
    """Strings as a NumPy unicode array (never dtype object)."""
    return np.array([str(v) for v in values], dtype=np.str_).reshape(-1)


def _classes_array(classes: tuple) -> np.ndarray:
    if not classes:
        return np.zeros(0, dtype=np.int64)
    if isinstance(classes[0], str):
        return _text_array(classes)
    return np.array(classes)  # bool, int64 or float64 - all of one type (Dataset checks)


def _meta_arrays(kind: str, task: str, names: tuple[str, ...], classes: tuple) -> dict:
    return {
        "format": np.array(kind, dtype=np.str_),
        "task": np.array(task, dtype=np.str_),
        "feature_names": _text_array(names),
        "classes": _classes_array(classes),
    }


def _load_npz(path: str | os.PathLike, kind: str, keys: tuple[str, ...]) -> dict:
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise ValueError(f"{path}: file not found")
    try:
        loaded = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
        raise ValueError(f"{path}: not a readable .npz file ({exc})") from None
    if not isinstance(loaded, np.lib.npyio.NpzFile):
        raise ValueError(f"{path}: expected an .npz archive, found a single .npy array")
    try:
        with loaded:
            data = {name: loaded[name] for name in loaded.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
        raise ValueError(f"{path}: not a readable .npz file ({exc})") from None
    found = str(data["format"]) if "format" in data else None
    if found != kind:
        raise ValueError(f"{path}: expected a {kind!r} file, found format {found!r}")
    missing = [k for k in keys if k not in data]
    if missing:
        raise ValueError(f"{path}: missing arrays {missing}")
    data["task"] = str(data["task"])
    data["feature_names"] = tuple(data["feature_names"].tolist())
    data["classes"] = tuple(data["classes"].tolist())
    return data


def _build(cls: type, path: str | os.PathLike, data: dict) -> Any:
    try:
        return cls(**{f.name: data[f.name] for f in fields(cls)})
    except ValueError as exc:
        raise ValueError(f"{os.fspath(path)}: invalid contents: {exc}") from None


def save_dataset(path: str | os.PathLike, ds: Dataset) -> None:
    """Write ``ds`` to an ``.npz`` file atomically; identical datasets give identical bytes."""
    arrays = {"X": ds.X, "y": ds.y}
    arrays.update(_meta_arrays(_DATASET_FORMAT, ds.task, ds.feature_names, ds.classes))
    save_npz(path, **arrays)


def load_dataset(path: str | os.PathLike) -> Dataset:
    """Read a file written by :func:`save_dataset` (``allow_pickle=False``)."""
    data = _load_npz(path, _DATASET_FORMAT, ("X", "y", "task", "feature_names", "classes"))
    return _build(Dataset, path, data)


_SPLIT_ARRAYS = ("X_train", "y_train", "X_val", "y_val", "X_test", "y_test", "x_mean", "x_scale")


def save_split(path: str | os.PathLike, split: Split) -> None:
    """Write ``split`` to an ``.npz`` file atomically; identical splits give identical bytes."""
    arrays = {name: getattr(split, name) for name in _SPLIT_ARRAYS}
    arrays.update(_meta_arrays(_SPLIT_FORMAT, split.task, split.feature_names, split.classes))
    save_npz(path, **arrays)


def load_split(path: str | os.PathLike) -> Split:
    """Read a file written by :func:`save_split` (``allow_pickle=False``)."""
    keys = _SPLIT_ARRAYS + ("task", "feature_names", "classes")
    return _build(Split, path, _load_npz(path, _SPLIT_FORMAT, keys))


# --------------------------------------------------------------------------------------
# Splitting
# --------------------------------------------------------------------------------------


def _round_half_up(x: float) -> int:
    return int(math.floor(x + 0.5))


def split_dataset(
    ds: Dataset,
    test_size: float,
    val_size: float,
    seed: int,
    stratify: bool,
    standardize: bool,
) -> Split:
    """Shuffle ``ds`` into train / validation / test parts.

    ``test_size`` and ``val_size`` are fractions of the whole dataset (each > 0, sum < 1);
    part sizes are ``round(fraction * n)`` (halves rounded up), train gets the rest.
    With ``stratify`` (classification only; ignored for regression) this rounding is done
    per class on that class's shuffled rows, so every part holds each class within one
    row of its share. Each part is then shuffled.

    With ``standardize``, mean and std (``ddof=0``) come from the training part only and
    are applied to all three parts; a constant feature gets scale 1.
    """
    where = "split_dataset"
    if not isinstance(ds, Dataset):
        raise ValueError(f"{where}: expected a Dataset, got {type(ds).__name__}")
    test_frac = _float_arg(test_size, "test_size", where)
    val_frac = _float_arg(val_size, "val_size", where)
    if not (0 < test_frac < 1 and 0 < val_frac < 1 and test_frac + val_frac < 1):
        raise ValueError(
            f"{where}: need 0 < test_size, 0 < val_size and test_size + val_size < 1; "
            f"got test_size={test_size}, val_size={val_size}"
        )
    rng = np.random.default_rng(_int_arg(seed, "seed", where, 0))
    n = ds.n_samples
    classification = ds.task == "classification"

    if stratify and classification:
        groups = [np.flatnonzero(ds.y == label) for label in (0, 1)]
    else:
        groups = [np.arange(n)]
    parts: dict[str, list[np.ndarray]] = {"train": [], "val": [], "test": []}
    for group in groups:
        shuffled = rng.permutation(group)
        n_test = _round_half_up(test_frac * len(group))
        n_val = _round_half_up(val_frac * len(group))
        parts["test"].append(shuffled[:n_test])
        parts["val"].append(shuffled[n_test : n_test + n_val])
        parts["train"].append(shuffled[n_test + n_val :])
    index = {name: rng.permutation(np.concatenate(chunks)) for name, chunks in parts.items()}

    sizes = ", ".join(f"{name} {len(idx)}" for name, idx in index.items())
    for name, fraction in (("train", None), ("val", val_frac), ("test", test_frac)):
        if len(index[name]) == 0:
            asked = f" ({name}_size={fraction})" if fraction is not None else ""
            raise ValueError(
                f"{where}: the {name} part{asked} would be empty: {n} rows split as {sizes}; "
                "use a larger fraction or more data"
            )
    if classification:
        present = np.unique(ds.y[index["train"]])
        if len(present) < 2:
            raise ValueError(
                f"{where}: the train part is too small: its {len(index['train'])} rows "
                f"(of {n}) hold only class {int(present[0])}; it needs both classes"
            )

    X = {name: ds.X[idx] for name, idx in index.items()}
    y = {name: ds.y[idx] for name, idx in index.items()}
    if standardize:
        from gdlab.preprocessing import StandardScaler  # lazy: keep this import light

        scaler = StandardScaler().fit(X["train"])
        x_mean = np.asarray(scaler.mean_, dtype=np.float64)
        x_scale = np.asarray(scaler.scale_, dtype=np.float64)
        X = {name: scaler.transform(values) for name, values in X.items()}
    else:
        x_mean = np.zeros(ds.n_features)
        x_scale = np.ones(ds.n_features)
    return Split(
        X_train=X["train"],
        y_train=y["train"],
        X_val=X["val"],
        y_val=y["val"],
        X_test=X["test"],
        y_test=y["test"],
        x_mean=x_mean,
        x_scale=x_scale,
        task=ds.task,
        feature_names=ds.feature_names,
        classes=ds.classes,
    )


# --------------------------------------------------------------------------------------
# Identity
# --------------------------------------------------------------------------------------


def dataset_fingerprint(ds: Dataset) -> str:
    """SHA-256 (hex) of the dataset's content: array bytes, shapes, task, names, classes.

    Arrays are hashed little-endian in C order, so the value is the same on every machine
    and survives :func:`save_dataset` / :func:`load_dataset`.
    """
    meta = {
        "format": _DATASET_FORMAT,
        "task": ds.task,
        "feature_names": list(ds.feature_names),
        "classes": [[type(c).__name__, c] for c in ds.classes],
        "X": [list(ds.X.shape), "<f8"],
        "y": [list(ds.y.shape), ds.y.dtype.newbyteorder("<").str],
    }
    digest = hashlib.sha256()
    digest.update(json.dumps(meta, sort_keys=True, separators=(",", ":")).encode("utf-8"))
    digest.update(b"\x00")
    digest.update(np.ascontiguousarray(ds.X, dtype="<f8").tobytes())
    digest.update(np.ascontiguousarray(ds.y, dtype=ds.y.dtype.newbyteorder("<")).tobytes())
    return digest.hexdigest()
