"""Recovering from a killed run: Snakemake's stale directory lock.

``kill -9`` (or a power cut) leaves Snakemake's lock files in ``.snakemake/locks``, and
the next run refuses to start until ``snakemake --unlock``. Before the workflow locks the
directory, gdlab removes those files when no Snakemake process (nor any of its jobs) is
working in this directory any more — so the next ``snakemake --cores 4`` simply resumes.
It looks at the processes of this machine only (Linux ``/proc``); where it cannot tell,
it leaves the lock alone and Snakemake asks for ``--unlock`` as usual.
"""

from __future__ import annotations

import os
from pathlib import Path


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


def remove_stale_locks(workdir: str | os.PathLike = ".") -> list[Path]:
    """Delete Snakemake's lock files if nothing that could own them is running; return them."""
    workdir = Path(workdir)
    locks = sorted((workdir / ".snakemake" / "locks").glob("*.lock"))
    if not locks or live_snakemake_here(workdir) is not False:
        return []
    for lock in locks:
        lock.unlink(missing_ok=True)
    return locks
