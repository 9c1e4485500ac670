"""train: every run of one shard of a sweep, in one process."""
import sys

sys.stderr = open(snakemake.log[0], "w")  # noqa: SIM115 - one log per job

import json  # noqa: E402

from gdlab.train import train_shard  # noqa: E402

# a halving rung's job (rule train_rung) also names the previous rung's directory
train_shard(json.loads(snakemake.params.spec), snakemake.input[0], snakemake.params.sweep_dir,
            snakemake.output[0], log=lambda msg: print(msg, file=sys.stderr),
            previous_dir=snakemake.params.get("previous_dir") or None)
