# MLflow: one setup job creates the store and the experiment; a track_shard job logs each
# shard's runs as soon as it is trained (the UI fills during a long sweep); one track job
# per sweep completes its parent once it is summarised and plotted. See gdlab.tracking.
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
