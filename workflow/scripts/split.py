"""split: seeded train/val/test split; standardised with training statistics only."""
import sys

from gdlab.joblog import to_log

to_log(snakemake.log[0])  # the job's messages and errors (before any other import)

import json  # noqa: E402

from gdlab.data.core import load_dataset, save_split  # noqa: E402
from gdlab.data.split import split_dataset  # noqa: E402

spec = json.loads(snakemake.params.spec)
split = split_dataset(load_dataset(snakemake.input[0]), test_size=spec["test_size"],
                      val_size=spec["val_size"], seed=spec["seed"],
                      stratify=spec["stratify"], standardize=spec["standardize"])
save_split(snakemake.output[0], split)
print(f"train {len(split.y_train)}, val {len(split.y_val)}, test {len(split.y_test)}",
      file=sys.stderr)
