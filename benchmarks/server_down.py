#!/usr/bin/env python
"""How long a job takes to fail when the tracking server is down.

Run from the repository root::

    .venv/bin/python benchmarks/server_down.py            # 3 repeats
    .venv/bin/python benchmarks/server_down.py --quick    # 1 repeat

A copy of the project with one tiny sweep (line x linear regression, 2 grid points) is
trained locally; then, interleaved, its MLflow setup job (the first job that talks to
the server) runs against two servers that are down:

- **refused**: a port where nothing listens, so every connection is refused at once;
- **silent**: a socket that accepts connections and never answers, so every request
  waits for the whole HTTP timeout (gdlab's worst case, ``tracking.http_budget``).

It reports the failed job's time, from Snakemake's own timestamps (to the second: the
lines before "localrule mlflow_setup" and "Error in rule mlflow_setup"), and the whole
``snakemake`` command's wall time, which adds Snakemake's start-up.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as _dt
import re
import shutil
import socket
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import _workflow as W  # noqa: E402
from _machine import Machine, add_save_args, median, print_table, save_results, t_str  # noqa: E402

#: Snakemake's timestamp line, e.g. "[Sun Nov 29 23:59:01 2026]"
STAMP = re.compile(r"^\[(\w{3} \w{3} +\d+ \d\d:\d\d:\d\d \d{4})\]$", re.M)


def sweep_config(uri: str) -> dict:
    cfg = W.default_config()
    cfg["datasets"] = {"line": {"task": "regression", "source": "synthetic",
                                "generator": "linear", "n_samples": 60, "n_features": 1,
                                "noise": 0.3}}
    cfg["models"] = {"linear_regression": {"grid": {"lr": [0.1, 0.3], "l2": [0.0],
                                                    "epochs": [15]}}}
    cfg["mlflow"]["tracking_uri"] = uri
    return cfg


def job_seconds(stderr: str, rule: str) -> float:
    """Seconds from the stamp before ``rule``'s start to the stamp before its error."""
    stamps = {}
    for match in STAMP.finditer(stderr):
        after = stderr[match.end():match.end() + 200].lstrip()
        for key, head in (("start", f"localrule {rule}:"), ("error", f"Error in rule {rule}:")):
            if after.startswith(head):
                stamps[key] = _dt.datetime.strptime(match.group(1), "%a %b %d %H:%M:%S %Y")
    if len(stamps) != 2:
        raise RuntimeError(f"no start and error stamps of {rule} in:\n{stderr[-3000:]}")
    return (stamps["error"] - stamps["start"]).total_seconds()


@contextlib.contextmanager
def silent_server():
    """A port that accepts connections (the kernel's backlog) and never answers."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(64)
        yield s.getsockname()[1]


def refused_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="1 repeat instead of 3")
    add_save_args(ap)
    args = ap.parse_args()
    repeats = 1 if args.quick else 3
    machine = Machine()
    tmp = Path(tempfile.mkdtemp(prefix="gdlab-server-down-"))
    base = W.make_copy(tmp / "base", sweep_config("sqlite:///mlflow.db"))
    W.snakemake(base, "--cores", "2")  # trained and tracked: only the setup will rerun
    job: dict[str, list[float]] = {"refused": [], "silent": []}
    wall: dict[str, list[float]] = {"refused": [], "silent": []}
    for r in range(repeats):
        for case in job:  # interleaved: same load for both
            root = tmp / f"run{r}-{case}"
            shutil.copytree(base, root, symlinks=True)
            with contextlib.ExitStack() as stack:
                port = (stack.enter_context(silent_server()) if case == "silent"
                        else refused_port())
                W.write_config(root, sweep_config(f"http://127.0.0.1:{port}"))
                res = W.snakemake(root, "--cores", "2", "results/mlflow/experiment.json",
                                  check=False, timeout=600)
            if res["rc"] == 0 or "cannot reach the MLflow tracking server" not in res["stderr"]:
                raise RuntimeError(f"{case}: expected a failure naming the server:\n"
                                   f"{res['stderr'][-3000:]}")
            job[case].append(job_seconds(res["stderr"], "mlflow_setup"))
            wall[case].append(res["wall"])
            print(f"repeat {r + 1}: {case}: job {job[case][-1]:.0f} s, "
                  f"command {res['wall']:.1f} s", flush=True)
    machine.finish()
    shutil.rmtree(tmp, ignore_errors=True)

    rows = []
    for case in job:
        rows += [(case, "failed job (Snakemake's stamps, 1 s)", t_str(median(job[case])),
                  "runs " + ", ".join(f"{x:.0f} s" for x in job[case])),
                 (case, "whole snakemake command", t_str(median(wall[case])),
                  "runs " + ", ".join(f"{x:.1f} s" for x in wall[case]))]
    print_table(rows)
    if not args.no_save:
        save_results("server_down.py", rows, machine, quick=args.quick, results=args.results,
                     preamble=f"{repeats} repeats, medians. The mlflow_setup job against a "
                              "tracking server that is down: refused connections, or a "
                              "socket that never answers.")


if __name__ == "__main__":
    main()
