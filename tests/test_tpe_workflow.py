"""TPE in rounds through the whole pipeline: rounds as Snakemake checkpoints, each asked
from the results before it; the same trials, names and bytes whatever --cores and
sharding, after a kill -9 and a rerun, and when n_trials is raised (only new rounds run);
one MLflow child per run with its round; the optimisation history among the figures."""

from __future__ import annotations

import csv
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import Project, tiny_config

from gdlab import tpe
from gdlab.io import read_json
from gdlab.runfiles import manifest_runs, run_dir

pytestmark = [pytest.mark.workflow, pytest.mark.mlflow]

ENV = {"MLFLOW_DISABLE_TELEMETRY": "true"}
LOGISTIC = {"method": "tpe", "n_trials": 9, "batch": 3, "seed": 3, "n_startup_trials": 3,
            "space": {"lr": {"loguniform": [0.01, 300.0]}, "epochs": {"int": [5, 30]},
                      "batch_size": {"choice": [None, 8]}, "l2": {"choice": [0.0, 0.1]}}}
LINEAR = {"method": "tpe", "n_trials": 6, "batch": 3, "seed": 5, "n_startup_trials": 3,
          "space": {"lr": {"loguniform": [0.003, 3.0]}, "epochs": {"int": [3, 20]},
                    "batch_size": {"choice": [8, 16]}}}
SWEEPS = ("moons/logistic_regression", "line/linear_regression")


def tpe_config(n_trials: int = 9, shard_size: int = 3) -> dict:
    """Logistic regression: 9 trials in rounds of 3 (TPE from round 1 on; large learning
    rates diverge); linear regression: 6 trials, each repeated twice (mini-batches, so the
    repeats differ and a trial's objective is their mean)."""
    config = tiny_config()
    config["models"] = {
        "logistic_regression": {"datasets": ["moons"],
                                "search": {**LOGISTIC, "n_trials": n_trials}},
        "linear_regression": {"datasets": ["line"], "search": LINEAR, "repeats": 2}}
    config["train"]["shard_size"] = shard_size
    return config


def make_project(root: Path, **kw) -> Project:
    proj = Project(root)
    proj.write_config(tpe_config(**kw))
    return proj


def result_files(root: Path, sharded: bool = True, sweeps=SWEEPS) -> dict[str, bytes]:
    """Every result file up to ``results/summary.csv`` whose bytes depend on results only:
    rounds' records, runs (but their wall-clock timing), the rounds' manifests, summaries
    (``sharded``: also the round's train manifests, which follow train.shard_size). With
    ``sweeps`` fewer than the config's, those sweeps' files only."""
    out = {}
    for sweep in sweeps:
        base = root / "results" / sweep
        for path in sorted(base.rglob("*")):
            rel = path.relative_to(base)
            if not path.is_file() or path.name == "timing.json":
                continue
            if rel.parts[0] == "rounds" and "shards" in rel.parts and not sharded:
                continue
            if rel.parts[0] in ("runs", "rounds", "shards") or rel.as_posix() in (
                    "summary.csv", "configs.csv", "best.json", "baseline.json"):
                out[f"{sweep}/{rel.as_posix()}"] = path.read_bytes()
    if sweeps == SWEEPS:
        out["summary.csv"] = (root / "results" / "summary.csv").read_bytes()
    return out


def records(base: Path) -> list[dict]:
    return [read_json(p) for p in sorted((base / "rounds").glob("*/trials.json"),
                                         key=lambda p: int(p.parent.name))]


@pytest.fixture(scope="module")
def searched(tmp_path_factory) -> Project:
    proj = make_project(tmp_path_factory.mktemp("tpe") / "project")
    proj.snakemake("--cores", "4", env=ENV)
    return proj


def test_each_round_is_asked_from_every_result_before_it(searched):
    for sweep, search, repeats in zip(SWEEPS, (LOGISTIC, LINEAR), (1, 2), strict=True):
        base = searched.root / "results" / sweep
        recs = records(base)
        assert [rec["round"] for rec in recs] == list(range(search["n_trials"] //
                                                            search["batch"]))
        runs = manifest_runs(sorted((base / "shards").glob("*.json")))
        assert len(runs) == search["n_trials"] * repeats
        results = {}
        for name in runs:
            result = read_json(run_dir(base, name) / "metrics.json")
            results.setdefault(result.get("config", name), []).append(result)
        for r, rec in enumerate(recs):
            assert [t["number"] for t in rec["trials"]] == list(tpe.round_trials(search, r))
            # told: every trial of the rounds before, with its repeats' mean, or failed
            told = [t["name"] for earlier in recs[:r] for t in earlier["trials"]]
            assert [t["name"] for t in rec["told"]] == told
            for entry in rec["told"]:
                assert entry["value"] == tpe.objective(results[entry["name"]], "log_loss"
                                                       if "moons" in sweep else "mse")
                assert entry["state"] == ("FAIL" if entry["value"] is None else "COMPLETE")
            for trial in rec["trials"]:  # its runs: trained with its values, in its round
                assert len(results[trial["name"]]) == repeats
                for result in results[trial["name"]]:
                    assert result["round"] == r
                    assert result["hyperparameters"] == trial["hyperparameters"]
            # the round's manifest is the sweep's shard r
            assert sorted(read_json(base / "shards" / f"{r}.json")["runs"]) == sorted(
                name for t in rec["trials"] for name in runs
                if name == t["name"] or name.startswith(t["name"] + "/repeat~"))
    logistic = records(searched.root / "results" / SWEEPS[0])
    assert any(t["state"] == "FAIL" for t in logistic[-1]["told"])  # divergence covered
    # the repeats of a linear trial differ (mini-batch order), so the mean is a mean
    base = searched.root / "results" / SWEEPS[1]
    trial = records(base)[0]["trials"][0]["name"]
    losses = {read_json(run_dir(base, f"{trial}/repeat~{k}") / "metrics.json")["metrics"][
        "val"]["mse"] for k in range(2)}
    assert len(losses) == 2


def test_the_sweep_is_summarised_and_drawn_like_any_other(searched):
    base = searched.root / "results" / SWEEPS[0]
    best = read_json(base / "best.json")
    assert best["run_name"].startswith("trial~")
    summary = (base / "summary.csv").read_text().splitlines()
    assert summary[0].split(",")[3] == "round"
    with open(searched.root / "results" / "summary.csv", encoding="utf-8") as f:
        overview = list(csv.DictReader(f))
    assert [row["best_run"].split("/")[0] for row in overview] == [
        read_json(searched.root / "results" / s / "best.json")["run_name"].split("/")[0]
        for s in sorted(SWEEPS)]
    for fig in ("learning_curves", "convergence", "parallel_coordinates", "importance",
                "optimisation_history"):
        assert (base / "plots" / f"{fig}.png").stat().st_size > 0
    assert not (base / "plots" / "heatmap.png").exists()
    # finished: a rerun plans nothing (the checkpoints are read, not redone)
    assert searched.jobs_to_run() == {}


def test_the_search_is_byte_identical_at_one_core_and_other_shardings(searched, tmp_path):
    a = result_files(searched.root, sharded=False)
    # one core and one shard per round (the searched project: 4 cores, shards of 3)
    other = make_project(tmp_path / "one_core", shard_size=200)
    other.snakemake("--cores", "1", "results/summary.csv", env=ENV)
    b = result_files(other.root, sharded=False)
    assert a.keys() == b.keys()
    assert [k for k in a if a[k] != b[k]] == []
    assert any("/rounds/2/trials.json" in k for k in a)


def test_killed_after_the_first_round_it_resumes_to_the_same_results(searched, tmp_path):
    """kill -9 of the whole run once round 1 trains (so round 0's checkpoint is done): the
    next run plans nothing of round 0, leaves its files untouched and ends with the bytes
    of the uninterrupted run."""
    proj = make_project(tmp_path / "killed")
    base = proj.root / "results" / SWEEPS[0]
    round_1_logs = proj.root / "logs" / "train_round" / SWEEPS[0] / "1"
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"} | ENV
    proc = subprocess.Popen([sys.executable, "-m", "snakemake", "--cores", "4",
                             "results/summary.csv"], cwd=proj.root, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    try:
        deadline = time.monotonic() + 300
        while not any(round_1_logs.glob("*.log")) and proc.poll() is None and \
                time.monotonic() < deadline:
            time.sleep(0.05)
        assert any(round_1_logs.glob("*.log")) and proc.poll() is None, \
            "round 1 never started"
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # the whole process group, jobs included
        proc.wait()
    assert not (proj.root / "results" / "summary.csv").exists()  # killed mid-search
    round_0 = [base / "rounds" / "0" / "trials.json", base / "shards" / "0.json",
               *(run_dir(base, t["name"]) / "metrics.json"
                 for t in read_json(base / "rounds" / "0" / "trials.json")["trials"])]
    mtimes = {p: p.stat().st_mtime_ns for p in round_0}
    planned = proj.planned_jobs("results/summary.csv")
    assert ("overview", {}) in planned
    assert ("ask", {"dataset": "moons", "model": "logistic_regression", "round": "2"}) in planned
    assert [(rule, w) for rule, w in planned if rule in ("ask", "train_round") and
            w.get("round") == "0" and w["model"] == "logistic_regression"] == []
    proj.snakemake("--cores", "4", "results/summary.csv", env=ENV)
    assert {p: p.stat().st_mtime_ns for p in round_0} == mtimes  # round 0 not redone
    a, b = result_files(searched.root), result_files(proj.root)
    assert a.keys() == b.keys()
    assert [k for k in a if a[k] != b[k]] == []


def _children(root: Path, sweep: str) -> dict[str, str]:
    """Run name -> MLflow run id of the sweep's children (what its track job recorded)."""
    return read_json(root / "results" / sweep / "mlflow.json")["children"]


def logistic_only(n_trials: int) -> dict:
    """:func:`tpe_config` with the logistic-regression search alone."""
    config = tpe_config(n_trials=n_trials)
    del config["models"]["linear_regression"], config["datasets"]["line"]
    return config


def test_raising_n_trials_adds_rounds_and_leaves_the_earlier_ones_as_they_were(
        searched, tmp_path):
    proj = Project(tmp_path / "raised")
    proj.write_config(logistic_only(n_trials=6))
    proj.snakemake("--cores", "2", env=ENV)
    base = proj.root / "results" / SWEEPS[0]
    before = {p: (p.stat().st_mtime_ns, p.read_bytes()) for p in sorted(base.rglob("*"))
              if p.is_file() and p.parts[len(base.parts)] in ("runs", "rounds", "shards")}
    children = _children(proj.root, SWEEPS[0])
    assert len(records(base)) == 2 and len(children) == 6
    proj.write_config(logistic_only(n_trials=9))
    planned = proj.planned_jobs()
    asked = sorted(w["round"] for rule, w in planned if rule == "ask")
    trained = {w["round"] for rule, w in planned if rule == "train_round"}
    assert asked == ["2"] and trained <= {"2"}  # train_round jobs appear once asked
    assert [w["model"] for rule, w in planned if rule == "track"] == ["logistic_regression"]
    proj.snakemake("--cores", "2", env=ENV)
    after = {p: (p.stat().st_mtime_ns, p.read_bytes()) for p in before}
    assert after == before  # rounds 0 and 1: not a byte nor a time stamp changed
    raised = _children(proj.root, SWEEPS[0])
    assert len(raised) == 9
    assert {k: raised[k] for k in children} == children  # the same MLflow children
    # and the whole search is the one run at n_trials 9 from the start
    a, b = (result_files(root, sweeps=SWEEPS[:1]) for root in (searched.root, proj.root))
    assert [k for k in a if a.get(k) != b.get(k)] == []


def test_mlflow_has_one_child_per_run_with_its_round(searched):
    from mlflow import MlflowClient

    client = MlflowClient(f"sqlite:///{searched.root / 'mlflow.db'}")
    experiment = client.get_experiment_by_name("gdlab-test")
    for sweep, n in (("moons/logistic_regression", 9), ("line/linear_regression", 12)):
        dataset, model = sweep.split("/")
        base = searched.root / "results" / sweep
        children = _children(searched.root, sweep)
        assert len(children) == n
        for name, run_id in children.items():
            result = read_json(run_dir(base, name) / "metrics.json")
            assert client.get_run(run_id).data.tags["round"] == str(result["round"])
        [parent] = client.search_runs(
            [experiment.experiment_id], f"tags.`gdlab.sweep` = '{sweep}' and "
                                        f"tags.`gdlab.role` = 'sweep'")
        plots = {a.path for a in client.list_artifacts(parent.info.run_id, "plots")}
        assert "plots/optimisation_history.png" in plots
        assert "plots/heatmap.png" not in plots
        assert parent.data.tags["search.method"] == "tpe"
        assert parent.data.tags["search.batch"] == "3"
