"""collect_round: a TPE round's train manifests as the sweep's shard of that round."""
import sys

from gdlab.joblog import to_log

to_log(snakemake.log[0])  # the job's messages and errors (before any other import)

import json  # noqa: E402

from gdlab.io import stamp, write_json  # noqa: E402
from gdlab.runfiles import manifest_runs  # noqa: E402

spec = json.loads(snakemake.params.spec)
runs = manifest_runs(snakemake.input.manifests)
manifest = {"dataset": spec["dataset"], "model": spec["model"], "shard": str(spec["round"]),
            "round": spec["round"], "runs": dict(sorted(runs.items()))}
write_json(snakemake.output[0], stamp(manifest, snakemake.params.repair))
print(f"round {spec['round']}: {len(runs)} runs", file=sys.stderr)
