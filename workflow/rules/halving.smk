# Successive halving (models.<m>.search.method: halving): rung r trains, in shards, the
# runs promoted to it, each going on from its saved state at rung r - 1 (same bytes as a
# run trained straight through); the checkpoint promote ranks a rung's runs on the
# validation metric and names who goes on, which Snakemake reads only once it exists.
# publish then gives every run the files of its last rung in their ordinary place, and
# the sweep its ordinary shard manifests: summarize, plot and track see a sweep like any
# other (one MLflow child per configuration, with its whole curve).
# The method: gdlab.methods.halving (its helpers below ask it).
from gdlab.methods import halving as M_HALVING


wildcard_constraints:
    rung=r"\d+",


# light jobs, run where Snakemake runs (train_rung is the cluster's: Method.cluster_rules)
localrules:
    promote,
    publish,


include: "halving_functions.smk"


rule train_rung:
    input:
        split="data/{dataset}/split.npz",
        # the promotion that chose this rung's runs (their states are beside it)
        previous=previous_promotion,
    output:
        "results/{dataset}/{model}/rungs/{rung}/shards/{shard}.json",
    log:
        "logs/train_rung/{dataset}/{model}/{rung}/{shard}.log",
    benchmark:
        benchmark_path("train_rung", "{dataset}", "{model}", "{rung}", "{shard}")
    # as train: the chains before the figures
    priority: 1
    conda:
        ENV
    params:
        spec=rung_shard_spec,
        sweep_dir="results/{dataset}/{model}/rungs/{rung}",
        previous_dir=previous_rung_dir,
        repair=shard_repair(
            "results/{dataset}/{model}/rungs/{rung}/shards/{shard}.json", "train_rung"
        ),
    script:
        "../scripts/train.py"


checkpoint promote:
    input:
        rung_manifests,
    output:
        "results/{dataset}/{model}/rungs/{rung}/promoted.json",
    log:
        "logs/promote/{dataset}/{model}/{rung}.log",
    benchmark:
        benchmark_path("promote", "{dataset}", "{model}", "{rung}")
    priority: 1
    conda:
        ENV
    params:
        spec=lambda w: canonical_json(
            {
                "rung": int(w.rung),
                "budget": _halving(w)["budgets"][int(w.rung)],
                "eta": _halving(w)["eta"],
                "last": int(w.rung) == len(_halving(w)["budgets"]) - 1,
                "metric": config["selection"][config["datasets"][w.dataset]["task"]],
                "code": code_version("gdlab.summary", "gdlab.runfiles"),
            }
        ),
        repair=repair("results/{dataset}/{model}/rungs/{rung}/promoted.json", "promote"),
    script:
        "../scripts/promote.py"


rule publish:
    input:
        rung_records,
    output:
        "results/{dataset}/{model}/shards/{shard}.json",
    log:
        "logs/publish/{dataset}/{model}/{shard}.log",
    benchmark:
        benchmark_path("publish", "{dataset}", "{model}", "{shard}")
    wildcard_constraints:
        model=models_regex(lambda method: method is M_HALVING.METHOD),
    priority: 1
    conda:
        ENV
    params:
        spec=lambda w: canonical_json(
            {
                "dataset": w.dataset,
                "model": w.model,
                "shard": w.shard,
                "runs": _shard_runs(w),
                "code": code_version("gdlab.train"),
            }
        ),
        repair=shard_repair("results/{dataset}/{model}/shards/{shard}.json", "publish"),
    script:
        "../scripts/publish.py"
