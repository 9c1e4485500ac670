"""track_shard: log one trained shard's runs as child runs in MLflow, right away."""
import sys

sys.stderr = open(snakemake.log[0], "w")  # noqa: SIM115 - one log per job

import json  # noqa: E402
from pathlib import Path  # noqa: E402

from gdlab import tracking  # noqa: E402
from gdlab.io import read_json, write_json  # noqa: E402
from gdlab.runfiles import read_manifest  # noqa: E402

spec = json.loads(snakemake.params.spec)
uri = tracking.job_uri(spec, snakemake.config)  # fails fast if the server is down

tracking.import_mlflow_timed(uri)
experiment = read_json(snakemake.input.experiment)
manifest = read_manifest(snakemake.input.manifest)
sweep_dir = Path(snakemake.input.manifest).parent.parent
runs = tracking.load_runs(sweep_dir, manifest["runs"])
# the sweep's track records (this one is kept until replaced: update() in the rule) name
# the children already made; on a server they are looked up by id, not searched for
recorded = tracking.recorded_children(Path(snakemake.output[0]).parent.glob("*.json"))
locks = tracking.track_lock_dir(snakemake.input.experiment)
with tracking.track_lock(uri, locks), tracking.redacted_errors(uri):
    record = tracking.sync_shard(uri, experiment["experiment_id"], spec["dataset"],
                                 spec["model"], runs, snakemake.input.split,
                                 experiment_name=spec["experiment"], recorded=recorded,
                                 shard=manifest["shard"], lock_dir=locks)
write_json(snakemake.output[0], record)
