"""summarize: one sweep's tables of runs and configurations, and its best run (chosen on
validation; with repeats, the best configuration's mean)."""

from gdlab.joblog import to_log

to_log(snakemake.log[0])  # the job's messages and errors (before any other import)

import json  # noqa: E402
from pathlib import Path  # noqa: E402

from gdlab import summary  # noqa: E402
from gdlab.io import read_json, stamp, write_json, write_text  # noqa: E402
from gdlab.runfiles import read_sweep  # noqa: E402

spec = json.loads(snakemake.params.spec)
sweep = read_sweep(Path(snakemake.output.summary).parent, snakemake.input.manifests)
runs = [r.result for r in sweep.runs]
base = read_json(snakemake.input.baseline)
best = summary.select_best(runs, spec["metric"])
write_text(snakemake.output.summary, summary.to_csv(summary.sweep_table(runs, base, best)))
write_text(snakemake.output.configs, summary.to_csv(summary.config_table(runs, base, best)))
record = summary.best_record(best, base, spec["metric"], spec["dataset"], spec["model"], runs)
write_json(snakemake.output.best, stamp(record, snakemake.params.repair))
