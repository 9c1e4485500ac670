"""Recovering from a killed run: Snakemake's stale directory lock.

``kill -9`` (or a power cut) leaves Snakemake's lock files in ``.snakemake/locks``, and
the next run refuses to start until ``snakemake --unlock``. gdlab removes them by itself
only when it can prove them stale, because on a shared filesystem the run that holds them
may live on another machine, where this one cannot see its processes.

Every Snakemake run of the workflow records who it is (:func:`record_owner`: host, boot,
pid and the process's start time) in ``.snakemake/gdlab-owners/`` and deletes the record
when it exits; ``kill -9`` leaves it behind. Lock files are stale when every recorded
owner ran on this host and is gone (dead, or its pid reused, or the machine rebooted), and
no Snakemake process or gdlab job works in the directory here any more (Linux ``/proc``).
The temporary files a killed run's writes left in ``results/``
(:func:`gdlab.io.partial_writes`: a write is renamed into place whole or not at all, so
they were never results) go when the next run starts its jobs
(:func:`remove_partial_writes`, from the workflow's ``onstart``): parsing, which a dry run
does too, removes nothing but a provably stale lock, Snakemake's own bookkeeping. In every
other case (no record, an owner on another host, a live
owner, no ``/proc``) the lock stays and :func:`check_locks` says why, so that the user can
decide to run ``snakemake --unlock``.
"""

from __future__ import annotations

import atexit
import json
import os
import socket
from dataclasses import dataclass, field
from pathlib import Path

from gdlab.io import partial_writes, write_text

OWNERS = Path(".snakemake") / "gdlab-owners"
UNLOCK_ADVICE = ("if no Snakemake process works in this directory on any machine, "
                 "run `snakemake --unlock`")


def _ancestors() -> set[int]:
    pids, pid = set(), os.getpid()
    while pid > 1:
        pids.add(pid)
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            break
        pid = int(stat.rsplit(")", 1)[1].split()[1])  # field 4: the parent's pid
    return pids


def live_snakemake_here(workdir: Path) -> bool | None:
    """Whether another Snakemake process or job works in ``workdir`` (None: cannot tell)."""
    proc = Path("/proc")
    if not (proc / "self" / "cwd").exists():
        return None
    workdir, mine = workdir.resolve(), _ancestors()
    for entry in proc.iterdir():
        if not entry.name.isdigit() or int(entry.name) in mine:
            continue
        try:
            if Path(os.readlink(entry / "cwd")) != workdir:
                continue
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:  # gone, or not ours to read
            continue
        # Snakemake itself, its script jobs (.snakemake/scripts/...), or a gdlab shell job
        # (python -m gdlab.train) that outlived a killed Snakemake
        if b"snakemake" in cmdline or b"gdlab." in cmdline:
            return True
    return False


# --------------------------------------------------------------------------------------
# Who runs here: one record per Snakemake run
# --------------------------------------------------------------------------------------


def _boot_id() -> str | None:
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return None


def _start_time(pid: int) -> int | None:
    """The process's start time (clock ticks since boot): tells a pid's reuse apart."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return int(stat.rsplit(")", 1)[1].split()[19])  # field 22


def identity(pid: int | None = None) -> dict:
    pid = os.getpid() if pid is None else pid
    return {"host": socket.gethostname(), "boot_id": _boot_id(), "pid": pid,
            "start_time": _start_time(pid)}


def record_owner(workdir: str | os.PathLike = ".") -> Path:
    """Record this process as a Snakemake run in ``workdir``; the record goes at exit."""
    me = identity()
    path = Path(workdir) / OWNERS / f"{me['host']}.{me['pid']}.json"
    write_text(path, json.dumps(me))
    atexit.register(lambda: path.unlink(missing_ok=True))
    return path


def owner_is_gone(owner: dict) -> bool:
    """True only if ``owner`` provably no longer runs: same host, and rebooted since, or
    its pid is free, or the pid now belongs to a process started at another time."""
    me = identity()
    if owner.get("host") != me["host"] or me["boot_id"] is None:
        return False
    if owner.get("boot_id") != me["boot_id"]:
        return True
    return _start_time(int(owner["pid"])) != owner.get("start_time")


# --------------------------------------------------------------------------------------
# The check, before the workflow locks the directory
# --------------------------------------------------------------------------------------


@dataclass
class LockCheck:
    removed: list[Path] = field(default_factory=list)
    #: why locks were kept (None: there were none, or they were removed)
    kept: str | None = None


def check_locks(workdir: str | os.PathLike = ".") -> LockCheck:
    """Remove Snakemake's lock files if they are provably stale, else say why not."""
    workdir = Path(workdir)
    locks = sorted((workdir / ".snakemake" / "locks").glob("*.lock"))
    if not locks:
        return LockCheck()
    records = sorted((workdir / OWNERS).glob("*.json"))
    owners = []
    for path in records:
        try:
            owners.append(json.loads(path.read_text()))
        except (OSError, ValueError):
            return LockCheck(kept=f"unreadable run record {path}")
    if not owners:
        return LockCheck(kept="the lock has no run record (left by an older gdlab or "
                              "another tool), so its owner is unknown")
    host = socket.gethostname()
    for owner in owners:
        if owner.get("host") != host:
            return LockCheck(kept=f"it may belong to a run on host {owner.get('host')} "
                                  f"(pid {owner.get('pid')}), which this host cannot see")
        if not owner_is_gone(owner):
            return LockCheck(kept=f"a Snakemake run (pid {owner.get('pid')}) works here")
    live = live_snakemake_here(workdir)
    if live is not False:
        return LockCheck(kept="a Snakemake process or job still works in this directory"
                         if live else "this system has no /proc to check for processes")
    for lock in locks:
        lock.unlink(missing_ok=True)
    for path in records:  # their runs are gone
        path.unlink(missing_ok=True)
    return LockCheck(removed=locks)


def remove_partial_writes(workdir: str | os.PathLike = ".") -> list[Path]:
    """Delete the temporaries that killed writers left in ``results/``, if nothing else
    works in ``workdir`` (asked by a run that holds the workflow's lock, as it starts its
    jobs: no live writer can still rename one into place). Returns the ones deleted."""
    workdir = Path(workdir)
    leftovers = partial_writes(workdir / "results")
    if not leftovers or live_snakemake_here(workdir) is not False:
        return []
    for path in leftovers:
        path.unlink(missing_ok=True)
    return leftovers


def remove_stale_locks(workdir: str | os.PathLike = ".") -> list[Path]:
    """Delete Snakemake's lock files if provably stale; return the ones deleted."""
    return check_locks(workdir).removed
