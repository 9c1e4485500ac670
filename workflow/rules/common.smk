# Helpers shared by the rules: config validation, the sweep table, one canonical spec per job.
import json
import os
import sys
from pathlib import Path

# The gdlab library of this checkout, for this process and for every job it starts.
_SRC = str(Path(workflow.basedir) / "src")
sys.path.insert(0, _SRC)
# `python` in shell jobs is this interpreter (under --sdm conda, the environment's, whose
# activation comes first). Set, not required: so no `envvars:` directive.
os.environ.update(
    PYTHONPATH=os.pathsep.join(p for p in (_SRC, os.environ.get("PYTHONPATH")) if p),
    PATH=os.pathsep.join(p for p in (os.path.dirname(sys.executable), os.environ.get("PATH")) if p),
)

from gdlab import grid as G
from gdlab.config import ConfigError, load_schema, validate_config
from gdlab.io import canonical_json
from gdlab.recovery import UNLOCK_ADVICE, check_locks, record_owner
from gdlab.train import RUN_FILES

# only the main process: a cluster job parses this file too, beside a live run
if workflow.is_main_process:
    _locks = check_locks()
    if _locks.removed:
        print("gdlab: removed the lock of a killed Snakemake run "
              "(it ran on this host, and nothing of it works here any more)", file=sys.stderr)
    elif _locks.kept:
        print(f"gdlab: kept the lock in .snakemake/locks: {_locks.kept}; {UNLOCK_ADVICE}",
              file=sys.stderr)
    record_owner()  # lets the next run prove this one's lock stale if it gets killed

try:
    validate_config(config, load_schema(Path(workflow.basedir) / "config" / "schema.yaml"))
except ConfigError as err:
    raise WorkflowError(str(err)) from None

ENV = "../../environment.yml"


wildcard_constraints:
    dataset=r"[A-Za-z0-9_-]+",
    model=r"[A-Za-z0-9_-]+",
    run=r"[^/]+~[^/]+(/[^/]+~[^/]+)*",


def dataset_spec(dataset):
    """What make_dataset depends on: the dataset's config and its seed (or file's bytes)."""
    ds = dict(config["datasets"][dataset])
    if ds["source"] == "synthetic":
        ds.setdefault("seed", G.derive_seed(config["seed"], "dataset", dataset))
    elif ds["source"] == "csv":
        # the file's content, so that run keys (and MLflow) tell different data apart
        ds["sha256"] = G.file_digest(ds["path"])
    return {"name": dataset, **ds, "code": G.code_version("gdlab.data")}


def split_spec(dataset):
    split = dict(config["split"])
    split["seed"] = split.get("seed", config["seed"])
    return {"dataset": dataset, "task": config["datasets"][dataset]["task"], **split,
            "code": G.code_version("gdlab.data")}


def _data_key(dataset):
    """Identity of a dataset's split: everything that decides its bytes."""
    return G.stable_hash([dataset_spec(dataset), split_spec(dataset)])


def _build_runs():
    runs = {}
    train_code = G.code_version("gdlab.train")
    for dataset, model in G.sweeps(config):
        grid = config["models"][model]["grid"]
        data_key = _data_key(dataset)
        table = {}
        for hp in G.expand_grid(grid):
            name = G.run_name(hp, grid)
            spec = {
                "dataset": dataset, "model": model,
                "task": config["datasets"][dataset]["task"],
                "run_name": name, "hyperparameters": hp,
                "seed": G.derive_seed(config["seed"], dataset, model, hp),
                "data_key": data_key, "code_version": train_code,
            }
            spec["run_key"] = G.stable_hash(
                [data_key, model, hp, spec["seed"], train_code])
            table[name] = spec
        runs[(dataset, model)] = table
    return runs


RUNS = _build_runs()
SWEEPS = list(RUNS)


def run_spec(w):
    try:
        return canonical_json(RUNS[(w.dataset, w.model)][w.run])
    except KeyError:
        raise WorkflowError(
            f"run {w.run!r} of {w.dataset}/{w.model} is not in the config's grid"
        ) from None


def sweep_runs(w):
    return list(RUNS[(w.dataset, w.model)])


def sweep_files(name):
    """Input function: ``name`` (a run file) of every run of the wildcards' sweep."""
    return lambda w: [
        f"results/{w.dataset}/{w.model}/runs/{run}/{name}" for run in sweep_runs(w)
    ]


def tracking_uri():
    """MLFLOW_TRACKING_URI, else the config's, else the embedded SQLite store."""
    return (os.environ.get("MLFLOW_TRACKING_URI")
            or config.get("mlflow", {}).get("tracking_uri")
            or "sqlite:///mlflow.db")


def all_outputs():
    out = ["results/summary.csv"]
    for dataset, model in SWEEPS:
        out += [
            f"results/{dataset}/{model}/summary.csv",
            f"results/{dataset}/{model}/best.json",
            f"results/{dataset}/{model}/plots/heatmap.png",
            f"results/{dataset}/{model}/mlflow.json",
        ]
    return out
