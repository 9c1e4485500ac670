"""The pipeline on a real single-node SLURM cluster, through profiles/slurm.

The ``slurm`` fixture (conftest, tests/_services.py) starts munged, slurmctld and slurmd
for the session and stops them by PID. Every run is bounded with ``timeout -k``: under
this executor Snakemake may ignore SIGTERM while it waits for jobs.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO, Project, reproducible_files, tiny_config
from test_mlflow_record import assert_sound

pytestmark = pytest.mark.workflow

ENV = {"MLFLOW_DISABLE_TELEMETRY": "true"}
#: a run that takes longer than this is a hang
TIMEOUT = 600


def slurm_config() -> dict:
    """Two sweeps of two grid points, about one grid point per shard: each shard is one
    train job on the cluster."""
    config = tiny_config()
    config["models"]["linear_regression"]["grid"] = {"lr": [0.1, 3.0], "l2": [0.1],
                                                     "epochs": [15]}
    config["models"]["logistic_regression"]["grid"] = {"lr": [0.5, 200.0], "l2": [0.0],
                                                       "epochs": [15]}
    config["train"]["shard_size"] = 1
    return config


def run_on_slurm(proj: Project, slurm, *args: str) -> subprocess.CompletedProcess:
    cmd = ["timeout", "-k", "10", str(TIMEOUT), sys.executable, "-m", "snakemake",
           "--profile", "profiles/slurm",
           # the plugin waits 40 s before its first status query; the tiny jobs take ~5 s
           "--slurm-init-seconds-before-status-checks", "2", *args]
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    proc = subprocess.run(cmd, cwd=proj.root, env={**env, **ENV, **slurm.env},
                          capture_output=True, text=True)
    assert proc.returncode not in (124, 137), f"snakemake hung:\n{proc.stderr[-5000:]}"
    return proc


def test_localrules_name_every_rule_but_train(project):
    """Only training (the search methods' cluster_rules: train, train_rung of halving,
    train_round of TPE) runs as cluster jobs: a new rule must be listed (or be a job) on
    purpose, in the Snakefile or its method's rules file."""
    from gdlab.methods import cluster_rules

    local = set()
    for path in [REPO / "Snakefile", *sorted((REPO / "workflow" / "rules").glob("*.smk"))]:
        for block in re.findall(r"^localrules:\n((?:    \w+,?\n)+)", path.read_text(), re.M):
            local |= set(re.findall(r"\w+", block))
    assert local, "no localrules: directive in the Snakefile"
    rules = set(project.snakemake("--list-rules").stdout.split())
    assert rules - local == cluster_rules() and "train" in cluster_rules()
    assert local <= rules


@pytest.mark.service
def test_the_experiment_on_slurm_matches_a_local_run(slurm, tmp_path):
    local = Project(tmp_path / "local")
    local.write_config(slurm_config())
    local.snakemake("--cores", "2", env=ENV)

    proj = Project(tmp_path / "slurm")
    proj.write_config(slurm_config())
    proc = run_on_slurm(proj, slurm)
    assert proc.returncode == 0, proc.stderr[-5000:]

    # every dataset, run, shard, summary and figure, byte for byte
    expected = reproducible_files(local.root)
    kinds = {Path(name).name for name in expected}
    assert {"split.npz", "model.npz", "history.csv", "metrics.json", "summary.csv",
            "configs.csv", "best.json", "baseline.json", "heatmap.png"} <= kinds
    assert sum(name.endswith("/model.npz") for name in expected) == 4
    actual = reproducible_files(proj.root)
    assert actual.keys() == expected.keys()
    differ = [name for name, data in actual.items() if data != expected[name]]
    assert not differ, differ
    # every shard's train job went through SLURM (one kept log each), nothing else did
    logs = list((proj.root / ".snakemake" / "slurm_logs").rglob("*.log"))
    shards = list(proj.root.glob("results/*/*/shards/*.json"))
    assert len(shards) >= 2 and len(logs) == len(shards)
    assert all("rule_train" in p.parts for p in logs)
    # and MLflow (the local SQLite store: tracking runs on the submitting node) is exact
    assert_sound(proj)


@pytest.mark.service
def test_a_failing_cluster_job_fails_the_run_without_hanging(slurm, tmp_path):
    config = slurm_config()
    del config["models"]["logistic_regression"]  # one sweep: line
    config["datasets"].pop("moons")
    proj = Project(tmp_path / "project")
    proj.write_config(config)
    proj.snakemake("--cores", "1", "data/line/split.npz", env=ENV)  # a local rule anyway
    # the split goes bad on the shared filesystem: every train job on it fails on its node
    split = proj.root / "data/line/split.npz"
    split.write_bytes(b"not an npz file")

    proc = run_on_slurm(proj, slurm)
    assert proc.returncode != 0
    assert "Error in rule train" in proc.stderr
    assert re.search(r"SLURM job id|slurm_logs", proc.stderr), proc.stderr[-3000:]
    assert not list((proj.root / "results").rglob("metrics.json"))
