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


rule all:
    default_target: True
    input:
        all_outputs(),
