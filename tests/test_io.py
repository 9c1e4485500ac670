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
