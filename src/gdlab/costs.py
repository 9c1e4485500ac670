"""What each job of the pipeline cost: Snakemake's benchmark records, merged.

Every rule has a ``benchmark:`` (``logs/benchmark/<rule>/<wildcards>.tsv``): Snakemake
times the job's process tree and records its wall time and peak memory. The ``costs`` job
merges them into one table per experiment, ``results/costs.csv`` (also in
``snakemake --report``): one row a job, as it ran last (a job that did not rerun keeps its
earlier record, with the time it was measured), and :func:`by_rule` sums them per rule for
the end-of-run view and ``benchmarks/stage_costs.py``. Standard library only.
"""

from __future__ import annotations

import csv
import io
import os
from datetime import UTC, datetime
from pathlib import Path

#: where the rules' benchmark records go
BENCHMARK_DIR = Path("logs") / "benchmark"
COLUMNS = ("rule", "job", "seconds", "max_rss_mb", "measured_utc")


def benchmark_path(rule: str, *wildcards: str) -> str:
    """The benchmark record of a job of ``rule``: ``wildcards`` as Snakemake patterns,
    e.g. ``benchmark_path("train", "{dataset}", "{model}", "{shard}")``."""
    return str(BENCHMARK_DIR.joinpath(rule, *wildcards)) + ".tsv" if wildcards \
        else str(BENCHMARK_DIR / f"{rule}.tsv")


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:  # Snakemake writes "-" or "NA" where it measured nothing
        return None


def read_records(root: str | os.PathLike = BENCHMARK_DIR) -> list[dict]:
    """One row per benchmark record under ``root``: its rule, its job (the wildcards'
    values, as the record's path has them), seconds, peak resident memory (MB) and the
    time it was measured. A record Snakemake is still writing (no data row yet) is left
    out."""
    root, rows = Path(root), []
    for path in sorted(root.rglob("*.tsv")):
        lines = path.read_text(encoding="utf-8").splitlines()
        if len(lines) < 2:
            continue
        header, values = lines[0].split("\t"), lines[-1].split("\t")
        record = dict(zip(header, values, strict=False))
        parts = path.relative_to(root).with_suffix("").parts
        rows.append({
            "rule": parts[0],
            "job": "/".join(parts[1:]),
            "seconds": _number(record.get("s", "")),
            "max_rss_mb": _number(record.get("max_rss", "")),
            "measured_utc": datetime.fromtimestamp(path.stat().st_mtime, UTC)
            .strftime("%Y-%m-%dT%H:%M:%SZ"),
        })
    return rows


def to_csv(rows: list[dict]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, COLUMNS, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: ("" if row[k] is None else row[k]) for k in COLUMNS})
    return out.getvalue()


def by_rule(rows: list[dict]) -> dict[str, dict]:
    """Rule -> its jobs, their summed seconds and the largest peak memory (MB)."""
    rules: dict[str, dict] = {}
    for row in rows:
        entry = rules.setdefault(row["rule"], {"jobs": 0, "seconds": 0.0, "max_rss_mb": None})
        entry["jobs"] += 1
        entry["seconds"] += row["seconds"] or 0.0
        if row["max_rss_mb"] is not None:
            entry["max_rss_mb"] = max(entry["max_rss_mb"] or 0.0, row["max_rss_mb"])
    return rules
