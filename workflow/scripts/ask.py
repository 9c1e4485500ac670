"""ask: round r of a TPE search, asked from the results of the rounds before it."""
import sys

from gdlab.joblog import to_log

to_log(snakemake.log[0])  # the job's messages and errors (before any other import)

import json  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

from gdlab.io import read_json, write_json  # noqa: E402
from gdlab.runfiles import read_sweep  # noqa: E402
from gdlab.tpe import ask_round  # noqa: E402

start = time.perf_counter()
spec = json.loads(snakemake.params.spec)
sweep_dir = Path(snakemake.output[0]).parent.parent.parent
earlier = sorted((read_json(p) for p in snakemake.input.trials), key=lambda rec: rec["round"])
results = {}  # trial name -> its repeats' metrics.json
for run in read_sweep(sweep_dir, snakemake.input.manifests).runs:
    results.setdefault(run.config, []).append(run.result)
record = ask_round(spec["search"], spec["model"], spec["round"], spec["size"], earlier,
                   results, spec["metric"], spec["search"]["seed"])
failed = sum(t["state"] == "FAIL" for t in record["told"])
print(f"round {spec['round']}: told {len(record['told'])} trials ({failed} failed), asked "
      f"{len(record['trials'])} in {time.perf_counter() - start:.2f} s "
      f"(Optuna {record['sampler']['optuna']}, seed {record['sampler']['seed']})",
      file=sys.stderr)
write_json(snakemake.output[0], record)
