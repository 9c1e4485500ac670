"""track: make the tracking store hold exactly one sweep's runs (parent, children, figures,
best model)."""
import sys

from gdlab.joblog import to_log

to_log(snakemake.log[0])  # the job's messages and errors (before any other import)

import json  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

from gdlab import tracking  # noqa: E402
from gdlab.io import read_json, stamp, write_json  # noqa: E402
from gdlab.runfiles import read_sweep  # noqa: E402

spec = json.loads(snakemake.params.spec)
uri = tracking.job_uri(spec, snakemake.config)  # fails fast if the server is down
start = time.perf_counter()
import mlflow  # noqa: E402, F401 - timed apart: a job's one fixed cost

print(f"import mlflow: {time.perf_counter() - start:.2f} s", file=sys.stderr)
record = read_json(snakemake.input.experiment)
sweep = read_sweep(Path(snakemake.output[0]).parent, snakemake.input.manifests)
with tracking.track_lock(uri, Path(snakemake.input.experiment).with_name("locks")), \
        tracking.redacted_errors(uri):
    out = tracking.sync_sweep(uri, record, record["project_id"], sweep, snakemake.input.split,
                              [Path(p) for p in snakemake.input.plots],
                              method=spec["method"], search=spec.get("search"),
                              register_model=spec["register"], color=spec.get("color"))
write_json(snakemake.output[0], stamp(out, snakemake.params.repair))
