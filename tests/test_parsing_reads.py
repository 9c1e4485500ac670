"""Parsing reads; jobs write. Every Snakemake command that runs no job leaves data/,
results/ and the tracking store byte for byte as they were, whatever needs repairing: a
stale lock and a killed writer's temporary, runs deleted in the UI, a damaged record, a
run folder deleted, a deleted store, a store another process holds locked. The next real
run repairs each case, and the run after it has nothing to do (a repair reruns its job
once, not twice; a deleted store's repair is test_mlflow_record's). A user's own files
under results/ are never touched. The one write parsing makes is Snakemake's own
bookkeeping: a lock proven stale is removed."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import Project
from test_recovery import killed_mid_write, make_locks, write_owner

from gdlab.io import read_json
from gdlab.runfiles import manifest_runs

pytestmark = [pytest.mark.workflow, pytest.mark.mlflow]

ENV = {"MLFLOW_DISABLE_TELEMETRY": "true"}
#: every command that runs no job (--report writes only the report it is asked for)
NO_JOB_COMMANDS = (["-n"], ["--summary"], ["--detailed-summary"], ["--lint"], ["--dag"],
                   ["--rulegraph"], ["--list-changes", "params"],
                   ["--report", "../report.html"])


def snapshot(root: Path) -> dict[str, str]:
    """Path -> sha256 of every file under data/, results/ and the store (mlflow.db and its
    artifacts), and which of them exist."""
    files = [p for top in ("data", "results", "mlruns") for p in (root / top).rglob("*")]
    files += [p for p in root.glob("mlflow.db*")]
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(files) if p.is_file()}


def assert_no_job_command_writes(proj: Project, commands=NO_JOB_COMMANDS) -> dict[str, str]:
    before = snapshot(proj.root)
    outputs = {}
    for args in commands:
        out = proj.snakemake(*args, env=ENV, check=args[0] != "--lint")
        assert snapshot(proj.root) == before, f"snakemake {' '.join(args)} changed the project"
        outputs[args[0]] = out.stdout + out.stderr
    return outputs


def test_no_job_command_writes_and_the_real_run_repairs(finished_project, tmp_path):
    proj = Project.clone(finished_project, tmp_path / "project")
    root, db = proj.root, proj.root / "mlflow.db"
    sweep = root / "results/moons/logistic_regression"
    record = read_json(sweep / "mlflow.json")

    # a run killed with kill -9: its lock, its run record, a temporary of a write
    locks = make_locks(root)
    write_owner(root)
    temporary = killed_mid_write(sweep / "runs" / "lr~9" / "model.npz")
    # a child deleted in the UI (its REST call)
    from mlflow import MlflowClient

    victim = sorted(record["children"])[0]
    MlflowClient(f"sqlite:///{db}").delete_run(record["children"][victim])
    # a damaged record, and a run folder deleted (as a damaged run's error advises)
    best = root / "results/line/linear_regression/best.json"
    best.write_text(best.read_text()[:30])
    manifest = sweep / "shards" / "0.json"
    gone = sorted(manifest_runs([manifest]))[0]
    for f in sorted((sweep / "runs" / gone).iterdir()):
        f.unlink()
    # a run's metrics.json and a sweep's baseline.json cut short (the readers of each
    # would say so, but on a rerun that reads neither it must be noticed at the start)
    line = root / "results/line/linear_regression"
    cut_run = sorted(manifest_runs([line / "shards" / "0.json"]))[0]
    cut = line / "runs" / cut_run / "metrics.json"
    cut.write_text(cut.read_text()[:50])
    baseline = line / "baseline.json"
    baseline.write_text(baseline.read_text()[:50])
    # a user's own notes, one of them not JSON at all: never gdlab's to judge
    notes = {sweep / "my-notes.json": "{not json", root / "results/scratch/x.json": "[]"}
    for path, text in notes.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)

    said = assert_no_job_command_writes(proj)
    assert temporary.exists() and (sweep / "runs" / gone).is_dir()
    # the one write parsing makes: a lock proven stale, Snakemake's own bookkeeping
    assert "removed the lock of a killed Snakemake run" in said["-n"]
    assert not any(locks.iterdir())
    # what must rerun reaches Snakemake as changed params, and the dry run says why
    changed = said["--list-changes"]
    assert "results/line/linear_regression/best.json" in changed
    assert "results/moons/logistic_regression/mlflow.json" in changed
    assert "results/moons/logistic_regression/shards/0.json" in changed
    assert "results/line/linear_regression/shards/0.json" in changed
    assert "results/line/linear_regression/baseline.json" in changed
    assert "best.json is damaged (not valid JSON); the summarize job makes it again" in said["-n"]
    assert "changed (deleted or restored in the UI?)" in said["-n"]

    out = proj.snakemake("--cores", "2", env=ENV)
    assert "removed 1 half-written temporary file(s)" in out.stderr
    assert not temporary.exists()
    assert read_json(best)["run_name"]  # whole again
    assert (sweep / "runs" / gone / "metrics.json").is_file()
    assert read_json(cut)["run_name"] == cut_run and read_json(baseline)
    assert {p: p.read_text() for p in notes} == notes
    children = read_json(sweep / "mlflow.json")["children"]
    assert set(children) == set(record["children"])
    assert children[victim] != record["children"][victim]  # a new child for the deleted one
    assert {k: v for k, v in children.items() if k != victim} == \
        {k: v for k, v in record["children"].items() if k != victim}
    # repaired once: the next run finds nothing to do
    assert proj.jobs_to_run() == {}

    # a store another process holds locked is not taken for lost (nor waited on for long);
    # another process, as a user's: SQLite's locks are a process's, and reading the file
    # here (the snapshot) would release this process's own
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sqlite3, sys, time; con = sqlite3.connect(sys.argv[1]); "
         "con.execute('BEGIN EXCLUSIVE'); print('locked', flush=True); time.sleep(60)",
         str(db)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        said = assert_no_job_command_writes(proj, (["-n"],))
    finally:
        holder.kill()
        holder.wait()
    assert "mlflow.db is locked by another process" in said["-n"]
    assert "Nothing to be done" in said["-n"]

    # the store deleted: planning says so and makes nothing (that the real run makes it
    # again: tests/test_mlflow_record.py's store scenario)
    db.unlink()
    said = assert_no_job_command_writes(proj, (["-n"], ["--summary"]))
    assert not db.exists()
    assert "experiment.json names an experiment the tracking store lacks" in said["-n"]
