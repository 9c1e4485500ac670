"""gdlab.figures: every figure of a sweep, for each task and dimension; reproducible bytes;
diverged runs; repeats and searches; the sweep views; the lesson."""

from __future__ import annotations

import io
from pathlib import Path

import matplotlib as mpl
import numpy as np
import pytest
from matplotlib.collections import LineCollection, PolyCollection
from matplotlib.image import imread
from scipy import stats as sps

from gdlab import summary as S
from gdlab.baseline import baseline
from gdlab.data import load_split, make_synthetic, save_split, split_dataset
from gdlab.figures import draw, views
from gdlab.figures import run as run_figs
from gdlab.figures import sweep as sweep_figs
from gdlab.figures.style import render_png
from gdlab.grid import expand_grid, run_name, stable_hash
from gdlab.io import read_json, write_json, write_text
from gdlab.methods import run_specs
from gdlab.names import BOUNDARY_FIGURE, RUN_FIGURES, SWEEP_FIGURES
from gdlab.runfiles import Run, read_sweep
from gdlab.runnames import short_names
from gdlab.train import train_shard

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

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
    assert 0.3 < float(rgb.mean()) < 0.995, f"{what}: mean brightness {rgb.mean():.3f}"
    return img


def assert_png_file(path: Path, min_px: int = 250) -> None:
    assert path.is_file() and path.stat().st_size > 2000, f"missing or tiny: {path}"
    assert_png(path.read_bytes(), str(path), min_px)


def all_pngs(out: Path) -> dict[str, bytes]:
    return {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.rglob("*.png"))}


def write_sweep(root: Path, split, specs: list[dict], metric: str) -> None:
    """Runs (one shard), baseline and tables of a sweep, as the pipeline writes them."""
    save_split(root / "split.npz", split)
    model = specs[0]["model"]
    train_shard({"dataset": specs[0]["dataset"], "model": model, "shard": "0", "runs": specs},
                root / "split.npz", root, root / "shards" / "0.json")
    runs = [r.result for r in read_sweep(root, [root / "shards" / "0.json"]).runs]
    base = baseline(split, model, [r["hyperparameters"] for r in runs])
    best = S.select_best(runs, metric)
    write_json(root / "baseline.json", base)
    write_text(root / "summary.csv", S.to_csv(S.sweep_table(runs, base, best)))
    write_text(root / "configs.csv", S.to_csv(S.config_table(runs, base, best)))
    write_json(root / "best.json", S.best_record(best, base, metric, specs[0]["dataset"],
                                                 model, runs))


def build_sweep(root: Path, case: str) -> Path:
    generator, d, model, grid = CASES[case]
    ds = make_synthetic(generator, n_samples=80, n_features=d, noise=0.3, seed=3)
    split = split_dataset(ds, test_size=0.25, val_size=0.25, seed=4, stratify=True,
                          standardize=True)
    specs = [{"dataset": case, "model": model, "task": split.task,
              "run_name": run_name(hp, grid), "hyperparameters": hp, "seed": 5,
              "data_key": "test", "code_version": "test",
              "run_key": stable_hash([case, run_name(hp, grid)])}
             for hp in expand_grid(grid, model)]
    write_sweep(root, split, specs, SELECTION[model])
    assert any(r.diverged for r in read_sweep(root, [root / "shards/0.json"]).runs)
    return root


def plot_into(sweep_dir: Path, out: Path, top_k="all", log=None, figures=SWEEP_FIGURES,
              drawn=None) -> None:
    draw.plot_sweep_files(sweep_dir / "split.npz", sweep_dir, [sweep_dir / "shards/0.json"],
                          {name: out / name for name in figures}, out / "runs", top_k=top_k,
                          drawn=drawn, log=log)


@pytest.fixture(scope="module", params=list(CASES))
def plotted(request, tmp_path_factory):
    root = tmp_path_factory.mktemp(request.param)
    sweep_dir = build_sweep(root / "sweep", request.param)
    plot_into(sweep_dir, root / "plots")
    return request.param, sweep_dir, root / "plots"


def _sweep(sweep_dir: Path):
    sweep = read_sweep(sweep_dir, [sweep_dir / "shards/0.json"])
    return sweep, short_names([r.result for r in sweep.runs])


def per_run_figures(case: str) -> list[str]:
    """A run's own figures: on 2-D classification also its boundary as it learns."""
    return [*RUN_FIGURES, *([BOUNDARY_FIGURE] if case == "classification_2d" else [])]


def test_every_figure_is_a_real_png(plotted):
    case, sweep_dir, out = plotted
    sweep, _ = _sweep(sweep_dir)
    for name in SWEEP_FIGURES:
        assert_png_file(out / name)
    per_run = per_run_figures(case)
    for run in sweep.runs:
        for fig in per_run:
            assert_png_file(out / "runs" / run.name / fig)
    assert len(all_pngs(out)) == len(SWEEP_FIGURES) + len(per_run) * len(sweep.runs)


def test_model_figure_fits_the_case(plotted):
    """The per-run model figure takes the form its task and dimension call for, titled by
    the run's short name (what varies in its sweep), not its long directory name."""
    case, sweep_dir, _ = plotted
    split = load_split(sweep_dir / "split.npz")
    sweep, shorts = _sweep(sweep_dir)
    run = sweep.runs[0]
    fig = run_figs.model_figure(split, run, shorts[run.name],
                                draw.model_reference(sweep.baseline, run))
    axes = [ax for ax in fig.axes if ax.get_label() != "<colorbar>"]
    titles = " ".join(ax.get_title() for ax in fig.axes) + fig.get_suptitle()
    assert shorts[run.name] in fig.get_suptitle() and run.name not in fig.get_suptitle()
    labels = [lab for ax in axes for lab in ax.get_legend_handles_labels()[1]]
    if case == "regression_1d":
        assert "Fitted line" in titles
        assert "closed form (exact)" in labels and "gradient descent" in labels
    elif case == "regression_nd":
        assert "Predicted vs actual" in titles
        assert axes[0].get_xlabel() == "actual y (test)"
    elif case == "classification_2d":
        assert "Decision boundary" in titles
        assert axes[0].images and axes[0].get_xlabel() == split.feature_names[0]
        legend = [t.get_text() for leg in fig.legends for t in leg.get_texts()]
        assert "decision boundary" in legend
        assert any(t.endswith(": boundary") for t in legend)  # scikit-learn's, dashed
    else:
        roc, cm = [ax for ax in axes if ax.get_title()]
        assert "ROC curve" in roc.get_title() and "Confusion matrix" in cm.get_title()
        assert sum(int(t.get_text()) for t in cm.texts) == split.y_test.size
    assert_png(render_png(fig), f"{case} model figure")


def test_titles_fit_inside_the_figure(plotted):
    """No title is cut at the figure's edge (the old model.png lost its subtitle's start)."""
    _, sweep_dir, _ = plotted
    split = load_split(sweep_dir / "split.npz")
    sweep, shorts = _sweep(sweep_dir)
    run = sweep.runs[-1]
    for fig in (run_figs.model_figure(split, run, shorts[run.name]),
                run_figs.learning_curve_figure(run, shorts[run.name])):
        render_png(fig)  # lays it out
        renderer = fig.canvas.get_renderer()
        width = fig.bbox.width
        for text in [fig._suptitle, *(ax.title for ax in fig.axes)]:
            if text is not None and text.get_text():
                box = text.get_window_extent(renderer)
                assert box.x0 >= 0 and box.x1 <= width, text.get_text()


def test_one_run_drawn_alone_equals_that_run_drawn_in_its_sweep(plotted):
    """The per-run figures do not depend on what else the sweep drew."""
    _, sweep_dir, out = plotted
    first = all_pngs(out)
    split = load_split(sweep_dir / "split.npz")
    sweep, shorts = _sweep(sweep_dir)
    run = sweep.runs[-1]
    alone = render_png(run_figs.model_figure(split, run, shorts[run.name],
                                             draw.model_reference(sweep.baseline, run)))
    assert alone == first[f"runs/{run.name}/model.png"]
    from gdlab.baseline import optimum_objective

    curve = run_figs.learning_curve_figure(run, shorts[run.name],
                                           optimum_objective(sweep.baseline,
                                                             run.hyperparameters))
    assert render_png(curve) == first[f"runs/{run.name}/learning_curve.png"]


def test_diverged_runs_are_marked(plotted):
    _, sweep_dir, _ = plotted
    sweep, shorts = _sweep(sweep_dir)
    diverged = [r for r in sweep.runs if r.diverged]
    assert diverged
    for run in diverged:
        fig = run_figs.learning_curve_figure(run, shorts[run.name])
        legend = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
        assert f"diverged at epoch {int(run.history['epoch'][-1])}" in legend
    heat = sweep_figs.heatmap_figure(sweep.configs, sweep.best)
    cells = [t.get_text() for ax in heat.axes for t in ax.texts]
    assert cells.count("diverged") == len(diverged)
    best_frames = [p for ax in heat.axes for p in ax.patches
                   if p.get_edgecolor()[:3] == pytest.approx((0.894, 0.102, 0.110), abs=0.01)]
    assert len(best_frames) == 1, "exactly one cell is framed as the best run"


def test_outputs_that_are_not_finite_still_plot(tmp_path):
    """A run whose weights overflowed draws what it can and says what it cannot."""
    for task, d, model in (("regression", 1, "linear_regression"),
                           ("regression", 3, "linear_regression"),
                           ("classification", 2, "logistic_regression"),
                           ("classification", 4, "logistic_regression")):
        ds = make_synthetic("linear" if task == "regression" else
                            ("moons" if d == 2 else "blobs"), 40, d, 0.3, 1)
        split = split_dataset(ds, 0.25, 0.25, seed=2, stratify=True, standardize=True)
        coef = np.ones(d)
        coef[0] = np.nan  # weights that overflowed: outputs that are not numbers
        run = Run("lr~9.0", tmp_path, {"run_name": "lr~9.0", "model": model, "task": task,
                                       "hyperparameters": {"lr": 9.0}, "diverged": True,
                                       "n_epochs": 4})
        run.arrays = {"coef": coef, "intercept": np.float64(1e308)}
        run.history = {"epoch": np.arange(1, 5),
                       "train_objective": np.array([0.7, 50.0, 4e9, np.inf]),
                       "val_log_loss": np.array([0.7, 80.0, np.nan, np.inf])}
        fig = run_figs.model_figure(split, run, "lr=9")
        notes = " ".join(t.get_text() for ax in fig.axes for t in ax.texts)
        assert "not finite" in notes or "off the chart" in notes, (task, d, notes)
        assert_png(render_png(fig), f"{task} {d}-D, infinite weights")
    lc = run_figs.learning_curve_figure(run, "lr=9", optimum=0.3)
    assert lc.axes[0].get_yscale() == "log"
    assert_png(render_png(lc), "learning curve ending in inf")


def _rows(grid: dict, diverged=()) -> list[dict]:
    rows = []
    for i, hp in enumerate(expand_grid(grid, "logistic_regression")):
        name = run_name(hp, grid)
        row = {k: "" if v is None else str(v).lower() if isinstance(v, bool) else str(v)
               for k, v in hp.items()}
        row.update(config=name, diverged="true" if name in diverged else "false",
                   val_mse=repr(0.5 + 0.1 * i))
        rows.append(row)
    return rows


def _fake_run(name: str, hp: dict, n: int, i: int, diverged: bool) -> Run:
    run = Run(name, Path("."), {"run_name": name, "hyperparameters": hp,
                                "diverged": diverged, "n_epochs": n})
    run.history = {"epoch": np.arange(1, n + 1),
                   "train_objective": np.linspace(1.0, 0.1 + 0.001 * i, n),
                   "val_log_loss": np.linspace(1.1, 0.2 + 0.001 * i, n)}
    return run


def test_a_large_sweep_draws_every_run_and_its_cells_by_colour_alone():
    """At hundreds of runs the curves are drawn as collections (one per line style), every
    run still in them; the heatmap stops printing values once there are too many cells."""
    grid = {"lr": [round(0.01 * 1.2 ** i, 6) for i in range(25)],
            "l2": [round(0.001 * i, 6) for i in range(16)]}
    hps = expand_grid(grid, "logistic_regression")
    diverged = {run_name(hp, grid) for hp in hps[::37]}
    runs = [_fake_run(run_name(hp, grid), hp, 5 + i % 7, i, run_name(hp, grid) in diverged)
            for i, hp in enumerate(hps)]
    fig = sweep_figs.learning_curves_figure(sweep_figs.lines_of(runs))
    for ax in fig.axes[:2]:
        drawn = [path for c in ax.collections for path in c.get_paths()]
        assert len(drawn) == len(runs)
        assert sum(len(line.get_xdata()) for line in ax.get_lines()) == len(diverged)
    assert_png(render_png(fig), "learning curves of 400 runs")
    rows = _rows(grid, diverged=diverged)
    assert len(rows) > sweep_figs.MAX_CELL_LABELS
    heat = sweep_figs.heatmap_figure(rows, {"selection_metric": "val_mse",
                                            "run_name": rows[3]["config"]})
    assert not [t for ax in heat.axes for t in ax.texts]
    hatched = [p for ax in heat.axes for p in ax.patches if p.get_hatch() == "///"]
    assert len(hatched) == len(diverged)
    assert_png(render_png(heat), "heatmap of 400 cells")


def test_the_best_configuration_is_outlined_on_the_learning_curves():
    hps = expand_grid({"lr": [0.01, 0.1, 1.0]}, "logistic_regression")
    runs = [_fake_run(f"r{i}", hp, 10, i, False) for i, hp in enumerate(hps)]
    fig = sweep_figs.learning_curves_figure(sweep_figs.lines_of(runs), best="r1")
    for ax in fig.axes[:2]:
        outline = [ln for ln in ax.get_lines() if ln.get_linewidth() > 3]
        assert len(outline) == 1
        assert np.allclose(outline[0].get_ydata(), runs[1].history[
            "train_objective" if ax is fig.axes[0] else "val_log_loss"])
    legend = [t.get_text() for leg in fig.legends for t in leg.get_texts()]
    assert "best (chosen on validation)" in legend


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
    best = {"selection_metric": "val_mse", "run_name": rows[0]["config"]}
    assert sweep_figs.grid_axes(rows)[:2] == (x, y)
    fig = sweep_figs.heatmap_figure(rows, best, "test")
    panels = [ax for ax in fig.axes if ax.get_visible() and ax.get_label() != "<colorbar>"]
    assert len(panels) == facets
    texts = [t.get_text() for ax in panels for t in ax.texts]
    assert texts.count("diverged") == 1 and len(texts) == len(rows)
    assert_png(render_png(fig), f"heatmap of {sorted(grid)}", min_px=200)


def test_per_run_figures_are_made_for_the_best_runs_only_by_default(plotted, tmp_path):
    """top_k = 1 (the default): the best run's two figures; top_k = 2: the two best, ranked
    like the best run is chosen; the sweep figures show every run either way. Each redraw,
    into another directory, gives the first drawing's bytes."""
    case, sweep_dir, out = plotted
    every = all_pngs(out)  # drawn with top_k="all"
    per_run = per_run_figures(case)
    sweep, _ = _sweep(sweep_dir)
    metric = sweep.best["selection_metric"].removeprefix("val_")
    ranked = [r["run_name"] for r in S.ranked_runs([r.result for r in sweep.runs], metric)]
    assert ranked[0] == sweep.best["run_name"]
    for top_k, names in ((1, ranked[:1]), (2, ranked[:2])):
        logs = []
        plot_into(sweep_dir, tmp_path / str(top_k), top_k=top_k, log=logs.append)
        got = all_pngs(tmp_path / str(top_k))
        expected = set(SWEEP_FIGURES) | {f"runs/{n}/{fig}" for n in names for fig in per_run}
        assert set(got) == expected
        assert all(got[k] == every[k] for k in got)  # the same figures, byte for byte
        assert f"per-run figures for {len(names)}" in logs[-1]


def test_the_convergence_figure_leaves_out_what_has_no_optimum_and_says_why(plotted):
    """Every line it draws has an optimum; none is drawn below the floor as reached; the
    runs without one are counted by reason."""
    case, sweep_dir, _ = plotted
    sweep, _ = _sweep(sweep_dir)
    from gdlab.baseline import no_optimum_reason, optimum_objective

    lines = sweep_figs.lines_of(sweep.runs)
    fig = sweep_figs.convergence_figure(
        lines, lambda hp: optimum_objective(sweep.baseline, hp),
        lambda hp: no_optimum_reason(sweep.baseline, hp))
    ax = fig.axes[0]
    drawn = [p.vertices for c in ax.collections if isinstance(c, LineCollection)
             for p in c.get_paths()]
    with_optimum = [ln for ln in lines if optimum_objective(sweep.baseline,
                                                            ln.hyperparameters) is not None]
    assert len(drawn) == len(with_optimum)
    for v in drawn:
        y = v[:, 1][np.isfinite(v[:, 1])]
        assert np.all(y >= sweep_figs.GAP_FLOOR)
    notes = " ".join(t.get_text() for t in ax.texts) + ax.get_title()
    missing = len(lines) - len(with_optimum)
    if missing:
        assert f"{missing} configuration" in notes and "left out" in notes
    if missing and with_optimum:  # the count stands above the axes, off every curve
        renderer = fig.canvas.get_renderer()
        fig.draw(renderer)
        assert ax.title.get_window_extent(renderer).y0 >= \
            ax.get_window_extent(renderer).y1 - 1
        assert not any("left out" in t.get_text() for t in ax.texts)


def test_the_model_figure_says_when_scikit_learns_estimator_did_not_converge():
    baseline = {"references": {}, "default": {"": {
        "estimator": "MLPClassifier()", "converged": False, "arrays": {"w": [0.0]}}}}
    run = Run("r", Path("."), {"hyperparameters": {"l2": 0.0}, "model": "mlp_classifier"})
    assert draw.model_reference(baseline, run)[1] == \
        "scikit-learn's MLPClassifier(), stopped before converging"
    baseline["default"][""]["converged"] = True
    assert draw.model_reference(baseline, run)[1] == "scikit-learn's MLPClassifier()"


# --------------------------------------------------------------------------------------
# Parallel coordinates, importance
# --------------------------------------------------------------------------------------


def rows_of(values: dict[str, list], metric: list[float], diverged=()) -> list[dict]:
    """configs.csv-like rows (strings) with ``val_log_loss`` = ``metric``."""
    rows = []
    for i in range(len(metric)):
        row = {k: "" if v[i] is None else str(v[i]) if isinstance(v[i], str) else
               repr(v[i] if isinstance(v[i], int) else float(v[i])) for k, v in values.items()}
        row.update(config=f"c{i}", val_log_loss=repr(float(metric[i])),
                   diverged="true" if i in diverged else "false")
        rows.append(row)
    return rows


def test_importance_is_eta_squared_of_a_hand_worked_example():
    # optimizer splits the metric 1, 2 | 3, 4 (share 0.8); l2 splits it 1, 3 | 2, 4 (0.2);
    # the diverged fifth row takes no part
    rows = rows_of({"lr": [0.1] * 5, "optimizer": ["gd", "gd", "adam", "adam", "gd"],
                    "l2": [0.0, 0.1, 0.0, 0.1, 0.1]}, [1.0, 2.0, 3.0, 4.0, 99.0],
                   diverged={4})
    entries = views.importance_of(rows, "val_log_loss")
    got = {e["axis"]: e for e in entries}
    assert set(got) == {"optimizer", "l2"}  # lr does not vary
    assert got["optimizer"]["share"] == pytest.approx(0.8)
    assert got["l2"]["share"] == pytest.approx(0.2)
    assert got["l2"]["groups"] == 2 and not got["l2"]["binned"]
    assert got["l2"]["chance"] == pytest.approx(1 / 3)  # (2 - 1) / (4 - 1)
    assert [e["axis"] for e in entries] == ["optimizer", "l2"]


def test_importance_bins_a_drawn_axis_into_quantiles():
    rng = np.random.default_rng(0)
    lr = 10 ** rng.uniform(-4, 1, 40)
    metric = np.where(lr < np.median(lr), 1.0, 2.0) + 0.01 * rng.standard_normal(40)
    rows = rows_of({"lr": list(lr), "optimizer": ["gd", "adam"] * 20}, list(metric))
    entries = {e["axis"]: e for e in views.importance_of(rows, "val_log_loss",
                                                         {"lr": "loguniform"})}
    lr_entry = entries["lr"]
    assert lr_entry["binned"] and lr_entry["groups"] == 4  # 40 // 10 quantile bins
    groups = np.searchsorted(np.quantile(lr, [0.25, 0.5, 0.75]), lr, side="right")
    means = np.array([metric[groups == g].mean() for g in range(4)])
    counts = np.bincount(groups)
    want = np.sum(counts * (means - metric.mean()) ** 2) / np.sum((metric - metric.mean()) ** 2)
    assert lr_entry["share"] == pytest.approx(want) and lr_entry["share"] > 0.95
    assert entries["optimizer"]["share"] < 0.1  # it does not matter here
    # without the hint, forty distinct numbers are binned all the same
    assert views.importance_of(rows, "val_log_loss")[0]["groups"] == 4


def test_parallel_coordinates_draw_every_configuration_best_on_top():
    lrs = [0.001, 0.01, 0.1, 1.0, 10.0, 100.0]
    rows = rows_of({"lr": lrs, "batch_size": [None, 32] * 3, "optimizer": ["gd"] * 6},
                   [0.6, 0.5, 0.3, 0.2, 0.4, float("nan")], diverged={5})
    best = {"selection_metric": "val_log_loss", "run_name": "c3"}
    fig = views.parallel_coordinates_figure(rows, best, "test")
    ax = fig.axes[0]
    [lines] = [c for c in ax.collections if isinstance(c, LineCollection)]
    segments = lines.get_segments()
    assert len(segments) == len(rows)
    assert [t.get_text() for t in ax.get_xticklabels()][:2] == ["lr (log)", "batch_size"]
    by_lr = {round(s[0][1], 9): s for s in segments}
    heights = sorted(by_lr)
    assert np.allclose(np.diff(heights), 0.2)  # log scale: equal ratios, equal steps
    best_line = by_lr[heights[3]]  # lr = 1.0: the best configuration, on top
    assert best_line[-1][1] == pytest.approx(1.0)
    assert by_lr[heights[0]][-1][1] == pytest.approx(0.0)  # the worst healthy one
    assert by_lr[heights[5]][-1][1] > 1.0  # diverged: above the axis
    metric = [0.6, 0.5, 0.3, 0.2, 0.4]
    want = [mpl.colormaps["viridis_r"]((m - 0.2) / 0.4)[:3] for m in metric] + [(0.6,) * 3]
    got = lines.get_colors()[:, :3]
    by_row = {heights.index(round(s[0][1], 9)): i for i, s in enumerate(segments)}
    assert np.allclose([got[by_row[i]] for i in range(len(rows))], want, atol=0.01)
    thick = [ln for ln in ax.lines if ln.get_linewidth() > 3]
    assert len(thick) == 1 and np.allclose(thick[0].get_ydata(), best_line[:, 1])
    assert_png(render_png(fig), "parallel coordinates")
    rows_acc = [{**r, "val_accuracy": r["val_log_loss"]} for r in rows]
    fig = views.parallel_coordinates_figure(rows_acc, {"selection_metric": "val_accuracy"})
    [lines] = [c for c in fig.axes[0].collections if isinstance(c, LineCollection)]
    tops = {round(s[0][1], 9): s[-1][1] for s in lines.get_segments()}
    assert tops[sorted(tops)[0]] == pytest.approx(1.0)  # higher is better: 0.6 on top


# --------------------------------------------------------------------------------------
# A sweep with repeats
# --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def repeated(tmp_path_factory):
    """Logistic regression on moons with mini-batches (the seed orders them), 3 repeats."""
    root = tmp_path_factory.mktemp("repeats")
    split = split_dataset(make_synthetic("moons", 80, 2, 0.3, seed=3), test_size=0.25,
                          val_size=0.25, seed=4, stratify=True, standardize=True)
    config = {"seed": 5, "repeats": 3, "datasets": {"moons": {"task": "classification"}},
              "models": {"logistic_regression": {"grid": {
                  "lr": [0.1, 1.0], "l2": [0.0, 0.1], "epochs": [10], "batch_size": [8]}}}}
    specs = list(run_specs(config, "moons", "logistic_regression", "d", "c").values())
    write_sweep(root, split, specs, "log_loss")
    return root


def test_curves_of_a_configuration_are_the_mean_of_its_repeats_with_a_band(repeated):
    sweep = read_sweep(repeated, [repeated / "shards/0.json"])
    lines = sweep_figs.lines_of(sweep.runs)
    assert len(lines) == 4 and all(len(line.runs) == 3 for line in lines)
    for line in lines:  # three batch orders, three results
        assert len({r.metrics["val"]["log_loss"] for r in line.runs}) == 3
    fig = sweep_figs.learning_curves_figure(lines, "test")
    ax = fig.axes[0]
    bands = [c for c in ax.collections if isinstance(c, PolyCollection)]
    drawn = [path.vertices for c in ax.collections if isinstance(c, LineCollection)
             for path in c.get_paths()]
    assert len(bands) == 4 and len(drawn) == 4
    curves = {tuple(np.round(v[:, 1], 12)) for v in drawn}
    for line in lines:
        stack = np.array([r.history["train_objective"] for r in line.runs])
        assert tuple(np.round(stack.mean(axis=0), 12)) in curves
    stack = np.array([r.history["train_objective"] for r in lines[0].runs])
    lo, hi = sps.t.interval(0.95, 2, loc=stack.mean(axis=0), scale=sps.sem(stack, axis=0))
    verts = np.concatenate([b.get_paths()[0].vertices for b in bands])
    for y in (lo[-1], hi[-1]):
        assert np.any(np.isclose(verts[:, 1], y, rtol=1e-10))
    legend = [t.get_text() for leg in fig.legends for t in leg.get_texts()]
    assert "mean of 3 repeats, band: 95 % interval" in legend


def test_the_heatmap_shows_means_with_their_interval(repeated):
    sweep = read_sweep(repeated, [repeated / "shards/0.json"])
    fig = sweep_figs.heatmap_figure(sweep.configs, sweep.best, "test")
    texts = [t.get_text() for ax in fig.axes for t in ax.texts]
    assert len(texts) == 4 and all("\n±" in t for t in texts)
    for r in sweep.configs:
        mean = float(r["val_log_loss"])
        half = (float(r["val_log_loss_ci_high"]) - float(r["val_log_loss_ci_low"])) / 2
        assert f"{mean:.3g}\n±{half:.2g}" in texts
    assert "mean of 3 repeats" in fig.get_suptitle()
    assert len([p for ax in fig.axes for p in ax.patches if p.get_linewidth() == 2.5]) == 1


def test_a_search_sweep_draws_every_figure_but_the_heatmap(repeated, tmp_path):
    logs = []
    plot_into(repeated, tmp_path, top_k=1, log=logs.append, figures=SWEEP_FIGURES[1:],
              drawn={"lr": "loguniform"})
    best = read_json(repeated / "best.json")["run_name"]
    assert set(all_pngs(tmp_path)) == set(SWEEP_FIGURES[1:]) | {
        f"runs/{best}/{f}" for f in per_run_figures("classification_2d")}
    for name in SWEEP_FIGURES[1:]:
        assert_png_file(tmp_path / name)


@pytest.mark.parametrize("model, generator, d, k", [
    ("softmax_regression", "blobs", 2, 3),   # decision regions of three classes
    ("mlp_classifier", "moons", 2, 2),       # a non-linear boundary
    ("softmax_regression", "blobs", 4, 3),   # K x K confusion matrix
    ("mlp_regressor", "linear", 3, 0),       # predicted vs actual
    ("logistic_regression", "moons", 2, 2),  # the linear models too: no coef/intercept path
    ("linear_regression", "linear", 1, 0),
])
def test_every_model_is_drawn_through_the_one_predict_without_fitting(
        model, generator, d, k, tmp_path, monkeypatch):
    from gdlab.models import registry
    from gdlab.models.training import GradientDescentModel

    kw = {"n_classes": k} if k > 2 else {}
    split = split_dataset(make_synthetic(generator, 120, d, 0.3, seed=3, **kw),
                          test_size=0.25, val_size=0.25, seed=4, stratify=True,
                          standardize=True)
    grid = {"lr": [0.05], "epochs": [60]}
    [hp] = expand_grid(grid, model)
    specs = [{"dataset": generator, "model": model, "task": split.task,
              "run_name": run_name(hp, grid), "hyperparameters": hp, "seed": 5,
              "data_key": "k", "code_version": "c", "run_key": "r"}]
    write_sweep(tmp_path, split, specs, "mse" if split.task == "regression" else "log_loss")
    sweep, shorts = _sweep(tmp_path)
    [run] = sweep.runs
    calls = []
    predict = registry.predict
    monkeypatch.setattr(run_figs, "predict", lambda *a: calls.append(a[0]) or predict(*a))

    def no_fit(*args, **kwargs):
        raise AssertionError("a figure fitted a model")

    monkeypatch.setattr(GradientDescentModel, "fit", no_fit)
    fig = run_figs.model_figure(split, run, shorts[run.name],
                                draw.model_reference(sweep.baseline, run))
    assert calls and set(calls) == {model}  # every output came from the one predict
    title = fig.get_suptitle() + " ".join(ax.get_title() for ax in fig.axes)
    expected = ("Fitted line" if split.task == "regression" and d == 1 else
                "Predicted vs actual" if split.task == "regression" else
                ("Decision boundary" if k == 2 else "Decision regions") if d == 2 else
                "Confusion matrix")
    assert expected in title
    assert_png(render_png(fig), f"{model} {d}-D")
