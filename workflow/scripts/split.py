"""split: seeded train/val/test split; standardised with training statistics only."""
import sys

sys.stderr = open(snakemake.log[0], "w")  # noqa: SIM115 - one log per job

import json  # noqa: E402

from gdlab.data.core import load_dataset, save_split, split_dataset  # noqa: E402

spec = json.loads(snakemake.params.spec)
split = split_dataset(load_dataset(snakemake.input[0]), test_size=spec["test_size"],
                      val_size=spec["val_size"], seed=spec["seed"],
                      stratify=spec["stratify"], standardize=spec["standardize"])
save_split(snakemake.output[0], split)
print(f"train {len(split.y_train)}, val {len(split.y_val)}, test {len(split.y_test)}",
      file=sys.stderr)
