"""A random search and repeats through the whole pipeline: files, summaries, figures and
MLflow; raising n_trials only adds runs (their shards alone retrain, MLflow keeps the first
trials' child runs)."""

from __future__ import annotations

import csv
import json
import shutil
import sqlite3
from contextlib import closing
from pathlib import Path

import pytest
from conftest import Project, tiny_config
from scipy import stats as sps

from gdlab import grid as G
from gdlab.io import read_json
from gdlab.methods import random as R

pytestmark = [pytest.mark.workflow, pytest.mark.mlflow]

ENV = {"MLFLOW_DISABLE_TELEMETRY": "true"}
SEARCH = {"method": "random", "n_trials": 4, "seed": 11,
          "space": {"lr": {"loguniform": [0.05, 50.0]}, "l2": {"uniform": [0.0, 0.1]},
                    "epochs": {"choice": [15]}}}


def search_config(n_trials: int = 4) -> dict:
    """Logistic regression searched (4 trials, 2 shards); linear regression's grid of two
    points with mini-batches (the seed orders them), each repeated 3 times."""
    config = tiny_config()
    config["models"]["logistic_regression"] = {"search": {**SEARCH, "n_trials": n_trials}}
    config["models"]["linear_regression"] = {
        "grid": {"lr": [0.1], "l2": [0.0, 0.1], "epochs": [15], "batch_size": [8]},
        "repeats": 3}
    return config


def read_csv(path: Path) -> list[dict]:
    with open(path, encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def runs_in_store(root: Path) -> dict[str, dict]:
    """Run id -> {name, lifecycle, tags} of every run in the project's SQLite store."""
    # closed on leaving (sqlite3's own context manager only commits): an open connection
    # keeps mlflow.db-wal, which vanishes under a Project.clone copying the directory
    with closing(sqlite3.connect(root / "mlflow.db")) as db:
        runs = {rid: {"name": name, "stage": stage, "artifact_uri": uri, "tags": {}}
                for rid, name, stage, uri in db.execute(
                    "SELECT run_uuid, name, lifecycle_stage, artifact_uri FROM runs")}
        for rid, key, value in db.execute("SELECT run_uuid, key, value FROM tags"):
            runs[rid]["tags"][key] = value
        for rid, key, value in db.execute("SELECT run_uuid, key, value FROM latest_metrics"):
            runs[rid].setdefault("metrics", {})[key] = value
    return runs


SEARCH_FIGURES = {"learning_curves.png", "convergence.png", "parallel_coordinates.png",
                  "importance.png"}


def parent_figures(root: Path, model: str) -> tuple[str, set[str]]:
    """The id of the model's sweep parent and the figures among its artifacts."""
    [(run_id, parent)] = [(rid, r) for rid, r in runs_in_store(root).items()
                          if r["tags"].get("gdlab.role") == "sweep" and r["stage"] == "active"
                          and r["tags"]["model"] == model]
    folder = Path(parent["artifact_uri"].removeprefix("file://")) / "plots"
    return run_id, {p.name for p in folder.glob("*.png")}


def children_of(root: Path, dataset: str, model: str) -> dict[str, str]:
    """Run name -> child id, from the sweep's track record."""
    return read_json(root / "results" / dataset / model / "mlflow.json")["children"]


@pytest.fixture(scope="module")
def searched(tmp_path_factory) -> Project:
    proj = Project(tmp_path_factory.mktemp("searched") / "project")
    proj.write_config(search_config())
    proj.snakemake("--cores", "2", env=ENV)
    return proj


def test_a_random_search_runs_end_to_end(searched):
    sweep = searched.root / "results" / "moons" / "logistic_regression"
    trials = R.search_trials(SEARCH, "logistic_regression", 7)
    names = sorted(p.parent.relative_to(sweep / "runs").as_posix()
                   for p in (sweep / "runs").rglob("metrics.json"))
    assert names == [name for name, _ in trials]
    for name, hp in trials:
        result = read_json(sweep / "runs" / name / "metrics.json")
        assert result["hyperparameters"] == hp  # the drawn values, not the name's rounding
        assert result["seed"] == G.derive_seed(7, "moons", "logistic_regression", hp)
    # every trial has its own l2, so its own scikit-learn reference
    assert len(read_json(sweep / "baseline.json")["references"]) == 4
    assert {r["config"] for r in read_csv(sweep / "configs.csv")} == set(names)
    assert read_json(sweep / "best.json")["run_name"] in names
    plots = {p.name for p in (sweep / "plots").glob("*.png")}
    assert plots == {"learning_curves.png", "convergence.png", "parallel_coordinates.png",
                     "importance.png"}  # no heatmap: the trials form no grid
    assert (searched.root / "results/line/linear_regression/plots/heatmap.png").is_file()

    store = runs_in_store(searched.root)
    [parent] = [r for r in store.values() if r["tags"].get("gdlab.role") == "sweep"
                and r["tags"]["model"] == "logistic_regression"]
    tags = parent["tags"]
    assert (tags["search.method"], tags["search.n_trials"], tags["search.seed"]) == (
        "random", "4", "11")
    assert json.loads(tags["search.space.lr"]) == {"loguniform": [0.05, 50.0]}
    assert not [k for k in tags if k.startswith("grid.")]
    assert tags["n_configs"] == "4"
    # the parent holds the sweep's figures, the sweep views among them
    artifacts = Path(parent["artifact_uri"].removeprefix("file://")) / "plots"
    assert {p.name for p in artifacts.glob("*.png")} == plots
    for name in ("parallel_coordinates.png", "importance.png"):
        assert (artifacts / name).read_bytes() == (sweep / "plots" / name).read_bytes()


def test_a_figure_an_earlier_sweep_left_is_not_attached_to_the_parent(searched, tmp_path):
    """The model was gridded before it was searched: the grid's heatmap.png is still in
    plots/ (no rule of a search writes or removes it). The parent gets the figures the
    plot rule declares for the search, the sweep stays the one on record."""
    proj = Project.clone(searched, tmp_path / "stale")
    sweep = proj.root / "results" / "moons" / "logistic_regression"
    shutil.copy2(proj.root / "results/line/linear_regression/plots/heatmap.png",
                 sweep / "plots" / "heatmap.png")
    before = read_json(sweep / "mlflow.json")
    proj.snakemake("--cores", "1", "--forcerun", "track",
                   "results/moons/logistic_regression/mlflow.json", env=ENV)
    after = read_json(sweep / "mlflow.json")
    assert after == {**before, "updated": False}  # the same sweep key: nothing new to log
    assert parent_figures(proj.root, "logistic_regression")[1] == SEARCH_FIGURES


def test_searching_a_gridded_model_takes_the_grids_heatmap_off_its_parent(finished_project,
                                                                        tmp_path):
    """A user grids a model, then searches it: the sweep's MLflow parent shows no heatmap,
    since a search has none (a new parent, as the best run changed: the old one, with the
    grid's curves and heatmap, is deleted). The file stays in plots/ (no rule of a search
    writes or removes it)."""
    proj = Project.clone(finished_project, tmp_path / "project")  # the tiny grids, run
    config = proj.config()
    parent, figures = parent_figures(proj.root, "logistic_regression")
    assert figures == SEARCH_FIGURES | {"heatmap.png"}

    config["models"]["logistic_regression"] = {"search": {**SEARCH, "n_trials": 2}}
    proj.write_config(config)
    proj.snakemake("--cores", "2", env=ENV)
    now, figures = parent_figures(proj.root, "logistic_regression")
    assert figures == SEARCH_FIGURES
    assert now == parent or runs_in_store(proj.root)[parent]["stage"] == "deleted"
    assert (proj.root / "results/moons/logistic_regression/plots/heatmap.png").is_file()


def test_repeats_run_end_to_end_with_means_and_intervals(searched):
    sweep = searched.root / "results" / "line" / "linear_regression"
    rows = read_csv(sweep / "summary.csv")
    assert len(rows) == 6
    by_config: dict[str, list[dict]] = {}
    for row in rows:
        assert row["run_name"] == f"{row['config']}/repeat~{row['repeat']}"
        by_config.setdefault(row["config"], []).append(row)
    assert sorted(by_config) == ["batch_size~8/epochs~15/l2~0.0/lr~0.1",
                                 "batch_size~8/epochs~15/l2~0.1/lr~0.1"]
    for group in by_config.values():
        results = [read_json(sweep / "runs" / r["run_name"] / "metrics.json") for r in group]
        hp = results[0]["hyperparameters"]
        seed = G.derive_seed(7, "line", "linear_regression", hp)
        assert [r["seed"] for r in results] == [G.repeat_seed(seed, k) for k in range(3)]
        assert len({r["metrics"]["val"]["mse"] for r in results}) == 3  # batch orders differ
    configs = {r["config"]: r for r in read_csv(sweep / "configs.csv")}
    for config, group in by_config.items():
        vals = [float(r["val_mse"]) for r in group]
        lo, hi = sps.t.interval(0.95, 2, loc=sum(vals) / 3, scale=sps.sem(vals))
        row = configs[config]
        assert row["repeats"] == "3"
        assert float(row["val_mse"]) == pytest.approx(sum(vals) / 3, rel=1e-14)
        assert float(row["val_mse_ci_low"]) == pytest.approx(lo, rel=1e-12)
        assert float(row["val_mse_ci_high"]) == pytest.approx(hi, rel=1e-12)
    best = read_json(sweep / "best.json")

    def score(r):  # a run's score: settled first, then its mean over the last epochs
        return (r["oscillating"] == "true", float(r["tail_val_mse"]))

    chosen = min(by_config, key=lambda c: (any(score(r)[0] for r in by_config[c]),
                                           sum(score(r)[1] for r in by_config[c])))  # mean
    assert best["config"]["name"] == chosen and configs[chosen]["best"] == "true"
    assert best["run_name"] == min(by_config[chosen], key=score)["run_name"]
    overview = {r["model"]: r for r in read_csv(searched.root / "results" / "summary.csv")}
    assert overview["linear_regression"]["best_config"] == chosen
    assert float(overview["linear_regression"]["val_mse_mean"]) == pytest.approx(
        float(configs[chosen]["val_mse"]))
    assert (sweep / "plots" / "heatmap.png").is_file()

    store = runs_in_store(searched.root)
    children = {r["tags"]["gdlab.run"]: r for r in store.values()
                if r["stage"] == "active" and r["tags"].get("gdlab.role") == "run"
                and r["tags"]["model"] == "linear_regression"}
    # named by what varies in the sweep: l2 and the repeat
    assert {r["name"] for r in children.values()} == {
        f"l2={l2} r{k}" for l2 in ("0", "0.1") for k in range(3)}
    assert set(children) == {r["run_name"] for r in rows}
    for row in rows:
        tags = children[row["run_name"]]["tags"]
        assert (tags["config"], tags["repeat"]) == (row["config"], row["repeat"])
    [parent] = [r for r in store.values() if r["tags"].get("gdlab.role") == "sweep"
                and r["tags"]["model"] == "linear_regression"]
    assert parent["tags"]["repeats"] == "3" and parent["tags"]["best.config"] == chosen
    assert parent["metrics"]["summary/config_val_mse_mean"] == pytest.approx(
        float(configs[chosen]["val_mse"]))
    assert parent["metrics"]["summary/config_test_mse_ci_high"] == pytest.approx(
        float(configs[chosen]["test_mse_ci_high"]))
    artifacts = Path(parent["artifact_uri"].removeprefix("file://"))
    assert (artifacts / "configs.csv").read_bytes() == (sweep / "configs.csv").read_bytes()
    assert parent["tags"]["n_configs"] == "2" and parent["tags"]["n_runs"] == "6"


def test_raising_n_trials_only_adds_runs(searched, tmp_path):
    proj = Project.clone(searched, tmp_path / "more")
    sweep = proj.root / "results" / "moons" / "logistic_regression"
    before = children_of(proj.root, "moons", "logistic_regression")
    first = {name: {f: (sweep / "runs" / name / f).read_bytes()
                    for f in ("metrics.json", "model.npz", "timing.json")} for name in before}
    old = [name for name, _ in R.search_trials(SEARCH, "logistic_regression", 7)]
    new = [name for name, _ in R.search_trials({**SEARCH, "n_trials": 5},
                                               "logistic_regression", 7)]
    assert new[:4] == old and sorted(before) == sorted(old)
    assert G.shard_count(5, 3) == G.shard_count(4, 3) == 2  # the sharding stays
    added_shard = str(G.shard_of(new[4], 2))

    proj.write_config(search_config(n_trials=5))
    jobs = proj.planned_jobs()
    trains = [(w["model"], w["shard"]) for rule, w in jobs if rule == "train"]
    assert trains == [("logistic_regression", added_shard)]
    assert [w["model"] for rule, w in jobs if rule == "track"] == ["logistic_regression"]
    assert not [w for _, w in jobs if w.get("model") == "linear_regression"]

    proj.snakemake("--cores", "2", env=ENV)
    after = children_of(proj.root, "moons", "logistic_regression")
    assert sorted(after) == sorted(new)
    assert {name: after[name] for name in old} == before  # the same MLflow child runs
    store = runs_in_store(proj.root)
    assert all(store[before[name]]["stage"] == "active" for name in old)
    for name, files in first.items():  # not retrained: every byte, timing included
        assert {f: (sweep / "runs" / name / f).read_bytes() for f in files} == files
    assert len(read_csv(sweep / "configs.csv")) == 5
