"""publish: a halving sweep's shard of runs, each with the files of its last rung."""
import sys

sys.stderr = open(snakemake.log[0], "w")  # noqa: SIM115 - one log per job

import json  # noqa: E402
from pathlib import Path  # noqa: E402

from gdlab.io import read_json  # noqa: E402
from gdlab.train import publish_shard  # noqa: E402

spec = json.loads(snakemake.params.spec)
sweep_dir = Path(snakemake.output[0]).parent.parent
publish_shard(spec["runs"], sweep_dir, [read_json(p) for p in snakemake.input], spec["shard"],
              spec["dataset"], spec["model"], snakemake.output[0])
