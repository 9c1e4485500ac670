"""What a search method is: the one class every method of :mod:`gdlab.methods` fills in.

A method makes a model's *points* (configurations of hyperparameters) and says how the
pipeline trains them. The defaults here are those of a method whose points are all known
when the Snakefile is parsed and are trained by rule ``train`` in shards (grid and random
search); a method with stages (successive halving's rungs, TPE's rounds) overrides what
differs and brings its own rules file.
"""

from __future__ import annotations

from gdlab.grid import point_specs, split_shards
from gdlab.names import SWEEP_FIGURES


class Method:
    """One search method. Subclasses set the attributes and override the hooks they need;
    :data:`gdlab.methods.METHODS` holds one instance of each."""

    #: the config's name of the method (``search: {method: <name>}``; ``grid`` for a grid)
    name: str = ""
    #: the module that defines it: a job whose behaviour it decides adds it to its code
    module: str = ""
    #: the sweep's figures, in the order a reader meets them (a search's points form no
    #: grid, so it has no heatmap)
    figures: tuple[str, ...] = SWEEP_FIGURES[1:]
    #: the rule that writes the sweep's shard manifests ``shards/<k>.json``
    shards_by: str = "train"
    #: its own rules file under ``workflow/rules/`` (its stages), if any
    rules: str | None = None
    #: the rules whose jobs a cluster runs (every other rule runs where Snakemake runs)
    cluster_rules: tuple[str, ...] = ("train",)
    #: whether the points are known when the Snakefile is parsed (False: asked by jobs)
    planned: bool = True
    #: the folder under a sweep that holds its stages (``rungs``, ``rounds``), if any, and
    #: whether a stage's shards train into the stage's own ``runs/`` (else the sweep's)
    stage_folder: str | None = None
    #: the field of a run's spec (and MLflow tag) that names its stage (``rung``, ``round``)
    stage_field: str | None = None
    stage_owns_runs: bool = False
    #: the search's settings an MLflow parent shows as ``search.<key>`` tags
    tag_keys: tuple[str, ...] = ("method", "n_trials", "seed")

    def search_schema(self, parts: dict) -> dict | None:
        """The JSON Schema of ``models.<m>.search`` for this method (None: not a search).
        ``parts`` are the pieces every search is built from: ``space`` (the object of the
        model's axes, without ``required``), ``grid`` (a grid of them), ``n_trials`` and
        ``seed``."""
        return None

    def problems(self, model: str, spec: dict, config: dict) -> list[str]:
        """What the schema cannot say about ``models.<model>`` (``spec``), each problem
        naming its key. The space's and grid's values are checked for every method by
        :func:`gdlab.config.validate_config`."""
        return []

    def points(self, model_spec: dict, model: str, global_seed: int) -> list[tuple[str, dict]]:
        """(run name, hyperparameters) of every point of the sweep, in a fixed order."""
        raise NotImplementedError(f"{self.name}: its points are not known at planning time")

    def run_specs(self, config: dict, dataset: str, model: str, data_key: str,
                  code: str) -> dict[str, dict]:
        """Run name -> the spec of every run of a sweep known at planning time (empty for
        a method whose points are asked by jobs)."""
        if not self.planned:
            return {}
        points = self.points(config["models"][model], model, config["seed"])
        return point_specs(config, dataset, model, points, data_key, code)

    def shards(self, model_spec: dict, table: dict, shard_size: int) -> dict[str, list]:
        """Shard id -> what the sweep's shard ``k`` holds (run names; a staged method may
        say otherwise)."""
        return split_shards(sorted(table), shard_size)

    def trial_records(self, sweep_dir: str, shards: dict) -> list[str]:
        """Records a job must read to learn the sweep's points when they are not planned
        (the baseline's problems); none for a planned method."""
        return []

    def describe(self, search: dict | None) -> str:
        """What the sweep is, in words, for its MLflow parent's description."""
        n = (search or {}).get("n_trials")
        return f"a {self.name} search" + (f" of {n} trials" if n else "")

    def __repr__(self) -> str:
        return f"<method {self.name}>"
