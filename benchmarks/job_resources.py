#!/usr/bin/env python
"""What a train job needs on a cluster: its runtime and the memory of it and its Snakemake.

Run from the repository root::

    .venv/bin/python benchmarks/job_resources.py                 # default + 10,000 points
    .venv/bin/python benchmarks/job_resources.py --sizes 1000    # a smaller sweep

On a cluster every train job (profiles/slurm) is a Snakemake process that parses the
whole workflow and runs the job's script as its child, so the job's memory is the sum of
both, and the Snakemake part grows with the number of grid points. This measures, with
``--cores 1`` (one job at a time, as on a node):

- **the default experiment**: every train job (``--until train``): the longest job's
  runtime (Snakemake's records) and the peak summed RSS of Snakemake and the job;
- **an N-point sweep** (benchmarks/scaling.py's grid, gdlab's shard size): its largest
  shard (runs go to shards by a hash of their names, so sizes vary around the shard
  size) built as the only target, the way a cluster job builds its one job: wall time and
  peak summed RSS; and a dry run of that target: Snakemake's own share.

The sizes in profiles/slurm/config.yaml (``set-resources``) come from these figures.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import _floor as F  # noqa: E402
import _records as R  # noqa: E402
import _workflow as W  # noqa: E402
from _machine import Machine, add_save_args, print_table, save_results, size_str, t_str  # noqa: E402
from scaling import MODEL, config_for  # noqa: E402


def default_experiment(tmp: Path) -> list[tuple]:
    root = W.make_copy(tmp / "default")
    W.snakemake(root, "--cores", "2", "--until", "split")
    res = W.snakemake(root, "--cores", "1", "--until", "train", memory=True)
    trains = [j for j in R.jobs_from_metadata(root) if j["rule"] == "train"]
    times = sorted(j["end"] - j["start"] for j in trains)
    return [("default experiment", "train jobs", str(len(trains)),
             f"--cores 1; {t_str(res['wall'])} in all"),
            ("default experiment", "longest train job", t_str(times[-1]),
             f"median {t_str(times[len(times) // 2])}"),
            ("default experiment", "peak RSS, Snakemake + one train job",
             size_str(res["peak_rss"]), "summed over the process tree")]


def sweep(tmp: Path, n: int) -> list[tuple]:
    config = config_for(n)
    root = W.make_copy(tmp / f"sweep{n}", config)
    W.snakemake(root, "--cores", "2", "--until", "split")
    # runs go to shards by a hash of their names: size for the largest
    shard, runs = max(F.shards(config)[f"moons/{MODEL}"].items(), key=lambda kv: len(kv[1]))
    target = f"results/moons/{MODEL}/shards/{shard}.json"
    dry = W.snakemake(root, "--cores", "1", "-n", target, memory=True)
    res = W.snakemake(root, "--cores", "1", target, memory=True)
    section = f"{n} points"
    return [(section, "the largest shard as the only target", t_str(res["wall"]),
             f"shard {shard}: {len(runs)} runs (shard_size {F.shard_size(config)}); "
             "Snakemake's start-up included"),
            (section, "peak RSS, Snakemake + the train job", size_str(res["peak_rss"]),
             "summed over the process tree"),
            (section, "peak RSS, Snakemake alone (dry run)", size_str(dry["peak_rss"]),
             f"{t_str(dry['wall'])}")]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="*", default=[10000],
                    help="grid points of the sweeps (default 10000)")
    add_save_args(ap)
    args = ap.parse_args()
    machine = Machine()
    tmp = Path(tempfile.mkdtemp(prefix="gdlab-job-resources-"))
    rows = default_experiment(tmp)
    for n in args.sizes:
        rows += sweep(tmp, n)
    machine.finish()
    shutil.rmtree(tmp, ignore_errors=True)
    print_table(rows)
    if not args.no_save:
        save_results("job_resources.py", rows, machine, results=args.results,
                     preamble="One job at a time (--cores 1); memory is the peak summed "
                              "RSS of Snakemake and its job, sampled every 0.1 s.")


if __name__ == "__main__":
    main()
