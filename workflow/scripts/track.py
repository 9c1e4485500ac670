"""track: complete one sweep's parent run in MLflow (description, figures, best model)."""
import sys

sys.stderr = open(snakemake.log[0], "w")  # noqa: SIM115 - one log per job

import json  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

from gdlab import tracking  # noqa: E402
from gdlab.io import read_json, write_json  # noqa: E402
from gdlab.runfiles import manifest_runs  # noqa: E402

spec = json.loads(snakemake.params.spec)
uri = tracking.job_uri(spec, snakemake.config)  # fails fast if the server is down

if tracking.writes_sqlite_itself(uri):
    # sqlite3 writes the parent; mlflow is imported only if a new best model is to be logged
    print("import mlflow: not yet (gdlab writes this SQLite store with sqlite3)",
          file=sys.stderr)
else:
    start = time.perf_counter()
    import mlflow.pyfunc  # noqa: F401 - the one-off import (~1.5 s), timed apart

    print(f"import mlflow: {time.perf_counter() - start:.2f} s", file=sys.stderr)
experiment = read_json(snakemake.input.experiment)
sweep = tracking.load_sweep(Path(snakemake.output[0]).parent,
                            manifest_runs(snakemake.input.manifests),
                            split_path=snakemake.input.split)
children = {}
for path in snakemake.input.shards:
    children.update(read_json(path)["children"])
with tracking.track_lock(uri, Path(snakemake.input.experiment).with_name("locks")), \
        tracking.redacted_errors(uri):
    record = tracking.finish_sweep(uri, experiment["experiment_id"], sweep, children,
                                   register=spec["register"],
                                   experiment_name=spec["experiment"],
                                   search=spec.get("search"))
write_json(snakemake.output[0], record)
