"""The core of gdlab's datasets: containers, files, splits and identity.

:class:`Dataset` and :class:`Split` hold arrays (labels 0..K-1 for K >= 2 classes);
:func:`save_dataset` / :func:`load_dataset` and :func:`save_split` / :func:`load_split`
store them; :func:`dataset_fingerprint` names a dataset by its content; the parts are
made in :mod:`gdlab.data.split`. The sources that make a
:class:`Dataset` live beside this module (:mod:`gdlab.data.synthetic`,
:mod:`gdlab.data.bundled`, :mod:`gdlab.data.csv_file`); this module imports none of
them, so a job that only reads a split does not depend on their code.

Design rules
------------
* Every random draw comes from ``numpy.random.default_rng(seed)``; the same inputs give
  bit-identical arrays *and* bit-identical ``.npz`` files (fixed zip timestamps, no
  compression).
* Bad input raises ``ValueError`` whose message names the file and the problem.
* Arrays are stored only as ``.npz`` and read back with ``np.load(..., allow_pickle=False)``;
  strings are stored as NumPy unicode arrays, never as objects.
* Importing this module is cheap: only NumPy (and the standard library) at module level.
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

TASKS = ("regression", "classification")

_DATASET_FORMAT = "gdlab.dataset/1"
_SPLIT_FORMAT = "gdlab.split/1"


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


def _as_label_array(value: Any, name: str, n_classes: int) -> np.ndarray:
    """Class labels 0..K-1 as a read-only int64 array; refuses anything else."""
    arr = np.asarray(value)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got shape {arr.shape}")
    if arr.size and not (arr.dtype.kind in "biuf" and np.isin(arr, range(n_classes)).all()):
        allowed = "0 and 1" if n_classes == 2 else f"0..{n_classes - 1} (one per class)"
        raise ValueError(f"{name} must contain only the class labels {allowed}")
    return _frozen_array(arr, np.int64, name, 1)


def _as_target_array(value: Any, task: str, name: str, n_classes: int) -> np.ndarray:
    if task == "classification":
        return _as_label_array(value, name, n_classes)
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

    A classification dataset has K >= 2 of them, label ``k`` standing for ``classes[k]``;
    ``()`` there means ``(0, 1)``. A regression dataset has none.
    """
    out = tuple(c.item() if isinstance(c, np.generic) else c for c in classes)
    if task == "regression":
        if out:
            raise ValueError(f"{where}: a regression dataset has no classes, got {out!r}")
        return ()
    if not out:
        return (0, 1)
    if len(out) < 2 or len(set(out)) != len(out):
        raise ValueError(
            f"{where}: classification needs two or more distinct classes, got {out!r}"
        )
    kinds = {type(c) for c in out}
    if len(kinds) != 1 or not kinds <= {str, int, float, bool}:
        raise ValueError(
            f"{where}: classes must all be str, int, float or bool (one type), got {out!r}"
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

    ``y`` is float64 for regression and int64 labels 0..K-1 for classification;
    ``classes`` then holds the K >= 2 original labels in the order that maps them to
    0..K-1 (``(0, 1)`` when there were no other names). Arrays are private read-only
    copies; ``==`` compares them exactly.
    """

    X: np.ndarray
    y: np.ndarray
    task: str
    feature_names: tuple[str, ...]
    classes: tuple = ()

    def __post_init__(self) -> None:
        task = _check_task(self.task, "Dataset")
        X = _as_feature_matrix(self.X, "Dataset.X")
        classes = _normalize_classes(self.classes, task, "Dataset")
        y = _as_target_array(self.y, task, "Dataset.y", len(classes))
        if X.shape[0] == 0 or X.shape[1] == 0:
            raise ValueError(f"Dataset.X must have at least one row and column, got {X.shape}")
        if y.shape[0] != X.shape[0]:
            raise ValueError(f"Dataset: X has {X.shape[0]} rows but y has {y.shape[0]}")
        names = _normalize_feature_names(self.feature_names, X.shape[1], "Dataset")
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

    @property
    def n_classes(self) -> int:
        """K, the number of classes (0 for regression)."""
        return len(self.classes)


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
        classes = _normalize_classes(self.classes, task, "Split")
        values: dict[str, Any] = {"task": task}
        n_features = None
        for part in ("train", "val", "test"):
            X = _as_feature_matrix(getattr(self, f"X_{part}"), f"Split.X_{part}")
            y = _as_target_array(getattr(self, f"y_{part}"), task, f"Split.y_{part}",
                                 len(classes))
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
        values["classes"] = classes
        for name, value in values.items():
            object.__setattr__(self, name, value)

    __eq__ = _dataclass_eq

    @property
    def n_features(self) -> int:
        return int(self.X_train.shape[1])

    @property
    def n_classes(self) -> int:
        """K, the number of classes (0 for regression)."""
        return len(self.classes)

# --------------------------------------------------------------------------------------
# Argument checks
# --------------------------------------------------------------------------------------


def int_arg(value: Any, name: str, where: str, minimum: int) -> int:
    if isinstance(value, bool | np.bool_):
        raise ValueError(f"{where}: {name} must be an integer, got {value!r}")
    try:
        out = operator.index(value)
    except TypeError:
        raise ValueError(f"{where}: {name} must be an integer, got {value!r}") from None
    if out < minimum:
        raise ValueError(f"{where}: {name} must be >= {minimum}, got {out}")
    return out


def float_arg(value: Any, name: str, where: str) -> float:
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

