"""train: every run of one shard of a sweep, in one process."""
import sys

from gdlab.joblog import to_log

to_log(snakemake.log[0])  # the job's messages and errors (before any other import)

import json  # noqa: E402

from gdlab.train import train_shard  # noqa: E402

# a halving rung's job (rule train_rung) also names the previous rung's directory
train_shard(json.loads(snakemake.params.spec), snakemake.input[0], snakemake.params.sweep_dir,
            snakemake.output[0], log=lambda msg: print(msg, file=sys.stderr),
            previous_dir=snakemake.params.get("previous_dir") or None,
            repair=snakemake.params.repair)
