"""Successive halving (``search: {method: halving, eta, budgets, ...}``): candidates drawn
as a random search's (``space`` with ``n_trials``) or a ``grid``'s, trained in rungs of
increasing epochs; each rung keeps the best ``1/eta`` for the next (rules:
``workflow/rules/halving.smk``; the ranking: :func:`gdlab.summary.promote`).

A candidate's spec is the one of the top rung (``epochs`` = the last budget: its seed and
top-rung run key are those of the same point in a full sweep at that budget);
:func:`at_rung` gives the others.
"""

from __future__ import annotations

import itertools

from gdlab.grid import expand_grid, run_name, split_shards, stable_hash
from gdlab.io import canonical_json
from gdlab.methods.base import Method
from gdlab.methods.random import search_trials


def halving_candidates(search: dict, model: str, global_seed: int) -> list[tuple[str, dict]]:
    """(name, hyperparameters) of a halving search's candidates: its ``grid``'s
    combinations, or ``n_trials`` drawn from its ``space`` exactly as a random search draws
    them (same values and names), each with ``epochs`` = the last budget."""
    if "grid" in search:
        points = [(run_name(hp, search["grid"]), hp) for hp in expand_grid(search["grid"], model)]
    else:
        points = search_trials(search, model, global_seed)
    return [(name, {**hp, "epochs": int(search["budgets"][-1])}) for name, hp in points]


def at_rung(spec: dict, rung: int, budgets: list[int]) -> dict:
    """A halving run's spec at ``rung``: trained to ``budgets[rung]`` epochs (its seed is
    the same at every rung, so a rung goes on from the previous one's state)."""
    hp = {**spec["hyperparameters"], "epochs": int(budgets[rung])}
    return {**spec, "hyperparameters": hp, "rung": rung,
            "run_key": stable_hash([spec["data_key"], spec["model"], hp, spec["seed"],
                                    spec["code_version"]])}


def survivors(n_trained: int, eta: int) -> int:
    """How many of a rung's ``n_trained`` runs the next rung trains: ``n // eta``, at
    least one (fewer if fewer trained without diverging)."""
    return max(1, n_trained // eta)


def rung_shards(names: list[str], shard_size: int) -> dict[str, list[str]]:
    """Shard id -> run names of a rung (as any sweep's shards)."""
    return split_shards(names, shard_size)


def rung_shard_spec(dataset: str, model: str, rung: int, shard: str, names: list[str],
                    table: dict, budgets: list[int]) -> str:
    """A train_rung job's whole specification: its runs' specs at the rung's budget."""
    return canonical_json({"dataset": dataset, "model": model, "rung": rung, "shard": shard,
                           "runs": [at_rung(table[name], rung, budgets) for name in names]})


class Halving(Method):
    name = "halving"
    module = __name__
    rules = "halving.smk"
    shards_by = "publish"
    cluster_rules = ("train_rung",)
    stage_folder = "rungs"
    stage_field = "rung"
    stage_owns_runs = True  # a rung's runs go on from the rung before's, in rungs/<r>/runs/
    tag_keys = ("method", "n_trials", "seed", "eta", "budgets")

    def search_schema(self, parts):
        return {"properties": {
            "method": {"const": self.name},
            "eta": {"type": "integer", "minimum": 2,
                    "description": "keep the best 1/eta of a rung's runs for the next"},
            "budgets": {"type": "array", "minItems": 2,
                        "items": {"type": "integer", "minimum": 1},
                        "description": "epochs of each rung, increasing"},
            "n_trials": parts["n_trials"], "seed": parts["seed"],
            "space": {**parts["space"], "required": ["lr"]},
            "grid": {**parts["grid"], "required": ["lr"]}},
            "required": ["eta", "budgets"], "additionalProperties": False}

    def problems(self, model, spec, config):
        """Candidates from a space (with ``n_trials``) or a grid, budgets that increase and
        set the epochs, one repeat."""
        search, where = spec["search"], f"models.{model}.search"
        problems = []
        if ("space" in search) == ("grid" in search):
            problems.append(f"{where}: give the candidates as 'space' (with n_trials) or as "
                            f"'grid', one of them")
        elif "space" in search and "n_trials" not in search:
            problems.append(f"{where}.n_trials: required with {where}.space (how many "
                            f"candidates to draw)")
        elif "grid" in search and ("n_trials" in search or "seed" in search):
            problems.append(f"{where}: n_trials and seed draw from a space; a grid's "
                            f"candidates are all its combinations")
        for part in ("space", "grid"):
            if "epochs" in search.get(part, {}):
                problems.append(f"{where}.{part}.epochs: the rungs' budgets are the epochs "
                                f"({where}.budgets); remove it")
        budgets = search["budgets"]
        if any(a >= b for a, b in itertools.pairwise(budgets)):
            problems.append(f"{where}.budgets: must increase from rung to rung, got {budgets}")
        if spec.get("repeats", config.get("repeats", 1)) > 1:
            at = f"models.{model}.repeats" if "repeats" in spec else "repeats"
            problems.append(f"{at}: successive halving ({where}) trains each candidate "
                            f"once; set models.{model}.repeats: 1")
        return problems

    def points(self, model_spec, model, global_seed):
        return halving_candidates(model_spec["search"], model, global_seed)

    def run_specs(self, config, dataset, model, data_key, code):
        """The candidates' specs at the top rung (the sweep's runs, as published)."""
        budgets = config["models"][model]["search"]["budgets"]
        specs = super().run_specs(config, dataset, model, data_key, code)
        return {name: at_rung(spec, len(budgets) - 1, budgets) for name, spec in specs.items()}


METHOD = Halving()
