"""What a Snakemake run prints at its end: what it made and where to look, or which job's
log says why it failed. The Snakefile's ``onsuccess:`` and ``onerror:`` print these texts.

The handlers run inside Snakemake's own process after every run, so this module reads the
overview table with the csv module and imports nothing heavy (no pandas, MLflow or
Matplotlib).
"""

from __future__ import annotations

import csv
import os
import re
import shlex
from collections.abc import Iterable
from pathlib import Path

from gdlab.tracking import redact_uri

#: sweeps listed one per line; more are counted, so the summary stays a screenful
MAX_SWEEPS = 8
#: failed jobs listed with their logs (under --keep-going many may fail)
MAX_FAILURES = 5
#: tracking URIs that are servers to open, not stores for a local `mlflow ui`
SERVER_SCHEMES = ("http", "https", "databricks")
#: what Snakemake appends to the log line of a failed job
_LOG_HINT = " (check log file(s) for error details)"


def success_message(overview_csv: str | os.PathLike, tracking_uri: str,
                    experiment: str) -> str:
    """The end of a successful run: each sweep's best run, the figures, the report, MLflow."""
    lines = ["", "gdlab: done."]
    lines += overview_lines(Path(overview_csv))
    lines.append("Figures: results/<dataset>/<model>/plots/"
                 " (all in one HTML page: snakemake --report report.html)")
    lines.append(f"MLflow:  {mlflow_hint(tracking_uri)} (experiment {experiment})")
    return "\n".join(lines)


def overview_lines(overview_csv: Path) -> list[str]:
    """A few lines of ``results/summary.csv``: per sweep, its best run against scikit-learn."""
    if not overview_csv.is_file():
        return [f"No overview table: this run did not make {overview_csv}."]
    with open(overview_csv, encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    sweeps = [f"{row['dataset']}/{row['model']}" for row in rows]
    width = max(map(len, sweeps), default=0)
    lines = ["Each sweep's best run (chosen on validation), its test metric against"
             " scikit-learn's:"]
    for sweep, row in zip(sweeps[:MAX_SWEEPS], rows, strict=False):
        lines.append(f"  {sweep:<{width}}  {_best_run_line(row)}")
    if len(rows) > MAX_SWEEPS:
        lines.append(f"  ... and {len(rows) - MAX_SWEEPS} more sweeps")
    lines.append(f"Whole table: {overview_csv}")
    return lines


def _best_run_line(row: dict[str, str]) -> str:
    runs = f"{row['runs']} runs, {row['diverged']} diverged"
    if not row["best_run"]:
        return f"no healthy run ({runs})"
    metric = row["selection"].removeprefix("val_")
    ours, theirs = row[f"test_{metric}"], row[f"sklearn_test_{metric}"]
    repeats = ""
    if row.get("repeats"):  # the best configuration's mean over its repeats
        repeats = (f"; mean of {row['repeats']} repeats {_number(row[f'test_{metric}_mean'])}"
                   f" [{_number(row[f'test_{metric}_ci_low'])}, "
                   f"{_number(row[f'test_{metric}_ci_high'])}]")
    return (f"{metric} {_number(ours)} (scikit-learn {_number(theirs)}{repeats})"
            f"  {row['best_run']}  ({runs})")


def _number(cell: str) -> str:
    try:
        return f"{float(cell):.4g}"
    except ValueError:
        return cell or "?"


def mlflow_hint(tracking_uri: str) -> str:
    """How to look at the runs: the server to open, or the `mlflow ui` command for a store."""
    uri = redact_uri(tracking_uri)  # the message lands in terminals and CI logs
    if uri.partition(":")[0].lower() in SERVER_SCHEMES:
        return f"runs are on the tracking server {uri}"
    return f"mlflow ui --backend-store-uri {shlex.quote(uri)}"


def failed_job_logs(snakemake_log: str) -> list[tuple[str, list[str]]]:
    """(rule, its log files) of every failed job, read from Snakemake's own log text.

    Snakemake reports a failed job as an unindented ``Error in rule <name>:`` followed by
    indented ``key: value`` lines, one of them ``log: <file>, <file> (check log file(s)...``.
    """
    failures, rule = [], None
    for line in snakemake_log.splitlines():
        start = re.fullmatch(r"Error in rule (\S+):", line.strip())
        if start and not line[:1].isspace():
            rule = start.group(1)
        elif rule and line[:1].isspace():
            key, _, value = line.strip().partition(": ")
            if key == "log":
                failures.append((rule, value.removesuffix(_LOG_HINT).split(", ")))
                rule = None
        else:
            rule = None
    return failures


def error_message(snakemake_logs: Iterable[str | os.PathLike], logs_dir: str = "logs") -> str:
    """The end of a failed run: the failed jobs' logs, then where all logs are."""
    snakemake_logs = [Path(p) for p in snakemake_logs]
    failures = []
    for path in snakemake_logs:
        if path.is_file():
            failures += failed_job_logs(path.read_text(encoding="utf-8", errors="replace"))
    if not failures:  # no job log to point at (an error outside jobs): Snakemake's log
        where = ", ".join(_relative(p) for p in snakemake_logs) or ".snakemake/log/"
        return f"\ngdlab: the run failed; Snakemake's log says why: {where}"
    lines = ["", "gdlab: a job failed; its log says why:" if len(failures) == 1
             else f"gdlab: {len(failures)} jobs failed; their logs say why:"]
    lines += [f"  {rule}: {', '.join(logs)}" for rule, logs in failures[:MAX_FAILURES]]
    if len(failures) > MAX_FAILURES:
        lines.append(f"  ... and {len(failures) - MAX_FAILURES} more")
    lines.append(f"Every job's log is under {logs_dir}/. Fix the cause and run the same"
                 " command again: finished jobs are kept.")
    return "\n".join(lines)


def _relative(path: Path) -> str:
    """``path`` relative to the working directory (the project), if it is inside it."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)
