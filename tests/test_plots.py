"""gdlab.plots: every figure of a sweep, for each task and dimension; reproducible bytes;
diverged runs; and the pipeline's plot step and HTML report on the tiny config."""

from __future__ import annotations

import base64
import io
import re
from pathlib import Path

import numpy as np
import pytest
from conftest import TINY_CONFIG
from matplotlib.image import imread

from gdlab import plots
from gdlab import summary as S
from gdlab.baseline import baseline
from gdlab.data import load_split, make_synthetic, save_split, split_dataset
from gdlab.grid import expand_grid, run_name, stable_hash
from gdlab.io import read_json, write_json, write_text
from gdlab.runfiles import run_dir
from gdlab.train import run as train_run

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
SWEEP_FIGURES = ("heatmap.png", "learning_curves.png", "convergence.png",
                 "parallel_coordinates.png", "importance.png")

#: case -> (generator, n_features, model, grid); every grid has a diverging point
CASES = {
    "regression_1d": ("linear", 1, "linear_regression",
                      {"lr": [0.1, 3.0], "l2": [0.0, 0.1], "epochs": [12]}),
    "regression_nd": ("linear", 4, "linear_regression",
                      {"lr": [0.1, 3.0], "l2": [0.0, 0.1], "epochs": [12]}),
    "classification_2d": ("moons", 2, "logistic_regression",
                          {"lr": [0.5, 200.0], "l2": [0.0, 0.1], "epochs": [12]}),
    "classification_nd": ("blobs", 5, "logistic_regression",
                          {"lr": [0.5, 200.0], "l2": [0.0, 0.1], "epochs": [12]}),
}
SELECTION = {"linear_regression": "mse", "logistic_regression": "log_loss"}


def assert_png(data: bytes, what: str = "figure", min_px: int = 250) -> np.ndarray:
    """``data`` is a PNG of plausible size that shows something (not one flat colour)."""
    assert data[:8] == PNG_SIGNATURE, f"{what} is not a PNG"
    img = imread(io.BytesIO(data))
    h, w = img.shape[:2]
    assert min_px <= w <= 3000 and min_px <= h <= 3000, f"{what}: odd size {w}x{h}"
    rgb = img[..., :3]
    assert float(rgb.std()) > 0.02, f"{what} is (nearly) one flat colour"
    # a white page with a little drawing on it: not mostly dark, not empty
    assert 0.3 < float(rgb.mean()) < 0.995, f"{what}: mean brightness {rgb.mean():.3f}"
    return img


def assert_png_file(path: Path, min_px: int = 250) -> None:
    assert path.is_file() and path.stat().st_size > 2000, f"missing or tiny: {path}"
    assert_png(path.read_bytes(), str(path), min_px)


# --------------------------------------------------------------------------------------
# A sweep built with gdlab itself, in a temporary directory (no Snakemake)
# --------------------------------------------------------------------------------------


def build_sweep(root: Path, case: str) -> dict:
    """Data, split, runs, baseline and summary of a small sweep, as the pipeline writes them."""
    generator, d, model, grid = CASES[case]
    ds = make_synthetic(generator, n_samples=80, n_features=d, noise=0.3, seed=3)
    split = split_dataset(ds, test_size=0.25, val_size=0.25, seed=4, stratify=True,
                          standardize=True)
    split_path = root / "split.npz"
    save_split(split_path, split)
    runs = []
    for hp in expand_grid(grid, model):
        name = run_name(hp, grid)
        spec = {"dataset": case, "model": model, "task": split.task, "run_name": name,
                "hyperparameters": hp, "seed": 5, "data_key": "test", "code_version": "test",
                "run_key": stable_hash([case, name])}
        runs.append(train_run(spec, split_path, run_dir(root, name)))
    assert any(r["diverged"] for r in runs), "the sweep needs a diverging grid point"
    base = baseline(split, model, expand_grid(grid, model))
    metric = SELECTION[model]
    best = S.select_best(runs, metric)
    write_json(root / "baseline.json", base)
    write_text(root / "summary.csv", S.to_csv(S.sweep_table(runs, base, best)))
    write_text(root / "configs.csv", S.to_csv(S.config_table(runs, base, best)))
    write_json(root / "best.json", S.best_record(best, base, metric, case, model))
    return {"split": str(split_path), "summary": str(root / "summary.csv"),
            "configs": str(root / "configs.csv"),
            "best": str(root / "best.json"), "baseline": str(root / "baseline.json"),
            "sweep_dir": root, "names": [r["run_name"] for r in runs],
            "run_files": [tuple(run_dir(root, r["run_name"]) / f for f in (
                "history.csv", "model.npz", "metrics.json")) for r in runs]}


def plot_into(inputs: dict, out: Path, top_k="all", log=None) -> dict[str, Path]:
    paths = {"heatmap": out / "heatmap.png", "learning_curves": out / "learning_curves.png",
             "convergence": out / "convergence.png",
             "parallel_coordinates": out / "parallel_coordinates.png",
             "importance": out / "importance.png", "runs_dir": out / "runs"}
    plots.plot_sweep_files(inputs["split"], inputs["configs"], inputs["best"],
                           inputs["baseline"], inputs["sweep_dir"], inputs["names"], **paths,
                           top_k=top_k, log=log)
    return paths


def all_pngs(out: Path) -> dict[str, bytes]:
    return {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.rglob("*.png"))}


@pytest.fixture(scope="module", params=list(CASES))
def plotted(request, tmp_path_factory):
    root = tmp_path_factory.mktemp(request.param)
    inputs = build_sweep(root / "sweep", request.param)
    return request.param, inputs, root / "plots", plot_into(inputs, root / "plots")


def test_every_figure_is_a_real_png(plotted):
    case, inputs, out, _ = plotted
    for name in SWEEP_FIGURES:
        assert_png_file(out / name)
    for name in inputs["names"]:
        for fig in plots.RUN_FIGURES:
            assert_png_file(out / "runs" / name / fig)
    expected = len(SWEEP_FIGURES) + len(plots.RUN_FIGURES) * len(inputs["names"])
    assert len(all_pngs(out)) == expected, "stray or missing PNG files"


def test_model_figure_fits_the_case(plotted):
    """The per-run model figure takes the form its task and dimension call for."""
    case, inputs, _, _ = plotted
    split = load_split(inputs["split"])
    run = plots.load_run(*inputs["run_files"][0])
    fig = plots.model_figure(split, run, read_json(inputs["baseline"]))
    axes = [ax for ax in fig.axes if ax.get_label() != "<colorbar>"]
    titles = " ".join(ax.get_title() for ax in fig.axes) + fig.get_suptitle()
    labels = [lab for ax in axes for lab in ax.get_legend_handles_labels()[1]]
    if case == "regression_1d":
        assert len(axes) == 1 and "Fitted line" in titles
        assert any(lab.startswith("closed form") for lab in labels)
        assert any(lab.startswith("gradient descent") for lab in labels)
    elif case == "regression_nd":
        assert len(axes) == 1 and "Predicted vs actual" in titles
        assert axes[0].get_xlabel() == "actual y (test)"
    elif case == "classification_2d":
        assert "Decision boundary" in titles
        assert len(fig.axes) == 2  # the map and its colour bar
        assert axes[0].images and axes[0].get_xlabel() == split.feature_names[0]
        legend = [t.get_text() for leg in fig.legends for t in leg.get_texts()]
        assert "decision boundary (P = 0.5)" in legend
    else:
        assert len(axes) == 2 and "ROC curve" in axes[0].get_title()
        assert "Confusion matrix" in axes[1].get_title()
        counts = sorted(int(t.get_text()) for t in axes[1].texts)
        assert sum(counts) == split.y_test.size
    assert_png(plots.render_png(fig), f"{case} model figure")


def test_one_run_drawn_alone_equals_that_run_drawn_in_its_sweep(plotted):
    """The per-run figures do not depend on what else the sweep drew."""
    case, inputs, out, _ = plotted
    first = all_pngs(out)
    split, base = load_split(inputs["split"]), read_json(inputs["baseline"])
    run = plots.load_run(*inputs["run_files"][-1])
    alone = plots.render_png(plots.model_figure(split, run, base))
    assert alone == first[f"runs/{run.name}/model.png"]
    opt = base["references"][repr(run.l2)]["objective"]
    assert plots.render_png(plots.learning_curve_figure(run, opt)) == \
        first[f"runs/{run.name}/learning_curve.png"]


def test_diverged_runs_are_marked(plotted):
    case, inputs, _, _ = plotted
    runs = [plots.load_run(*f) for f in inputs["run_files"]]
    diverged = [r for r in runs if r.diverged]
    assert diverged
    for run in diverged:
        fig = plots.learning_curve_figure(run)
        legend = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
        assert f"diverged at epoch {int(run.history['epoch'][-1])}" in legend
    heat = plots.heatmap_figure(plots.read_summary(inputs["summary"]),
                                read_json(inputs["best"]))
    cells = [t.get_text() for ax in heat.axes for t in ax.texts]
    assert cells.count("diverged") == len(diverged)
    best_frames = [p for ax in heat.axes for p in ax.patches
                   if p.get_edgecolor()[:3] == pytest.approx((0.894, 0.102, 0.110), abs=0.01)]
    assert len(best_frames) == 1, "exactly one cell is framed as the best run"


def test_weights_that_are_not_finite_still_plot():
    """A run whose weights overflowed draws what it can and says what it cannot."""
    history = {"epoch": np.arange(1, 5), "train_objective": np.array([0.7, 50.0, 4e9, np.inf]),
               "val_loss": np.array([0.7, 80.0, np.nan, np.inf])}
    rng = np.random.default_rng(0)
    for task, d in (("regression", 1), ("regression", 3), ("classification", 2),
                    ("classification", 4)):
        ds = make_synthetic("linear" if task == "regression" else
                            ("moons" if d == 2 else "blobs"), 40, d, 0.3, 1)
        split = split_dataset(ds, 0.25, 0.25, seed=2, stratify=True, standardize=True)
        coef = rng.standard_normal(d)
        coef[0] = np.inf if d > 1 else np.nan
        run = plots.Run(name="lr~9.0", hyperparameters={"lr": 9.0, "l2": 0.0},
                        history=history, coef=coef, intercept=1e308, diverged=True)
        fig = plots.model_figure(split, run, None)
        notes = " ".join(t.get_text() for ax in fig.axes for t in ax.texts)
        assert "not finite" in notes or "off the chart" in notes, (task, d, notes)
        assert_png(plots.render_png(fig), f"{task} {d}-D, infinite weights")
    lc = plots.learning_curve_figure(run, optimum=0.3)
    assert lc.axes[0].get_yscale() == "log"
    assert_png(plots.render_png(lc), "learning curve ending in inf")


def _rows(grid: dict, diverged=()) -> list[dict]:
    rows = []
    for i, hp in enumerate(expand_grid(grid, "logistic_regression")):
        name = run_name(hp, grid)
        row = {k: "" if v is None else str(v).lower() if isinstance(v, bool) else str(v)
               for k, v in hp.items()}
        row.update(run_name=name, diverged="true" if name in diverged else "false",
                   val_mse=repr(0.5 + 0.1 * i))
        rows.append(row)
    return rows


def test_a_large_sweep_draws_every_run_and_its_cells_by_colour_alone():
    """At hundreds of runs the curves are drawn as collections (one per line style), every
    run still in them; the heatmap stops printing values once there are too many cells."""
    grid = {"lr": [round(0.01 * 1.2 ** i, 6) for i in range(25)],
            "l2": [round(0.001 * i, 6) for i in range(16)]}
    hps = expand_grid(grid, "logistic_regression")
    diverged = {run_name(hp, grid) for hp in hps[::37]}
    runs = []
    for i, hp in enumerate(hps):
        n = 5 + i % 7  # curves of different lengths
        name = run_name(hp, grid)
        runs.append(plots.Run(
            name=name, hyperparameters=hp, coef=np.empty(0), intercept=float("nan"),
            history={"epoch": np.arange(1, n + 1, dtype=float),
                     "train_objective": np.linspace(1.0, 0.1 + 0.001 * i, n),
                     "val_loss": np.linspace(1.1, 0.2 + 0.001 * i, n)},
            diverged=name in diverged))
    fig = plots.learning_curves_figure(runs)
    for ax in fig.axes[:2]:
        drawn = [path for c in ax.collections for path in c.get_paths()]
        assert len(drawn) == len(runs)
        marks = sum(len(line.get_xdata()) for line in ax.get_lines())
        assert marks == len(diverged)
    assert_png(plots.render_png(fig), "learning curves of 400 runs")
    rows = _rows(grid, diverged=diverged)
    assert len(rows) > plots.MAX_CELL_LABELS
    heat = plots.heatmap_figure(rows, {"selection_metric": "val_mse",
                                       "run_name": rows[3]["run_name"]})
    assert not [t for ax in heat.axes for t in ax.texts]
    hatched = [p for ax in heat.axes for p in ax.patches if p.get_hatch() == "///"]
    assert len(hatched) == len(diverged)
    assert_png(plots.render_png(heat), "heatmap of 400 cells")


@pytest.mark.parametrize("grid, x, y, facets", [
    ({"lr": [0.01, 0.1, 1.0]}, "lr", None, 1),                       # one varying axis
    ({"l2": [0.0, 0.1, 1.0]}, "l2", None, 1),                        # lr not varied
    ({"lr": [0.1]}, None, None, 1),                                  # a single run
    ({"lr": [0.1, 1.0], "l2": [0.0, 0.1, 1.0], "optimizer": ["gd", "momentum"],
      "batch_size": [8, 16]}, "lr", "l2", 4),                        # 2 x 2 panels
    ({"lr": [0.1, 1.0], "loss": ["log_loss", "squared"]}, "lr", None, 2),  # losses side by side
    ({"lr": [0.1, 1.0], "loss": ["log_loss", "squared"], "init": ["zeros", "normal"]},
     "lr", "init", 2),
])
def test_heatmap_handles_any_grid(grid, x, y, facets):
    rows = _rows(grid, diverged={run_name(expand_grid(grid, "logistic_regression")[-1], grid)})
    best = {"selection_metric": "val_mse", "run_name": rows[0]["run_name"]}
    assert plots.grid_axes(rows)[:2] == (x, y)
    fig = plots.heatmap_figure(rows, best, "test")
    panels = [ax for ax in fig.axes if ax.get_visible() and ax.get_label() != "<colorbar>"]
    assert len(panels) == facets
    texts = [t.get_text() for ax in panels for t in ax.texts]
    assert texts.count("diverged") == 1 and len(texts) == len(rows)
    assert_png(plots.render_png(fig), f"heatmap of {sorted(grid)}", min_px=200)


# --------------------------------------------------------------------------------------
# The pipeline: the plot step and the report
# --------------------------------------------------------------------------------------


@pytest.mark.workflow
def test_pipeline_plots_every_sweep_and_its_best_run_and_reports_them(finished_project,
                                                                      tmp_path):
    """Sweep figures for every sweep; per-run figures for the best run only (plots.top_k
    defaults to 1), none for the others."""
    root = finished_project.root
    figures, best_names = [], []
    for model in TINY_CONFIG["models"]:
        task = "regression" if model == "linear_regression" else "classification"
        for dataset in (d for d, c in TINY_CONFIG["datasets"].items() if c["task"] == task):
            out = root / "results" / dataset / model / "plots"
            figures += [out / name for name in SWEEP_FIGURES]
            best = read_json(root / "results" / dataset / model / "best.json")["run_name"]
            best_names.append(best)
            figures += [out / "runs" / best / f for f in plots.RUN_FIGURES]
            drawn = sorted(p.relative_to(out / "runs").as_posix()
                           for p in (out / "runs").rglob("*.png"))
            assert drawn == sorted(f"{best}/{f}" for f in plots.RUN_FIGURES)
            log = (root / "logs" / "plot" / dataset / f"{model}.log").read_text()
            assert re.search(r"plot job: [\d.]+ s in all", log), log
    for path in figures:
        assert_png_file(path)

    report = tmp_path / "report.html"
    finished_project.snakemake("--report", str(report))
    html = report.read_text(encoding="utf-8")
    # every figure is embedded, byte for byte, under its own path, with its caption
    assert html.count("data:image/png") == len(figures)
    for path in figures:
        rel = str(path.relative_to(root))
        assert f'"{rel}": {{"name": "{path.name}"' in html, rel
        assert base64.b64encode(path.read_bytes()).decode() in html, rel
    for caption in ("Validation metric over the grid", "Learning curves of every run",
                    "Every configuration at once", "Which hyperparameters matter",
                    "Convergence to scikit-learn", "What the model learned",
                    "Learning curve</strong> of run"):
        assert caption in html, caption
    for name in best_names:
        assert f'"labels": {{"run": "{name}", "figure": "learning_curve"}}' in html


def test_per_run_figures_are_made_for_the_best_runs_only_by_default(plotted, tmp_path):
    """top_k = 1 (the default): the best run's two figures; top_k = 2: the two best, ranked
    like the best run is chosen; the sweep figures show every run either way. Each redraw,
    into another directory, gives the first drawing's bytes."""
    case, inputs, out, _ = plotted
    every = all_pngs(out)  # drawn with top_k="all"
    best = read_json(inputs["best"])
    runs = [read_json(f[2]) for f in inputs["run_files"]]
    metric = best["selection_metric"].removeprefix("val_")
    ranked = [r["run_name"] for r in S.ranked_runs(runs, metric)]
    assert ranked == [r["run_name"] for r in S.rank_runs(runs, metric)]  # no repeats
    assert ranked[0] == best["run_name"]
    for top_k, names in ((1, ranked[:1]), (2, ranked[:2])):
        logs = []
        plot_into(inputs, tmp_path / str(top_k), top_k=top_k, log=logs.append)
        got = all_pngs(tmp_path / str(top_k))
        expected = set(SWEEP_FIGURES) | {f"runs/{n}/{fig}" for n in names
                                         for fig in plots.RUN_FIGURES}
        assert set(got) == expected
        assert all(got[k] == every[k] for k in got)  # the same figures, byte for byte
        assert f"per-run figures for {len(names)}" in logs[-1]


@pytest.mark.parametrize("model, generator, d, k", [
    ("softmax_regression", "blobs", 2, 3),   # decision regions of three classes
    ("mlp_classifier", "moons", 2, 2),       # a non-linear boundary
    ("softmax_regression", "blobs", 4, 3),   # K x K confusion matrix
    ("mlp_regressor", "linear", 3, 0),       # predicted vs actual
])
def test_every_model_is_drawn_through_the_one_predict_without_fitting(
        model, generator, d, k, tmp_path, monkeypatch):
    from gdlab.models.training import GradientDescentModel

    kw = {"n_classes": k} if k > 2 else {}
    split = split_dataset(make_synthetic(generator, 120, d, 0.3, seed=3, **kw),
                          test_size=0.25, val_size=0.25, seed=4, stratify=True,
                          standardize=True)
    grid = {"lr": [0.05], "epochs": [60]}
    [hp] = expand_grid(grid, model)
    spec = {"dataset": generator, "model": model, "task": split.task,
            "run_name": run_name(hp, grid), "hyperparameters": hp, "seed": 5}
    save_split(tmp_path / "split.npz", split)
    train_run(spec, tmp_path / "split.npz", tmp_path / "run")
    base = baseline(split, model, [hp])
    run = plots.load_run(*(tmp_path / "run" / f
                           for f in ("history.csv", "model.npz", "metrics.json")))

    def no_fit(*args, **kwargs):
        raise AssertionError("a figure fitted a model")

    monkeypatch.setattr(GradientDescentModel, "fit", no_fit)
    fig = plots.model_figure(split, run, base)
    title = " ".join(ax.get_title() for ax in fig.axes)
    expected = {"regression": "Predicted vs actual",
                "classification": "Decision regions" if d == 2 else "Confusion matrix"}
    assert expected[split.task] in title
    if split.task == "classification" and d == 2:
        [ax] = fig.axes
        assert len(ax.collections) >= 2  # our boundary and scikit-learn's
    assert_png(plots.render_png(fig), f"{model} {d}-D")


def test_the_lesson_figure_draws_both_losses_with_the_runs_own_paths(tmp_path):
    split = split_dataset(make_synthetic("blobs", 120, 2, 0.8, seed=3), test_size=0.25,
                          val_size=0.25, seed=4, stratify=True, standardize=True)
    save_split(tmp_path / "split.npz", split)
    grid = {"lr": [0.5, 2.0], "epochs": [40], "loss": ["log_loss", "squared"],
            "init": ["normal"], "init_scale": [3.0]}
    names = []
    for i, hp in enumerate(expand_grid(grid, "logistic_regression")):
        name = run_name(hp, grid)
        spec = {"dataset": "blobs", "model": "logistic_regression", "task": split.task,
                "run_name": name, "hyperparameters": hp, "seed": 10 + i}
        train_run(spec, tmp_path / "split.npz", run_dir(tmp_path, name))
        names.append(name)
    runs = [plots.load_run(*(run_dir(tmp_path, n) / f
                             for f in ("history.csv", "model.npz", "metrics.json")))
            for n in names]
    chosen = plots.lesson_runs(runs, "log_loss")
    assert set(chosen) == {"log_loss", "squared"}
    assert chosen["squared"].hyperparameters["loss"] == "squared"
    paths = plots.lesson_paths(split, chosen)
    for loss, run in chosen.items():
        # the replay is the run's own fit: it ends exactly where the run's files say
        assert paths[loss].shape == (run.history["epoch"].size + 1, 3)  # the start, then epochs
        np.testing.assert_array_equal(paths[loss][-1], np.append(run.coef, run.intercept))
    fig = plots.loss_landscape_figure(split, chosen, "blobs")
    panels = [ax for ax in fig.axes if ax.get_label() != "<colorbar>" and ax.get_title()]
    assert [ax.get_title().split("\n")[0] for ax in panels] == ["log_loss", "squared"]
    out = tmp_path / "landscape.png"
    plots.plot_lesson_file(tmp_path / "split.npz", tmp_path, names, "log_loss", out)
    assert_png_file(out)
