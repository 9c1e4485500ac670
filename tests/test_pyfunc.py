"""The MLflow pyfunc predicts with gdlab's one predict, for every model, from its own copy."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from gdlab.data import make_synthetic, split_dataset
from gdlab.io import save_npz
from gdlab.models.registry import REGISTRY, predict

pytestmark = pytest.mark.mlflow

_LOAD = """
import json, sys
import numpy as np
import mlflow
model = mlflow.pyfunc.load_model(sys.argv[1])
X = np.load(sys.argv[2])
import gdlab
print(json.dumps({"out": model.predict(X).tolist(), "gdlab": gdlab.__file__}))
"""


@pytest.mark.parametrize("name", list(REGISTRY))
def test_the_pyfunc_agrees_with_registry_predict(name, tmp_path):
    import mlflow

    from gdlab.tracking.best_model import pyfunc_files

    info = REGISTRY[name]
    if info.task == "regression":
        ds = make_synthetic("linear", 80, 3, 0.3, seed=1)
    else:
        ds = make_synthetic("blobs", 90, 3, 1.0, seed=1, n_classes=3 if info.multiclass else 2)
    split = split_dataset(ds, test_size=0.25, val_size=0.25, seed=2, stratify=True,
                          standardize=True)
    model = info.load()(epochs=20).fit(split.X_train, split.y_train)
    arrays = {**model.to_arrays(), "x_mean": split.x_mean, "x_scale": split.x_scale}
    save_npz(tmp_path / "model.npz", **arrays)
    mlflow.pyfunc.save_model(tmp_path / "pyfunc", **pyfunc_files(name, tmp_path / "model.npz"))
    X_raw = split.X_test * split.x_scale + split.x_mean
    np.save(tmp_path / "X.npy", X_raw)
    # a fresh process in another directory, gdlab off its path: the model's own copy runs
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    proc = subprocess.run([sys.executable, "-c", _LOAD, str(tmp_path / "pyfunc"),
                           str(tmp_path / "X.npy")], capture_output=True, text=True,
                          cwd=tmp_path, env=env, check=True)
    got = json.loads(proc.stdout.strip().splitlines()[-1])
    assert got["gdlab"].startswith(str(tmp_path / "pyfunc"))
    expected = predict(name, arrays, X_raw)
    direct = model.predict_proba(split.X_test) if info.task == "classification" \
        else model.predict(split.X_test)
    np.testing.assert_allclose(expected, direct, rtol=1e-12, atol=1e-14)
    np.testing.assert_array_equal(np.asarray(got["out"]), expected)
