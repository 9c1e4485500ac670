"""The sweep views (parallel coordinates, hyperparameter importance) and the figures of a
sweep with repeats (means with 95 % bands) or of a random search (no heatmap)."""

from __future__ import annotations

import matplotlib as mpl
import numpy as np
import pytest
from matplotlib.collections import LineCollection, PolyCollection
from scipy import stats as sps
from test_plots import SWEEP_FIGURES, all_pngs, assert_png, assert_png_file

from gdlab import plots
from gdlab import summary as S
from gdlab.baseline import baseline
from gdlab.data import make_synthetic, save_split, split_dataset
from gdlab.grid import run_specs
from gdlab.io import write_json, write_text
from gdlab.runfiles import run_dir
from gdlab.train import run as train_run


def rows_of(values: dict[str, list], metric: list[float], diverged=()) -> list[dict]:
    """configs.csv-like rows (strings) with the hyperparameters ``values`` and
    ``val_log_loss`` = ``metric``."""
    n = len(metric)
    rows = []
    for i in range(n):
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
    got = {e["axis"]: e for e in plots.importance(rows, "val_log_loss")}
    assert set(got) == {"optimizer", "l2"}  # lr does not vary
    assert got["optimizer"]["share"] == pytest.approx(0.8)
    assert got["l2"]["share"] == pytest.approx(0.2)
    assert got["l2"]["groups"] == 2 and not got["l2"]["binned"]
    assert got["l2"]["chance"] == pytest.approx(1 / 3)  # (2 - 1) / (4 - 1)
    assert [e["axis"] for e in plots.importance(rows, "val_log_loss")] == ["optimizer", "l2"]


def test_importance_bins_a_drawn_axis_into_quantiles():
    rng = np.random.default_rng(0)
    lr = 10 ** rng.uniform(-4, 1, 40)
    metric = np.where(lr < np.median(lr), 1.0, 2.0) + 0.01 * rng.standard_normal(40)
    rows = rows_of({"lr": list(lr), "optimizer": ["gd", "adam"] * 20}, list(metric))
    entries = {e["axis"]: e for e in plots.importance(rows, "val_log_loss",
                                                      {"lr": "loguniform"})}
    lr_entry = entries["lr"]
    assert lr_entry["binned"] and lr_entry["groups"] == 4  # 40 // 10 quantile bins
    # the same share by hand: the four quartiles of lr as groups
    groups = np.searchsorted(np.quantile(lr, [0.25, 0.5, 0.75]), lr, side="right")
    means = np.array([metric[groups == g].mean() for g in range(4)])
    counts = np.bincount(groups)
    want = np.sum(counts * (means - metric.mean()) ** 2) / np.sum((metric - metric.mean()) ** 2)
    assert lr_entry["share"] == pytest.approx(want) and lr_entry["share"] > 0.95
    assert entries["optimizer"]["share"] < 0.1  # it does not matter here
    # without the hint, forty distinct numbers are binned all the same
    assert plots.importance(rows, "val_log_loss")[0]["groups"] == 4


def test_parallel_coordinates_draw_every_configuration_best_on_top():
    lrs = [0.001, 0.01, 0.1, 1.0, 10.0, 100.0]
    rows = rows_of({"lr": lrs, "batch_size": [None, 32] * 3, "optimizer": ["gd"] * 6},
                   [0.6, 0.5, 0.3, 0.2, 0.4, float("nan")], diverged={5})
    best = {"selection_metric": "val_log_loss", "run_name": "c3"}
    fig = plots.parallel_coordinates_figure(rows, best, "test")
    ax = fig.axes[0]
    [lines] = [c for c in ax.collections if isinstance(c, LineCollection)]
    segments = lines.get_segments()
    assert len(segments) == len(rows)
    assert [t.get_text() for t in ax.get_xticklabels()][:2] == ["lr (log)", "batch_size"]
    # lr on a log scale: equal ratios, equal steps; the metric axis puts the best on top
    by_lr = {round(s[0][1], 9): s for s in segments}
    heights = sorted(by_lr)
    assert np.allclose(np.diff(heights), 0.2)
    best_line = by_lr[heights[3]]  # lr = 1.0: the best configuration
    assert best_line[-1][1] == pytest.approx(1.0)
    worst = by_lr[heights[0]]  # lr = 0.001: the worst healthy one, at the bottom
    assert worst[-1][1] == pytest.approx(0.0)
    assert by_lr[heights[5]][-1][1] > 1.0  # diverged: above the axis
    # coloured by the metric: viridis reversed (a loss: low is good) over its range,
    # 0.2 .. 0.6; the diverged configuration grey
    metric = [0.6, 0.5, 0.3, 0.2, 0.4]
    want = [mpl.colormaps["viridis_r"]((m - 0.2) / 0.4)[:3] for m in metric] + [(0.6,) * 3]
    got = lines.get_colors()[:, :3]
    by_row = {heights.index(round(s[0][1], 9)): i for i, s in enumerate(segments)}
    # within one of the colormap's 256 steps (a value on a step's edge may round either way)
    assert np.allclose([got[by_row[i]] for i in range(len(rows))], want, atol=0.01)
    thick = [ln for ln in ax.lines if ln.get_linewidth() > 3]
    assert len(thick) == 1 and np.allclose(thick[0].get_ydata(), best_line[:, 1])
    assert_png(plots.render_png(fig), "parallel coordinates")
    # higher is better: accuracy's best is on top too
    rows_acc = [{**r, "val_accuracy": r["val_log_loss"]} for r in rows]
    fig = plots.parallel_coordinates_figure(rows_acc, {"selection_metric": "val_accuracy"})
    [lines] = [c for c in fig.axes[0].collections if isinstance(c, LineCollection)]
    tops = {round(s[0][1], 9): s[-1][1] for s in lines.get_segments()}
    assert tops[sorted(tops)[0]] == pytest.approx(1.0)  # lr 0.001 has 0.6, the highest


# --------------------------------------------------------------------------------------
# A sweep with repeats, built with gdlab itself
# --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def repeated(tmp_path_factory):
    """Logistic regression on moons with mini-batches (the seed orders them), 3 repeats."""
    root = tmp_path_factory.mktemp("repeats")
    split = split_dataset(make_synthetic("moons", 80, 2, 0.3, seed=3), test_size=0.25,
                          val_size=0.25, seed=4, stratify=True, standardize=True)
    save_split(root / "split.npz", split)
    config = {"seed": 5, "repeats": 3, "datasets": {"moons": {"task": "classification"}},
              "models": {"logistic_regression": {"grid": {
                  "lr": [0.1, 1.0], "l2": [0.0, 0.1], "epochs": [10], "batch_size": [8]}}}}
    specs = run_specs(config, "moons", "logistic_regression", "d", "c")
    runs = [train_run(spec, root / "split.npz", run_dir(root, name))
            for name, spec in specs.items()]
    base = baseline(split, "logistic_regression", [r["hyperparameters"] for r in runs])
    best = S.select_best(runs, "log_loss")
    write_json(root / "baseline.json", base)
    write_text(root / "configs.csv", S.to_csv(S.config_table(runs, base, best)))
    write_json(root / "best.json", S.best_record(best, base, "log_loss", "moons",
                                                 "logistic_regression", runs))
    return root, runs


def test_repeats_differ_in_batch_order_only(repeated):
    _, runs = repeated
    by_config = S.configurations(runs)
    assert len(by_config) == 4 and all(len(g) == 3 for g in by_config.values())
    for group in by_config.values():
        losses = [r["metrics"]["val"]["log_loss"] for r in group]
        assert len(set(losses)) == 3  # three batch orders, three results


def test_curves_of_a_configuration_are_the_mean_of_its_repeats_with_a_band(repeated):
    root, _ = repeated
    runs = [plots.load_run(*(run_dir(root, r["run_name"]) / f for f in (
        "history.csv", "model.npz", "metrics.json"))) for r in repeated[1]]
    lines = plots.with_repeats(runs)
    assert len(lines) == 4 and all(len(line.repeats) == 3 for line in lines)
    fig = plots.learning_curves_figure(lines, "test")
    ax = fig.axes[0]
    bands = [c for c in ax.collections if isinstance(c, PolyCollection)]
    drawn = [path.vertices for c in ax.collections if isinstance(c, LineCollection)
             for path in c.get_paths()]
    assert len(bands) == 4 and len(drawn) == 4
    # each drawn line is a configuration's mean; its band is the t interval per epoch
    curves = {tuple(np.round(v[:, 1], 12)) for v in drawn}
    for line in lines:
        stack = np.array([r.history["train_objective"] for r in line.repeats])
        assert tuple(np.round(stack.mean(axis=0), 12)) in curves
    one = lines[0]
    stack = np.array([r.history["train_objective"] for r in one.repeats])
    lo, hi = sps.t.interval(0.95, 2, loc=stack.mean(axis=0), scale=sps.sem(stack, axis=0))
    verts = np.concatenate([b.get_paths()[0].vertices for b in bands])
    for y in (lo[-1], hi[-1]):
        assert np.any(np.isclose(verts[:, 1], y, rtol=1e-10))
    legend = [t.get_text() for leg in fig.legends for t in leg.get_texts()]
    assert "mean of 3 repeats, band: 95 % interval" in legend
    assert plots.with_repeats(lines[0].repeats[:1]) == lines[0].repeats[:1]  # one run: as is


def test_the_heatmap_shows_means_with_their_interval(repeated):
    root, _ = repeated
    rows = plots.read_summary(root / "configs.csv")
    best = plots.read_json(root / "best.json")
    fig = plots.heatmap_figure(rows, best, "test")
    texts = [t.get_text() for ax in fig.axes for t in ax.texts]
    assert len(texts) == 4 and all("\n±" in t for t in texts)
    for r in rows:
        mean = float(r["val_log_loss"])
        half = (float(r["val_log_loss_ci_high"]) - float(r["val_log_loss_ci_low"])) / 2
        assert f"{mean:.3g}\n±{half:.2g}" in texts
    assert "mean of 3 repeats" in fig.get_suptitle()
    frames = [p for ax in fig.axes for p in ax.patches if p.get_linewidth() == 2.5]
    assert len(frames) == 1


def test_a_search_sweep_draws_every_figure_but_the_heatmap(repeated, tmp_path):
    root, runs = repeated
    out = tmp_path / "plots"
    logs = []
    plots.plot_sweep_files(root / "split.npz", root / "configs.csv", root / "best.json",
                           root / "baseline.json", root, [r["run_name"] for r in runs], None,
                           out / "learning_curves.png", out / "convergence.png",
                           out / "parallel_coordinates.png", out / "importance.png",
                           out / "runs", drawn={"lr": "loguniform"}, log=logs.append)
    best = plots.read_json(root / "best.json")["run_name"]
    assert set(all_pngs(out)) == {f for f in SWEEP_FIGURES if f != "heatmap.png"} | {
        f"runs/{best}/{f}" for f in plots.RUN_FIGURES}
    for name in SWEEP_FIGURES[1:]:
        assert_png_file(out / name)
    assert "sweep views" in logs[-1]
