# gdlab: make data -> split -> train every grid point -> evaluate -> plot -> track in MLflow.
# This file only wires; helpers live in workflow/rules/common.smk, logic in src/gdlab/.
from snakemake.utils import min_version

min_version("9.0")


configfile: "config/config.yaml"


include: "workflow/rules/common.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/evaluate.smk"
include: "workflow/rules/plot.smk"
include: "workflow/rules/track.smk"


# the rules of the search methods that train in stages (gdlab.methods: Method.rules)
for _rules in method_rules():

    include: _rules


rule all:
    default_target: True
    input:
        all_outputs(),


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


# At the end, say what the run made and where to look (or which job's log says why it
# failed). The texts come from gdlab.console; common.smk has put this checkout's src/ on
# sys.path.
import sys

from gdlab import console


onsuccess:
    print(console.success_message("results", tracking_uri(), config["experiment"]))


onerror:
    print(console.error_message(log), file=sys.stderr)
