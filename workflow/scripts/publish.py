"""publish: a halving sweep's shard of runs, each with the files of its last rung."""

from gdlab.joblog import to_log

to_log(snakemake.log[0])  # the job's messages and errors (before any other import)

import json  # noqa: E402
from pathlib import Path  # noqa: E402

from gdlab.io import read_json  # noqa: E402
from gdlab.train import publish_shard  # noqa: E402

spec = json.loads(snakemake.params.spec)
sweep_dir = Path(snakemake.output[0]).parent.parent
publish_shard(spec["runs"], sweep_dir, [read_json(p) for p in snakemake.input], spec["shard"],
              spec["dataset"], spec["model"], snakemake.output[0], snakemake.params.repair)
