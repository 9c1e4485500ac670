# One train job per shard of a sweep: the runs gdlab.grid.shard_of assigns to it, trained
# in one process (one import of NumPy, one load of the split). Each run's files go to its
# stable directory results/{dataset}/{model}/runs/<run name>/ (see gdlab.runfiles); the
# job's declared output is the shard manifest, written last.
rule train:
    input:
        "data/{dataset}/split.npz",
    output:
        "results/{dataset}/{model}/shards/{shard}.json",
    log:
        "logs/train/{dataset}/{model}/{shard}.log",
    benchmark:
        benchmark_path("train", "{dataset}", "{model}", "{shard}")
    # the sweeps whose method trains them here (a staged method's shards come from its
    # stages: a halving sweep's are published from its rungs, rules/halving.smk)
    wildcard_constraints:
        model=models_regex(lambda method: method.shards_by == "train"),
    # the chains' middle before the figures, so that the figures and the MLflow jobs fill
    # both cores at the end instead of one job's tail
    priority: 1
    conda:
        ENV
    params:
        # every run's whole spec (with the code version): any change reruns the shard
        spec=shard_spec,
        sweep_dir="results/{dataset}/{model}",
        repair=shard_repair("results/{dataset}/{model}/shards/{shard}.json", "train"),
    script:
        "../scripts/train.py"
