"""plot: every figure of one sweep, in one process (Matplotlib is imported once)."""
import sys

sys.stderr = open(snakemake.log[0], "w")  # noqa: SIM115 - one log per job

import json  # noqa: E402
import time  # noqa: E402

start = time.perf_counter()
from gdlab.plots import plot_sweep_files  # noqa: E402

print(f"import gdlab.plots: {time.perf_counter() - start:.2f} s", file=sys.stderr)
inp, out, w = snakemake.input, snakemake.output, snakemake.wildcards
spec = json.loads(snakemake.params.spec)
times = plot_sweep_files(
    inp.split, inp.summary, inp.best, inp.baseline,
    list(zip(inp.history, inp.model, inp.metrics, strict=True)),
    out.heatmap, out.learning_curves, out.convergence, out.runs,
    expected_runs=spec["runs"],
    log=lambda msg: print(msg, file=sys.stderr),
    # per-run figures of unchanged runs are copied, not drawn again (Snakemake deletes
    # the runs/ directory before this job reruns)
    cache_dir=f".gdlab-cache/plots/{w.dataset}/{w.model}", code=spec["code"],
)
print(f"plot job: {time.perf_counter() - start:.2f} s in all", file=sys.stderr)
