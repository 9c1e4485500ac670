"""Quasi-random search (gdlab.methods.sobol): points in the space, one per slice of every
axis, a stable prefix when n_trials grows, seeded, its config checked; and a small sweep
through the pipeline's train jobs (raising n_trials trains only the new trials)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from conftest import tiny_config
from scipy.stats import qmc

from gdlab import grid as G
from gdlab.config import ConfigError, load_schema, validate_config
from gdlab.io import read_json
from gdlab.methods import METHODS, method_of, run_specs
from gdlab.methods import random as R
from gdlab.methods.sobol import sobol_trials

MODEL = "logistic_regression"
SPACE = {"lr": {"loguniform": [1e-3, 10.0]}, "l2": {"uniform": [0.0, 0.1]},
         "epochs": {"int": [5, 40]}, "optimizer": {"choice": ["gd", "momentum", "adam"]},
         "batch_size": {"choice": [None, 8, 32]}}


def search(n: int, space: dict = SPACE, **extra) -> dict:
    return {"method": "sobol", "n_trials": n, "space": space, **extra}


def test_every_point_is_in_the_space():
    trials = sobol_trials(search(256, seed=3), MODEL, 42)
    assert len(trials) == 256
    for name, hp in trials:
        assert 1e-3 <= hp["lr"] <= 10.0 and isinstance(hp["lr"], float)
        assert 0.0 <= hp["l2"] <= 0.1
        assert 5 <= hp["epochs"] <= 40 and isinstance(hp["epochs"], int)
        assert hp["optimizer"] in ("gd", "momentum", "adam")
        assert hp["batch_size"] in (None, 8, 32)
        assert name.startswith("trial~") and f"optimizer~{hp['optimizer']}" in name
    # every value of a choice and both ends of the int range are reached
    assert {hp["optimizer"] for _, hp in trials} == {"gd", "momentum", "adam"}
    assert {hp["epochs"] for _, hp in trials} >= {5, 40}


def test_a_power_of_two_puts_one_point_in_each_slice_of_every_axis():
    """The Sobol net property (which independent draws lack): 2^k points, each axis cut
    into 2^k equal slices (of log(lr) for a log-uniform axis), one point per slice."""
    space = {"lr": {"loguniform": [1e-3, 10.0]}, "l2": {"uniform": [0.0, 0.1]},
             "tol": {"uniform": [0.0, 1.0]}}
    n = 64
    trials = [hp for _, hp in sobol_trials(search(n, space, seed=9), MODEL, 0)]
    slices = {
        "lr": [int(n * math.log(hp["lr"] / 1e-3) / math.log(1e4)) for hp in trials],
        "l2": [int(n * hp["l2"] / 0.1) for hp in trials],
        "tol": [int(n * hp["tol"]) for hp in trials],
    }
    for axis, found in slices.items():
        assert sorted(min(s, n - 1) for s in found) == list(range(n)), axis
    # a random search of the same size misses slices (the expected share is 1/e)
    drawn = [hp for _, hp in R.search_trials({**search(n, space), "method": "random"},
                                             MODEL, 0)]
    assert len({min(int(n * hp["tol"]), n - 1) for hp in drawn}) < n


def test_the_points_are_scipys_scrambled_sobol_sequence():
    """An independent oracle for the first axis: SciPy's sequence, mapped by hand."""
    from gdlab.methods.sobol import sequence_seed

    space = {"l2": {"uniform": [0.0, 0.1]}, "tol": {"uniform": [0.0, 1.0]}}
    trials = sobol_trials(search(8, space, seed=5), MODEL, 0)
    units = qmc.Sobol(d=2, scramble=True, seed=sequence_seed(5, MODEL)).random(8)
    assert [hp["l2"] for _, hp in trials] == pytest.approx(0.1 * units[:, 0], rel=1e-12)
    assert [hp["tol"] for _, hp in trials] == pytest.approx(units[:, 1], rel=1e-12)


def test_raising_n_trials_only_adds_trials():
    few = sobol_trials(search(10, seed=1), MODEL, 42)
    for n in (11, 16, 17, 100):
        many = sobol_trials(search(n, seed=1), MODEL, 42)
        assert many[:10] == few and len(many) == n
    # and so the first runs' specs (seed, run key) stay
    config = {"seed": 42, "datasets": {"moons": {"task": "classification"}},
              "models": {MODEL: {"search": search(10, seed=1)}}}
    one = run_specs(config, "moons", MODEL, "d", "c")
    config["models"][MODEL]["search"]["n_trials"] = 30
    more = run_specs(config, "moons", MODEL, "d", "c")
    assert {name: more[name] for name in one} == one and len(more) == 30


def test_the_seed_decides_the_points():
    a = sobol_trials(search(16), MODEL, 42)
    assert a == sobol_trials(search(16), MODEL, 42)  # deterministic
    assert a == sobol_trials(search(16, seed=42), MODEL, 7)  # the search's seed first
    assert a != sobol_trials(search(16, seed=43), MODEL, 42)
    assert a != sobol_trials(search(16), "linear_regression", 42)  # each model its own
    values = np.array([[hp["l2"] for _, hp in sobol_trials(search(16, seed=s), MODEL, 0)]
                       for s in range(2)])
    assert not np.allclose(values[0], values[1])


def _validated(search_spec: dict, **model) -> dict:
    config = tiny_config()
    config["models"] = {MODEL: {"search": search_spec, **model}}
    return validate_config(config, load_schema("config/schema.yaml"))


def test_the_config_names_the_key_of_each_problem():
    config = _validated(search(5, seed=2))
    assert method_of(config["models"][MODEL]) is METHODS["sobol"]
    where = f"models.{MODEL}.search"
    cases = [
        ({"method": "sobol", "space": SPACE}, f"{where}: 'n_trials' is a required property"),
        (search(0), f"{where}.n_trials: 0 is less than the minimum of 1"),
        (search(4, seed=-1), f"{where}.seed: -1 is less than the minimum of 0"),
        (search(4, {**SPACE, "l2": {"uniform": [0.1, 0.0]}}),
         f"{where}.space.l2.uniform: the lower bound must be below the upper bound"),
        (search(4, {**SPACE, "lr": {"loguniform": [0.0, 1.0]}}),
         f"{where}.space.lr.loguniform[0]: 0.0 is less than or equal to the minimum of 0"),
        (search(4, {"lr": SPACE["lr"]}), f"{where}.space: 'epochs' is a required property"),
        ({**search(4), "eta": 2}, f"{where}.eta: unknown key"),
    ]
    for spec, message in cases:
        with pytest.raises(ConfigError) as err:
            _validated(spec)
        assert message in str(err.value), (message, str(err.value))


@pytest.mark.workflow
def test_a_sobol_sweep_trains_and_growing_it_trains_only_the_new_trials(project):
    """Through the pipeline up to the sweep's summary (no figures, no MLflow): each trial
    a run with its point; n_trials 4 -> 5 reruns only the shard of the fifth."""
    config = tiny_config()
    config["datasets"] = {"moons": config["datasets"]["moons"]}
    del config["models"]["linear_regression"]
    space = {"lr": {"loguniform": [0.05, 5.0]}, "l2": {"uniform": [0.0, 0.1]},
             "epochs": {"choice": [10]}}
    config["models"][MODEL] = {"search": search(4, space, seed=11)}
    config["train"] = {"shard_size": 3}
    project.write_config(config)
    target = f"results/moons/{MODEL}/summary.csv"
    project.snakemake("--cores", "1", target)

    sweep = project.root / "results" / "moons" / MODEL
    trials = sobol_trials(search(4, space, seed=11), MODEL, config["seed"])
    names = sorted(p.parent.relative_to(sweep / "runs").as_posix()
                   for p in (sweep / "runs").rglob("metrics.json"))
    assert names == sorted(name for name, _ in trials)
    for name, hp in trials:
        result = read_json(sweep / "runs" / name / "metrics.json")
        assert result["hyperparameters"] == hp
        assert result["seed"] == G.derive_seed(config["seed"], "moons", MODEL, hp)
    first = {name: (sweep / "runs" / name / "model.npz").read_bytes() for name in names}

    more = sobol_trials(search(5, space, seed=11), MODEL, config["seed"])
    assert more[:4] == trials and G.shard_count(5, 3) == G.shard_count(4, 3)
    config["models"][MODEL]["search"]["n_trials"] = 5
    project.write_config(config)
    trains = [w["shard"] for rule, w in project.planned_jobs(target) if rule == "train"]
    assert trains == [str(G.shard_of(more[4][0], 2))]
    project.snakemake("--cores", "1", target)
    for name, data in first.items():  # not retrained
        assert (sweep / "runs" / name / "model.npz").read_bytes() == data
    assert (sweep / "runs" / more[4][0] / "metrics.json").is_file()
