"""Figures of a whole sweep: the heatmap over the grid, every run's learning curves, and
every run's gap to the optimum of its objective.

With repeats (several runs of one configuration, different seeds) each configuration is
one :class:`Line`: its mean per epoch, with the 95 % interval as a band. At scale the cost
is Matplotlib's per-artist overhead, so curves are drawn as one ``LineCollection`` per
line style, diverged marks as one artist, and heatmap cells are labelled only up to
:data:`MAX_CELL_LABELS`.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import matplotlib as mpl
import numpy as np
from matplotlib import colors as mcolors
from matplotlib.collections import LineCollection
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch, Rectangle
from matplotlib.ticker import MaxNLocator

from gdlab.figures.style import (
    BEST_COLOR,
    DIVERGED_COLOR,
    LINESTYLES,
    LR_CMAP,
    cell_metric,
    direction,
    finite,
    fmt,
    heatmap_layout,
    metric_norm,
    new_figure,
    note,
    padded,
    parse_cell,
    sort_key,
    styled,
    text_color,
    wants_log,
)
from gdlab.grid import HYPERPARAMETERS
from gdlab.metrics import higher_is_better, metric_name
from gdlab.runfiles import Run
from gdlab.stats import mean_band

#: above this many cells, the heatmap's colours alone give the values (text costs seconds)
MAX_CELL_LABELS = 300
#: axes whose values are shown side by side, one panel each, never on the y axis
FACET_AXES = ("loss",)
#: more combinations of the other hyperparameters than this: one line style, no legend
MAX_LINE_STYLES = 8
#: a gap to the optimum this small is drawn at this floor: "reached", to the precision
#: the optimum itself is known (scikit-learn's solvers at tol 1e-10, exact solves)
GAP_FLOOR = 1e-12


@dataclass
class Line:
    """One line of a sweep figure: a configuration, drawn as its run or, with repeats, as
    its repeats' mean with a band."""

    name: str
    runs: list[Run]

    @property
    def hyperparameters(self) -> dict:
        return self.runs[0].hyperparameters

    @property
    def lr(self) -> float:
        return float(self.hyperparameters.get("lr") or 0.0)

    @property
    def diverged(self) -> bool:
        return any(r.diverged for r in self.runs)

    def series(self, get: Callable[[Run], np.ndarray | None], floor: float | None = None):
        """(epochs, values, band half-width or None) of ``get`` over the epochs every
        repeat reached; None when ``get`` has nothing for a run."""
        ys = [get(r) for r in self.runs]
        if any(y is None for y in ys):
            return None
        n = min(len(y) for y in ys)
        ys = [finite(y)[:n] for y in ys]
        if floor is not None:
            ys = [np.where(np.isnan(y), np.nan, np.maximum(y, floor)) for y in ys]
        epochs = np.asarray(self.runs[0].history["epoch"])[:n]
        if len(ys) == 1:
            return epochs, ys[0], None
        with np.errstate(all="ignore"):
            mean, half = mean_band(np.array(ys))
        return epochs, finite(mean), finite(half)


def lines_of(runs: list[Run]) -> list[Line]:
    """One :class:`Line` per configuration of ``runs`` (its repeats, repeat 0 first)."""
    groups: dict[str, list[Run]] = {}
    for r in sorted(runs, key=lambda r: (r.config, r.repeat)):
        groups.setdefault(r.config, []).append(r)
    return [Line(name, group) for name, group in groups.items()]


def repeats_note(rows: list[dict], prefix: str = " (") -> str:
    """``" (mean of 3 repeats)"`` when the rows are configurations with repeats."""
    counts = sorted({int(r["repeats"]) for r in rows if r.get("repeats")})
    if not counts or counts == [1]:
        return ""
    return f"{prefix}mean of {'/'.join(map(str, counts))} repeats" + \
        (")" if prefix == " (" else "")


def row_config(row: dict) -> str | None:
    """The configuration a ``configs.csv`` (or ``summary.csv``) row stands for."""
    return row.get("config") or row.get("run_name")


def best_config(best: dict) -> str | None:
    """The best configuration of a ``best.json`` (its best run's, without repeats)."""
    return (best.get("config") or {}).get("name") or best.get("run_name")


# --------------------------------------------------------------------------------------
# The heatmap
# --------------------------------------------------------------------------------------


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
    return [None] if key is None else sorted({parse_cell(r[key]) for r in rows}, key=sort_key)


def _half_width(row: dict, metric: str) -> float | None:
    lo, hi = cell_metric(row, f"{metric}_ci_low"), cell_metric(row, f"{metric}_ci_high")
    return (hi - lo) / 2 if math.isfinite(lo) and math.isfinite(hi) else None


@styled
def heatmap_figure(rows: list[dict], best: dict, title: str = "") -> Figure:
    """The validation selection metric over the grid; best configuration framed,
    diverged hatched. ``rows``: ``configs.csv`` rows; ``best``: ``best.json``. With
    repeats a cell is a configuration's mean, with its 95 % interval's half-width."""
    metric = best["selection_metric"]
    higher = higher_is_better(metric)
    xk, yk, fk = grid_axes(rows)
    xs, ys = _values(rows, xk), _values(rows, yk)
    facets = list(itertools.product(*(_values(rows, k) for k in fk))) or [()]
    cell = {(tuple(parse_cell(r[k]) for k in fk), parse_cell(r[yk]) if yk else None,
             parse_cell(r[xk]) if xk else None): r for r in rows}
    norm = metric_norm(np.array([cell_metric(r, metric) for r in rows
                                 if r.get("diverged") != "true"]))
    cmap = mpl.colormaps["viridis" if higher else "viridis_r"]
    labelled = len(xs) * len(ys) * len(facets) <= MAX_CELL_LABELS
    ncols = min(len(facets), 2)
    nrows = math.ceil(len(facets) / ncols)
    width = max(5.5, 1.2 + ncols * (0.9 * len(xs) + 1.0) + 1.4)
    height = 1.7 + nrows * ((0.6 if labelled else 0.3) * len(ys) + 0.9)
    # fixed margins measured from its texts: constrained layout took most of the time of a
    # many-panel heatmap (1.4 s of 2 s at 1100 runs)
    fig = new_figure(width, height, constrained=False)
    axes = np.atleast_1d(fig.subplots(nrows, ncols, squeeze=False)).ravel()
    best_name = best_config(best)

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
                v = cell_metric(r, metric)
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
                          fontsize=8 if half is None else 7, color=text_color(cmap(norm(v))))
                if best_name is not None and row_config(r) == best_name:
                    ax.add_patch(Rectangle((j - 0.47, i - 0.47), 0.94, 0.94, fill=False,
                                           ec=BEST_COLOR, lw=2.5, zorder=5))
        ax.imshow(np.ma.masked_invalid(data), cmap=cmap, norm=norm, aspect="auto", zorder=0)
        ax.set_xticks(range(len(xs)), [fmt(v) for v in xs])
        ax.set_yticks(range(len(ys)), [fmt(v) for v in ys])
        ax.set_xlim(-0.5, len(xs) - 0.5)
        ax.set_ylim(len(ys) - 0.5, -0.5)
        # only the outer panels label their (shared) ticks: fewer texts to lay out
        if n + ncols >= len(facets):
            ax.set_xlabel("learning rate (lr)" if xk == "lr" else (xk or ""))
        else:
            ax.tick_params(labelbottom=False)
        if n % ncols == 0:
            ax.set_ylabel(yk or "")
        else:
            ax.tick_params(labelleft=False)
        if fk:
            ax.set_title(", ".join(f"{k} = {fmt(v)}" for k, v in zip(fk, facet, strict=True)),
                         fontsize=9.5)
    for ax in axes[len(facets):]:
        ax.set_visible(False)
    repeats = repeats_note(rows, "\neach cell the ")
    suptitle = (f"{metric} over the grid" + (f": {title}" if title else "")
                + (f"{repeats} ± half its 95 % interval" if repeats else ""))
    cax = heatmap_layout(fig, axes[0], [fmt(v) for v in ys], nrows, ncols,
                         n_title_lines=suptitle.count("\n") + 1, facet_titles=bool(fk))
    fig.colorbar(mpl.cm.ScalarMappable(norm=norm, cmap=cmap), cax=cax,
                 label=f"{metric} ({direction(higher)})")
    handles = [Patch(fc="none", ec=BEST_COLOR, lw=2.5, label="best (chosen on validation)"),
               Patch(fc="0.82", ec="0.55", hatch="///", label="diverged")]
    fig.legend(handles=handles, loc="lower center", ncols=2, frameon=False)
    fig.suptitle(suptitle, y=1 - 0.08 / height, va="top")
    return fig


# --------------------------------------------------------------------------------------
# Every run's curves
# --------------------------------------------------------------------------------------


def _style_keys(lines: list[Line], drawn: Iterable[str]) -> list[str]:
    """Hyperparameters other than lr that vary across ``lines`` (they pick the line
    style), but those a search draws from a range."""
    keys = [k for k in HYPERPARAMETERS if k != "lr" and k not in set(drawn)]
    return [k for k in keys if len({fmt(ln.hyperparameters.get(k)) for ln in lines}) > 1]


def _lr_scale(lines: list[Line]):
    lrs = np.array(sorted({ln.lr for ln in lines if ln.lr > 0}) or [0.1])
    lo, hi = lrs.min(), lrs.max()
    if hi <= lo:
        lo, hi = lo / 3.0, hi * 3.0
    return mpl.cm.ScalarMappable(norm=mcolors.LogNorm(lo, hi), cmap=LR_CMAP), lrs


def overlay(axes, fig, lines: list[Line], getters: list[Callable[[Run], np.ndarray | None]],
            best: str | None = None, floor: float | None = None,
            drawn: Iterable[str] = ()) -> None:
    """Draw every line's ``getters[i]`` on ``axes[i]``: colour = lr, line style = the other
    varying hyperparameters (when few); the y range follows the lines that did not
    diverge, a diverged line is marked × where it left; the ``best`` configuration is
    drawn last, thick and outlined."""
    sm, lrs = _lr_scale(lines)
    style_keys = _style_keys(lines, drawn)
    combos = sorted({tuple(fmt(ln.hyperparameters.get(k)) for k in style_keys) for ln in lines})
    styled_lines = 1 < len(combos) <= MAX_LINE_STYLES
    styles = {c: (LINESTYLES[i % len(LINESTYLES)] if styled_lines else "-")
              for i, c in enumerate(combos)}
    lw, alpha = (1.3, 0.85) if len(lines) <= 50 else (0.7, 0.45)
    best_series = []
    for ax, get in zip(axes, getters, strict=True):
        curves = [(ln, s) for ln in sorted(lines, key=lambda ln: (ln.lr, ln.name))
                  if (s := ln.series(get, floor)) is not None]
        by_style: dict[str, list] = {}
        for ln, (epochs, y, _) in curves:
            combo = tuple(fmt(ln.hyperparameters.get(k)) for k in style_keys)
            by_style.setdefault(styles[combo], []).append((ln, epochs, y))
        for ls, group in by_style.items():  # one collection per style, not a Line2D per run
            ax.add_collection(LineCollection(
                [np.column_stack([e, y]) for _, e, y in group],
                colors=sm.to_rgba(np.array([ln.lr for ln, _, _ in group])), linestyles=ls,
                linewidths=lw, alpha=alpha))
        ax.autoscale_view()
        healthy = [y[np.isfinite(y)] for ln, (_, y, _) in curves if not ln.diverged]
        every = [y[np.isfinite(y)] for _, (_, y, _) in curves]
        ref = np.concatenate(healthy if any(a.size for a in healthy) else every or [[]])
        if ref.size:
            if wants_log(ref) or floor is not None:
                ax.set_yscale("log")
                lo = max(ref.min(), floor) if floor is not None else ref.min()
                ax.set_ylim(lo / (3.0 if floor is not None else 1.5), ref.max() * 4.0)
            else:
                ax.set_ylim(*padded(float(ref.min()), float(ref.max())))
        log = ax.get_yscale() == "log"
        for ln, (epochs, y, half) in curves:
            if half is not None:  # on a log scale, only where the band stays above 0
                with np.errstate(invalid="ignore"):
                    ax.fill_between(epochs, y - half, y + half, color=sm.to_rgba(ln.lr),
                                    where=(y - half > (floor or 0.0)) if log else None,
                                    alpha=0.15 if len(lines) <= 10 else 0.07, lw=0)
            if ln.name == best:
                best_series.append(ln)
                ax.plot(epochs, y, color="k", lw=3.4, zorder=7, solid_capstyle="round")
                ax.plot(epochs, y, color=sm.to_rgba(ln.lr), lw=1.8, zorder=8)
        top = ax.get_ylim()[1]
        on_chart, off_chart = [], []  # off the chart: marked just inside the top edge
        for ln, (epochs, y, _) in curves:
            if ln.diverged and epochs.size:
                if np.isfinite(y[-1]) and y[-1] < top:
                    on_chart.append((float(epochs[-1]), y[-1]))
                else:
                    off_chart.append((float(epochs[-1]), 0.97))
        for points, transform in ((on_chart, ax.transData), (off_chart, ax.get_xaxis_transform())):
            if points:
                xs, ys = zip(*points, strict=True)
                ax.plot(xs, ys, "x", ls="", color=DIVERGED_COLOR, ms=7, mew=2.0, zorder=6,
                        transform=transform)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlabel("epoch")
    cb = fig.colorbar(sm, ax=list(axes), shrink=0.9, pad=0.02)
    cb.set_label("learning rate (lr, log scale)")
    if len(lrs) <= 12 and "lr" not in set(drawn):  # each lr of the grid a tick
        cb.set_ticks(lrs, labels=[f"{v:g}" for v in lrs])
        cb.minorticks_off()
    handles = []
    if best_series:
        handles.append(Line2D([], [], color="k", lw=3.0, label="best (chosen on validation)"))
    if style_keys and styled_lines:
        handles += [Line2D([], [], color="0.2", ls=styles[c], lw=1.3,
                           label=", ".join(f"{k}={v}" for k, v in zip(style_keys, c,
                                                                        strict=True)))
                    for c in combos]
    if any(len(ln.runs) > 1 for ln in lines):
        n = sorted({len(ln.runs) for ln in lines if len(ln.runs) > 1})
        handles.append(Patch(fc="0.6", alpha=0.4, label=f"mean of {'/'.join(map(str, n))} "
                             "repeats, band: 95 % interval"))
    if any(ln.diverged for ln in lines):
        handles.append(Line2D([], [], ls="", marker="x", color=DIVERGED_COLOR, ms=7, mew=2.0,
                              label="diverged (× at its last epoch; at the top if off the chart)"))
    if handles:
        fig.legend(handles=handles, loc="outside lower center", ncols=min(len(handles), 3),
                   frameon=False)


def _validation_key(lines: list[Line]) -> str | None:
    """The validation curve every run records (``val_log_loss`` or ``val_mse``)."""
    keys = [k for k in lines[0].runs[0].history if k.startswith("val_")] if lines else []
    return keys[0] if keys else None


@styled
def learning_curves_figure(lines: list[Line], title: str = "", best: str | None = None,
                           drawn: Iterable[str] = ()) -> Figure:
    """Every configuration's training objective and validation curve, coloured by
    learning rate, the best one outlined (``drawn``: the axes a search draws from a
    range; they never pick a line style)."""
    val = _validation_key(lines)
    fig = new_figure(12.0 if val else 7.0, 5.4)
    axes = fig.subplots(1, 2 if val else 1, squeeze=False).ravel()
    getters = [lambda r: r.history["train_objective"]]
    if val:
        getters.append(lambda r: r.history.get(val))
    overlay(list(axes), fig, lines, getters, best=best, drawn=drawn)
    axes[0].set_ylabel("training objective")
    axes[0].set_title("Training objective: what each run minimises (its own loss + L2)")
    if val:
        name = metric_name(val)
        axes[1].set_ylabel(val)
        axes[1].set_title(f"Validation {name}: one measure for every run "
                          f"({direction(higher_is_better(name))})")
    fig.suptitle("Learning curves of every run" + (f": {title}" if title else ""))
    return fig


@styled
def convergence_figure(lines: list[Line], optimum: Callable[[dict], float | None],
                       why_not: Callable[[dict], str | None], title: str = "",
                       best: str | None = None, drawn: Iterable[str] = ()) -> Figure:
    """Training objective minus the optimum of the same objective, per epoch: does
    gradient descent reach what ``fit()`` reaches? Only a problem with one minimum has an
    optimum (``optimum(hyperparameters)``; None otherwise, and ``why_not`` says why); the
    other lines are left out and counted by reason. A gap at or below :data:`GAP_FLOOR`
    is drawn on it, labelled reached."""
    fig = new_figure(8.5, 5.4)
    ax = fig.add_subplot()
    convex = [ln for ln in lines if optimum(ln.hyperparameters) is not None]

    def gap(r: Run):
        with np.errstate(all="ignore"):
            return np.asarray(r.history["train_objective"], dtype=np.float64) - \
                optimum(r.hyperparameters)

    reasons: dict[str, int] = {}
    for ln in lines:
        if optimum(ln.hyperparameters) is None:
            reason = why_not(ln.hyperparameters) or "no optimum"
            reasons[reason] = reasons.get(reason, 0) + 1
    left_out = "\n".join(f"{n} configuration{'s' if n > 1 else ''} left out: {why}"
                         for why, n in reasons.items())
    if convex:
        overlay([ax], fig, convex, [gap], best=best, floor=GAP_FLOOR, drawn=drawn)
        if ax.get_ylim()[0] <= GAP_FLOOR:  # some run got there: show where "there" is
            ax.axhline(GAP_FLOOR, color="0.3", ls=":", lw=1.0)
            ax.annotate(f"reached: gap ≤ {GAP_FLOOR:g} (the optimum's own precision)",
                        (0.01, GAP_FLOOR), xycoords=("axes fraction", "data"), xytext=(0, 3),
                        textcoords="offset points", fontsize=7.5, color="0.3")
    else:
        note(ax, "no configuration of this sweep has an optimum to measure a gap to:\n"
                 + left_out + "\n(see learning_curves.png, and the comparison with "
                 "scikit-learn's default estimator)")
        ax.set_xticks([])
        ax.set_yticks([])
    ax.set_ylabel("objective − optimum of the same objective (log scale)")
    fig.suptitle("Does gradient descent reach the optimum that fit() finds?"
                 + (f"\n{title}" if title else ""))
    if convex and left_out:  # above the axes, where no curve runs
        ax.set_title(left_out, fontsize=8, color="0.3")
    return fig
