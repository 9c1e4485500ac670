"""gdlab.io: one JSON spelling per value, whatever Python or NumPy types hold it."""
import json
import math

import numpy as np
import pytest

from gdlab.io import canonical_json, read_json, write_json


@pytest.mark.parametrize(("value", "spelling"), [
    ({"b": 1, "a": [0.1, None, True]}, '{"a":[0.1,null,true],"b":1}'),
    ((1, 2.5), "[1,2.5]"),  # a tuple is a list
    ({"x": float("nan"), "y": [math.inf, -math.inf]}, '{"x":null,"y":[null,null]}'),
    ({"n": np.int64(3), "f": np.float32(0.5), "b": np.bool_(True)}, '{"b":true,"f":0.5,"n":3}'),
    ([np.float64(0.1), np.float64("nan")], "[0.1,null]"),
    ({"deep": {"z": [{"q": np.float64(-np.inf)}], "a": "s"}},
     '{"deep":{"a":"s","z":[{"q":null}]}}'),
])
def test_canonical_json_spells_each_value_one_way(value, spelling):
    assert canonical_json(value) == spelling
    assert json.loads(canonical_json(value)) == json.loads(spelling)


def test_write_json_reads_back_with_non_finite_values_as_null(tmp_path):
    path = tmp_path / "x.json"
    write_json(path, {"a": np.float64("nan"), "b": [1, np.int64(2)]})
    assert read_json(path) == {"a": None, "b": [1, 2]}
    assert list(tmp_path.iterdir()) == [path]  # written in place, no temporary left


def test_damaged_records_names_cut_records_and_manifests_of_deleted_runs(tmp_path):
    """What the workflow deletes at its start so that the job writing it runs again: a
    record that does not parse, and a shard manifest (of a sweep, a halving rung, a TPE
    round) listing a run whose folder is gone; a sweep's summary.csv goes with a shard's."""
    from gdlab.runfiles import damaged_records

    sweep = tmp_path / "d" / "m"
    manifests = {"sweep": sweep / "shards" / "0.json",
                 "rung": sweep / "rungs" / "1" / "shards" / "0.json",
                 "round": sweep / "rounds" / "2" / "shards" / "0.json"}
    runs = {"sweep": sweep / "runs", "rung": sweep / "rungs" / "1" / "runs",
            "round": sweep / "runs"}
    for kind, path in manifests.items():
        write_json(path, {"runs": {f"lr~{kind}": {}, "lr~kept": {}}})
        (runs[kind] / "lr~kept").mkdir(parents=True, exist_ok=True)
        (runs[kind] / "lr~kept" / "metrics.json").write_text("{}")
    (runs["rung"] / "lr~rung").mkdir()
    (runs["rung"] / "lr~rung" / "metrics.json").write_text("{}")  # this one is whole
    (sweep / "summary.csv").write_text("run_name\n")
    write_json(sweep / "best.json", {})
    (sweep / "mlflow.json").write_text('{"cut')
    write_json(tmp_path / "mlflow" / "experiment.json", {})
    (tmp_path / "mlflow" / "project.json").write_text("")
    found = damaged_records(tmp_path)
    assert set(found) == {manifests["sweep"], manifests["round"], sweep / "mlflow.json",
                          tmp_path / "mlflow" / "project.json"}
    assert found[tmp_path / "mlflow" / "project.json"][1] == [
        tmp_path / "mlflow" / "project.json", tmp_path / "mlflow" / "experiment.json",
        sweep / "mlflow.json"]
    assert found[sweep / "mlflow.json"] == ("is damaged (not valid JSON)",
                                            [sweep / "mlflow.json"])
    reason, files = found[manifests["sweep"]]
    assert reason.startswith("lists 1 run(s) whose files are gone (lr~sweep)")
    assert files == [manifests["sweep"], sweep / "summary.csv"]


@pytest.mark.parametrize("content", ["[]", "{}", '{"runs": []}', '{"runs": {"a": 1}}'])
def test_a_shard_manifest_of_valid_json_but_the_wrong_shape_is_named_with_the_fix(
        tmp_path, content):
    """``[]`` or ``{}`` failed with "'list' object has no attribute 'get'" or
    ``KeyError: 'runs'``: now the start of a run remakes it (damaged_records), and a job
    that reads it names the file and the fix."""
    from gdlab.io import DamagedFile
    from gdlab.runfiles import damaged_records, read_manifest

    path = tmp_path / "d" / "m" / "shards" / "0.json"
    path.parent.mkdir(parents=True)
    path.write_text(content)
    (tmp_path / "d" / "m" / "summary.csv").write_text("run_name\n")
    reason, files = damaged_records(tmp_path)[path]
    assert reason.startswith(("is damaged (a shard manifest ", "is damaged (run 'a' is not"))
    assert files == [path, tmp_path / "d" / "m" / "summary.csv"]
    with pytest.raises(DamagedFile) as err:
        read_manifest(path)
    assert str(err.value).startswith((f"{path} is damaged: a shard manifest ",
                                      f"{path} is damaged: run 'a' is not"))
    assert "Delete it and run snakemake again" in str(err.value)
