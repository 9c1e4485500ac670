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
    # a halving sweep's shards are published from its rungs (rules/halving.smk)
    wildcard_constraints:
        model=models_regex("grid", "random"),
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
