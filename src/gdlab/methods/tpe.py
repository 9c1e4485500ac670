"""TPE in rounds (``search: {method: tpe, n_trials, batch, seed, n_startup_trials, space}``):
Optuna's TPE sampler asked ``batch`` trials per round, from the results of the rounds
before (:mod:`gdlab.tpe`, the only module that imports Optuna; rules:
``workflow/rules/tpe.smk``). A round is the sweep's shard: its trials, named as a random
search's, are known only once the round is asked, so nothing here is planned at parse
time but the rounds' sizes.
"""

from __future__ import annotations

from gdlab import tpe as rounds
from gdlab.codeversion import code_version
from gdlab.grid import normalize_hyperparameters, point_specs
from gdlab.io import canonical_json
from gdlab.methods.base import Method
from gdlab.names import HISTORY_FIGURE, SWEEP_FIGURES


def round_specs(config: dict, dataset: str, model: str, r: int, record: dict,
                data_key: str, code: str) -> dict[str, dict]:
    """Run name -> spec of every run of round ``r`` (each trial repeated), from the round's
    record (``rounds/<r>/trials.json``)."""
    points = [(t["name"], normalize_hyperparameters(t["hyperparameters"], model))
              for t in record["trials"]]
    return point_specs(config, dataset, model, points, data_key, code, round=r)


def ask_spec(config: dict, dataset: str, model: str, r: int) -> str:
    """What round ``r``'s trials depend on: the search but n_trials (raising it keeps the
    earlier rounds), the round's size, the selection metric, gdlab.tpe and Optuna."""
    search = dict(config["models"][model]["search"])
    sizes = rounds.round_sizes(search.pop("n_trials"), search["batch"])
    if r >= len(sizes):
        raise ValueError(f"{dataset}/{model} has {len(sizes)} rounds, not {r + 1}")
    search["seed"] = search.get("seed", config["seed"])
    return canonical_json({
        "model": model, "round": r, "size": sizes[r], "search": search,
        "metric": config["selection"][config["datasets"][dataset]["task"]],
        "code": code_version("gdlab.tpe"), "optuna": rounds.optuna_version()})


def history_spec(config: dict, model: str) -> str:
    """What the optimisation history figure shows besides the results: the rounds and the
    trials TPE sampled at random."""
    search = config["models"][model]["search"]
    return canonical_json({
        "code": code_version("gdlab.figures.draw"), "batch": search["batch"],
        "n_trials": search["n_trials"],
        "n_startup_trials": search.get("n_startup_trials", rounds.DEFAULT_STARTUP_TRIALS)})


class Tpe(Method):
    name = "tpe"
    module = __name__
    rules = "tpe.smk"
    figures = (*SWEEP_FIGURES[1:], HISTORY_FIGURE)
    shards_by = "collect_round"
    cluster_rules = ("train_round",)
    planned = False
    stage_folder = "rounds"
    stage_field = "round"
    stage_owns_runs = False  # a round's shards train straight into the sweep's runs/
    tag_keys = ("method", "n_trials", "seed", "batch", "n_startup_trials")

    def search_schema(self, parts):
        # grid, eta and budgets are successive halving's: allowed here only so that
        # problems() can say why they do not belong to a TPE search
        return {"properties": {
            "method": {"const": self.name}, "n_trials": parts["n_trials"],
            "batch": {"type": "integer", "minimum": 1,
                      "description": "trials asked per round (a round's trials train in "
                                     "parallel)"},
            "seed": parts["seed"],
            "n_startup_trials": {"type": "integer", "minimum": 0,
                                 "description": "trials told before TPE models the space "
                                                "(random until then; default 10)"},
            "space": {**parts["space"], "required": ["lr", "epochs"]},
            "grid": True, "eta": True, "budgets": True},
            "required": ["n_trials", "batch", "space"], "additionalProperties": False}

    def problems(self, model, spec, config):
        """Rounds no larger than the search, and none of successive halving's keys."""
        search, where = spec["search"], f"models.{model}.search"
        problems = []
        if "grid" in search:
            problems.append(f"{where}.grid: a TPE search asks its trials from {where}.space; "
                            f"candidates from a grid are successive halving's "
                            f"(method: halving)")
        problems += [f"{where}.{key}: successive halving's; a TPE search trains each trial "
                     f"to its own epochs (an axis of {where}.space); remove it"
                     for key in ("eta", "budgets") if key in search]
        if search["batch"] > search["n_trials"]:
            problems.append(f"{where}.batch: {search['batch']} trials per round is more than "
                            f"n_trials ({search['n_trials']}); give batch <= n_trials")
        return problems

    def shards(self, model_spec, table, shard_size):
        """Round r -> its trial numbers (its runs are named once it is asked)."""
        search = model_spec["search"]
        n = len(rounds.round_sizes(search["n_trials"], search["batch"]))
        return {str(r): list(rounds.round_trials(search, r)) for r in range(n)}

    def trial_records(self, sweep_dir, shards):
        return [f"{sweep_dir}/rounds/{r}/trials.json" for r in range(len(shards))]


METHOD = Tpe()
