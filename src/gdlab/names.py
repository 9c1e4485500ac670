"""Names every room of gdlab shares: the figures' files, the default tracking store, the
lesson's losses and the words for a problem with no optimum. (The short names people read
runs by are :mod:`gdlab.runnames`'.)

The Snakefile imports this module at every start, so it imports the standard library only.
"""

from __future__ import annotations

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
