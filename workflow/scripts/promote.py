"""promote: rank one rung of a halving search and name the runs the next rung trains."""
import sys

from gdlab.joblog import to_log

to_log(snakemake.log[0])  # the job's messages and errors (before any other import)

import json  # noqa: E402
from pathlib import Path  # noqa: E402

from gdlab.io import stamp, write_json  # noqa: E402
from gdlab.runfiles import read_sweep  # noqa: E402
from gdlab.summary import promote  # noqa: E402

spec = json.loads(snakemake.params.spec)
rung_dir = Path(snakemake.output[0]).parent
runs = [r.result for r in read_sweep(rung_dir, snakemake.input).runs]
record = {"rung": spec["rung"], "budget": spec["budget"],
          **promote(runs, spec["metric"], spec["eta"], last=spec["last"])}
print(f"rung {spec['rung']}: {len(runs)} runs, {len(record['promoted'])} promoted",
      file=sys.stderr)
write_json(snakemake.output[0], stamp(record, snakemake.params.repair))
