# TPE in rounds (models.<m>.search.method: tpe): the checkpoint ask writes round r's trials,
# asked from Optuna's TPE sampler rebuilt from the results of rounds 0..r-1 (gdlab.tpe; the
# only job that imports Optuna); train_round trains them in shards, straight into the
# sweep's runs/<run>/; collect_round makes the round the sweep's shard r (its manifest
# shards/<r>.json), which the next round's ask reads, and from which summarize, plot and
# track see a sweep like any other (one MLflow child per run, tag round).
# The method: gdlab.methods.tpe (its helpers below ask it).
from gdlab.methods import tpe as M_TPE


wildcard_constraints:
    round=r"\d+",


# light jobs, run where Snakemake runs (train_round is the cluster's: Method.cluster_rules)
localrules:
    ask,
    collect_round,
    search_history,


include: "tpe_functions.smk"


checkpoint ask:
    input:
        # the rounds before: their trials and, through their manifests, their results
        trials=tpe_earlier("results/{dataset}/{model}/rounds/{r}/trials.json"),
        manifests=tpe_earlier("results/{dataset}/{model}/shards/{r}.json"),
    output:
        "results/{dataset}/{model}/rounds/{round}/trials.json",
    log:
        "logs/ask/{dataset}/{model}/{round}.log",
    benchmark:
        benchmark_path("ask", "{dataset}", "{model}", "{round}")
    wildcard_constraints:
        model=tpe_models(),
    # the rounds are the chain every other job of the sweep waits for
    priority: 1
    conda:
        ENV
    params:
        spec=tpe_ask_spec,
    script:
        "../scripts/ask.py"


rule train_round:
    input:
        split="data/{dataset}/split.npz",
        trials="results/{dataset}/{model}/rounds/{round}/trials.json",
    output:
        "results/{dataset}/{model}/rounds/{round}/shards/{shard}.json",
    log:
        "logs/train_round/{dataset}/{model}/{round}/{shard}.log",
    benchmark:
        benchmark_path("train_round", "{dataset}", "{model}", "{round}", "{shard}")
    wildcard_constraints:
        model=tpe_models(),
    priority: 1
    conda:
        ENV
    params:
        spec=tpe_round_shard_spec,
        # the runs go straight to the sweep's runs/<run>/ (a run trains once)
        sweep_dir=lambda w: f"results/{w.dataset}/{w.model}",
        repair=shard_repair(
            "results/{dataset}/{model}/rounds/{round}/shards/{shard}.json", "train_round"
        ),
    script:
        "../scripts/train.py"


rule collect_round:
    input:
        trials="results/{dataset}/{model}/rounds/{shard}/trials.json",
        manifests=tpe_round_manifests,
    output:
        "results/{dataset}/{model}/shards/{shard}.json",
    log:
        "logs/collect_round/{dataset}/{model}/{shard}.log",
    benchmark:
        benchmark_path("collect_round", "{dataset}", "{model}", "{shard}")
    wildcard_constraints:
        model=tpe_models(),
    priority: 1
    conda:
        ENV
    params:
        spec=lambda w: canonical_json(
            {
                "dataset": w.dataset,
                "model": w.model,
                "round": int(w.shard),
                "code": code_version("gdlab.runfiles", "gdlab.io"),
            }
        ),
        repair=shard_repair("results/{dataset}/{model}/shards/{shard}.json", "collect_round"),
    script:
        "../scripts/collect_round.py"


# A TPE search's optimisation history (gdlab.figures.search_history): every trial's validation
# metric against its number, the best so far as a step line, the rounds marked. Its own
# rule and module, beside the sweep's other figures (its MLflow parent gets it too: the
# method's figures, gdlab.methods.tpe).
rule search_history:
    input:
        configs="results/{dataset}/{model}/configs.csv",
        best="results/{dataset}/{model}/best.json",
    output:
        report(
            "results/{dataset}/{model}/plots/optimisation_history.png",
            caption="../report/optimisation_history.rst",
            category="{dataset}",
            subcategory="{model}",
            labels={"figure": "0. optimisation history of the TPE search"},
        ),
    log:
        "logs/search_history/{dataset}/{model}.log",
    benchmark:
        benchmark_path("search_history", "{dataset}", "{model}")
    wildcard_constraints:
        model=models_regex(lambda method: "optimisation_history.png" in method.figures),
    conda:
        ENV
    params:
        spec=lambda w: M_TPE.history_spec(config, w.model),
    script:
        "../scripts/search_history.py"
