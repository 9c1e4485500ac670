"""overview: results/summary.csv, each sweep's best run beside scikit-learn's (every
column, for tools), results/overview.csv (a few rounded columns, for people) and
overview.html (the same table, for the report)."""

from gdlab.joblog import to_log

to_log(snakemake.log[0])  # the job's messages and errors (before any other import)

from gdlab import summary  # noqa: E402
from gdlab.console import html_table  # noqa: E402
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
short = [summary.short_row(r) for r in rows]
write_text(snakemake.output.short, summary.to_csv(short))
header = list(short[0]) if short else []
write_text(snakemake.output.html, html_table(
    header, [[summary.cell(r.get(k)) for k in header] for r in short],
    "Each sweep's best run against scikit-learn's default estimator (results/overview.csv)"))
