"""lesson: the loss-landscape figure of a logistic-regression sweep over both losses."""
import sys

sys.stderr = open(snakemake.log[0], "w")  # noqa: SIM115 - one log per job

import json  # noqa: E402
from pathlib import Path  # noqa: E402

from gdlab.plots import plot_lesson_file  # noqa: E402
from gdlab.runfiles import manifest_runs  # noqa: E402

spec = json.loads(snakemake.params.spec)
inp = snakemake.input
# a TPE sweep's runs are known once asked (spec["runs"] None): its manifests list them
names = spec["runs"] if spec["runs"] is not None else sorted(manifest_runs(inp.manifests))
plot_lesson_file(inp.split, Path(inp.summary).parent, names, spec["metric"],
                 snakemake.output[0])
