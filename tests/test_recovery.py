"""Stale Snakemake locks are removed only when no Snakemake process works in the directory."""

import subprocess
import sys
import time
from pathlib import Path

from gdlab.recovery import live_snakemake_here, remove_stale_locks


def make_locks(tmp_path):
    locks = tmp_path / ".snakemake" / "locks"
    locks.mkdir(parents=True)
    for name in ("0.input.lock", "0.output.lock"):
        (locks / name).write_text("results/x\n")
    return locks


def test_a_lock_nobody_holds_is_removed(tmp_path):
    locks = make_locks(tmp_path)
    assert live_snakemake_here(tmp_path) is False
    removed = remove_stale_locks(tmp_path)
    assert sorted(p.name for p in removed) == ["0.input.lock", "0.output.lock"]
    assert list(locks.iterdir()) == []


def assert_lock_kept_while_running(tmp_path, cmd: list[str]) -> None:
    """While ``cmd`` runs in ``tmp_path``, the locks stay; once it ends, they go."""
    locks = make_locks(tmp_path)
    job = subprocess.Popen(cmd, cwd=tmp_path)
    try:
        # until exec, the child's command line is still pytest's
        cmdline, deadline = Path(f"/proc/{job.pid}/cmdline"), time.monotonic() + 10
        while cmd[-1].encode() not in cmdline.read_bytes() and time.monotonic() < deadline:
            time.sleep(0.01)
        assert live_snakemake_here(tmp_path) is True
        assert remove_stale_locks(tmp_path) == []
        assert len(list(locks.iterdir())) == 2
    finally:
        job.kill()
        job.wait()
    assert len(remove_stale_locks(tmp_path)) == 2


def test_a_lock_is_kept_while_a_snakemake_process_works_there(tmp_path):
    # a stand-in for a running Snakemake job: its command line names snakemake
    script = tmp_path / "tmp.snakemake_job.py"
    script.write_text("import time\ntime.sleep(30)\n")
    assert_lock_kept_while_running(tmp_path, [sys.executable, str(script)])


def test_a_lock_is_kept_while_an_orphaned_gdlab_job_works_there(tmp_path):
    # kill -9 of Snakemake alone leaves its shell jobs (python -m gdlab.train) running
    assert_lock_kept_while_running(
        tmp_path, [sys.executable, "-c", "import time; time.sleep(30)", "gdlab.train"])


def test_no_locks_no_work(tmp_path):
    assert remove_stale_locks(tmp_path) == []
