"""Reruns on config and code changes, byte-identical reproducibility, surviving kill -9."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import Project, tiny_config
from test_mlflow_record import assert_sound

from gdlab import grid as G

pytestmark = pytest.mark.workflow

REPRODUCIBLE = ("metrics.json", "history.csv", "summary.csv")


def outputs(root: Path) -> dict[str, bytes]:
    """Relative path -> bytes of every file that must be reproducible."""
    return {str(p.relative_to(root)): p.read_bytes()
            for p in sorted((root / "results").rglob("*")) if p.name in REPRODUCIBLE}


def sweeps_touched(jobs) -> set[tuple[str, str]]:
    return {(w.get("dataset"), w.get("model")) for _, w in jobs if "model" in w}


@pytest.fixture
def ran(tmp_path, finished_project) -> Project:
    """A private copy of the finished tiny experiment, free to change."""
    proj = Project.clone(finished_project, tmp_path / "ran")
    assert proj.planned_jobs() == []
    return proj


def shards_of(config: dict, model: str) -> dict[str, int]:
    """Run name -> shard of every run of the model's sweep, as the workflow assigns them."""
    grid = config["models"][model]["grid"]
    names = [G.run_name(hp, grid) for hp in G.expand_grid(grid, model)]
    n = G.shard_count(len(names), config["train"]["shard_size"])
    return {name: G.shard_of(name, n) for name in names}


def test_adding_a_grid_value_reruns_only_the_shard_it_lands_in(ran):
    config = tiny_config()
    before = shards_of(config, "linear_regression")
    # a new lr whose two runs share a shard, and the shard count stays the same
    for lr in (0.2, 0.3, 0.4, 0.6, 0.7, 0.8, 0.9):
        config["models"]["linear_regression"]["grid"]["lr"] = [0.1, 3.0, lr]
        after = shards_of(config, "linear_regression")
        new = {after[n] for n in after if n not in before}
        if len(new) == 1 and max(after.values()) == max(before.values()):
            break
    else:
        pytest.fail("no candidate learning rate puts both new runs in one shard")
    ran.write_config(config)
    jobs = ran.planned_jobs()
    rules = sorted(rule for rule, _ in jobs)
    assert [w["shard"] for rule, w in jobs if rule == "train"] == [str(s) for s in new]
    assert "make_dataset" not in rules and "split" not in rules and "baseline" not in rules
    assert rules.count("summarize") == rules.count("plot") == rules.count("track") == 1
    assert sweeps_touched(jobs) == {("line", "linear_regression")}


def test_one_repeat_is_the_default_and_changes_nothing(ran):
    # repeats: 1 trains every point once, with the seed, name and files it always had
    config = tiny_config()
    config["repeats"] = 1
    config["models"]["logistic_regression"]["repeats"] = 1
    ran.write_config(config)
    assert ran.planned_jobs() == []


def test_dataset_change_reruns_that_datasets_chain_only(ran):
    config = tiny_config()
    config["datasets"]["line"]["noise"] = 0.5
    ran.write_config(config)
    jobs = ran.planned_jobs()
    assert {w["dataset"] for _, w in jobs if "dataset" in w} == {"line"}
    rules = [rule for rule, _ in jobs]
    assert rules.count("make_dataset") == 1 and rules.count("split") == 1
    shards = set(shards_of(tiny_config(), "linear_regression").values())
    assert rules.count("train") == len(shards)  # every run of that dataset's sweep


def test_swapped_values_are_seen(ran):
    # Snakemake compares params as an unnamed set of values; one canonical spec per job
    # makes swapping two values a change.
    config = tiny_config()
    config["split"]["test_size"], config["split"]["val_size"] = 0.25, 0.3
    ran.write_config(config)
    before = {rule for rule, _ in ran.planned_jobs()}
    assert "split" in before  # 0.25/0.25 -> 0.25/0.3 is a change, of course
    ran.snakemake("--cores", "2", "--until", "split")  # what the swap must be compared to
    config["split"]["test_size"], config["split"]["val_size"] = 0.3, 0.25
    ran.write_config(config)
    assert [r for r, _ in ran.planned_jobs()].count("split") == 2


def test_library_edits_rerun_exactly_the_jobs_that_use_the_code(ran):
    losses = ran.root / "src" / "gdlab" / "losses.py"
    original = losses.read_text()
    losses.write_text(original + "\n# a comment is not a code change\n")
    (ran.root / "README.md").write_text("# notes\n")
    assert ran.planned_jobs() == []

    losses.write_text(original + "\n\ndef unused_helper():\n    return None\n")
    jobs = ran.planned_jobs()
    rules = [rule for rule, _ in jobs]
    n_shards = sum(len(set(shards_of(tiny_config(), m).values()))
                   for m in ("linear_regression", "logistic_regression"))
    assert rules.count("train") == n_shards  # every training imports gdlab.losses
    assert "make_dataset" not in rules and "split" not in rules  # gdlab.data does not
    losses.write_text(original)
    assert ran.planned_jobs() == []

    summary = ran.root / "src" / "gdlab" / "summary.py"
    original = summary.read_text()
    summary.write_text(original + "\n\nUNUSED = 1\n")
    rules = [rule for rule, _ in ran.planned_jobs()]
    assert "train" not in rules and rules.count("summarize") == 2
    summary.write_text(original)

    # the CSV reader: no job of a synthetic dataset runs it, so nothing reruns at all
    csv_reader = ran.root / "src" / "gdlab" / "data" / "csv_file.py"
    source = csv_reader.read_text()
    edited = source.replace('f"missing value {raw!r}"', 'f"a missing value: {raw!r}"')
    assert edited != source  # an error message changes: a real code change
    csv_reader.write_text(edited)
    assert ran.planned_jobs() == []

    # a model that no sweep uses: no training reruns
    mlp = ran.root / "src" / "gdlab" / "models" / "mlp.py"
    mlp.write_text(mlp.read_text() + "\n\nUNUSED = 1\n")
    assert ran.planned_jobs() == []

    # plotting code: the figures are drawn again (and re-sent to MLflow), nothing else but
    # the table of what each job cost
    figures = ran.root / "src" / "gdlab" / "figures" / "sweep.py"
    figures.write_text(figures.read_text() + "\n\nUNUSED = 1\n")
    rules = sorted({rule for rule, _ in ran.planned_jobs()})
    assert rules == ["all", "costs", "plot", "track"]


def test_runs_are_byte_identical_whatever_the_sharding(tmp_path, finished_project):
    """One shard per sweep, about one run per shard, and the tiny config's own sharding:
    every run file but timing.json (wall-clock times) has the same bytes."""
    def run_files(root: Path) -> dict[str, bytes]:
        return {str(p.relative_to(root)): p.read_bytes()
                for p in sorted(root.glob("results/*/*/runs/**/*"))
                if p.is_file() and p.name != "timing.json"}

    reference = run_files(finished_project.root)
    assert len(reference) == 3 * 8  # model.npz, history.csv, metrics.json of 8 runs
    for shard_size in (1, 100):
        config = tiny_config()
        config["train"]["shard_size"] = shard_size
        proj = Project(tmp_path / f"shard_size_{shard_size}")
        proj.write_config(config)
        proj.snakemake("--cores", "2", "--until", "train")
        manifests = list(proj.root.glob("results/*/*/shards/*.json"))
        assert len(manifests) == sum(len(set(shards_of(config, m).values()))
                                     for m in ("linear_regression", "logistic_regression"))
        assert len(manifests) == 2 if shard_size == 100 else len(manifests) > 4
        assert run_files(proj.root) == reference


def test_cores_do_not_change_a_single_byte(tmp_path, finished_project):
    other = Project(tmp_path / "cores4")
    other.write_config(tiny_config())
    other.snakemake("--cores", "4", "results/summary.csv")  # the files compared, no figures
    a, b = outputs(finished_project.root), outputs(other.root)
    assert len(a) > 8 and a.keys() == b.keys()
    assert [k for k in a if a[k] != b[k]] == []


def test_a_broken_dataset_does_not_stop_the_others_with_keep_going(project):
    config = tiny_config()
    (project.root / "broken.csv").write_text("x,y\n" + "".join(
        f"{i},{i % 2}\n" for i in range(5)) + "oops,1\n" + "".join(
        f"{i},{i % 2}\n" for i in range(10)))
    config["datasets"]["broken"] = {"task": "classification", "source": "csv",
                                    "path": "broken.csv", "target": "y"}
    project.write_config(config)
    targets = ["results/line/linear_regression/best.json",
               "results/moons/logistic_regression/best.json", "data/broken/split.npz"]
    proc = project.snakemake("--cores", "2", "--keep-going", *targets, check=False)
    assert proc.returncode != 0
    assert "broken.csv" in proc.stdout + proc.stderr
    for dataset, model in (("line", "linear_regression"), ("moons", "logistic_regression")):
        assert (project.root / f"results/{dataset}/{model}/best.json").exists()
    assert not (project.root / "results/broken").exists()


def _deleted_runs(root: Path) -> list[str]:
    """The status of every run a sync soft-deleted in the project's SQLite store."""
    with sqlite3.connect(root / "mlflow.db") as db:
        return [s for (s,) in db.execute(
            "SELECT status FROM runs WHERE lifecycle_stage = 'deleted'").fetchall()]


@pytest.mark.parametrize("when", ["training", "tracking"])
def test_kill_9_then_rerun_equals_a_clean_run(project, finished_project, when):
    root = project.root
    proc = subprocess.Popen(
        [sys.executable, "-m", "snakemake", "--cores", "2"], cwd=root,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
        env={k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"})
    marker = {"training": lambda: len(list((root / "results").rglob("metrics.json"))) >= 3,
              # a track job has imported mlflow and is writing runs
              "tracking": lambda: any("import mlflow" in p.read_text()
                                      for p in root.glob("logs/track*/**/*.log"))}[when]
    deadline = time.monotonic() + 300
    try:
        while not marker() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # snakemake and every job it started
        proc.wait()

    project.snakemake("--cores", "4")  # the default profile passes --rerun-incomplete
    assert project.planned_jobs() == []
    assert outputs(root) == outputs(finished_project.root)

    assert_sound(project)  # every run exactly once, complete, none RUNNING or PENDING
    # a run cut off mid-sync was marked FAILED before it was soft-deleted
    assert "RUNNING" not in _deleted_runs(root)
