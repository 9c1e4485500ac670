rule train:
    input:
        "data/{dataset}/split.npz",
    output:
        [f"results/{{dataset}}/{{model}}/runs/{{run}}/{name}" for name in RUN_FILES],
    log:
        "logs/train/{dataset}/{model}/{run}.log",
    conda:
        ENV
    params:
        # the run's whole spec as one value: any change to it reruns the job
        spec=run_spec,
        out="results/{dataset}/{model}/runs/{run}",
    # shell, not script: the hot fan-out rule skips Snakemake's script preamble (~70 ms a job)
    shell:
        "python -m gdlab.train --spec {params.spec:q} --split {input:q} --out {params.out:q}"
        " 2> {log:q}"
