"""The best run is a result, not a lucky epoch: runs are scored by the mean of their
validation curve over the last epochs, and a run whose validation loss still swings there
ranks after the settled ones, in every choice of a best run (summary, repeats, halving's
promotion, TPE's told value)."""

import math

import numpy as np
import pytest

from gdlab import settling, tpe
from gdlab import summary as S


def history(val_log_loss) -> dict:
    v = np.asarray(val_log_loss, dtype=np.float64)
    return {"epoch": np.arange(1, v.size + 1), "train_objective": v.copy(),
            "val_log_loss": v, "val_accuracy": np.full(v.size, 0.9)}


def result(name: str, curve, config: str | None = None, repeat: int = 0) -> dict:
    """A run as metrics.json holds it, its tail computed from its validation curve."""
    r = {"dataset": "moons", "model": "logistic_regression", "task": "classification",
         "run_name": name, "run_key": name, "hyperparameters": {"lr": 1.0, "l2": 0.0},
         "seed": 1, "n_epochs": len(curve), "diverged": False, "converged": False,
         "final_objective": curve[-1],
         "metrics": {p: {"log_loss": curve[-1], "accuracy": 0.9} for p in S.PARTS},
         "tail": settling.tail_record(history(curve))}
    if config is not None:
        r.update(config=config, repeat=repeat, run_name=f"{config}/repeat~{repeat}")
    return r


# 100 epochs each; both come down from 0.7 to about 0.30 in the first 80
DESCENT = list(np.linspace(0.7, 0.30, 80))
#: swings between 0.288 and 0.349 from one epoch to the next and ends on a low one
LUCKY = DESCENT + [0.349 if i % 2 == 0 else 0.288 for i in range(20)]
#: settled at 0.30
SETTLED = DESCENT + [0.300] * 20


def test_a_lucky_last_epoch_does_not_win_over_a_settled_run():
    runs = [result("lucky", LUCKY), result("settled", SETTLED)]
    # the final-epoch choice would pick the lucky run: the test means something
    assert min(runs, key=lambda r: r["metrics"]["val"]["log_loss"])["run_name"] == "lucky"
    assert S.select_best(runs, "log_loss")["run_name"] == "settled"
    assert [r["run_name"] for r in S.rank_runs(runs, "log_loss")] == ["settled", "lucky"]
    assert runs[0]["tail"]["oscillating"] and not runs[1]["tail"]["oscillating"]
    rows = {r["run_name"]: r for r in S.sweep_table(runs, _baseline(), S.select_best(
        runs, "log_loss"))}
    assert rows["lucky"]["oscillating"] and not rows["settled"]["oscillating"]
    assert rows["settled"]["best"]


def test_the_tail_mean_decides_between_runs_that_do_not_swing():
    # a run that overfits (its validation loss climbs back at the end) has the lower last
    # value than one still coming down; over the last 20 epochs the overfit one is better
    overfit = DESCENT[:-20] + list(np.linspace(0.25, 0.30, 40))
    falling = list(np.linspace(0.7, 0.31, 80)) + list(np.linspace(0.31, 0.295, 20))
    runs = [result("overfit", overfit), result("falling", falling)]
    assert not any(r["tail"]["oscillating"] for r in runs)
    assert min(runs, key=lambda r: r["metrics"]["val"]["log_loss"])["run_name"] == "falling"
    tail_mean = {r["run_name"]: float(np.mean(curve[-20:]))
                 for r, curve in zip(runs, (overfit, falling), strict=True)}
    assert tail_mean["overfit"] < tail_mean["falling"]  # the oracle: numpy on the curves
    assert S.select_best(runs, "log_loss")["run_name"] == "overfit"
    assert settling.score(runs[0], "log_loss") == pytest.approx(tail_mean["overfit"], 1e-15)


def test_repeats_halving_and_tpe_use_the_same_rule():
    runs = [result("x", LUCKY, config="a", repeat=0), result("x", LUCKY, config="a", repeat=1),
            result("y", SETTLED, config="b", repeat=0),
            result("y", SETTLED, config="b", repeat=1)]
    assert [name for name, _ in S.rank_configs(runs, "log_loss")] == ["b", "a"]
    plain = [result("lucky", LUCKY), result("settled", SETTLED), result("third", SETTLED[:-1]
                                                                         + [0.31])]
    record = S.promote(plain, "log_loss", eta=3)
    assert record["promoted"] == ["settled"]
    assert record["ranking"][-1] == {**record["ranking"][-1], "run_name": "lucky",
                                     "oscillating": True}
    assert tpe.objective([plain[0]], "log_loss") == pytest.approx(np.mean(LUCKY[-20:]))
    assert tpe.objective([plain[1]], "log_loss") == pytest.approx(0.300)


def test_an_oscillating_run_is_still_chosen_when_no_run_settled():
    runs = [result("lucky", LUCKY)]
    best = S.select_best(runs, "log_loss")
    assert best["run_name"] == "lucky"
    record = S.best_record(best, _baseline(), "log_loss", "moons", "logistic_regression")
    assert record["score"]["oscillating"] is True
    assert record["score"]["value"] == pytest.approx(np.mean(LUCKY[-20:]))


def test_swing_against_closed_forms():
    assert settling.swing([5.0, 4.0, 3.0, 2.0]) == 0.0  # only falls
    assert settling.swing([1.0, 2.0, 3.0]) == 0.0  # only rises (overfitting is no swing)
    # a, b, a, b, a (5 values): 4 moves of |a - b|, net 0: half of 4|a - b| over the mean
    a, b = 0.288, 0.349
    assert settling.swing([a, b, a, b, a]) == pytest.approx(2 * (b - a) / ((3 * a + 2 * b) / 5))
    assert math.isnan(settling.swing([1.0, float("inf")]))
    assert settling.swing([0.3]) == 0.0


@pytest.mark.parametrize(("n", "k"), [(1, 1), (4, 1), (5, 1), (6, 2), (100, 20), (101, 21)])
def test_the_tail_is_the_last_fifth_of_the_epochs(n, k):
    assert settling.tail_length(n) == k


def test_a_run_without_a_tail_record_is_scored_by_its_last_value():
    r = result("old", SETTLED)
    del r["tail"]
    assert settling.score(r, "log_loss") == r["metrics"]["val"]["log_loss"]
    assert not settling.oscillating(r)
    # a metric with no curve (roc_auc) is scored by its last value
    r = result("auc", SETTLED)
    r["metrics"]["val"]["roc_auc"] = 0.93
    assert settling.score(r, "roc_auc") == 0.93


def _baseline() -> dict:
    metrics = {p: {"log_loss": 0.3, "accuracy": 0.9} for p in S.PARTS}
    return {"references": {"0.0": {"l2": 0.0, "no_optimum": "separable",
                                   "optimum": None}},
            "default": {"": {"estimator": "LogisticRegression()", "converged": True,
                             "metrics": metrics}}}
