"""Training a shard: each run computed exactly as if alone, its files and manifest."""

from __future__ import annotations

import json

import pytest

from gdlab.data import make_synthetic, save_split, split_dataset
from gdlab.grid import expand_grid, run_name, stable_hash
from gdlab.runfiles import RUN_FILES, read_manifest, run_content_key, run_dir
from gdlab.train import train_shard

GRID = {"lr": [0.1, 0.5, 50.0], "l2": [0.0, 0.1], "optimizer": ["gd", "adam"], "epochs": [12]}


@pytest.fixture(scope="module")
def shard(tmp_path_factory):
    root = tmp_path_factory.mktemp("shard")
    ds = make_synthetic("moons", n_samples=80, n_features=2, noise=0.2, seed=3)
    split = split_dataset(ds, test_size=0.25, val_size=0.25, seed=4, stratify=True,
                          standardize=True)
    save_split(root / "split.npz", split)
    specs = []
    for i, hp in enumerate(expand_grid(GRID, "logistic_regression")):
        name = run_name(hp, GRID)
        specs.append({"dataset": "moons", "model": "logistic_regression",
                      "task": "classification", "run_name": name, "hyperparameters": hp,
                      "seed": 100 + i, "data_key": "k", "code_version": "c",
                      "run_key": stable_hash(name)})
    return root, specs


def _files(sweep_dir, names) -> dict[str, bytes]:
    return {f"{n}/{f}": (run_dir(sweep_dir, n) / f).read_bytes()
            for n in names for f in RUN_FILES if f != "timing.json"}


def test_runs_trained_together_equal_runs_trained_alone(shard, tmp_path):
    root, specs = shard
    names = [s["run_name"] for s in specs]
    together = train_shard({"dataset": "moons", "model": "logistic_regression", "shard": "0",
                            "runs": specs[::-1]},  # order of the specs does not matter
                           root / "split.npz", tmp_path / "one", tmp_path / "one.json")
    for i, spec in enumerate(specs):
        train_shard({"dataset": "moons", "model": "logistic_regression", "shard": str(i),
                     "runs": [spec]}, root / "split.npz", tmp_path / "alone",
                    tmp_path / f"alone-{i}.json")
    assert _files(tmp_path / "one", names) == _files(tmp_path / "alone", names)
    assert any(json.loads((run_dir(tmp_path / "one", n) / "metrics.json").read_text())[
        "diverged"] for n in names)  # a diverging run in the middle changes nothing
    assert list(together["runs"]) == sorted(names)
    assert read_manifest(tmp_path / "one.json") == together


def test_the_manifest_holds_each_runs_keys(shard, tmp_path):
    root, specs = shard
    manifest = train_shard({"dataset": "moons", "model": "logistic_regression", "shard": "3",
                            "runs": specs}, root / "split.npz", tmp_path, tmp_path / "m.json")
    assert (manifest["dataset"], manifest["model"], manifest["shard"]) == (
        "moons", "logistic_regression", "3")
    for spec in specs:
        entry = manifest["runs"][spec["run_name"]]
        assert entry["run_key"] == spec["run_key"]
        # the content key read back from the files equals the one the job computed
        assert entry["content_key"] == run_content_key(run_dir(tmp_path, spec["run_name"]))
    keys = [e["content_key"] for e in manifest["runs"].values()]
    assert len(set(keys)) == len(keys)


def test_the_content_key_ignores_the_code_version_but_not_the_results(shard, tmp_path):
    root, specs = shard
    spec = specs[0]
    recoded = {**spec, "code_version": "other", "run_key": "other"}
    a = train_shard({"dataset": "d", "model": "m", "shard": "0", "runs": [spec]},
                    root / "split.npz", tmp_path / "a", tmp_path / "a.json")
    b = train_shard({"dataset": "d", "model": "m", "shard": "0", "runs": [recoded]},
                    root / "split.npz", tmp_path / "b", tmp_path / "b.json")
    name = spec["run_name"]
    assert a["runs"][name]["content_key"] == b["runs"][name]["content_key"]
    reseeded = {**spec, "hyperparameters": {**spec["hyperparameters"], "epochs": 11}}
    c = train_shard({"dataset": "d", "model": "m", "shard": "0", "runs": [reseeded]},
                    root / "split.npz", tmp_path / "c", tmp_path / "c.json")
    assert c["runs"][name]["content_key"] != a["runs"][name]["content_key"]


def test_a_run_trained_before_from_the_same_spec_is_reused_not_refit(shard, tmp_path):
    """A grid edit or a new shard count reruns shards; their unchanged runs keep their
    files (timing.json included: they were not trained again), a changed spec is refit."""
    root, specs = shard
    job = {"dataset": "moons", "model": "logistic_regression", "shard": "0", "runs": specs}
    logs = []
    first = train_shard(job, root / "split.npz", tmp_path, tmp_path / "a.json",
                        log=logs.append)
    before = _files(tmp_path, [s["run_name"] for s in specs])
    timing = {s["run_name"]: (run_dir(tmp_path, s["run_name"]) / "timing.json").read_bytes()
              for s in specs}
    changed = {**specs[0], "seed": specs[0]["seed"] + 1, "run_key": "another"}
    again = train_shard({**job, "runs": [changed, *specs[1:]]}, root / "split.npz", tmp_path,
                        tmp_path / "b.json", log=logs.append)
    assert f"trained 1 runs, reused {len(specs) - 1}" in logs[-1]
    after = _files(tmp_path, [s["run_name"] for s in specs])
    name = specs[0]["run_name"]
    assert {k: v for k, v in after.items() if not k.startswith(name + "/")} == {
        k: v for k, v in before.items() if not k.startswith(name + "/")}
    assert all((run_dir(tmp_path, n) / "timing.json").read_bytes() == t
               for n, t in timing.items() if n != name)
    assert again["runs"][name]["run_key"] == "another"
    assert {n: e for n, e in again["runs"].items() if n != name} == {
        n: e for n, e in first["runs"].items() if n != name}


def test_a_run_folder_of_another_project_is_not_adopted(shard, tmp_path):
    """The same run name trained with another seed (another project's folder copied in):
    its files are whole, but its run key is not the one the shard manifest recorded."""
    from gdlab.runfiles import DamagedRunFile, read_sweep

    root, specs = shard
    spec = specs[0]
    ours = train_shard({"dataset": "moons", "model": "logistic_regression", "shard": "0",
                        "runs": [spec]}, root / "split.npz", tmp_path / "ours",
                       tmp_path / "ours" / "shards" / "0.json")
    other = {**spec, "seed": 999, "run_key": stable_hash("other")}
    train_shard({"dataset": "moons", "model": "logistic_regression", "shard": "0",
                 "runs": [other]}, root / "split.npz", tmp_path / "theirs",
                tmp_path / "theirs.json")
    mine, theirs = run_dir(tmp_path / "ours", spec["run_name"]), \
        run_dir(tmp_path / "theirs", spec["run_name"])
    for f in RUN_FILES:
        (mine / f).write_bytes((theirs / f).read_bytes())
    assert ours["runs"][spec["run_name"]]["run_key"] == spec["run_key"]
    with pytest.raises(DamagedRunFile, match="another run's .*another project"):
        read_sweep(tmp_path / "ours", [tmp_path / "ours" / "shards" / "0.json"])


def test_metrics_json_scores_each_run_by_the_tail_of_its_history_csv(shard, tmp_path):
    """The tail record is the mean of history.csv's last fifth of rows (read back with
    the csv module: an independent reading of the file the run wrote)."""
    import csv
    import math

    root, specs = shard
    train_shard({"dataset": "moons", "model": "logistic_regression", "shard": "0",
                 "runs": specs[:2]}, root / "split.npz", tmp_path, tmp_path / "m.json")
    for spec in specs[:2]:
        d = run_dir(tmp_path, spec["run_name"])
        rows = list(csv.DictReader((d / "history.csv").read_text().splitlines()))
        tail = json.loads((d / "metrics.json").read_text())["tail"]
        k = math.ceil(len(rows) / 5)
        assert tail["epochs"] == k
        for name in ("log_loss", "accuracy"):
            expect = math.fsum(float(r[f"val_{name}"]) for r in rows[-k:]) / k
            assert tail["val"][name] == pytest.approx(expect, rel=1e-12)
