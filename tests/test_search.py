"""Random search and repeats: the trials a space gives, their names, seeds and run specs."""

import math
import re

import numpy as np
import pytest

from gdlab import grid as G
from gdlab.methods import method_of, run_specs
from gdlab.methods import random as R

SPACE = {"lr": {"loguniform": [1.0e-4, 10.0]}, "l2": {"uniform": [0.0, 0.1]},
         "batch_size": {"choice": [None, 32]}, "epochs": {"int": [20, 200]},
         "optimizer": {"choice": ["gd", "adam"]}}


def search(n_trials: int, space=SPACE, seed=7) -> dict:
    return {"method": "random", "n_trials": n_trials, "seed": seed, "space": space}


def test_raising_n_trials_only_adds_trials():
    few = R.search_trials(search(10), "logistic_regression", 42)
    many = R.search_trials(search(25), "logistic_regression", 42)
    assert many[:10] == few  # same names, same values
    assert len({name for name, _ in many}) == 25


def test_a_trial_depends_on_seed_model_and_number_only():
    a = R.search_trials(search(5), "logistic_regression", 42)
    assert a == R.search_trials(search(5), "logistic_regression", 0)  # the search's seed
    assert a != R.search_trials(search(5, seed=8), "logistic_regression", 42)
    other = R.search_trials(search(5), "linear_regression", 42)
    assert [hp["lr"] for _, hp in a] != [hp["lr"] for _, hp in other]
    # without a seed of its own the search uses the global one
    unseeded = {k: v for k, v in search(5).items() if k != "seed"}
    assert R.search_trials(unseeded, "logistic_regression", 7) == a
    # each axis is drawn on its own: adding one to the space leaves the others' values
    wider = R.search_trials(search(5, {**SPACE, "tol": {"uniform": [0.0, 1e-3]}}),
                            "logistic_regression", 42)
    for (_, hp), (_, hp2) in zip(a, wider, strict=True):
        assert {k: hp2[k] for k in SPACE} == {k: hp[k] for k in SPACE}


def test_draws_follow_their_distributions():
    trials = [hp for _, hp in R.search_trials(search(2000), "logistic_regression", 1)]
    lr = np.array([hp["lr"] for hp in trials])
    l2 = np.array([hp["l2"] for hp in trials])
    epochs = np.array([hp["epochs"] for hp in trials])
    assert lr.min() >= 1e-4 and lr.max() <= 10.0
    # log-uniform: each decade of the five holds about a fifth of the draws
    counts = np.histogram(np.log10(lr), bins=5, range=(-4, 1))[0]
    assert np.all(np.abs(counts - 400) < 4 * math.sqrt(400 * 0.8))
    assert 0.0 <= l2.min() and l2.max() < 0.1
    assert abs(np.mean(l2) - 0.05) < 4 * 0.1 / math.sqrt(12 * 2000)
    # int: both ends included, every value reachable
    assert epochs.min() == 20 and epochs.max() == 200 and len(set(epochs)) > 150
    assert all(type(hp["epochs"]) is int and type(hp["lr"]) is float for hp in trials)
    assert {hp["batch_size"] for hp in trials} == {None, 32}
    assert {hp["optimizer"] for hp in trials} == {"gd", "adam"}


def test_draw_at_the_ends_of_the_unit_interval_stays_in_bounds():
    top = math.nextafter(1.0, 0.0)
    for dist in SPACE.values():
        for u in (0.0, top):
            value = R.draw(dist, u)
            (kind, arg), = dist.items()
            if kind == "choice":
                assert value in arg
            else:
                assert arg[0] <= value <= arg[1]
    assert R.draw({"int": [3, 5]}, 0.0) == 3 and R.draw({"int": [3, 5]}, top) == 5
    assert R.draw({"loguniform": [1e-4, 10.0]}, 0.0) == 1e-4


def test_trial_names_are_readable_unique_and_path_safe():
    trials = R.search_trials(search(300), "logistic_regression", 42)
    names = [name for name, _ in trials]
    assert len(set(names)) == 300
    assert all(re.fullmatch(r"trial~\d{4}(/[a-z_0-9]+~[A-Za-z0-9_.+-]+)+", n) for n in names)
    name, hp = trials[3]
    assert name.startswith("trial~0003/batch_size~")
    parts = dict(p.split("~") for p in name.split("/"))
    # continuous values are rounded in the name only; the run keeps the drawn value
    assert parts["lr"] == f"{hp['lr']:.3g}" and len(repr(hp["lr"])) > len(parts["lr"])
    assert float(parts["l2"]) == pytest.approx(hp["l2"], rel=5e-3)
    assert parts["epochs"] == str(hp["epochs"]) and parts["optimizer"] == hp["optimizer"]


def test_sweep_points_of_a_grid_are_its_combinations():
    grid = {"lr": [0.1, 1.0], "epochs": [5]}
    points = method_of({"grid": grid}).points({"grid": grid}, "linear_regression", 42)
    assert points == [(G.run_name(hp, grid), hp) for hp in G.expand_grid(grid, "linear_regression")]
    assert G.drawn_axes({"grid": grid}) == {}
    assert G.drawn_axes({"search": search(3)}) == {"epochs": "int", "l2": "uniform",
                                                   "lr": "loguniform"}
    assert G.axis_values({"search": search(3)}, "optimizer") == ["gd", "adam"]
    assert G.axis_values({"search": search(3)}, "lr") is None
    assert G.axis_values({"grid": grid}, "lr") == [0.1, 1.0]


CONFIG = {"seed": 42, "datasets": {"moons": {"task": "classification"}},
          "models": {"logistic_regression": {"grid": {"lr": [0.1, 1.0], "l2": [0.0],
                                                      "epochs": [5]}}}}


def old_run_specs(config, dataset, model, data_key, code):
    """The workflow's run specs before repeats and searches existed (an oracle)."""
    table = {}
    grid = config["models"][model]["grid"]
    for hp in G.expand_grid(grid, model):
        name = G.run_name(hp, grid)
        spec = {"dataset": dataset, "model": model, "task": "classification",
                "run_name": name, "hyperparameters": hp,
                "seed": G.run_seed(config["seed"], dataset, model, hp),
                "data_key": data_key, "code_version": code}
        spec["run_key"] = G.stable_hash([data_key, model, hp, spec["seed"], code])
        table[name] = spec
    return table


def test_one_repeat_is_exactly_the_run_of_old():
    want = old_run_specs(CONFIG, "moons", "logistic_regression", "d", "c")
    assert run_specs(CONFIG, "moons", "logistic_regression", "d", "c") == want
    for where in ({"repeats": 1}, {"models": {"logistic_regression": {
            **CONFIG["models"]["logistic_regression"], "repeats": 1}}}):
        config = {**CONFIG, **where}
        assert run_specs(config, "moons", "logistic_regression", "d", "c") == want


def test_repeats_train_each_point_with_its_own_seed():
    one = run_specs(CONFIG, "moons", "logistic_regression", "d", "c")
    config = {**CONFIG, "repeats": 2, "models": {"logistic_regression": {
        **CONFIG["models"]["logistic_regression"], "repeats": 3}}}  # the model's wins
    assert G.sweep_repeats(config, "logistic_regression") == 3
    specs = run_specs(config, "moons", "logistic_regression", "d", "c")
    assert len(specs) == 3 * len(one)
    for point, base in one.items():
        runs = [specs[f"{point}/repeat~{r}"] for r in range(3)]
        assert [s["config"] for s in runs] == [point] * 3
        assert [s["repeat"] for s in runs] == [0, 1, 2]
        assert all(s["hyperparameters"] == base["hyperparameters"] for s in runs)
        assert runs[0]["seed"] == base["seed"]  # repeat 0 keeps the point's seed
        assert runs[1]["seed"] == G.derive_seed(base["seed"], "repeat", 1)
        assert len({s["seed"] for s in runs}) == 3
        assert len({s["run_key"] for s in runs}) == 3
        assert runs[0]["run_key"] == base["run_key"]  # same data, model, values, seed, code
        assert G.config_of(runs[2]) == (point, 2)
    assert G.config_of(next(iter(one.values()))) == (next(iter(one)), 0)


def test_more_repeats_only_add_runs():
    two = run_specs({**CONFIG, "repeats": 2}, "moons", "logistic_regression", "d", "c")
    four = run_specs({**CONFIG, "repeats": 4}, "moons", "logistic_regression", "d", "c")
    assert {name: four[name] for name in two} == two
