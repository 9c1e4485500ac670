"""MLflow tracking, unit by unit: the plan, the layout (names, limits, the saved view), and
the one transaction through MLflow's own tables proven to write what MLflow's client
writes, on generated input."""

from __future__ import annotations

import json
import math
import os
import uuid
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from gdlab.runfiles import Run
from gdlab.tracking import layout as L
from gdlab.tracking.backends import open_store
from gdlab.tracking.plan import Existing, plan_sweep
from gdlab.tracking.sql import SqlStore
from gdlab.tracking.sqlite import SqliteStore, sqlite_read_only
from gdlab.tracking.store import Store, _batches
from gdlab.tracking.uri import redact_uri, uri_hash

pytestmark = pytest.mark.mlflow


# --------------------------------------------------------------------------------------
# The plan (pure)
# --------------------------------------------------------------------------------------


def _run(run_id, role=L.ROLE_RUN, run=None, key=None, status="FINISHED", complete=True,
         start=0, **tags):
    tags = {L.ROLE_TAG: role, L.COMPLETE_TAG: "true" if complete else "false", **tags}
    if run is not None:
        tags[L.RUN_TAG] = run
    if key is not None:
        tags[L.CONTENT_TAG] = key
    return Existing(run_id, status, tags, start)


def test_the_plan_keeps_complete_matching_children_and_deletes_the_rest():
    existing = [
        _run("p", L.ROLE_SWEEP, start=1, **{L.LAYOUT_TAG: L.LAYOUT}),
        _run("a1", run="a", key="ka", start=2),
        _run("a2", run="a", key="ka", start=3),  # a duplicate: the oldest stays
        _run("b1", run="b", key="old", start=2),  # results changed
        _run("c1", run="c", key="kc", status="RUNNING", complete=False),  # cut off mid-sync
        _run("d1", run="d", key="kd"),  # no longer in the sweep
        _run("f1", run="f", key="kf", status="FAILED"),  # diverged on purpose: complete
    ]
    plan = plan_sweep(existing, {"a": "ka", "b": "kb", "c": "kc", "f": "kf", "e": "ke"})
    assert plan.parent.run_id == "p"
    assert {n: e.run_id for n, e in plan.keep.items()} == {"a": "a1", "f": "f1"}
    assert plan.create == ["b", "c", "e"]
    assert sorted(r.run_id for r in plan.delete) == ["a2", "b1", "c1", "d1"]
    assert not plan.unchanged


def test_a_parent_holding_another_runs_curves_or_layout_is_replaced():
    """MLflow cannot take a run's metrics back: a parent that holds the curves of a run
    that is no longer the best (or an older layout's record) makes way for a new one."""
    current = _run("p1", L.ROLE_SWEEP, start=1,
                   **{L.CURVES_TAG: "k1", L.LAYOUT_TAG: L.LAYOUT})
    assert plan_sweep([current], {}, curves="k1").parent.run_id == "p1"
    plan = plan_sweep([current], {}, curves="k2")
    assert plan.parent is None and [r.run_id for r in plan.delete] == ["p1"]
    old_layout = _run("p0", L.ROLE_SWEEP, **{L.CURVES_TAG: "k1", L.LAYOUT_TAG: "1"})
    plan = plan_sweep([old_layout], {}, curves="k1")
    assert plan.parent is None and [r.run_id for r in plan.delete] == ["p0"]
    # a replacement made but not yet complete when a kill came: it is the one that stays
    fresh = _run("p2", L.ROLE_SWEEP, start=5, complete=False, **{L.LAYOUT_TAG: L.LAYOUT})
    plan = plan_sweep([current, fresh], {}, curves="k2")
    assert plan.parent.run_id == "p2" and [r.run_id for r in plan.delete] == ["p1"]


def test_batches_respect_mlflow_limits():
    batches = list(_batches(range(2500), range(150), range(30)))
    assert all(len(m) <= 1000 and len(p) <= 100 and len(t) <= 100
               and len(m) + len(p) + len(t) <= 1000 for m, p, t in batches)
    assert sum(len(m) for m, _, _ in batches) == 2500
    assert sum(len(p) for _, p, _ in batches) == 150


def test_uri_redaction_hash_and_a_sqlite_path_that_needs_quoting(tmp_path):
    uri = "http://user:s3cret@mlflow.example.org:5000/path?token=x"
    assert redact_uri(uri) == "http://mlflow.example.org:5000/path"
    assert uri_hash(uri) != uri_hash(redact_uri(uri)) and len(uri_hash(uri)) == 16
    db = tmp_path / "a #b %c?d" / "mlflow.db"
    ro = sqlite_read_only(db)
    assert "#" not in ro and "?" not in ro.removesuffix("?mode=ro") and ro.endswith("?mode=ro")


# --------------------------------------------------------------------------------------
# The layout (pure): names, limits, descriptions, the saved view
# --------------------------------------------------------------------------------------


def _fake_run(name: str, hp: dict, diverged=False) -> Run:
    run = Run(name, Path("."), {"run_name": name, "dataset": "moons",
                                "model": "logistic_regression", "task": "classification",
                                "hyperparameters": hp, "diverged": diverged, "n_epochs": 3,
                                "seed": 1, "run_key": "rk", "final_objective": 0.5,
                                "metrics": {"test": {"log_loss": 0.4, "accuracy": 0.8}}},
              "ck")
    run.history = {"epoch": np.array([1, 2, 3]), "train_objective": np.array([1.0, 0.7, 0.5]),
                   "val_log_loss": np.array([1.1, 0.8, np.nan if diverged else 0.6]),
                   "val_accuracy": np.array([0.5, 0.7, 0.8])}
    run.timing = {"start_time_ms": 1000, "end_time_ms": 2000}
    return run


@pytest.mark.parametrize("n_values", [1000, 10_000])
def test_no_value_gdlab_makes_exceeds_an_mlflow_limit_at_any_axis_length(n_values):
    lrs = [float(f"{x:.12g}") for x in np.geomspace(1e-4, 10.0, n_values)]
    runs = [_fake_run(f"lr~{lr!r}", {"lr": lr, "l2": 0.0}) for lr in lrs]
    best = {"selection_metric": "val_log_loss", "run_name": runs[0].name,
            "hyperparameters": runs[0].hyperparameters,
            "metrics": {"val": {"log_loss": 0.6}, "test": {"log_loss": 0.4}},
            "optimum": {"objective_gap": None, "no_optimum": "not convex"},
            "sklearn_default": {"estimator": "LogisticRegression()", "converged": True,
                                "metrics": {"test": {"log_loss": 0.5}}}}
    tags = {**L.parent_tags(runs, best, "grid", None),
            L.NOTE_TAG: L.parent_description(runs, best, "grid", None, "1", "id", "lr=1", [])}
    for key, value in tags.items():
        assert len(key) <= L.MAX_KEY and len(value) <= L.MAX_TAG_VALUE, key
    assert tags["grid.lr"] == f"{n_values} values, 0.0001 … 10 (all in grid.json)"
    assert L.grid_values(runs)["lr"] == sorted(lrs)  # the whole grid, for grid.json
    child = L.child_record(runs[0], "lr=0.0001", "p", "proj", "c0ffee", None, top=True)
    assert all(len(v) <= L.MAX_PARAM_VALUE for v in child.params.values())
    assert all(len(v) <= L.MAX_TAG_VALUE for v in child.tags.values())


def test_a_child_holds_its_curves_its_summary_and_says_when_it_diverged():
    run = _fake_run("lr~0.1", {"lr": 0.1, "l2": 0.0}, diverged=True)
    rec = L.child_record(run, "lr=0.1", "parent", "proj", "unknown", optimum=0.25, top=False)
    assert rec.status == "FAILED" and rec.tags["mlflow.runColor"] == L.DIVERGED_COLOR
    assert rec.tags[L.PARENT_TAG] == "parent" and rec.tags[L.TOP_TAG] == "0"
    assert rec.tags[L.CONTENT_TAG] == L.child_key("ck")
    curves = {(k, s): v for k, v, _, s in rec.metrics if k.startswith(L.CURVES)}
    assert curves[("curves/train_objective", 3)] == 0.5
    assert math.isnan(curves[("curves/val_log_loss", 3)])
    summary = {k: v for k, v, _, s in rec.metrics if k.startswith(L.SUMMARY)}
    # a final metric is the last point of its curve, under a name that says so
    assert math.isnan(summary["summary/final_val_log_loss"])
    assert summary["summary/final_val_accuracy"] == 0.8
    assert summary["summary/test_log_loss"] == 0.4
    assert summary["summary/objective_gap"] == pytest.approx(0.25)
    assert all(s >= 1 for k, _, _, s in rec.metrics if k.startswith(L.CURVES))
    assert all(s == 0 for k, _, _, s in rec.metrics if k.startswith(L.SUMMARY))


def test_the_saved_view_filters_on_the_top_tag_and_opens_on_learning_curves():
    view = json.loads(L.overview_view(123))
    state = json.loads(view["state"])
    assert state["searchFilter"] == f"tags.`{L.TOP_TAG}` = '1'"
    assert state["runsHiddenMode"] == "SHOW_ALL"
    assert [c["metricKey"] for c in state["compareRunCharts"]][:2] == [
        "curves/val_log_loss", "curves/val_mse"]
    assert len(json.dumps(view)) <= 20000  # MLflow's experiment tag limit
    first_line = L.experiment_description("e", "7").split("\n")[0]
    assert f"#/experiments/7/runs?workflowType=machine_learning&viewStateShareKey=" \
           f"{L.VIEW_KEY}" in first_line


# --------------------------------------------------------------------------------------
# One transaction through MLflow's tables = MLflow's client calls, on generated input
# --------------------------------------------------------------------------------------

#: keys MLflow takes (its characters, up to 250 of them), and now and then one it refuses
VALID_KEY = st.text(st.sampled_from(list("abcXYZ019_-./ :")), min_size=1, max_size=20).filter(
    lambda k: k.strip("/") == k and "//" not in k and "/./" not in k and "/../" not in k
    and k not in (".", ".."))
KEYS = st.one_of(VALID_KEY, st.integers(240, 248).map(lambda n: "k" * n))  # near the limit
#: keys MLflow refuses: over its length, or with characters it does not take
BAD_KEYS = st.one_of(st.integers(251, 260).map(lambda n: "k" * n),
                     VALID_KEY.map(lambda k: k + "é!"), st.just("/a"))
VALUES = st.one_of(st.text(max_size=20), st.just(""),
                   st.integers(5990, 6010).map(lambda n: "p" * n),
                   st.integers(7990, 8010).map(lambda n: "t" * n),
                   st.text(alphabet="日本語🙂é\u00a0\t", min_size=1, max_size=30))
FLOATS = st.one_of(st.floats(allow_nan=True, allow_infinity=True),
                   st.sampled_from([0.0, -0.0, 1e308, -1e308, 5e-324, float("nan")]))
STEPS = st.one_of(st.integers(0, 5), st.integers(0, 2**62))


@st.composite
def child_records(draw, files):
    n = draw(st.integers(1, 3))
    records = []
    for i in range(n):
        params = draw(st.dictionaries(KEYS, VALUES, max_size=4))
        tags = draw(st.dictionaries(KEYS.map(lambda k: "x." + k), VALUES, max_size=4))
        metrics = draw(st.lists(st.tuples(st.sampled_from(["m", "curves/a", "s/b"]) | KEYS,
                                          FLOATS, st.integers(0, 2**40), STEPS),
                                max_size=30))
        if draw(st.booleans()):  # a repeated point: written once
            metrics += metrics[:2]
        if draw(st.integers(0, 4)) == 0:  # now and then one key MLflow refuses
            where = draw(st.sampled_from(["param", "tag", "metric"]))
            bad = draw(BAD_KEYS)
            if where == "param":
                params[bad] = "v"
            elif where == "tag":
                tags[bad] = "v"
            else:
                metrics.append((bad, 1.0, 0, 0))
        name = draw(st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]),
                            min_size=1, max_size=60))
        records.append(L.ChildRecord(f"run{i}", name, 1000 + i, 5000 + i,
                                     draw(st.sampled_from(["FINISHED", "FAILED"])),
                                     {**tags, L.RUN_TAG: f"run{i}"}, params, metrics, files))
    return records


def _readback(store: Store, experiment_id: str) -> dict:
    """Everything MLflow's client reads back about the experiment's runs, by gdlab run."""
    from mlflow import MlflowClient

    client = MlflowClient(store.uri)
    out = {}
    for r in client.search_runs([experiment_id], max_results=100):
        if L.RUN_TAG not in r.data.tags:  # the parent
            continue
        histories = {}
        for key in r.data.metrics:
            hist = client.get_metric_history(r.info.run_id, key)
            histories[key] = sorted((m.step, m.timestamp, repr(m.value)) for m in hist)
        tags = {k: v for k, v in r.data.tags.items() if k != "mlflow.user"}
        out[r.data.tags[L.RUN_TAG]] = {
            "name": r.info.run_name, "status": r.info.status, "start": r.info.start_time,
            "end": r.info.end_time, "lifecycle": r.info.lifecycle_stage,
            "params": r.data.params, "tags": tags,
            "latest": {k: repr(v) for k, v in r.data.metrics.items()},
            "histories": histories,
            "inputs": sorted((d.dataset.name, d.dataset.digest, tuple(sorted(
                (t.key, t.value) for t in d.tags))) for d in r.inputs.dataset_inputs),
            "artifacts": sorted(a.path for a in client.list_artifacts(r.info.run_id))}
    return out


@pytest.fixture(scope="module")
def two_stores(tmp_path_factory):
    """A SQLite store for each way of writing, made by MLflow (its migrations)."""
    root = tmp_path_factory.mktemp("stores")
    stores, here = {}, os.getcwd()
    for way in ("bulk", "client"):
        (root / way).mkdir()
        os.chdir(root / way)  # MLflow puts a new store's artifacts in ./mlruns
        try:
            stores[way] = open_store(f"sqlite:///{root / way / 'mlflow.db'}")
        finally:
            os.chdir(here)
    assert isinstance(stores["bulk"], SqliteStore)
    artifact = root / "model.npz"
    artifact.write_bytes(b"weights")
    return stores, [artifact]


def _datasets():
    import mlflow
    from mlflow.entities import DatasetInput, InputTag

    out = []
    for part, context in L.CONTEXTS.items():
        ds = mlflow.data.from_numpy(np.arange(6.0).reshape(3, 2) + len(part),
                                    targets=np.array([0, 1, 0]), name=f"d-{part}")
        out.append(DatasetInput(ds._to_mlflow_entity(),
                                tags=[InputTag("mlflow.data.context", context)]))
    return out


def _write(store: Store, way: str, records, datasets) -> tuple[str, dict | Exception]:
    """``records`` written ``way`` (``bulk``: one transaction through MLflow's tables;
    ``client``: MlflowClient's calls, as on any store) into a new experiment."""
    from mlflow.exceptions import MlflowException

    experiment_id = store.ensure_experiment(uuid.uuid4().hex)
    parent = store.create_run(experiment_id, "parent", 0, {})
    store.log_inputs(parent, datasets)
    write = SqlStore.write_children if way == "bulk" else Store.write_children
    try:
        write(store, experiment_id, records, datasets)
    except MlflowException as err:
        return experiment_id, err
    return experiment_id, _readback(store, experiment_id)


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture,
                                 HealthCheck.too_slow, HealthCheck.data_too_large])
@given(data=st.data())
def test_one_transaction_writes_what_mlflows_client_writes(two_stores, data):
    """Every child written in one transaction through MLflow's own tables reads back, through
    MlflowClient, exactly as the same child logged with MlflowClient's calls: params and
    tags at and over MLflow's limits (cut as MLflow cuts them), unicode and empty values,
    NaN and infinities, huge steps, repeated points, any run name; and an input MLflow
    refuses (a key too long or with a refused character) is refused by both."""
    stores, files = two_stores
    records = data.draw(child_records(files))
    datasets = _datasets()
    results = {way: _write(store, way, records, datasets)[1] for way, store in stores.items()}
    bulk, client = results["bulk"], results["client"]
    if isinstance(client, Exception) or isinstance(bulk, Exception):
        assert isinstance(client, Exception) and isinstance(bulk, Exception), (bulk, client)
        event("refused by both")
        return
    event("compared, with metrics" if any(r["histories"] for r in bulk.values())
          else "compared, no metrics")
    for run in bulk:
        for field in ("tags",):
            bulk[run][field].pop(L.COMPLETE_TAG, None)
            client[run][field].pop(L.COMPLETE_TAG, None)
    assert bulk == client


def test_a_refused_child_leaves_no_row_and_no_file(two_stores):
    """One transaction: a batch with one child MLflow refuses writes none of them."""
    from mlflow.exceptions import MlflowException

    stores, files = two_stores
    good = L.ChildRecord("ok", "ok", 1, 2, "FINISHED", {L.RUN_TAG: "ok"}, {}, [], files)
    bad = L.ChildRecord("bad", "bad", 1, 2, "FINISHED", {L.RUN_TAG: "bad"},
                        {"k" * 300: "v"}, [], files)
    store = stores["bulk"]
    experiment_id = store.ensure_experiment(uuid.uuid4().hex)
    root = Path(store.experiment(experiment_id).artifact_location)
    with pytest.raises(MlflowException):
        store.write_children(experiment_id, [good, bad], [])
    from mlflow import MlflowClient

    assert MlflowClient(store.uri).search_runs([experiment_id]) == []
    assert not root.exists() or not any(root.iterdir()), list(root.rglob("*"))


def test_a_store_whose_folder_cannot_be_made_is_named_in_the_error(tmp_path):
    """SQLite says only "unable to open database file"; gdlab names the file and why (a
    read-only folder: tests/test_disk.py, on a read-only mount)."""
    from gdlab.tracking import setup_experiment
    from gdlab.tracking.sqlite import StoreNotWritable

    (tmp_path / "afile").write_text("")
    db = tmp_path / "afile" / "mlflow.db"
    with pytest.raises(StoreNotWritable, match=f"{tmp_path / 'afile'} is a file, not a folder"):
        setup_experiment(f"sqlite:///{db}", "x")


def test_finding_and_updating_kept_children_match_mlflows_client(two_stores):
    """A sweep's runs found with one query, and kept children renamed and retagged in one
    transaction, read back as MlflowClient's own search and calls make them."""
    stores, files = two_stores
    records = [L.ChildRecord(f"run{i}", f"name{i}", 1, 2, "FINISHED",
                             {L.RUN_TAG: f"run{i}", L.PROJECT_TAG: "p", L.SWEEP_TAG: "d/m",
                              "x.t": "old"}, {"a": str(i)}, [("m", 0.5, 3, 0)], files)
               for i in range(3)]
    found, read = {}, {}
    for way, store in stores.items():
        experiment_id, _ = _write(store, way, records, [])
        write = SqlStore if way == "bulk" else Store
        runs = {e.run: e for e in write.find_sweep(store, experiment_id, "p", "d/m")}
        assert sorted(runs) == ["run0", "run1", "run2"]
        write.update_children(store, {
            runs["run0"].run_id: ("renamed", {"x.t": "new", "x.u": "added"}),
            runs["run1"].run_id: (None, {"x.t": "new"})})
        found[way] = sorted((e.run, e.status, {k: v for k, v in e.tags.items()
                                               if k != "mlflow.user"}) for e in runs.values())
        read[way] = _readback(store, experiment_id)
    assert found["bulk"] == found["client"]
    assert read["bulk"] == read["client"]
    assert read["bulk"]["run0"]["name"] == "renamed"
    assert read["bulk"]["run0"]["tags"]["x.u"] == "added"
    assert read["bulk"]["run2"]["tags"]["x.t"] == "old"
