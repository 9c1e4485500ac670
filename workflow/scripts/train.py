"""train: one grid point (NumPy and gdlab only: no mlflow, pandas or matplotlib here)."""
import sys

sys.stderr = open(snakemake.log[0], "w")  # noqa: SIM115 - one log per job

import json  # noqa: E402
from pathlib import Path  # noqa: E402

from gdlab.train import run  # noqa: E402

result = run(json.loads(snakemake.params.spec), snakemake.input[0],
             Path(snakemake.output[0]).parent)
print(f"{result['run_name']}: {result['n_epochs']} epochs, diverged={result['diverged']}",
      file=sys.stderr)
