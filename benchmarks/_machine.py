"""Shared by the benchmark scripts: machine details, load checks, tables, dated records.

One home for the code every script needs, so that each run's record
(``results/<YYYY-MM-DD>_<HHMM>_<script>.md``) carries the same machine description. Import
it as ``from _machine import ...`` (the scripts run as ``python benchmarks/<name>.py``,
which puts this folder on ``sys.path``).
"""

from __future__ import annotations

import datetime as _dt
import os
import platform
import statistics
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
#: where each run writes its dated record (RESULTS.md is written by hand)
RESULTS = HERE / "results"


def machine_info() -> dict:
    """Python, NumPy, scikit-learn, CPU, cores, BLAS build and thread pools, BLAS env."""
    import numpy as np

    info = {"python": platform.python_version(), "numpy": np.__version__,
            "platform": platform.platform()}
    try:
        import sklearn
        info["sklearn"] = sklearn.__version__
    except ImportError:
        pass
    cpu = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith(("model name", "hardware", "cpu model")):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    info["cpu"] = cpu
    info["cores"] = f"{os.cpu_count()} logical"
    if hasattr(os, "sched_getaffinity"):
        info["cores"] += f", {len(os.sched_getaffinity(0))} usable"
    try:
        cfg = np.show_config(mode="dicts")
        blas = cfg["Build Dependencies"]["blas"]
        info["numpy BLAS (build)"] = f"{blas.get('name')} {blas.get('version')}"
    except Exception:  # noqa: BLE001 - best effort
        pass
    try:
        from threadpoolctl import threadpool_info
        pools = [f"{p.get('internal_api')} {p.get('version')} arch={p.get('architecture')} "
                 f"threads={p.get('num_threads')} ({p.get('user_api')}, "
                 f"{Path(p.get('filepath', '')).name})" for p in threadpool_info()]
        info["threadpools (threadpoolctl)"] = "; ".join(pools) or "none"
    except ImportError:
        info["threadpools (threadpoolctl)"] = "threadpoolctl not installed"
    keys = ("OPENBLAS_CORETYPE", "OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS",
            "MKL_NUM_THREADS", "OPENBLAS_VERBOSE")
    env = {k: os.environ[k] for k in sorted(os.environ)
           if k in keys or "BLAS" in k or k.startswith(("OMP_", "MKL_", "GOTO"))}
    info["OPENBLAS_CORETYPE"] = os.environ.get("OPENBLAS_CORETYPE", "(not set)")
    info["BLAS/OpenMP env"] = ", ".join(f"{k}={v}" for k, v in env.items()) or "(none)"
    return info


def workflow_info() -> dict:
    """Versions of the pipeline's tools (Snakemake, MLflow), without importing MLflow."""
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for pkg in ("snakemake", "mlflow", "jsonschema"):
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:
            out[pkg] = "not installed"
    return out


def load_average() -> str | None:
    if not hasattr(os, "getloadavg"):
        return None
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


class Machine:
    """Machine details, with the load average at start and (``finish()``) at end."""

    def __init__(self, extra: dict | None = None):
        self.info = {**machine_info(), **workflow_info(), **(extra or {})}
        self.load0 = os.getloadavg() if hasattr(os, "getloadavg") else None
        if self.load0:
            self.info["load average at start (1/5/15 min)"] = load_average()

    def print(self) -> None:
        print("== machine ==")
        for k, v in self.info.items():
            print(f"  {k}: {v}")

    def finish(self) -> None:
        if not self.load0:
            return
        load1 = os.getloadavg()
        self.info["load average at end (1/5/15 min)"] = load_average()
        if max(self.load0[0], load1[0]) > 0.75 * (os.cpu_count() or 1):
            print(f"\nWARNING: the machine was busy (1-min load {self.load0[0]:.2f} -> "
                  f"{load1[0]:.2f} on {os.cpu_count()} cores). Ratios are side by side, "
                  "absolute times are not trustworthy.")
            self.info["warning"] = "machine busy during the run (see load averages)"


# -- numbers ----------------------------------------------------------------------------
def median(xs) -> float:
    return float(statistics.median(xs))


def t_str(t: float) -> str:
    if t != t:  # NaN
        return "n/a"
    return f"{1e3 * t:.1f} ms" if t < 1 else f"{t:.2f} s"


def size_str(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GB"


def timed(fn, *args, **kw):
    t0 = time.perf_counter()
    out = fn(*args, **kw)
    return time.perf_counter() - t0, out


# -- output -----------------------------------------------------------------------------
def print_table(rows: list[tuple], heads: dict[str, str] | None = None) -> None:
    """Rows ``(section, quantity, value, note)``, grouped by section."""
    if not rows:
        return
    w1 = max(len(r[1]) for r in rows)
    w2 = max(len(r[2]) for r in rows)
    last = None
    for sec, q, v, note in rows:
        if sec != last:
            print(f"-- {(heads or {}).get(sec, sec)}")
            last = sec
        print(f"  {q:<{w1}}  {v:>{w2}}  {note}")


def add_run_args(ap) -> None:
    """The options of every script that runs copies of the workflow: where they go, whether
    they stay, and where (or whether) the run's record is written."""
    ap.add_argument("--workdir", type=Path, help="where the copies go (default: a temp dir)")
    ap.add_argument("--keep", action="store_true", help="keep the copies")
    add_save_args(ap)


def clean_up(work: Path, keep: bool) -> None:
    """Remove a script's working directory (its copies), or say where it is (``--keep``)."""
    if keep:
        print(f"kept {work}")
    else:
        import shutil

        shutil.rmtree(work, ignore_errors=True)


def add_save_args(ap) -> None:
    """``--results DIR`` and ``--no-save``: where the run's dated record goes, or none."""
    ap.add_argument("--results", type=Path, default=RESULTS,
                    help="directory of the dated records (default benchmarks/results)")
    ap.add_argument("--no-save", action="store_true", help="write no record")


def record_path(script: str, when: _dt.datetime, results: Path = RESULTS) -> Path:
    """``results/<YYYY-MM-DD>_<HHMM>_<script>.md`` (UTC), with ``-2``, ``-3``... when a
    run of the same script already wrote that minute's."""
    stem = f"{when:%Y-%m-%d_%H%M}_{Path(script).stem}"
    path, n = Path(results) / f"{stem}.md", 2
    while path.exists():
        path, n = Path(results) / f"{stem}-{n}.md", n + 1
    return path


def save_results(script: str, rows: list[tuple], machine: Machine, *, argv=None,
                 quick: bool = False, preamble: str = "", results: Path = RESULTS) -> Path:
    """Write this run's dated record (command, machine, table) to its own file in
    ``results`` (:func:`record_path`); returns its path."""
    now = _dt.datetime.now(_dt.UTC)
    args = sys.argv[1:] if argv is None else argv
    out = [f"## {script}, {now:%Y-%m-%d %H:%M} UTC{' (--quick)' if quick else ''}\n",
           f"Command: `python benchmarks/{script} {' '.join(args)}`".rstrip() + "\n"]
    if preamble:
        out.append(preamble.rstrip() + "\n")
    out += [f"- {k}: {v}" for k, v in machine.info.items()]
    out.append("")
    out.append("| section | quantity | median | note |")
    out.append("|---|---|---|---|")
    for sec, q, v, note in rows:
        out.append(f"| {sec} | {q} | {v} | {note} |")
    Path(results).mkdir(parents=True, exist_ok=True)
    while True:  # "x": a run of the same script finishing the same minute takes the next
        path = record_path(script, now, results)
        try:
            with open(path, "x", encoding="utf-8") as f:
                f.write("\n".join(out) + "\n")
            break
        except FileExistsError:
            continue
    print(f"\nwrote {path}")
    return path


def report(script: str, rows: list[tuple], machine: Machine, args, *, argv=None,
           preamble: str = "") -> Path | None:
    """The end of a script's run: the load at its end noted, the table printed, and its
    dated record written unless ``--no-save`` (``args``: the parsed ``add_save_args``)."""
    machine.finish()
    print()
    print_table(rows)
    if args.no_save:
        return None
    return save_results(script, rows, machine, argv=argv, preamble=preamble,
                        quick=getattr(args, "quick", False), results=args.results)
