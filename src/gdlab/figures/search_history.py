"""A TPE search's optimisation history: every trial's validation metric against its number,
the best so far, the rounds marked (``plots/optimisation_history.png``).

The figure reads the sweep's ``configs.csv`` (one row per trial; with repeats, the mean of
its repeats: the objective the sampler was told) and ``best.json`` (the selection metric).
A trial's number is in its name (``trial~0007/...``) and its round is ``number // batch``
(rounds are consecutive blocks of ``batch`` trials, :mod:`gdlab.tpe`). A trial that
diverged, or has no finite metric, was told to the sampler as failed: it is drawn as a
grey cross on the top edge, not as a number.
"""

from __future__ import annotations

import math
import re

import numpy as np
from matplotlib import colors as mcolors
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from gdlab.figures.style import BEST_COLOR, new_figure, styled
from gdlab.figures.sweep import best_config, repeats_note
from gdlab.metrics import higher_is_better

_TRIAL = re.compile(r"^trial~(\d+)(/|$)")
_FAILED_COLOR = "0.45"


def trial_number(config: str) -> int:
    """The number of the trial a configuration name (``trial~0007/lr~0.1``) stands for."""
    m = _TRIAL.match(config)
    if m is None:
        raise ValueError(f"{config!r} is no trial of a search (trial~<number>/...)")
    return int(m.group(1))


def history(rows: list[dict], metric: str, batch: int) -> list[dict]:
    """Per trial in number order: ``number``, ``round``, ``config``, ``value`` (NaN when it
    failed: diverged or not finite) and ``best`` (the best value so far, NaN before the
    first finite one). ``rows`` are ``configs.csv`` rows, ``metric`` its column
    (``val_log_loss``)."""
    higher = higher_is_better(metric)
    out, best = [], math.nan
    for row in sorted(rows, key=lambda r: trial_number(r["config"])):
        try:
            value = float(row.get(metric) or "nan")
        except ValueError:
            value = math.nan
        if row.get("diverged") == "true" or not math.isfinite(value):
            value = math.nan
        elif not math.isfinite(best) or (value > best if higher else value < best):
            best = value
        number = trial_number(row["config"])
        out.append({"number": number, "round": number // batch, "config": row["config"],
                    "value": value, "best": best})
    return out


@styled
def optimisation_history_figure(rows: list[dict], best: dict, batch: int,
                                title: str = "", n_startup_trials: int | None = None) -> Figure:
    """Every trial a point (coloured by its round), the best so far a step line, the rounds
    as alternating bands labelled at the top, the best trial framed red, failed trials
    crosses on the top edge. With ``n_startup_trials``, a round asked while fewer trials
    than that had completed (TPE samples at random until then) is labelled "random"."""
    metric = best.get("selection_metric") or "val_loss"
    points = history(rows, metric, batch)
    numbers = np.array([p["number"] for p in points], dtype=float)
    values = np.array([p["value"] for p in points], dtype=float)
    bests = np.array([p["best"] for p in points], dtype=float)
    rounds = np.array([p["round"] for p in points], dtype=int)
    ok = np.isfinite(values)
    n_rounds = int(rounds.max()) + 1 if len(rounds) else 0

    fig = new_figure(7.2, 4.0)
    ax = fig.add_subplot()
    if ok.any():
        lo, hi = float(values[ok].min()), float(values[ok].max())
        log = lo > 0 and hi / lo >= 20.0
        if log:
            ax.set_yscale("log")
        pad = (hi / lo) ** 0.06 if log and hi > lo else None
        if log:
            ylim = (lo / pad, hi * pad) if pad else (lo / 1.5, hi * 1.5)
        else:
            span = hi - lo or max(abs(hi), 1.0) * 0.1
            ylim = (lo - 0.06 * span, hi + 0.14 * span)
    else:
        ylim = (0.0, 1.0)
    ax.set_ylim(*ylim)
    top = ylim[1]

    # the rounds: alternating bands, each labelled above the axes
    for r in range(n_rounds):
        in_round = numbers[rounds == r]
        x0, x1 = in_round.min() - 0.5, in_round.max() + 0.5
        if r % 2:
            ax.axvspan(x0, x1, color="0.93", zorder=0, lw=0)
        label = f"round {r}"
        if n_startup_trials is not None and \
                (ok & (numbers < r * batch)).sum() < n_startup_trials:
            label += " (random)"
        ax.text((x0 + x1) / 2, 1.005, label, transform=ax.get_xaxis_transform(),
                ha="center", va="bottom", fontsize=7, color="0.35")
    cmap = mcolors.ListedColormap(
        np.array([[0.13, 0.40, 0.67, 1.0], [0.90, 0.45, 0.05, 1.0]]), name="rounds")
    ax.scatter(numbers[ok], values[ok], c=rounds[ok] % 2, cmap=cmap, vmin=0, vmax=1, s=22,
               zorder=3, edgecolors="white", linewidths=0.4)
    if (~ok).any():
        ax.scatter(numbers[~ok], np.full((~ok).sum(), top), marker="x", color=_FAILED_COLOR,
                   s=26, zorder=3, clip_on=False)
    finite_best = np.isfinite(bests)
    if finite_best.any():
        xs = np.append(numbers[finite_best], numbers.max() + 0.5)
        ys = np.append(bests[finite_best], bests[finite_best][-1])
        ax.step(xs, ys, where="post", color="0.15", lw=1.4, zorder=2)
    best_name = best_config(best)
    for p in points:
        if p["config"] == best_name and math.isfinite(p["value"]):
            ax.scatter([p["number"]], [p["value"]], s=90, facecolors="none",
                       edgecolors=BEST_COLOR, linewidths=1.6, zorder=4)
    ax.set_xlim(-0.5 if len(numbers) else 0, numbers.max() + 0.5 if len(numbers) else 1)
    ax.set_xlabel("trial")
    higher = higher_is_better(metric)
    ax.set_ylabel(f"{metric} ({'higher' if higher else 'lower'} is better)")
    repeats = repeats_note(rows, prefix=", each the ")
    handles = [
        Line2D([], [], ls="none", marker="o", color=cmap(0.0), label="trial (round 0, 2, ...)"),
        Line2D([], [], ls="none", marker="o", color=cmap(1.0), label="trial (round 1, 3, ...)"),
        Line2D([], [], color="0.15", lw=1.4, label="best so far"),
        Line2D([], [], ls="none", marker="o", markerfacecolor="none",
               markeredgecolor=BEST_COLOR, markersize=9, label="best trial"),
    ]
    if (~ok).any():
        handles.append(Line2D([], [], ls="none", marker="x", color=_FAILED_COLOR,
                              label=f"failed ({int((~ok).sum())}: diverged)"))
    fig.legend(handles=handles, loc="outside lower center", ncol=len(handles),
               frameon=False, fontsize=7)
    fig.suptitle(f"Optimisation history: {len(points)} trials in {n_rounds} rounds of "
                 f"{batch}{repeats}" + (f"\n{title}" if title else ""), fontsize=9)
    return fig

