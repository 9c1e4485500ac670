"""The model registry: names, lazy imports, code identity, grid axes, one predict."""

import inspect
import subprocess
import sys

import jsonschema
import numpy as np
import pytest

from gdlab import codeversion
from gdlab.data import make_synthetic, split_dataset
from gdlab.io import save_npz
from gdlab.models import MODEL_TASKS, MODELS, REGISTRY, model_info, predict
from gdlab.models.solving import SOLVERS
from gdlab.optimizers import OPTIMIZERS


def test_models_and_tasks_follow_the_registry():
    assert list(MODELS) == list(REGISTRY) == list(MODEL_TASKS)
    assert {"linear_regression", "logistic_regression", "softmax_regression",
            "mlp_classifier", "mlp_regressor"} == set(REGISTRY)
    for name, info in REGISTRY.items():
        cls = MODELS[name]
        assert cls.__name__ == info.class_name and cls.__module__ == info.module
        assert MODEL_TASKS[name] == info.task in ("regression", "classification")
        assert not info.multiclass or info.task == "classification"
    from gdlab.models import LinearRegression, LogisticRegression, MLPClassifier

    assert (LinearRegression, LogisticRegression) == (MODELS["linear_regression"],
                                                      MODELS["logistic_regression"])
    assert MLPClassifier is MODELS["mlp_classifier"]
    with pytest.raises(ValueError, match="unknown model 'svm'; choose one of"):
        model_info("svm")
    with pytest.raises(ImportError, match="NoSuchModel"):
        from gdlab.models import NoSuchModel  # noqa: F401


def test_model_modules_are_imported_only_when_asked_for():
    code = (
        "import sys\n"
        "from gdlab.models import MODELS, MODEL_TASKS\n"
        "assert sorted(MODEL_TASKS) and len(MODELS) == 5\n"
        "assert 'gdlab.models.mlp' not in sys.modules\n"
        "assert 'gdlab.models.softmax_regression' not in sys.modules\n"
        "MODELS['linear_regression']\n"
        "assert 'gdlab.models.mlp' not in sys.modules\n"
        "MODELS['mlp_classifier']\n"
        "assert 'gdlab.models.mlp' in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_a_models_code_identity_holds_its_own_module_only():
    def files(module):
        return {p.relative_to(codeversion.PACKAGE_DIR).as_posix()
                for p in codeversion.module_files(module)}

    model_files = {f"models/{info.module.rsplit('.', 1)[1]}.py" for info in REGISTRY.values()}
    assert files("gdlab.models.registry") & model_files == set()
    assert "models/mlp.py" not in files("gdlab.models")
    assert "models/softmax_regression.py" not in files("gdlab.models")
    linear = files("gdlab.models.linear_regression")
    assert "models/mlp.py" not in linear and "models/logistic_regression.py" not in linear
    assert {"models/linear_regression.py", "models/linear.py", "models/training.py",
            "losses.py", "optimizers.py"} <= linear
    assert "models/linear.py" not in files("gdlab.models.mlp")


def test_axes_are_constructor_parameters_and_default_grids_fit_them():
    assert REGISTRY["linear_regression"].axes["optimizer"]["enum"] == [*OPTIMIZERS, *SOLVERS]
    for name, info in REGISTRY.items():
        # the config's refusal of newton follows the class's own: an exact Hessian or not
        assert info.hessian == (MODELS[name]._hessian is not None), name
        params = inspect.signature(MODELS[name]).parameters
        assert set(info.axes) <= set(params), name
        assert set(info.default_grid) <= set(info.axes), name
        for axis, values in info.default_grid.items():
            for value in values:
                jsonschema.validate(value, info.axes[axis])
    assert REGISTRY["linear_regression"].axes["solver"] == {"enum": ["gd", "closed_form"]}
    assert REGISTRY["logistic_regression"].axes["loss"] == {"enum": ["log_loss", "squared"]}
    assert REGISTRY["logistic_regression"].axes["init"] == {"enum": ["zeros", "normal"]}


def data_for(info, seed=0):
    if info.task == "regression":
        ds = make_synthetic("linear", 120, 3, 0.3, seed=seed)
    else:
        ds = make_synthetic("blobs", 120, 3, 1.0, seed=seed,
                            n_classes=3 if info.multiclass else 2)
    X = ds.X * [1.0, 10.0, 0.1] + [5.0, -2.0, 0.0]  # raw features far from standard
    ds = type(ds)(X, ds.y, ds.task, ds.feature_names, ds.classes)
    return split_dataset(ds, 0.2, 0.2, seed=seed, stratify=True, standardize=True), X


@pytest.mark.parametrize("name", list(REGISTRY))
def test_every_enum_value_of_an_axis_is_accepted(name):
    info = REGISTRY[name]
    split, _ = data_for(info)
    for axis, schema in info.axes.items():
        for value in schema.get("enum", []):
            model = MODELS[name](**{axis: value, "epochs": 3})
            if (axis, value) == ("optimizer", "newton") and not info.hessian:
                with pytest.raises(ValueError, match="use 'lbfgs'"):  # config refuses too
                    model.fit(split.X_train, split.y_train)
                continue
            model.fit(split.X_train, split.y_train)
            assert model.n_features_in_ == 3


@pytest.mark.parametrize("name", list(REGISTRY))
def test_predict_from_saved_arrays_equals_the_fitted_model(name, tmp_path):
    info = REGISTRY[name]
    split, _ = data_for(info)
    model = MODELS[name](epochs=30).fit(split.X_train, split.y_train)
    save_npz(tmp_path / "model.npz", **model.to_arrays(), x_mean=split.x_mean,
             x_scale=split.x_scale)
    raw_test = split.X_test * split.x_scale + split.x_mean
    with np.load(tmp_path / "model.npz", allow_pickle=False) as stored:
        arrays = {key: stored[key] for key in stored.files}
    out = predict(name, arrays, raw_test)
    if info.task == "classification":
        expected = model.predict_proba(split.X_test)
        np.testing.assert_allclose(out.sum(axis=1), 1.0, rtol=1e-12)
    else:
        expected = model.predict(split.X_test)
    assert out.shape == expected.shape
    np.testing.assert_allclose(out, expected, rtol=1e-10, atol=1e-12)
    with pytest.raises(ValueError, match=r"expected raw features of shape \(n, 3\)"):
        predict(name, arrays, np.ones((2, 4)))


def test_predict_reads_the_model_npz_the_pipeline_writes_today():
    # a logistic run's model.npz: coef, intercept, x_mean, x_scale; predict gives sigmoid(z)
    info = REGISTRY["logistic_regression"]
    split, X_raw = data_for(info)
    model = MODELS["logistic_regression"](epochs=30).fit(split.X_train, split.y_train)
    arrays = {"coef": model.coef_, "intercept": np.float64(model.intercept_),
              "x_mean": split.x_mean, "x_scale": split.x_scale}
    z = ((X_raw - split.x_mean) / split.x_scale) @ model.coef_ + model.intercept_
    np.testing.assert_allclose(predict("logistic_regression", arrays, X_raw)[:, 1],
                               1 / (1 + np.exp(-z)), rtol=1e-12)
    one_row = predict("logistic_regression", arrays, X_raw[0])
    assert one_row.shape == (1, 2)


def test_closed_form_is_a_run_like_any_other():
    info = REGISTRY["linear_regression"]
    split, _ = data_for(info)
    gd = MODELS["linear_regression"](lr=0.5, epochs=2000, l2=0.1, solver="gd")
    exact = MODELS["linear_regression"](l2=0.1, solver="closed_form")
    for model in (gd, exact):
        model.fit(split.X_train, split.y_train, split.X_val, split.y_val)
    assert exact.n_epochs_ == 0 and list(exact.history_["epoch"]) == [0]
    assert set(exact.history_) == set(gd.history_)
    np.testing.assert_allclose(gd.coef_, exact.coef_, atol=1e-8)
    arrays = {**exact.to_arrays(), "x_mean": split.x_mean, "x_scale": split.x_scale}
    raw = split.X_test * split.x_scale + split.x_mean
    np.testing.assert_allclose(predict("linear_regression", arrays, raw),
                               exact.predict(split.X_test), rtol=1e-10)


def test_all_lists_every_registered_class():
    import gdlab.models

    classes = {info.class_name for info in REGISTRY.values()}
    assert classes <= set(gdlab.models.__all__)
    assert all(getattr(gdlab.models, name) is not None for name in gdlab.models.__all__)
