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


def _colour_distance_from_red(hex_colour: str) -> float:
    r, g, b = (int(hex_colour[i:i + 2], 16) for i in (1, 3, 5))
    return float(np.hypot(np.hypot(r - 0xd6, g - 0x27), b - 0x28))


def test_red_marks_diverged_runs_only_and_parents_get_distinct_colours():
    history = _history(10)
    healthy = [_run(history) for _ in range(1)]
    names = [f"lr~{i}" for i in range(200)]
    colours = set()
    for name in names:
        run = _run(history)
        run.name = name
        colour = L.run_color(run)
        assert colour == L.run_color(run)  # stable
        colours.add(colour)
    assert L.DIVERGED_COLOR not in colours and len(colours) > 5
    assert min(_colour_distance_from_red(c) for c in L.PALETTE) > 100  # nothing reddish
    diverged = _run(history)
    diverged.result["diverged"] = True
    assert L.run_color(diverged) == L.DIVERGED_COLOR
    rec = L.child_record(healthy[0], "lr=1", "p", "proj", "unknown", None, top=False)
    assert rec.tags["mlflow.runColor"] in L.PALETTE  # explicit: MLflow's own has red
    sweeps = ["moons/mlp_classifier", "iris/softmax_regression", "line_1d/linear_regression",
              "linear_8d/linear_regression", "breast_cancer/logistic_regression",
              "moons/logistic_regression"]
    parents = L.parent_colors(sweeps)
    assert set(parents) == set(sweeps) and len(set(parents.values())) == len(sweeps)
    assert L.DIVERGED_COLOR not in parents.values()
    assert L.parent_colors(sweeps[::-1]) == parents  # whatever the order


def test_a_diverged_curves_blow_up_is_left_out_of_the_charts():
    history = {"epoch": np.arange(1, 6), "train_objective": np.array([2.0, 5.0, 30.0, 1.5e7,
                                                                       np.nan]),
               "val_log_loss": np.array([0.7, 0.6, 9.9, 11.0, np.nan]),
               "val_accuracy": np.array([0.5, 0.6, 0.5, 0.5, 0.5])}
    run = _run(history)
    run.result["diverged"] = True
    rec = L.child_record(run, "lr=100", "p", "proj", "unknown", None, top=False)
    curves = {}
    for key, value, _, step in rec.metrics:
        if key.startswith(L.CURVES):
            curves.setdefault(key, []).append((step, value))
    # 10 x the first value (at least 1): 20 for the objective, 10 for the log loss
    assert [s for s, _ in curves["curves/train_objective"]] == [1, 2, 5]  # 30, 1.5e7 out
    assert np.isnan(curves["curves/train_objective"][-1][1])  # a gap, not a value
    assert [s for s, _ in curves["curves/val_log_loss"]] == [1, 2, 3, 5]
    assert len(curves["curves/val_accuracy"]) == 5
    healthy = _run(history)  # the same curve of a run that did not diverge goes whole
    rec = L.child_record(healthy, "lr=1", "p", "proj", "unknown", None, top=False)
    assert sum(k == "curves/train_objective" for k, *_ in rec.metrics) == 5


def test_every_child_says_what_it_is_and_the_best_one_says_so():
    from gdlab.settling import tail_record

    history = _history(100)
    tail = tail_record(history)
    run = _run(history, tail)
    run.result["metrics"]["val"] = {"log_loss": float(history["val_log_loss"][-1])}
    text = L.child_record(run, "lr=1", "p", "proj", "unknown", None, top=False,
                          best=True).tags[L.NOTE_TAG]
    assert text.startswith("**The best run of moons / logistic_regression**, chosen on its "
                           "validation metric averaged over the last 20% of its epochs")
    assert "**lr=1** (gdlab run `lr~1`), 100 epochs." in text
    assert f"Validation log_loss over its last 20 epochs: {tail['val']['log_loss']:.4g} on " \
           "average" in text
    assert "Test: log_loss 0.4, accuracy 0.8." in text
    text = L.child_record(run, "lr=1", "p", "proj", "unknown", None, top=True).tags[L.NOTE_TAG]
    assert text.startswith("One of the 3 best runs") and "The best run" not in text
    swinging = _run(history, {**tail, "oscillating": True})
    swinging.result["metrics"]["val"] = {"log_loss": 0.5}
    assert "still swings there (oscillating)" in L.child_description(swinging, "lr=1")
    diverged = _run(history, tail)
    diverged.result["diverged"] = True
    assert "**diverged** (status FAILED" in L.child_description(diverged, "lr=1")
