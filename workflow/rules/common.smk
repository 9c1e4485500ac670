# Helpers shared by the rules: config validation and input functions. What each job
# receives is planned in gdlab.jobs, from each sweep's search method (gdlab.methods).
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
from gdlab import jobs as J
from gdlab.codeversion import code_version
from gdlab.costs import BENCHMARK_DIR, benchmark_path
from gdlab.config import ConfigError, load_schema, validate_config
from gdlab.models.registry import REGISTRY
from gdlab.io import canonical_json
from gdlab.recovery import UNLOCK_ADVICE, check_locks
from gdlab.repairs import Repairs
from gdlab.tracking import resolve_tracking_uri, uri_hash

# Parsing reads; jobs write (a dry run, --summary or --lint parses this file too, and a
# cluster job beside a live run). The one exception is Snakemake's own bookkeeping: a lock
# proven stale (its run killed on this host) goes, or no run could start. The temporaries
# a killed run left go in onstart (the Snakefile), once a run that executes holds the lock.
if workflow.is_main_process:
    _locks = check_locks()
    if _locks.removed:
        print(
            "gdlab: removed the lock of a killed Snakemake run "
            "(it ran on this host, and nothing of it works here any more)",
            file=sys.stderr,
        )
    elif _locks.kept:
        print(
            f"gdlab: kept the lock in .snakemake/locks: {_locks.kept}; {UNLOCK_ADVICE}",
            file=sys.stderr,
        )

try:
    validate_config(config, load_schema(Path(workflow.basedir) / "config" / "schema.yaml"))
except ConfigError as err:
    raise WorkflowError(str(err)) from None

ENV = "../../environment.yml"


wildcard_constraints:
    dataset=r"[A-Za-z0-9_-]+",
    model=r"[A-Za-z0-9_-]+",
    shard=r"\d+",


#: every sweep's method, runs and shards (gdlab.jobs.Plan)
PLAN = J.Plan(config)
SWEEPS = PLAN.sweeps


def dataset_spec(dataset):
    return J.dataset_spec(config, dataset)


def split_spec(dataset):
    return J.split_spec(config, dataset)


def _shard_runs(w):
    try:
        return PLAN.shard_runs(w.dataset, w.model, w.shard)
    except ValueError as err:
        raise WorkflowError(str(err)) from None


def shard_spec(w):
    """A train job's whole specification: its runs' specs (each with its code version)."""
    _shard_runs(w)  # a clear error for a shard the config has not
    return PLAN.shard_spec(w.dataset, w.model, w.shard)


def sweep_runs(w):
    """The run names of a sweep, or None when its jobs ask its points (gdlab.jobs)."""
    return PLAN.sweep_runs(w.dataset, w.model)


def trial_records(w):
    """Input function: the records a baseline job reads unplanned problems from."""
    return PLAN.trial_records(w.dataset, w.model)


def every_sweep(pattern):
    """``pattern`` (with ``{dataset}``, ``{model}``) for every sweep of the config."""
    return [pattern.format(dataset=d, model=m) for d, m in SWEEPS]


def shard_files(pattern):
    """Input function: ``pattern`` (with ``{shard}``) for every shard of the wildcards' sweep."""
    return lambda w: [
        pattern.format(dataset=w.dataset, model=w.model, shard=k)
        for k in PLAN.shards[(w.dataset, w.model)]
    ]


def baseline_spec(w):
    return PLAN.baseline_spec(w.dataset, w.model)


def tracking_uri():
    """MLFLOW_TRACKING_URI, else the config's, else the embedded SQLite store."""
    return resolve_tracking_uri(config)


def models_regex(test):
    """A wildcard constraint: the models whose method (gdlab.methods) passes ``test``."""
    return PLAN.models_regex(test)


def sweep_plots(w):
    """Input function: the figures of the sweep its MLflow parent gets."""
    return PLAN.sweep_plots(w.dataset, w.model)


def all_outputs():
    return PLAN.all_outputs()


# Only a hash of the tracking URI reaches params (it may carry credentials); the jobs read
# the real one from MLFLOW_TRACKING_URI or the config and check it against the hash.
MLFLOW_URI_HASH = uri_hash(tracking_uri())
EXPERIMENT_RECORD = "results/mlflow/experiment.json"

#: read-only: which records gdlab wrote must be made again, and a token for each job that
#: makes one (gdlab.repairs): a changed param reruns that job, which writes the token
REPAIRS = Repairs(report=workflow.is_main_process)


def repair(pattern, job):
    """Params function: the repair token of the record ``pattern`` a ``job`` job makes."""
    return lambda w: REPAIRS.token(pattern.format(**w), job)


def shard_repair(pattern, job):
    """Params function: a shard manifest's repair token (also new if its runs are gone)."""
    return lambda w: REPAIRS.shard(pattern.format(**w), job)


def track_repair(w):
    return REPAIRS.track(tracking_uri(), f"results/{w.dataset}/{w.model}/mlflow.json")


def setup_repair(w):
    return REPAIRS.setup(tracking_uri(), EXPERIMENT_RECORD)


def track_spec(w):
    return PLAN.track_spec(w.dataset, w.model, MLFLOW_URI_HASH)


def method_rules():
    """The rules files of the search methods that bring their own (gdlab.methods)."""
    return [f"workflow/rules/{name}" for name in J.method_rules()]
