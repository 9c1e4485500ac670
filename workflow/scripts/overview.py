"""overview: results/summary.csv, each sweep's best run beside scikit-learn's (every
column, for tools), and results/overview.csv (a few rounded columns, for people)."""

from gdlab.joblog import to_log

to_log(snakemake.log[0])  # the job's messages and errors (before any other import)

from gdlab import summary  # noqa: E402
from gdlab.io import read_json, write_text  # noqa: E402
from gdlab.runfiles import read_table  # noqa: E402

rows = []
for best_path, table_path in zip(snakemake.input.best, snakemake.input.summaries, strict=True):
    table = read_table(table_path)
    n_diverged = sum(r["diverged"] == "true" for r in table)
    n_oscillating = sum(r.get("oscillating") == "true" for r in table)
    rows.append(summary.overview_row(read_json(best_path), len(table), n_diverged,
                                     n_oscillating))
write_text(snakemake.output.full, summary.to_csv(rows))
write_text(snakemake.output.short, summary.to_csv([summary.short_row(r) for r in rows]))
