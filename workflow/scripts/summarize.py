"""summarize: one sweep's table of runs and its best run (chosen on validation)."""
import sys

sys.stderr = open(snakemake.log[0], "w")  # noqa: SIM115 - one log per job

import json  # noqa: E402

from gdlab import summary  # noqa: E402
from gdlab.io import read_json, write_json, write_text  # noqa: E402

spec = json.loads(snakemake.params.spec)
runs = [read_json(p) for p in snakemake.input.metrics]
base = read_json(snakemake.input.baseline)
best = summary.select_best(runs, spec["metric"])
write_text(snakemake.output.summary, summary.to_csv(summary.sweep_table(runs, base, best)))
write_json(snakemake.output.best,
           summary.best_record(best, base, spec["metric"], spec["dataset"], spec["model"]))
