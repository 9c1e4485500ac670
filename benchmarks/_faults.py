"""The fault probe's actions, kill moments and checks, by name (fault_probe.py's scenarios
name them, with their arguments).

An action is ``action(ctx, **args)``: it makes a project, runs it, breaks something, or
reads the UI, and notes what happened. A moment (``kill``'s ``at``) is
``moment(ctx, root, **args)``, returning the test the kill waits for. A check runs after a
scenario's steps and notes, or counts under ``ctx.ui``, what it finds; the counts of the
store (``Ctx.result``) come last.
"""

from __future__ import annotations

import copy
import json
import sqlite3
import subprocess
import threading
import time
from pathlib import Path

import _workflow as W
from _probe_run import MOMENTS, PYTHON, Ctx, project_env
from _probe_store import (
    best_run,
    child_id,
    count,
    project_id,
    read_store,
    run_names,
    run_whole,
    snapshot,
    touched,
    ui_differs,
    ui_runs,
    ui_write,
)

#: tests/conftest.py's TINY_CONFIG, copied (so that an edit of the tests' config does not
#: change what the probe measures): two sweeps, four runs each, one diverging point each,
#: several shards per sweep
PROBE_CONFIG = {
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
    "train": {"shard_size": 3},
}
SWEEPS = ("line/linear_regression", "moons/logistic_regression")

def config(seed: int | None = None, grid: dict | None = None) -> dict:
    """PROBE_CONFIG, with another seed, and grid axes replaced (``{model: {axis: values}}``)."""
    out = copy.deepcopy(PROBE_CONFIG)
    if seed is not None:
        out["seed"] = seed
    for model, axes in (grid or {}).items():
        out["models"][model]["grid"].update(copy.deepcopy(axes))
    return out


# -- Actions: the projects ---------------------------------------------------------------

def base(ctx: Ctx) -> None:
    """The finished project every copy starts from, itself (the clean run)."""
    ctx.roots["project"] = ctx.base()
    ctx.note("from nothing, as every copy starts")


def finished(ctx: Ctx) -> None:
    """A copy of the finished project (its store's paths pointing into the copy)."""
    ctx.roots["project"] = W.clone(ctx.base(), ctx.dir / "project")


def new(ctx: Ctx, project: str = "project", seed: int | None = None) -> None:
    """A fresh copy that has run nothing."""
    ctx.roots[project] = W.make_copy(ctx.dir / project, config(seed))


def shared_store(ctx: Ctx) -> None:
    """One SQLite store for every project of the scenario (MLFLOW_TRACKING_URI)."""
    ctx.store = ctx.dir / "shared" / "mlflow.db"
    ctx.store.parent.mkdir(parents=True)
    ctx.env = {"MLFLOW_TRACKING_URI": f"sqlite:///{ctx.store}"}


def configure(ctx: Ctx, project: str = "project", seed: int | None = None,
              grid: dict | None = None) -> None:
    W.write_config(ctx.roots[project], config(seed, grid))
    ctx.note(f"{project}: config changed: {grid}")


def run(ctx: Ctx, project: str = "project", args: tuple = (), label: str = "rerun") -> None:
    """``snakemake --cores 2`` as a user runs it (``Ctx.run``)."""
    ctx.run(ctx.roots[project], *args, env=ctx.env, label=label)


def kill(ctx: Ctx, at: str, project: str = "project", **args) -> None:
    """``snakemake --cores 2`` killed -9 at the moment ``at`` (``MOMENTS``) with ``args``."""
    root = ctx.roots[project]
    ctx.kill_at(root, MOMENTS[at](ctx, root, **args), env=ctx.env, db=ctx.db(project))


def note_projects(ctx: Ctx) -> None:
    ctx.note("projects " + " and ".join(project_id(r) for r in ctx.roots.values()))


def compare(ctx: Ctx, project: str) -> None:
    """Remember ``project``'s runs, to compare after the other project ran; a new row's
    clock starts."""
    ctx.found["before"] = (project, snapshot(ctx.db(project), project_id(ctx.roots[project])))
    ctx.t0 = time.perf_counter()


def count_both(ctx: Ctx, name: str) -> None:
    """A row of two projects on one store: both counted (each knowing the other), and the
    runs remembered by ``compare`` compared."""
    other, before = ctx.found.pop("before")
    a, b = ctx.roots["a"], ctx.roots["b"]
    row = ctx.result(name, "a", {project_id(b)},
                     foreign=touched(before, snapshot(ctx.store, project_id(ctx.roots[other]))))
    counts_b, details_b = count(b, ctx.store, {project_id(a)})
    for k, v in counts_b.items():
        row["counts"][k] = max(row["counts"][k], v) if k == "integrity" else \
            row["counts"][k] + v
    row["details"] += [f"B: {d}" for d in details_b]
    ctx.rows.append(row)
    ctx.notes.clear()


# -- Actions: damage ---------------------------------------------------------------------

def _file(ctx: Ctx, what: str) -> Path:
    """A file of the project, by what it is (a run's: the run is left in ``ctx.found``)."""
    results = ctx.root / "results"
    if what == "manifest":
        return sorted((results / SWEEPS[1] / "shards").glob("*.json"))[0]
    if what == "record":
        return results / SWEEPS[0] / "mlflow.json"
    if what in ("project", "experiment"):
        return results / "mlflow" / f"{what}.json"
    sweep, best = SWEEPS[1], best_run(ctx.root, SWEEPS[1])
    name = best if what == "model" else [n for n in run_names(ctx.root, sweep) if n != best][0]
    ctx.found["run"] = (sweep, name)
    return results / sweep / "runs" / name / ("model.npz" if what == "model" else "history.csv")


def cut(ctx: Ctx, file: str, keep: int | None = None, lines: int | None = None) -> None:
    """``file`` cut to its first ``keep`` bytes (-1: half) or ``lines`` lines."""
    target = _file(ctx, file)
    ctx.found.setdefault("target", target)
    if file == "project":
        ctx.found["project id"] = project_id(ctx.root)
    if lines is not None:
        target.write_text("".join(target.read_text().splitlines(keepends=True)[:lines]))
        return
    data = target.read_bytes()
    target.write_bytes(data[:keep] if keep >= 0 else data[:len(data) // 2])


def delete_child(ctx: Ctx) -> None:
    """The cut run's child deleted, as the UI's delete does (MLflow's client)."""
    sweep, name = ctx.found["run"]
    client_do(ctx.root, f"client.delete_run({child_id(ctx.db(), sweep, name)!r})\n")
    ctx.note(f"deleted the child of {name} (as the UI does)")


# -- Actions: the store ------------------------------------------------------------------

def rm_store(ctx: Ctx, files: str = "all") -> None:
    """``rm mlflow.db*`` (``all``) or ``rm mlflow.db`` (``db``: its journal files left)."""
    db = ctx.db()
    for p in ctx.root.glob("mlflow.db*") if files == "all" else [db]:
        p.unlink()
    left = sorted(p.name for p in ctx.root.glob("mlflow.db-*"))
    ctx.note(f"rm {'mlflow.db*' if files == 'all' else 'mlflow.db'}"
             + (f", left: {', '.join(left)}" if left else ""))


def wal_mode(ctx: Ctx) -> None:
    """The store in WAL mode, as an earlier gdlab left it."""
    con = sqlite3.connect(ctx.db())
    con.execute("PRAGMA journal_mode=WAL")
    con.close()


def crashed_writer(ctx: Ctx, wal: bool) -> None:
    """A process that writes the store and is killed with SIGKILL mid-way, leaving its
    journal files: ``-wal`` and ``-shm`` (a WAL store, the write committed and not
    checkpointed) or a hot ``-journal`` (MLflow's rollback journal, a transaction open)."""
    db = ctx.db()
    code = ("import sqlite3, sys, time\n"
            "con = sqlite3.connect(sys.argv[1], isolation_level=None)\n"
            + ("con.execute('PRAGMA journal_mode=WAL')\n"
               "con.execute('CREATE TABLE fault_probe (x)')\n"
               "con.execute('INSERT INTO fault_probe VALUES (1)')\n" if wal else
               "con.execute('BEGIN IMMEDIATE')\n"
               "con.execute('UPDATE metrics SET value = value + 1')\n")
            + "print('ready', flush=True)\ntime.sleep(600)\n")
    proc = ctx.procs.start([PYTHON, "-c", code, str(db)], db.parent, project_env(),
                           out=subprocess.PIPE, text=True)
    proc.stdout.readline()
    ctx.procs.stop(proc)
    proc.stdout.close()
    left = [p.name for p in sorted(db.parent.glob(db.name + "-*"))]
    ctx.note(f"a writer killed -9 left {', '.join(left) or 'nothing'}")


def client_do(root: Path, code: str) -> None:
    """MLflow's client on the project's store, in a process of its own (what the UI does
    through its REST API, with the UI closed)."""
    script = "from mlflow import MlflowClient\nclient = MlflowClient('sqlite:///mlflow.db')\n"
    subprocess.run([PYTHON, "-c", script + code], cwd=root, env=project_env(), check=True,
                   capture_output=True, timeout=300)


def gc(ctx: Ctx) -> None:
    """A child and a parent deleted (MLflow's client, what the UI's delete calls), then
    ``mlflow gc`` purges them."""
    db = ctx.db()
    victims = [child_id(db, SWEEPS[0], run_names(ctx.root, SWEEPS[0])[0]),
               child_id(db, SWEEPS[1], role="sweep")]
    client_do(ctx.root, "".join(f"client.delete_run({v!r})\n" for v in victims))
    proc = subprocess.run([PYTHON, "-m", "mlflow", "gc", "--backend-store-uri",
                           "sqlite:///mlflow.db", "--tracking-uri", "sqlite:///mlflow.db"],
                          cwd=ctx.root, env=project_env(), capture_output=True, text=True,
                          timeout=600)
    purged = sum(1 for v in victims if v not in read_store(db)["runs"])
    ctx.note(f"mlflow gc: rc {proc.returncode}, purged {purged} of 2")


# -- Actions: the UI ---------------------------------------------------------------------

def ui_open(ctx: Ctx) -> None:
    """``mlflow ui`` on the project, open until the scenario ends (or ``ui_restarted``)."""
    import _services  # tests/_services.py

    ctx.url = ctx.stack.enter_context(_services.mlflow_ui(ctx.root))
    ctx.note(f"UI open: {ui_differs(ctx.url, ctx.db())} runs differ")


def ui_edits(ctx: Ctx) -> None:
    """In the open UI: a child of one sweep deleted and another renamed, the other sweep's
    parent deleted and the first's renamed."""
    db, names = ctx.db(), run_names(ctx.root, SWEEPS[0])
    victim, renamed = child_id(db, SWEEPS[0], names[0]), child_id(db, SWEEPS[0], names[1])
    ui_write(ctx.url, "runs/delete", {"run_id": victim})
    ui_write(ctx.url, "runs/update", {"run_id": renamed, "run_name": "my favourite"})
    ui_write(ctx.url, "runs/update", {"run_id": child_id(db, SWEEPS[0], role="sweep"),
                                      "run_name": "my sweep"})
    ui_write(ctx.url, "runs/delete", {"run_id": child_id(db, SWEEPS[1], role="sweep")})
    ctx.found["renamed"] = renamed
    ctx.note(f"deleted {SWEEPS[0]} {names[0]} and {SWEEPS[1]}'s parent; renamed "
             f"{names[1]} and {SWEEPS[0]}'s parent")


def ui_reader(ctx: Ctx) -> None:
    """A thread that keeps asking the open UI for every run until ``ui_reads``."""
    errors, reads, stop = [], [0], threading.Event()
    experiments = read_store(ctx.db())["experiments"]

    def read() -> None:
        while not stop.is_set():
            try:
                ui_runs(ctx.url, experiments)
                reads[0] += 1
            except Exception as err:  # noqa: BLE001 - any failure is the finding
                errors.append(repr(err)[:200])

    thread = threading.Thread(target=read, daemon=True)
    thread.start()
    ctx.found["reader"] = (thread, stop, reads, errors)
    ctx.stack.callback(stop.set)  # stopped also when the scenario breaks


ACTIONS = {f.__name__: f for f in (
    base, finished, new, shared_store, configure, run, kill, note_projects, compare,
    count_both, cut, delete_child, rm_store, wal_mode, crashed_writer, gc, ui_open, ui_edits,
    ui_reader)}
ACTIONS["run_is_whole"] = lambda ctx: run_is_whole(ctx, "after it")


# -- Checks, after the steps -------------------------------------------------------------

def left(ctx: Ctx) -> None:
    if there := [p.name for p in ctx.root.glob("mlflow.db-*")]:
        ctx.note(f"still there: {', '.join(there)}")


def json_whole(ctx: Ctx) -> None:
    """The cut file made whole again."""
    target = ctx.found["target"]
    try:
        json.loads(target.read_text())
        whole = True
    except (OSError, ValueError):
        whole = False
    ctx.note(f"{target.relative_to(ctx.root)} whole: {'yes' if whole else 'NO'}")


def run_is_whole(ctx: Ctx, when: str = "") -> None:
    """The cut run's files whole again (gdlab's own check; also a step, after a rerun)."""
    target = ctx.found["target"]
    whole = run_whole(ctx.root, *ctx.found["run"])
    ctx.note(f"{target.relative_to(ctx.root)} whole{' ' + when if when else ''}: "
             f"{'yes' if whole else 'NO'}")


def records_kept(ctx: Ctx) -> None:
    """project.json and experiment.json made again, the project's id kept."""
    there = [p.name for p in (_file(ctx, "project"), _file(ctx, "experiment")) if p.is_file()]
    kept = project_id(ctx.root) == ctx.found["project id"]
    ctx.note(f"after it: {', '.join(there) or 'neither record'} in results/mlflow; "
             f"project id {'kept' if kept else 'CHANGED'}")


def renamed_kept(ctx: Ctx) -> None:
    ctx.note(f"the renamed child is called "
             f"{read_store(ctx.db())['runs'][ctx.found['renamed']]['name']!r}")


def ui_matches(ctx: Ctx) -> None:
    """The open UI shows what the store has: each active run that differs counts."""
    ctx.ui = (ctx.ui or 0) + ui_differs(ctx.url, ctx.db())


def ui_reads(ctx: Ctx) -> None:
    """The reader stopped; each failed read counts."""
    thread, stop, reads, errors = ctx.found["reader"]
    stop.set()
    thread.join(timeout=120)
    ctx.note(f"UI reads: {reads[0]}, failed: {len(errors)}"
             + (f" ({errors[0]})" if errors else ""))
    ctx.ui = (ctx.ui or 0) + len(errors)


def ui_restarted(ctx: Ctx) -> None:
    """The open UI still reads the deleted store: gdlab's setup log must say to restart it
    (counted if it differs and nothing said so); then the restarted UI counted."""
    stale = ui_differs(ctx.url, ctx.db())
    told = "restart it" in (ctx.root / "logs" / "mlflow_setup.log").read_text(errors="replace")
    ctx.note(f"the open UI: {stale} runs differ from the new store; the setup log says to "
             f"restart it: {'yes' if told else 'NO'}")
    ctx.stack.close()
    ui_open(ctx)
    ctx.ui = (ctx.ui or 0) + (0 if told or not stale else 1)
    ui_matches(ctx)


CHECKS = {f.__name__: f for f in (left, json_whole, run_is_whole, records_kept, renamed_kept,
                                  ui_matches, ui_reads, ui_restarted)}
