"""The fault probe's view of a project and its store: the SQLite store read with sqlite3
(read-only; no MLflow in this process), a project's counts (see fault_probe.py), where a
killed run was, and the UI's REST API as its pages ask it.
"""

from __future__ import annotations

import hashlib
import json
import re
import sqlite3
import urllib.request
from pathlib import Path

# gdlab's tags (gdlab.tracking.layout), spelled out: the probe reads the store with sqlite3
PROJECT_TAG, SWEEP_TAG, ROLE_TAG, RUN_TAG = ("gdlab.project", "gdlab.sweep", "gdlab.role",
                                             "gdlab.run")
COMPLETE_TAG, PARENT_TAG = "gdlab.complete", "mlflow.parentRunId"
READY = 2  # MLflow's LoggedModelStatus.READY in the logged_models table (PENDING is 1)

COUNTS = ("lost", "duplicated", "stale", "running", "pending", "foreign", "integrity",
          "debris", "ui", "failed")
#: the end of a track job that did its work
TRACKED = re.compile(r"kept \d+, created \d+, deleted \d+ in|the store already shows")


def _connect(db: Path, timeout: float) -> sqlite3.Connection:
    return sqlite3.connect(db.resolve().as_uri() + "?mode=ro", uri=True, timeout=timeout)


def read_store(db: Path, timeout: float = 30) -> dict | None:
    """Every run (name, status, lifecycle, experiment, end, tags, params and metrics
    digests), logged model (status, lifecycle, tags) and registered model version (its
    project, run, status, stage, description, source) of a SQLite store; None if there is
    no store file."""
    if not db.is_file():
        return None
    con = _connect(db, timeout)
    try:
        runs = {r[0]: {"id": r[0], "name": r[1], "status": r[2], "stage": r[3],
                       "experiment": str(r[4]), "end": r[5], "tags": {}, "data": ""}
                for r in con.execute("SELECT run_uuid, name, status, lifecycle_stage, "
                                     "experiment_id, end_time FROM runs")}
        for run_id, key, value in con.execute("SELECT run_uuid, key, value FROM tags"):
            if run_id in runs:
                runs[run_id]["tags"][key] = value
        for run_id, n, total in con.execute(
                "SELECT run_uuid, count(*), total(value) FROM metrics GROUP BY run_uuid"):
            if run_id in runs:
                runs[run_id]["data"] += f"metrics {n} {total!r};"
        for run_id, n, values in con.execute(
                "SELECT run_uuid, count(*), group_concat(key || '=' || value) FROM params "
                "GROUP BY run_uuid"):
            if run_id in runs:
                runs[run_id]["data"] += f"params {n} {values};"
        models = {m[0]: {"id": m[0], "status": m[1], "stage": m[2], "run": m[3], "tags": {}}
                  for m in con.execute("SELECT model_id, status, lifecycle_stage, "
                                       "source_run_id FROM logged_models")}
        for model_id, key, value in con.execute(
                "SELECT model_id, tag_key, tag_value FROM logged_model_tags"):
            if model_id in models:
                models[model_id]["tags"][key] = value
        versions = [{"name": v[0], "version": v[1], "project": v[2], "data": list(v[3:])}
                    for v in con.execute(
            "SELECT v.name, v.version, t.value, v.run_id, v.status, v.current_stage, "
            "v.description, v.source FROM model_versions v LEFT JOIN model_version_tags t "
            "ON t.name = v.name AND t.version = v.version AND t.key = 'gdlab.project'")]
        experiments = [str(e[0]) for e in con.execute("SELECT experiment_id FROM experiments")]
    finally:
        con.close()
    return {"runs": runs, "models": models, "versions": versions, "experiments": experiments}


def integrity(db: Path) -> str:
    if not db.is_file():
        return "no store file"
    con = _connect(db, 30)
    try:
        rows = [r[0] for r in con.execute("PRAGMA integrity_check")]
    except sqlite3.Error as err:
        return f"unreadable: {err}"
    finally:
        con.close()
    return "ok" if rows == ["ok"] else "; ".join(rows)[:200]


def store_count(db: Path, sql: str) -> int:
    """A count from the store while a run writes it (0 if busy or not there yet)."""
    if not db.is_file():
        return 0
    try:
        con = _connect(db, 0.05)
        try:
            row = con.execute(sql).fetchone()
        finally:
            con.close()
    except sqlite3.Error:
        return 0
    return int(row[0]) if row and row[0] else 0


def project_id(root: Path) -> str:
    """The project's id: its ``results/mlflow/project.json``, or, missing or damaged, the
    one gdlab makes again from the directory (``gdlab.tracking.setup.project_id``, which
    would write the file: not called)."""
    try:
        return json.loads((root / "results" / "mlflow" / "project.json").read_text())["id"]
    except (OSError, ValueError, KeyError):
        return hashlib.sha256(str(root.resolve()).encode()).hexdigest()[:16]


def expected_runs(root: Path) -> dict[str, set[str]]:
    """Sweep -> the run names of its shard manifests (what results/ has)."""
    from gdlab.runfiles import manifest_runs

    out = {}
    for shards in sorted((root / "results").glob("*/*/shards")):
        sweep = f"{shards.parent.parent.name}/{shards.parent.name}"
        out[sweep] = set(manifest_runs(sorted(shards.glob("*.json"))))
    return out


def snapshot(db: Path, project: str) -> dict[str, str]:
    """A digest of every run and logged model of ``project``: what must not change when
    another project runs."""
    store = read_store(db) or {"runs": {}, "models": {}}
    out = {}
    for run_id, r in store["runs"].items():
        if r["tags"].get(PROJECT_TAG) == project:
            out[f"run {run_id}"] = _digest([r["name"], r["status"], r["stage"], r["end"],
                                            sorted(r["tags"].items()), r["data"]])
    for model_id, m in store["models"].items():
        if m["tags"].get(PROJECT_TAG) == project:
            out[f"logged model {model_id}"] = _digest([m["status"], m["stage"],
                                                       sorted(m["tags"].items())])
    for v in store.get("versions", []):
        if v["project"] == project:
            out[f"model version {v['name']} {v['version']}"] = _digest(v["data"])
    return out


def _digest(value) -> str:
    return hashlib.sha256(json.dumps(value, default=str).encode()).hexdigest()[:16]


def touched(before: dict[str, str], after: dict[str, str]) -> list[str]:
    return sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k))


def count(root: Path, db: Path, known_projects: set[str] = frozenset()) -> tuple[dict, list]:
    """The counts of one project (``root``) in a store: lost, duplicated, stale, running,
    pending, integrity, debris; and a line per fault found."""
    out = dict.fromkeys(("lost", "duplicated", "stale", "running", "pending", "integrity"), 0)
    details: list[str] = []
    from gdlab.io import partial_writes

    debris = partial_writes(root / "results")
    out["debris"] = len(debris)
    details += [f"debris: {path.relative_to(root)}" for path in debris]
    check = integrity(db)
    if check != "ok":
        out["integrity"] = 1
        details.append(f"integrity: {check}")
    project = project_id(root)
    try:
        expected = expected_runs(root)
    except (OSError, ValueError) as err:
        expected = {}
        out["lost"] += 1
        details.append(f"{root.name}: a shard manifest does not read ({err})")
    store = read_store(db) if check != "no store file" else None
    if store is None:
        out["lost"] += sum(1 + len(names) for names in expected.values())
        details.append(f"{root.name}: no store: every run lost")
        return out, details
    active = [r for r in store["runs"].values() if r["stage"] == "active"]
    mine = [r for r in active if r["tags"].get(PROJECT_TAG) == project]
    def fault(kind: str, text: str, n: int = 1) -> None:
        out[kind] += n
        details.append(f"{'RUNNING' if kind == 'running' else kind}: {text}")

    for r in active:  # runs of a project that is not there: the UI shows them all the same
        if r["tags"].get(PROJECT_TAG) not in ({project} | set(known_projects)):
            fault("stale", f"run {r['name']!r} of project {r['tags'].get(PROJECT_TAG)} "
                           f"({r['id']})")
    for r in mine:
        if r["status"] == "RUNNING":
            fault("running", f"{r['tags'].get(SWEEP_TAG)} {r['tags'].get(ROLE_TAG)} "
                             f"{r['name']!r} ({r['id']})")
        if r["tags"].get(SWEEP_TAG) not in expected:
            fault("stale", f"run {r['name']!r} of sweep {r['tags'].get(SWEEP_TAG)} that "
                           f"results/ does not have ({r['id']})")
    for sweep, names in expected.items():
        runs = [r for r in mine if r["tags"].get(SWEEP_TAG) == sweep]
        parents = [r for r in runs if r["tags"].get(ROLE_TAG) == "sweep"]
        children = [r for r in runs if r["tags"].get(ROLE_TAG) == "run"]
        if len(parents) > 1:
            fault("duplicated", f"{sweep} has {len(parents)} active parents", len(parents) - 1)
        if not any(map(_complete, parents)):  # the sweep's own run: cut short, or gone
            fault("lost", f"{sweep} has no complete parent ({len(parents)} active: "
                  + ", ".join(f"{p['status']} complete={p['tags'].get(COMPLETE_TAG)}"
                              for p in parents) + ")")
        parent_ids = {p["id"] for p in parents}
        for name in sorted(names):
            kids = [c for c in children if c["tags"].get(RUN_TAG) == name]
            if len(kids) > 1:
                fault("duplicated", f"{sweep} {name} has {len(kids)} active children",
                      len(kids) - 1)
            if not any(_complete(c) and c["tags"].get(PARENT_TAG) in parent_ids for c in kids):
                fault("lost", f"{sweep} {name} (active children: {len(kids)}, "
                              f"complete: {sum(map(_complete, kids))})")
        for c in children:
            if c["tags"].get(RUN_TAG) not in names:
                fault("stale", f"{sweep} child {c['tags'].get(RUN_TAG)} that results/ does "
                               f"not have ({c['id']})")
    for m in store["models"].values():
        if m["tags"].get(PROJECT_TAG) == project and m["stage"] != "deleted" and \
                m["status"] != READY:
            fault("pending", f"logged model {m['id']} of {m['tags'].get(SWEEP_TAG)} "
                             f"(status {m['status']})")
    return out, details


def _complete(run: dict) -> bool:
    return run["tags"].get(COMPLETE_TAG) == "true" and run["status"] != "RUNNING"


def sweep_state(root: Path, db: Path, sweep: str) -> str:
    """A cut-off sweep as the store holds it: its parent, children, best model."""
    store = read_store(db, timeout=5)
    if store is None:
        return "no store"
    project = project_id(root)
    runs = [r for r in store["runs"].values() if r["stage"] == "active"
            and r["tags"].get(SWEEP_TAG) == sweep
            and r["tags"].get(PROJECT_TAG) == project]
    parents = [r for r in runs if r["tags"].get(ROLE_TAG) == "sweep"]
    children = [r for r in runs if r["tags"].get(ROLE_TAG) == "run"]
    deleted = sum(1 for r in store["runs"].values() if r["stage"] == "deleted"
                  and r["tags"].get(SWEEP_TAG) == sweep and r["tags"].get(PROJECT_TAG) == project)
    parent = ", ".join(f"{p['status']} complete={p['tags'].get(COMPLETE_TAG)}"
                       for p in parents) or "none"
    models = [m for m in store["models"].values() if m["tags"].get(SWEEP_TAG) == sweep
              and m["tags"].get(PROJECT_TAG) == project and m["stage"] != "deleted"]
    status = {1: "PENDING", READY: "READY"}
    model = ", ".join(status.get(m["status"], str(m["status"])) for m in models) or "none"
    dataset, name = sweep.split("/")
    registered = sum(1 for v in store["versions"] if v["name"] == f"gdlab-{dataset}-{name}"
                     and v["project"] == project)
    return (f"parent {parent}; {len(children)} children "
            f"({sum(map(_complete, children))} complete){f', {deleted} deleted' if deleted else ''}"
            f"; logged model {model}; {registered} registered version(s)")


def phase(root: Path, db: Path) -> str:
    """Where a run was when it was killed: runs trained, the track jobs done or cut."""
    results = root / "results"
    trained = sum(1 for _ in results.rglob("metrics.json")) if results.is_dir() else 0
    parts = [f"runs trained: {trained}"]
    if not (root / "results" / "mlflow" / "experiment.json").is_file():
        parts.append("no store set up" if not db.is_file()
                     else "mlflow_setup not done")
    for log in sorted((root / "logs" / "track").rglob("*.log")):
        sweep = log.relative_to(root / "logs" / "track").with_suffix("").as_posix()
        text = log.read_text(errors="replace")  # its last line is written at its end
        if TRACKED.search(text):
            parts.append(f"{sweep} tracked")
        else:
            parts.append(f"{sweep} cut: {sweep_state(root, db, sweep)}")
    return "; ".join(parts)


def child_id(db: Path, sweep: str, name: str | None = None, role: str = "run") -> str:
    """The active run of ``sweep`` with that role (and run name)."""
    store = read_store(db)
    for r in sorted(store["runs"].values(), key=lambda r: r["tags"].get(RUN_TAG, "")):
        tags = r["tags"]
        if r["stage"] == "active" and tags.get(SWEEP_TAG) == sweep and \
                tags.get(ROLE_TAG) == role and (name is None or tags.get(RUN_TAG) == name):
            return r["id"]
    raise LookupError(f"no active {role} {name or ''} of {sweep}")


def run_names(root: Path, sweep: str) -> list[str]:
    return sorted(expected_runs(root)[sweep])


def best_run(root: Path, sweep: str) -> str:
    return json.loads((root / "results" / sweep / "best.json").read_text())["run_name"]



def run_whole(root: Path, sweep: str, name: str) -> bool:
    """Whether a run's files are the ones its shard manifest recorded, whole (gdlab's own
    check, ``Run.check``)."""
    from gdlab.runfiles import manifest_runs, read_run

    try:
        entries = manifest_runs(sorted((root / "results" / sweep / "shards").glob("*.json")))
        read_run(root / "results" / sweep, name, entries[name].get("content_key")).check()
    except Exception:  # noqa: BLE001 - missing, damaged, unreadable: not whole
        return False
    return True



# -- The UI: its REST API, as its pages ask it ----------------------------------------


def _post(url: str, path: str, payload: dict, timeout: float = 60) -> dict:
    req = urllib.request.Request(f"{url}/{path}", data=json.dumps(payload).encode(),
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=timeout) as resp:
        return json.loads(resp.read() or b"{}")


def ui_runs(url: str, experiment_ids: list[str]) -> dict[str, str]:
    """Run id -> status of every active run the UI returns for those experiments."""
    out, token = {}, None
    while True:
        body = {"experiment_ids": experiment_ids, "max_results": 1000,
                "run_view_type": "ACTIVE_ONLY", **({"page_token": token} if token else {})}
        page = _post(url, "api/2.0/mlflow/runs/search", body)
        out.update({r["info"]["run_id"]: r["info"]["status"] for r in page.get("runs", [])})
        token = page.get("next_page_token")
        if not token:
            return out


def ui_differs(url: str, db: Path) -> int:
    """Active runs on which the UI and the store disagree (missing, extra, other status)."""
    store = read_store(db) or {"runs": {}, "experiments": []}
    mine = {i: r["status"] for i, r in store["runs"].items() if r["stage"] == "active"}
    shown = ui_runs(url, store["experiments"] or ["0"])
    return len(mine.keys() ^ shown.keys()) + sum(shown[i] != s for i, s in mine.items()
                                                 if i in shown)


def ui_write(url: str, path: str, payload: dict) -> None:
    """A write the UI's pages make (delete a run, rename it)."""
    _post(url, f"ajax-api/2.0/mlflow/{path}", payload)
