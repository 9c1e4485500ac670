"""Shared by the workflow benchmarks: what a finished copy of the project records.

Per-job start and end from Snakemake's own records (``.snakemake/metadata``), the time by
rule and the critical path; the train and track jobs' logs parsed; the MLflow SQLite store
counted and its children listed (read with sqlite3, no MLflow in the process).
"""

from __future__ import annotations

import base64
import json
import os
import re
import sqlite3
from collections import defaultdict
from pathlib import Path


# -- what ran: Snakemake's metadata (.snakemake/metadata: one record per output) ---------
def jobs_from_metadata(root: Path, since: float = 0.0) -> list[dict]:
    """One dict per job (rule, outputs, inputs, start, end) from Snakemake's records.

    Snakemake stores, for each output file, the job's rule, inputs and start/end times;
    the outputs of one job share them. ``since``: only jobs that started after it.
    """
    groups: dict[tuple, dict] = {}
    base = Path(root) / ".snakemake" / "metadata"
    for f in (p for p in base.rglob("*") if p.is_file()):
        try:
            rec = json.loads(f.read_text())
        except (OSError, ValueError):
            continue
        if rec.get("incomplete") or rec.get("starttime") is None:
            continue
        if rec["starttime"] < since:
            continue
        # a long name is split into directories "@part/@part/last" (persistence/file.py)
        b64 = "".join(part.lstrip("@") for part in f.relative_to(base).parts)
        out = base64.urlsafe_b64decode(b64).decode()
        # one job = one log file (every gdlab rule has its own), else same rule+inputs+start
        key = (rec["rule"], tuple(rec.get("log") or ()) or (rec["starttime"],
                                                            tuple(rec.get("input", []))))
        job = groups.setdefault(key, {"rule": rec["rule"], "start": rec["starttime"],
                                      "end": rec["endtime"], "inputs": rec.get("input", []),
                                      "outputs": []})
        job["outputs"].append(out)
        job["start"] = min(job["start"], rec["starttime"])
        job["end"] = max(job["end"], rec["endtime"])
    return sorted(groups.values(), key=lambda j: j["start"])


def rule_breakdown(jobs: list[dict]) -> dict[str, dict]:
    """Per rule: job count, summed and median job time, and when the rule was busy."""
    t0 = min(j["start"] for j in jobs)
    by = defaultdict(list)
    for j in jobs:
        by[j["rule"]].append(j)
    out = {}
    for rule, js in by.items():
        d = sorted(j["end"] - j["start"] for j in js)
        out[rule] = {"jobs": len(js), "sum": sum(d), "median": d[len(d) // 2], "max": d[-1],
                     "first_start": min(j["start"] for j in js) - t0,
                     "last_end": max(j["end"] for j in js) - t0}
    return dict(sorted(out.items(), key=lambda kv: kv[1]["first_start"]))


def critical_path(jobs: list[dict]) -> list[dict]:
    """The chain of jobs that decided the end: from the last job to finish, step back to
    the input-producing job that finished last (``wait`` is the gap before the job started:
    time it sat ready but waited for a free core, plus the scheduler's own latency)."""
    producer = {}
    for j in jobs:
        for o in j["outputs"]:
            producer[o] = j
    t0 = min(j["start"] for j in jobs)
    job = max(jobs, key=lambda j: j["end"])
    chain = []
    while job is not None:
        preds = [producer[i] for i in job["inputs"] if i in producer]
        # inputs under a directory output (plots/runs/...) map to the directory
        for i in job["inputs"]:
            if i not in producer:
                preds += [p for o, p in producer.items() if i.startswith(o.rstrip("/") + "/")]
        prev = max(preds, key=lambda p: p["end"]) if preds else None
        chain.append({"rule": job["rule"], "output": job["outputs"][0],
                      "start": job["start"] - t0, "duration": job["end"] - job["start"],
                      "wait": job["start"] - (prev["end"] if prev else t0)})
        job = prev
    return chain[::-1]


def dir_size(path: Path) -> int:
    total = 0
    for dirpath, _, files in os.walk(path):
        for f in files:
            try:
                total += os.lstat(os.path.join(dirpath, f)).st_size
            except OSError:
                pass
    return total


# -- what the jobs say: train and track logs ---------------------------------------------
# "trained N runs, reused M: fit and write X s, job Y s" (runs trained from the same spec
# before are reused, not refit)
_TRAIN_RE = re.compile(r"trained (\d+) runs, reused \d+: fit and write ([\d.]+) s, "
                       r"job ([\d.]+|nan) s")
# sync_sweep's last line (gdlab.tracking.sync): "<d>/<m>: kept K, created C, deleted D in
# X s, Y ms a child via <path>" (the per-child part only when it created any), or
# "<d>/<m>: the store already shows this sweep (X s)"
_SYNC_RE = re.compile(r"(\S+): kept (\d+), created (\d+), deleted (\d+) in ([\d.]+) s"
                      r"(?:, ([\d.]+) ms a child via (.+))?$", re.M)
_SHOWN_RE = re.compile(r"(\S+): the store already shows this sweep \(([\d.]+) s\)")


def train_logs(root: Path) -> list[dict]:
    """Per train job (logs/train/...): runs, "fit and write" seconds, process seconds."""
    out = []
    for f in sorted((Path(root) / "logs" / "train").rglob("*.log")):
        m = _TRAIN_RE.search(f.read_text(errors="replace"))
        if m:
            out.append({"log": str(f), "runs": int(m[1]), "fit_write": float(m[2]),
                        "process": float(m[3])})
    return out


def sync_line(text: str) -> dict | None:
    """What ``sync_sweep`` logged (a track job's log, or its messages): the sweep; kept,
    created, deleted children; the whole sync's seconds (find, plan, parent, children,
    figures, best model); the children's ms each (records built and written) and the
    path they went by (``via``: one transaction through MLflow's tables, or MLflow's
    client; NaN and None when none was created); ``shown``: the store already showed the
    sweep (nothing written). None if it logged neither line."""
    if m := _SYNC_RE.search(text):
        return {"sweep": m[1], "kept": int(m[2]), "created": int(m[3]),
                "deleted": int(m[4]), "seconds": float(m[5]), "shown": False,
                "ms_per_child": float(m[6]) if m[6] else float("nan"), "via": m[7]}
    if m := _SHOWN_RE.search(text):
        return {"sweep": m[1], "kept": None, "created": 0, "deleted": 0,
                "seconds": float(m[2]), "shown": True, "ms_per_child": float("nan"),
                "via": None}
    return None


def track_logs(root: Path, since: float = 0.0) -> list[dict]:
    """Per track job (logs/track/<dataset>/<model>.log, one per sweep; ``since``: only
    logs written after that time): :func:`sync_line` of its log, its ``import mlflow``."""
    out = []
    for f in sorted((Path(root) / "logs" / "track").rglob("*.log")):
        if f.stat().st_mtime < since:
            continue
        text = f.read_text(errors="replace")
        sync = sync_line(text)
        if sync is None:
            continue
        imp = re.search(r"import mlflow: ([\d.]+) s", text)
        out.append({"log": str(f), "import_mlflow": float(imp[1]) if imp else float("nan"),
                    **sync})
    return out


def fit_seconds(root: Path) -> tuple[int, float]:
    """(runs, summed fit time) from every run's timing.json (model.fit only, ms resolution)."""
    n, total = 0, 0.0
    for f in (Path(root) / "results").rglob("timing.json"):
        t = json.loads(f.read_text())
        n += 1
        total += (t["end_time_ms"] - t["start_time_ms"]) / 1000
    return n, total


def mlflow_counts(db: Path) -> dict:
    """Runs, params, metric rows (every step), registered models in an MLflow SQLite store."""
    if not Path(db).exists():
        return {}
    con = sqlite3.connect(db)
    try:
        out = {}
        for table in ("runs", "params", "metrics", "registered_models", "model_versions"):
            try:
                out[table] = con.execute(f"select count(*) from {table}").fetchone()[0]
            except sqlite3.Error:
                out[table] = 0
        return out
    finally:
        con.close()


def mlflow_children(db: Path) -> dict[str, dict[str, str]]:
    """gdlab's child runs in a SQLite store (read with sqlite3): ``"sweep/run"`` -> run id,
    the active and the deleted apart: ``{"active": {...}, "deleted": {...}}``. A child is
    named by its run's directory name (tag ``gdlab.run``; the run name where a store of
    older code has no such tag), not by the short name people read, which a new grid
    value may change."""
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        rows = con.execute(
            "select r.run_uuid, coalesce(rt.value, r.name), r.lifecycle_stage, p.name "
            "from runs r "
            "join tags t on t.run_uuid = r.run_uuid and t.key = 'gdlab.role' "
            "and t.value = 'run' "
            "left join tags rt on rt.run_uuid = r.run_uuid and rt.key = 'gdlab.run' "
            "left join tags pt on pt.run_uuid = r.run_uuid and pt.key = 'mlflow.parentRunId' "
            "left join runs p on p.run_uuid = pt.value").fetchall()
    finally:
        con.close()
    out: dict[str, dict[str, str]] = {"active": {}, "deleted": {}}
    for run_id, name, stage, parent in rows:
        out["active" if stage == "active" else "deleted"][f"{parent}/{name}"] = run_id
    return out
