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


@pytest.mark.parametrize("content", ["[]", "{}", '{"runs": []}', '{"runs": {"a": 1}}'])
def test_a_shard_manifest_of_valid_json_but_the_wrong_shape_is_named_with_the_fix(
        tmp_path, content):
    """``[]`` or ``{}`` failed with "'list' object has no attribute 'get'" or
    ``KeyError: 'runs'``: now the start of a run gives its train job a new repair token
    (gdlab.repairs), and a job that reads it names the file and the fix."""
    from gdlab.io import DamagedFile
    from gdlab.repairs import stale_runs, token
    from gdlab.runfiles import read_manifest

    path = tmp_path / "d" / "m" / "shards" / "0.json"
    path.parent.mkdir(parents=True)
    path.write_text(content)
    new, why = token(path, lambda record: stale_runs(path, record))
    assert new and why.startswith(("is damaged (a JSON list", "is damaged (a shard manifest ",
                                   "is damaged (run 'a' is not"))
    with pytest.raises(DamagedFile) as err:
        read_manifest(path)
    assert str(err.value).startswith((f"{path} is damaged: a shard manifest ",
                                      f"{path} is damaged: run 'a' is not"))
    assert "Delete it and run snakemake again" in str(err.value)
