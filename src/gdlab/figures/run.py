"""Figures of one run: its learning curves, and what its model learned.

Every model is drawn through the one prediction function,
:func:`gdlab.models.registry.predict` (its arrays, the figure's points): a fitted line
for 1-D regression, predicted against actual targets beyond; for classification the
probability map and boundary on 2-D data (binary), the decision regions of K classes, or
the ROC curve and confusion matrix of the test part. The reference drawn beside it is
scikit-learn's (from ``baseline.json``: no figure fits a model).
"""

from __future__ import annotations

import math
import textwrap

import matplotlib as mpl
import numpy as np
from matplotlib import colors as mcolors
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import MaxNLocator

from gdlab import metrics as M
from gdlab.data.core import Split
from gdlab.figures.style import (
    CLASS_COLORS,
    DIVERGED_COLOR,
    REFERENCE_COLOR,
    TEST_COLOR,
    TRAIN_COLOR,
    finite,
    margins,
    note,
    padded,
    reuse_figure,
    styled,
    wants_log,
)
from gdlab.models.registry import predict
from gdlab.runfiles import Run


def run_title(run: Run, short: str) -> str:
    """``dataset / model`` over the run's short name (what varies in its sweep)."""
    where = " / ".join(p for p in (run.dataset, run.model) if p)
    return f"{where}\n{short}" if where else short


# --------------------------------------------------------------------------------------
# Learning curves
# --------------------------------------------------------------------------------------


@styled
def learning_curve_figure(run: Run, short: str, optimum: float | None = None,
                          fig: Figure | None = None) -> Figure:
    """The training objective per epoch (left; with the optimum of the same objective when
    there is one) and the validation metric per epoch (right). A diverged run's last
    epoch is marked."""
    fig = reuse_figure(fig, 9.0, 3.9)
    margins(fig, wspace=0.3, top=0.8)
    ax_obj, ax_val = fig.subplots(1, 2)
    h = run.history
    epochs = np.asarray(h["epoch"])
    marker = "o" if epochs.size <= 30 else None
    objective = finite(h["train_objective"])
    ax_obj.plot(epochs, objective, color="C0", lw=1.6, marker=marker, ms=3,
                label="training objective")
    shown = [objective]
    if optimum is not None and math.isfinite(optimum):
        ax_obj.axhline(optimum, color="0.25", ls=":", lw=1.2,
                       label=f"optimum of this objective ({optimum:.4g})")
        shown.append(np.array([optimum]))
    if wants_log(np.concatenate(shown)):
        ax_obj.set_yscale("log")
    ax_obj.set_title("Training objective (mean loss + L2 penalty)")
    val = [k for k in h if k.startswith("val_")]
    if val:
        y = finite(h[val[0]])
        ax_val.plot(epochs, y, color="C1", lw=1.6, marker=marker, ms=3, label=val[0])
        if wants_log(y):
            ax_val.set_yscale("log")
        ax_val.set_title(f"Validation: {val[0].removeprefix('val_')} per epoch")
    else:
        note(ax_val, "no validation data")
    for ax in (ax_obj, ax_val):
        if run.diverged and epochs.size:
            last = int(epochs[-1])
            ax.axvline(last, color=DIVERGED_COLOR, ls="--", lw=1.2,
                       label=f"diverged at epoch {last}")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlabel("epoch")
        ax.legend(loc="best")
    if not np.any(np.isfinite(objective)):
        note(ax_obj, "no finite values to draw")
    fig.suptitle(f"Learning curves: {run_title(run, short)}", fontsize=10)
    return fig


# --------------------------------------------------------------------------------------
# What the model learned, through the one predict
# --------------------------------------------------------------------------------------


def outputs(model: str, arrays: dict, X: np.ndarray) -> np.ndarray:
    """:func:`gdlab.models.registry.predict` on standardised rows (the figures' space):
    predicted targets (n,) or class probabilities (n, K)."""
    d = X.shape[1]
    scaler = {"x_mean": np.zeros(d), "x_scale": np.ones(d)}
    with np.errstate(all="ignore"):
        return predict(model, {**arrays, **scaler}, X)


def _figure_grid(split: Split, n: int = 160):
    """The n x n grid a 2-D figure evaluates: ``(points, shape, rx, ry)``: the points
    (n*n, 2) in the standardised space the models see, the mesh's shape, and both
    coordinates as meshes in raw units (what the axes show)."""
    m, s = split.x_mean, split.x_scale
    X = np.vstack([split.X_train, split.X_test])
    lo, hi = X.min(axis=0), X.max(axis=0)
    pad = 0.08 * np.where(hi > lo, hi - lo, 1.0)
    xx, yy = np.meshgrid(np.linspace(lo[0] - pad[0], hi[0] + pad[0], n),
                         np.linspace(lo[1] - pad[1], hi[1] + pad[1], n))
    return (np.column_stack([xx.ravel(), yy.ravel()]), xx.shape, xx * s[0] + m[0],
            yy * s[1] + m[1])


def _class_colors(k: int) -> list:
    return list(CLASS_COLORS) if k == 2 else [mpl.colormaps["tab10"](i % 10) for i in range(k)]


def _class_names(split: Split, k: int) -> list[str]:
    return [str(c) for c in (split.classes or range(k))]


def _points(ax, split: Split, k: int, colors, handles: list) -> None:
    """The training and test points of a 2-D classification, in raw units."""
    m, s = split.x_mean, split.x_scale
    names = _class_names(split, k)
    for Xp, yp, mk, part in ((split.X_train, split.y_train, "o", "train"),
                             (split.X_test, split.y_test, "^", "test")):
        for c in range(k):
            pts = Xp[yp == c] * s + m
            ax.scatter(pts[:, 0], pts[:, 1], s=16, marker=mk, color=colors[c],
                       edgecolors="k", linewidths=0.35, zorder=3)
            handles.append(Line2D([], [], ls="", marker=mk, color=colors[c], ms=5,
                                  label=f"class {names[c]}, {part}"))


def _line_1d(fig: Figure, split: Split, run: Run, ref) -> str:
    margins(fig, bottom=0.6)
    ax = fig.add_subplot()
    m, s = float(split.x_mean[0]), float(split.x_scale[0])
    for X, y, color, mk, label in ((split.X_train, split.y_train, TRAIN_COLOR, "o", "train"),
                                   (split.X_test, split.y_test, TEST_COLOR, "^", "test")):
        ax.scatter(X[:, 0] * s + m, y, s=14, c=color, marker=mk, alpha=0.65, lw=0,
                   label=f"{label} data ({len(y)})")
    xs = np.concatenate([split.X_train[:, 0], split.X_test[:, 0]])
    grid = np.linspace(xs.min(), xs.max(), 50)[:, None]
    ys = np.concatenate([split.y_train, split.y_test])
    ylim = padded(float(ys.min()), float(ys.max()))
    if ref is not None:
        ax.plot(grid[:, 0] * s + m, outputs(run.model, ref[0], grid), color="0.1", ls="--",
                lw=1.6, label=ref[1], zorder=4)
    line = outputs(run.model, run.arrays, grid)
    if np.all(np.isfinite(line)):
        ax.plot(grid[:, 0] * s + m, line, color=DIVERGED_COLOR if run.diverged else "C2",
                lw=2.2, alpha=0.9, label="gradient descent", zorder=3)
        if run.diverged or not (ylim[0] <= line.min() and line.max() <= ylim[1]):
            note(ax, "the gradient-descent line leaves the chart"
                 + (" (run diverged)" if run.diverged else ""), y=0.06, color=DIVERGED_COLOR)
    else:
        note(ax, "predictions not finite (run diverged): no line", y=0.06,
             color=DIVERGED_COLOR)
    ax.set_ylim(*ylim)
    ax.set_xlabel(split.feature_names[0])
    ax.set_ylabel("target y")
    ax.legend(loc="upper left")
    return "Fitted line"


def _predicted_vs_actual(fig: Figure, split: Split, run: Run, ref) -> str:
    margins(fig)
    ax = fig.add_subplot()
    y = split.y_test
    lo, hi = padded(float(y.min()), float(y.max()))
    if ref is not None:
        pr = outputs(run.model, ref[0], split.X_test)
        if np.all(np.isfinite(pr)):
            ax.scatter(y, pr, s=16, marker="x", c="0.45", lw=0.9,
                       label=f"{ref[1]} (R² = {M.r2(y, pr):.3f})", zorder=2)
    ax.plot([lo, hi], [lo, hi], color="0.1", ls=":", lw=1.0, label="perfect prediction")
    pred = outputs(run.model, run.arrays, split.X_test)
    ok = np.isfinite(pred) & (pred >= lo) & (pred <= hi)
    if np.all(np.isfinite(pred)):
        ax.scatter(y[ok], pred[ok], s=14, c=DIVERGED_COLOR if run.diverged else "C0",
                   alpha=0.7, lw=0, label=f"gradient descent (R² = {M.r2(y, pred):.3g})",
                   zorder=3)
    if not ok.all():
        note(ax, f"{int(np.sum(~ok))} of {y.size} predictions off the chart", y=0.9,
             color=DIVERGED_COLOR)
    ax.set_xlim(lo, hi)
    ax.set_ylim(lo, hi)
    ax.set_aspect("equal", adjustable="box")
    ax.set_xlabel("actual y (test)")
    ax.set_ylabel("predicted y")
    ax.legend(loc="lower right")
    return "Predicted vs actual, test part"


def _map_2d(fig: Figure, split: Split, run: Run, ref) -> str:
    """Binary: the probability of class 1 with its contours and the 0.5 boundary; K > 2:
    the decision regions, shaded by the top probability. The reference's boundary dashed."""
    k = max(split.n_classes, 2)
    margins(fig, right=0.9 if k == 2 else 0.3, bottom=1.25)
    ax = fig.add_subplot()
    grid, shape, rx, ry = _figure_grid(split)
    extent = (rx.min(), rx.max(), ry.min(), ry.max())
    colors = _class_colors(k)
    handles: list = []
    P = outputs(run.model, run.arrays, grid)
    if not np.all(np.isfinite(P)):
        note(ax, "outputs not finite (run diverged): no map", y=0.06, color=DIVERGED_COLOR)
    elif k == 2:
        p = P[:, 1].reshape(shape)
        im = ax.imshow(p, extent=extent, origin="lower", cmap="RdBu_r", vmin=0.0, vmax=1.0,
                       alpha=0.45, aspect="auto", zorder=0)
        fig.colorbar(im, ax=ax, fraction=0.05, pad=0.03,
                     label=f"P(class {_class_names(split, k)[1]}) by the model")
        levels = [v for v in (0.1, 0.25, 0.75, 0.9) if p.min() < v < p.max()]
        if levels:
            cs = ax.contour(rx, ry, p, levels=levels, colors="0.3", linewidths=0.7, zorder=1)
            ax.clabel(cs, fmt="%.2g", fontsize=7)
        if p.min() < 0.5 < p.max():
            ax.contour(rx, ry, p, levels=[0.5], colors="k", linewidths=2.0, zorder=2)
            handles.append(Line2D([], [], color="k", lw=2.0, label="decision boundary"))
        else:
            note(ax, "the model predicts one class everywhere in view", y=0.06)
    else:
        label = P.argmax(axis=1).reshape(shape)
        rgba = np.array([mcolors.to_rgba(c) for c in colors])[label]
        rgba[..., 3] = 0.15 + 0.45 * (P.max(axis=1).reshape(shape) - 1 / k) / (1 - 1 / k)
        ax.imshow(rgba, extent=extent, origin="lower", aspect="auto", zorder=0)
        ax.contour(rx, ry, label, levels=np.arange(k - 1) + 0.5, colors="k", linewidths=1.8,
                   zorder=2)
        handles.append(Line2D([], [], color="k", lw=1.8, label="decision boundary"))
    if ref is not None:
        Pr = outputs(run.model, ref[0], grid)
        if np.all(np.isfinite(Pr)):
            ax.contour(rx, ry, Pr.argmax(axis=1).reshape(shape),
                       levels=np.arange(k - 1) + 0.5, colors=REFERENCE_COLOR, linewidths=1.5,
                       linestyles="--", zorder=2)
            handles.append(Line2D([], [], color=REFERENCE_COLOR, lw=1.5, ls="--",
                                  label=f"{ref[1]}: boundary"))
    _points(ax, split, k, colors, handles)
    ax.set_xlim(extent[0], extent[1])
    ax.set_ylim(extent[2], extent[3])
    ax.set_xlabel(split.feature_names[0])
    ax.set_ylabel(split.feature_names[1])
    ax.grid(False)
    fig.legend(handles=handles, loc="lower center", ncols=2, fontsize=7.5, frameon=False)
    return "Decision boundary" if k == 2 else "Decision regions"


def _confusion(ax, split: Split, P: np.ndarray, k: int) -> str:
    """The K x K confusion matrix of the test part into ``ax``; its title."""
    ax.grid(False)
    names = _class_names(split, k)
    title = "Confusion matrix (test)"
    if np.all(np.isfinite(P)):
        cm = M.multiclass_confusion_matrix(split.y_test, P.argmax(axis=1), k)
        ax.imshow(cm, cmap="Blues", vmin=0, vmax=max(int(cm.max()), 1))
        for (i, j), v in np.ndenumerate(cm):
            ax.text(j, i, str(v), ha="center", va="center", fontsize=9 if k > 5 else 12,
                    color="white" if v > 0.6 * cm.max() else "black")
        title += f"\naccuracy {np.trace(cm) / max(int(cm.sum()), 1):.3f}"
    else:
        note(ax, "predictions not finite", color=DIVERGED_COLOR)
    ax.set_xticks(range(k), names, rotation=45 if k > 5 else 0)
    ax.set_yticks(range(k), names)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("actual class")
    ax.spines[["top", "right"]].set_visible(True)
    return title


def _quality_nd(fig: Figure, split: Split, run: Run, ref) -> str:
    """More than two features: the ROC curve (two classes) and the confusion matrix."""
    k = max(split.n_classes, 2)
    P = outputs(run.model, run.arrays, split.X_test)
    if k > 2:
        margins(fig, bottom=0.75, top=0.95)
        ax_cm = fig.add_subplot()
    else:
        margins(fig, left=0.75, right=0.35, bottom=0.6, top=0.95, wspace=0.35)
        ax_roc, ax_cm = fig.subplots(1, 2, width_ratios=[1.15, 1.0])
        y = split.y_test
        ax_roc.plot([0, 1], [0, 1], color="0.6", ls=":", lw=1.0, label="chance (AUC = 0.5)")
        both = 0 < int(y.sum()) < y.size
        if ref is not None and both:
            pr = outputs(run.model, ref[0], split.X_test)
            if np.all(np.isfinite(pr)):
                fpr, tpr, _ = M.roc_curve(y, pr[:, 1])
                ax_roc.plot(fpr, tpr, color="0.25", ls="--", lw=1.4,
                            label=f"{ref[1]} (AUC = {M.roc_auc(y, pr[:, 1]):.3f})")
        if both and np.all(np.isfinite(P)):
            fpr, tpr, _ = M.roc_curve(y, P[:, 1])
            ax_roc.plot(fpr, tpr, color=DIVERGED_COLOR if run.diverged else "C0", lw=2.0,
                        label=f"gradient descent (AUC = {M.roc_auc(y, P[:, 1]):.3f})")
        elif not both:
            note(ax_roc, "the test part holds one class: no ROC curve")
        else:
            note(ax_roc, "outputs not finite (run diverged)", color=DIVERGED_COLOR)
        ax_roc.set_xlim(-0.02, 1.02)
        ax_roc.set_ylim(-0.02, 1.02)
        ax_roc.set_aspect("equal")
        ax_roc.set_xlabel("false-positive rate")
        ax_roc.set_ylabel("true-positive rate")
        ax_roc.set_title("ROC curve (test part)")
        ax_roc.legend(loc="lower right", fontsize=7.5)
    ax_cm.set_title(_confusion(ax_cm, split, P, k), fontsize=9)
    return "Classifier quality"


@styled
def model_figure(split: Split, run: Run, short: str,
                 reference: tuple[dict, str] | None = None,
                 fig: Figure | None = None) -> Figure:
    """What the run's model learned, drawn the way its task and dimension allow, every
    model through :func:`outputs`. ``reference``: (scikit-learn's arrays for the same
    model, its label), drawn beside it."""
    if reference is not None:  # a long estimator (an MLP's arguments) in lines a legend holds
        reference = (reference[0], textwrap.fill(reference[1], 58, subsequent_indent="  "))
    d = split.n_features
    if split.task == "regression":
        draw, size = (_line_1d, (7.0, 5.0)) if d == 1 else (_predicted_vs_actual, (6.4, 6.2))
    elif d == 2:
        draw, size = _map_2d, (7.4, 6.6)
    else:
        draw, size = _quality_nd, ((10.0, 5.4) if split.n_classes <= 2 else (6.6, 6.4))
    fig = reuse_figure(fig, *size)
    kind = draw(fig, split, run, reference)
    fig.suptitle(f"{kind}: {run_title(run, short)}", fontsize=10)
    return fig
