# What every job cost: each rule's benchmark record (logs/benchmark/, gdlab.costs) merged
# into results/costs.csv once every other result of the experiment is made.
rule costs:
    input:
        all_outputs(),
    output:
        report(
            "results/costs.csv",
            caption="../report/costs.rst",
            category="Overview",
        ),
    log:
        "logs/costs.log",
    benchmark:
        benchmark_path("costs")
    conda:
        ENV
    params:
        records=str(BENCHMARK_DIR),
        spec=canonical_json({"code": code_version("gdlab.costs")}),
    script:
        "../scripts/costs.py"
