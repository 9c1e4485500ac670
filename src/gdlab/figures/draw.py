"""What a plot job draws: every figure of one sweep, from its files, in one process
(importing Matplotlib costs about a second, drawing a figure tens of milliseconds); and
the lesson's figure with its numbers.

Per sweep (``plots/``): the heatmap (a grid's only: a search's values form no grid), the
learning curves and the convergence of every run, the parallel coordinates and the
importance of every configuration (:data:`gdlab.names.SWEEP_FIGURES`). Per run
(``plots/runs/<run name>/``), for the ``top_k`` best only (MLflow's chart view already
plots every run's curves): its learning curves and what its model learned
(:data:`gdlab.names.RUN_FIGURES`), and on 2-D classification its boundary as it learns
(:data:`gdlab.names.BOUNDARY_FIGURE`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from pathlib import Path

from gdlab.baseline import default_of, no_optimum_reason, optimum_objective
from gdlab.data.core import Split, load_split
from gdlab.figures.lesson import lesson_figure
from gdlab.figures.race import boundary_epochs_figure, lesson_cut_figure, race_figure
from gdlab.figures.run import learning_curve_figure, model_figure
from gdlab.figures.search_history import optimisation_history_figure
from gdlab.figures.style import render_png, save, title_of
from gdlab.figures.sweep import (
    best_config,
    convergence_figure,
    heatmap_figure,
    learning_curves_figure,
    lines_of,
)
from gdlab.figures.views import importance_figure, parallel_coordinates_figure
from gdlab.grid import reference_key
from gdlab.io import write_bytes, write_json
from gdlab.lesson import constant_log_loss, lesson_pairs, lesson_record
from gdlab.metrics import metric_name
from gdlab.names import BOUNDARY_FIGURE, RUN_FIGURES
from gdlab.runfiles import Run, Sweep, read_sweep
from gdlab.runnames import short_names
from gdlab.summary import top_names


def run_figure_path(runs_dir, run_name: str, figure: str) -> Path:
    """``runs/<run name>/<figure>``: the run name's slashes become directories."""
    return Path(runs_dir, *run_name.split("/"), figure)


def figure_runs(runs: list[Run], metric: str, top_k: int | str) -> list[Run]:
    """The runs that get per-run figures: the ``top_k`` best on validation, or ``"all"``
    (ranked as the best run is chosen: :func:`gdlab.summary.top_names`)."""
    if top_k == "all":
        return sorted(runs, key=lambda r: r.name)
    by_name = {r.name: r for r in runs}
    return [by_name[n] for n in top_names([r.result for r in runs], metric, int(top_k))]


def model_reference(baseline: dict, run: Run) -> tuple[dict, str] | None:
    """What the model figure draws beside a run: the optimum of its objective when there
    is one (the same model, exactly), else scikit-learn's default estimator."""
    entry = baseline.get("references", {}).get(reference_key(run.hyperparameters)) or {}
    if entry.get("optimum"):
        label = ("closed form (exact)" if run.model == "linear_regression"
                 else "scikit-learn: the optimum of the same objective")
        return entry["optimum"]["arrays"], label
    default = default_of(baseline, run.hyperparameters)
    if default is None:
        return None
    stopped = "" if default.get("converged", True) else ", stopped before converging"
    return default["arrays"], f"scikit-learn's {default['estimator']}{stopped}"


def plot_sweep(split: Split, sweep: Sweep, figures: dict[str, str | None], runs_dir,
               top_k: int | str = 1, drawn: dict[str, str] | None = None,
               log: Callable[[str], None] | None = None) -> dict[str, float]:
    """Write every figure of one sweep; returns seconds spent per kind of figure.

    ``figures``: figure file name -> path to write (None or missing: not drawn, e.g. a
    search's heatmap). ``drawn``: the axes a search draws from a range
    (:func:`gdlab.grid.drawn_axes`).
    """
    log = log or (lambda _msg: None)
    best, baseline, rows = sweep.best, sweep.baseline, sweep.configs
    title = title_of(sweep.dataset, sweep.model)
    drawn = drawn or {}
    lines = lines_of(sweep.runs)
    best_name = best_config(best)
    times = {}

    def optimum(hp: dict) -> float | None:
        return optimum_objective(baseline, hp)

    def why_not(hp: dict) -> str | None:
        return no_optimum_reason(baseline, hp)

    t = time.perf_counter()
    draw = {
        "heatmap.png": lambda: heatmap_figure(rows, best, title),
        "learning_curves.png": lambda: learning_curves_figure(lines, title, best_name, drawn),
        "convergence.png": lambda: convergence_figure(lines, optimum, why_not, title,
                                                      best_name, drawn),
        "parallel_coordinates.png": lambda: parallel_coordinates_figure(rows, best, title,
                                                                        drawn),
        "importance.png": lambda: importance_figure(rows, best, title, drawn),
    }
    for name, path in figures.items():
        if path is not None:
            save(draw[name](), path)
    times["sweep figures"] = time.perf_counter() - t

    t = time.perf_counter()
    Path(runs_dir).mkdir(parents=True, exist_ok=True)
    metric = metric_name(str(best.get("selection_metric", "")))
    chosen = figure_runs(sweep.runs, metric, top_k) if best.get("run_name") else []
    shorts = short_names([r.result for r in sweep.runs])
    curve_fig = model_fig = None
    for run in chosen:
        curve_fig = learning_curve_figure(run, shorts[run.name], optimum(run.hyperparameters),
                                          fig=curve_fig)
        model_fig = model_figure(split, run, shorts[run.name],
                                 model_reference(baseline, run), fig=model_fig)
        for name, fig in zip(RUN_FIGURES, (curve_fig, model_fig), strict=True):
            write_bytes(run_figure_path(runs_dir, run.name, name), render_png(fig))
        if split.task == "classification" and split.n_features == 2:
            write_bytes(run_figure_path(runs_dir, run.name, BOUNDARY_FIGURE),
                        render_png(boundary_epochs_figure(split, run, shorts[run.name])))
    times["run figures"] = time.perf_counter() - t
    log(f"{len(sweep.runs)} runs, per-run figures for {len(chosen)}: "
        + ", ".join(f"{k} {v:.2f} s" for k, v in times.items()))
    return times


def plot_sweep_files(split_path, sweep_dir, manifests: Iterable, figures: dict[str, str | None],
                     runs_dir, top_k: int | str = 1, drawn: dict[str, str] | None = None,
                     log: Callable[[str], None] | None = None) -> dict[str, float]:
    """:func:`plot_sweep` from files: the sweep's shard ``manifests`` name its runs."""
    return plot_sweep(load_split(split_path), read_sweep(sweep_dir, manifests), figures,
                      runs_dir, top_k=top_k, drawn=drawn, log=log)


def plot_lesson_files(split_path, sweep_dir, manifests: Iterable, figure_path,
                      record_path, race_path=None, cut_path=None) -> dict:
    """The lesson's figure and its numbers (``lesson.json``, :func:`gdlab.lesson.
    lesson_record`) for a logistic-regression sweep over both losses; with ``race_path``
    and ``cut_path``, the optimizers' race and the lesson closer (:mod:`gdlab.figures.
    race`) on the same split and pair."""
    sweep = read_sweep(sweep_dir, manifests)
    split, pairs = load_split(split_path), lesson_pairs(sweep.runs)
    record = lesson_record(sweep.runs, constant_log_loss(split.y_train, split.y_val))
    title = title_of(sweep.dataset, sweep.model)
    save(lesson_figure(split, pairs, record, title), figure_path)
    if race_path is not None:
        save(race_figure(split, title=title), race_path)
    if cut_path is not None:
        shown = pairs[record["shown"]] if record["shown"] is not None else None
        save(lesson_cut_figure(split, shown, title), cut_path)
    write_json(record_path, record)
    return record


def plot_history_files(sweep_dir, figure_path, batch: int,
                       n_startup_trials: int | None = None) -> None:
    """A TPE sweep's optimisation history from its ``configs.csv`` and ``best.json``."""
    sweep = Sweep(Path(sweep_dir), [])
    save(optimisation_history_figure(sweep.configs, sweep.best, batch,
                                     title_of(sweep.dataset, sweep.model), n_startup_trials),
         figure_path)
