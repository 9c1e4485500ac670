rule baseline:
    input:
        "data/{dataset}/split.npz",
        # the problems (l2, architecture) of a sweep whose points jobs ask are in their
        # records (read by the job: params must not read a checkpoint's output, see sweep_runs)
        trials=trial_records,
    output:
        "results/{dataset}/{model}/baseline.json",
    log:
        "logs/baseline/{dataset}/{model}.log",
    benchmark:
        benchmark_path("baseline", "{dataset}", "{model}")
    # ready at once, and on the path to every sweep's end: before the train shards
    priority: 1
    conda:
        ENV
    params:
        spec=baseline_spec,
        repair=repair("results/{dataset}/{model}/baseline.json", "baseline"),
    script:
        "../scripts/baseline.py"


rule summarize:
    input:
        manifests=shard_files("results/{dataset}/{model}/shards/{shard}.json"),
        baseline="results/{dataset}/{model}/baseline.json",
    output:
        summary="results/{dataset}/{model}/summary.csv",
        configs="results/{dataset}/{model}/configs.csv",
        best="results/{dataset}/{model}/best.json",
    log:
        "logs/summarize/{dataset}/{model}.log",
    benchmark:
        benchmark_path("summarize", "{dataset}", "{model}")
    priority: 1
    conda:
        ENV
    params:
        spec=lambda w: canonical_json(
            {
                "dataset": w.dataset,
                "model": w.model,
                "metric": config["selection"][config["datasets"][w.dataset]["task"]],
                "code": code_version("gdlab.summary", "gdlab.runfiles"),
            }
        ),
        repair=repair("results/{dataset}/{model}/best.json", "summarize"),
    script:
        "../scripts/summarize.py"


rule overview:
    input:
        best=every_sweep("results/{dataset}/{model}/best.json"),
        summaries=every_sweep("results/{dataset}/{model}/summary.csv"),
    output:
        # every column, for tools
        full="results/summary.csv",
        # a few rounded columns, for people (`gdlab overview` prints it)
        short="results/overview.csv",
        # the same as a page the report shows (a CSV there is a link Chromium ignores)
        html=report(
            "results/overview.html",
            caption="../report/overview.rst",
            category="Overview",
        ),
    log:
        "logs/overview.log",
    benchmark:
        benchmark_path("overview")
    conda:
        ENV
    params:
        spec=canonical_json(
            {"code": code_version("gdlab.summary", "gdlab.runfiles", "gdlab.console")}
        ),
    script:
        "../scripts/overview.py"
