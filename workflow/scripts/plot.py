"""plot: every figure of one sweep, in one process (Matplotlib is imported once)."""
import sys

from gdlab.joblog import to_log

to_log(snakemake.log[0])  # the job's messages and errors (before any other import)

import json  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

start = time.perf_counter()
from gdlab.figures.draw import plot_sweep_files  # noqa: E402
from gdlab.names import SWEEP_FIGURES  # noqa: E402

print(f"import gdlab.figures: {time.perf_counter() - start:.2f} s", file=sys.stderr)
inp, out = snakemake.input, snakemake.output
spec = json.loads(snakemake.params.spec)
# the rule's outputs by file name (a search's sweep has no heatmap: rule plot_search)
figures = {name: getattr(out, name.removesuffix(".png"), None) for name in SWEEP_FIGURES}
times = plot_sweep_files(inp.split, Path(inp.best).parent, inp.manifests, figures, out.runs,
                         top_k=spec["top_k"], drawn=spec["drawn"],
                         log=lambda msg: print(msg, file=sys.stderr))
print(f"plot job: {time.perf_counter() - start:.2f} s in all", file=sys.stderr)
