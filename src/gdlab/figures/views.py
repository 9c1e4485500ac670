"""Views of every configuration at once: parallel coordinates, and which hyperparameters
matter (:func:`gdlab.stats.importance`). Neither fits a model: the plot job stays free of
fits. Both read ``configs.csv`` rows (with repeats, the mean metric per configuration).
"""

from __future__ import annotations

import math

import matplotlib as mpl
import numpy as np
from matplotlib.collections import LineCollection
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from gdlab import stats
from gdlab.figures.style import (
    BEST_COLOR,
    cell_metric,
    direction,
    fmt,
    metric_norm,
    new_figure,
    note,
    parse_cell,
    sort_key,
    styled,
    wants_log,
)
from gdlab.figures.sweep import best_config, repeats_note, row_config
from gdlab.grid import HYPERPARAMETERS
from gdlab.metrics import higher_is_better


def varying_axes(rows: list[dict]) -> list[str]:
    """The hyperparameters whose value differs between rows (``lr`` first)."""
    keys = [k for k in HYPERPARAMETERS if rows and k in rows[0]]
    return [k for k in keys if len({r[k] for r in rows}) > 1]


def axis_scale(values: list, drawn: str | None = None) -> str:
    """``"category"`` (names, ``None``, booleans, lists), ``"log"`` (drawn log-uniformly,
    or positive numbers spanning at least a factor 10: an lr-like axis) or ``"linear"``.
    ``drawn``: the axis's distribution in a search, if it is drawn from a range."""
    if drawn is not None:
        return "log" if drawn == "loguniform" else "linear"
    if any(v is None or isinstance(v, bool | str) for v in values):
        return "category"
    return "log" if wants_log(values, ratio=10.0) else "linear"


def _positions(values: list, scale: str) -> tuple[np.ndarray, list[tuple[float, str]]]:
    """Each value's height in [0, 1] on its axis, and the axis's ticks (height, label)."""
    if scale == "category":
        cats = sorted(set(values), key=sort_key)
        where = {c: i / max(len(cats) - 1, 1) for i, c in enumerate(cats)}
        return (np.array([where[v] for v in values], dtype=np.float64),
                [(where[c], fmt(c)) for c in cats])
    v = np.asarray(values, dtype=np.float64)
    t = np.log10(v) if scale == "log" else v
    lo, hi = float(t.min()), float(t.max())
    span = hi - lo if hi > lo else 1.0
    distinct = np.unique(v)
    if distinct.size <= 6:  # a few values (a grid's, a choice): each its own tick
        return (t - lo) / span, [(((np.log10(x) if scale == "log" else x) - lo) / span,
                                  fmt(float(x))) for x in distinct]
    ticks = np.linspace(lo, hi, 5)
    return ((t - lo) / span,
            [((k - lo) / span, f"{10 ** k if scale == 'log' else k:.3g}") for k in ticks])


@styled
def parallel_coordinates_figure(rows: list[dict], best: dict, title: str = "",
                                drawn: dict[str, str] | None = None) -> Figure:
    """Every configuration a line through its hyperparameters to its validation metric.

    One vertical axis per varying hyperparameter — categories evenly spaced, numbers on a
    linear scale or a log one when they span a factor 10 or more (``drawn``: a search's
    axes drawn from a range, by distribution) — then the selection metric, best on top.
    Lines are coloured by the metric; diverged or non-finite configurations run grey to a
    mark above the metric axis; the best one is drawn thick, framed red. One
    ``LineCollection``: cheap at thousands of lines.
    """
    metric = best["selection_metric"]
    higher = higher_is_better(metric)
    drawn = drawn or {}
    keys = varying_axes(rows)
    values = {k: [parse_cell(r[k]) for r in rows] for k in keys}
    scales = {k: axis_scale(values[k], drawn.get(k)) for k in keys}
    scores = np.array([cell_metric(r, metric) for r in rows])
    healthy = np.isfinite(scores) & np.array([r.get("diverged") != "true" for r in rows])
    ok = scores[healthy]
    log_metric = wants_log(ok, ratio=10.0)
    norm = metric_norm(ok)
    cmap = mpl.colormaps["viridis" if higher else "viridis_r"]

    n_axes = len(keys) + 1
    fig = new_figure(max(7.0, 1.6 * n_axes + 2.4), 5.4)
    ax = fig.add_subplot()
    ax.grid(False)
    ax.spines[["left", "bottom"]].set_visible(False)
    heights = np.zeros((len(rows), n_axes))
    ticks = []
    for j, k in enumerate(keys):
        heights[:, j], axis_ticks = _positions(values[k], scales[k])
        ticks.append(axis_ticks)
    if ok.size:  # the metric, best at the top; off-scale (diverged, n/a) above the axis
        t = np.log10(ok) if log_metric else ok
        lo, hi = float(t.min()), float(t.max())
        span = hi - lo if hi > lo else 1.0
        h = (t - lo) / span
        heights[healthy, -1] = h if higher else 1.0 - h
        ticks.append([((k - lo) / span if higher else 1.0 - (k - lo) / span,
                       f"{10 ** k if log_metric else k:.3g}") for k in np.linspace(lo, hi, 5)])
    else:
        ticks.append([])
    heights[~healthy, -1] = 1.12
    xs = np.arange(n_axes, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        goodness = np.where(healthy, scores if higher else -scores, -np.inf)
    order = np.argsort(goodness, kind="stable")  # worst first: the best lines end on top
    rgba = cmap(norm(np.where(healthy, scores, ok.min() if ok.size else 0.0)))
    rgba[~healthy] = (0.6, 0.6, 0.6, 0.6)
    ax.add_collection(LineCollection([np.column_stack([xs, heights[i]]) for i in order],
                                     colors=rgba[order],
                                     linewidths=1.4 if len(rows) <= 50 else 0.7,
                                     alpha=0.85 if len(rows) <= 200 else 0.5))
    best_name = best_config(best)
    for i, r in enumerate(rows):
        if best_name is not None and row_config(r) == best_name:
            ax.plot(xs, heights[i], color=BEST_COLOR, lw=3.6, zorder=4, solid_capstyle="round")
            ax.plot(xs, heights[i], color=rgba[i], lw=1.8, zorder=5)
    for j, axis_ticks in enumerate(ticks):
        ax.axvline(j, color="0.25", lw=1.0, zorder=3)
        for h, label in axis_ticks:
            ax.plot([j - 0.03, j], [h, h], color="0.25", lw=0.8, zorder=3)
            ax.text(j - 0.05, h, label, ha="right", va="center", fontsize=7.5, zorder=6,
                    bbox={"fc": "white", "ec": "none", "alpha": 0.7, "pad": 0.5})
    if not healthy.all():
        ax.text(n_axes - 1 + 0.05, 1.12, "diverged / n/a", ha="left", va="center",
                fontsize=7.5, color="0.35")
    scale_note = {"log": " (log)", "linear": "", "category": ""}
    ax.set_xticks(xs, [f"{k}{scale_note[scales[k]]}" for k in keys]
                  + [f"{metric}{' (log)' if log_metric else ''}\n{direction(higher)}, "
                     "best on top"])
    ax.set_yticks([])
    ax.set_xlim(-0.6, n_axes - 0.6)
    ax.set_ylim(-0.06, 1.18)
    cb = fig.colorbar(mpl.cm.ScalarMappable(norm=norm, cmap=cmap), ax=ax, shrink=0.9,
                      pad=0.02, label=metric)
    if not higher:
        cb.ax.invert_yaxis()  # best on top, as on the metric's axis
    n_bad = int((~healthy).sum())
    fig.suptitle(f"Every configuration ({len(rows)}{repeats_note(rows, ', each the ')}"
                 + (f", {n_bad} diverged or n/a" if n_bad else "") + ") through its "
                 "hyperparameters to its validation metric" + (f"\n{title}" if title else ""),
                 fontsize=10)
    if not keys:
        note(ax, "no hyperparameter varies")
    return fig


def importance_of(rows: list[dict], metric: str,
                  drawn: dict[str, str] | None = None) -> list[dict]:
    """:func:`gdlab.stats.importance` of the rows' ``metric`` over their varying
    hyperparameters (rows that diverged or have no finite metric left out)."""
    ok = [r for r in rows if r.get("diverged") != "true"
          and math.isfinite(cell_metric(r, metric))]
    columns = {k: [parse_cell(r[k]) for r in ok] for k in varying_axes(rows)}
    return stats.importance(columns, [cell_metric(r, metric) for r in ok], drawn or {})


@styled
def importance_figure(rows: list[dict], best: dict, title: str = "",
                      drawn: dict[str, str] | None = None) -> Figure:
    """:func:`importance_of` as bars, one per varying hyperparameter, largest first, with
    the share expected by chance marked on each."""
    metric = best["selection_metric"]
    entries = importance_of(rows, metric, drawn)
    fig = new_figure(7.6, max(3.4, 2.1 + 0.48 * len(entries)))
    ax = fig.add_subplot()
    n_ok = sum(1 for r in rows if r.get("diverged") != "true"
               and math.isfinite(cell_metric(r, metric)))
    if not entries:
        note(ax, "no hyperparameter varies")
    labels = [e["axis"] + (f"\n({e['groups']} quantile bins)" if e["binned"] else
                           f"\n({e['groups']} values)") for e in entries]
    shares = [e["share"] if math.isfinite(e["share"]) else 0.0 for e in entries]
    ys = np.arange(len(entries))[::-1]
    ax.barh(ys, shares, color="#3b75af", height=0.6)
    for y, e, share in zip(ys, entries, shares, strict=True):
        ax.text(share + 0.01, y, f"{e['share']:.2f}" if math.isfinite(e["share"]) else "n/a",
                va="center", fontsize=8.5)
        if math.isfinite(e["chance"]):
            ax.plot([e["chance"]] * 2, [y - 0.38, y + 0.38], color="0.2", ls=":", lw=1.4)
    if entries:
        fig.legend(handles=[Line2D([], [], color="0.2", ls=":", lw=1.4,
                                   label="expected by chance with that many groups: "
                                         "(groups − 1) / (n − 1)")],
                   loc="outside lower center", frameon=False, fontsize=8)
    ax.set_yticks(ys, labels)
    ax.set_xlim(0.0, 1.08)
    ax.set_xlabel(f"share of the variance of {metric} explained "
                  "(between-group / total sum of squares)")
    ax.grid(axis="y", visible=False)
    fig.suptitle(f"Which hyperparameters matter: the {n_ok} configurations that did not "
                 f"diverge{repeats_note(rows)}" + (f"\n{title}" if title else ""), fontsize=10)
    return fig
