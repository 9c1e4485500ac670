"""Tests for gdlab.data: generators, bundled datasets, CSV loading, splits, files."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
import zipfile

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gdlab import data
from gdlab.data import (
    SKLEARN_TASKS,
    SYNTHETIC_TASKS,
    Dataset,
    Split,
    dataset_fingerprint,
    load_csv,
    load_dataset,
    load_sklearn,
    load_split,
    make_synthetic,
    save_dataset,
    save_split,
    split_dataset,
)

CLASSIFIERS = [g for g, task in SYNTHETIC_TASKS.items() if task == "classification"]


def n_features_for(generator: str) -> int:
    return 2 if generator in ("moons", "xor") else 3


def index_dataset(n: int = 100, task: str = "classification", n_ones: int | None = None):
    """A dataset whose first feature is the row index, so rows can be identified after a split."""
    rng = np.random.default_rng(123)
    X = np.column_stack([np.arange(n, dtype=float), rng.standard_normal(n)])
    if task == "classification":
        ones = n // 2 if n_ones is None else n_ones
        y = np.zeros(n, dtype=np.int64)
        y[:ones] = 1  # class-sorted on purpose: the split must still spread the classes
        return Dataset(X, y, "classification", ("index", "z"), ("neg", "pos"))
    return Dataset(X, rng.standard_normal(n), "regression", ("index", "z"))


# --------------------------------------------------------------------------------------
# Synthetic generators
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("generator", sorted(SYNTHETIC_TASKS))
def test_synthetic_is_deterministic_per_seed(generator):
    d = n_features_for(generator)
    a = make_synthetic(generator, 101, d, 0.3, seed=7)
    b = make_synthetic(generator, 101, d, 0.3, seed=7)
    c = make_synthetic(generator, 101, d, 0.3, seed=8)
    assert a.X.tobytes() == b.X.tobytes() and a.y.tobytes() == b.y.tobytes()
    assert a == b
    assert not np.array_equal(a.X, c.X)
    assert dataset_fingerprint(a) == dataset_fingerprint(b) != dataset_fingerprint(c)


@pytest.mark.parametrize("generator", sorted(SYNTHETIC_TASKS))
def test_synthetic_shapes_dtypes_and_task(generator):
    d = n_features_for(generator)
    ds = make_synthetic(generator, 57, d, 0.1, seed=0)
    assert ds.X.shape == (57, d) and ds.X.dtype == np.float64
    assert ds.y.shape == (57,)
    assert ds.task == SYNTHETIC_TASKS[generator]
    assert ds.feature_names == tuple(f"x{i}" for i in range(d))
    if ds.task == "classification":
        assert ds.y.dtype == np.int64 and ds.classes == (0, 1)
    else:
        assert ds.y.dtype == np.float64 and ds.classes == ()
    assert np.isfinite(ds.X).all()
    with pytest.raises(ValueError, match="read-only"):
        ds.X[0, 0] = 1.0
    with pytest.raises(dataclasses.FrozenInstanceError):
        ds.task = "regression"


@pytest.mark.parametrize("generator", CLASSIFIERS)
@pytest.mark.parametrize("n", [2, 51, 200])
def test_classification_generators_are_balanced_and_shuffled(generator, n):
    ds = make_synthetic(generator, n, n_features_for(generator), 0.2, seed=3)
    assert np.bincount(ds.y, minlength=2).tolist() == [n // 2, n - n // 2]
    if n >= 50:  # labels are not left sorted by class
        assert np.any(np.diff(ds.y) < 0) and np.any(np.diff(ds.y) > 0)


@pytest.mark.parametrize("noise", [0.0, 0.25, 1.5])
def test_linear_target_is_recoverable(noise):
    ds = make_synthetic("linear", 4000, 5, noise, seed=11)
    design = np.column_stack([ds.X, np.ones(len(ds.y))])
    coef, *_ = np.linalg.lstsq(design, ds.y, rcond=None)
    residual_std = np.std(ds.y - design @ coef)
    if noise == 0:
        assert residual_std < 1e-10
    else:
        assert residual_std == pytest.approx(noise, rel=0.05)
    assert np.std(ds.X, axis=0) == pytest.approx(np.ones(5), abs=0.05)


def test_linear_coefficients_do_not_depend_on_n_samples():
    small = make_synthetic("linear", 50, 3, 0.0, seed=5)
    large = make_synthetic("linear", 500, 3, 0.0, seed=5)
    fits = []
    for ds in (small, large):
        design = np.column_stack([ds.X, np.ones(len(ds.y))])
        fits.append(np.linalg.lstsq(design, ds.y, rcond=None)[0])
    np.testing.assert_allclose(fits[0], fits[1], atol=1e-10)


def test_blobs_centres_are_two_apart_along_a_unit_direction():
    ds = make_synthetic("blobs", 4000, 4, 0.1, seed=2)
    m0, m1 = ds.X[ds.y == 0].mean(axis=0), ds.X[ds.y == 1].mean(axis=0)
    assert np.linalg.norm(m1 - m0) == pytest.approx(2.0, abs=0.02)
    np.testing.assert_allclose(m0 + m1, 0.0, atol=0.02)
    assert ds.X[ds.y == 0].std(axis=0) == pytest.approx(np.full(4, 0.1), rel=0.1)


def test_moons_without_noise_lie_on_the_half_circles():
    ds = make_synthetic("moons", 200, 2, 0.0, seed=0)
    outer, inner = ds.X[ds.y == 0], ds.X[ds.y == 1]
    np.testing.assert_allclose(np.hypot(outer[:, 0], outer[:, 1]), 1.0)
    np.testing.assert_allclose(np.hypot(inner[:, 0] - 1.0, inner[:, 1] - 0.5), 1.0)
    assert (outer[:, 1] >= 0).all() and (inner[:, 1] <= 0.5).all()


def test_xor_labels_follow_the_quadrant():
    ds = make_synthetic("xor", 500, 2, 0.0, seed=4)
    assert ((ds.X >= -1) & (ds.X <= 1)).all()
    np.testing.assert_array_equal(ds.y, (ds.X[:, 0] * ds.X[:, 1] > 0).astype(np.int64))
    noisy = make_synthetic("xor", 500, 2, 0.5, seed=4)
    assert not np.array_equal(noisy.y, (noisy.X[:, 0] * noisy.X[:, 1] > 0))


def test_synthetic_rejects_bad_arguments():
    with pytest.raises(ValueError, match="'spiral'.*blobs"):
        make_synthetic("spiral", 10, 2, 0.1, 0)
    for generator in ("moons", "xor"):
        with pytest.raises(ValueError, match=f"'{generator}'.*n_features must be 2, got 3"):
            make_synthetic(generator, 10, 3, 0.1, 0)
    with pytest.raises(ValueError, match="noise"):
        make_synthetic("linear", 10, 2, -1.0, 0)
    with pytest.raises(ValueError, match="n_samples"):
        make_synthetic("blobs", 1, 2, 0.1, 0)
    with pytest.raises(ValueError, match="seed"):
        make_synthetic("blobs", 10, 2, 0.1, -1)
    with pytest.raises(ValueError, match="n_samples"):
        make_synthetic("blobs", 10.5, 2, 0.1, 0)


# --------------------------------------------------------------------------------------
# scikit-learn datasets
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "shape"),
    [
        ("breast_cancer", (569, 30)),
        ("diabetes", (442, 10)),
        ("iris_binary", (100, 4)),
        ("wine_binary", (178, 13)),
    ],
)
def test_load_sklearn(name, shape):
    ds = load_sklearn(name)
    assert ds.X.shape == shape and ds.X.dtype == np.float64
    assert ds.task == SKLEARN_TASKS[name]
    assert len(ds.feature_names) == shape[1]
    if ds.task == "classification":
        assert ds.y.dtype == np.int64 and set(np.unique(ds.y)) == {0, 1}
        assert len(ds.classes) == 2
    else:
        assert ds.y.dtype == np.float64


def test_sklearn_binary_relabelling():
    iris = load_sklearn("iris_binary")
    assert iris.classes == ("versicolor", "virginica")
    assert np.bincount(iris.y).tolist() == [50, 50]
    wine = load_sklearn("wine_binary")
    assert wine.classes == ("class_0", "rest")
    assert np.bincount(wine.y).tolist() == [59, 119]


def test_load_sklearn_unknown_name_lists_choices():
    with pytest.raises(ValueError, match="'mnist'.*breast_cancer.*diabetes.*iris_binary"):
        load_sklearn("mnist")


# --------------------------------------------------------------------------------------
# Splitting
# --------------------------------------------------------------------------------------


def part_rows(split: Split) -> dict[str, np.ndarray]:
    return {p: getattr(split, f"X_{p}")[:, 0].astype(int) for p in ("train", "val", "test")}


@pytest.mark.parametrize("stratify", [False, True])
def test_split_parts_are_disjoint_and_cover_everything(stratify):
    ds = index_dataset(103)
    split = split_dataset(ds, 0.2, 0.15, seed=1, stratify=stratify, standardize=False)
    rows = part_rows(split)
    everything = np.concatenate(list(rows.values()))
    assert len(everything) == 103
    assert sorted(everything.tolist()) == list(range(103))
    for p, idx in rows.items():  # every row kept its own label
        np.testing.assert_array_equal(getattr(split, f"y_{p}"), ds.y[idx])
    assert len(rows["test"]) in (20, 21, 22) and len(rows["val"]) in (15, 16, 17)


def test_split_sizes_unstratified_are_rounded_fractions():
    split = split_dataset(index_dataset(200), 0.25, 0.1, 0, stratify=False, standardize=False)
    assert (len(split.y_train), len(split.y_val), len(split.y_test)) == (130, 20, 50)


def test_stratified_split_keeps_class_proportions():
    ds = index_dataset(301, n_ones=91)  # about 30% positives
    split = split_dataset(ds, 0.2, 0.2, seed=9, stratify=True, standardize=False)
    for part, fraction in (("train", 0.6), ("val", 0.2), ("test", 0.2)):
        y = getattr(split, f"y_{part}")
        for label, count in ((0, 210), (1, 91)):
            assert abs(np.sum(y == label) - fraction * count) <= 1, (part, label)


@settings(max_examples=60, deadline=None)
@given(
    n=st.integers(20, 400),
    ones=st.floats(0.1, 0.9),
    test_size=st.floats(0.05, 0.4),
    val_size=st.floats(0.05, 0.4),
    seed=st.integers(0, 2**32 - 1),
)
def test_stratified_split_property(n, ones, test_size, val_size, seed):
    n_ones = max(2, min(n - 2, round(ones * n)))
    ds = index_dataset(n, n_ones=n_ones)
    try:
        split = split_dataset(ds, test_size, val_size, seed, stratify=True, standardize=False)
    except ValueError as exc:
        assert "part" in str(exc) and str(n) in str(exc)
        return
    rows = part_rows(split)
    assert sorted(np.concatenate(list(rows.values())).tolist()) == list(range(n))
    train_size = 1 - test_size - val_size
    for part, fraction in (("train", train_size), ("val", val_size), ("test", test_size)):
        y = getattr(split, f"y_{part}")
        for label, count in ((0, n - n_ones), (1, n_ones)):
            assert abs(np.sum(y == label) - fraction * count) <= 1


def test_split_is_deterministic_per_seed():
    ds = make_synthetic("blobs", 120, 3, 1.0, seed=0)
    a = split_dataset(ds, 0.2, 0.2, seed=4, stratify=True, standardize=True)
    b = split_dataset(ds, 0.2, 0.2, seed=4, stratify=True, standardize=True)
    c = split_dataset(ds, 0.2, 0.2, seed=5, stratify=True, standardize=True)
    assert a == b
    assert not np.array_equal(a.X_train, c.X_train)


def test_regression_split_ignores_stratify():
    ds = index_dataset(50, task="regression")
    a = split_dataset(ds, 0.2, 0.2, seed=0, stratify=True, standardize=False)
    b = split_dataset(ds, 0.2, 0.2, seed=0, stratify=False, standardize=False)
    assert a == b and a.y_train.dtype == np.float64 and a.classes == ()


def test_standardize_uses_train_statistics_only():
    ds = make_synthetic("linear", 300, 4, 0.1, seed=1)
    X = ds.X * np.array([1.0, 10.0, 0.1, 3.0]) + np.array([5.0, -2.0, 0.0, 100.0])
    ds = Dataset(X, ds.y, ds.task, ds.feature_names)
    raw = split_dataset(ds, 0.2, 0.2, seed=3, stratify=False, standardize=False)
    std = split_dataset(ds, 0.2, 0.2, seed=3, stratify=False, standardize=True)
    np.testing.assert_array_equal(raw.x_mean, np.zeros(4))
    np.testing.assert_array_equal(raw.x_scale, np.ones(4))
    np.testing.assert_allclose(std.x_mean, raw.X_train.mean(axis=0))
    np.testing.assert_allclose(std.x_scale, raw.X_train.std(axis=0))
    np.testing.assert_allclose(std.X_train.mean(axis=0), 0.0, atol=1e-12)
    np.testing.assert_allclose(std.X_train.std(axis=0), 1.0)
    for part in ("val", "test"):
        expected = (getattr(raw, f"X_{part}") - std.x_mean) / std.x_scale
        np.testing.assert_allclose(getattr(std, f"X_{part}"), expected)
    assert np.abs(std.X_test.mean(axis=0)).max() > 1e-6  # not fitted on test
    np.testing.assert_array_equal(std.y_train, raw.y_train)


def test_standardize_constant_feature_gives_no_nan():
    ds = index_dataset(60)
    X = np.column_stack([ds.X, np.full(60, 0.1)])
    ds = Dataset(X, ds.y, ds.task, ("index", "z", "const"), ds.classes)
    split = split_dataset(ds, 0.2, 0.2, seed=0, stratify=True, standardize=True)
    assert split.x_scale[2] == 1.0
    for part in ("train", "val", "test"):
        X_part = getattr(split, f"X_{part}")
        assert np.isfinite(X_part).all()
        np.testing.assert_allclose(X_part[:, 2], 0.0, atol=1e-12)


def test_split_errors_name_the_part_and_row_count():
    with pytest.raises(ValueError, match=r"val part.*empty.*\b10 rows"):
        split_dataset(index_dataset(10), 0.3, 0.01, 0, stratify=False, standardize=False)
    with pytest.raises(ValueError, match=r"test part.*empty.*\b10 rows"):
        split_dataset(index_dataset(10), 0.01, 0.3, 0, stratify=False, standardize=False)
    # 3 positives out of 20: stratified test and val take one each, train keeps one - fine.
    split_dataset(index_dataset(20, n_ones=3), 0.2, 0.2, 0, stratify=True, standardize=False)
    # 2 positives with 40% test and 40% val: both go to the held-out parts.
    with pytest.raises(ValueError, match=r"train part is too small.*of 20\).*only class 0"):
        split_dataset(index_dataset(20, n_ones=2), 0.4, 0.4, 0, stratify=True, standardize=False)
    for test_size, val_size in ((0.0, 0.2), (0.5, 0.5), (0.2, -0.1), (1.2, 0.1)):
        with pytest.raises(ValueError, match="test_size"):
            split_dataset(index_dataset(), test_size, val_size, 0, True, False)


# --------------------------------------------------------------------------------------
# Files
# --------------------------------------------------------------------------------------


def test_dataset_round_trip_is_exact(tmp_path):
    for ds in (
        make_synthetic("linear", 40, 3, 0.5, seed=0),
        make_synthetic("moons", 40, 2, 0.1, seed=0),
        index_dataset(30),
        Dataset(np.eye(3), [0, 1, 1], "classification", ("a", "b", "c"), (3, 7)),
        Dataset(np.eye(3), [0, 1, 1], "classification", ("a", "b", "c"), (-0.5, 7.25)),
        Dataset(np.eye(3), [1, 0, 1], "classification", ("a", "b", "c"), (False, True)),
    ):
        path = tmp_path / f"{dataset_fingerprint(ds)[:8]}.npz"
        save_dataset(path, ds)
        back = load_dataset(path)
        assert back == ds
        assert back.X.dtype == ds.X.dtype and back.y.dtype == ds.y.dtype
        assert back.classes == ds.classes
        assert [type(c) for c in back.classes] == [type(c) for c in ds.classes]
        assert dataset_fingerprint(back) == dataset_fingerprint(ds)
        with np.load(path, allow_pickle=False) as npz:  # no object arrays inside
            assert all(npz[k].dtype != object for k in npz.files)
            assert npz["feature_names"].dtype.kind == "U"


def test_split_round_trip_is_exact(tmp_path):
    ds = load_sklearn("iris_binary")
    split = split_dataset(ds, 0.2, 0.2, seed=0, stratify=True, standardize=True)
    save_split(tmp_path / "split.npz", split)
    back = load_split(tmp_path / "split.npz")
    assert back == split
    for name in ("X_train", "y_val", "x_scale"):
        assert getattr(back, name).tobytes() == getattr(split, name).tobytes()
    assert back.classes == ("versicolor", "virginica")


def test_saved_files_are_byte_identical_and_leave_no_temp_files(tmp_path):
    ds = make_synthetic("xor", 50, 2, 0.1, seed=1)
    save_dataset(tmp_path / "a.npz", ds)
    save_dataset(tmp_path / "b.npz", make_synthetic("xor", 50, 2, 0.1, seed=1))
    assert (tmp_path / "a.npz").read_bytes() == (tmp_path / "b.npz").read_bytes()
    with zipfile.ZipFile(tmp_path / "a.npz") as archive:  # no wall-clock time inside
        assert {info.date_time for info in archive.infolist()} == {(1980, 1, 1, 0, 0, 0)}
    save_dataset(tmp_path / "a.npz", ds)  # overwrite in place
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.npz", "b.npz"]


def test_load_rejects_wrong_or_broken_files(tmp_path):
    ds = index_dataset(20)
    save_dataset(tmp_path / "ds.npz", ds)
    with pytest.raises(ValueError, match=r"ds\.npz.*gdlab\.split"):
        load_split(tmp_path / "ds.npz")
    with pytest.raises(ValueError, match=r"nope\.npz.*not found"):
        load_dataset(tmp_path / "nope.npz")
    (tmp_path / "junk.npz").write_bytes(b"not a zip file at all")
    with pytest.raises(ValueError, match=r"junk\.npz"):
        load_dataset(tmp_path / "junk.npz")
    with zipfile.ZipFile(tmp_path / "other.npz", "w") as archive:
        archive.writestr("X.npy", b"")
    with pytest.raises(ValueError, match=r"other\.npz"):
        load_dataset(tmp_path / "other.npz")


def test_fingerprint_tracks_content():
    ds = index_dataset(30)
    base = dataset_fingerprint(ds)
    assert len(base) == 64 and int(base, 16) >= 0
    X = ds.X.copy()
    X[3, 1] += 1e-12
    assert dataset_fingerprint(Dataset(X, ds.y, ds.task, ds.feature_names, ds.classes)) != base
    renamed = Dataset(ds.X, ds.y, ds.task, ("index", "w"), ds.classes)
    assert dataset_fingerprint(renamed) != base
    assert dataset_fingerprint(Dataset(ds.X, ds.y, ds.task, ds.feature_names)) != base


def test_dataset_validates_its_fields():
    with pytest.raises(ValueError, match="0 and 1"):
        Dataset(np.ones((3, 1)), [0, 1, 2], "classification", ("a",))
    with pytest.raises(ValueError, match="rows"):
        Dataset(np.ones((3, 1)), [0.0, 1.0], "regression", ("a",))
    with pytest.raises(ValueError, match="feature_names"):
        Dataset(np.ones((3, 2)), [0.0, 1.0, 2.0], "regression", ("a",))
    with pytest.raises(ValueError, match="NaN"):
        Dataset(np.array([[np.nan], [1.0]]), [0.0, 1.0], "regression", ("a",))
    with pytest.raises(ValueError, match="task"):
        Dataset(np.ones((2, 1)), [0.0, 1.0], "ranking", ("a",))
    assert Dataset(np.ones((2, 1)), [0, 1], "classification", ("a",)).classes == (0, 1)


def test_importing_data_does_not_import_pandas_or_sklearn():
    code = (
        "import sys, gdlab.data; "
        "bad = [m for m in ('pandas', 'sklearn', 'scipy') if m in sys.modules]; "
        "assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


# --------------------------------------------------------------------------------------
# CSV
# --------------------------------------------------------------------------------------


def write_csv(tmp_path, rows, header="a,b,label", name="data.csv"):
    path = tmp_path / name
    path.write_text(header + "\n" + "".join(r + "\n" for r in rows))
    return path


def good_rows(n=12, labels=("no", "yes")):
    return [f"{i},{i * 0.5},{labels[i % 2]}" for i in range(n)]


def test_load_csv_string_classes_map_in_sorted_order(tmp_path):
    path = write_csv(tmp_path, good_rows(labels=("yes", "no")))
    ds = load_csv(path, "label", "classification")
    assert ds.classes == ("no", "yes")
    assert ds.feature_names == ("a", "b")
    assert ds.X.shape == (12, 2) and ds.X.dtype == np.float64
    np.testing.assert_array_equal(ds.X[:, 0], np.arange(12))
    np.testing.assert_array_equal(ds.y, [1, 0] * 6)  # "yes" -> 1
    assert ds.y.dtype == np.int64


def test_load_csv_numeric_classes_and_target_not_last(tmp_path):
    rows = [f"{7 if i % 3 else 3},{i},{-i}" for i in range(12)]
    path = write_csv(tmp_path, rows, header="label,a,b")
    ds = load_csv(str(path), "label", "classification")
    assert ds.classes == (3, 7) and all(type(c) is int for c in ds.classes)
    assert ds.feature_names == ("a", "b")
    np.testing.assert_array_equal(ds.y, [0 if i % 3 == 0 else 1 for i in range(12)])


def test_load_csv_regression_and_blank_lines(tmp_path):
    rows = [f"{i},{i * 2}, {i * 1.5}" for i in range(12)]
    rows.insert(4, "")
    path = write_csv(tmp_path, rows, header="a, b, target")
    ds = load_csv(path, "target", "regression")
    assert ds.task == "regression" and ds.y.dtype == np.float64
    np.testing.assert_array_equal(ds.y, np.arange(12) * 1.5)
    assert ds.feature_names == ("a", "b")


def test_csv_missing_file(tmp_path):
    with pytest.raises(ValueError, match=r"missing\.csv: file not found"):
        load_csv(tmp_path / "missing.csv", "label", "classification")


def test_csv_empty_file(tmp_path):
    path = tmp_path / "empty.csv"
    path.write_text("")
    with pytest.raises(ValueError, match=r"empty\.csv: file is empty"):
        load_csv(path, "label", "classification")
    path.write_text("\n \n")
    with pytest.raises(ValueError, match=r"empty\.csv: file is empty"):
        load_csv(path, "label", "classification")


def test_csv_missing_target_lists_columns(tmp_path):
    path = write_csv(tmp_path, good_rows())
    with pytest.raises(ValueError) as info:
        load_csv(path, "outcome", "classification")
    msg = str(info.value)
    assert msg.startswith(str(path))
    assert "'outcome' not found" in msg and "['a', 'b', 'label']" in msg


def test_csv_non_numeric_value_names_column_line_and_value(tmp_path):
    rows = good_rows()
    rows[5] = "5,oops,yes"  # data row 6 -> line 7 (header is line 1)
    path = write_csv(tmp_path, rows, name="bad_value.csv")
    with pytest.raises(ValueError) as info:
        load_csv(path, "label", "classification")
    msg = str(info.value)
    assert msg.startswith(str(path))
    assert "column 'b'" in msg and "line 7" in msg and "header is line 1" in msg
    assert "non-numeric value 'oops'" in msg


def test_csv_reports_the_first_bad_cell_in_file_order(tmp_path):
    rows = good_rows()
    rows[8] = "x,1,no"
    rows[2] = "2,y,no"
    path = write_csv(tmp_path, rows)
    with pytest.raises(ValueError, match=r"column 'b', line 4 .*'y' \(1 more bad cell"):
        load_csv(path, "label", "classification")


@pytest.mark.parametrize(
    ("cell", "problem"),
    [("", "empty cell"), ("NA", "missing value 'NA'"), ("nan", "missing value 'nan'")],
)
def test_csv_missing_cell_names_column_and_line(tmp_path, cell, problem):
    rows = good_rows()
    rows[0] = f"{cell},1,no"  # first data row -> line 2
    path = write_csv(tmp_path, rows, name="holes.csv")
    with pytest.raises(ValueError) as info:
        load_csv(path, "label", "classification")
    msg = str(info.value)
    assert msg.startswith(str(path)) and "column 'a'" in msg and "line 2" in msg
    assert problem in msg


def test_csv_short_row_is_a_missing_cell(tmp_path):
    rows = good_rows()
    rows[9] = "9"
    path = write_csv(tmp_path, rows)
    with pytest.raises(ValueError, match=r"data\.csv: column 'b', line 11 .*empty cell"):
        load_csv(path, "label", "classification")


def test_csv_line_numbers_count_blank_lines(tmp_path):
    rows = good_rows()
    rows.insert(2, "")
    rows[6] = "5,?,yes"
    path = tmp_path / "gaps.csv"
    path.write_text("\n" + "a,b,label\n" + "".join(r + "\n" for r in rows))
    with pytest.raises(ValueError, match=r"column 'b', line 9 \(the header is line 2\)"):
        load_csv(path, "label", "classification")


def test_csv_missing_target_value(tmp_path):
    rows = good_rows()
    rows[3] = "3,1.5,"
    path = write_csv(tmp_path, rows)
    with pytest.raises(ValueError, match=r"data\.csv: column 'label'.*line 5 .*empty cell"):
        load_csv(path, "label", "classification")


def test_csv_infinite_value(tmp_path):
    rows = good_rows()
    rows[1] = "inf,1,no"
    path = write_csv(tmp_path, rows)
    with pytest.raises(ValueError, match=r"column 'a', line 3 .*non-finite value 'inf'"):
        load_csv(path, "label", "classification")


def test_csv_too_few_rows(tmp_path):
    path = write_csv(tmp_path, good_rows(9), name="tiny.csv")
    with pytest.raises(ValueError, match=r"tiny\.csv: only 9 data rows; at least 10"):
        load_csv(path, "label", "classification")
    path = write_csv(tmp_path, [], name="header_only.csv")
    with pytest.raises(ValueError, match=r"header_only\.csv: only 0 data rows"):
        load_csv(path, "label", "classification")


def test_csv_single_class(tmp_path):
    path = write_csv(tmp_path, good_rows(labels=("yes", "yes")), name="one.csv")
    with pytest.raises(ValueError, match=r"one\.csv: .*'label' has only one class \('yes'\)"):
        load_csv(path, "label", "classification")


def test_csv_more_than_two_classes(tmp_path):
    rows = [f"{i},{i},{'abc'[i % 3]}" for i in range(12)]
    path = write_csv(tmp_path, rows, name="three.csv")
    with pytest.raises(ValueError) as info:
        load_csv(path, "label", "classification")
    msg = str(info.value)
    assert msg.startswith(str(path))
    assert "binary classification needs two classes, found 3" in msg


def test_csv_regression_target_must_be_numeric(tmp_path):
    path = write_csv(tmp_path, good_rows(), name="reg.csv")
    with pytest.raises(ValueError) as info:
        load_csv(path, "label", "regression")
    msg = str(info.value)
    assert msg.startswith(str(path)) and "regression target must be numeric" in msg
    assert "column 'label'" in msg and "line 2" in msg and "'no'" in msg


def test_csv_malformed_and_header_problems(tmp_path):
    rows = good_rows()
    rows[4] = "4,2,yes,extra"
    path = write_csv(tmp_path, rows, name="ragged.csv")
    with pytest.raises(ValueError, match=r"ragged\.csv: not a readable CSV"):
        load_csv(path, "label", "classification")
    path = write_csv(tmp_path, good_rows(), header="a,a,label", name="dup.csv")
    with pytest.raises(ValueError, match=r"dup\.csv: duplicate column names.*'a'"):
        load_csv(path, "label", "classification")
    path = write_csv(tmp_path, [f"{i},{'ab'[i % 2]}" for i in range(12)], header="a,label")
    assert load_csv(path, "label", "classification").feature_names == ("a",)
    path = write_csv(tmp_path, [str(i % 2) for i in range(12)], header="label", name="only.csv")
    with pytest.raises(ValueError, match=r"only\.csv: no feature columns"):
        load_csv(path, "label", "classification")
    with pytest.raises(ValueError, match="task"):
        load_csv(path, "label", "clustering")


def test_csv_dataset_round_trips_string_classes(tmp_path):
    ds = load_csv(write_csv(tmp_path, good_rows()), "label", "classification")
    save_dataset(tmp_path / "ds.npz", ds)
    assert load_dataset(tmp_path / "ds.npz") == ds


def test_module_constants():
    assert SYNTHETIC_TASKS == {
        "linear": "regression",
        "blobs": "classification",
        "moons": "classification",
        "xor": "classification",
    }
    assert set(SKLEARN_TASKS) == {"breast_cancer", "diabetes", "iris_binary", "wine_binary",
                                  "iris", "wine", "digits"}
    assert data.MIN_CSV_ROWS == 10
