"""TPE in rounds without Snakemake: the space as Optuna distributions, a round's ask as a
pure function of its inputs, what the sampler is told (failed trials, repeats' means), the
config, and the optimisation history's numbers."""

from __future__ import annotations

import copy
import math
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO, tiny_config

from gdlab import tpe
from gdlab.config import ConfigError, load_schema, validate_config

SPACE = {"lr": {"loguniform": [1.0e-3, 0.3]}, "l2": {"uniform": [0.0, 0.01]},
         "hidden_layer_sizes": {"choice": [[8], [16], [32], [16, 16]]},
         "batch_size": {"choice": [None, 16]}, "epochs": {"int": [50, 400]}}
MODEL = "mlp_classifier"


def test_each_kind_of_axis_maps_to_its_optuna_distribution():
    from optuna.distributions import (
        CategoricalDistribution,
        FloatDistribution,
        IntDistribution,
    )

    dists = tpe.distributions(SPACE)
    assert list(dists) == sorted(SPACE)
    assert dists["lr"] == FloatDistribution(1.0e-3, 0.3, log=True)
    assert dists["l2"] == FloatDistribution(0.0, 0.01, log=False)
    assert dists["epochs"] == IntDistribution(50, 400)
    # choices that are lists or None: a categorical over their indices
    assert dists["hidden_layer_sizes"] == CategoricalDistribution([0, 1, 2, 3])
    assert dists["batch_size"] == CategoricalDistribution([0, 1])


def test_decode_turns_indices_back_into_the_choices_and_fills_the_defaults():
    params = {"lr": 0.01, "l2": 0.002, "hidden_layer_sizes": 3, "batch_size": 0,
              "epochs": 120}
    hp = tpe.decode(SPACE, params, MODEL)
    assert hp["hidden_layer_sizes"] == [16, 16] and hp["batch_size"] is None
    assert (hp["lr"], hp["l2"], hp["epochs"]) == (0.01, 0.002, 120)
    assert isinstance(hp["epochs"], int) and isinstance(hp["l2"], float)
    assert hp["optimizer"] == "adam"  # the MLP's default, not an axis of the space
    assert tpe.decode(SPACE, {**params, "batch_size": 1}, MODEL)["batch_size"] == 16


def _told(n: int, seed: int = 0) -> list[tuple[dict, float | None]]:
    """``n`` trials of the space with a smooth objective (best near lr = 0.03)."""
    asked = tpe.ask(SPACE, [], n, seed, n_startup_trials=n)
    return [(p, abs(math.log10(p["lr"] / 0.03)) + p["hidden_layer_sizes"] / 10) for p in asked]


def test_asking_is_a_pure_function_of_what_was_told_and_the_seed():
    told = _told(12)
    first = tpe.ask(SPACE, told, 6, seed=5, n_startup_trials=4)
    assert tpe.ask(SPACE, copy.deepcopy(told), 6, seed=5, n_startup_trials=4) == first
    assert len({repr(p) for p in first}) == 6  # a round's asks differ from each other
    for p in first:  # inside the space
        assert 1.0e-3 <= p["lr"] <= 0.3 and 50 <= p["epochs"] <= 400
        assert p["hidden_layer_sizes"] in range(4) and p["batch_size"] in range(2)
    assert tpe.ask(SPACE, told, 6, seed=6, n_startup_trials=4) != first
    # the results matter: other values told, other trials asked
    other = [(p, -v) for p, v in told]
    assert tpe.ask(SPACE, other, 6, seed=5, n_startup_trials=4) != first
    # asking fewer gives the first ones: a last round made larger keeps its first trials
    assert tpe.ask(SPACE, told, 3, seed=5, n_startup_trials=4) == first[:3]


def test_tpe_models_the_results_after_the_startup_trials():
    """Told that small lr is good, TPE asks smaller lr than a random draw would (its
    median over 20 asks is below the space's log-midpoint, ~0.017)."""
    told = [(p, math.log10(p["lr"])) for p, _ in _told(30, seed=1)]
    asked = tpe.ask(SPACE, told, 20, seed=2, n_startup_trials=10)
    lrs = sorted(p["lr"] for p in asked)
    assert lrs[10] < 0.005


def test_failed_trials_are_told_as_failed_not_as_numbers():
    from optuna.trial import TrialState

    told = _told(4)
    told[1] = (told[1][0], None)
    told[2] = (told[2][0], float("nan"))
    study = tpe.study(SPACE, told, seed=1)
    trials = study.get_trials(deepcopy=False)
    assert [t.state for t in trials] == [TrialState.COMPLETE, TrialState.FAIL,
                                         TrialState.FAIL, TrialState.COMPLETE]
    assert [t.value for t in trials] == [told[0][1], None, None, told[3][1]]
    assert [t.params for t in trials] == [p for p, _ in told]
    assert study.direction.name == "MINIMIZE"
    assert tpe.study(SPACE, told, 1, goal="maximize").direction.name == "MAXIMIZE"


def _result(val: float | None, diverged: bool = False) -> dict:
    return {"diverged": diverged, "metrics": {"val": {"log_loss": val, "accuracy": 0.5}}}


def test_a_trials_objective_is_the_mean_of_its_repeats_or_failed():
    assert tpe.objective([_result(0.2), _result(0.4), _result(0.3)], "log_loss") == \
        pytest.approx(0.3, abs=1e-15)
    assert tpe.objective([_result(0.2), _result(0.4, diverged=True)], "log_loss") is None
    assert tpe.objective([_result(0.2), _result(None)], "log_loss") is None
    assert tpe.objective([_result(float("inf"))], "log_loss") is None
    assert tpe.objective([_result(0.2)], "accuracy") == 0.5
    assert tpe.direction("accuracy") == "maximize" and tpe.direction("mse") == "minimize"


SEARCH = {"method": "tpe", "n_trials": 10, "batch": 4, "seed": 3, "n_startup_trials": 4,
          "space": SPACE}


def _rounds(results_of, rounds: int = 2) -> list[dict]:
    """Records of rounds 0..rounds-1, each asked from the ones before and ``results_of``
    (trial name -> its repeats' results)."""
    records = []
    for r in range(rounds):
        results = {t["name"]: results_of(t) for rec in records for t in rec["trials"]}
        size = tpe.round_sizes(SEARCH["n_trials"], SEARCH["batch"])[r]
        records.append(tpe.ask_round(SEARCH, MODEL, r, size, records, results, "log_loss", 7))
    return records


def test_a_round_is_told_every_earlier_trial_with_its_repeats_mean():
    def results_of(trial):  # two repeats; trial 1 diverges in its second
        lr = trial["hyperparameters"]["lr"]
        return [_result(lr), _result(2 * lr, diverged=trial["number"] == 1)]

    r0, r1, r2 = _rounds(results_of, 3)
    assert [t["number"] for t in r0["trials"]] == [0, 1, 2, 3]
    assert [t["number"] for t in r2["trials"]] == [8, 9]  # the last round: what is left
    assert r0["told"] == []
    told = {t["number"]: t for t in r2["told"]}
    assert sorted(told) == list(range(8))
    for trial in r0["trials"] + r1["trials"]:
        lr = trial["hyperparameters"]["lr"]
        entry = told[trial["number"]]
        assert entry["name"] == trial["name"]
        if trial["number"] == 1:
            assert (entry["state"], entry["value"]) == ("FAIL", None)
        else:
            assert entry["state"] == "COMPLETE" and entry["value"] == 1.5 * lr
    # names as a random search's, values decoded; each round its own seed
    assert r1["trials"][0]["name"].startswith("trial~0004/batch_size~")
    assert r1["trials"][0]["hyperparameters"] == tpe.decode(SPACE, r1["trials"][0]["params"],
                                                            MODEL)
    assert len({r0["sampler"]["seed"], r1["sampler"]["seed"], r2["sampler"]["seed"]}) == 3
    assert r0["sampler"]["optuna"] == tpe.optuna_version()


def test_round_records_are_reproducible_and_follow_the_results():
    def results_of(trial):
        return [_result(trial["hyperparameters"]["lr"])]

    assert _rounds(results_of) == _rounds(results_of)
    other = _rounds(lambda t: [_result(1.0 / t["hyperparameters"]["lr"])])
    first = _rounds(results_of)
    assert other[0] == first[0]  # round 0 depends on nothing told
    assert other[1]["trials"] != first[1]["trials"]
    with pytest.raises(ValueError, match="no results of trial"):
        tpe.ask_round(SEARCH, MODEL, 1, 4, first[:1], {}, "log_loss", 7)
    with pytest.raises(ValueError, match="needs the records of rounds 0..1"):
        tpe.ask_round(SEARCH, MODEL, 2, 2, first[1:], {}, "log_loss", 7)


def test_round_arithmetic():
    assert tpe.round_sizes(10, 4) == [4, 4, 2]
    assert tpe.round_sizes(8, 4) == [4, 4]
    assert tpe.round_sizes(3, 3) == [3]
    assert list(tpe.round_trials(SEARCH, 2)) == [8, 9]
    assert tpe.round_seed(3, MODEL, 0) != tpe.round_seed(3, MODEL, 1) != \
        tpe.round_seed(4, MODEL, 1)


def test_only_asking_imports_optuna():
    """Planning (gdlab.grid, gdlab.tpe's round arithmetic) and training import no Optuna."""
    code = ("import sys; import gdlab.tpe, gdlab.grid, gdlab.train; "
            "gdlab.tpe.round_sizes(9, 4); gdlab.tpe.optuna_version(); "
            "print('optuna' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=REPO)
    assert out.stdout.strip() == "False"


# -- config ------------------------------------------------------------------------------
SCHEMA = load_schema(Path(__file__).resolve().parents[1] / "config" / "schema.yaml")
LOGISTIC = {"method": "tpe", "n_trials": 8, "batch": 4, "seed": 1,
            "space": {"lr": {"loguniform": [0.01, 1.0]}, "epochs": {"int": [5, 20]}}}


def _validated(search: dict, **model) -> dict:
    config = tiny_config()
    config["models"]["logistic_regression"] = {"search": copy.deepcopy(search), **model}
    return validate_config(config, SCHEMA)


def test_a_valid_tpe_search_passes_with_repeats():
    config = _validated({**LOGISTIC, "n_startup_trials": 0}, repeats=3)
    assert config["models"]["logistic_regression"]["search"]["batch"] == 4


@pytest.mark.parametrize(("change", "message"), [
    ({"batch": 0}, "models.logistic_regression.search.batch: 0 is less than the minimum of 1"),
    ({"batch": 9}, "models.logistic_regression.search.batch: 9 trials per round is more "
                   "than n_trials (8)"),
    ({"batch": None}, "models.logistic_regression.search: 'batch' is a required property"),
    ({"grid": {"lr": [0.1]}}, "models.logistic_regression.search.grid: a TPE search asks "
                              "its trials from models.logistic_regression.search.space"),
    ({"eta": 3}, "models.logistic_regression.search.eta: successive halving's"),
    ({"budgets": [5, 10]}, "models.logistic_regression.search.budgets: successive halving's"),
    ({"n_startup_trials": -1},
     "models.logistic_regression.search.n_startup_trials: -1 is less than the minimum of 0"),
    ({"space": {"lr": {"loguniform": [0.01, 1.0]}}},
     "models.logistic_regression.search.space: 'epochs' is a required property"),
    ({"space": {**LOGISTIC["space"], "l2": {"uniform": [0.1, 0.1]}}},
     "models.logistic_regression.search.space.l2.uniform: the lower bound must be below"),
    ({"pruner": "median"}, "models.logistic_regression.search.pruner: unknown key"),
])
def test_a_bad_tpe_search_is_an_error_naming_the_key(change, message):
    search = {k: v for k, v in {**LOGISTIC, **change}.items() if v is not None}
    with pytest.raises(ConfigError) as err:
        _validated(search)
    assert message in str(err.value)


def test_tpe_and_a_grid_of_the_model_exclude_each_other():
    config = tiny_config()
    config["models"]["logistic_regression"]["search"] = copy.deepcopy(LOGISTIC)
    with pytest.raises(ConfigError, match="has both 'grid' and 'search'"):
        validate_config(config, SCHEMA)


# -- the optimisation history ------------------------------------------------------------
def _row(number: int, value, diverged: bool = False) -> dict:
    return {"config": f"trial~{number:04d}/lr~0.1", "val_log_loss": repr(value),
            "diverged": str(diverged).lower(), "repeats": "1"}


def test_the_history_is_in_trial_order_with_the_best_so_far_and_failed_trials_apart():
    from gdlab.figures.search_history import history, trial_number

    rows = [_row(3, 0.2), _row(0, 0.5), _row(1, 0.01, diverged=True), _row(2, 0.7),
            _row(4, float("nan")), _row(5, 0.1)]
    points = history(rows, "val_log_loss", batch=2)
    assert [p["number"] for p in points] == [0, 1, 2, 3, 4, 5]
    assert [p["round"] for p in points] == [0, 0, 1, 1, 2, 2]
    values = [p["value"] for p in points]
    assert values[0] == 0.5 and math.isnan(values[1]) and math.isnan(values[4])
    assert [p["best"] for p in points] == [0.5, 0.5, 0.5, 0.2, 0.2, 0.1]
    # higher is better: the best so far is the maximum
    acc = [{**r, "val_accuracy": r["val_log_loss"]} for r in rows]
    assert [p["best"] for p in history(acc, "val_accuracy", 2)] == [0.5, 0.5, 0.7, 0.7,
                                                                     0.7, 0.7]
    assert trial_number("trial~0012/repeat~1") == 12
    with pytest.raises(ValueError, match="no trial"):
        trial_number("lr~0.1")


def test_the_history_figure_is_drawn_reproducibly(tmp_path):
    from gdlab.figures.search_history import optimisation_history_figure
    from gdlab.figures.style import render_png

    rows = [_row(i, 0.5 / (1 + i % 5), diverged=i == 3) for i in range(12)]
    best = {"selection_metric": "val_log_loss", "run_name": rows[4]["config"]}
    fig = optimisation_history_figure(rows, best, batch=4, title="moons / mlp")
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.texts] == ["round 0", "round 1", "round 2"]
    # 4 healthy trials in round 0 (trial 3 diverged): TPE from round 2 on with 6 startup
    startup = optimisation_history_figure(rows, best, 4, n_startup_trials=6)
    assert [t.get_text() for t in startup.axes[0].texts] == [
        "round 0 (random)", "round 1 (random)", "round 2"]
    assert "12 trials in 3 rounds of 4" in fig._suptitle.get_text()
    png = render_png(fig)
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    assert render_png(optimisation_history_figure(rows, best, 4, "moons / mlp")) == png
