#!/usr/bin/env python
"""A scripted fault run (issue 22): kill -9, the store's accidents, two projects on one store,
damaged files; each followed by a plain rerun, then the store counted.

Run from the repository root::

    .venv/bin/python benchmarks/fault_probe.py               # every scenario, ~7 min
    .venv/bin/python benchmarks/fault_probe.py --quick       # one moment per phase, ~3 min
    .venv/bin/python benchmarks/fault_probe.py --only kill   # scenarios whose name has "kill"
    .venv/bin/python benchmarks/fault_probe.py --list        # the scenarios

Every scenario runs in its own copy of the project (tests/conftest.py's, with the tiny
experiment of its ``TINY_CONFIG``: two sweeps of four runs, shards of three): from nothing
(the kill scenarios, two projects), or a copy of one finished project (``Project.clone``:
the store scenarios, damaged files). What a user would do next follows every fault: a
plain ``snakemake --cores 2`` (the default profile passes ``--rerun-incomplete``); when
that run fails naming a damaged run and saying to delete it, the probe does so and runs
once more. Then, read with sqlite3 from the store file itself:

- **lost**: a run of ``results/`` (its shard manifests) without a complete child (tag
  ``gdlab.complete``, not RUNNING) under an active parent of its sweep; a sweep without a
  complete parent (its own run: cut off, or gone);
- **duplicated**: a run with more than one active child, a sweep with more than one active
  parent;
- **stale**: active children of runs ``results/`` does not have, active runs of a project
  that is not there (every active run the UI shows must be one of ``results/``);
- **running**: active runs of the project left ``RUNNING``;
- **pending**: the project's logged models that are not ``READY``;
- **foreign**: runs, logged models and registered versions of the other project that
  changed across the scenario (status, lifecycle, name, tags, params, metrics; a
  version's run, status, stage, description), or appeared (two projects on one store);
- **integrity**: 1 unless ``PRAGMA integrity_check`` says ``ok``;
- **debris**: half-written temporaries (``gdlab.io.partial_writes``) left in ``results/``;
- **ui**: with ``mlflow ui`` open, the active runs the UI's REST API returns
  (``/api/2.0/mlflow/runs/search``) that differ from the store's, and failed UI reads;
- **failed**: reruns that exited non-zero (after doing what a failure said to do).

The goal is zero of each; the exit status is 1 if any count is not (usable as a check).
Every process the probe starts (snakemake, mlflow ui, crashed writers) is stopped by PID,
its process group with it, also on failure.

The scenarios are data (``SCENARIOS``): steps, each an action of ``_faults.ACTIONS`` with
its arguments, then checks of ``_faults.CHECKS``, then the counts; the runner
(``_probe_run``) and the store's reading (``_probe_store``) are the harness's.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import _workflow as W  # noqa: E402

sys.path.insert(0, str(W.REPO / "tests"))  # _services.mlflow_ui
sys.path.insert(0, str(W.REPO / "src"))  # gdlab.runfiles.manifest_runs, gdlab.io
from _faults import ACTIONS, CHECKS  # noqa: E402
from _machine import Machine, add_run_args, clean_up, save_results  # noqa: E402
from _probe_run import Ctx, Processes  # noqa: E402
from _probe_store import COUNTS  # noqa: E402


@dataclass(frozen=True)
class Scenario:
    """A fault and what follows it: ``steps``, each an action's name or (name, arguments);
    then ``checks`` by name; then the counts (one row, unless ``count_both`` steps made the
    rows)."""
    name: str
    group: str
    quick: bool
    steps: tuple
    checks: tuple = ()


RERUN = "run"  # a plain ``snakemake --cores 2``, as a user reruns
TRACK = ("--forcerun", "track")


def killed(at: str, **args) -> tuple:
    """From nothing, killed -9 at a moment (_faults.MOMENTS), rerun."""
    return "new", ("kill", {"at": at, **args}), RERUN


def two_projects(kill_b: bool) -> tuple:
    """Two projects (fresh copies, B with seed 8) on one SQLite store: A, then B, then A
    again with ``--forcerun track``; with ``kill_b``, then B with a learning rate added,
    killed as soon as the store shows B's parent re-opened, and a plain rerun of B. Each
    row: both projects counted, and the runs of the project that did not run compared."""
    start = ("shared_store", ("new", {"project": "a"}), ("new", {"project": "b", "seed": 8}),
             ("run", {"project": "a", "label": "A"}), ("compare", {"project": "a"}),
             ("run", {"project": "b", "label": "B"}), "note_projects")
    again = ("run", {"project": "a", "args": TRACK, "label": "A --forcerun track"})
    if not kill_b:
        return (*start, ("count_both", {"name": "two projects: B after A (A's runs compared)"}),
                ("compare", {"project": "b"}), again,
                ("count_both", {"name": "two projects: A again (B's runs compared)"}))
    return (*start, again, ("compare", {"project": "a"}),
            ("configure", {"project": "b", "seed": 8,
                           "grid": {"logistic_regression": {"lr": [0.5, 200.0, 2.0]}}}),
            ("kill", {"project": "b", "at": "in_store", "sql": "parent open", "own": True}),
            ("run", {"project": "b", "label": "rerun B"}),
            ("count_both", {"name": "two projects: B killed in its re-sync, rerun "
                                    "(A's runs compared)"}))


def damaged(file: str, **cut) -> tuple:
    """A finished project with one file cut short, then a plain rerun."""
    return "finished", ("cut", {"file": file, **cut}), RERUN


UI_RM = ("ui_open", ("rm_store", {"files": "all"}), RERUN)
SCENARIOS = [
    Scenario("clean run from nothing", "clean", True, ("base",)),
    Scenario("kill train (first run written)", "kill -9", False, killed("trained", n=1)),
    Scenario("kill train (3 of 8 runs written)", "kill -9", True, killed("trained", n=3)),
    Scenario("kill mlflow_setup (making the store)", "kill -9", False,
             killed("after", seen="setup", delay=0.3)),
    *(Scenario(f"kill track {d:.1f} s after it started", "kill -9", d == 1.0,
               killed("after", seen="track", delay=d)) for d in (1.0, 1.5, 2.0, 2.5, 3.0)),
    Scenario("kill parent open (RUNNING)", "kill -9", True,
             killed("in_store", sql="parent open")),
    Scenario("kill children written", "kill -9", True, killed("in_store", sql="children")),
    Scenario("kill best model (PENDING)", "kill -9", True,
             killed("in_store", sql="model pending")),
    Scenario("kill best model registered, parent open", "kill -9", False,
             killed("in_store", sql="registered")),
    # a finished project whose linear_regression epochs change: every child of that sweep
    # replaced, the superseded ones soft-deleted; killed during that run
    Scenario("kill re-sync deleting superseded children", "kill -9", False,
             ("finished", ("configure", {"grid": {"linear_regression": {"epochs": [16]}}}),
              ("kill", {"at": "in_store", "sql": "superseded"}), RERUN)),
    Scenario("rm mlflow.db* (UI closed)", "store", False,
             ("finished", ("rm_store", {"files": "all"}), RERUN), ("left",)),
    Scenario("rm mlflow.db, -wal/-shm of a killed writer left (UI closed)", "store", True,
             ("finished", ("crashed_writer", {"wal": True}), ("rm_store", {"files": "db"}),
              RERUN), ("left",)),
    Scenario("rm mlflow.db, hot -journal of a killed writer left (UI closed)", "store", False,
             ("finished", ("crashed_writer", {"wal": False}), ("rm_store", {"files": "db"}),
              RERUN), ("left",)),
    # the open UI still reads the deleted file (gdlab's log says to restart it); counted is
    # the restarted UI, and the open one only if nothing said to restart it
    Scenario("rm mlflow.db* with mlflow ui open", "store", True, ("finished", *UI_RM),
             ("ui_restarted",)),
    # a WAL store (as an earlier gdlab left it): the open UI keeps -wal and -shm
    Scenario("rm mlflow.db (WAL store, -wal/-shm left) with mlflow ui open", "store", False,
             ("finished", "wal_mode", "ui_open", ("rm_store", {"files": "db"}), RERUN),
             ("ui_restarted",)),
    Scenario("delete and rename runs in the UI", "store", True,
             ("finished", "ui_open", "ui_edits", RERUN), ("renamed_kept", "ui_matches")),
    Scenario("mlflow gc after deletions", "store", True, ("finished", "gc", RERUN)),
    Scenario("two runs one after the other while the UI reads", "store", False,
             ("finished", "ui_open", "ui_reader",
              ("run", {"args": TRACK, "label": "run 1"}),
              ("run", {"args": TRACK, "label": "run 2"})), ("ui_reads", "ui_matches")),
    Scenario("two projects on one store", "two projects", True, two_projects(False)),
    Scenario("two projects, B killed in its re-sync", "two projects", False,
             two_projects(True)),
    Scenario("truncated shard manifest", "damaged", True, damaged("manifest", keep=40),
             ("json_whole",)),
    Scenario("truncated track record (mlflow.json)", "damaged", False,
             damaged("record", keep=-1), ("json_whole",)),
    # a copy from nothing: its project id is made from its directory
    Scenario("truncated project.json and experiment.json", "damaged", False,
             ("new", ("run", {"label": "first run"}), ("cut", {"file": "project", "keep": 10}),
              ("cut", {"file": "experiment", "keep": 10}), RERUN), ("records_kept",)),
    # a child that must be written again from the files
    Scenario("truncated history.csv, its child deleted in the UI", "damaged", True,
             (*damaged("history", lines=5), "run_is_whole", "delete_child", RERUN),
             ("run_is_whole",)),
    # every child written again
    Scenario("truncated model.npz of the best run, rm mlflow.db*", "damaged", False,
             (*damaged("model", keep=100), "run_is_whole", ("rm_store", {"files": "all"}),
              RERUN), ("run_is_whole",)),
]


def play(s: Scenario, ctx: Ctx) -> list[dict]:
    """A scenario's steps and checks, then its row (unless its steps made rows)."""
    with ctx.stack:  # the open UI closes at the end
        for step in s.steps:
            name, args = (step, {}) if isinstance(step, str) else step
            ACTIONS[name](ctx, **args)
        for check in s.checks:
            CHECKS[check](ctx)
        return ctx.rows or [ctx.result()]


# --------------------------------------------------------------------------------------
# The table
# --------------------------------------------------------------------------------------

HEADS = ("lost", "dup", "stale", "RUNNING", "PENDING", "foreign", "integrity", "debris", "ui",
         "failed", "s")


def cells(row: dict) -> list[str]:
    c = row["counts"]
    out = ["-" if c.get(k) is None else str(c[k]) for k in COUNTS]
    out[COUNTS.index("integrity")] = "ok" if c["integrity"] == 0 else "BAD"
    return [*out, f"{row['seconds']:.0f}"]


def faults(row: dict) -> int:
    return sum(v for v in row["counts"].values() if v)


def print_rows(rows: list[dict]) -> None:
    w = max(len(r["name"]) for r in rows)
    print(f"\n{'scenario':<{w}}  " + "  ".join(f"{h:>9}" for h in HEADS))
    for r in rows:
        print(f"{r['name']:<{w}}  " + "  ".join(f"{c:>9}" for c in cells(r)))
    print("\nwhat happened (the kill moment: where the run was; each rerun: what gdlab said, "
          "the jobs it ran):")
    for r in rows:
        print(f"- {r['name']}: " + " | ".join(r["notes"]))
        for d in r["details"]:
            print(f"    FAULT {d}")


def markdown(rows: list[dict]) -> str:
    out = ["| scenario | " + " | ".join(HEADS) + " |", "|---" * (len(HEADS) + 1) + "|"]
    out += [f"| {r['name']} | " + " | ".join(cells(r)) + " |" for r in rows]
    return "\n".join(out)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true",
                    help="one kill moment per phase and a few store and damage scenarios")
    ap.add_argument("--only", nargs="+", metavar="TEXT",
                    help="only the scenarios whose name contains one of these")
    ap.add_argument("--list", action="store_true", help="list the scenarios and exit")
    add_run_args(ap)
    args = ap.parse_args()
    for s in SCENARIOS:  # a misspelt step fails here, not minutes into the run
        names = [step if isinstance(step, str) else step[0] for step in s.steps]
        if bad := [n for n in names if n not in ACTIONS] + \
                [c for c in s.checks if c not in CHECKS]:
            raise SystemExit(f"fault_probe.py: scenario {s.name!r} names no action or check "
                             f"{', '.join(bad)}")
    chosen = [s for s in SCENARIOS if (s.quick or not args.quick) and
              (not args.only or any(t.lower() in s.name.lower() for t in args.only))]
    if args.list or not chosen:
        for s in SCENARIOS:
            print(f"{'quick' if s.quick else '     '}  {s.group:<13} {s.name}")
        return 0 if args.list else 2
    machine = Machine({"scenarios": len(chosen)})
    machine.print()
    if args.workdir:
        args.workdir.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="gdlab-fault-probe-", dir=args.workdir))
    print(f"copies under {work}", flush=True)
    procs = Processes()
    base: list[Path] = []

    def finished_base() -> Path:
        if not base:
            ctx = Ctx(work / "base", procs, finished_base)
            ctx.dir.mkdir()
            ACTIONS["new"](ctx)
            if ctx.run(ctx.root, label="first run") != 0:
                raise RuntimeError(f"the clean run failed: {ctx.notes}")
            base.append(ctx.root)
        return base[0]

    rows = []
    try:
        for i, s in enumerate(chosen, 1):
            ctx = Ctx(work / f"{i:02d}-{re.sub(r'[^a-z0-9]+', '-', s.name.lower())[:40]}",
                      procs, finished_base)
            ctx.dir.mkdir()
            t0 = time.perf_counter()
            print(f"[{i}/{len(chosen)}] {s.name} ...", flush=True)
            try:
                got = play(s, ctx)
            except Exception as err:  # noqa: BLE001 - a scenario that breaks is a finding
                got = [{"name": "", "counts": {k: None for k in COUNTS} | {"failed": 1},
                        "details": [f"the scenario broke: {err!r}"[:500]],
                        "notes": list(ctx.notes)}]
            finally:
                procs.stop_all()
            for r in got:
                r["name"] = r["name"] or s.name
                r["group"] = s.group
                r.setdefault("seconds", time.perf_counter() - t0)
                print(f"    {r['name']}: {faults(r)} fault(s), {r['seconds']:.0f} s, load "
                      f"{os.getloadavg()[0]:.2f}", flush=True)
                for d in r["details"]:
                    print(f"      {d}", flush=True)
            rows += got
            if not args.keep:
                shutil.rmtree(ctx.dir, ignore_errors=True)
    finally:
        procs.stop_all()
        clean_up(work, args.keep)
    machine.finish()
    print_rows(rows)
    bad = [r for r in rows if faults(r)]
    print(f"\n{len(rows)} scenarios, {len(bad)} with faults"
          + (f": {', '.join(r['name'] for r in bad)}" if bad else " (the goal: zero of each)"))
    if not args.no_save:
        save_results(
            "fault_probe.py",
            [(r["group"], r["name"], f"{faults(r)} faults",
              " · ".join([*r["notes"], *(f"FAULT {d}" for d in r["details"])])
              .replace("|", "/")) for r in rows],
            machine, quick=args.quick, results=args.results,
            preamble="Faults and a plain rerun each (issue 22), counted from the store "
                     "(see README.md): every column should be 0.\n\n" + markdown(rows)
                     + "\n\nAfter the machine, per scenario: what happened (the column "
                       "'median' holds the faults found).")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
