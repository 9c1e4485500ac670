"""Summaries with repeats: a configuration is chosen on its mean, reported with a 95 %
Student-t interval (checked against scipy.stats), and without repeats nothing changes."""

import pytest
from scipy import stats as sps

from gdlab import summary as S

BASELINE = {"references": {"0.0": {"l2": 0.0, "optimum": {"objective": 0.1, "metrics": {
    "train": {"mse": 0.1}, "val": {"mse": 0.1}, "test": {"mse": 0.1}}}}},
    "default": {"": {"estimator": "LinearRegression()", "converged": True, "metrics": {
        "train": {"mse": 0.2}, "val": {"mse": 0.2}, "test": {"mse": 0.2}}}}}


def run(config: str, repeat: int | None, val: float, test: float = 1.0,
        diverged: bool = False) -> dict:
    """A run as metrics.json holds it (``repeat`` None: a sweep without repeats)."""
    r = {"dataset": "d", "model": "linear_regression", "task": "regression",
         "run_name": config if repeat is None else f"{config}/repeat~{repeat}",
         "run_key": f"{config}{repeat}", "hyperparameters": {"lr": 0.1, "l2": 0.0},
         "seed": 100 + (repeat or 0), "n_epochs": 5, "diverged": diverged,
         "converged": False, "final_objective": val,
         "metrics": {"train": {"mse": val}, "val": {"mse": val}, "test": {"mse": test}}}
    if repeat is not None:
        r.update(config=config, repeat=repeat)
    return r


def test_the_best_configuration_has_the_best_mean_not_the_best_single_run():
    runs = [run("a", 0, 0.10), run("a", 1, 0.90), run("a", 2, 0.80),   # one lucky seed
            run("b", 0, 0.30), run("b", 1, 0.32), run("b", 2, 0.31),   # steady
            run("c", 0, 0.01), run("c", 1, 0.02, diverged=True), run("c", 2, 0.01)]
    assert S.rank_runs(runs, "mse")[0]["run_name"] == "c/repeat~0"  # best single run
    assert [name for name, _ in S.rank_configs(runs, "mse")] == ["b", "a"]  # c diverged once
    best = S.select_best(runs, "mse")
    assert best["run_name"] == "b/repeat~0"  # b's best repeat on validation
    assert [r["run_name"] for r in S.ranked_runs(runs, "mse")] == ["b/repeat~0", "a/repeat~0"]


def test_configs_table_gives_mean_and_the_t_interval_of_scipy():
    vals, tests = [0.30, 0.32, 0.35, 0.29], [0.5, 0.7, 0.6, 0.9]
    runs = [run("b", i, v, t) for i, (v, t) in enumerate(zip(vals, tests, strict=True))]
    runs += [run("a", 0, 0.2), run("a", 1, 0.9, diverged=True)]
    best = S.select_best(runs, "mse")
    rows = {r["config"]: r for r in S.config_table(runs, BASELINE, best)}
    b = rows["b"]
    assert (b["repeats"], b["n_diverged"], b["diverged"], b["best"]) == (4, 0, False, True)
    for key, x in (("val_mse", vals), ("test_mse", tests)):
        lo, hi = sps.t.interval(0.95, len(x) - 1, loc=sum(x) / len(x), scale=sps.sem(x))
        assert b[key] == pytest.approx(sum(x) / len(x), rel=1e-15)
        assert b[f"{key}_ci_low"] == pytest.approx(lo, rel=1e-12)
        assert b[f"{key}_ci_high"] == pytest.approx(hi, rel=1e-12)
    assert b["objective_gap"] == pytest.approx(sum(vals) / 4 - 0.1)
    assert b["optimum_objective"] == 0.1
    a = rows["a"]
    assert (a["n_diverged"], a["diverged"], a["best"]) == (1, True, False)
    record = S.best_record(best, BASELINE, "mse", "d", "linear_regression", runs)
    assert record["run_name"] == "b/repeat~3"  # 0.29, b's best repeat
    assert record["config"]["name"] == "b" and record["config"]["repeats"] == 4
    assert record["config"]["seeds"] == [100, 101, 102, 103]
    assert record["config"]["metrics"]["val"]["mse"] == {
        "mean": b["val_mse"], "ci_low": b["val_mse_ci_low"], "ci_high": b["val_mse_ci_high"]}
    assert record["sklearn_default"]["estimator"] == "LinearRegression()"
    assert record["optimum"]["objective_gap"] == pytest.approx(0.29 - 0.1)
    row = S.overview_row(record, len(runs), 1)
    assert row["best_config"] == "b" and row["repeats"] == 4
    assert row["sklearn_default_test_mse"] == 0.2 and row["better"] == "lower"
    assert row["val_mse_mean"] == b["val_mse"] and row["test_mse_ci_high"] == b["test_mse_ci_high"]
    table = S.sweep_table(runs, BASELINE, best)
    assert [(r["config"], r["repeat"]) for r in table][:2] == [("a", 0), ("a", 1)]
    assert list(table[0])[:5] == ["dataset", "model", "run_name", "config", "repeat"]


def test_without_repeats_a_configuration_is_its_run():
    runs = [run("x", None, 0.4), run("y", None, 0.2), run("z", None, 0.1, diverged=True),
            run("w", None, 0.2)]
    assert S.ranked_runs(runs, "mse") == S.rank_runs(runs, "mse")  # ties by name: w, y
    best = S.select_best(runs, "mse")
    assert best["run_name"] == "w"
    record = S.best_record(best, BASELINE, "mse", "d", "linear_regression", runs)
    assert "config" not in record  # best.json as it always was
    assert "config" not in S.sweep_table(runs, BASELINE, best)[0]
    rows = S.config_table(runs, BASELINE, best)
    assert [r["config"] for r in rows] == ["w", "x", "y", "z"]
    assert all(r["repeats"] == 1 and r["val_mse_ci_low"] is None for r in rows)
    assert rows[1]["val_mse"] == 0.4
    assert [r["best"] for r in rows] == [True, False, False, False]
    assert "best_config" not in S.overview_row(record, 4, 1)


def test_a_non_finite_repeat_leaves_its_configuration_without_a_mean():
    runs = [run("a", 0, 0.2), run("a", 1, float("nan"))]
    [row] = S.config_table(runs, BASELINE, None)
    assert row["val_mse"] is None and row["val_mse_ci_low"] is None
    assert S.select_best(runs, "mse") is None
    ranked = S.rank_configs(runs + [run("b", 0, 0.3), run("b", 1, 0.3)], "mse")
    assert [name for name, _ in ranked] == ["b"]
