"""The lesson's figure: log loss against the squared error of the sigmoid, from one
saturated start with one learning rate (:mod:`gdlab.lesson` picks the pair).

Top: each loss's objective on one plane through weight space — through the pair's common
start, spanned by both runs' displacements — with both gradient-descent paths, replayed
(a run's files keep its end point, not its path; the replay is the run's own fit, so it
ends exactly at its saved parameters), on one colour scale. Log loss is a bowl there; the
squared loss has a plateau, where the path crawls. Bottom: the validation log loss per
epoch of every pair from that start, one colour per learning rate: how long each loss stays
on the plateau, against a model that knows nothing (always the class share).
"""

from __future__ import annotations

import matplotlib as mpl
import numpy as np
from matplotlib import colors as mcolors
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from gdlab.data.core import Split
from gdlab.figures.style import BEST_COLOR, LR_CMAP, finite, new_figure, note, styled, wants_log
from gdlab.names import LESSON_LOSSES
from gdlab.runfiles import Run
from gdlab.runnames import short_value

_LOSS_STYLE = {"log_loss": "-", "squared": "--"}


def replay_paths(split: Split, pair: dict[str, Run]) -> dict[str, np.ndarray]:
    """The gradient-descent path ``[w, b]`` per epoch of each run of ``pair``, replayed
    with its own hyperparameters, seed and training data (:func:`gdlab.models.training.
    descent_path`)."""
    from gdlab.models.logistic_regression import LogisticRegression
    from gdlab.models.training import descent_path

    return {loss: descent_path(LogisticRegression(**run.hyperparameters, seed=run.seed),
                               split.X_train, split.y_train)
            for loss, run in pair.items()}


def _plane(paths: dict[str, np.ndarray]):
    """(c, u, v): the pair's common start and two equal-length directions spanning both
    displacements (the log-loss run's first)."""
    first, other = (paths[loss] for loss in LESSON_LOSSES)
    c = first[0]
    u = first[-1] - c
    if not np.linalg.norm(u) > 0:
        u = np.eye(c.size)[0]
    w = other[-1] - c
    v = w - (w @ u) / (u @ u) * u
    if not np.linalg.norm(v) > 1e-12 * np.linalg.norm(u):
        v = np.eye(c.size)[-1] - (np.eye(c.size)[-1] @ u) / (u @ u) * u
    return c, u, v * np.linalg.norm(u) / np.linalg.norm(v)  # the same scale on both axes


def _landscapes(fig: Figure, axes, split: Split, pair: dict[str, Run]) -> None:
    from gdlab.models.logistic_regression import objective_surface, plane_grid

    paths = replay_paths(split, pair)
    c, u, v = _plane(paths)
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
    l2 = float(pair[LESSON_LOSSES[0]].hyperparameters.get("l2") or 0.0)
    surfaces = {loss: objective_surface(split.X_train, split.y_train, thetas, loss=loss, l2=l2)
                for loss in LESSON_LOSSES}
    norm, levels = shared_scale(list(surfaces.values()))
    for ax, loss in zip(axes, LESSON_LOSSES, strict=True):
        cs = ax.contourf(alphas, betas, surfaces[loss], levels=levels, norm=norm,
                         cmap="viridis", extend="both")
        for path_loss, xy in coords.items():
            mine = path_loss == loss
            ax.plot(xy[:, 0], xy[:, 1], color="white" if mine else "0.75",
                    lw=2.0 if mine else 1.0, ls="-" if mine else "--", marker=".",
                    ms=3 if mine else 0, label=f"path of the {path_loss} run")
            ax.plot(*xy[-1], "*", color=BEST_COLOR if mine else "0.75", mec="k", ms=12)
        ax.plot(*coords[loss][0], "o", color="white", mec="k", ms=7, label="common start")
        ax.set_xlabel("α (along the log-loss run's path)")
        ax.set_ylabel("β")
        ax.set_title(f"{loss}: " + ("convex, a bowl" if loss == "log_loss"
                                    else "flat where the sigmoid saturates"), fontsize=9.5)
        ax.legend(loc="lower right", fontsize=7.5)
    # one colour scale for both panels: the squared loss's plateau looks as flat as it is
    cb = fig.colorbar(cs, ax=list(axes), label="training objective (both panels, one log "
                      "scale)", fraction=0.04)
    lo, hi = norm.vmin, norm.vmax
    decades = range(int(np.floor(np.log10(lo))), int(np.ceil(np.log10(hi))) + 1)
    ticks = [m * 10.0 ** e for e in decades for m in (1, 2, 5) if lo <= m * 10.0 ** e <= hi]
    cb.set_ticks(ticks, labels=[f"{t:g}" for t in ticks])
    cb.minorticks_off()


def shared_scale(surfaces: list[np.ndarray], n: int = 24):
    """One logarithmic colour scale (norm, contour levels) over every finite positive
    value of ``surfaces``: both objectives are positive, and a log scale keeps the
    structure of each visible while showing how much flatter one is."""
    values = np.concatenate([np.ravel(s) for s in surfaces])
    values = values[np.isfinite(values) & (values > 0)]
    lo, hi = (float(values.min()), float(values.max())) if values.size else (1e-3, 1.0)
    hi = max(hi, lo * 1.001)
    return mcolors.LogNorm(lo, hi), np.geomspace(lo, hi, n)


def _curves(fig: Figure, ax, pairs: list[dict[str, Run]], shown: dict[str, Run],
            target: float | None, constant: float | None = None) -> None:
    """Every pair's validation log loss per epoch, one colour per learning rate, the
    landscape's pair drawn thick with its plateau's end marked."""
    lrs = sorted({float(p[LESSON_LOSSES[0]].hyperparameters["lr"]) for p in pairs})
    norm = mcolors.LogNorm(min(lrs), max(lrs)) if len(lrs) > 1 and min(lrs) > 0 else \
        mcolors.Normalize(min(lrs) - 1, max(lrs) + 1)
    sm = mpl.cm.ScalarMappable(norm=norm, cmap=LR_CMAP)
    values = []
    for p in pairs:
        thick = p is shown
        for loss, run in p.items():
            y = finite(run.history["val_log_loss"])
            values.append(y)
            ax.plot(run.history["epoch"], y, ls=_LOSS_STYLE[loss], lw=2.8 if thick else 1.1,
                    alpha=1.0 if thick else 0.6, zorder=5 if thick else 2,
                    color=sm.to_rgba(float(run.hyperparameters["lr"])))
    if target is not None:
        lr = float(shown[LESSON_LOSSES[0]].hyperparameters["lr"])
        knowing_nothing = constant is not None and target >= constant
        ax.axhline(target, color="0.3", ls="-." if knowing_nothing else ":", lw=1.0)
        ax.annotate(f"off the plateau (lr {lr:g}) below this line: "
                    + (f"better than always predicting the class share ({constant:.3g})"
                       if knowing_nothing else
                       "90 % of the way down to the best validation log loss reached"),
                    (0.01, target), xycoords=("axes fraction", "data"), xytext=(0, 3),
                    textcoords="offset points", fontsize=7.5, color="0.3")
    if constant is not None and (target is None or target < constant):
        ax.axhline(constant, color="0.45", ls="-.", lw=1.0)
        ax.annotate(f"knowing nothing: always predicting the class share ({constant:.3g})",
                    (0.01, constant), xycoords=("axes fraction", "data"), xytext=(0, 3),
                    textcoords="offset points", fontsize=7.5, color="0.45")
    if values and wants_log(np.concatenate(values)):
        ax.set_yscale("log")
    cb = fig.colorbar(sm, ax=ax, pad=0.02, label="learning rate (lr)")
    if len(lrs) <= 12:
        cb.set_ticks(lrs, labels=[f"{v:g}" for v in lrs])
        cb.minorticks_off()
    ax.legend(handles=[Line2D([], [], color="0.2", ls=_LOSS_STYLE[loss], lw=1.6,
                              label=f"trained on {loss}") for loss in LESSON_LOSSES]
              + [Line2D([], [], color="0.2", lw=2.8, label="the pair drawn above")],
              # below the axes: inside, it covered the end of a curve
              loc="upper center", bbox_to_anchor=(0.5, -0.13), ncol=3, frameon=False)
    ax.set_xlabel("epoch")
    ax.set_ylabel("validation log loss")
    ax.set_title("Validation log loss per epoch, both losses from one start (each learning "
                 "rate its own start): how long each stays on the plateau", fontsize=9.5)


@styled
def lesson_figure(split: Split, pairs: list[dict[str, Run]], record: dict,
                  title: str = "") -> Figure:
    """The figure of a lesson sweep: ``pairs`` are the runs :func:`gdlab.lesson.
    lesson_record` describes in ``record`` (in its order), the landscape drawn for
    ``record["shown"]`` and the curves for every pair with its other hyperparameters but
    the learning rate."""
    fig = new_figure(12.5, 10.0)
    if record["shown"] is None:
        note(fig.add_subplot(), "no pair of runs that differ only in their loss")
        return fig
    top = fig.subfigures(2, 1, height_ratios=[1.15, 1.0])
    shown = pairs[record["shown"]]
    _landscapes(top[0], top[0].subplots(1, 2), split, shown)
    hp = record["pairs"][record["shown"]]["hyperparameters"]
    same = [p for p in pairs if {k: v for k, v in p[LESSON_LOSSES[0]].hyperparameters.items()
                                 if k not in ("lr", "loss")}
            == {k: v for k, v in hp.items() if k != "lr"}]
    _curves(top[1], top[1].subplots(), same, shown,
            record["pairs"][record["shown"]]["target_val_log_loss"],
            record.get("constant_val_log_loss"))
    start = (f"init {hp.get('init')}, init_scale {short_value(hp.get('init_scale'))}"
             if record["saturated_start"] else "a zero start (the grid has no saturated one)")
    runs = record["pairs"][record["shown"]]["runs"]
    stays = ", ".join(
        f"{loss}: " + (f"off the plateau at epoch {r['plateau_epochs']}"
                       if r["plateau_epochs"] is not None else
                       f"still on it after {r['n_epochs']} epochs")
        for loss, r in runs.items())
    fig.suptitle(f"Why log loss: both losses from one start ({start}), lr "
                 f"{short_value(hp['lr'])}, {hp.get('optimizer', 'gd')}. {stays}"
                 + (f"\n{title}" if title else ""), fontsize=10.5)
    return fig
