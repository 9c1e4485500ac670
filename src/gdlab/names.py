"""Names every room of gdlab shares: the figures' files, the default tracking store, and
the short names people read runs by.

The Snakefile imports this module at every start (with :mod:`gdlab.grid`), so it imports
nothing heavy: the standard library and the model registry's data.
"""

from __future__ import annotations

import math

from gdlab.models.registry import COMMON_AXES, REGISTRY

#: the order hyperparameters are named in: the common axes (lr first), then each model's
ORDER = tuple(dict.fromkeys([*COMMON_AXES, "fit_intercept",
                             *(k for info in REGISTRY.values() for k in info.own_axes)]))

#: where runs go when neither MLFLOW_TRACKING_URI nor the config names a store
DEFAULT_TRACKING_URI = "sqlite:///mlflow.db"

#: the figures of the runs that get their own (``plots/runs/<run name>/``)
RUN_FIGURES = ("learning_curve.png", "model.png")
#: the figures of every sweep, in the order a reader meets them (a grid's heatmap first;
#: which a sweep has: its method's, :attr:`gdlab.methods.base.Method.figures`)
SWEEP_FIGURES = ("heatmap.png", "learning_curves.png", "convergence.png",
                 "parallel_coordinates.png", "importance.png")
#: the lesson's figure (a logistic-regression sweep over both losses)
LESSON_FIGURE = "loss_landscape.png"
#: what the lesson job draws beside it: the optimizers' race on one landscape, and the
#: lesson closer (a 1-D cut of both losses)
LESSON_FIGURES = (LESSON_FIGURE, "optimizer_race.png", "lesson_closer.png")
#: a 2-D classification run's decision boundary at chosen epochs, beside RUN_FIGURES
BOUNDARY_FIGURE = "boundary_epochs.png"
#: a TPE search's optimisation history (its own rule: the trials in the order asked)
HISTORY_FIGURE = "optimisation_history.png"
#: every figure name a sweep's MLflow parent may hold (what a re-sync may remove)
ALL_SWEEP_FIGURES = (*SWEEP_FIGURES, *LESSON_FIGURES, HISTORY_FIGURE)
#: the two losses of logistic regression the lesson compares, convex first
LESSON_LOSSES = ("log_loss", "squared")

#: why a problem has no optimum (``baseline.json``'s ``no_optimum``), in a few words and
#: no commas (a cell of ``results/overview.csv`` and of the end-of-run table)
_NO_OPTIMUM = (("not convex", "non-convex"), ("separable", "no minimum (l2 = 0; separable)"))


def short_reason(reason: str | None) -> str:
    """Why a problem has no optimum, in a few words."""
    return next((short for key, short in _NO_OPTIMUM if key in (reason or "")), "no optimum")


def is_lesson(model: str, losses) -> bool:
    """Whether a sweep gets the lesson's figure: logistic regression over both losses."""
    return model == "logistic_regression" and set(LESSON_LOSSES) <= set(losses or ())


# --------------------------------------------------------------------------------------
# Short names of runs: what varies within the sweep, for tables and chart legends
# --------------------------------------------------------------------------------------

#: hyperparameters named by their value alone (the value says what it is)
_BARE = ("optimizer", "loss", "activation")


def short_value(value) -> str:
    """A value as a person reads it: ``0.001``, ``1e-05``, ``16x16``, ``none``."""
    if value is None:
        return "none"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        return f"{value:.3g}" if math.isfinite(value) else str(value)
    if isinstance(value, list | tuple):
        return "x".join(short_value(v) for v in value)
    return str(value)


def varying(hyperparameters: list[dict]) -> list[str]:
    """The hyperparameters whose value differs between runs, in :data:`ORDER`."""
    keys = {k for hp in hyperparameters for k in hp}
    keys = sorted(keys, key=lambda k: (ORDER.index(k) if k in ORDER else len(ORDER), k))
    return [k for k in keys if len({repr(hp.get(k)) for hp in hyperparameters}) > 1]


def short_name(hp: dict, axes: list[str], *, trial: int | None = None,
               repeat: int | None = None) -> str:
    """``lr=0.1 momentum l2=0.05``: the values of ``axes`` (what varies in the sweep;
    constants are params, not name parts), named values bare; a search's trial number
    first, a repeat last. Short enough for a chart's legend."""
    parts = [f"#{trial}"] if trial is not None else []
    for k in axes:
        value = short_value(hp.get(k))
        parts.append(value if k in _BARE else f"{k}={value}")
    if repeat is not None:
        parts.append(f"r{repeat}")
    return " ".join(parts) or "the only run"


def short_names(results: list[dict]) -> dict[str, str]:
    """Run name -> :func:`short_name` for a sweep's runs (their ``metrics.json`` or specs):
    the axes that vary across the sweep, a search's trial number first, the repeat last.
    Unique, since two configurations differ in a varying axis or their trial."""
    axes = varying([r["hyperparameters"] for r in results])
    repeats = any("repeat" in r for r in results)
    return {r["run_name"]: short_name(r["hyperparameters"], axes, trial=_trial(r["run_name"]),
                                      repeat=int(r["repeat"]) if repeats else None)
            for r in results}


def _trial(run_name: str) -> int | None:
    """The trial number of a search's run (``trial~0007/...``), else None."""
    first = run_name.split("/", 1)[0]
    return int(first.removeprefix("trial~")) if first.startswith("trial~") else None
