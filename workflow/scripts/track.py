"""track: complete one sweep's parent run in MLflow (its description and figures)."""
import sys

sys.stderr = open(snakemake.log[0], "w")  # noqa: SIM115 - one log per job

import json  # noqa: E402
from pathlib import Path  # noqa: E402

from gdlab import tracking  # noqa: E402
from gdlab.io import read_json, write_json  # noqa: E402
from gdlab.runfiles import manifest_runs  # noqa: E402

spec = json.loads(snakemake.params.spec)
uri = tracking.job_uri(spec, snakemake.config)  # fails fast if the server is down

tracking.import_mlflow_timed(uri)
experiment = read_json(snakemake.input.experiment)
# the figures the plot rule declares for this sweep, not whatever else is in plots/
sweep = tracking.load_sweep(Path(snakemake.output[0]).parent,
                            manifest_runs(snakemake.input.manifests),
                            split_path=snakemake.input.split, plots=snakemake.input.plots)
children = {}
for path in snakemake.input.shards:
    children.update(read_json(path)["children"])
with tracking.track_lock(uri, tracking.track_lock_dir(snakemake.input.experiment)), \
        tracking.redacted_errors(uri):
    record = tracking.finish_sweep(uri, experiment["experiment_id"], sweep, children,
                                   experiment_name=spec["experiment"],
                                   search=spec.get("search"))
write_json(snakemake.output[0], record)
