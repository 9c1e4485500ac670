rule train:
    input:
        "data/{dataset}/split.npz",
    output:
        [f"results/{{dataset}}/{{model}}/runs/{{run}}/{name}" for name in RUN_FILES],
    params:
        # the run's whole spec as one value: any change to it reruns the job
        spec=run_spec,
    log:
        "logs/train/{dataset}/{model}/{run}.log",
    conda:
        ENV
    script:
        "../scripts/train.py"
