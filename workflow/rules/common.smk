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
from gdlab.codeversion import code_version
from gdlab import names
from gdlab import tpe as TPE_ROUNDS  # round arithmetic only: Optuna is imported by ask jobs
from gdlab.config import ConfigError, load_schema, validate_config
from gdlab.models.registry import REGISTRY
from gdlab.io import canonical_json
from gdlab.recovery import UNLOCK_ADVICE, check_locks, record_owner
from gdlab.runfiles import damaged_records
from gdlab.tracking import edited_sweeps, forget_store, resolve_tracking_uri, store_lost, uri_hash

# only the main process: a cluster job parses this file too, beside a live run
if workflow.is_main_process:
    _locks = check_locks()
    if _locks.removed:
        print(
            "gdlab: removed the lock of a killed Snakemake run "
            "(it ran on this host, and nothing of it works here any more)"
            + (
                f" and {len(_locks.partial_writes)} half-written temporary file(s) "
                "it left in results/"
                if _locks.partial_writes
                else ""
            ),
            file=sys.stderr,
        )
    elif _locks.kept:
        print(
            f"gdlab: kept the lock in .snakemake/locks: {_locks.kept}; {UNLOCK_ADVICE}",
            file=sys.stderr,
        )
    record_owner()  # lets the next run prove this one's lock stale if it gets killed

try:
    validate_config(config, load_schema(Path(workflow.basedir) / "config" / "schema.yaml"))
except ConfigError as err:
    raise WorkflowError(str(err)) from None

ENV = "../../environment.yml"


wildcard_constraints:
    dataset=r"[A-Za-z0-9_-]+",
    model=r"[A-Za-z0-9_-]+",
    shard=r"\d+",
    rung=r"\d+",
    round=r"\d+",


#: the module that reads each kind of dataset: a make_dataset job's code is its source's
DATA_SOURCES = {
    "synthetic": "gdlab.data.synthetic",
    "sklearn": "gdlab.data.bundled",
    "csv": "gdlab.data.csv_file",
}


def dataset_spec(dataset):
    """What make_dataset depends on: the dataset's config and its seed (or file's bytes)."""
    ds = dict(config["datasets"][dataset])
    if ds["source"] == "synthetic":
        ds.setdefault("seed", G.derive_seed(config["seed"], "dataset", dataset))
    elif ds["source"] == "csv":
        # the file's content, so that run keys (and MLflow) tell different data apart
        ds["sha256"] = G.file_digest(ds["path"])
    return {"name": dataset, **ds, "code": code_version(DATA_SOURCES[ds["source"]])}


def split_spec(dataset):
    split = dict(config["split"])
    split["seed"] = split.get("seed", config["seed"])
    return {
        "dataset": dataset,
        "task": config["datasets"][dataset]["task"],
        **split,
        "code": code_version("gdlab.data.core"),
    }


def _data_key(dataset):
    """Identity of a dataset's split: everything that decides its bytes."""
    return G.stable_hash([dataset_spec(dataset), split_spec(dataset)])


def _train_code(model):
    """The training code and the model's own module (models are imported lazily)."""
    return code_version("gdlab.train", REGISTRY[model].module)


def _build_runs():
    """(dataset, model) -> run name -> spec: every point of the model's grid or search,
    each repeated (gdlab.grid.run_specs). A TPE search's trials are asked round by round
    (rules/tpe.smk), so its table is empty here: tpe_round_specs reads them once asked."""
    return {
        (dataset, model): (
            {}
            if G.sweep_method(config["models"][model]) == "tpe"
            else G.run_specs(config, dataset, model, _data_key(dataset), _train_code(model))
        )
        for dataset, model in G.sweeps(config)
    }


RUNS = _build_runs()
SWEEPS = list(RUNS)
#: (dataset, model) -> the halving search of the sweeps trained in rungs
HALVING = {
    (d, m): config["models"][m]["search"]
    for d, m in SWEEPS
    if G.sweep_method(config["models"][m]) == "halving"
}
#: (dataset, model) -> the TPE search of the sweeps asked and trained in rounds
TPE = {
    (d, m): config["models"][m]["search"]
    for d, m in SWEEPS
    if G.sweep_method(config["models"][m]) == "tpe"
}


def _build_shards():
    """(dataset, model) -> shard id -> its run names (only shards that have runs). A TPE
    sweep's shards are its rounds (each the union of the round's train jobs: rules/tpe.smk),
    listed by trial number: their runs are named only once asked."""
    size = config["train"]["shard_size"]
    shards = {}
    for sweep, table in RUNS.items():
        if sweep in TPE:
            search = TPE[sweep]
            shards[sweep] = {
                str(r): list(TPE_ROUNDS.round_trials(search, r))
                for r in range(len(TPE_ROUNDS.round_sizes(search["n_trials"], search["batch"])))
            }
            continue
        n = G.shard_count(len(table), size)
        by_shard = {}
        for name in sorted(table):
            by_shard.setdefault(str(G.shard_of(name, n)), []).append(name)
        shards[sweep] = dict(sorted(by_shard.items(), key=lambda kv: int(kv[0])))
    return shards


SHARDS = _build_shards()


def _shard_runs(w):
    try:
        return SHARDS[(w.dataset, w.model)][w.shard]
    except KeyError:
        raise WorkflowError(
            f"shard {w.shard!r} of {w.dataset}/{w.model} has no runs in the config"
        ) from None


def shard_spec(w):
    """A train job's whole specification: its runs' specs (each with its code version)."""
    table = RUNS[(w.dataset, w.model)]
    return canonical_json(
        {
            "dataset": w.dataset,
            "model": w.model,
            "shard": w.shard,
            "runs": [table[name] for name in _shard_runs(w)],
        }
    )


def sweep_runs(w):
    """The run names of a sweep, or None for a TPE sweep: they are known once its rounds
    are asked, and a job's params must not read a checkpoint's output unless the job is
    made after it (on every start Snakemake first plans with such params unknown, and the
    jobs after it then rerun); the job reads them from its shard manifests instead."""
    if (w.dataset, w.model) in TPE:
        return None
    return sorted(RUNS[(w.dataset, w.model)])


def round_records(w):
    """Input function: every round's record of a TPE sweep (none for other sweeps): the
    baseline reads a TPE sweep's problems from them."""
    if (w.dataset, w.model) not in TPE:
        return []
    return [
        f"results/{w.dataset}/{w.model}/rounds/{r}/trials.json"
        for r in range(len(SHARDS[(w.dataset, w.model)]))
    ]


def tpe_round_specs(dataset, model, r):
    """Run name -> spec of every run of round ``r`` of a TPE sweep (each trial repeated),
    from the round's record, read once its checkpoint ``ask`` is done."""
    done = checkpoints.ask.get(dataset=dataset, model=model, round=str(r))
    with open(done.output[0], encoding="utf-8") as f:
        record = json.load(f)
    points = [
        (t["name"], G.normalize_hyperparameters(t["hyperparameters"], model))
        for t in record["trials"]
    ]
    return G.point_specs(
        config, dataset, model, points, _data_key(dataset), _train_code(model), round=r
    )


def every_sweep(pattern):
    """``pattern`` (with ``{dataset}``, ``{model}``) for every sweep of the config."""
    return [pattern.format(dataset=d, model=m) for d, m in SWEEPS]


def every_shard(pattern):
    """``pattern`` (with ``{dataset}``, ``{model}``, ``{shard}``) for every shard."""
    return [pattern.format(dataset=d, model=m, shard=k) for d, m in SWEEPS for k in SHARDS[(d, m)]]


def shard_files(pattern):
    """Input function: ``pattern`` (with ``{shard}``) for every shard of the wildcards' sweep."""
    return lambda w: [
        pattern.format(dataset=w.dataset, model=w.model, shard=k)
        for k in SHARDS[(w.dataset, w.model)]
    ]


def baseline_spec(w):
    """What a baseline job depends on: the sweep's problems (l2, loss, architecture)."""
    tpe = (w.dataset, w.model) in TPE  # its problems: from its rounds (the job reads them)
    specs = RUNS[(w.dataset, w.model)].values()
    return canonical_json(
        {
            "model": w.model,
            "problems": None if tpe else G.problems(s["hyperparameters"] for s in specs),
            "code": code_version("gdlab.baseline", REGISTRY[w.model].module),
        }
    )


def tracking_uri():
    """MLFLOW_TRACKING_URI, else the config's, else the embedded SQLite store."""
    return resolve_tracking_uri(config)


def lesson_sweep(dataset, model):
    """A logistic-regression sweep over both losses gets the lesson's figure."""
    return names.is_lesson(model, G.axis_values(config["models"][model], "loss"))


def models_regex(*methods):
    """A wildcard constraint matching the models whose sweeps are made by one of
    ``methods`` (gdlab.grid.sweep_method: "grid", "random", "halving"): the plot rule of
    grid sweeps draws a heatmap, plot_search does not; halving sweeps are trained in
    rungs (workflow/rules/halving.smk), the others by rule train."""
    names = sorted(m for m, spec in config["models"].items() if G.sweep_method(spec) in methods)
    return "|".join(names) if names else "(?!)"  # (?!) matches nothing


def sweep_plots(w):
    """The figures of the wildcards' sweep its MLflow parent gets: the sweep figures of its
    method (a search has no heatmap, a TPE search has its optimisation history), and the
    lesson's if it is a lesson sweep."""
    method = G.sweep_method(config["models"][w.model])
    figures = list(names.sweep_figures(method))
    if lesson_sweep(w.dataset, w.model):
        figures += names.LESSON_FIGURES
    return [f"results/{w.dataset}/{w.model}/plots/{name}" for name in figures]


def all_outputs():
    out = ["results/summary.csv"]
    for dataset, model in SWEEPS:
        out += [
            f"results/{dataset}/{model}/summary.csv",
            f"results/{dataset}/{model}/best.json",
            f"results/{dataset}/{model}/plots/parallel_coordinates.png",
            f"results/{dataset}/{model}/mlflow.json",
        ]
        if lesson_sweep(dataset, model):
            out.append(f"results/{dataset}/{model}/plots/{names.LESSON_FIGURE}")
        if (dataset, model) in TPE:
            out.append(f"results/{dataset}/{model}/plots/{names.HISTORY_FIGURE}")
    return out


# Only a hash of the tracking URI reaches params (it may carry credentials); the jobs read
# the real one from MLFLOW_TRACKING_URI or the config and check it against the hash.
MLFLOW_URI_HASH = uri_hash(tracking_uri())
EXPERIMENT_RECORD = "results/mlflow/experiment.json"

if workflow.is_main_process:
    for _record, (_why, _files) in damaged_records("results").items():
        # cut short or edited by hand (gdlab writes whole files), or listing a run whose
        # folder was deleted: the job that writes it runs again
        for _file in _files:
            _file.unlink(missing_ok=True)  # a record may go with two others
        print(f"gdlab: {_record} {_why}; making it again", file=sys.stderr)
    if store_lost(tracking_uri(), EXPERIMENT_RECORD):
        # mlflow.db deleted by hand: set it up again, and every sweep re-syncs
        forget_store("results")
        print(
            "gdlab: the tracking store lacks the experiment of results/mlflow/; "
            "setting it up again and syncing every sweep into it",
            file=sys.stderr,
        )
    for _record in edited_sweeps(tracking_uri(), "results"):
        # runs deleted or restored in the UI, or mlflow gc: that sweep syncs again
        _record.unlink()
        print(
            f"gdlab: the store's runs of {_record.parent.parent.name}/{_record.parent.name} "
            "changed (deleted or restored in the UI?); syncing that sweep again",
            file=sys.stderr,
        )


def track_spec(w):
    """A track job's: the sweep, the store, how the sweep was made (a search's settings
    are described on the parent), whether to register, and the code it runs."""
    model_spec = config["models"][w.model]
    spec = {
        "dataset": w.dataset,
        "model": w.model,
        "experiment": config["experiment"],
        "uri_hash": MLFLOW_URI_HASH,
        "method": G.sweep_method(model_spec),
        "register": config["mlflow"]["register_models"],
        "code": code_version("gdlab.tracking.sync", "gdlab.mlflow_model", REGISTRY[w.model].module),
    }
    if "search" in model_spec:
        spec["search"] = model_spec["search"]
    return canonical_json(spec)


# Successive halving (rules/halving.smk): which runs each rung trains, in which shards.
def rung_runs(dataset, model, rung):
    """The run names rung ``rung`` trains: every candidate at rung 0, then the ones the
    previous rung's promotion names (read once that checkpoint is done)."""
    if rung == 0:
        return sorted(RUNS[(dataset, model)])
    done = checkpoints.promote.get(dataset=dataset, model=model, rung=str(rung - 1))
    with open(done.output[0], encoding="utf-8") as f:
        return json.load(f)["promoted"]


def rung_shards(dataset, model, rung):
    """Shard id -> run names of a rung (gdlab.grid.shard_of, as any sweep's shards)."""
    names = rung_runs(dataset, model, rung)
    n = G.shard_count(len(names), config["train"]["shard_size"])
    shards = {}
    for name in names:
        shards.setdefault(str(G.shard_of(name, n)), []).append(name)
    return shards


def rung_shard_spec(w):
    """A rung job's whole specification: its runs' specs at the rung's budget."""
    rung, budgets = int(w.rung), HALVING[(w.dataset, w.model)]["budgets"]
    table = RUNS[(w.dataset, w.model)]
    names = rung_shards(w.dataset, w.model, rung).get(w.shard)
    if names is None:
        raise WorkflowError(f"rung {rung} of {w.dataset}/{w.model} has no shard {w.shard}")
    return canonical_json(
        {
            "dataset": w.dataset,
            "model": w.model,
            "rung": rung,
            "shard": w.shard,
            "runs": [G.at_rung(table[name], rung, budgets) for name in names],
        }
    )


def rung_manifests(w):
    return [
        f"results/{w.dataset}/{w.model}/rungs/{w.rung}/shards/{k}.json"
        for k in rung_shards(w.dataset, w.model, int(w.rung))
    ]


def previous_rung_dir(w):
    """The directory of the rung before the wildcards' rung ("" for rung 0)."""
    # arithmetic outside the f-string: snakefmt on Python 3.12+ (PEP 701) reformats it inside
    previous = int(w.rung) - 1
    return f"results/{w.dataset}/{w.model}/rungs/{previous}" if previous >= 0 else ""


def previous_promotion(w):
    """The promotion record that chose the wildcards' rung's runs (none for rung 0)."""
    previous = previous_rung_dir(w)
    return [f"{previous}/promoted.json"] if previous else []


def rung_records(w):
    """Every rung's promotion record of the wildcards' sweep, rung 0 first."""
    budgets = HALVING[(w.dataset, w.model)]["budgets"]
    return [f"results/{w.dataset}/{w.model}/rungs/{r}/promoted.json" for r in range(len(budgets))]


# TPE in rounds (rules/tpe.smk): which runs each round trains, in which shards.
def tpe_round_shards(dataset, model, r):
    """Shard id -> run names of round ``r`` (gdlab.grid.shard_of, as any sweep's shards)."""
    names = sorted(tpe_round_specs(dataset, model, r))
    n = G.shard_count(len(names), config["train"]["shard_size"])
    shards = {}
    for name in names:
        shards.setdefault(str(G.shard_of(name, n)), []).append(name)
    return shards


def tpe_round_shard_spec(w):
    """A train_round job's whole specification: its runs' specs."""
    r = int(w.round)
    names = tpe_round_shards(w.dataset, w.model, r).get(w.shard)
    if names is None:
        raise WorkflowError(f"round {r} of {w.dataset}/{w.model} has no shard {w.shard}")
    table = tpe_round_specs(w.dataset, w.model, r)
    return canonical_json(
        {
            "dataset": w.dataset,
            "model": w.model,
            "round": r,
            "shard": w.shard,
            "runs": [table[name] for name in names],
        }
    )


def tpe_round_manifests(w):
    """The train_round manifests of round ``shard`` (known once its trials are asked)."""
    return [
        f"results/{w.dataset}/{w.model}/rounds/{w.shard}/shards/{k}.json"
        for k in tpe_round_shards(w.dataset, w.model, int(w.shard))
    ]


def tpe_earlier(pattern):
    """Input function: ``pattern`` (with ``{r}``) for every round before the wildcards'."""
    return lambda w: [
        pattern.format(dataset=w.dataset, model=w.model, r=r) for r in range(int(w.round))
    ]


def tpe_ask_spec(w):
    """What round ``round``'s trials depend on: the search but n_trials (raising it keeps
    the earlier rounds), the round's size, the selection metric, gdlab.tpe and Optuna."""
    search = dict(TPE[(w.dataset, w.model)])
    r = int(w.round)
    sizes = TPE_ROUNDS.round_sizes(search.pop("n_trials"), search["batch"])
    if r >= len(sizes):
        raise WorkflowError(f"{w.dataset}/{w.model} has {len(sizes)} rounds, not {r + 1}")
    search["seed"] = search.get("seed", config["seed"])
    return canonical_json(
        {
            "model": w.model,
            "round": r,
            "size": sizes[r],
            "search": search,
            "metric": config["selection"][config["datasets"][w.dataset]["task"]],
            "code": code_version("gdlab.tpe"),
            "optuna": TPE_ROUNDS.optuna_version(),
        }
    )
