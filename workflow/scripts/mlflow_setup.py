"""mlflow_setup: make the tracking store and the experiment once, before the track jobs."""
import sys

from gdlab.joblog import to_log

to_log(snakemake.log[0])  # the job's messages and errors (before any other import)

import json  # noqa: E402
from pathlib import Path  # noqa: E402

from gdlab import tracking  # noqa: E402
from gdlab.io import stamp, write_json  # noqa: E402

spec = json.loads(snakemake.params.spec)
uri = tracking.job_uri(spec, snakemake.config)  # fails fast if the server is down
print(f"tracking store {tracking.redact_uri(uri)}, experiment {spec['experiment']!r}",
      file=sys.stderr)
with tracking.redacted_errors(uri):
    record = tracking.setup_experiment(uri, spec["experiment"])
record["project_id"] = tracking.project_id(Path(snakemake.output[0]).with_name("project.json"))
write_json(snakemake.output[0], stamp(record, snakemake.params.repair))
