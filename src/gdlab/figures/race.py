"""What ``fit()`` runs, shown: the optimizers' race, the lesson closer, a boundary learning.

- :func:`race_figure`: one two-parameter log-loss landscape (logistic regression on the
  first feature, weight and intercept) with the path of every optimizer from one start
  (gd, momentum, adam, lbfgs, newton: :mod:`gdlab.optimizers`, :mod:`gdlab.solvers`),
  beside the relative objective gap against iteration and against work. Work is counted,
  not timed, in passes over the training data (an objective with its gradient is two, a
  Hessian ``(p + 1) / 2 + 1`` for p parameters: its symmetric rank-n update), so that the
  figure is the same bytes on every machine; measured wall times are
  ``benchmarks/race.py``'s.
- :func:`lesson_cut_figure`: the squared loss on a sigmoid and the log loss along one line
  through weight space (the lesson pair's start to the log-loss run's end), the stretches
  where the squared loss curves down (negative curvature along the line, exact from its
  Hessian) shaded, and zoomed where it bends down hardest.
- :func:`boundary_epochs_figure`: small multiples of a 2-D classifier's decision boundary
  at chosen epochs of one run, replayed (:func:`gdlab.models.training.descent_path`).
"""

from __future__ import annotations

import numpy as np
from matplotlib import colors as mcolors
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from gdlab.data.core import Split
from gdlab.figures.run import _class_colors, _figure_grid, _points
from gdlab.figures.style import BEST_COLOR, margins, new_figure, note, styled
from gdlab.runfiles import Run

#: the racers, their colours and how each is set: learning rates in units of 1/L (L the
#: objective's smoothness) for the gradient methods, Adam's own scale for Adam
RACERS = {"gd": ("#7f7f7f", 1.0), "momentum": ("#9467bd", 0.1), "adam": ("#ff7f0e", None),
          "lbfgs": ("#1f77b4", None), "newton": ("#d62728", None)}
ADAM_LR = 0.1
#: the gap drawn as reached (the objective's floating-point floor)
FLOOR = 1e-16


class _Counted:
    """Counts the passes over the data a model's objective costs (see the module doc)."""

    def __init__(self, model, p: int):
        self.passes, self.p = 0.0, p
        for name, cost in (("_value", 1.0), ("_value_and_gradient", 2.0),
                           ("_hessian", (p + 1) / 2 + 1.0)):
            method = getattr(model, name)
            setattr(model, name, self._counting(method, cost))

    def _counting(self, method, cost):
        def counted(*args):
            self.passes += cost
            return method(*args)
        return counted


def race_paths(X1: np.ndarray, y: np.ndarray, l2: float, start: np.ndarray, epochs: int):
    """Each racer's path ``(k + 1, 2)`` from ``start`` on logistic regression of ``y`` on
    the one feature ``X1`` (n, 1), with the passes over the data spent up to each point:
    ``{name: (path, passes)}``."""
    from gdlab.models.logistic_regression import LogisticRegression

    class FromStart(LogisticRegression):
        def _initial_parameters(self, n_features, rng):
            return np.array(start, dtype=np.float64)

    Xa = np.column_stack([X1, np.ones(len(X1))])
    L = 0.25 * float(np.linalg.eigvalsh(Xa.T @ Xa / len(X1))[-1]) + l2
    out = {}
    for name, (_, scale) in RACERS.items():
        lr = ADAM_LR if name == "adam" else (scale or 1.0) / L
        model = FromStart(lr=lr, optimizer=name, epochs=epochs, l2=l2,
                          tol=0.0 if name in ("newton", "lbfgs") else None)
        counter = _Counted(model, 2)
        path, passes = [], []
        model._after_step = lambda t, c=counter, p=path, w=passes: (
            p.append(np.array(t)), w.append(c.passes))
        model.fit(X1, y)
        out[name] = np.array(path), np.array(passes)
    return out


def _objective(X1, y, l2, thetas) -> np.ndarray:
    from gdlab.models.logistic_regression import objective_surface

    return objective_surface(X1, y, thetas, loss="log_loss", l2=l2)


@styled
def race_figure(split: Split, l2: float = 0.01, shift: float = 1.5, epochs: int = 400,
                title: str = "") -> Figure:
    """The race on logistic regression of the training labels on the first feature,
    standardised then moved to mean ``shift``: weight and intercept then trade off along
    a narrow valley, as on raw (uncentred) data, where gradient descent crawls and
    Newton's method (invariant to such a change of coordinates) does not."""
    fig = new_figure(15.0, 5.2)
    axes = fig.subplots(1, 3, width_ratios=[1.15, 1.0, 1.0])
    X1, y = split.X_train[:, :1] + shift, split.y_train
    if len(np.unique(y)) != 2:
        note(axes[0], "the race needs two classes")
        return fig
    from gdlab.models.logistic_regression import LogisticRegression

    opt = LogisticRegression(optimizer="newton", l2=l2, tol=0.0, epochs=100).fit(X1, y)
    centre = np.array([opt.coef_[0], opt.intercept_])
    start = centre + np.array([-3.0, 2.5])
    paths = race_paths(X1, y, l2, start, epochs)
    f_star = min(float(_objective(X1, y, l2, p[-1:])[0]) for p, _ in paths.values())

    pts = np.vstack([p for p, _ in paths.values()])
    lo, hi = pts.min(axis=0), pts.max(axis=0)
    pad = 0.15 * (hi - lo) + 0.2
    ws = np.linspace(lo[0] - pad[0], hi[0] + pad[0], 101)
    bs = np.linspace(lo[1] - pad[1], hi[1] + pad[1], 101)
    grid = np.stack(np.meshgrid(ws, bs), axis=-1)
    surface = _objective(X1, y, l2, grid)
    ax = axes[0]
    levels = f_star + (surface.max() - f_star) * np.linspace(0, 1, 30) ** 2.5
    ax.contour(ws, bs, surface, levels=levels[1:], cmap="viridis", linewidths=0.7)
    for name, (path, _) in paths.items():
        color = RACERS[name][0]
        ax.plot(path[:, 0], path[:, 1], "-", color=color, lw=1.4, marker=".",
                ms=5 if name in ("newton", "lbfgs") else 2, label=f"{name} ({len(path) - 1} steps)")
    ax.plot(*start, "o", color="white", mec="k", ms=8, zorder=5, label="common start")
    ax.plot(*centre, "*", color=BEST_COLOR, mec="k", ms=13, zorder=5, label="optimum")
    ax.set_xlabel(f"w (weight of the first feature, its mean moved to {shift:g})")
    ax.set_ylabel("b (intercept)")
    ax.set_title(f"log loss (l2 = {l2:g}): every optimizer's path", fontsize=10)
    ax.legend(fontsize=7.5, loc="lower left")

    for name, (path, passes) in paths.items():
        gap = (_objective(X1, y, l2, path) - f_star) / abs(f_star)
        gap = np.maximum(gap, FLOOR)
        reached = np.flatnonzero(gap <= FLOOR)
        end = reached[0] + 1 if reached.size else len(gap)
        style = dict(color=RACERS[name][0], lw=1.6, marker="." if end < 40 else None,
                     label=name)
        axes[1].plot(np.arange(end), gap[:end], **style)
        axes[2].plot(passes[:end], gap[:end], **style)
    for ax, xlabel in ((axes[1], "iteration (epoch)"),
                       (axes[2], "work: passes over the training data (∝ wall time)")):
        ax.set_yscale("log")
        ax.set_ylim(FLOOR / 3, None)
        ax.set_xlabel(xlabel)
        ax.set_ylabel("relative objective gap (f − f*) / f*")
        ax.legend(fontsize=8)
    axes[2].set_xscale("log")
    axes[1].set_title("gap per iteration: Newton quadratic, L-BFGS superlinear, "
                      "GD a straight line", fontsize=9)
    axes[2].set_title("gap against work (counted: the same figure on every machine)",
                      fontsize=9)
    fig.suptitle("What fit() runs: gradient descent against L-BFGS and Newton's method, "
                 "one start" + (f"\n{title}" if title else ""), fontsize=10.5)
    return fig


@styled
def lesson_cut_figure(split: Split, pair: dict[str, Run] | None, title: str = "") -> Figure:
    """Both losses along the line from the lesson pair's start (t = 0) through the
    log-loss run's end (t = 1); where the squared loss curves down, shaded and zoomed."""
    from gdlab.losses import SigmoidSquaredLoss
    from gdlab.models.logistic_regression import LogisticRegression, objective_surface

    fig = new_figure(12.5, 4.8)
    axes = fig.subplots(1, 2)
    if pair is None:
        note(axes[0], "no pair of runs that differ only in their loss")
        return fig
    run = pair["log_loss"]
    hp = run.hyperparameters
    X, y = split.X_train, split.y_train
    model = LogisticRegression(**hp, seed=run.seed)
    start = model._initial_parameters(X.shape[1], np.random.default_rng(run.seed))
    end = np.append(run.arrays["coef"], run.arrays["intercept"])
    u = end - start
    if not np.linalg.norm(u) > 0:
        note(axes[0], "the log-loss run did not move from its start: no line to cut along")
        return fig
    l2 = float(hp.get("l2") or 0.0)
    ts = np.linspace(-4.0, 2.0, 1201)  # far back into the saturation, past the optimum
    thetas = start + ts[:, None] * u
    curves = {loss: objective_surface(X, y, thetas, loss=loss, l2=l2)
              for loss in ("log_loss", "squared")}
    squared = SigmoidSquaredLoss(l2)
    curv = np.array([u @ squared.hessian(t[:-1], t[-1], X, y) @ u for t in thetas])
    spans = _runs_of(curv < 0)
    shade = dict(color="#fdd49e", alpha=0.6, lw=0, zorder=0)
    for ax in axes:
        for i, j in spans:
            ax.axvspan(ts[i], ts[j - 1], **shade)
    handles = [Line2D([], [], color="#d62728", lw=2.0, ls="--",
                      label="squared loss on the sigmoid (left axis)"),
               Line2D([], [], color="#1f77b4", lw=1.8, label="log loss (right axis)"),
               Line2D([], [], color="#fdd49e", lw=8, label="squared loss not convex "
                      "along the line (u'Hu < 0)")]
    for ax, keep, what in ((axes[0], slice(None), "the whole cut: t = 0 the saturated "
                            "start, t = 1 where the log-loss run ended"),
                           (axes[1], None, "")):
        if keep is None:
            if not spans:
                note(ax, "the squared loss is convex along this whole cut")
                break
            # where it bends down hardest: the stretch around the most negative curvature
            # where it is at least a tenth of that, and as much again on either side
            k = int(np.argmin(curv))
            i, j = next((a, b) for a, b in _runs_of(curv <= 0.1 * curv[k]) if a <= k < b)
            width = max(ts[j - 1] - ts[i], 4 * (ts[1] - ts[0]))
            keep = (ts >= ts[i] - width) & (ts <= ts[j - 1] + width)
            what = "zoomed where the squared loss bends down hardest (its knee)"
            ax.set_xlim(ts[keep][0], ts[keep][-1])
        ax.plot(ts[keep], curves["squared"][keep], color="#d62728", lw=2.0, ls="--")
        ax.set_ylabel("squared loss on the sigmoid", color="#d62728")
        twin = ax.twinx()
        twin.plot(ts[keep], curves["log_loss"][keep], color="#1f77b4", lw=1.8)
        twin.set_ylabel("log loss", color="#1f77b4")
        twin.grid(False)
        for t in (0.0, 1.0):
            ax.axvline(t, color="0.4", lw=0.8, ls=":")
        ax.set_xlabel("t: θ = start + t · (log-loss run's end − start)")
        ax.set_title(what, fontsize=9)
    axes[0].legend(handles=handles, fontsize=7.5, loc="upper center")
    fig.suptitle(f"The lesson, closer: one line through weight space (lr {hp.get('lr')}, "
                 f"l2 {l2:g}, init {hp.get('init')})" + (f"\n{title}" if title else ""),
                 fontsize=10.5)
    return fig


def _runs_of(mask: np.ndarray) -> list[tuple[int, int]]:
    """The [start, stop) index ranges where ``mask`` is True."""
    edges = np.flatnonzero(np.diff(np.concatenate([[0], mask.astype(int), [0]])))
    return list(zip(edges[::2], edges[1::2], strict=True))


def chosen_epochs(n_epochs: int, k: int = 6) -> list[int]:
    """``k`` epochs from the start (0) to the last, spaced evenly on a log scale."""
    if n_epochs + 1 <= k:
        return list(range(n_epochs + 1))
    inner = np.unique(np.round(np.geomspace(1, n_epochs, k - 1)).astype(int))
    return [0, *inner.tolist()]


@styled
def boundary_epochs_figure(split: Split, run: Run, short: str = "") -> Figure:
    """The decision boundary of a 2-D classification run at :func:`chosen_epochs`,
    replayed from its hyperparameters and seed (the replay ends at its saved model)."""
    from gdlab.models.registry import model_info
    from gdlab.models.training import descent_path

    model = model_info(run.model).load()(**run.hyperparameters, seed=run.seed)
    path = descent_path(model, split.X_train, split.y_train)
    epochs = chosen_epochs(len(path) - 1)
    cols = 3
    rows = -(-len(epochs) // cols)
    # fixed margins: drawn for every best run, and constrained layout would double its time
    fig = new_figure(11.5, 3.6 * rows + 0.6, constrained=False)
    margins(fig, left=0.7, right=0.2, bottom=0.55, top=0.7, wspace=0.12, hspace=0.22)
    axes = np.atleast_1d(fig.subplots(rows, cols, sharex=True, sharey=True)).ravel()
    grid, shape, rx, ry = _figure_grid(split, 100)
    extent = (rx.min(), rx.max(), ry.min(), ry.max())
    k = max(split.n_classes, 2)
    colors = _class_colors(k)
    for ax, epoch in zip(axes, epochs, strict=False):
        model._store_parameters(path[epoch])
        with np.errstate(all="ignore"):
            P = model.predict_proba(grid)
        if not np.all(np.isfinite(P)):
            note(ax, "outputs not finite (diverged)")
        elif k == 2:  # an image, not filled contours: a fraction of the drawing time
            p = P[:, 1].reshape(shape)
            ax.imshow(p, extent=extent, origin="lower", cmap="RdBu_r", vmin=0.0, vmax=1.0,
                      alpha=0.45, aspect="auto", zorder=0)
            if p.min() < 0.5 < p.max():
                ax.contour(rx, ry, p, levels=[0.5], colors="k", linewidths=1.8)
        else:
            label = P.argmax(axis=1).reshape(shape)
            rgba = np.array([mcolors.to_rgba(c, 0.3) for c in colors])[label]
            ax.imshow(rgba, extent=extent, origin="lower", aspect="auto", zorder=0)
            ax.contour(rx, ry, label, levels=np.arange(k - 1) + 0.5, colors="k",
                       linewidths=1.5)
        _points(ax, split, k, colors, [])
        ax.set_xlim(extent[0], extent[1])
        ax.set_ylim(extent[2], extent[3])
        ax.set_title("start" if epoch == 0 else f"epoch {epoch}", fontsize=9.5)
        ax.grid(False)
    for ax in axes[(rows - 1) * cols:]:
        ax.set_xlabel(split.feature_names[0])
    for ax in axes[::cols]:
        ax.set_ylabel(split.feature_names[1])
    for ax in axes[len(epochs):]:
        ax.set_visible(False)
    hp = run.hyperparameters
    fig.suptitle(f"A boundary as it learns: {run.model} ({short or run.name}), "
                 f"{hp.get('optimizer')}, {len(path) - 1} epochs; class-1 probability "
                 "shaded, the boundary black", fontsize=10.5)
    return fig
