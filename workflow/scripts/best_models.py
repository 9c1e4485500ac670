"""best_models: every sweep's best model logged on its parent (and registered), in one job."""
import sys

sys.stderr = open(snakemake.log[0], "w")  # noqa: SIM115 - one log per job

import json  # noqa: E402
from collections import defaultdict  # noqa: E402
from pathlib import Path  # noqa: E402

from gdlab import tracking  # noqa: E402
from gdlab.io import read_json, write_json  # noqa: E402
from gdlab.runfiles import manifest_runs  # noqa: E402

spec = json.loads(snakemake.params.spec)
uri = tracking.job_uri(spec, snakemake.config)  # fails fast if the server is down
experiment = read_json(snakemake.input.experiment)
manifests = defaultdict(list)  # results/<dataset>/<model>/shards/<k>.json, per sweep
for path in snakemake.input.manifests:
    manifests[Path(path).parent.parent].append(path)
sweeps = [tracking.load_best(Path(best).parent, manifest_runs(manifests[Path(best).parent]),
                             split_path=split)
          for best, split in zip(snakemake.input.best, snakemake.input.splits, strict=True)]
locks = tracking.track_lock_dir(snakemake.input.experiment)
with tracking.redacted_errors(uri):
    record = tracking.log_best_models(uri, experiment["experiment_id"], sweeps,
                                      register=spec["register"],
                                      experiment_name=spec["experiment"],
                                      lock=lambda: tracking.track_lock(uri, locks))
write_json(snakemake.output[0], record)
