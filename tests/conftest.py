"""Shared fixtures: a copy of the project in a temporary directory, run as a user would."""

from __future__ import annotations

import copy
import json
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]

#: the files whose tests run Snakemake most, heaviest first (their tests' summed time)
LONGEST_FILES = ("test_mlflow_record.py", "test_reruns.py", "test_tpe_workflow.py",
                 "test_workflow.py", "test_halving_workflow.py", "test_search_workflow.py")


def pytest_collection_modifyitems(config, items):
    """The longest files first (with --dist loadfile --no-loadscope-reorder each file
    goes whole to the next free worker, in this order): a long file handed out last would
    keep the other worker idle for its whole length."""
    rank = {name: i for i, name in enumerate(LONGEST_FILES)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))  # stable: file order kept


#: a small experiment: one sweep per model, a handful of runs, one diverging point each
TINY_CONFIG = {
    "experiment": "gdlab-test",
    "seed": 7,
    "mlflow": {"tracking_uri": "sqlite:///mlflow.db", "register_models": True},
    "datasets": {
        "line": {"task": "regression", "source": "synthetic", "generator": "linear",
                 "n_samples": 60, "n_features": 1, "noise": 0.3},
        "moons": {"task": "classification", "source": "synthetic", "generator": "moons",
                  "n_samples": 80, "n_features": 2, "noise": 0.2},
    },
    "split": {"test_size": 0.25, "val_size": 0.25, "stratify": True, "standardize": True},
    "models": {
        "linear_regression": {"grid": {"lr": [0.1, 3.0], "l2": [0.0, 0.1], "epochs": [15]}},
        "logistic_regression": {"grid": {"lr": [0.5, 200.0], "l2": [0.0, 0.1],
                                         "epochs": [15]}},
    },
    "selection": {"classification": "log_loss", "regression": "mse"},
    # several shards per sweep, so that every workflow test runs sharded training
    "train": {"shard_size": 3},
}


def reproducible_files(root: Path) -> dict[str, bytes]:
    """Every file a finished project holds under data/ and results/ whose bytes the config
    and the code decide: datasets, runs, shards, summaries, figures. Left out: what differs
    from one run to the next by design, the runs' wall-clock ``timing.json``, the jobs'
    costs (``results/costs.csv``) and MLflow's records (run ids, times, lock files),
    ``mlflow.json`` and any ``mlflow/`` folder."""
    return {path.relative_to(root).as_posix(): path.read_bytes()
            for top in ("data", "results") for path in sorted((root / top).rglob("*"))
            if path.is_file() and path.name not in ("timing.json", "mlflow.json", "costs.csv")
            and "mlflow" not in path.relative_to(root).parts}


def tiny_config() -> dict:
    return copy.deepcopy(TINY_CONFIG)


def wide_config(n: int = 1000) -> dict:
    """One sweep, logistic regression on moons, over ``n`` learning rates of 2 epochs: a
    grid axis longer than MLflow's limits on a tag (in two shards)."""
    config = tiny_config()
    del config["models"]["linear_regression"]
    config["datasets"] = {"moons": config["datasets"]["moons"]}
    lrs = [float(f"{x:.10g}") for x in np.geomspace(1e-3, 10.0, n)]
    config["models"]["logistic_regression"]["grid"] = {"lr": lrs, "epochs": [2]}
    config["train"]["shard_size"] = n // 2
    return config


class Project:
    """A copy of the workflow and library with its own config, results and MLflow store."""

    #: the finished_project fixture's run (its stdout and stderr)
    first_run: subprocess.CompletedProcess | None = None

    def __init__(self, root: Path):
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        for name in ("Snakefile", "environment.yml", "profiles", "workflow", "src"):
            src = REPO / name
            if src.is_dir():
                shutil.copytree(src, root / name, ignore=shutil.ignore_patterns("__pycache__"))
            else:
                shutil.copy2(src, root / name)
        (root / "config").mkdir()
        shutil.copy2(REPO / "config" / "schema.yaml", root / "config" / "schema.yaml")

    @classmethod
    def clone(cls, other: Project, root: Path) -> Project:
        """A copy of ``other`` with everything it has run (files keep their mtimes), as if
        made where it is: its MLflow store's absolute artifact paths (which gdlab refuses to
        follow out of a project: tests/test_mlflow_record.py) point into the copy."""
        shutil.copytree(other.root, root, symlinks=True)
        old, new = str(other.root.resolve()), str(Path(root).resolve())
        db = root / "mlflow.db"
        if db.is_file():
            con = sqlite3.connect(db)
            with con:
                for table, column in (("experiments", "artifact_location"),
                                      ("runs", "artifact_uri"),
                                      ("logged_models", "artifact_location"),
                                      ("model_versions", "storage_location")):
                    con.execute(f"UPDATE {table} SET {column} = replace({column}, ?, ?)",
                                (old, new))
            con.close()
        record = root / "results" / "mlflow" / "experiment.json"
        if record.is_file():  # its mtime kept: to Snakemake the copy is unchanged
            stat = record.stat()
            data = json.loads(record.read_text())
            data["project_dir"] = new
            record.write_text(json.dumps(data))
            os.utime(record, ns=(stat.st_atime_ns, stat.st_mtime_ns))
        proj = cls.__new__(cls)
        proj.root = root
        return proj

    def write_config(self, config: dict) -> None:
        with open(self.root / "config" / "config.yaml", "w", encoding="utf-8") as f:
            yaml.safe_dump(config, f, sort_keys=False)

    def config(self) -> dict:
        with open(self.root / "config" / "config.yaml", encoding="utf-8") as f:
            return yaml.safe_load(f)

    def snakemake(self, *args: str, check: bool = True, env: dict | None = None,
                  timeout: float = 600) -> subprocess.CompletedProcess:
        full_env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
        full_env.update(env or {})
        proc = subprocess.run(
            [sys.executable, "-m", "snakemake", *args], cwd=self.root, env=full_env,
            capture_output=True, text=True, timeout=timeout,
        )
        if check and proc.returncode != 0:
            raise AssertionError(
                f"snakemake {' '.join(args)} exited {proc.returncode}\n"
                f"--- stdout ---\n{proc.stdout[-5000:]}\n--- stderr ---\n{proc.stderr[-5000:]}"
            )
        return proc

    def jobs_to_run(self, *args: str) -> dict[str, int]:
        """Rule name -> job count of a dry run (what the next real run would do)."""
        out = self.snakemake("-n", "--quiet", "rules", *args).stdout
        counts = {}
        for line in out.splitlines():
            parts = line.split()
            if len(parts) == 2 and parts[1].isdigit() and parts[0] not in ("job", "total"):
                counts[parts[0]] = int(parts[1])
        return counts


    def planned_jobs(self, *args: str) -> list[tuple[str, dict[str, str]]]:
        """(rule, wildcards) of every job a dry run plans, e.g. ("train", {"dataset": ...})."""
        out = self.snakemake("-n", *args).stdout
        jobs = []
        for line in out.splitlines():
            line = line.strip()
            if line.startswith(("rule ", "localrule ", "checkpoint ", "localcheckpoint ")) \
                    and line.endswith(":"):
                jobs.append((line.split()[1].rstrip(":"), {}))
            elif line.startswith("wildcards:") and jobs:
                for item in line.removeprefix("wildcards:").split(","):
                    key, _, value = item.strip().partition("=")
                    jobs[-1][1][key] = value
        return jobs


@pytest.fixture
def project(tmp_path) -> Project:
    proj = Project(tmp_path / "project")
    proj.write_config(tiny_config())
    return proj


@pytest.fixture(scope="session")
def finished_project(tmp_path_factory) -> Project:
    """The tiny experiment, run once to the end and shared by read-only tests."""
    proj = Project(tmp_path_factory.mktemp("finished") / "project")
    proj.write_config(tiny_config())
    proj.first_run = proj.snakemake("--cores", "2")  # its output: what a user sees
    return proj


# --------------------------------------------------------------------------------------
# Real services (tests/_services.py): started once per session, stopped by PID
# --------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def postgres():
    """A PostgreSQL cluster on 127.0.0.1; ``postgres.createdb(name)`` gives a database."""
    import _services

    with _services.postgres() as pg:
        yield pg


@pytest.fixture(scope="session")
def slurm():
    """A single-node SLURM cluster; its ``env`` (SLURM_CONF) points clients at it."""
    import _services

    with _services.slurm_cluster() as cluster:
        yield cluster
