"""search_history: a TPE search's optimisation history (best so far against trial number)."""

from gdlab.joblog import to_log

to_log(snakemake.log[0])  # the job's messages and errors (before any other import)

import json  # noqa: E402
from pathlib import Path  # noqa: E402

from gdlab.figures.draw import plot_history_files  # noqa: E402

spec = json.loads(snakemake.params.spec)
plot_history_files(Path(snakemake.input.best).parent, snakemake.output[0], spec["batch"],
                   spec["n_startup_trials"])
