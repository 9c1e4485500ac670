"""K classes through gdlab.data: containers, blobs, bundled sets, CSV, stratified splits."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gdlab.data import (
    SKLEARN_N_CLASSES,
    SKLEARN_TASKS,
    Dataset,
    Split,
    load_csv,
    load_dataset,
    load_sklearn,
    load_split,
    make_synthetic,
    save_dataset,
    save_split,
    split_dataset,
)


def test_dataset_holds_k_classes_and_refuses_labels_outside_them():
    X = np.arange(12.0).reshape(6, 2)
    ds = Dataset(X, [0, 1, 2, 2, 1, 0], "classification", ("a", "b"), ("r", "g", "b"))
    assert ds.n_classes == 3 and ds.y.dtype == np.int64
    with pytest.raises(ValueError, match=r"labels 0\.\.2"):
        Dataset(X, [0, 1, 3, 2, 1, 0], "classification", ("a", "b"), ("r", "g", "b"))
    with pytest.raises(ValueError, match="two or more distinct"):
        Dataset(X, [0] * 6, "classification", ("a", "b"), ("r",))
    with pytest.raises(ValueError, match="two or more distinct"):
        Dataset(X, [0] * 6, "classification", ("a", "b"), ("r", "g", "r"))
    with pytest.raises(ValueError, match="one type"):
        Dataset(X, [0] * 6, "classification", ("a", "b"), ("r", 1, "b"))


@pytest.mark.parametrize("k", [3, 5])
def test_blobs_with_k_classes_are_balanced_and_centred_on_a_circle(k):
    ds = make_synthetic("blobs", 4000 + 1, 4, 0.05, seed=3, n_classes=k)
    assert ds.classes == tuple(range(k)) and ds.n_classes == k
    counts = np.bincount(ds.y, minlength=k)
    assert counts.sum() == 4001 and counts.max() - counts.min() <= 1
    assert counts[-1] == counts.max()  # the remainder goes to the last classes
    centres = np.array([ds.X[ds.y == c].mean(axis=0) for c in range(k)])
    np.testing.assert_allclose(np.linalg.norm(centres, axis=1), 1.0, atol=0.01)
    # evenly spaced: neighbours on the circle are 2 sin(pi / K) apart
    gaps = np.linalg.norm(centres - np.roll(centres, -1, axis=0), axis=1)
    np.testing.assert_allclose(gaps, 2 * np.sin(np.pi / k), atol=0.01)
    # the K centres span a plane: rank 2
    assert np.linalg.matrix_rank(centres, tol=0.05) == 2


def test_blobs_n_classes_is_checked():
    with pytest.raises(ValueError, match="n_classes applies to 'blobs' only"):
        make_synthetic("moons", 20, 2, 0.1, 0, n_classes=3)
    with pytest.raises(ValueError, match="n_features >= 2"):
        make_synthetic("blobs", 20, 1, 0.1, 0, n_classes=3)
    with pytest.raises(ValueError, match="n_classes must be >= 2"):
        make_synthetic("blobs", 20, 2, 0.1, 0, n_classes=1)
    with pytest.raises(ValueError, match="n_samples must be >= n_classes"):
        make_synthetic("blobs", 4, 2, 0.1, 0, n_classes=5)


def test_binary_blobs_are_what_they_always_were():
    # the K-class generator must not change the binary draw: +-u, as the formula says
    a = make_synthetic("blobs", 50, 3, 0.1, seed=1)
    b = make_synthetic("blobs", 50, 3, 0.1, seed=1, n_classes=2)
    assert a == b
    rng = np.random.default_rng(1)
    u = rng.standard_normal(3)
    u /= np.linalg.norm(u)
    m1 = a.X[a.y == 1].mean(axis=0)
    assert np.linalg.norm(m1 - u) < 0.1


@pytest.mark.parametrize(("name", "shape", "k"), [
    ("iris", (150, 4), 3), ("wine", (178, 13), 3), ("digits", (1797, 64), 10)])
def test_bundled_multiclass_sets(name, shape, k):
    from sklearn import datasets

    ds = load_sklearn(name)
    bunch = getattr(datasets, f"load_{name}")()
    assert ds.X.shape == shape and ds.n_classes == k == SKLEARN_N_CLASSES[name]
    assert SKLEARN_TASKS[name] == "classification"
    np.testing.assert_array_equal(ds.X, bunch.data)
    np.testing.assert_array_equal(ds.y, bunch.target)
    assert ds.classes == tuple(str(c) for c in bunch.target_names)
    assert len(ds.feature_names) == shape[1]


def test_every_bundled_classification_set_states_its_class_count():
    classification = {n for n, t in SKLEARN_TASKS.items() if t == "classification"}
    assert set(SKLEARN_N_CLASSES) == classification
    assert load_sklearn("breast_cancer").n_classes == SKLEARN_N_CLASSES["breast_cancer"]


def write_csv(tmp_path, labels, name="k.csv"):
    path = tmp_path / name
    path.write_text("a,b,label\n" + "".join(
        f"{i},{i % 7 * 0.5},{label}\n" for i, label in enumerate(labels)))
    return path


def test_csv_with_k_classes(tmp_path):
    labels = ["virginica", "setosa", "versicolor"] * 5
    ds = load_csv(write_csv(tmp_path, labels), "label", "classification", n_classes=3)
    assert ds.classes == ("setosa", "versicolor", "virginica")  # sorted
    np.testing.assert_array_equal(ds.y, [2, 0, 1] * 5)
    save_dataset(tmp_path / "ds.npz", ds)
    assert load_dataset(tmp_path / "ds.npz") == ds
    numeric = load_csv(write_csv(tmp_path, [3, 7, 11, 7] * 4, "n.csv"), "label",
                       "classification", n_classes=3)
    assert numeric.classes == (3, 7, 11)


def test_csv_class_count_must_match(tmp_path):
    path = write_csv(tmp_path, ["x", "y"] * 6)
    with pytest.raises(ValueError, match=r"k\.csv: .*'label': n_classes is 3: the column "
                                         r"needs 3 classes, found 2 \('x', 'y'\)"):
        load_csv(path, "label", "classification", n_classes=3)
    with pytest.raises(ValueError, match="n_classes must be >= 2"):
        load_csv(path, "label", "classification", n_classes=1)


def k_class_dataset(counts):
    y = np.repeat(np.arange(len(counts)), counts)  # class-sorted on purpose
    X = np.column_stack([np.arange(len(y), dtype=float), np.zeros(len(y))])
    names = tuple(f"c{k}" for k in range(len(counts)))
    return Dataset(X, y, "classification", ("index", "z"), names)


@settings(max_examples=40, deadline=None)
@given(counts=st.lists(st.integers(3, 60), min_size=3, max_size=6),
       test_size=st.floats(0.1, 0.3), val_size=st.floats(0.1, 0.3),
       seed=st.integers(0, 2**32 - 1))
def test_stratified_split_over_k_classes(counts, test_size, val_size, seed):
    ds = k_class_dataset(counts)
    try:
        split = split_dataset(ds, test_size, val_size, seed, stratify=True, standardize=False)
    except ValueError as exc:
        assert "train part is too small" in str(exc) or "would be empty" in str(exc)
        return
    rows = np.concatenate([getattr(split, f"X_{p}")[:, 0] for p in ("train", "val", "test")])
    assert sorted(rows.astype(int).tolist()) == list(range(len(ds.y)))
    assert split.n_classes == len(counts)
    train_size = 1 - test_size - val_size
    for part, fraction in (("train", train_size), ("val", val_size), ("test", test_size)):
        y = getattr(split, f"y_{part}")
        for label, count in enumerate(counts):
            assert abs(np.sum(y == label) - fraction * count) <= 1


def test_split_needs_every_class_in_train():
    ds = k_class_dataset([30, 30, 2])
    with pytest.raises(ValueError, match=r"hold only classes 0, 1; it needs all 3 classes"):
        split_dataset(ds, 0.4, 0.4, 0, stratify=True, standardize=False)


def test_k_class_split_round_trips(tmp_path):
    ds = make_synthetic("blobs", 90, 2, 0.3, seed=0, n_classes=3)
    split = split_dataset(ds, 0.2, 0.2, seed=1, stratify=True, standardize=True)
    save_split(tmp_path / "s.npz", split)
    assert load_split(tmp_path / "s.npz") == split
    with pytest.raises(ValueError, match=r"labels 0\.\.2"):
        Split(split.X_train, split.y_train + 1, split.X_val, split.y_val, split.X_test,
              split.y_test, split.x_mean, split.x_scale, "classification",
              split.feature_names, split.classes)


def test_reading_a_split_does_not_load_the_sources():
    # Python runs gdlab/data/__init__.py on `import gdlab.data.core`, so the sources are
    # imported; what must hold is that core's code does not depend on them (identity).
    from gdlab import codeversion

    def files(module):
        return {p.relative_to(codeversion.PACKAGE_DIR).as_posix()
                for p in codeversion.module_files(module)}

    assert files("gdlab.data.core") == {"data/core.py", "io.py"}
    assert files("gdlab.data.split") == {"data/split.py", "data/core.py", "io.py",
                                         "preprocessing.py"}
    synthetic = {p.name for p in codeversion.module_files("gdlab.data.synthetic")}
    assert "csv_file.py" not in synthetic and "bundled.py" not in synthetic
    code = "import sys, gdlab.data.core; assert 'pandas' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)
