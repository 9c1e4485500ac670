"""The Snakemake pipeline on a tiny config: the jobs it plans, the files it writes, the run
it picks, CSV input (good and bad) and diverging grid points."""

from __future__ import annotations

import csv
import itertools
import json
import math
from pathlib import Path

import numpy as np
import pytest
from conftest import REPO, TINY_CONFIG, Project, tiny_config

from gdlab.data import load_dataset

pytestmark = pytest.mark.workflow

#: the sweeps of the tiny config: (dataset, model) -> its task's selection metric
TINY_SWEEPS = {("line", "linear_regression"): "mse", ("moons", "logistic_regression"): "log_loss"}
METRICS = {
    "regression": {"mse", "rmse", "mae", "r2"},
    "classification": {"accuracy", "log_loss", "precision", "recall", "f1", "roc_auc"},
}
METRICS_JSON_KEYS = {
    "dataset", "model", "task", "run_name", "hyperparameters", "seed", "data_key",
    "code_version", "run_key", "n_epochs", "diverged", "converged", "final_objective", "metrics",
}
RUN_FILES = ("model.npz", "history.csv", "metrics.json", "timing.json")
#: grid points of the tiny config that blow up: (dataset, model) -> run names
DIVERGING = {
    ("line", "linear_regression"): {"epochs~15/l2~0.0/lr~3.0", "epochs~15/l2~0.1/lr~3.0"},
    # the log-loss gradient is bounded: only the L2 term can blow up, so l2 = 0 survives lr 200
    ("moons", "logistic_regression"): {"epochs~15/l2~0.1/lr~200.0"},
}


def read_csv(path: Path) -> list[dict]:
    with open(path, encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def read_json(path: Path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def sweep_dir(project: Project, dataset: str, model: str) -> Path:
    return project.root / "results" / dataset / model


def run_dirs(project: Project, dataset: str, model: str) -> dict[str, Path]:
    """Run name -> directory, for every run directory the sweep wrote."""
    runs = sweep_dir(project, dataset, model) / "runs"
    return {str(p.parent.relative_to(runs)): p.parent for p in runs.rglob("metrics.json")}


def n_shards(project: Project, dataset: str, model: str) -> int:
    """Shards of a sweep of the project's config, computed as the workflow does."""
    from gdlab.grid import expand_grid, run_name, shard_count, shard_of

    config = project.config()
    grid = config["models"][model]["grid"]
    names = [run_name(hp, grid) for hp in expand_grid(grid, model)]
    n = shard_count(len(names), config["train"]["shard_size"])
    return len({shard_of(name, n) for name in names})


def expected_run_names(grid: dict) -> set[str]:
    """``key~value/...`` over the grid's keys in sorted order, one per grid point."""
    keys = sorted(grid)
    return {"/".join(f"{k}~{float(v)!r}" if k != "epochs" else f"{k}~{v}"
                     for k, v in zip(keys, combo, strict=True))
            for combo in itertools.product(*(grid[k] for k in keys))}


def job_stats(text: str) -> dict[str, int]:
    """Rule -> job count from the "Job stats" table of Snakemake's output."""
    lines = text.split("Job stats:", 1)[1].splitlines()
    counts = {}
    for line in lines[3:]:  # skip the rest of the heading line, the header and the rule
        parts = line.split()
        if len(parts) != 2 or not parts[1].isdigit():
            break
        counts[parts[0]] = int(parts[1])
    return counts


def is_finite_number(v) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)


# ------------------------------------------------------------------------------------------
# 1. The plan
# ------------------------------------------------------------------------------------------


def test_dry_run_plans_one_train_job_per_grid_point_of_every_sweep(project):
    (project.root / "points.csv").write_text(
        "a,b,label\n" + "".join(f"{i},{i % 3},{'yes' if i % 2 else 'no'}\n" for i in range(20)))
    config = tiny_config()
    config["datasets"]["diab"] = {"task": "regression", "source": "sklearn", "name": "diabetes"}
    config["datasets"]["points"] = {"task": "classification", "source": "csv",
                                    "path": "points.csv", "target": "label"}
    config["models"] = {
        # lr written as YAML writes 1e-3 unquoted: a string that must be read as 0.001
        "linear_regression": {"grid": {"lr": ["1e-3", 0.1, 1.0], "l2": [0.0, 0.5],
                                       "epochs": [5]}},
        "logistic_regression": {"grid": {"lr": [0.5], "optimizer": ["gd", "momentum", "adam"],
                                         "epochs": [5, 10]}},
    }
    project.write_config(config)
    proc = project.snakemake("-n")
    jobs = job_stats(proc.stdout)
    grid_size = {"linear_regression": 3 * 2, "logistic_regression": 3 * 2}
    sweeps = [("diab", "linear_regression"), ("line", "linear_regression"),
              ("moons", "logistic_regression"), ("points", "logistic_regression")]
    assert sum(grid_size[model] for _, model in sweeps) == 24
    assert jobs["train"] == sum(n_shards(project, *sweep) for sweep in sweeps) > len(sweeps)
    assert jobs["make_dataset"] == jobs["split"] == len(config["datasets"]) == 4
    assert jobs["baseline"] == jobs["summarize"] == len(sweeps)
    for dataset, model in sweeps:
        assert f"results/{dataset}/{model}/best.json" in proc.stdout
    assert jobs["track"] == len(sweeps) and jobs["mlflow_setup"] == 1
    # "1e-3" was read as the number 0.001: it names no run (tests/test_config.py checks the
    # coercion itself); a dry run lists shards, whose specs hold the runs
    assert "1e-3" not in proc.stdout


def test_dry_run_of_the_tiny_config(project):
    jobs = project.jobs_to_run()
    shards = {sweep: n_shards(project, *sweep) for sweep in TINY_SWEEPS}
    assert all(n >= 1 for n in shards.values())
    for rule, n in {"make_dataset": 2, "split": 2, "train": sum(shards.values()),
                    "baseline": 2, "summarize": 2, "plot": 2, "mlflow_setup": 1,
                    "track": 2}.items():
        assert jobs.get(rule) == n, (rule, jobs)


# ------------------------------------------------------------------------------------------
# 2. What a run writes
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("dataset, model", TINY_SWEEPS)
def test_one_complete_run_directory_per_grid_point(finished_project, dataset, model):
    grid = TINY_CONFIG["models"][model]["grid"]
    runs = run_dirs(finished_project, dataset, model)
    assert set(runs) == expected_run_names(grid)
    assert len(runs) == math.prod(len(v) for v in grid.values())
    for name, path in runs.items():
        missing = [f for f in RUN_FILES if not (path / f).is_file()]
        assert not missing, (name, missing)
        assert not list(path.glob(".*.tmp")), "a temporary file was left behind"


@pytest.mark.parametrize("dataset, model", TINY_SWEEPS)
def test_every_metrics_json_is_complete(finished_project, dataset, model):
    task = TINY_CONFIG["datasets"][dataset]["task"]
    for name, path in run_dirs(finished_project, dataset, model).items():
        m = read_json(path / "metrics.json")
        assert METRICS_JSON_KEYS <= set(m), (name, METRICS_JSON_KEYS - set(m))
        assert (m["dataset"], m["model"], m["task"], m["run_name"]) == (dataset, model, task,
                                                                        name)
        hp = m["hyperparameters"]
        assert name == f"epochs~{hp['epochs']}/l2~{hp['l2']!r}/lr~{hp['lr']!r}"
        assert set(m["metrics"]) == {"train", "val", "test"}
        for part, values in m["metrics"].items():
            assert set(values) == METRICS[task], (name, part)
            if not m["diverged"]:
                bad = {k: v for k, v in values.items() if not is_finite_number(v)}
                assert not bad, (name, part, bad)
        assert isinstance(m["diverged"], bool) and isinstance(m["converged"], bool)
        if not m["diverged"]:
            # tol is unset in the tiny grid, so a healthy run trains every epoch
            assert m["n_epochs"] == hp["epochs"]
            assert is_finite_number(m["final_objective"])
        assert 1 <= m["n_epochs"] <= hp["epochs"]
        history = read_csv(path / "history.csv")
        assert len(history) == m["n_epochs"], name
        assert [int(r["epoch"]) for r in history] == list(range(1, m["n_epochs"] + 1))
        assert "train_objective" in history[0]
        if not m["diverged"]:
            assert float(history[-1]["train_objective"]) == pytest.approx(m["final_objective"])


@pytest.mark.parametrize("dataset, model", TINY_SWEEPS)
def test_the_best_run_has_the_best_validation_metric_among_healthy_runs(
        finished_project, dataset, model):
    metric = TINY_SWEEPS[(dataset, model)]
    sweep = sweep_dir(finished_project, dataset, model)
    rows = read_csv(sweep / "summary.csv")
    best = read_json(sweep / "best.json")
    assert len(rows) == len(run_dirs(finished_project, dataset, model))
    healthy = [r for r in rows if r["diverged"] == "false"]
    # the mean over the last epochs (lower is better), settled runs before oscillating ones
    expected = min(healthy, key=lambda r: (r["oscillating"] == "true",
                                           float(r[f"tail_val_{metric}"])))
    assert best["run_name"] == expected["run_name"]
    assert best["selection_metric"] == f"val_{metric}"
    assert [r["run_name"] for r in rows if r["best"] == "true"] == [best["run_name"]]
    # best.json reports that run's own metrics, test included
    run = read_json(sweep / "runs" / best["run_name"] / "metrics.json")
    assert best["metrics"] == run["metrics"] and best["run_key"] == run["run_key"]


def test_the_best_run_is_chosen_on_validation_not_test_and_never_a_diverged_one(
        finished_project, tmp_path):
    """Doctor a finished sweep's metrics so that train, validation and test each favour a
    different run (and a diverged run looks best of all), then let summarize choose."""
    project = Project.clone(finished_project, tmp_path / "project")
    runs = run_dirs(project, "moons", "logistic_regression")
    chosen = {  # run -> (train, val, test) log_loss, and diverged
        "epochs~15/l2~0.0/lr~0.5": (0.9, 0.2, 0.9, False),    # best on validation
        "epochs~15/l2~0.1/lr~0.5": (0.1, 0.3, 0.8, False),    # best on train
        "epochs~15/l2~0.0/lr~200.0": (0.8, 0.4, 0.05, False),  # best on test
        "epochs~15/l2~0.1/lr~200.0": (0.01, 0.01, 0.01, True),  # diverged: never chosen
    }
    assert set(chosen) == set(runs)
    for name, (train, val, test, diverged) in chosen.items():
        path = runs[name] / "metrics.json"
        m = read_json(path)
        for part, value in (("train", train), ("val", val), ("test", test)):
            m["metrics"][part]["log_loss"] = value
        m["tail"]["val"]["log_loss"], m["tail"]["oscillating"] = val, False  # what ranks
        m["diverged"] = diverged
        path.write_text(json.dumps(m, indent=2))
    # hand-edited run files are not the train job's outputs: ask summarize to run again
    project.snakemake("--cores", "1", "--forcerun", "summarize",
                      "results/moons/logistic_regression/best.json")
    sweep = sweep_dir(project, "moons", "logistic_regression")
    best = read_json(sweep / "best.json")
    assert best["run_name"] == "epochs~15/l2~0.0/lr~0.5"
    assert best["metrics"]["test"]["log_loss"] == 0.9  # reported, not used to choose
    rows = {r["run_name"]: r for r in read_csv(sweep / "summary.csv")}
    assert float(rows["epochs~15/l2~0.1/lr~200.0"]["val_log_loss"]) == 0.01  # the table is fresh
    assert [n for n, r in rows.items() if r["best"] == "true"] == ["epochs~15/l2~0.0/lr~0.5"]


def test_the_overview_has_one_row_per_sweep(finished_project):
    rows = read_csv(finished_project.root / "results" / "summary.csv")
    assert {(r["dataset"], r["model"]) for r in rows} == set(TINY_SWEEPS)
    assert len(rows) == len(TINY_SWEEPS)
    for r in rows:
        best = read_json(sweep_dir(finished_project, r["dataset"], r["model"]) / "best.json")
        assert r["best_run"] == best["run_name"]
        assert r["selection"] == best["selection_metric"]
        assert int(r["runs"]) == 4
        metric = best["selection_metric"]
        assert float(r[metric]) == best["metrics"]["val"][metric.removeprefix("val_")]
    # the short table people read: the same sweeps, the selection metric's test value
    short = {r["sweep"]: r for r in read_csv(finished_project.root / "results" / "overview.csv")}
    assert set(short) == {f"{d}/{m}" for d, m in TINY_SWEEPS}
    for r in rows:
        line = short[f"{r['dataset']}/{r['model']}"]
        metric = r["selection"].removeprefix("val_")
        assert (line["test_metric"], line["best_run"]) == (metric, r["best_run"])
        assert float(line["gdlab_best"]) == float(f"{float(r[f'test_{metric}']):.4g}")


def test_a_finished_run_ends_by_saying_what_it_made(finished_project):
    out = finished_project.first_run.stdout
    assert "gdlab: done." in out
    for dataset, model in TINY_SWEEPS:
        assert f"  {dataset}/{model}  " in out
    assert "Tables: `gdlab overview` prints results/overview.csv (one row per sweep" in out
    assert "mlflow ui --backend-store-uri sqlite:///mlflow.db" in out
    assert "viewStateShareKey=gdlab-sweeps" in out


# ------------------------------------------------------------------------------------------
# 5. Diverging grid points
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("dataset, model", TINY_SWEEPS)
def test_a_diverging_grid_point_is_recorded_and_the_sweep_completes(
        finished_project, dataset, model):
    runs = run_dirs(finished_project, dataset, model)
    diverged = {name for name, path in runs.items()
                if read_json(path / "metrics.json")["diverged"]}
    assert diverged == DIVERGING[(dataset, model)]
    for name in diverged:
        m = read_json(runs[name] / "metrics.json")
        assert m["n_epochs"] < m["hyperparameters"]["epochs"]  # stopped at the blow-up
        assert m["converged"] is False
    sweep = sweep_dir(finished_project, dataset, model)
    table = {r["run_name"]: r["diverged"] for r in read_csv(sweep / "summary.csv")}
    assert table == {name: str(name in diverged).lower() for name in runs}
    best = read_json(sweep / "best.json")
    assert best["run_name"] is not None and best["run_name"] not in diverged
    overview = {(r["dataset"], r["model"]): r
                for r in read_csv(finished_project.root / "results" / "summary.csv")}
    assert int(overview[(dataset, model)]["diverged"]) == len(diverged)


# ------------------------------------------------------------------------------------------
# 3. CSV datasets
# ------------------------------------------------------------------------------------------


def test_a_csv_dataset_runs_end_to_end(project):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((40, 2))
    noise = rng.standard_normal(40)
    with open(project.root / "houses.csv", "w", encoding="utf-8") as f:
        f.write("size,price,age\n")  # the target need not be the last column
        for (a, b), e in zip(x.tolist(), noise.tolist(), strict=True):
            f.write(f"{a!r},{3 * a - 2 * b + 1 + 0.01 * e!r},{b!r}\n")
    with open(project.root / "spam.csv", "w", encoding="utf-8") as f:
        f.write("label,length,links\n")
        for a, b in x.tolist():
            f.write(f"{'spam' if a + b > 0 else 'ham'},{a!r},{b!r}\n")
    config = tiny_config()
    config["datasets"] = {
        "houses": {"task": "regression", "source": "csv", "path": "houses.csv",
                   "target": "price"},
        "spam": {"task": "classification", "source": "csv", "path": "spam.csv",
                 "target": "label"},
    }
    config["models"] = {"linear_regression": {"grid": {"lr": [0.3], "epochs": [200]}},
                        "logistic_regression": {"grid": {"lr": [1.0], "epochs": [100]}}}
    project.write_config(config)
    project.snakemake("--cores", "2", "results/summary.csv",
                      "results/houses/linear_regression/best.json",
                      "results/spam/logistic_regression/best.json")

    houses = load_dataset(project.root / "data" / "houses" / "full.npz")
    assert houses.feature_names == ("size", "age") and houses.n_samples == 40
    np.testing.assert_array_equal(houses.X, x)
    spam = load_dataset(project.root / "data" / "spam" / "full.npz")
    assert spam.classes == ("ham", "spam")
    np.testing.assert_array_equal(spam.y, (x.sum(axis=1) > 0).astype(int))

    reg = read_json(project.root / "results/houses/linear_regression/best.json")
    assert reg["metrics"]["test"]["r2"] > 0.99  # the line is recovered from the CSV columns
    cls = read_json(project.root / "results/spam/logistic_regression/best.json")
    assert cls["metrics"]["test"]["accuracy"] >= 0.8
    overview = read_csv(project.root / "results" / "summary.csv")
    assert {(r["dataset"], r["model"]) for r in overview} == {
        ("houses", "linear_regression"), ("spam", "logistic_regression")}

    # the file's content is the dataset's identity: other data, other run keys
    csv = project.root / "houses.csv"
    csv.write_text(csv.read_text().replace("\n0.", "\n1.", 1))
    project.snakemake("--cores", "2", "results/houses/linear_regression/best.json")
    assert read_json(project.root / "results/houses/linear_regression/best.json")[
        "run_key"] != reg["run_key"]


def _rows(n: int, label=lambda i: i % 2) -> list[str]:
    return [f"{i},{(i * 7) % 5},{label(i)}" for i in range(n)]


def _with_row(line_no: int, text: str) -> list[str]:
    """Twenty good data rows with line ``line_no`` of the file (header = 1) replaced."""
    rows = _rows(20)
    rows[line_no - 2] = text
    return rows


BAD_CSVS = {  # name -> (data rows under the header "a,b,label", what the message must say)
    "missing target column": (
        ["a,b,kind"], _rows(20), ["target column 'label' not found", "'kind'"]),
    "non-numeric value": (
        ["a,b,label"], _with_row(6, "4,seven,0"),
        ["column 'b'", "line 6", "non-numeric value 'seven'"]),
    "empty cell": (
        ["a,b,label"], _with_row(9, "7,,1"), ["column 'b'", "line 9", "empty cell"]),
    "NaN cell": (
        ["a,b,label"], _with_row(4, "NaN,1,1"), ["column 'a'", "line 4", "missing value 'NaN'"]),
    "empty target cell": (
        ["a,b,label"], _with_row(12, "10,2,"), ["column 'label'", "line 12", "empty cell"]),
    "single class": (
        ["a,b,label"], _rows(20, label=lambda i: 1), ["only one class", "'label'"]),
    "too few rows": (
        ["a,b,label"], _rows(5), ["only 5 data rows", "at least 10"]),
}


def test_each_bad_csv_fails_its_make_dataset_job_naming_file_and_problem(project):
    """Every bad CSV of BAD_CSVS, each its own dataset, in one run with --keep-going: each
    make_dataset job fails with a message naming its file and its problem."""
    config = tiny_config()
    names = {}
    for i, (case, (header, rows, _)) in enumerate(BAD_CSVS.items()):
        names[case] = f"bad{i}"
        csv_path = project.root / "input" / f"bad{i}.csv"
        csv_path.parent.mkdir(exist_ok=True)
        csv_path.write_text("\n".join(header + rows) + "\n")
        config["datasets"][f"bad{i}"] = {"task": "classification", "source": "csv",
                                         "path": f"input/bad{i}.csv", "target": "label"}
    project.write_config(config)
    proc = project.snakemake("--cores", "2", "--keep-going",
                             *(f"data/{n}/full.npz" for n in names.values()), check=False)
    assert proc.returncode != 0
    assert proc.stderr.count("Error in rule make_dataset") == len(BAD_CSVS)
    # gdlab's last words point at the jobs' logs (the first five, then a count)
    assert f"gdlab: {len(BAD_CSVS)} jobs failed; their logs say why:" in proc.stderr
    pointers = [n for n in names.values()
                if f"\n  make_dataset: logs/make_dataset/{n}.log\n" in proc.stderr]
    assert len(pointers) == 5 and f"... and {len(BAD_CSVS) - 5} more" in proc.stderr
    for case, name in names.items():
        log = (project.root / "logs" / "make_dataset" / f"{name}.log").read_text()
        message = log.strip().splitlines()[-1]
        assert message.startswith(f"ValueError: input/{name}.csv: "), (case, message)
        for fragment in BAD_CSVS[case][2]:
            assert fragment in message, (case, fragment, message)
        # the default profile shows each failed job's log, so the user sees it
        assert message in proc.stderr, case
        # nothing half-written
        data = project.root / "data" / name
        assert not data.exists() or list(data.iterdir()) == [], case


def test_one_bad_csv_is_pointed_at_by_its_log(project):
    header, rows, _ = BAD_CSVS["too few rows"]
    (project.root / "bad.csv").write_text("\n".join(header + rows) + "\n")
    config = tiny_config()
    config["datasets"]["bad"] = {"task": "classification", "source": "csv",
                                 "path": "bad.csv", "target": "label"}
    project.write_config(config)
    proc = project.snakemake("--cores", "1", "data/bad/full.npz", check=False)
    assert proc.returncode != 0
    assert "gdlab: a job failed; its log says why:\n  make_dataset: logs/make_dataset/bad.log" \
        in proc.stderr


def test_the_new_models_and_the_lesson_overlay_run_end_to_end(project):
    """K classes, the MLP, the closed form and config/lesson.yaml, through plots."""
    import yaml

    config = tiny_config()
    config["datasets"]["blobs3"] = {"task": "classification", "source": "synthetic",
                                    "generator": "blobs", "n_samples": 90, "n_features": 2,
                                    "noise": 0.5, "n_classes": 3}
    config["models"] = {
        "linear_regression": {"grid": {"lr": [0.1], "epochs": [15],
                                       "solver": ["gd", "closed_form"]}},
        "softmax_regression": {"grid": {"lr": [0.5], "epochs": [30]}},
        "mlp_classifier": {"grid": {"lr": [0.05], "epochs": [40],
                                    "hidden_layer_sizes": [[8], [8, 4]]}},
    }
    project.write_config(config)
    with open(REPO / "config" / "lesson.yaml", encoding="utf-8") as f:
        lesson = yaml.safe_load(f)
    lesson["models"]["logistic_regression"]["grid"]["epochs"] = [15]  # quicker, same shape
    (project.root / "config" / "lesson.yaml").write_text(yaml.safe_dump(lesson))
    targets = [f"results/{d}/{m}/{f}" for d, m in (
        ("blobs3", "softmax_regression"), ("blobs3", "mlp_classifier"),
        ("moons", "mlp_classifier"), ("line", "linear_regression"),
        ("moons", "logistic_regression")) for f in ("best.json", "plots/heatmap.png")]
    project.snakemake("--cores", "2", *targets,
                      "results/moons/logistic_regression/plots/loss_landscape.png",
                      "--configfile", "config/lesson.yaml")
    root = project.root / "results"
    # logistic regression is binary only: no sweep of the three-class blobs
    assert not (root / "blobs3" / "logistic_regression").exists()
    assert read_json(root / "blobs3/softmax_regression/best.json")["metrics"]["test"].keys() \
        == {"accuracy", "log_loss", "f1_macro"}
    mlp = root / "moons/mlp_classifier/runs"
    assert {p.name for p in mlp.glob("epochs~40/hidden_layer_sizes~*")} == {
        "hidden_layer_sizes~8", "hidden_layer_sizes~8x4"}
    closed = root / "line/linear_regression/runs/epochs~15/lr~0.1/solver~closed_form"
    assert read_json(closed / "metrics.json")["n_epochs"] == 0
    names = {r["run_name"] for r in read_csv(root / "moons/logistic_regression/summary.csv")}
    assert "epochs~15/init~normal/init_scale~4.0/l2~0.0/loss~squared/lr~10.0/optimizer~gd" \
        in names
    png = (root / "moons/logistic_regression/plots/loss_landscape.png").read_bytes()
    assert png.startswith(b"\x89PNG") and len(png) > 20_000
