"""lesson: the loss-landscape figure of a logistic-regression sweep over both losses."""
import sys

sys.stderr = open(snakemake.log[0], "w")  # noqa: SIM115 - one log per job

import json  # noqa: E402
from pathlib import Path  # noqa: E402

from gdlab.plots import plot_lesson_file  # noqa: E402

spec = json.loads(snakemake.params.spec)
inp = snakemake.input
plot_lesson_file(inp.split, Path(inp.summary).parent, spec["runs"], spec["metric"],
                 snakemake.output[0])
