"""lesson: the figure and the numbers of a logistic-regression sweep over both losses."""

from gdlab.joblog import to_log

to_log(snakemake.log[0])  # the job's messages and errors (before any other import)

from pathlib import Path  # noqa: E402

from gdlab.figures.draw import plot_lesson_files  # noqa: E402

inp, out = snakemake.input, snakemake.output
plot_lesson_files(inp.split, Path(inp.summary).parent, inp.manifests, out.figure, out.record,
                  out.race, out.cut)
