"""Figures of runs and sweeps: learning curves, what a model learned, heatmaps, convergence.

This is the library side of the ``plot`` pipeline step: one process draws every figure
of a sweep (importing Matplotlib costs about a second, drawing a figure tens of
milliseconds). It uses Matplotlib's object API on the Agg canvas directly, never
``pyplot``: no display is needed, no global figure registry grows, and no backend
setting of the user's can interfere.

Every figure is byte-for-byte reproducible: Matplotlib's built-in defaults plus
:data:`STYLE` (the user's ``matplotlibrc`` is ignored), a fixed DPI, and PNG metadata
without the Matplotlib version or a timestamp.

Per run (``runs/<run name>/``):

* ``learning_curve.png``: training objective and validation loss per epoch, the
  divergence point marked.
* ``model.png``: what the model learned. 1-D regression: the data and the fitted line
  against the closed-form solution; 2-D classification: probability map, contours and
  decision boundary over the points; more features: predicted against actual
  (regression) or ROC curve and confusion matrix (classification), on the test part.

Per sweep: ``heatmap.png`` (validation selection metric over the grid; not for a random
search, whose values do not form a grid), ``learning_curves.png`` (all runs, coloured by
learning rate), ``convergence.png`` (objective minus scikit-learn's optimum per epoch),
``parallel_coordinates.png`` (every configuration a line through its hyperparameters to
its validation metric) and ``importance.png`` (the share of the metric's variance each
hyperparameter explains, :func:`importance`).

With repeats (several runs of one configuration, different seeds) the sweep figures show
each configuration's mean: the heatmap's cells and the parallel coordinates give the mean
validation metric (the heatmap adds the 95 % interval's half-width), the curves are the
mean per epoch with the 95 % interval as a band.
"""

from __future__ import annotations

import csv
import functools
import io
import itertools
import math
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path

import matplotlib as mpl
import numpy as np
from matplotlib import colors as mcolors
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import LineCollection
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties
from matplotlib.lines import Line2D
from matplotlib.patches import Patch, Rectangle
from matplotlib.ticker import MaxNLocator

from gdlab import metrics as M
from gdlab.data.core import Split, load_split
from gdlab.grid import HYPERPARAMETERS, reference_key
from gdlab.io import read_json, write_bytes
from gdlab.losses import sigmoid
from gdlab.models.registry import predict
from gdlab.runfiles import read_history, run_dir
from gdlab.stats import chance_share, mean_band, quantile_bins, variance_explained
from gdlab.summary import ranked_runs

__all__ = [
    "DPI",
    "RUN_FIGURES",
    "Run",
    "STYLE",
    "convergence_figure",
    "heatmap_figure",
    "importance",
    "importance_figure",
    "learning_curve_figure",
    "learning_curves_figure",
    "load_run",
    "model_figure",
    "parallel_coordinates_figure",
    "plot_sweep",
    "plot_sweep_files",
    "read_summary",
    "with_repeats",
    "render_png",
]

#: resolution of every PNG (pixels per inch)
DPI = 90
#: file names of the per-run figures inside ``runs/<run name>/``
RUN_FIGURES = ("learning_curve.png", "model.png")
#: more combinations of the other hyperparameters than this: one line style, no legend
MAX_LINE_STYLES = 8
#: the gap to scikit-learn's optimum is drawn down to this floor (it can be 0 or below)
GAP_FLOOR = 1e-16

#: rcParams on top of Matplotlib's built-in defaults
STYLE = {
    "font.size": 9.0,
    "axes.titlesize": 10.0,
    "axes.labelsize": 9.0,
    "legend.fontsize": 8.0,
    "legend.framealpha": 0.85,
    "xtick.labelsize": 8.0,
    "ytick.labelsize": 8.0,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "grid.linewidth": 0.6,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "figure.dpi": float(DPI),
    "savefig.dpi": float(DPI),
    "image.interpolation": "nearest",
}

#: models with one weight vector and an intercept, drawn with their line or boundary
LINEAR_MODELS = ("linear_regression", "logistic_regression")

_DIVERGED_COLOR = "#d62728"
_TRAIN_COLOR, _TEST_COLOR = "#1f77b4", "#ff7f0e"
_CLASS_COLORS = ("#2166ac", "#b2182b")
_LINESTYLES = ("-", "--", ":", "-.")
# plasma without its palest yellow, which vanishes on white
_LR_CMAP = mcolors.ListedColormap(mpl.colormaps["plasma"](np.linspace(0.0, 0.85, 256)),
                                  name="plasma_trunc")


# --------------------------------------------------------------------------------------
# Data
# --------------------------------------------------------------------------------------


@dataclass
class Run:
    """One finished run, as its files describe it.

    ``coef`` and ``intercept`` act on the split's (already standardised) features.
    """

    name: str
    hyperparameters: dict
    history: dict[str, np.ndarray]
    coef: np.ndarray
    intercept: float
    diverged: bool = False
    dataset: str = ""
    model: str = ""
    metrics: dict = field(default_factory=dict)
    #: every array of its model.npz (what :func:`gdlab.models.registry.predict` reads)
    arrays: dict = field(default_factory=dict)
    seed: int = 0
    #: its configuration (the run name without ``/repeat~r``) and repeat number
    config: str = ""
    repeat: int = 0
    #: a configuration's mean drawn by the sweep figures: its repeats (see :func:`with_repeats`)
    repeats: list = field(default_factory=list)

    @property
    def lr(self) -> float:
        return float(self.hyperparameters["lr"])

    @property
    def l2(self) -> float:
        return float(self.hyperparameters.get("l2") or 0.0)

    @property
    def fit_intercept(self) -> bool:
        return bool(self.hyperparameters.get("fit_intercept", True))


def load_run(history_path, model_path, metrics_path) -> Run:
    """Read a run's ``history.csv``, ``model.npz`` and ``metrics.json``.

    ``model_path`` None reads the run without its model: the sweep figures need only
    histories and metrics, and opening a thousand ``.npz`` files costs seconds.
    """
    info = read_json(metrics_path)
    run = Run(
        name=info["run_name"], hyperparameters=info["hyperparameters"],
        history=read_history(history_path), coef=np.empty(0), intercept=float("nan"),
        diverged=bool(info.get("diverged", False)),
        dataset=info.get("dataset", ""), model=info.get("model", ""),
        metrics=info.get("metrics", {}), seed=int(info.get("seed", 0)),
        config=info.get("config", info["run_name"]), repeat=int(info.get("repeat", 0)),
    )
    return run if model_path is None else with_model(run, model_path)


def with_model(run: Run, model_path) -> Run:
    """``run`` with the arrays of its ``model.npz``."""
    from gdlab.io import load_npz

    weights = load_npz(model_path)
    if run.model not in LINEAR_MODELS:
        return replace(run, arrays=weights)
    return replace(run, arrays=weights, intercept=float(weights["intercept"]),
                   coef=np.asarray(weights["coef"], dtype=np.float64).ravel())


def with_repeats(runs: list[Run]) -> list[Run]:
    """The sweep figures' lines: ``runs`` themselves when every configuration has one
    run, else one :class:`Run` per configuration holding its repeats (``repeats``),
    named after the configuration, diverged if any repeat diverged."""
    groups: dict[str, list[Run]] = {}
    for r in sorted(runs, key=lambda r: (r.config or r.name, r.repeat)):
        groups.setdefault(r.config or r.name, []).append(r)
    if all(len(g) == 1 for g in groups.values()):
        return runs
    return [Run(name=name, hyperparameters=g[0].hyperparameters, history=g[0].history,
                coef=g[0].coef, intercept=g[0].intercept,
                diverged=any(r.diverged for r in g), dataset=g[0].dataset,
                model=g[0].model, config=name, repeats=g)
            for name, g in groups.items()]


def read_summary(path) -> list[dict[str, str]]:
    """The rows of a sweep's ``summary.csv`` or ``configs.csv`` (values stay strings)."""
    with open(path, encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


# --------------------------------------------------------------------------------------
# Rendering
# --------------------------------------------------------------------------------------


def _styled(func: Callable) -> Callable:
    """Run ``func`` under Matplotlib's defaults plus :data:`STYLE`, whatever the user's rc."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        with mpl.rc_context():
            mpl.rcdefaults()
            mpl.rcParams.update(STYLE)
            return func(*args, **kwargs)

    return wrapper


def _new_figure(width: float, height: float, constrained: bool = True) -> Figure:
    """A figure on an Agg canvas.

    Sweep figures use constrained layout (their size depends on the grid); per-run figures,
    drawn dozens of times per sweep, have fixed margins (see :func:`_margins`) instead:
    constrained layout costs an extra layout pass, about 40% of the time of a small figure.
    So does the heatmap, whose panels multiply that pass (:func:`_heatmap_layout`).
    """
    fig = Figure(figsize=(width, height), dpi=DPI,
                 layout="constrained" if constrained else "none")
    FigureCanvasAgg(fig)
    if constrained:
        fig.get_layout_engine().set(h_pad=0.06, w_pad=0.06)
    return fig


def _run_figure(fig: Figure | None, width: float, height: float) -> Figure:
    """``fig`` emptied for reuse (one figure object serves every run of a sweep), or a new one."""
    if fig is None or tuple(fig.get_size_inches()) != (width, height):
        return _new_figure(width, height, constrained=False)
    fig.clear()
    return fig


def _margins(fig: Figure, left: float = 0.8, right: float = 0.2, bottom: float = 0.55,
             top: float = 0.62, wspace: float | None = None,
             hspace: float | None = None) -> None:
    """Fixed margins, in inches (room for tick labels, axis labels and a two-line title);
    ``wspace`` and ``hspace`` as :meth:`Figure.subplots_adjust` takes them."""
    w, h = fig.get_size_inches()
    fig.subplots_adjust(left=left / w, right=1 - right / w, bottom=bottom / h, top=1 - top / h,
                        wspace=wspace, hspace=hspace)


@_styled
def render_png(fig: Figure) -> bytes:
    """The PNG bytes of ``fig``; no timestamp or version in them, so they are reproducible."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI, metadata={"Software": None},
                facecolor="white")
    return buf.getvalue()


def _save(fig: Figure, path) -> None:
    write_bytes(path, render_png(fig))


# --------------------------------------------------------------------------------------
# Small helpers
# --------------------------------------------------------------------------------------


def _finite(a) -> np.ndarray:
    """A float copy of ``a`` with non-finite values replaced by NaN (Matplotlib skips them)."""
    a = np.array(a, dtype=np.float64)
    a[~np.isfinite(a)] = np.nan
    return a


def _wants_log(values, ratio: float = 20.0) -> bool:
    """Log scale when every finite value is positive and they span more than ``ratio``."""
    v = np.asarray(values, dtype=np.float64)
    v = v[np.isfinite(v)]
    return bool(v.size) and bool(np.all(v > 0)) and v.max() / v.min() >= ratio


def _fmt(v) -> str:
    if isinstance(v, float):
        return f"{v:g}"
    return "none" if v is None else str(v)


def _run_title(run: Run) -> str:
    where = " / ".join(p for p in (run.dataset, run.model) if p)
    return f"{where}\n{run.name}" if where else run.name


def _note(ax, text: str, y: float = 0.5, color: str = "0.2") -> None:
    ax.text(0.5, y, text, transform=ax.transAxes, ha="center", va="center", fontsize=8,
            color=color, bbox={"boxstyle": "round", "fc": "white", "ec": "0.7", "alpha": 0.9},
            zorder=10)


def _decision(X: np.ndarray, coef: np.ndarray, intercept: float) -> np.ndarray:
    with np.errstate(all="ignore"):
        return X @ coef + intercept


def _weights_finite(run: Run) -> bool:
    return bool(np.all(np.isfinite(run.coef)) and math.isfinite(run.intercept))


# --------------------------------------------------------------------------------------
# Per run: learning curve
# --------------------------------------------------------------------------------------


@_styled
def learning_curve_figure(run: Run, optimum: float | None = None,
                          fig: Figure | None = None) -> Figure:
    """Training objective and validation loss per epoch of one run.

    ``optimum`` (scikit-learn's objective for the run's ``l2``) is drawn as a reference
    line. A diverged run's last epoch (where its objective blew up or stopped being
    finite) is marked.
    """
    fig = _run_figure(fig, 6.0, 3.8)
    _margins(fig)
    ax = fig.add_subplot()
    h = run.history
    epochs = np.asarray(h["epoch"])
    series = [("training objective", h["train_objective"], "C0")]
    if "val_loss" in h:
        series.append(("validation loss", h["val_loss"], "C1"))
    marker = "o" if epochs.size <= 30 else None
    shown = []
    for label, values, color in series:
        y = _finite(values)
        shown.append(y)
        ax.plot(epochs, y, color=color, lw=1.6, marker=marker, ms=3, label=label)
    if optimum is not None and math.isfinite(optimum):
        ax.axhline(optimum, color="0.25", ls=":", lw=1.2,
                   label=f"scikit-learn optimum ({optimum:.4g})")
        shown.append(np.array([optimum]))
    values = np.concatenate(shown) if shown else np.array([])
    if _wants_log(values):
        ax.set_yscale("log")
    if run.diverged and epochs.size:
        last = int(epochs[-1])
        ax.axvline(last, color=_DIVERGED_COLOR, ls="--", lw=1.2,
                   label=f"diverged at epoch {last}")
        final = np.asarray(h["train_objective"], dtype=np.float64)[-1]
        if math.isfinite(final):
            ax.plot([last], [final], "X", color=_DIVERGED_COLOR, ms=9, zorder=5)
        else:
            _note(ax, f"objective not finite at epoch {last}", y=0.9, color=_DIVERGED_COLOR)
    if not np.any(np.isfinite(values)):
        _note(ax, "no finite values to draw")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss" + (" (log scale)" if ax.get_yscale() == "log" else ""))
    ax.set_title(f"Learning curve: {_run_title(run)}")
    ax.legend(loc="best")
    return fig


# --------------------------------------------------------------------------------------
# Per run: what the model learned
# --------------------------------------------------------------------------------------


def _reference(split: Split, run: Run, baseline: dict | None):
    """(coef, intercept, label) of the exact solution for the run's l2, or None.

    Taken from the baseline job's numbers: no figure fits a model. For regression these
    are scikit-learn's exact solves (``LinearRegression``, ``Ridge(solver="cholesky")``).
    """
    entry = None if baseline is None else \
        baseline.get("references", {}).get(reference_key(run.hyperparameters))
    if entry is None:
        return None
    label = "closed form (exact)" if split.task == "regression" else "scikit-learn"
    return (np.asarray(entry["coef"], dtype=np.float64), float(entry["intercept"]), label)


def _padded(lo: float, hi: float, frac: float = 0.08) -> tuple[float, float]:
    span = hi - lo if hi > lo else max(abs(hi), 1.0)
    return lo - frac * span, hi + frac * span


def _regression_1d(fig: Figure, split: Split, run: Run, ref) -> None:
    _margins(fig)
    ax = fig.add_subplot()
    m, s = float(split.x_mean[0]), float(split.x_scale[0])
    name = split.feature_names[0]
    for X, y, color, mk, label in ((split.X_train, split.y_train, _TRAIN_COLOR, "o", "train"),
                                   (split.X_test, split.y_test, _TEST_COLOR, "^", "test")):
        ax.scatter(X[:, 0] * s + m, y, s=14, c=color, marker=mk, alpha=0.65, lw=0,
                   label=f"{label} data ({len(y)})")
    xs = np.concatenate([split.X_train[:, 0], split.X_test[:, 0]])
    grid = np.linspace(xs.min(), xs.max(), 2)
    ys = np.concatenate([split.y_train, split.y_test])
    ylim = _padded(float(ys.min()), float(ys.max()))

    def slope_text(coef, b):  # in the units of the raw feature
        return f"y = {coef / s:.3g}·x {'+' if b - coef * m / s >= 0 else '−'} " \
               f"{abs(b - coef * m / s):.3g}"

    if ref is not None:
        coef, b, label = ref
        ax.plot(grid * s + m, grid * coef[0] + b, color="0.1", ls="--", lw=1.6,
                label=f"{label}: {slope_text(coef[0], b)}", zorder=4)
    if _weights_finite(run):
        with np.errstate(all="ignore"):
            line = grid * run.coef[0] + run.intercept
        ax.plot(grid * s + m, line, color=_DIVERGED_COLOR if run.diverged else "C2", lw=2.2,
                alpha=0.9, label=f"gradient descent: {slope_text(run.coef[0], run.intercept)}",
                zorder=3)
        if run.diverged or not (ylim[0] <= line.min() and line.max() <= ylim[1]):
            _note(ax, "gradient-descent line leaves the chart"
                  + (" (run diverged)" if run.diverged else ""), y=0.06,
                  color=_DIVERGED_COLOR)
    else:
        _note(ax, "gradient-descent weights are not finite (run diverged): no line",
              y=0.06, color=_DIVERGED_COLOR)
    ax.set_ylim(*ylim)
    ax.set_xlabel(name)
    ax.set_ylabel("target y")
    ax.set_title(f"Fitted line: {_run_title(run)}")
    ax.legend(loc="upper left")


def _finish_predicted_vs_actual(ax, run: Run, lo: float, hi: float) -> None:
    """The square frame, labels and legend both predicted-vs-actual figures share."""
    ax.set_xlim(lo, hi)
    ax.set_ylim(lo, hi)
    ax.set_aspect("equal", adjustable="box")
    ax.set_xlabel("actual y (test)")
    ax.set_ylabel("predicted y")
    ax.set_title(f"Predicted vs actual, test part: {_run_title(run)}")
    ax.legend(loc="lower right")


def _regression_nd(fig: Figure, split: Split, run: Run, ref) -> None:
    _margins(fig)
    ax = fig.add_subplot()
    y = split.y_test
    lo, hi = _padded(float(y.min()), float(y.max()))
    if ref is not None:
        pred_ref = _decision(split.X_test, ref[0], ref[1])
        r2_ref = M.r2(y, pred_ref)
        ax.scatter(y, pred_ref, s=16, marker="x", c="0.45", lw=0.9,
                   label=f"{ref[2]} (R² = {r2_ref:.3f})", zorder=2)
        lo, hi = min(lo, float(pred_ref.min())), max(hi, float(pred_ref.max()))
    ax.plot([lo, hi], [lo, hi], color="0.1", ls=":", lw=1.0, label="perfect prediction")
    pred = _decision(split.X_test, run.coef, run.intercept)
    ok = np.isfinite(pred)
    if ok.any():
        r2 = M.r2(y[ok], pred[ok]) if ok.all() else float("nan")
        ax.scatter(y[ok], pred[ok], s=14, c=_DIVERGED_COLOR if run.diverged else "C0",
                   alpha=0.7, lw=0, label=f"gradient descent (R² = {r2:.3g})", zorder=3)
    off = int(np.sum(~ok | (pred < lo) | (pred > hi)))
    if off:
        _note(ax, f"{off} of {y.size} predictions off the chart"
              + (" (run diverged)" if run.diverged else ""), y=0.9, color=_DIVERGED_COLOR)
    _finish_predicted_vs_actual(ax, run, lo, hi)


def _figure_grid(split: Split, n: int = 160):
    """The n x n grid a 2-D model figure evaluates: ``(points, xx, rx, ry)`` — the points
    (n*n, 2) in the standardised space the models see, their first coordinate as a mesh
    (for its shape), and both coordinates as meshes in raw units (what the axes show)."""
    m, s = split.x_mean, split.x_scale
    X = np.vstack([split.X_train, split.X_test])
    lo, hi = X.min(axis=0), X.max(axis=0)
    pad = 0.08 * np.where(hi > lo, hi - lo, 1.0)
    xx, yy = np.meshgrid(np.linspace(lo[0] - pad[0], hi[0] + pad[0], n),
                         np.linspace(lo[1] - pad[1], hi[1] + pad[1], n))
    return (np.column_stack([xx.ravel(), yy.ravel()]), xx, xx * s[0] + m[0],
            yy * s[1] + m[1])


def _class_names(split: Split) -> tuple[str, str]:
    classes = split.classes or (0, 1)
    return str(classes[0]), str(classes[1])


def _classification_2d(fig: Figure, split: Split, run: Run, ref) -> None:
    _margins(fig, right=0.85, bottom=0.95)
    ax = fig.add_subplot()
    G, xx, rx, ry = _figure_grid(split)
    m, s = split.x_mean, split.x_scale  # the data points in raw units too
    extent = (rx[0, 0], rx[0, -1], ry[0, 0], ry[-1, 0])
    handles = []
    z = _decision(G, run.coef, run.intercept).reshape(xx.shape)
    if np.all(np.isfinite(z)):
        p = sigmoid(z)
        im = ax.imshow(p, extent=extent, origin="lower", cmap="RdBu_r", vmin=0.0, vmax=1.0,
                       alpha=0.45, aspect="auto", zorder=0)
        fig.colorbar(im, ax=ax, label="P(class " + _class_names(split)[1] + ") by the model",
                     fraction=0.05, pad=0.03)
        levels = [v for v in (0.1, 0.25, 0.75, 0.9) if p.min() < v < p.max()]
        if levels:
            cs = ax.contour(rx, ry, p, levels=levels, colors="0.3", linewidths=0.7,
                            linestyles="-", zorder=1)
            ax.clabel(cs, fmt="%.2g", fontsize=7)
        if p.min() < 0.5 < p.max():
            ax.contour(rx, ry, p, levels=[0.5], colors="k", linewidths=2.0, zorder=2)
            handles.append(Line2D([], [], color="k", lw=2.0,
                                  label="decision boundary (P = 0.5)"))
        else:
            _note(ax, "the model predicts one class everywhere in view", y=0.06)
    else:
        _note(ax, "weights not finite (run diverged): no probability map", y=0.06,
              color=_DIVERGED_COLOR)
    if ref is not None:
        zr = _decision(G, ref[0], ref[1]).reshape(xx.shape)
        if np.isfinite(zr).all() and zr.min() < 0 < zr.max():
            ax.contour(rx, ry, zr, levels=[0.0], colors="#1a9850", linewidths=1.6,
                       linestyles="--", zorder=2)
            handles.append(Line2D([], [], color="#1a9850", lw=1.6, ls="--",
                                  label=f"{ref[2]} boundary"))
    names = _class_names(split)
    for Xp, yp, mk, part in ((split.X_train, split.y_train, "o", "train"),
                             (split.X_test, split.y_test, "^", "test")):
        for k in (0, 1):
            pts = Xp[yp == k] * s + m
            ax.scatter(pts[:, 0], pts[:, 1], s=16, marker=mk, c=_CLASS_COLORS[k],
                       edgecolors="k", linewidths=0.35, zorder=3)
            handles.append(Line2D([], [], ls="", marker=mk, color=_CLASS_COLORS[k], ms=5,
                                  label=f"class {names[k]}, {part}"))
    ax.set_xlim(extent[0], extent[1])
    ax.set_ylim(extent[2], extent[3])
    ax.set_xlabel(split.feature_names[0])
    ax.set_ylabel(split.feature_names[1])
    ax.grid(False)
    ax.set_title(f"Decision boundary: {_run_title(run)}")
    fig.legend(handles=handles, loc="lower center", bbox_to_anchor=(0.5, 0.0), ncols=3,
               fontsize=7.5, frameon=False)


def _classification_nd(fig: Figure, split: Split, run: Run, ref) -> None:
    _margins(fig, left=0.7, right=0.3, bottom=0.55, top=0.85, wspace=0.35)
    ax_roc, ax_cm = fig.subplots(1, 2, width_ratios=[1.15, 1.0])
    y = split.y_test
    z = _decision(split.X_test, run.coef, run.intercept)
    both = 0 < int(y.sum()) < y.size
    ax_roc.plot([0, 1], [0, 1], color="0.6", ls=":", lw=1.0, label="chance (AUC = 0.5)")
    if ref is not None and both:
        zr = _decision(split.X_test, ref[0], ref[1])
        if np.isfinite(zr).all():
            fpr, tpr, _ = M.roc_curve(y, zr)
            ax_roc.plot(fpr, tpr, color="0.25", ls="--", lw=1.4,
                        label=f"{ref[2]} (AUC = {M.roc_auc(y, zr):.3f})")
    finite = bool(np.all(~np.isnan(z)))
    if finite and both:
        score = np.clip(z, -1e300, 1e300)  # ±inf keeps its order
        fpr, tpr, _ = M.roc_curve(y, score)
        ax_roc.plot(fpr, tpr, color=_DIVERGED_COLOR if run.diverged else "C0", lw=2.0,
                    label=f"gradient descent (AUC = {M.roc_auc(y, score):.3f})")
    elif not both:
        _note(ax_roc, "the test part holds one class: no ROC curve")
    else:
        _note(ax_roc, "scores not finite (run diverged)", color=_DIVERGED_COLOR)
    if finite and not _weights_finite(run):
        _note(ax_roc, "weights not finite (run diverged):\nscores are ±inf, ties abound",
              y=0.35, color=_DIVERGED_COLOR)
    ax_roc.set_xlim(-0.02, 1.02)
    ax_roc.set_ylim(-0.02, 1.02)
    ax_roc.set_aspect("equal")
    ax_roc.set_xlabel("false-positive rate")
    ax_roc.set_ylabel("true-positive rate")
    ax_roc.set_title("ROC curve (test part)")
    ax_roc.legend(loc="lower right")

    names = _class_names(split)
    ax_cm.grid(False)
    if finite:
        cm = M.confusion_matrix(y, (z > 0).astype(np.float64))
        ax_cm.imshow(cm, cmap="Blues", vmin=0, vmax=max(int(cm.max()), 1))
        for (i, j), v in np.ndenumerate(cm):
            ax_cm.text(j, i, str(v), ha="center", va="center", fontsize=12,
                       color="white" if v > 0.6 * cm.max() else "black")
        acc = float(np.trace(cm)) / max(int(cm.sum()), 1)
        ax_cm.set_title(f"Confusion matrix (test, threshold 0.5)\naccuracy {acc:.3f}")
    else:
        ax_cm.set_title("Confusion matrix (test)")
        _note(ax_cm, "predictions not finite", color=_DIVERGED_COLOR)
    ax_cm.set_xticks([0, 1], [f"{names[0]}", f"{names[1]}"])
    ax_cm.set_yticks([0, 1], [f"{names[0]}", f"{names[1]}"])
    ax_cm.set_xlabel("predicted class")
    ax_cm.set_ylabel("actual class")
    ax_cm.spines[["top", "right"]].set_visible(True)
    fig.suptitle(f"Classifier quality: {_run_title(run)}")


def _outputs(model: str, arrays: dict, X: np.ndarray) -> np.ndarray:
    """:func:`gdlab.models.registry.predict` on standardised rows (the figures' space)."""
    d = X.shape[1]
    with np.errstate(all="ignore"):
        return predict(model, {**arrays, "x_mean": np.zeros(d), "x_scale": np.ones(d)}, X)


def _reference_arrays(run: Run, baseline: dict | None) -> dict | None:
    """scikit-learn's parameters for the run's problem, from ``baseline.json`` (no refit)."""
    entry = None if baseline is None else \
        baseline.get("references", {}).get(reference_key(run.hyperparameters))
    if entry is None:
        return None
    skip = ("l2", "converged", "objective", "metrics")
    return {k: np.asarray(v) for k, v in entry.items() if k not in skip}


def _class_colors(k: int) -> list:
    return list(_CLASS_COLORS) if k == 2 else [mpl.colormaps["tab10"](i % 10) for i in range(k)]


def _regions_2d(fig: Figure, split: Split, run: Run, ref: dict | None) -> None:
    """Decision regions of any classifier on 2-D data: the most probable class on a grid."""
    _margins(fig, right=0.3, bottom=0.95)
    ax = fig.add_subplot()
    grid, xx, rx, ry = _figure_grid(split)
    m, s = split.x_mean, split.x_scale  # the data points in raw units too
    k = max(split.n_classes, 2)
    colors = _class_colors(k)
    handles = []
    P = _outputs(run.model, run.arrays, grid)
    if np.all(np.isfinite(P)):
        label = P.argmax(axis=1).reshape(xx.shape)
        rgba = np.array([mcolors.to_rgba(c) for c in colors])[label]
        rgba[..., 3] = 0.15 + 0.45 * (P.max(axis=1).reshape(xx.shape) - 1 / k) / (1 - 1 / k)
        ax.imshow(rgba, extent=(rx.min(), rx.max(), ry.min(), ry.max()), origin="lower",
                  aspect="auto", zorder=0)
        ax.contour(rx, ry, label, levels=np.arange(k - 1) + 0.5, colors="k", linewidths=1.8,
                   zorder=2)
        handles.append(Line2D([], [], color="k", lw=1.8, label="decision boundary"))
    else:
        _note(ax, "outputs not finite (run diverged): no regions", y=0.06,
              color=_DIVERGED_COLOR)
    if ref is not None:
        Pr = _outputs(run.model, ref, grid)
        if np.all(np.isfinite(Pr)):
            ax.contour(rx, ry, Pr.argmax(axis=1).reshape(xx.shape),
                       levels=np.arange(k - 1) + 0.5, colors="#1a9850", linewidths=1.4,
                       linestyles="--", zorder=2)
            handles.append(Line2D([], [], color="#1a9850", lw=1.4, ls="--",
                                  label="scikit-learn boundary"))
    names = split.classes or tuple(range(k))
    for Xp, yp, mk, part in ((split.X_train, split.y_train, "o", "train"),
                             (split.X_test, split.y_test, "^", "test")):
        for c in range(k):
            pts = Xp[yp == c] * s + m
            ax.scatter(pts[:, 0], pts[:, 1], s=16, marker=mk, color=colors[c],
                       edgecolors="k", linewidths=0.35, zorder=3)
            handles.append(Line2D([], [], ls="", marker=mk, color=colors[c], ms=5,
                                  label=f"class {names[c]}, {part}"))
    ax.set_xlim(rx.min(), rx.max())
    ax.set_ylim(ry.min(), ry.max())
    ax.set_xlabel(split.feature_names[0])
    ax.set_ylabel(split.feature_names[1])
    ax.grid(False)
    ax.set_title(f"Decision regions: {_run_title(run)}")
    fig.legend(handles=handles, loc="lower center", bbox_to_anchor=(0.5, 0.0), ncols=4,
               fontsize=7.5, frameon=False)


def _confusion_k(fig: Figure, split: Split, run: Run, ref: dict | None) -> None:
    """The K x K confusion matrix of the test part (any classifier, any dimension)."""
    _margins(fig, bottom=0.7, top=0.8)
    ax = fig.add_subplot()
    ax.grid(False)
    k = max(split.n_classes, 2)
    P = _outputs(run.model, run.arrays, split.X_test)
    title = "Confusion matrix (test)"
    if np.all(np.isfinite(P)):
        cm = M.multiclass_confusion_matrix(split.y_test, P.argmax(axis=1), k)
        ax.imshow(cm, cmap="Blues", vmin=0, vmax=max(int(cm.max()), 1))
        for (i, j), v in np.ndenumerate(cm):
            ax.text(j, i, str(v), ha="center", va="center", fontsize=9 if k > 5 else 12,
                    color="white" if v > 0.6 * cm.max() else "black")
        title += f"\naccuracy {np.trace(cm) / max(int(cm.sum()), 1):.3f}"
        if ref is not None:
            Pr = _outputs(run.model, ref, split.X_test)
            title += f", scikit-learn {np.mean(Pr.argmax(axis=1) == split.y_test):.3f}"
    else:
        _note(ax, "predictions not finite", color=_DIVERGED_COLOR)
    names = [str(c) for c in (split.classes or range(k))]
    ax.set_xticks(range(k), names, rotation=45 if k > 5 else 0)
    ax.set_yticks(range(k), names)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("actual class")
    ax.set_title(f"{title}: {_run_title(run)}", fontsize=9)


def _predicted_vs_actual(fig: Figure, split: Split, run: Run, ref: dict | None) -> None:
    """Any regressor: its test predictions against the targets, and scikit-learn's."""
    _margins(fig)
    ax = fig.add_subplot()
    y = split.y_test
    lo, hi = _padded(float(y.min()), float(y.max()))
    if ref is not None:
        pr = _outputs(run.model, ref, split.X_test)
        if np.all(np.isfinite(pr)):
            ax.scatter(y, pr, s=16, marker="x", c="0.45", lw=0.9,
                       label=f"scikit-learn (R² = {M.r2(y, pr):.3f})", zorder=2)
    ax.plot([lo, hi], [lo, hi], color="0.1", ls=":", lw=1.0, label="perfect prediction")
    pred = _outputs(run.model, run.arrays, split.X_test)
    ok = np.isfinite(pred) & (pred >= lo) & (pred <= hi)
    if np.all(np.isfinite(pred)):
        ax.scatter(y[ok], pred[ok], s=14, c=_DIVERGED_COLOR if run.diverged else "C0",
                   alpha=0.7, lw=0, label=f"gradient descent (R² = {M.r2(y, pred):.3g})",
                   zorder=3)
    if not ok.all():
        _note(ax, f"{int(np.sum(~ok))} of {y.size} predictions off the chart", y=0.9,
              color=_DIVERGED_COLOR)
    _finish_predicted_vs_actual(ax, run, lo, hi)


@_styled
def model_figure(split: Split, run: Run, baseline: dict | None = None,
                 fig: Figure | None = None) -> Figure:
    """What the run's model learned, drawn in the way that fits its task and dimension.

    Linear and logistic regression: the fitted line, the probability map and boundary
    (2-D) or the ROC curve and confusion matrix. Every other model through
    :func:`gdlab.models.registry.predict`: decision regions of K classes (2-D), the K x K
    confusion matrix, or predicted against actual targets. The reference is scikit-learn's
    solution of the run's problem, read from ``baseline`` (a ``baseline.json`` record):
    no figure fits a model.
    """
    d = split.n_features
    if run.model and run.model not in LINEAR_MODELS:
        # any other model: what registry.predict gives on a grid or the test part
        if split.task == "regression":
            draw, size = _predicted_vs_actual, (5.4, 5.2)
        else:
            draw, size = (_regions_2d, (6.4, 5.8)) if d == 2 else (_confusion_k, (5.6, 5.4))
        fig = _run_figure(fig, *size)
        draw(fig, split, run, _reference_arrays(run, baseline))
        return fig
    if split.task == "regression":
        draw, size = (_regression_1d, (6.0, 4.2)) if d == 1 else (_regression_nd, (5.4, 5.2))
    else:
        draw, size = ((_classification_2d, (6.4, 5.8)) if d == 2
                      else (_classification_nd, (9.0, 4.6)))
    fig = _run_figure(fig, *size)
    draw(fig, split, run, _reference(split, run, baseline))
    return fig


# --------------------------------------------------------------------------------------
# Per sweep
# --------------------------------------------------------------------------------------


def _parse(v: str):
    """A summary.csv cell as a number when it is one (for sorting and formatting)."""
    if v in ("", "none"):
        return None
    if v in ("true", "false"):
        return v == "true"
    try:
        f = float(v)
    except ValueError:
        return v
    return int(f) if f.is_integer() and "." not in v and "e" not in v.lower() else f


def _sort_key(v):
    return (0, 0.0, "") if v is None else (1, float(v), "") if isinstance(v, int | float) \
        else (2, 0.0, str(v))


#: above this many cells, the heatmap's colours alone give the values (text costs seconds)
MAX_CELL_LABELS = 300

#: axes whose values are shown side by side, one panel each, never on the y axis
FACET_AXES = ("loss",)


def grid_axes(rows: list[dict]) -> tuple[str | None, str | None, list[str]]:
    """(x, y, facets): the varying hyperparameters, ``lr`` on x when it varies, the
    :data:`FACET_AXES` (the two losses of the lesson) as panels."""
    keys = [k for k in HYPERPARAMETERS if rows and k in rows[0]]
    varying = [k for k in keys if len({r[k] for r in rows}) > 1]
    x = "lr" if "lr" in varying else (varying[0] if varying else None)
    rest = sorted((k for k in varying if k != x),
                  key=lambda k: (k in FACET_AXES, -len({r[k] for r in rows}), k))
    y = rest[0] if rest and rest[0] not in FACET_AXES else None
    return x, y, [k for k in rest if k != y]


def _values(rows, key) -> list:
    if key is None:
        return [None]
    return sorted({_parse(r[key]) for r in rows}, key=_sort_key)


def _metric_of(row: dict, metric: str) -> float:
    try:
        return float(row.get(metric) or "nan")
    except ValueError:
        return float("nan")


def _text_color(rgba) -> str:
    r, g, b = rgba[:3]
    return "black" if 0.299 * r + 0.587 * g + 0.114 * b > 0.5 else "white"


@_styled
def heatmap_figure(rows: list[dict], best: dict, title: str = "") -> Figure:
    """The validation selection metric over the grid; best run framed, diverged hatched.

    ``rows`` are ``configs.csv`` rows (or ``summary.csv`` ones), ``best`` the sweep's
    ``best.json``. With repeats a cell is a configuration's mean, with the half-width of
    its 95 % interval under it, and the best configuration is framed.
    """
    metric = best.get("selection_metric") or "val_loss"
    name = metric.removeprefix("val_")
    higher = M.HIGHER_IS_BETTER.get(name, False)
    xk, yk, fk = grid_axes(rows)
    xs, ys = _values(rows, xk), _values(rows, yk)
    facets = list(itertools.product(*(_values(rows, k) for k in fk))) or [()]
    cell = {}
    for r in rows:
        key = (tuple(_parse(r[k]) for k in fk), _parse(r[yk]) if yk else None,
               _parse(r[xk]) if xk else None)
        cell[key] = r
    ok = [_metric_of(r, metric) for r in rows if r.get("diverged") != "true"]
    ok = np.array([v for v in ok if math.isfinite(v)])
    if ok.size == 0:
        norm = mcolors.Normalize(0.0, 1.0)
    elif _wants_log(ok, ratio=10.0):
        norm = mcolors.LogNorm(ok.min(), ok.max())
    else:
        lo, hi = float(ok.min()), float(ok.max())
        norm = mcolors.Normalize(lo, hi if hi > lo else lo + 1e-12)
    cmap = mpl.colormaps["viridis" if higher else "viridis_r"]

    # each cell says its value, unless there are so many that the colour has to; a row
    # without values can be lower (a large sweep's figure then draws in half the time)
    labelled = len(xs) * len(ys) * len(facets) <= MAX_CELL_LABELS
    ncols = min(len(facets), 2)
    nrows = math.ceil(len(facets) / ncols)
    width = max(4.8, 1.0 + ncols * (0.85 * len(xs) + 1.0) + 1.2)
    height = 1.5 + nrows * ((0.55 if labelled else 0.3) * len(ys) + 0.9)
    # fixed margins measured from its texts: constrained layout took most of the time of a
    # many-panel heatmap (1.4 s of 2 s at 1100 runs)
    fig = _new_figure(width, height, constrained=False)
    axes = np.atleast_1d(fig.subplots(nrows, ncols, squeeze=False)).ravel()
    best_name = _best_config(best)

    def label(ax, j, i, text, **kw):
        if labelled:
            ax.text(j, i, text, ha="center", va="center", **kw)

    for n, (ax, facet) in enumerate(zip(axes, facets, strict=False)):
        ax.grid(False)
        data = np.full((len(ys), len(xs)), np.nan)
        for i, yv in enumerate(ys):
            for j, xv in enumerate(xs):
                r = cell.get((facet, yv, xv))
                if r is None:
                    label(ax, j, i, "no run", fontsize=7, color="0.4")
                    continue
                v = _metric_of(r, metric)
                if r.get("diverged") == "true":
                    ax.add_patch(Rectangle((j - 0.5, i - 0.5), 1, 1, fc="0.82", ec="0.55",
                                           hatch="///", lw=0.0))
                    label(ax, j, i, "diverged", fontsize=7, color="0.1",
                          bbox={"fc": "0.82", "ec": "none", "pad": 0.8})
                elif not math.isfinite(v):
                    ax.add_patch(Rectangle((j - 0.5, i - 0.5), 1, 1, fc="0.9", lw=0.0))
                    label(ax, j, i, "n/a", fontsize=7)
                else:
                    data[i, j] = v
                    half = _half_width(r, metric)
                    label(ax, j, i, f"{v:.3g}" + (f"\n±{half:.2g}" if half is not None else ""),
                          fontsize=7.5 if half is None else 6.5,
                          color=_text_color(cmap(norm(v))))
                if best_name is not None and _row_config(r) == best_name:
                    ax.add_patch(Rectangle((j - 0.47, i - 0.47), 0.94, 0.94, fill=False,
                                           ec="#e41a1c", lw=2.5, zorder=5))
        ax.imshow(np.ma.masked_invalid(data), cmap=cmap, norm=norm, aspect="auto",
                  zorder=0)
        ax.set_xticks(range(len(xs)), [_fmt(v) for v in xs])
        ax.set_yticks(range(len(ys)), [_fmt(v) for v in ys])
        ax.set_xlim(-0.5, len(xs) - 0.5)
        ax.set_ylim(len(ys) - 0.5, -0.5)
        # the panels have the same ticks: only the outer ones label them (fewer texts to
        # lay out, which is most of a many-panel figure's time)
        if n + ncols >= len(facets):  # no panel below
            ax.set_xlabel("learning rate (lr)" if xk == "lr" else (xk or ""))
        else:
            ax.tick_params(labelbottom=False)
        if n % ncols == 0:
            ax.set_ylabel(yk or "")
        else:
            ax.tick_params(labelleft=False)
        if fk:
            ax.set_title(", ".join(f"{k} = {_fmt(v)}" for k, v in zip(fk, facet, strict=True)),
                         fontsize=9)
    for ax in axes[len(facets):]:
        ax.set_visible(False)
    repeats = _repeats_note(rows, "\neach cell the ")
    suptitle = (f"{metric} over the grid" + (f": {title}" if title else "")
                + (f"{repeats} ± half its 95 % interval" if repeats else ""))
    cax = _heatmap_layout(fig, axes[0], [_fmt(v) for v in ys], nrows, ncols,
                          n_title_lines=suptitle.count("\n") + 1, facet_titles=bool(fk))
    sm = mpl.cm.ScalarMappable(norm=norm, cmap=cmap)
    fig.colorbar(sm, cax=cax, label=f"{metric} ({'higher' if higher else 'lower'} is better)")
    handles = [Patch(fc="none", ec="#e41a1c", lw=2.5, label="best run (chosen on validation)"),
               Patch(fc="0.82", ec="0.55", hatch="///", label="diverged")]
    fig.legend(handles=handles, loc="lower center", ncols=2, frameon=False)
    fig.suptitle(suptitle, y=1 - 0.08 / height, va="top")
    return fig


def _text_width(fig: Figure, texts: Iterable[str], size: float) -> float:
    """The width in inches of the widest of ``texts`` at font ``size`` (points)."""
    renderer, prop = fig.canvas.get_renderer(), FontProperties(size=size)
    return max((renderer.get_text_width_height_descent(t, prop, ismath=False)[0]
                for t in texts if t), default=0.0) / fig.dpi


def _heatmap_layout(fig: Figure, first_panel: Axes, ytick_labels: list[str], nrows: int,
                    ncols: int, n_title_lines: int, facet_titles: bool) -> Axes:
    """Fixed margins for the heatmap's panels, in inches: room on the left for the widest
    y tick label and the y label, above for the title lines and the panels' titles, below
    for the x tick labels, x label and legend, and on the right for the colorbar, whose
    axes this returns (as high as the panels, 90 % of it)."""
    w, h = fig.get_size_inches()
    left = 0.15 + _text_width(fig, ytick_labels, mpl.rcParams["ytick.labelsize"]) + (
        0.28 if first_panel.get_ylabel() else 0.0)
    # the colorbar 0.25 in from the panels, 0.17 in wide, its tick labels (at most about
    # 0.55 in: "4 x 10^0" on a log scale) and its label
    right = 1.25
    top = 0.12 + 0.2 * n_title_lines + (0.25 if facet_titles else 0.05)
    bottom = 0.8  # x tick labels, x label, the legend below them

    def gap(space: float, n: int, inches: float) -> float:  # as a fraction of a panel
        return inches / ((space - (n - 1) * inches) / n)

    row_gap = 0.3 if facet_titles else 0.15
    _margins(fig, left, right, bottom, top, wspace=gap(w - left - right, ncols, 0.2),
             hspace=gap(h - top - bottom, nrows, row_gap))
    span = (h - top - bottom) / h
    return fig.add_axes((1 - (right - 0.25) / w, bottom / h + 0.05 * span, 0.17 / w,
                         0.9 * span), label="<colorbar>")


def _row_config(row: dict) -> str | None:
    """The configuration a ``configs.csv`` (or ``summary.csv``) row stands for."""
    return row.get("config") or row.get("run_name")


def _best_config(best: dict) -> str | None:
    """The best configuration of a ``best.json`` (its best run's, without repeats)."""
    return (best.get("config") or {}).get("name") or best.get("run_name")


def _half_width(row: dict, metric: str) -> float | None:
    """Half the width of a row's 95 % interval of ``metric``, if it has one."""
    lo, hi = _metric_of(row, f"{metric}_ci_low"), _metric_of(row, f"{metric}_ci_high")
    return (hi - lo) / 2 if math.isfinite(lo) and math.isfinite(hi) else None


def _repeats_note(rows: list[dict], prefix: str = " (") -> str:
    """``" (mean of 3 repeats)"`` when the rows are configurations with repeats."""
    counts = sorted({int(r["repeats"]) for r in rows if r.get("repeats")})
    if not counts or counts == [1]:
        return ""
    return f"{prefix}mean of {'/'.join(map(str, counts))} repeats" + \
        (")" if prefix == " (" else "")


# --------------------------------------------------------------------------------------
# Per sweep: every configuration at once (parallel coordinates) and what matters
# --------------------------------------------------------------------------------------

#: an axis with more distinct numbers than this is binned for :func:`importance`
MAX_GROUPS = 10


def varying_axes(rows: list[dict]) -> list[str]:
    """The hyperparameters whose value differs between rows (in :data:`HYPERPARAMETERS`
    order, ``lr`` first)."""
    keys = [k for k in HYPERPARAMETERS if rows and k in rows[0]]
    return [k for k in keys if len({r[k] for r in rows}) > 1]


def _axis_scale(values: list, drawn: str | None = None) -> str:
    """``"category"`` (names, ``None``, booleans, lists), ``"log"`` (drawn log-uniformly,
    or positive numbers spanning at least a factor 10: an lr-like axis) or ``"linear"``.
    ``drawn``: the axis's distribution in a random search, if it is drawn from a range."""
    if drawn is not None:
        return "log" if drawn == "loguniform" else "linear"
    if any(v is None or isinstance(v, bool | str) for v in values):
        return "category"
    return "log" if _wants_log(values, ratio=10.0) else "linear"


def _positions(values: list, scale: str) -> tuple[np.ndarray, list[tuple[float, str]]]:
    """Each value's height in [0, 1] on its axis, and the axis's ticks (height, label)."""
    if scale == "category":
        cats = sorted(set(values), key=_sort_key)
        where = {c: i / max(len(cats) - 1, 1) for i, c in enumerate(cats)}
        return (np.array([where[v] for v in values], dtype=np.float64),
                [(where[c], _fmt(c)) for c in cats])
    v = np.asarray(values, dtype=np.float64)
    t = np.log10(v) if scale == "log" else v
    lo, hi = float(t.min()), float(t.max())
    span = hi - lo if hi > lo else 1.0
    distinct = np.unique(v)
    if distinct.size <= 6:  # a few values (a grid's, a choice): each its own tick
        return (t - lo) / span, [(((np.log10(x) if scale == "log" else x) - lo) / span,
                                  _fmt(float(x))) for x in distinct]
    ticks = np.linspace(lo, hi, 5)
    return ((t - lo) / span,
            [((k - lo) / span, f"{10 ** k if scale == 'log' else k:.3g}") for k in ticks])


@_styled
def parallel_coordinates_figure(rows: list[dict], best: dict, title: str = "",
                                drawn: dict[str, str] | None = None) -> Figure:
    """Every configuration a line through its hyperparameters to its validation metric.

    ``rows`` are ``configs.csv`` rows (with repeats, the metric is the mean). One vertical
    axis per varying hyperparameter — categories evenly spaced, numbers on a linear scale
    or a log one when they span a factor 10 or more (lr) — then the selection metric, best
    at the top (``drawn``: a random search's axes drawn from a range, by distribution:
    log-uniform ones on a log scale). Lines are coloured by the metric (as the heatmap);
    diverged or non-finite
    configurations run grey to a mark above the metric axis; the best one is drawn thick,
    framed red. One ``LineCollection``: cheap at thousands of lines.
    """
    metric = best.get("selection_metric") or "val_loss"
    higher = M.HIGHER_IS_BETTER.get(metric.removeprefix("val_"), False)
    drawn = drawn or {}
    axes_keys = varying_axes(rows)
    values = {k: [_parse(r[k]) for r in rows] for k in axes_keys}
    scales = {k: _axis_scale(values[k], drawn.get(k)) for k in axes_keys}
    scores = np.array([_metric_of(r, metric) for r in rows])
    healthy = np.isfinite(scores) & np.array([r.get("diverged") != "true" for r in rows])
    ok = scores[healthy]
    log_metric = _wants_log(ok, ratio=10.0)
    norm = (mcolors.LogNorm(ok.min(), ok.max()) if log_metric else
            mcolors.Normalize(float(ok.min()), float(ok.max()) if ok.max() > ok.min()
                              else float(ok.min()) + 1e-12)) if ok.size else \
        mcolors.Normalize(0.0, 1.0)
    cmap = mpl.colormaps["viridis" if higher else "viridis_r"]

    n_axes = len(axes_keys) + 1
    fig = _new_figure(max(6.0, 1.5 * n_axes + 2.2), 4.8)
    ax = fig.add_subplot()
    ax.grid(False)
    ax.spines[["left", "bottom"]].set_visible(False)
    heights = np.zeros((len(rows), n_axes))
    ticks = []
    for j, k in enumerate(axes_keys):
        heights[:, j], axis_ticks = _positions(values[k], scales[k])
        ticks.append(axis_ticks)
    # the metric, best at the top; off-scale (diverged, n/a) just above the axis
    if ok.size:
        t = np.log10(ok) if log_metric else ok
        lo, hi = float(t.min()), float(t.max())
        span = hi - lo if hi > lo else 1.0
        h = (t - lo) / span
        heights[healthy, -1] = 1.0 - h if not higher else h
        tick_values = np.linspace(lo, hi, 5)
        ticks.append([((1.0 - (k - lo) / span) if not higher else (k - lo) / span,
                       f"{10 ** k if log_metric else k:.3g}") for k in tick_values])
    else:
        ticks.append([])
    heights[~healthy, -1] = 1.12
    xs = np.arange(n_axes, dtype=np.float64)
    segments = [np.column_stack([xs, heights[i]]) for i in range(len(rows))]
    with np.errstate(invalid="ignore"):
        goodness = np.where(healthy, scores if higher else -scores, -np.inf)
    order = np.argsort(goodness, kind="stable")  # worst first: the best lines end on top
    rgba = cmap(norm(np.where(healthy, scores, ok.min() if ok.size else 0.0)))  # vectorised
    rgba[~healthy] = (0.6, 0.6, 0.6, 0.6)
    colors = rgba[order]
    lw = 1.4 if len(rows) <= 50 else 0.7
    ax.add_collection(LineCollection([segments[i] for i in order], colors=colors,
                                     linewidths=lw, alpha=0.85 if len(rows) <= 200 else 0.5))
    best_name = _best_config(best)
    for i, r in enumerate(rows):
        if best_name is not None and _row_config(r) == best_name:
            ax.plot(xs, heights[i], color="#e41a1c", lw=3.6, zorder=4, solid_capstyle="round")
            ax.plot(xs, heights[i], color=rgba[i], lw=1.8, zorder=5)
    for j, axis_ticks in enumerate(ticks):
        ax.axvline(j, color="0.25", lw=1.0, zorder=3)
        for h, label in axis_ticks:
            ax.plot([j - 0.03, j], [h, h], color="0.25", lw=0.8, zorder=3)
            ax.text(j - 0.05, h, label, ha="right", va="center", fontsize=7, zorder=6,
                    bbox={"fc": "white", "ec": "none", "alpha": 0.7, "pad": 0.5})
    if not healthy.all():
        ax.text(n_axes - 1 + 0.05, 1.12, "diverged / n/a", ha="left", va="center",
                fontsize=7, color="0.35")
    scale_note = {"log": " (log)", "linear": "", "category": ""}
    ax.set_xticks(xs, [f"{k}{scale_note[scales[k]]}" for k in axes_keys]
                  + [f"{metric}{' (log)' if log_metric else ''}\n"
                     f"{'higher' if higher else 'lower'} is better, best on top"])
    ax.set_yticks([])
    ax.set_xlim(-0.6, n_axes - 0.6)
    ax.set_ylim(-0.06, 1.18)
    sm = mpl.cm.ScalarMappable(norm=norm, cmap=cmap)
    cb = fig.colorbar(sm, ax=ax, shrink=0.9, pad=0.02, label=metric)
    if not higher:
        cb.ax.invert_yaxis()  # best on top, as on the metric's axis
    n_bad = int((~healthy).sum())
    fig.suptitle(f"Every configuration ({len(rows)}{_repeats_note(rows, ', each the ')}"
                 + (f", {n_bad} diverged or n/a" if n_bad else "") + ") through its "
                 "hyperparameters to its validation metric" + (f"\n{title}" if title else ""),
                 fontsize=9)
    if not axes_keys:
        _note(ax, "no hyperparameter varies")
    return fig


def importance(rows: list[dict], metric: str,
               drawn: dict[str, str] | None = None) -> list[dict]:
    """How much of the validation metric's variance each varying hyperparameter explains.

    The measure is eta squared (:func:`gdlab.stats.variance_explained`): the rows (the
    configurations; their mean metric with repeats) that did not diverge and have a finite
    ``metric`` are grouped by the hyperparameter's value, and the between-group sum of
    squares is divided by the total. An axis a random search draws from a range
    (``drawn``), or with more distinct numbers than :data:`MAX_GROUPS` or than half the
    rows, is first cut into ``clip(n // 10, 2, 10)`` quantile bins of about equal counts
    (``n`` rows): grouped by value, every row would be its own group and explain all.
    Each entry:
    ``{"axis", "share", "groups", "binned", "chance"}`` (``chance``: the share expected
    with that many groups if the axis did not matter), largest share first. The shares
    need not add up to 1: axes overlap and interact.
    """
    ok = [r for r in rows if r.get("diverged") != "true"
          and math.isfinite(_metric_of(r, metric))]
    y = np.array([_metric_of(r, metric) for r in ok])
    out = []
    for k in varying_axes(rows):
        vals = [_parse(r[k]) for r in ok]
        distinct = len(set(map(repr, vals)))
        binned = k in (drawn or {}) or (_axis_scale(vals) != "category" and (
            distinct > MAX_GROUPS or distinct > len(ok) / 2))
        groups = (quantile_bins(np.asarray(vals, dtype=np.float64),
                                min(max(len(ok) // 10, 2), MAX_GROUPS))
                  if binned and ok else [repr(v) for v in vals])
        n_groups = len(set(np.asarray(groups).tolist()))
        out.append({"axis": k, "share": variance_explained(groups, y) if ok else math.nan,
                    "groups": n_groups, "binned": binned,
                    "chance": chance_share(n_groups, len(ok))})
    return sorted(out, key=lambda e: (-(e["share"] if math.isfinite(e["share"]) else -1.0),
                                      e["axis"]))


@_styled
def importance_figure(rows: list[dict], best: dict, title: str = "",
                      drawn: dict[str, str] | None = None) -> Figure:
    """:func:`importance` as bars, one per varying hyperparameter, largest first, with the
    share expected by chance marked on each."""
    metric = best.get("selection_metric") or "val_loss"
    entries = importance(rows, metric, drawn)
    fig = _new_figure(6.8, max(3.0, 1.9 + 0.42 * len(entries)))
    ax = fig.add_subplot()
    n_ok = sum(1 for r in rows if r.get("diverged") != "true"
               and math.isfinite(_metric_of(r, metric)))
    if not entries:
        _note(ax, "no hyperparameter varies")
    labels = [e["axis"] + (f"\n({e['groups']} quantile bins)" if e["binned"] else
                           f"\n({e['groups']} values)") for e in entries]
    shares = [e["share"] if math.isfinite(e["share"]) else 0.0 for e in entries]
    ys = np.arange(len(entries))[::-1]
    ax.barh(ys, shares, color="#3b75af", height=0.6)
    for y, e, share in zip(ys, entries, shares, strict=True):
        ax.text(share + 0.01, y, f"{e['share']:.2f}" if math.isfinite(e["share"]) else "n/a",
                va="center", fontsize=8)
        if math.isfinite(e["chance"]):
            ax.plot([e["chance"]] * 2, [y - 0.38, y + 0.38], color="0.2", ls=":", lw=1.4)
    if entries:
        fig.legend(handles=[Line2D([], [], color="0.2", ls=":", lw=1.4,
                                   label="expected by chance with that many groups: "
                                         "(groups − 1) / (n − 1)")],
                   loc="outside lower center", frameon=False, fontsize=7)
    ax.set_yticks(ys, labels)
    ax.set_xlim(0.0, 1.08)
    ax.set_xlabel(f"share of the variance of {metric} explained "
                  "(between-group / total sum of squares)")
    ax.grid(axis="y", visible=False)
    fig.suptitle(f"Which hyperparameters matter: the {n_ok} configurations that did not "
                 f"diverge{_repeats_note(rows)}"
                 + (f"\n{title}" if title else ""), fontsize=9)
    return fig


def _style_keys(runs: list[Run]) -> list[str]:
    """Hyperparameters other than lr that vary across ``runs`` (they pick the line style)."""
    keys = [k for k in HYPERPARAMETERS if k != "lr"]
    return [k for k in keys
            if len({_fmt(r.hyperparameters.get(k)) for r in runs}) > 1]


def _lr_scale(runs: list[Run]):
    lrs = np.array(sorted({r.lr for r in runs if r.lr > 0}) or [0.1])
    lo, hi = lrs.min(), lrs.max()
    if hi <= lo:
        lo, hi = lo / 3.0, hi * 3.0
    return mpl.cm.ScalarMappable(norm=mcolors.LogNorm(lo, hi), cmap=_LR_CMAP), lrs


def _series(run: Run, get: Callable[[Run], np.ndarray], floor: float | None):
    """(epochs, values, band half-width or None) of ``get`` for a run, or for a
    configuration with repeats their mean over the epochs every repeat reached and the
    95 % interval's half-width; None when ``get`` has nothing for it."""
    members = run.repeats or [run]
    ys = [get(r) for r in members]
    if any(y is None for y in ys):
        return None
    n = min(len(y) for y in ys)
    ys = [_finite(y)[:n] for y in ys]
    if floor is not None:
        ys = [np.where(np.isnan(y), np.nan, np.maximum(y, floor)) for y in ys]
    epochs = np.asarray(members[0].history["epoch"])[:n]
    if not run.repeats:
        return epochs, ys[0], None
    with np.errstate(all="ignore"):
        mean, half = mean_band(np.array(ys))
    return epochs, _finite(mean), _finite(half)


def _overlay(axes, fig, runs: list[Run], series: Callable[[Run], np.ndarray],
             floor: float | None = None, drawn: Iterable[str] = ()) -> None:
    """Draw ``series(run)`` of every run on each axis in ``axes``: colour = lr,
    line style = the other varying hyperparameters but those a search ``drawn`` from a
    range; the y range follows the runs that did not diverge, and a diverged run is marked
    with × where it left. A configuration with repeats (:func:`with_repeats`) is drawn as
    its mean with a band (95 % interval)."""
    drawn = set(drawn)
    sm, lrs = _lr_scale(runs)
    style_keys = [k for k in _style_keys(runs) if k not in drawn]
    combos = sorted({tuple(_fmt(r.hyperparameters.get(k)) for k in style_keys) for r in runs})
    # beyond a few combinations line styles can't be told apart: one style, no legend
    styled = 1 < len(combos) <= MAX_LINE_STYLES
    styles = {c: (_LINESTYLES[i % len(_LINESTYLES)] if styled else "-")
              for i, c in enumerate(combos)}
    lw, alpha = (1.3, 0.9) if len(runs) <= 50 else (0.6, 0.5)  # many runs: thinner lines
    for ax, get in zip(axes, series, strict=True):
        finite_ok, finite_all = [], []
        curves = []
        for r in sorted(runs, key=lambda r: (r.lr, r.name)):
            line = _series(r, get, floor)
            if line is None:
                continue
            epochs, y, half = line
            curves.append((r, epochs, y, half))
            finite_all.append(y[np.isfinite(y)])
            if not r.diverged:
                finite_ok.append(y[np.isfinite(y)])
        # one collection per line style, not a Line2D per run: a thousand runs draw in
        # a fraction of a second instead of many seconds (lower lrs first, as before)
        by_style: dict[str, list] = {}
        for r, epochs, y, _ in curves:
            combo = tuple(_fmt(r.hyperparameters.get(k)) for k in style_keys)
            by_style.setdefault(styles[combo], []).append((r, epochs, y))
        for ls, group in by_style.items():
            ax.add_collection(LineCollection(
                [np.column_stack([epochs, y]) for _, epochs, y in group],
                colors=sm.to_rgba(np.array([r.lr for r, _, _ in group])), linestyles=ls,
                linewidths=lw, alpha=alpha))
        ax.autoscale_view()
        ref = np.concatenate(finite_ok) if finite_ok and any(a.size for a in finite_ok) \
            else (np.concatenate(finite_all) if finite_all else np.array([]))
        if ref.size:
            log = _wants_log(ref) or floor is not None
            if log:
                ax.set_yscale("log")
                lo = max(ref.min(), floor or 0.0) if floor is not None else ref.min()
                ax.set_ylim(lo / (3.0 if floor is not None else 1.5), ref.max() * 4.0)
            else:
                lo, hi = _padded(float(ref.min()), float(ref.max()))
                ax.set_ylim(lo, hi)
        log = ax.get_yscale() == "log"
        for r, epochs, y, half in curves:
            if half is not None:  # on a log scale, only where the interval stays above 0
                with np.errstate(invalid="ignore"):
                    ax.fill_between(epochs, y - half, y + half, color=sm.to_rgba(r.lr),
                                    where=(y - half > (floor or 0.0)) if log else None,
                                    alpha=0.15 if len(runs) <= 10 else 0.07, lw=0)
        top = ax.get_ylim()[1]
        on_chart, off_chart = [], []  # off the chart: marked just inside the top edge
        for r, epochs, y, _ in curves:
            if r.diverged and epochs.size:
                last = float(epochs[-1])
                if np.isfinite(y[-1]) and y[-1] < top:
                    on_chart.append((last, y[-1]))
                else:
                    off_chart.append((last, 0.97))
        for points, transform in ((on_chart, ax.transData), (off_chart, ax.get_xaxis_transform())):
            if points:
                xs, ys = zip(*points, strict=True)
                ax.plot(xs, ys, "x", ls="", color=_DIVERGED_COLOR, ms=7, mew=2.0, zorder=6,
                        transform=transform)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlabel("epoch")
    cb = fig.colorbar(sm, ax=list(axes), shrink=0.9, pad=0.02)
    cb.set_label("learning rate (lr, log scale)")
    if len(lrs) <= 12 and "lr" not in drawn:  # each lr of the grid a tick; more would overlap
        cb.set_ticks(lrs, labels=[f"{v:g}" for v in lrs])
        cb.minorticks_off()
    handles = []
    if style_keys and styled:
        handles += [Line2D([], [], color="0.2", ls=styles[c], lw=1.3,
                           label=", ".join(f"{k}={v}" for k, v in zip(style_keys, c,
                                                                        strict=True)))
                    for c in combos]
    if any(r.repeats for r in runs):
        n = sorted({len(r.repeats) for r in runs if r.repeats})
        handles.append(Patch(fc="0.6", alpha=0.4, label=f"mean of {'/'.join(map(str, n))} "
                                                        "repeats, band: 95 % interval"
                             + (" (above 0)" if axes[0].get_yscale() == "log" else "")))
    if any(r.diverged for r in runs):
        handles.append(Line2D([], [], ls="", marker="x", color=_DIVERGED_COLOR, ms=7, mew=2.0,
                              label="diverged (× at its last epoch; at the top if off the chart)"))
    if handles:
        wide = fig.get_size_inches()[0] >= 9.0
        fig.legend(handles=handles, loc="outside lower center",
                   ncols=min(len(handles), 3 if wide else 2), frameon=False)


@_styled
def learning_curves_figure(runs: list[Run], title: str = "",
                           drawn: Iterable[str] = ()) -> Figure:
    """Training objective and validation loss of every run, coloured by learning rate
    (``drawn``: the axes a random search draws from a range, see :func:`_overlay`)."""
    has_val = any("val_loss" in r.history for r in runs)
    fig = _new_figure(10.0 if has_val else 6.5, 4.6)
    axes = fig.subplots(1, 2 if has_val else 1, squeeze=False).ravel()
    getters = [lambda r: r.history["train_objective"]]
    if has_val:
        getters.append(lambda r: r.history.get("val_loss"))
    _overlay(list(axes), fig, runs, getters, drawn=drawn)
    axes[0].set_ylabel("training objective")
    axes[0].set_title("Training objective (mean loss + L2 penalty)")
    if has_val:
        axes[1].set_ylabel("validation loss")
        axes[1].set_title("Validation loss")
    fig.suptitle("Learning curves of every run" + (f": {title}" if title else ""))
    return fig


def _optimum(baseline: dict, run: Run) -> float | None:
    entry = baseline.get("references", {}).get(reference_key(run.hyperparameters))
    return None if entry is None else float(entry["objective"])


@_styled
def convergence_figure(runs: list[Run], baseline: dict, title: str = "",
                       drawn: Iterable[str] = ()) -> Figure:
    """Training objective minus scikit-learn's optimum (for the run's l2), per epoch."""
    fig = _new_figure(7.5, 4.8)
    ax = fig.add_subplot()

    def gap(r: Run):
        opt = _optimum(baseline, r)
        if opt is None:
            return None
        with np.errstate(all="ignore"):
            return np.asarray(r.history["train_objective"], dtype=np.float64) - opt

    _overlay([ax], fig, runs, [gap], floor=GAP_FLOOR, drawn=drawn)
    if ax.get_ylim()[0] <= GAP_FLOOR:  # some run got there: show where "there" is
        ax.axhline(GAP_FLOOR, color="0.3", ls=":", lw=1.0)
        ax.annotate(f"floor {GAP_FLOOR:g}: gap ≤ floor (scikit-learn's optimum reached)",
                    (0.01, GAP_FLOOR), xycoords=("axes fraction", "data"),
                    xytext=(0, 3), textcoords="offset points", fontsize=7, color="0.3")
    ax.set_ylabel("objective − scikit-learn optimum (log scale)")
    ax.set_title("Convergence to scikit-learn's optimum" + (f": {title}" if title else ""))
    return fig


# --------------------------------------------------------------------------------------
# A whole sweep
# --------------------------------------------------------------------------------------


def run_figure_path(runs_dir, run_name: str, figure: str) -> Path:
    """``runs/<run name>/<figure>``: the run name's slashes become directories."""
    return Path(runs_dir, *run_name.split("/"), figure)


def figure_runs(runs: list[Run], metric: str, top_k: int | str) -> list[Run]:
    """The runs that get per-run figures: the ``top_k`` best on validation, or ``"all"``.

    Ranked as the best run is chosen (:func:`gdlab.summary.ranked_runs`: with repeats,
    the best repeat of each of the best configurations); MLflow's chart
    view already plots every run's curves, so by default only the best run is drawn.
    """
    if top_k == "all":
        return sorted(runs, key=lambda r: r.name)
    by_name = {r.name: r for r in runs}
    ranked = ranked_runs([{"run_name": r.name, "diverged": r.diverged, "metrics": r.metrics,
                           "config": r.config or r.name, "repeat": r.repeat} for r in runs],
                         metric)
    return [by_name[r["run_name"]] for r in ranked[:int(top_k)]]


# --------------------------------------------------------------------------------------
# The lesson: log loss against MSE on the sigmoid
# --------------------------------------------------------------------------------------

#: the two losses of logistic regression the lesson compares, convex first
LESSON_LOSSES = ("log_loss", "squared")


def lesson_runs(runs: list[Run], metric: str) -> dict[str, Run]:
    """The best run (on validation, as the best run is chosen) of each loss of the lesson."""
    out = {}
    for loss in LESSON_LOSSES:
        chosen = figure_runs([r for r in runs if r.hyperparameters.get("loss") == loss],
                             metric, 1)
        if chosen:
            out[loss] = chosen[0]
    return out


def lesson_paths(split: Split, runs: dict[str, Run]) -> dict[str, np.ndarray]:
    """The gradient-descent path ``[w, b]`` per epoch of each run, replayed.

    The one figure that runs gradient descent again (:func:`gdlab.models.training.
    descent_path`): a run's files keep its end point, not its path. The replay is the run's
    own fit (same hyperparameters, seed and training data), so it ends at the saved
    parameters exactly.
    """
    from gdlab.models.logistic_regression import LogisticRegression
    from gdlab.models.training import descent_path

    return {loss: descent_path(LogisticRegression(**run.hyperparameters, seed=run.seed),
                               split.X_train, split.y_train)
            for loss, run in runs.items()}


@_styled
def loss_landscape_figure(split: Split, runs: dict[str, Run], title: str = "") -> Figure:
    """The objective of each loss on one plane through weight space, with the GD paths.

    The plane passes through the log-loss run's start ``c`` and spans its displacement
    ``u`` and the part of the squared-loss run's displacement orthogonal to it; paths are
    drawn projected onto it. Log loss is a convex bowl there; MSE on the sigmoid has
    plateaus where the gradient vanishes.
    """
    from gdlab.models.logistic_regression import objective_surface, plane_grid

    paths = lesson_paths(split, runs)
    fig = _new_figure(5.2 * max(len(paths), 1), 4.8)
    if not paths:
        ax = fig.add_subplot()
        _note(ax, "no run of either loss")
        return fig
    first = paths[next(iter(paths))]
    c = first[0]
    u = first[-1] - c
    if not np.linalg.norm(u) > 0:
        u = np.eye(c.size)[0]
    other = paths[list(paths)[-1]]
    w = (other[-1] if other is not first else other[0]) - c
    v = w - (w @ u) / (u @ u) * u
    if not np.linalg.norm(v) > 1e-12 * np.linalg.norm(u):
        v = np.eye(c.size)[-1] - (np.eye(c.size)[-1] @ u) / (u @ u) * u
    v *= np.linalg.norm(u) / np.linalg.norm(v)  # the same scale on both axes
    basis = np.column_stack([u, v])
    coords = {loss: np.linalg.lstsq(basis, (p - c).T, rcond=None)[0].T
              for loss, p in paths.items()}
    pts = np.vstack(list(coords.values()))
    pts = pts[np.all(np.isfinite(pts), axis=1)]
    lo, hi = pts.min(axis=0), pts.max(axis=0)
    pad = 0.25 * np.maximum(hi - lo, 0.5)
    alphas = np.linspace(lo[0] - pad[0], hi[0] + pad[0], 121)
    betas = np.linspace(lo[1] - pad[1], hi[1] + pad[1], 121)
    thetas = plane_grid(c, u, v, alphas, betas)
    axes = fig.subplots(1, len(paths), squeeze=False)[0]
    for ax, (loss, run) in zip(axes, runs.items(), strict=True):
        surface = objective_surface(split.X_train, split.y_train, thetas, loss=loss,
                                    l2=run.l2)
        cs = ax.contourf(alphas, betas, surface, levels=20, cmap="viridis")
        fig.colorbar(cs, ax=ax, label=f"training objective ({loss})", fraction=0.05)
        for other_loss, xy in coords.items():
            mine = other_loss == loss
            ax.plot(xy[:, 0], xy[:, 1], color="white" if mine else "0.75",
                    lw=2.0 if mine else 1.0, ls="-" if mine else "--", marker=".",
                    ms=3 if mine else 0, label=f"GD path, {other_loss}")
            ax.plot(*xy[0], "o", color="white", mec="k", ms=6)
            ax.plot(*xy[-1], "*", color="#e41a1c" if mine else "0.75", mec="k", ms=11)
        ax.set_xlabel("α (along the log-loss run's path)")
        ax.set_ylabel("β")
        ax.set_title(f"{loss}\n{run.name}", fontsize=7)
        ax.legend(loc="lower right", fontsize=7)
    fig.suptitle("Objective on a plane through weight space, with the gradient-descent "
                 "paths (o start, * end)" + (f"\n{title}" if title else ""), fontsize=9)
    return fig


def plot_lesson_file(split_path, sweep_dir, run_names: Iterable[str], metric: str,
                     out) -> None:
    """Write the loss-landscape figure of a sweep over logistic regression's ``loss``."""
    split = load_split(split_path)
    # the paths are replayed from hyperparameters and seed: no model.npz is read
    runs = [load_run(run_dir(sweep_dir, n) / "history.csv", None,
                     run_dir(sweep_dir, n) / "metrics.json") for n in run_names]
    title = " / ".join(p for p in (runs[0].dataset, runs[0].model) if p) if runs else ""
    _save(loss_landscape_figure(split, lesson_runs(runs, metric), title), out)


def plot_sweep(split: Split, runs: list[Run], rows: list[dict], best: dict, baseline: dict,
               heatmap, learning_curves, convergence, parallel_coordinates, importance_path,
               runs_dir, top_k: int | str = 1, drawn: dict[str, str] | None = None,
               log: Callable[[str], None] | None = None,
               load_model: Callable[[Run], Run] | None = None) -> dict[str, float]:
    """Write every figure of one sweep; returns seconds spent per kind of figure.

    ``rows`` are the sweep's ``configs.csv`` rows. The sweep figures show every run (with
    repeats, every configuration's mean); per-run figures are drawn for
    :func:`figure_runs`. ``heatmap`` None: no heatmap (a random search's values are not a
    grid; the parallel coordinates show them). ``drawn``: the axes a random search draws
    from a range (:func:`gdlab.grid.drawn_axes`). ``load_model`` adds the models of the
    runs that get per-run figures when ``runs`` were read without them.
    """
    log = log or (lambda _msg: None)
    title = " / ".join(p for p in (best.get("dataset", ""), best.get("model", "")) if p)
    times = {}

    t = time.perf_counter()
    if heatmap is not None:
        _save(heatmap_figure(rows, best, title), heatmap)
    drawn = drawn or {}
    lines = with_repeats(runs)
    _save(learning_curves_figure(lines, title, drawn), learning_curves)
    _save(convergence_figure(lines, baseline, title, drawn), convergence)
    times["sweep figures"] = time.perf_counter() - t

    t = time.perf_counter()
    _save(parallel_coordinates_figure(rows, best, title, drawn), parallel_coordinates)
    _save(importance_figure(rows, best, title, drawn), importance_path)
    times["sweep views"] = time.perf_counter() - t

    t = time.perf_counter()
    Path(runs_dir).mkdir(parents=True, exist_ok=True)
    metric = str(best.get("selection_metric", "")).removeprefix("val_")
    chosen = figure_runs(runs, metric, top_k) if metric else []
    curve_fig = model_fig = None
    for run in map(load_model or (lambda r: r), chosen):
        curve_fig = learning_curve_figure(run, _optimum(baseline, run), fig=curve_fig)
        model_fig = model_figure(split, run, baseline, fig=model_fig)
        for name, fig in zip(RUN_FIGURES, (curve_fig, model_fig), strict=True):
            write_bytes(run_figure_path(runs_dir, run.name, name), render_png(fig))
    times["run figures"] = time.perf_counter() - t
    log(f"{len(runs)} runs, per-run figures for {len(chosen)}: "
        + ", ".join(f"{k} {v:.2f} s" for k, v in times.items()))
    return times


def plot_sweep_files(split, configs, best, baseline, sweep_dir, run_names: Iterable[str],
                     heatmap, learning_curves, convergence, parallel_coordinates, importance,
                     runs_dir, top_k: int | str = 1, drawn: dict[str, str] | None = None,
                     log: Callable[[str], None] | None = None) -> dict[str, float]:
    """:func:`plot_sweep` from files: ``configs`` is the sweep's ``configs.csv``, the runs
    ``run_names`` of ``sweep_dir`` (their directories as :func:`gdlab.runfiles.run_dir`
    places them)."""
    runs = []
    for name in sorted(run_names):
        d = run_dir(sweep_dir, name)
        run = load_run(d / "history.csv", None, d / "metrics.json")
        if run.name != name:
            raise ValueError(f"{d / 'metrics.json'} describes run {run.name!r}, not {name!r}")
        runs.append(run)
    return plot_sweep(load_split(split), runs, read_summary(configs), read_json(best),
                      read_json(baseline), heatmap, learning_curves, convergence,
                      parallel_coordinates, importance, runs_dir, top_k=top_k, drawn=drawn,
                      log=log, load_model=lambda r: with_model(r, run_dir(sweep_dir, r.name)
                                                                / "model.npz"))
