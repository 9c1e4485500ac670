"""Successive halving through the whole pipeline: rungs as Snakemake checkpoints, results
byte-identical whatever --cores and after a kill -9 mid-search, one MLflow child per
configuration with its whole curve, summaries and the best from the top rung."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import Project, tiny_config

from gdlab.io import read_json
from gdlab.models.registry import model_info
from gdlab.runfiles import read_history, run_dir
from gdlab.train import STATE_FILE, train_shard

pytestmark = [pytest.mark.workflow, pytest.mark.mlflow]

ENV = {"MLFLOW_DISABLE_TELEMETRY": "true"}
LOGISTIC = {"method": "halving", "eta": 3, "budgets": [4, 12, 36], "n_trials": 9, "seed": 3,
            "space": {"lr": {"loguniform": [0.01, 300.0]},
                      "optimizer": {"choice": ["gd", "adam"]},
                      "batch_size": {"choice": [None, 8]}, "l2": {"choice": [0.0, 0.1]}}}
LINEAR = {"method": "halving", "eta": 2, "budgets": [3, 9],
          "grid": {"lr": [0.01, 0.1, 0.5, 3.0], "batch_size": [8]}}


def halving_config() -> dict:
    """Logistic regression: 9 trials drawn as a random search, rungs of 4, 12, 36 epochs
    (9 -> 3 -> 1; one trial diverges at once); linear regression: a grid of 4 learning
    rates with mini-batches, 3 then 9 epochs (4 -> 2; lr 3.0 diverges)."""
    config = tiny_config()
    config["models"] = {
        "logistic_regression": {"datasets": ["moons"], "search": LOGISTIC},
        "linear_regression": {"datasets": ["line"], "search": LINEAR}}
    return config


SWEEPS = ("moons/logistic_regression", "line/linear_regression")


def result_files(root: Path) -> dict[str, bytes]:
    """Every result file up to ``results/summary.csv`` whose bytes depend on results only:
    runs (but their wall-clock timing), rung states and records, manifests, summaries. The
    runs compared with the fixture's build only that target: no figures, no MLflow (whose
    records hold times and ids; conftest.reproducible_files covers a whole project)."""
    out = {}
    for sweep in SWEEPS:
        base = root / "results" / sweep
        for path in sorted(base.rglob("*")):
            rel = path.relative_to(base)
            if path.is_file() and path.name != "timing.json" and rel.parts[0] in (
                    "runs", "rungs", "shards") or rel.as_posix() in (
                    "summary.csv", "configs.csv", "best.json", "baseline.json"):
                out[f"{sweep}/{rel.as_posix()}"] = path.read_bytes()
    out["summary.csv"] = (root / "results" / "summary.csv").read_bytes()
    return out


def make_project(root: Path) -> Project:
    proj = Project(root)
    proj.write_config(halving_config())
    return proj


@pytest.fixture(scope="module")
def halved(tmp_path_factory) -> Project:
    proj = make_project(tmp_path_factory.mktemp("halved") / "project")
    proj.snakemake("--cores", "2", env=ENV)
    return proj


def test_rungs_train_the_best_third_of_each_rung_and_the_best_is_from_the_top(halved):
    base = halved.root / "results" / "moons" / "logistic_regression"
    records = [read_json(base / "rungs" / str(r) / "promoted.json") for r in range(3)]
    assert [len(rec["ranking"]) for rec in records] == [9, 3, 1]
    assert [len(rec["promoted"]) for rec in records] == [3, 1, 0]
    for before, after in zip(records, records[1:], strict=False):
        # promoted: the best finite validation log loss (its score), never a diverged run
        finite = [e for e in before["ranking"] if not e["diverged"]]
        assert before["promoted"] == [e["run_name"] for e in finite[:len(before["promoted"])]]
        # settled runs first, each part by the mean over its last epochs
        scores = [(e["oscillating"], e["score_val_log_loss"]) for e in finite]
        assert scores == sorted(scores)
        assert sorted(e["run_name"] for e in after["ranking"]) == sorted(before["promoted"])
    assert any(e["diverged"] for e in records[0]["ranking"])  # the test covers divergence
    best = read_json(base / "best.json")
    assert best["run_name"] == records[2]["ranking"][0]["run_name"]
    assert best["n_epochs"] == 36 and best["hyperparameters"]["epochs"] == 36
    overview = (halved.root / "results" / "summary.csv").read_text()
    assert best["run_name"] in overview
    # every configuration is one run with the files of the last rung it reached
    reached = {e["run_name"]: r for r, rec in enumerate(records) for e in rec["ranking"]}
    assert len(reached) == 9
    for name, rung in reached.items():
        metrics = read_json(base / "runs" / name / "metrics.json")
        assert metrics["rung"] == rung
        assert metrics["hyperparameters"]["epochs"] == LOGISTIC["budgets"][rung]
    for fig in ("learning_curves", "convergence", "parallel_coordinates", "importance"):
        assert (base / "plots" / f"{fig}.png").stat().st_size > 0
    assert not (base / "plots" / "heatmap.png").exists()
    # the grid-candidate sweep: 4 -> 2, the diverging lr 3.0 not among them
    line = halved.root / "results" / "line" / "linear_regression"
    r0 = read_json(line / "rungs" / "0" / "promoted.json")
    assert len(r0["ranking"]) == 4 and len(r0["promoted"]) == 2
    assert not any("lr~3.0" in name for name in r0["promoted"])
    # finished: a rerun plans nothing (the checkpoints are read, not redone)
    assert halved.jobs_to_run() == {}


def test_a_published_run_is_the_run_trained_straight_through(halved):
    """The top rung's run went 4 -> 12 -> 36 epochs from saved states; trained alone to 36
    epochs (the oracle: one uninterrupted fit) it has the same parameters and history."""
    from gdlab.data.core import load_split

    base = halved.root / "results" / "moons" / "logistic_regression"
    best = read_json(base / "best.json")
    run = base / "runs" / best["run_name"]
    spec = read_json(run / "metrics.json")
    split = load_split(halved.root / "data" / "moons" / "split.npz")
    model = model_info("logistic_regression").load()(**spec["hyperparameters"],
                                                     seed=spec["seed"])
    model.fit(split.X_train, split.y_train, split.X_val, split.y_val)
    with np.load(run / "model.npz", allow_pickle=False) as saved:
        for k, v in model.to_arrays().items():
            assert saved[k].tobytes() == np.asarray(v).tobytes(), k
    history = read_history(run / "history.csv")
    for k, v in model.history_.items():
        assert history[k].tobytes() == v.tobytes(), k


#: a train_rung job's log line for each run it fitted (gdlab.train.train_shard)
FITTED = re.compile(r"^(?P<name>.+): (?P<epochs>\d+) epochs(?P<continued> \(continued\))?, "
                    r"diverged=(True|False)$")
#: what train_run adds to a run's spec in its metrics.json
RESULT_KEYS = ("n_epochs", "diverged", "converged", "final_objective", "metrics", "tail")


def rung_records(base: Path, budgets: list[int]) -> list[dict]:
    return [read_json(base / "rungs" / str(r) / "promoted.json") for r in range(len(budgets))]


def test_every_later_rung_went_on_from_the_saved_state(halved):
    """Training from scratch writes the same bytes as going on from a state, so the files
    cannot tell; the jobs' logs and the runs' start times can. Every run of rung >= 1 was
    fitted once, continued from its state (a fresh fit would log no "(continued)"), and
    kept its rung-0 start time (a fresh fit starts at its own fit's start)."""
    for sweep, search in zip(SWEEPS, (LOGISTIC, LINEAR), strict=True):
        base = halved.root / "results" / sweep
        records = rung_records(base, search["budgets"])
        for r, record in enumerate(records):
            fitted = {}
            for log in (halved.root / "logs" / "train_rung" / sweep / str(r)).glob("*.log"):
                for line in log.read_text().splitlines():
                    if m := FITTED.match(line):
                        assert m["name"] not in fitted, f"{m['name']} fitted twice"
                        fitted[m["name"]] = (int(m["epochs"]), bool(m["continued"]))
            names = [e["run_name"] for e in record["ranking"]]
            assert sorted(fitted) == sorted(names), (sweep, r)
            rung = base / "rungs" / str(r)
            for name in names:
                n_epochs = read_json(run_dir(rung, name) / "metrics.json")["n_epochs"]
                assert fitted[name] == (n_epochs, r > 0), (sweep, r, name)
                if r > 0:
                    before = read_json(run_dir(base / "rungs" / str(r - 1), name) /
                                       "timing.json")
                    now = read_json(run_dir(rung, name) / "timing.json")
                    assert now["start_time_ms"] == before["start_time_ms"]
                    assert now["end_time_ms"] > before["end_time_ms"]


def test_a_rung_trains_only_the_epochs_past_the_previous_budget(halved, tmp_path,
                                                                monkeypatch):
    """Each rung >= 1 job of the logistic sweep again, in this process, from the pipeline's
    saved states, counting the epochs the fits run: every promoted run trains
    budgets[r] - budgets[r - 1] epochs (a fit from scratch would run budgets[r], and one
    more call of the hook, for the start), into the very files the pipeline wrote."""
    cls = model_info("logistic_regression").load()
    epochs_run = []
    after_step = cls._after_step  # called with the start and after every epoch
    monkeypatch.setattr(cls, "_after_step",
                        lambda self, theta: (epochs_run.append(1), after_step(self, theta)))
    base = halved.root / "results" / SWEEPS[0]
    budgets = LOGISTIC["budgets"]
    records = rung_records(base, budgets)
    for r in range(1, len(budgets)):
        names = sorted(records[r - 1]["promoted"])
        rung = base / "rungs" / str(r)
        specs = []
        for name in names:
            result = read_json(run_dir(rung, name) / "metrics.json")
            specs.append({k: v for k, v in result.items() if k not in RESULT_KEYS})
        out = tmp_path / str(r)
        epochs_run.clear()
        train_shard({"dataset": "moons", "model": "logistic_regression", "shard": "0",
                     "rung": r, "runs": specs}, halved.root / "data/moons/split.npz",
                    out, out / "manifest.json", previous_dir=base / "rungs" / str(r - 1))
        assert len(epochs_run) == len(names) * (budgets[r] - budgets[r - 1]), r
        for name in names:
            for f in ("model.npz", "history.csv", STATE_FILE, "metrics.json"):
                assert (run_dir(out, name) / f).read_bytes() == \
                    (run_dir(rung, name) / f).read_bytes(), (r, name, f)
            # the start of the run's first rung, as the pipeline's continued run has
            assert read_json(run_dir(out, name) / "timing.json")["start_time_ms"] == \
                read_json(run_dir(rung, name) / "timing.json")["start_time_ms"]


def test_the_search_is_byte_identical_with_one_core(halved, tmp_path):
    one = make_project(tmp_path / "one")
    one.snakemake("--cores", "1", "results/summary.csv", env=ENV)  # no figures, no MLflow
    a, b = result_files(halved.root), result_files(one.root)
    assert a.keys() == b.keys()
    assert [k for k in a if a[k] != b[k]] == []
    assert any("/rungs/2/" in k for k in a) and any(k.endswith("state.npz") for k in a)


def test_killed_after_the_first_rung_it_resumes_to_the_same_results(halved, tmp_path):
    """kill -9 of the whole run once rung 1 has started (so Snakemake has recorded rung 0's
    checkpoint as done): the next run plans nothing of rung 0, leaves its files untouched
    and ends with the bytes of the uninterrupted run."""
    proj = make_project(tmp_path / "killed")
    sweep = proj.root / "results" / "moons" / "logistic_regression"
    rung_1_logs = proj.root / "logs" / "train_rung" / "moons" / "logistic_regression" / "1"
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"} | ENV
    proc = subprocess.Popen([sys.executable, "-m", "snakemake", "--cores", "2",
                             "results/summary.csv"], cwd=proj.root,
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    try:
        deadline = time.monotonic() + 300
        while not any(rung_1_logs.glob("*.log")) and proc.poll() is None and \
                time.monotonic() < deadline:
            time.sleep(0.1)
        assert any(rung_1_logs.glob("*.log")) and proc.poll() is None, \
            "rung 1 never started"
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # the whole process group, jobs included
        proc.wait()
    assert not (proj.root / "results" / "summary.csv").exists()  # killed mid-search
    rung_0 = sweep / "rungs" / "0"
    files = sorted(p for p in rung_0.rglob("*") if p.is_file())
    assert rung_0 / "promoted.json" in files and any(p.name == STATE_FILE for p in files)
    mtimes = {p: p.stat().st_mtime_ns for p in files}
    planned = proj.planned_jobs("results/summary.csv")
    assert ("overview", {}) in planned  # the dry run plans the rest of the work
    assert [(rule, w) for rule, w in planned if rule in ("train_rung", "promote") and (
        w["dataset"], w["model"], w["rung"]) == ("moons", "logistic_regression", "0")] == []
    proj.snakemake("--cores", "2", "results/summary.csv", env=ENV)  # the files compared
    assert {p: p.stat().st_mtime_ns for p in files} == mtimes  # rung 0 not redone
    a, b = result_files(halved.root), result_files(proj.root)
    assert a.keys() == b.keys()
    assert [k for k in a if a[k] != b[k]] == []


def test_mlflow_has_one_child_per_configuration_with_its_whole_curve(halved):
    from mlflow import MlflowClient

    client = MlflowClient(f"sqlite:///{halved.root / 'mlflow.db'}")
    experiment = client.get_experiment_by_name("gdlab-test")
    for sweep, n in (("moons/logistic_regression", 9), ("line/linear_regression", 4)):
        dataset, model = sweep.split("/")
        base = halved.root / "results" / sweep
        children = read_json(base / "mlflow.json")["children"]
        assert len(children) == n
        runs = client.search_runs(
            [experiment.experiment_id], f"tags.dataset = '{dataset}' and tags.model = "
                                        f"'{model}' and tags.`gdlab.role` = 'run'")
        assert sorted(r.info.run_id for r in runs) == sorted(children.values())
        for name, run_id in children.items():
            result = read_json(base / "runs" / name / "metrics.json")
            points = client.get_metric_history(run_id, "curves/train_objective")
            # every epoch the configuration trained, across all the rungs it reached
            assert [p.step for p in points] == list(range(1, result["n_epochs"] + 1))
            assert client.get_run(run_id).data.tags["rung"] == str(result["rung"])
        # the parent holds the sweep's figures, the sweep views among them, no heatmap
        [parent] = client.search_runs(
            [experiment.experiment_id], f"tags.dataset = '{dataset}' and tags.model = "
                                        f"'{model}' and tags.`gdlab.role` = 'sweep'")
        plots = {a.path for a in client.list_artifacts(parent.info.run_id, "plots")}
        assert plots == {f"plots/{f}.png" for f in (
            "learning_curves", "convergence", "parallel_coordinates", "importance")}
