"""Values of the MLflow layout that are pure (gdlab.tracking.layout), without MLflow: a long
run's curves at a resolution a chart can show, the tags and descriptions that say how the
best run was chosen."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from gdlab.runfiles import Run
from gdlab.tracking import layout as L


def _history(n: int, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    loss = 1.0 / np.arange(1, n + 1) + rng.uniform(0, 1e-3, n)
    return {"epoch": np.arange(1, n + 1), "train_objective": loss,
            "val_log_loss": loss[::-1].copy(), "val_accuracy": rng.uniform(0.5, 0.9, n)}


def _run(history: dict, tail: dict | None = None) -> Run:
    n = len(history["epoch"])
    result = {"run_name": "lr~1", "dataset": "moons", "model": "logistic_regression",
              "task": "classification", "hyperparameters": {"lr": 1.0}, "diverged": False,
              "n_epochs": n, "seed": 1, "run_key": "rk", "final_objective": 0.5,
              "metrics": {"test": {"log_loss": 0.4, "accuracy": 0.8}}}
    if tail is not None:
        result["tail"] = tail
    run = Run("lr~1", Path("."), result, "ck")
    run.history = history
    run.timing = {"start_time_ms": 1000, "end_time_ms": 2000}
    return run


@pytest.mark.parametrize("n", [1, 10, 1000])
def test_a_curve_of_at_most_a_thousand_epochs_goes_whole(n):
    history = _history(n)
    assert list(L.curve_indices(history)) == list(range(n))
    assert L.curve_points_tag(history) is None
    rec = L.child_record(_run(history), "lr=1", "p", "proj", "unknown", None, top=False)
    steps = [s for k, _, _, s in rec.metrics if k == "curves/val_log_loss"]
    assert steps == list(range(1, n + 1))
    assert L.CURVE_POINTS_TAG not in rec.tags


def test_a_million_epochs_go_as_a_thousand_points_with_the_first_last_and_best():
    n = 1_000_000
    history = _history(n)
    best_acc = int(np.argmax(history["val_accuracy"]))
    rows = L.curve_indices(history)
    assert len(rows) <= L.MAX_CURVE_POINTS and len(rows) >= L.MAX_CURVE_POINTS - 10
    assert np.all(np.diff(rows) > 0)  # sorted, no repeats
    must = {0, n - 1, int(np.argmin(history["train_objective"])),
            int(np.argmin(history["val_log_loss"])), best_acc}
    assert must <= set(rows.tolist())
    # evenly spaced between those: no gap wider than an even spacing allows
    assert np.diff(rows).max() <= np.ceil((n - 1) / (L.MAX_CURVE_POINTS - len(must) - 1))
    run = _run(history)
    rec = L.child_record(run, "lr=1", "p", "proj", "unknown", None, top=False)
    curves = {}
    for key, value, _, step in rec.metrics:
        curves.setdefault(key, []).append((step, value))
    for col in ("train_objective", "val_log_loss", "val_accuracy"):
        points = curves[f"curves/{col}"]
        assert len(points) == len(rows)
        assert [s for s, _ in points] == (rows + 1).tolist()  # steps are epochs
        assert [v for _, v in points] == history[col][rows].tolist()  # values unchanged
    # the summary keeps the true last values
    assert curves["summary/final_val_log_loss"] == [(0, history["val_log_loss"][-1])]
    tag = rec.tags[L.CURVE_POINTS_TAG]
    assert tag.startswith(f"{len(rows)} of {n} epochs") and "history.csv" in tag


def test_non_finite_values_never_count_as_best():
    history = _history(5000)
    history["val_log_loss"][100] = np.nan
    history["val_log_loss"][200] = np.nan
    rows = L.curve_indices(history)
    assert int(np.nanargmin(history["val_log_loss"])) in set(rows.tolist())
