"""baseline: scikit-learn's solution of the same problem, for every problem of the sweep."""

from gdlab.joblog import to_log

to_log(snakemake.log[0])  # the job's messages and errors (before any other import)

import json  # noqa: E402

from gdlab.baseline import baseline  # noqa: E402
from gdlab.data.core import load_split  # noqa: E402
from gdlab.grid import problems as problems_of  # noqa: E402
from gdlab.io import read_json, stamp, write_json  # noqa: E402

spec = json.loads(snakemake.params.spec)
problems = spec["problems"]
if problems is None:  # points asked by jobs (a TPE sweep): the problems of their trials
    problems = problems_of(t["hyperparameters"] for path in snakemake.input.trials
                           for t in read_json(path)["trials"])
record = baseline(load_split(snakemake.input[0]), spec["model"], problems)
write_json(snakemake.output[0], stamp(record, snakemake.params.repair))
