"""The lesson as the pipeline shows it: pairs of runs that differ only in their loss start
from one point; from a saturated start the squared loss stays on its plateau where log
loss gets away; the figure draws that pair, replayed exactly, and how long each stays."""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pytest
import yaml
from test_figures import assert_png_file, write_sweep

from gdlab import grid as G
from gdlab.data import load_sklearn, make_synthetic, split_dataset
from gdlab.figures.draw import plot_lesson_files
from gdlab.figures.lesson import replay_paths
from gdlab.lesson import NEAR, constant_log_loss, lesson_pairs, lesson_record, plateau_epochs
from gdlab.methods import run_specs
from gdlab.runfiles import read_sweep
from gdlab.train import train_run

REPO = Path(__file__).resolve().parents[1]


def _default_split(name: str):
    """The default experiment's dataset and split settings (config/config.yaml)."""
    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    ds_cfg, split_cfg = config["datasets"][name], config["split"]
    if ds_cfg["source"] == "sklearn":
        ds = load_sklearn(ds_cfg["name"])
    else:
        ds = make_synthetic(ds_cfg["generator"], ds_cfg["n_samples"], ds_cfg["n_features"],
                            ds_cfg["noise"], G.derive_seed(config["seed"], "dataset", name))
    split = split_dataset(ds, split_cfg["test_size"], split_cfg["val_size"],
                          seed=config["seed"], stratify=True, standardize=True)
    return config, split


def _user_config(config: dict, dataset: str, grid: dict) -> dict:
    config = copy.deepcopy(config)
    config["models"] = {"logistic_regression": {"grid": grid, "datasets": [dataset]}}
    return config


def test_two_losses_of_one_configuration_share_their_seed_and_start():
    config, split = _default_split("moons")
    grid = {"lr": [0.1, 1.0], "loss": ["log_loss", "squared"], "init": ["normal"],
            "init_scale": [8.0], "epochs": [5]}
    specs = run_specs(_user_config(config, "moons", grid), "moons", "logistic_regression",
                        "k", "c")
    by_loss = {}
    for spec in specs.values():
        by_loss.setdefault(spec["hyperparameters"]["lr"], {})[
            spec["hyperparameters"]["loss"]] = spec
    seeds = {lr: {pair["log_loss"]["seed"], pair["squared"]["seed"]}
             for lr, pair in by_loss.items()}
    assert all(len(s) == 1 for s in seeds.values())  # one seed per pair
    assert len(set.union(*seeds.values())) == 2  # but each learning rate its own
    paths = replay_paths(split, {loss: _as_run(spec) for loss, spec in by_loss[0.1].items()})
    np.testing.assert_array_equal(paths["log_loss"][0], paths["squared"][0])


def _as_run(spec):
    from gdlab.runfiles import Run

    return Run(spec["run_name"], Path("."), {**spec, "n_epochs": 0})


@pytest.mark.parametrize("dataset", ["moons", "breast_cancer"])
def test_from_a_saturated_start_the_squared_loss_ends_worse_than_log_loss(dataset, tmp_path):
    """The check a user can make in their own config: ``loss: [log_loss, squared]``,
    ``init: [normal]``, ``init_scale: [8.0]``, ``lr: [0.1]``, the default's 100 epochs and
    data: the squared loss ends worse on validation, and stays on its plateau longer."""
    config, split = _default_split(dataset)
    grid = {"lr": [0.1], "loss": ["log_loss", "squared"], "init": ["normal"],
            "init_scale": [8.0], "epochs": [100]}
    specs = run_specs(_user_config(config, dataset, grid), dataset, "logistic_regression",
                        "k", "c")
    val = {}
    for spec in specs.values():
        result, _ = train_run(spec, split, tmp_path / spec["run_name"])
        val[spec["hyperparameters"]["loss"]] = result["metrics"]["val"]["log_loss"]
    assert val["squared"] > val["log_loss"], val
    write_sweep(tmp_path / "sweep", split, list(specs.values()), "log_loss")
    record = lesson_record(read_sweep(tmp_path / "sweep",
                                      [tmp_path / "sweep/shards/0.json"]).runs)
    runs = record["pairs"][record["shown"]]["runs"]
    leaves = {loss: r["plateau_epochs"] if r["plateau_epochs"] is not None else np.inf
              for loss, r in runs.items()}
    assert leaves["log_loss"] < leaves["squared"], runs


@pytest.fixture(scope="module")
def lesson_sweep(tmp_path_factory):
    """The lesson over three learning rates, from a saturated start and from zeros."""
    root = tmp_path_factory.mktemp("lesson")
    config, split = _default_split("moons")
    grid = {"lr": [0.1, 1.0, 10.0], "loss": ["log_loss", "squared"],
            "init": ["zeros", "normal"], "init_scale": [4.0], "epochs": [60]}
    specs = run_specs(_user_config(config, "moons", grid), "moons", "logistic_regression",
                        "k", "c")
    write_sweep(root, split, list(specs.values()), "log_loss")
    return root, split, read_sweep(root, [root / "shards/0.json"]).runs


def test_the_lesson_is_about_the_saturated_start_and_counts_plateau_epochs(lesson_sweep):
    _, _, runs = lesson_sweep
    pairs = lesson_pairs(runs)
    assert len(pairs) == 3  # one per lr, only from the normal start
    assert all(p["squared"].hyperparameters["init"] == "normal" for p in pairs)
    record = lesson_record(runs)
    assert record["saturated_start"] and [e["runs"]["squared"]["run_name"]
                                          for e in record["pairs"]] == \
        [p["squared"].name for p in pairs]
    for entry, pair in zip(record["pairs"], pairs, strict=True):
        target = entry["target_val_log_loss"]
        best = min(r.history["val_log_loss"][-1] for r in runs if not r.diverged)
        first = pair["log_loss"].history["val_log_loss"][0]
        assert target == pytest.approx(best + NEAR * (first - best))
        for loss, run in pair.items():
            curve = run.history["val_log_loss"]
            hits = np.flatnonzero(curve <= target)
            want = int(hits[0]) + 1 if hits.size else None
            assert entry["runs"][loss]["plateau_epochs"] == want == plateau_epochs(run, target)
    shown = record["pairs"][record["shown"]]["runs"]
    assert shown["log_loss"]["plateau_epochs"] is not None


def test_the_figure_replays_the_pair_exactly_and_draws_every_learning_rate(lesson_sweep,
                                                                          tmp_path):
    root, split, runs = lesson_sweep
    record = lesson_record(runs, constant_log_loss(split.y_train, split.y_val))
    pair = lesson_pairs(runs)[record["shown"]]
    paths = replay_paths(split, pair)
    for loss, run in pair.items():
        # the replay is the run's own fit: it ends exactly where the run's files say
        assert paths[loss].shape == (run.n_epochs + 1, 3)  # the start, then every epoch
        np.testing.assert_array_equal(paths[loss][-1], np.append(run.arrays["coef"],
                                                                 run.arrays["intercept"]))
    out = tmp_path / "landscape.png"
    written = plot_lesson_files(root / "split.npz", root, [root / "shards/0.json"], out,
                                tmp_path / "lesson.json")
    assert written == record
    assert_png_file(out)


def test_the_constant_baseline_is_the_log_loss_of_always_predicting_the_class_share():
    """Closed form against scikit-learn's DummyClassifier(strategy="prior") scored by
    sklearn.metrics.log_loss: the model that knows nothing."""
    from sklearn.dummy import DummyClassifier
    from sklearn.metrics import log_loss

    for name in ("moons", "breast_cancer"):
        _, split = _default_split(name)
        dummy = DummyClassifier(strategy="prior").fit(split.X_train, split.y_train)
        expect = log_loss(split.y_val, dummy.predict_proba(split.X_val), labels=[0, 1])
        assert constant_log_loss(split.y_train, split.y_val) == pytest.approx(expect, 1e-12)
    # breast_cancer's classes are 37 % / 63 %: knowing nothing scores about 0.66, not ln 2
    assert constant_log_loss(split.y_train, split.y_val) == pytest.approx(0.66, abs=0.01)


def test_off_the_plateau_means_better_than_knowing_nothing(lesson_sweep):
    """A run 90 % of the way down to the best reached but still above the constant
    baseline has not left the plateau: with a baseline below every target, no run counts
    as off it until it is below that baseline."""
    _, split, runs = lesson_sweep
    loose = lesson_record(runs)
    targets = [e["target_val_log_loss"] for e in loose["pairs"]]
    constant = min(targets) * 0.5  # a baseline lower than every target
    strict = lesson_record(runs, constant)
    assert strict["constant_val_log_loss"] == constant
    for entry, pair in zip(strict["pairs"], lesson_pairs(runs), strict=True):
        assert entry["target_val_log_loss"] == constant
        for loss, run in pair.items():
            curve = run.history["val_log_loss"]
            hits = np.flatnonzero(curve <= constant)
            assert entry["runs"][loss]["plateau_epochs"] == (int(hits[0]) + 1 if hits.size
                                                            else None)
    # the real baseline on moons (balanced classes: about ln 2) is above these targets
    real = lesson_record(runs, constant_log_loss(split.y_train, split.y_val))
    assert real["constant_val_log_loss"] == pytest.approx(np.log(2), abs=0.01)
    assert [e["target_val_log_loss"] for e in real["pairs"]] == \
        [min(t, real["constant_val_log_loss"]) for t in targets]


def test_the_figures_legend_covers_no_curve_and_its_panels_share_one_colour_scale(
        lesson_sweep):
    """Rendered: the curves' legend holds no point of any curve (the end of the squared
    run's curve was under it), and both landscapes map values to colours alike."""
    from matplotlib.contour import ContourSet

    from gdlab.figures.lesson import lesson_figure

    _, split, runs = lesson_sweep
    record = lesson_record(runs, constant_log_loss(split.y_train, split.y_val))
    fig = lesson_figure(split, lesson_pairs(runs), record)
    renderer = fig.canvas.get_renderer()
    fig.draw(renderer)
    curves = next(ax for ax in fig.axes if ax.get_xlabel() == "epoch")
    box = curves.get_legend().get_window_extent(renderer)
    # outside the axes (below them), so no curve of any sweep can run under it
    assert box.y1 <= curves.get_window_extent(renderer).y0
    for line in curves.get_lines():
        xy = line.get_xydata()
        xy = xy[np.all(np.isfinite(xy), axis=1)]
        pts = line.get_transform().transform(xy)
        inside = ((pts[:, 0] >= box.x0) & (pts[:, 0] <= box.x1)
                  & (pts[:, 1] >= box.y0) & (pts[:, 1] <= box.y1))
        assert not inside.any(), line
    contours = [c for ax in fig.axes for c in ax.collections
                if isinstance(c, ContourSet)]
    assert len(contours) == 2
    norms = {(c.norm.vmin, c.norm.vmax, type(c.norm).__name__) for c in contours}
    assert len(norms) == 1  # one scale
    assert all(list(c.levels) == list(contours[0].levels) for c in contours)


def test_the_race_and_the_lesson_closer(lesson_sweep, tmp_path):
    """The race's racers all start at one point and the solvers end at the optimum (a
    zero gradient); the cut's shaded stretches are where the squared loss's second
    derivative along the line, by finite differences, is negative; both figures drawn."""
    from gdlab.figures.race import RACERS, _runs_of, race_paths
    from gdlab.losses import LogisticLoss, SigmoidSquaredLoss

    root, split, runs = lesson_sweep
    X1, y = split.X_train[:, :1] + 1.5, split.y_train
    paths = race_paths(X1, y, 0.01, np.array([-2.0, 1.0]), 200)
    assert set(paths) == set(RACERS)
    for name, (path, passes) in paths.items():
        np.testing.assert_array_equal(path[0], [-2.0, 1.0])
        assert len(passes) == len(path) and np.all(np.diff(passes) > 0)
        if name in ("newton", "lbfgs"):
            _, gw, gb = LogisticLoss(0.01).value_and_gradient(path[-1][:1], path[-1][1], X1, y)
            assert max(abs(gw[0]), abs(gb)) < 1e-8
    assert len(paths["newton"][0]) < 20 < len(paths["gd"][0])

    obj = SigmoidSquaredLoss(0.0)
    X = split.X_train
    rng = np.random.default_rng(0)
    start, u = 4 * rng.normal(size=3), rng.normal(size=3)
    ts = np.linspace(-2, 2, 81)
    f = np.array([obj.value((start + t * u)[:2], (start + t * u)[2], X, y) for t in ts])
    second = np.diff(f, 2) / (ts[1] - ts[0]) ** 2
    exact = np.array([u @ obj.hessian((start + t * u)[:2], (start + t * u)[2], X, y) @ u
                      for t in ts[1:-1]])
    clear = np.abs(exact) > 1e-2 * np.abs(exact).max()
    assert np.all(np.sign(second[clear]) == np.sign(exact[clear]))
    assert _runs_of(np.array([0, 1, 1, 0, 1], dtype=bool)) == [(1, 3), (4, 5)]

    race, cut = tmp_path / "race.png", tmp_path / "cut.png"
    plot_lesson_files(root / "split.npz", root, [root / "shards/0.json"],
                      tmp_path / "landscape.png", tmp_path / "lesson.json", race, cut)
    assert_png_file(race)
    assert_png_file(cut)
