"""What a Snakemake run prints at its end: what it made and where to look, or which job's
log says why it failed. The Snakefile's ``onsuccess:`` and ``onerror:`` print these texts.

The handlers run inside Snakemake's own process after every run, so this module reads the
overview table with the csv module and imports nothing heavy (no pandas, MLflow or
Matplotlib).
"""

from __future__ import annotations

import csv
import json
import os
import re
import shlex
import shutil
from collections.abc import Iterable
from pathlib import Path

from gdlab.metrics import metric_name
from gdlab.names import short_reason
from gdlab.tracking.layout import overview_url, run_url
from gdlab.tracking.uri import is_server, redact_uri

#: sweeps listed one per line; more are counted, so the summary stays a screenful
MAX_SWEEPS = 8
#: failed jobs listed with their logs (under --keep-going many may fail)
MAX_FAILURES = 5
#: where `mlflow ui` listens by default
UI_ADDRESS = "http://127.0.0.1:5000"
#: the second test metric shown beside the selection metric, by task
SECOND_METRIC = {"mse": "r2", "rmse": "r2", "mae": "r2", "r2": "mse"}
#: metrics where higher is better (the rest: lower)
HIGHER = ("accuracy", "f1", "f1_macro", "roc_auc", "precision", "recall", "r2")



def success_message(results_dir: str | os.PathLike, tracking_uri: str,
                    experiment: str) -> str:
    """The end of a successful run: each sweep's best run against scikit-learn, the
    lesson, where the tables and figures are, and the MLflow pages to open."""
    results = Path(results_dir)
    lines = ["", "gdlab: done."]
    lines += overview_lines(results / "summary.csv")
    lines += lesson_lines(sorted(results.glob("*/*/lesson.json")))
    lines.append(f"Tables: `gdlab overview` prints {results / 'overview.csv'} (one row per "
                 f"sweep; every column: {results / 'summary.csv'}), "
                 f"{results}/<dataset>/<model>/summary.csv (every run)")
    lines.append(f"Figures: {results}/<dataset>/<model>/plots/"
                 " (all in one HTML page: snakemake --report report.html)")
    lines += mlflow_lines(tracking_uri, experiment, results)
    return "\n".join(lines)


def _number(cell: str | None) -> str:
    try:
        return f"{float(cell):.4g}"
    except (TypeError, ValueError):
        return cell or "?"


def _arrow(metric: str) -> str:
    return "↑" if metric in HIGHER else "↓"


def aligned(header: list[str], rows: list[list[str] | str], right: Iterable[int] = (),
            indent: str = "  ") -> list[str]:
    """A text table that cannot misalign: every column as wide as its widest cell
    (header included), the columns ``right`` right-aligned (numbers), cells separated by
    two spaces. A row that is a string is a note, printed as it is under the row above."""
    right = set(right)
    cells = [header, *(r for r in rows if not isinstance(r, str))]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]

    def line(row: list[str]) -> str:
        return indent + "  ".join(c.rjust(w) if i in right else c.ljust(w)
                                  for i, (c, w) in enumerate(zip(row, widths, strict=True))
                                  ).rstrip()

    return [line(header)] + [indent + r if isinstance(r, str) else line(r) for r in rows]


def fixed(cell: str | None, decimals: int = 4) -> str:
    """A number with ``decimals`` decimals (a column's numbers line up on the point); an
    empty or non-numeric cell as it is."""
    try:
        return f"{float(cell):.{decimals}f}"
    except (TypeError, ValueError):
        return cell or ""


#: a gap to the optimum this small is float rounding of objectives near 1: the optimum
REACHED = 1e-12


def gap_cell(row: dict[str, str]) -> str:
    """The objective gap to the optimum (2 significant digits, the same for every row), or
    in a few words why the problem has none."""
    if row.get("objective_gap") not in (None, ""):
        gap = float(row["objective_gap"])
        # within float rounding of the optimum: "-1.4e-17" would read as beating it
        return "0 (reached)" if abs(gap) <= REACHED else f"{gap:.1e}"
    return "none: " + short_reason(row.get("no_optimum"))


def html_table(header: list[str], rows: list[list[str]], title: str) -> str:
    """A small self-contained HTML page holding one table (the report's overview: a CSV in
    a Snakemake report is a ``data:`` download link, which Chromium does not follow; an
    HTML page is shown in place)."""
    from html import escape

    def tr(cells: list[str], tag: str) -> str:
        return "<tr>" + "".join(f"<{tag}>{escape(c)}</{tag}>" for c in cells) + "</tr>"

    return ("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>"
            f"{escape(title)}</title><style>body{{font-family:sans-serif}}"
            "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:2px 8px;"
            "text-align:left}td{font-variant-numeric:tabular-nums}</style></head><body>\n"
            f"<h3>{escape(title)}</h3>\n<table>\n{tr(header, 'th')}\n"
            + "\n".join(tr(r, "td") for r in rows) + "\n</table>\n</body></html>\n")


#: the terminal table's columns (the numbers' right-aligned)
COLUMNS = ["sweep", "runs", "diverged", "test metric", "gdlab", "scikit-learn",
           "gap to the optimum"]


def overview_lines(overview_csv: Path) -> list[str]:
    """A table: per sweep, its run counts, its best run's test metrics beside
    scikit-learn's default estimator on the same split, and its objective gap to the
    optimum of the same objective (or why there is none); notes under a sweep's rows
    (repeats' mean, an estimator that did not converge)."""
    if not overview_csv.is_file():
        return [f"No overview table: this run did not make {overview_csv}."]
    with open(overview_csv, encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    lines = ["Each sweep's best run, chosen on validation (the mean over its last epochs), "
             "scored on the test set",
             "beside scikit-learn's default estimator fitted on the same split (↓ lower is "
             "better, ↑ higher); the gap",
             "is the best run's training objective above the optimum of the same objective: "
             "the proof that",
             "gradient descent got there."]
    table: list[list[str] | str] = []
    for row in rows[:MAX_SWEEPS]:
        table += _sweep_rows(row)
    lines += aligned(COLUMNS, table, right=(1, 2, 4, 5))
    if len(rows) > MAX_SWEEPS:
        lines.append(f"  ... and {len(rows) - MAX_SWEEPS} more sweeps")
    return lines


def _sweep_rows(row: dict[str, str]) -> list[list[str] | str]:
    """The table's rows of one sweep: its selection metric, then a second one, then its
    notes."""
    sweep = f"{row['dataset']}/{row['model']}"
    counts = [row["runs"], row["diverged"]]
    if not row["best_run"]:
        return [[sweep, *counts, "no healthy run", "", "", ""]]
    metric = metric_name(row["selection"])
    second = SECOND_METRIC.get(metric, "accuracy")
    out: list[list[str] | str] = []
    for i, m in enumerate(m for m in (metric, second) if row.get(f"test_{m}")):
        first = i == 0
        out.append([sweep if first else "", *(counts if first else ["", ""]),
                    f"{m} {_arrow(m)}", fixed(row[f"test_{m}"]),
                    fixed(row[f"sklearn_default_test_{m}"]),
                    gap_cell(row) if first else ""])
    if row.get("repeats"):  # the best configuration's mean over its repeats
        out.append(f"  mean of {row['repeats']} repeats: {fixed(row[f'test_{metric}_mean'])} "
                   f"[{fixed(row[f'test_{metric}_ci_low'])}, "
                   f"{fixed(row[f'test_{metric}_ci_high'])}]")
    if int(row.get("oscillating") or 0):
        n = int(row["oscillating"])
        out.append(f"  {n} of its runs still swing{'s' if n == 1 else ''} at the end "
                   "(validation loss), ranked after the settled ones")
    if row.get("sklearn_default_converged") == "false":
        out.append(f"  scikit-learn's {row['sklearn_default']} stopped before converging "
                   "(its solver's iteration limit)")
    return out


def lesson_lines(records: Iterable[Path]) -> list[str]:
    """The lesson in numbers (each lesson sweep's ``lesson.json``): how long each loss
    stays on the plateau from one saturated start, at the learning rate its figure shows."""
    lines = []
    for path in records:
        try:
            record = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if record.get("shown") is None:
            continue
        pair = record["pairs"][record["shown"]]
        hp = pair["hyperparameters"]
        parts = []
        for loss, run in pair["runs"].items():
            final = _number(run["final_val_log_loss"])
            parts.append(f"{loss} off the plateau at epoch {run['plateau_epochs']} (ends at "
                         f"{final})" if run["plateau_epochs"] is not None else
                         f"{loss} still on it after {run['n_epochs']} epochs (ends at {final})")
        start = "one saturated start" if record.get("saturated_start") else "a zero start"
        lines.append(f"The lesson, {path.parent.parent.name}/{path.parent.name}: from {start}, "
                     f"lr {hp['lr']:g}, validation log loss: " + "; ".join(parts)
                     + f". Figure: {path.parent / 'plots' / 'loss_landscape.png'}")
        lines.append("  " + plateau_definition(record.get("near", 0.1),
                                               record.get("constant_val_log_loss")))
    return lines


def plateau_definition(near: float, constant: float | None) -> str:
    """What "off the plateau" means, said where the claim is made."""
    text = (f"(off the plateau: validation log loss {1 - near:.0%} of the way down from the "
            "start to the best any run reached")
    if constant is not None:
        text += (f", and below {_number(constant)}, what always predicting the training "
                 "class share scores")
    return text + ")"


def ui_url(address: str, experiment_id: str, run_id: str | None = None) -> str:
    """The MLflow UI's page of the experiment's sweeps (its saved view), or of one run,
    on the UI's "Model training" side."""
    path = overview_url(experiment_id) if run_id is None else run_url(experiment_id, run_id)
    return f"{address}/{path}"


def mlflow_lines(tracking_uri: str, experiment: str, results: Path) -> list[str]:
    """How to look at the runs in MLflow: the command (or server), the experiment's runs
    page, and each sweep's parent run (from the track jobs' records)."""
    uri = redact_uri(tracking_uri)  # the message lands in terminals and CI logs
    if is_server(uri):
        lines, address = [f"MLflow: the runs are on the tracking server {uri}"], uri.rstrip("/")
    else:
        lines = [f"MLflow: mlflow ui --backend-store-uri {shlex.quote(uri)}   "
                 f"(experiment {experiment}), then open"]
        address = UI_ADDRESS
    records = []
    for path in sorted(results.glob("*/*/mlflow.json")):
        try:
            records.append(json.loads(path.read_text(encoding="utf-8")))
        except (OSError, ValueError):
            continue
    if not records:
        return lines
    lines.append(f"  every sweep and its best runs: {ui_url(address, records[0]['experiment_id'])}")
    width = max(len(r.get("sweep", "")) for r in records)
    for r in records[:MAX_SWEEPS]:
        lines.append(f"  {r.get('sweep', ''):<{width}}  "
                     f"{ui_url(address, r['experiment_id'], r['parent_run_id'])}")
    if len(records) > MAX_SWEEPS:
        lines.append(f"  ... and {len(records) - MAX_SWEEPS} more sweeps (results/*/*/mlflow.json)")
    return lines


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


#: what Snakemake appends to the log line of a failed job
_LOG_HINT = " (check log file(s) for error details)"


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
    lines += [f"  {rule}: {', '.join(logs)}{_empty_log_note(logs)}"
              for rule, logs in failures[:MAX_FAILURES]]
    if len(failures) > MAX_FAILURES:
        lines.append(f"  ... and {len(failures) - MAX_FAILURES} more")
    lines.append(f"Every job's log is under {logs_dir}/. Fix the cause and run the same"
                 " command again: finished jobs are kept.")
    return "\n".join(lines)


#: free bytes below which a disk counts as full (a job's log needs a few kB)
FULL_DISK = 1 << 20


def _empty_log_note(logs: list[str]) -> str:
    """Why a failed job's log says nothing, when it is empty or missing: most often the
    disk holding it is full (the job could not write its log either)."""
    paths = [Path(p) for p in logs]
    if not paths or any(p.is_file() and p.stat().st_size for p in paths):
        return ""
    folder = next((d for d in [paths[0].parent, *paths[0].parent.parents] if d.is_dir()),
                  Path("."))
    free = shutil.disk_usage(folder).free
    if free < FULL_DISK:
        return f" (empty: the disk holding {folder} is full, {free} bytes free)"
    return " (empty: the job stopped before writing it; Snakemake's own log above says more)"


def _relative(path: Path) -> str:
    """``path`` relative to the working directory (the project), if it is inside it."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)
