# gdlab: make data -> split -> train every grid point -> evaluate -> plot -> track in MLflow.
# This file only wires; helpers live in workflow/rules/common.smk, logic in src/gdlab/.
from snakemake.utils import min_version

min_version("9.0")

# Read by gdlab first: Snakemake's message for a config that is not YAML names neither the
# file nor the line. (`--configfile` overlays are read by Snakemake before this file:
# `gdlab check-config overlay.yaml` names theirs.)
import sys
from pathlib import Path

sys.path.insert(0, str(Path(workflow.basedir) / "src"))
from gdlab.config import ConfigError, read_yaml_config

try:
    read_yaml_config("config/config.yaml")
except ConfigError as err:
    raise WorkflowError(str(err)) from None


configfile: "config/config.yaml"


include: "workflow/rules/common.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/evaluate.smk"
include: "workflow/rules/plot.smk"
include: "workflow/rules/track.smk"
include: "workflow/rules/costs.smk"


# the rules of the search methods that train in stages (gdlab.methods: Method.rules)
for _rules in method_rules():

    include: _rules


rule all:
    default_target: True
    input:
        all_outputs(),
        "results/costs.csv",


# On a cluster (profiles/slurm) only train jobs are submitted; every other rule is light
# (a few seconds, or MLflow traffic from the submitting node) and runs where Snakemake
# runs. Every rule but train here; a search method's rules file lists its own
# (tests/test_slurm.py checks that only the methods' cluster_rules are jobs).
localrules:
    all,
    make_dataset,
    split,
    baseline,
    summarize,
    overview,
    plot,
    plot_search,
    lesson,
    mlflow_setup,
    track,
    costs,


# At the end, say what the run made and where to look (or which job's log says why it
# failed). The texts come from gdlab.console; common.smk has put this checkout's src/ on
# sys.path.
import sys

from gdlab import console
from gdlab.recovery import record_owner, remove_partial_writes


# Only a run that executes jobs, once it holds the lock, writes here (never a dry run).
onstart:
    record_owner()  # lets the next run prove this one's lock stale if it gets killed
    if _left := remove_partial_writes():
        print(
            f"gdlab: removed {len(_left)} half-written temporary file(s) that a killed run "
            "left in results/",
            file=sys.stderr,
        )


onsuccess:
    print(console.success_message("results", tracking_uri(), config["experiment"]))


onerror:
    print(console.error_message(log), file=sys.stderr)
