# MLflow: one setup job creates the store and the experiment, then one track job per sweep
# copies its finished results (runs, plots, best model) into it. See src/gdlab/tracking.py.
from gdlab.tracking import uri_hash

# Only a hash of the tracking URI reaches params (it may carry credentials); the jobs read
# the real one from MLFLOW_TRACKING_URI or the config and check it against the hash.
MLFLOW_URI_HASH = uri_hash(tracking_uri())


rule mlflow_setup:
    output:
        "results/mlflow/experiment.json",
    log:
        "logs/mlflow_setup.log",
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


rule track:
    input:
        experiment="results/mlflow/experiment.json",
        split="data/{dataset}/split.npz",
        summary="results/{dataset}/{model}/summary.csv",
        best="results/{dataset}/{model}/best.json",
        baseline="results/{dataset}/{model}/baseline.json",
        metrics=sweep_files("metrics.json"),
        history=sweep_files("history.csv"),
        model=sweep_files("model.npz"),
        timing=sweep_files("timing.json"),
        plots=expand(
            "results/{{dataset}}/{{model}}/plots/{name}",
            name=["heatmap.png", "learning_curves.png", "convergence.png"],
        ),
        run_plots="results/{dataset}/{model}/plots/runs",
    output:
        "results/{dataset}/{model}/mlflow.json",
    log:
        "logs/track/{dataset}/{model}.log",
    conda:
        ENV
    params:
        spec=lambda w: canonical_json(
            {
                "dataset": w.dataset,
                "model": w.model,
                "experiment": config["experiment"],
                "uri_hash": MLFLOW_URI_HASH,
                "register": config.get("mlflow", {}).get("register_models", True),
                "code": G.code_version("gdlab.tracking", "gdlab.mlflow_model"),
            }
        ),
    script:
        "../scripts/track.py"
