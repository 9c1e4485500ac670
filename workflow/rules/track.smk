# MLflow: one setup job makes the store and the experiment before anything fans out; one
# track job per sweep, once it is summarised and plotted, makes the store hold exactly its
# runs: the parent, a child per run, the figures, the best model (logged on its child,
# registered). See gdlab.tracking.
rule mlflow_setup:
    output:
        EXPERIMENT_RECORD,
    log:
        "logs/mlflow_setup.log",
    benchmark:
        benchmark_path("mlflow_setup")
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
                "code": code_version("gdlab.tracking.setup"),
            }
        ),
        repair=setup_repair,
    script:
        "../scripts/mlflow_setup.py"


rule track:
    input:
        experiment=EXPERIMENT_RECORD,
        split="data/{dataset}/split.npz",
        summary="results/{dataset}/{model}/summary.csv",
        configs="results/{dataset}/{model}/configs.csv",
        best="results/{dataset}/{model}/best.json",
        baseline="results/{dataset}/{model}/baseline.json",
        manifests=shard_files("results/{dataset}/{model}/shards/{shard}.json"),
        plots=sweep_plots,
        run_plots="results/{dataset}/{model}/plots/runs",
    output:
        "results/{dataset}/{model}/mlflow.json",
    log:
        "logs/track/{dataset}/{model}.log",
    benchmark:
        benchmark_path("track", "{dataset}", "{model}")
    conda:
        ENV
    params:
        spec=track_spec,
        repair=track_repair,
    script:
        "../scripts/track.py"
