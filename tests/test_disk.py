"""A full disk and a read-only store folder, for real (a tmpfs mounted by the test): the run
fails saying why, and nothing is left half-written (the next run, with room, finishes and
its MLflow record is sound)."""

from __future__ import annotations

import os
import shutil
import subprocess

import _services
import pytest
from conftest import Project, tiny_config
from test_mlflow_record import assert_sound

from gdlab import console

pytestmark = [pytest.mark.service, pytest.mark.workflow, pytest.mark.mlflow]

ENV = {"MLFLOW_DISABLE_TELEMETRY": "true"}


def _fill(disk, leave: int):
    """Take all of ``disk``'s free room but ``leave`` bytes (a file named filler)."""
    filler = disk / "filler"
    filler.unlink(missing_ok=True)
    free = shutil.disk_usage(disk).free
    with open(filler, "wb") as f:
        os.posix_fallocate(f.fileno(), 0, max(free - leave, 1))
    return filler


def test_a_full_disk_fails_the_run_saying_so_and_the_next_run_repairs(tmp_path):
    with _services.tmpfs(tmp_path / "disk", 12 * 1024) as disk:
        proj = Project(disk / "project")
        proj.write_config(tiny_config())
        # Snakemake's own records (.snakemake) on another disk: where the project's files go
        # is what fills up, the same way on every machine
        (tmp_path / "snakemake_records").mkdir()
        (proj.root / ".snakemake").symlink_to(tmp_path / "snakemake_records")

        # no room at all: the first job can write neither its output nor its log
        filler = _fill(disk, 0)
        out = proj.snakemake("--cores", "2", check=False, env=ENV)
        assert out.returncode != 0
        # a job whose log could not take its error says so where the user reads
        assert "cannot be written (No space left on device)" in out.stderr

        # room for a few files, not for a whole run: it stops part way, saying why
        filler = _fill(disk, 400 * 1024)
        out = proj.snakemake("--cores", "2", check=False, env=ENV)
        assert out.returncode != 0
        assert "No space left on device" in out.stderr + out.stdout + "".join(
            log.read_text() for log in (proj.root / "logs").rglob("*.log"))

        # the end-of-run pointer says why a failed job's log is empty
        empty = disk / "logs" / "train" / "empty.log"
        empty.parent.mkdir(parents=True, exist_ok=True)
        empty.write_text("")
        record = tmp_path / "run.snakemake.log"
        record.write_text(f"Error in rule train:\n    log: {empty} (check log file(s) for "
                          "error details)\n")
        assert f"(empty: the disk holding {empty.parent} is full" in \
            console.error_message([record])

        # with room again, the next run finishes what was left and the record is sound
        filler.unlink()
        proj.snakemake("--cores", "2", env=ENV)  # --rerun-incomplete: the default profile
        assert proj.planned_jobs() == []
        assert_sound(proj)


def test_a_read_only_store_folder_is_named_in_the_error(tmp_path):
    proj = Project(tmp_path / "project")
    proj.write_config(tiny_config())
    with _services.tmpfs(tmp_path / "ro", 1024, read_only=True) as ro:
        uri = f"sqlite:///{ro / 'mlflow.db'}"
        out = proj.snakemake("--cores", "2", "--keep-going", check=False,
                             env={**ENV, "MLFLOW_TRACKING_URI": uri})
    assert out.returncode != 0
    log = (proj.root / "logs" / "mlflow_setup.log").read_text()
    assert f"cannot write the tracking store {ro / 'mlflow.db'}" in log
    assert "is read-only" in log
    assert "mlflow_setup: logs/mlflow_setup.log" in out.stdout + out.stderr  # the pointer
    # the results not depending on the store are there (--keep-going)
    assert (proj.root / "results" / "summary.csv").is_file()


def test_the_disk_tests_unmount_what_they_mount(tmp_path):
    with _services.tmpfs(tmp_path / "m", 64) as m:
        mounts = subprocess.run(["findmnt", "-n", str(m)], capture_output=True, text=True)
        assert mounts.stdout.strip()
    mounts = subprocess.run(["findmnt", "-n", str(tmp_path / "m")], capture_output=True,
                            text=True)
    assert mounts.stdout.strip() == ""
