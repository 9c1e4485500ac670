# MLflow: one setup job creates the store and the experiment; a track_shard job logs each
# shard's runs as soon as it is trained (the UI fills during a long sweep); one track job
# per sweep completes its parent once it is summarised and plotted; one best_models job logs
# (and registers) every sweep's best model, so MLflow is imported once. See gdlab.tracking.
rule mlflow_setup:
    output:
        EXPERIMENT_RECORD,
    log:
        "logs/mlflow_setup.log",
    # ready at once, and on the path to every sweep's end: before the train shards
    priority: 1
    conda:
        ENV
    params:
        # another experiment or tracking server: set up again, and re-sync every sweep
        spec=canonical_json(
            {
                "experiment": config["experiment"],
                "uri_hash": MLFLOW_URI_HASH,
                "code": G.code_version("gdlab.tracking"),
            }
        ),
    script:
        "../scripts/mlflow_setup.py"


rule track_shard:
    input:
        experiment=EXPERIMENT_RECORD,
        split="data/{dataset}/split.npz",
        manifest="results/{dataset}/{model}/shards/{shard}.json",
    output:
        # kept while the job runs (and restored if it fails): its child ids are where a
        # sync finds the shard's children on a server (gdlab.tracking.recorded_children)
        update("results/{dataset}/{model}/mlflow/shards/{shard}.json"),
    log:
        "logs/track_shard/{dataset}/{model}/{shard}.log",
    # a shard's children in the UI right away; and best_models waits for them
    priority: 1
    conda:
        ENV
    params:
        spec=track_shard_spec,
    script:
        "../scripts/track_shard.py"


rule track:
    input:
        experiment=EXPERIMENT_RECORD,
        split="data/{dataset}/split.npz",
        summary="results/{dataset}/{model}/summary.csv",
        configs="results/{dataset}/{model}/configs.csv",
        best="results/{dataset}/{model}/best.json",
        baseline="results/{dataset}/{model}/baseline.json",
        manifests=shard_files("results/{dataset}/{model}/shards/{shard}.json"),
        shards=shard_files("results/{dataset}/{model}/mlflow/shards/{shard}.json"),
        plots=sweep_plots,
        run_plots="results/{dataset}/{model}/plots/runs",
    output:
        "results/{dataset}/{model}/mlflow.json",
    log:
        "logs/track/{dataset}/{model}.log",
    conda:
        ENV
    params:
        spec=track_spec,
    script:
        "../scripts/track.py"


rule best_models:
    input:
        experiment=EXPERIMENT_RECORD,
        # the parents exist once a sweep's shards are synced; the figures are not needed
        tracked=every_shard("results/{dataset}/{model}/mlflow/shards/{shard}.json"),
        manifests=every_shard("results/{dataset}/{model}/shards/{shard}.json"),
        best=every_sweep("results/{dataset}/{model}/best.json"),
        splits=every_sweep("data/{dataset}/split.npz"),
    output:
        BEST_MODELS_RECORD,
    log:
        "logs/best_models.log",
    # as soon as it can (beside the figures), not as a tail after them
    priority: 1
    conda:
        ENV
    params:
        spec=best_models_spec(),
    script:
        "../scripts/best_models.py"
