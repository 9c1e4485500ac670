"""plot: every figure of one sweep, in one process (Matplotlib is imported once)."""
import sys

sys.stderr = open(snakemake.log[0], "w")  # noqa: SIM115 - one log per job

import json  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

start = time.perf_counter()
from gdlab.plots import plot_sweep_files  # noqa: E402
from gdlab.runfiles import manifest_runs  # noqa: E402

print(f"import gdlab.plots: {time.perf_counter() - start:.2f} s", file=sys.stderr)
inp, out = snakemake.input, snakemake.output
spec = json.loads(snakemake.params.spec)
names = sorted(manifest_runs(inp.manifests))
if spec["runs"] is not None and names != spec["runs"]:  # None: a TPE sweep's (asked runs)
    raise ValueError(f"the shard manifests list runs {names}, the config {spec['runs']}")
plot_sweep_files(
    inp.split, inp.configs, inp.best, inp.baseline, Path(inp.best).parent, names,
    getattr(out, "heatmap", None),  # a random search has none (rule plot_search)
    out.learning_curves, out.convergence, out.parallel_coordinates, out.importance, out.runs,
    top_k=spec["top_k"], drawn=spec["drawn"], log=lambda msg: print(msg, file=sys.stderr),
)
print(f"plot job: {time.perf_counter() - start:.2f} s in all", file=sys.stderr)
