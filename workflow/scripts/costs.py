"""costs: every job's benchmark record (wall time, peak memory) in one table."""
import sys

from gdlab.joblog import to_log

to_log(snakemake.log[0])  # the job's messages and errors (before any other import)

from gdlab import costs  # noqa: E402
from gdlab.io import write_text  # noqa: E402

rows = costs.read_records(snakemake.params.records)
write_text(snakemake.output[0], costs.to_csv(rows))
for rule, entry in sorted(costs.by_rule(rows).items(), key=lambda kv: -kv[1]["seconds"]):
    print(f"{rule}: {entry['jobs']} job(s), {entry['seconds']:.1f} s", file=sys.stderr)
