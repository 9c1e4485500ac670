"""The plan of a config: what each job of the workflow receives, made when the Snakefile is
parsed (``workflow/rules/common.smk`` asks it; nothing here writes a file).

Every sweep's runs and shards come from its search method (:mod:`gdlab.methods`); the specs
here are what Snakemake compares between runs (a job's ``params``), so any change of what
a job would compute reruns exactly that job.
"""

from __future__ import annotations

from gdlab import grid as G
from gdlab import names
from gdlab.codeversion import code_version
from gdlab.io import canonical_json
from gdlab.methods import METHODS, method_of
from gdlab.models.registry import REGISTRY
from gdlab.tracking.charts import parent_colors

#: the module that reads each kind of dataset: a make_dataset job's code is its source's
DATA_SOURCES = {
    "synthetic": "gdlab.data.synthetic",
    "sklearn": "gdlab.data.bundled",
    "csv": "gdlab.data.csv_file",
}


def dataset_spec(config: dict, dataset: str) -> dict:
    """What make_dataset depends on: the dataset's config and its seed (or file's bytes)."""
    ds = dict(config["datasets"][dataset])
    if ds["source"] == "synthetic":
        ds.setdefault("seed", G.derive_seed(config["seed"], "dataset", dataset))
    elif ds["source"] == "csv":
        # the file's content, so that run keys (and MLflow) tell different data apart
        ds["sha256"] = G.file_digest(ds["path"])
    return {"name": dataset, **ds, "code": code_version(DATA_SOURCES[ds["source"]])}


def split_spec(config: dict, dataset: str) -> dict:
    split = dict(config["split"])
    split["seed"] = split.get("seed", config["seed"])
    return {"dataset": dataset, "task": config["datasets"][dataset]["task"], **split,
            "code": code_version("gdlab.data.split")}


def data_key(config: dict, dataset: str) -> str:
    """Identity of a dataset's split: everything that decides its bytes."""
    return G.stable_hash([dataset_spec(config, dataset), split_spec(config, dataset)])


def train_code(model: str) -> str:
    """The training code and the model's own module (models are imported lazily)."""
    return code_version("gdlab.train", REGISTRY[model].module)


def method_rules() -> list[str]:
    """The rules files (under ``workflow/rules/``) of the methods that train in stages."""
    return [m.rules for m in METHODS.values() if m.rules]


class Plan:
    """Every sweep of a (validated) config: its method, its runs known at planning time
    (run name -> spec) and its shards (shard id -> what the shard holds)."""

    def __init__(self, config: dict):
        self.config = config
        self.sweeps = G.sweeps(config)
        self.method = {m: method_of(spec) for m, spec in config["models"].items()}
        size = config["train"]["shard_size"]
        self.runs, self.shards = {}, {}
        for dataset, model in self.sweeps:
            table = self.method[model].run_specs(config, dataset, model,
                                                 data_key(config, dataset), train_code(model))
            self.runs[(dataset, model)] = table
            self.shards[(dataset, model)] = self.method[model].shards(
                config["models"][model], table, size)

    def shard_runs(self, dataset: str, model: str, shard: str) -> list:
        try:
            return self.shards[(dataset, model)][shard]
        except KeyError:
            raise ValueError(f"shard {shard!r} of {dataset}/{model} has no runs in the "
                             f"config") from None

    def shard_spec(self, dataset: str, model: str, shard: str) -> str:
        """A train job's whole specification: its runs' specs (each with its code version)."""
        table = self.runs[(dataset, model)]
        return canonical_json({"dataset": dataset, "model": model, "shard": shard,
                               "runs": [table[n] for n in self.shard_runs(dataset, model, shard)]})

    def sweep_runs(self, dataset: str, model: str) -> list[str] | None:
        """The run names of a sweep, or None when its method asks its points in jobs: a
        job's params must not read a checkpoint's output unless the job is made after it
        (on every start Snakemake first plans with such params unknown, and the jobs after
        it then rerun); the job reads them from its shard manifests instead."""
        return sorted(self.runs[(dataset, model)]) if self.method[model].planned else None

    def trial_records(self, dataset: str, model: str) -> list[str]:
        """The records a baseline job reads its sweep's problems from when they are not
        planned (a TPE sweep's rounds' trials)."""
        return self.method[model].trial_records(f"results/{dataset}/{model}",
                                                self.shards[(dataset, model)])

    def baseline_spec(self, dataset: str, model: str) -> str:
        """What a baseline job depends on: the sweep's problems (l2, loss, architecture),
        or None when the job reads them from its trial records."""
        planned = self.method[model].planned
        specs = self.runs[(dataset, model)].values()
        return canonical_json({
            "model": model,
            "problems": G.problems(s["hyperparameters"] for s in specs) if planned else None,
            "code": code_version("gdlab.baseline", REGISTRY[model].module)})

    def track_spec(self, dataset: str, model: str, uri_hash: str) -> str:
        """A track job's: the sweep, the store, how the sweep was made (a search's settings
        are described on the parent), whether to register, and the code it runs."""
        model_spec = self.config["models"][model]
        spec = {"dataset": dataset, "model": model, "experiment": self.config["experiment"],
                "uri_hash": uri_hash, "method": self.method[model].name,
                "register": self.config["mlflow"]["register_models"],
                # distinct among the config's sweeps, never the diverged runs' red
                "color": parent_colors([f"{d}/{m}" for d, m in self.sweeps])[
                    f"{dataset}/{model}"],
                "code": code_version("gdlab.tracking.sync", "gdlab.mlflow_model",
                                     REGISTRY[model].module, self.method[model].module)}
        if "search" in model_spec:
            spec["search"] = model_spec["search"]
        return canonical_json(spec)

    def is_lesson(self, model: str) -> bool:
        """A logistic-regression sweep over both losses gets the lesson's figure."""
        return names.is_lesson(model, G.axis_values(self.config["models"][model], "loss"))

    def sweep_plots(self, dataset: str, model: str) -> list[str]:
        """The figures of a sweep its MLflow parent gets: its method's, and the lesson's if
        it is a lesson sweep."""
        figures = list(self.method[model].figures)
        if self.is_lesson(model):
            figures += names.LESSON_FIGURES
        return [f"results/{dataset}/{model}/plots/{name}" for name in figures]

    def all_outputs(self) -> list[str]:
        out = ["results/summary.csv"]
        for dataset, model in self.sweeps:
            sweep = f"results/{dataset}/{model}"
            out += [f"{sweep}/summary.csv", f"{sweep}/best.json", f"{sweep}/mlflow.json",
                    *self.sweep_plots(dataset, model)]
        return out

    def models_regex(self, test) -> str:
        """A wildcard constraint matching the models whose method passes ``test`` (a
        predicate on a :class:`gdlab.methods.base.Method`): which rule makes a sweep's
        shards or figures is its method's to say."""
        models = sorted(m for m, method in self.method.items() if test(method))
        return "|".join(models) if models else "(?!)"  # (?!) matches nothing
