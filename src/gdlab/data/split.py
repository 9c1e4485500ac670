"""Splitting a dataset: seeded train / validation / test parts, stratified by class, and
standardised with the training part's statistics only (:func:`split_dataset`)."""

from __future__ import annotations

import math

import numpy as np

from gdlab.data.core import Dataset, Split, float_arg, int_arg


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
    per class (each of the K) on that class's shuffled rows, so every part holds each
    class within one row of its share. Each part is then shuffled. The train part must
    hold every class.

    With ``standardize``, mean and std (``ddof=0``) come from the training part only and
    are applied to all three parts; a constant feature gets scale 1.
    """
    where = "split_dataset"
    if not isinstance(ds, Dataset):
        raise ValueError(f"{where}: expected a Dataset, got {type(ds).__name__}")
    test_frac = float_arg(test_size, "test_size", where)
    val_frac = float_arg(val_size, "val_size", where)
    if not (0 < test_frac < 1 and 0 < val_frac < 1 and test_frac + val_frac < 1):
        raise ValueError(
            f"{where}: need 0 < test_size, 0 < val_size and test_size + val_size < 1; "
            f"got test_size={test_size}, val_size={val_size}"
        )
    rng = np.random.default_rng(int_arg(seed, "seed", where, 0))
    n = ds.n_samples
    classification = ds.task == "classification"

    if stratify and classification:
        groups = [np.flatnonzero(ds.y == label) for label in range(ds.n_classes)]
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
        if len(present) < ds.n_classes:
            held = ", ".join(str(int(c)) for c in present)
            needs = "both classes" if ds.n_classes == 2 else f"all {ds.n_classes} classes"
            raise ValueError(
                f"{where}: the train part is too small: its {len(index['train'])} rows "
                f"(of {n}) hold only class{'es' if len(present) > 1 else ''} {held}; "
                f"it needs {needs}"
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
