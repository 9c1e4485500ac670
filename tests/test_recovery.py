"""Stale Snakemake locks are removed only when provably stale: their run was on this host,
is gone, and no Snakemake process works in the directory. Otherwise: ask for --unlock."""

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

from gdlab.recovery import (
    OWNERS,
    check_locks,
    identity,
    live_snakemake_here,
    remove_partial_writes,
    remove_stale_locks,
)


def make_locks(tmp_path):
    locks = tmp_path / ".snakemake" / "locks"
    locks.mkdir(parents=True)
    for name in ("0.input.lock", "0.output.lock"):
        (locks / name).write_text("results/x\n")
    return locks


def dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def write_owner(workdir: Path, **changes) -> Path:
    """A run record as a killed run leaves it: by default this host, a pid now free."""
    owner = {**identity(), "pid": dead_pid(), "start_time": 12345, **changes}
    path = workdir / OWNERS / f"{owner['host']}.{owner['pid']}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(owner))
    return path


def test_a_lock_of_a_killed_run_on_this_host_is_removed(tmp_path):
    locks = make_locks(tmp_path)
    record = write_owner(tmp_path)
    assert live_snakemake_here(tmp_path) is False
    removed = remove_stale_locks(tmp_path)
    assert sorted(p.name for p in removed) == ["0.input.lock", "0.output.lock"]
    assert list(locks.iterdir()) == []
    assert not record.exists()


def killed_mid_write(path: Path) -> Path:
    """The temporary file a process killed inside ``atomic_path`` leaves beside ``path``."""
    code = ("import os, signal, sys; from gdlab.io import atomic_path\n"
            "with atomic_path(sys.argv[1]) as tmp:\n"
            "    tmp.write_bytes(b'half')\n"
            "    os.kill(os.getpid(), signal.SIGKILL)\n")
    proc = subprocess.run([sys.executable, "-c", code, str(path)])
    assert proc.returncode == -signal.SIGKILL
    [tmp] = path.parent.glob(f".{path.name}.*.tmp")
    assert not path.exists()
    return tmp


def test_a_killed_runs_half_written_files_go_when_the_next_run_starts(tmp_path):
    """Parsing (a dry run too) removes the stale lock only; the run that then holds the
    lock removes the temporaries as it starts its jobs, and nothing whole."""
    make_locks(tmp_path)
    write_owner(tmp_path)
    run = tmp_path / "results" / "moons" / "runs" / "lr~0.1"
    whole = run / "metrics.json"
    whole.parent.mkdir(parents=True)
    whole.write_text("{}")
    tmp = killed_mid_write(run / "model.npz")
    check = check_locks(tmp_path)
    assert len(check.removed) == 2 and tmp.exists()
    assert remove_partial_writes(tmp_path) == [tmp]
    assert not tmp.exists() and whole.exists()


def test_half_written_files_stay_while_a_process_works_in_the_project(tmp_path):
    """A live process may be about to rename its temporary file into place."""
    tmp = killed_mid_write(tmp_path / "results" / "summary.csv")
    worker = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)",
                               "snakemake"], cwd=tmp_path)
    try:
        time.sleep(0.2)
        assert remove_partial_writes(tmp_path) == []
        assert tmp.exists()
    finally:
        worker.kill()
        worker.wait()


def test_a_pid_reused_by_another_process_does_not_keep_the_lock(tmp_path):
    make_locks(tmp_path)
    sleeper = subprocess.Popen(["sleep", "30"])  # another cwd: not a run of tmp_path
    try:
        write_owner(tmp_path, pid=sleeper.pid, start_time=1)  # started at another time
        assert len(remove_stale_locks(tmp_path)) == 2
    finally:
        sleeper.kill()
        sleeper.wait()


def test_a_lock_without_a_run_record_is_kept_and_unlock_is_advised(tmp_path):
    locks = make_locks(tmp_path)
    check = check_locks(tmp_path)
    assert check.removed == [] and "no run record" in check.kept
    assert len(list(locks.iterdir())) == 2


def test_a_lock_of_a_run_on_another_host_is_kept(tmp_path):
    """A shared filesystem: this host cannot see the other's processes."""
    locks = make_locks(tmp_path)
    write_owner(tmp_path)
    write_owner(tmp_path, host="node-17.cluster")
    check = check_locks(tmp_path)
    assert check.removed == [] and "node-17.cluster" in check.kept
    assert len(list(locks.iterdir())) == 2


def test_a_lock_of_a_live_run_on_this_host_is_kept(tmp_path):
    locks = make_locks(tmp_path)
    write_owner(tmp_path, pid=1, start_time=identity(1)["start_time"])  # init: alive
    check = check_locks(tmp_path)
    assert check.removed == [] and "pid 1" in check.kept
    assert len(list(locks.iterdir())) == 2


def test_a_run_record_goes_at_exit_and_stays_after_kill_9(tmp_path):
    code = ("import sys, time; from gdlab.recovery import record_owner; "
            "print(record_owner(sys.argv[1]), flush=True); time.sleep(float(sys.argv[2]))")
    done = subprocess.run([sys.executable, "-c", code, str(tmp_path), "0"],
                          capture_output=True, text=True, check=True)
    record = Path(done.stdout.strip())
    assert record.parent == tmp_path / OWNERS and not record.exists()

    killed = subprocess.Popen([sys.executable, "-c", code, str(tmp_path), "30"],
                              stdout=subprocess.PIPE, text=True)
    record = Path(killed.stdout.readline().strip())
    owner = json.loads(record.read_text())
    assert owner["pid"] == killed.pid and owner == identity(killed.pid)
    killed.send_signal(signal.SIGKILL)
    killed.wait()
    assert record.exists()
    make_locks(tmp_path)
    assert len(remove_stale_locks(tmp_path)) == 2  # the record proves the lock stale


def assert_lock_kept_while_running(tmp_path, cmd: list[str]) -> None:
    """While ``cmd`` runs in ``tmp_path``, the locks stay; once it ends, they go."""
    locks = make_locks(tmp_path)
    write_owner(tmp_path)  # the killed run's; ``cmd`` stands for what it left running
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


def test_the_workflow_keeps_another_hosts_lock_and_asks_for_unlock(project):
    locks = make_locks(project.root)
    write_owner(project.root, host="node-17.cluster")
    proc = project.snakemake("-n")
    assert "kept the lock" in proc.stderr and "node-17.cluster" in proc.stderr
    assert "snakemake --unlock" in proc.stderr
    assert len(list(locks.iterdir())) == 2
    # the dry run's own record went when it exited: only the other host's is left
    names = [p.name for p in (project.root / OWNERS).iterdir()]
    assert len(names) == 1 and names[0].startswith("node-17.cluster.")
