rule make_dataset:
    input:
        lambda w: (
            [config["datasets"][w.dataset]["path"]]
            if config["datasets"][w.dataset]["source"] == "csv"
            else []
        ),
    output:
        "data/{dataset}/full.npz",
    log:
        "logs/make_dataset/{dataset}.log",
    benchmark:
        benchmark_path("make_dataset", "{dataset}")
    # every dataset first: each unlocks a sweep's whole chain, so the chains run side by side
    priority: 2
    conda:
        ENV
    params:
        spec=lambda w: canonical_json(dataset_spec(w.dataset)),
    script:
        "../scripts/make_dataset.py"


rule split:
    input:
        "data/{dataset}/full.npz",
    output:
        "data/{dataset}/split.npz",
    log:
        "logs/split/{dataset}.log",
    benchmark:
        benchmark_path("split", "{dataset}")
    priority: 2
    conda:
        ENV
    params:
        spec=lambda w: canonical_json(split_spec(w.dataset)),
    script:
        "../scripts/split.py"
