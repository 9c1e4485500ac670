"""make_dataset: build one dataset (synthetic, bundled with scikit-learn, or CSV)."""
import sys

from gdlab.joblog import to_log

to_log(snakemake.log[0])  # the job's messages and errors (before any other import)

import json  # noqa: E402

from gdlab.data.core import save_dataset  # noqa: E402

spec = json.loads(snakemake.params.spec)
# only the source this dataset uses is imported (it is what its code version covers)
if spec["source"] == "synthetic":
    from gdlab.data.synthetic import make_synthetic

    ds = make_synthetic(spec["generator"], spec["n_samples"], spec["n_features"],
                        spec["noise"], spec["seed"], n_classes=spec.get("n_classes", 2))
elif spec["source"] == "sklearn":
    from gdlab.data.bundled import load_sklearn

    ds = load_sklearn(spec["name"])
else:
    from gdlab.data.csv_file import load_csv

    ds = load_csv(snakemake.input[0], spec["target"], spec["task"],
                  n_classes=spec.get("n_classes", 2))
save_dataset(snakemake.output[0], ds)
print(f"{spec['name']}: {ds.X.shape[0]} samples x {ds.X.shape[1]} features", file=sys.stderr)
