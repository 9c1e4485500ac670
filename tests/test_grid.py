"""Grid expansion, run names, keys and seeds."""

import re

from gdlab import grid as G


def test_expand_grid_is_the_full_product_with_normalised_values():
    runs = G.expand_grid({"lr": [1, 0.5], "l2": [0], "batch_size": [None, 8]},
                         "linear_regression")
    assert len(runs) == 4
    assert all(isinstance(r["lr"], float) and isinstance(r["l2"], float) for r in runs)
    assert {(r["lr"], r["batch_size"]) for r in runs} == {(1.0, None), (1.0, 8), (0.5, None),
                                                          (0.5, 8)}
    assert runs[0]["epochs"] == 100  # defaults filled: LinearRegression's epochs=100


def test_defaults_are_each_models_own_and_keep_the_linear_models_specs():
    # linear and logistic runs record exactly the keys they always did (their specs, run
    # keys and files stay byte-identical); a model's own axes only when its grid lists them
    before = {"lr": 0.1, "epochs": 100, "l2": 0.0, "batch_size": None, "optimizer": "gd",
              "tol": None, "fit_intercept": True}
    assert G.default_hyperparameters("linear_regression") == before
    assert G.default_hyperparameters("logistic_regression") == before
    assert G.default_hyperparameters("softmax_regression") == before
    # the MLP takes no fit_intercept and has its own measured defaults
    assert G.default_hyperparameters("mlp_classifier") == {
        "lr": 0.05, "epochs": 500, "l2": 0.0, "batch_size": None, "optimizer": "adam",
        "tol": None}
    [run] = G.expand_grid({"lr": [1], "epochs": [5], "loss": ["squared"],
                           "init_scale": [2]}, "logistic_regression")
    assert run == {**before, "lr": 1.0, "epochs": 5, "loss": "squared", "init_scale": 2.0}
    assert isinstance(run["init_scale"], float)
    # every spec a grid makes builds the model (no key the class does not take)
    from gdlab.models import MODELS

    for model in MODELS:
        for hp in G.expand_grid({"lr": [0.1], "epochs": [1]}, model):
            MODELS[model](**hp, seed=0)


def test_list_values_make_path_safe_names():
    grid = {"hidden_layer_sizes": [[16], [32, 8]], "activation": ["tanh"], "lr": [0.05],
            "epochs": [10]}
    runs = G.expand_grid(grid, "mlp_classifier")
    names = [G.run_name(hp, grid) for hp in runs]
    assert names == ["activation~tanh/epochs~10/hidden_layer_sizes~16/lr~0.05",
                     "activation~tanh/epochs~10/hidden_layer_sizes~32x8/lr~0.05"]
    assert runs[1]["hidden_layer_sizes"] == [32, 8]
    assert all(re.fullmatch(r"[A-Za-z0-9_.~/+-]+", n) for n in names)


def test_run_names_are_readable_and_injective():
    grid = {"lr": [0.1, 0.10000000000000002, 1e-05], "optimizer": ["gd"], "batch_size": [None]}
    names = [G.run_name(hp, grid) for hp in G.expand_grid(grid, "linear_regression")]
    assert names[0] == "batch_size~none/lr~0.1/optimizer~gd"
    assert len(set(names)) == 3  # floats that differ in the last bit keep distinct names
    assert "lr~1e-05" in names[2]


def test_stable_hash_ignores_key_order_and_int_float_spelling():
    assert G.stable_hash({"a": 1, "b": [1, 2]}) == G.stable_hash({"b": [1, 2], "a": 1})
    assert G.stable_hash({"a": 1}) != G.stable_hash({"a": 2})
    # swapped values of two keys must not collide (Snakemake's own params check misses this)
    assert G.stable_hash({"lr": 0.1, "l2": 0.01}) != G.stable_hash({"lr": 0.01, "l2": 0.1})


def test_derived_seeds_depend_on_identity_not_order():
    a = G.derive_seed(42, "moons", "logistic_regression", {"lr": 0.1})
    assert a == G.derive_seed(42, "moons", "logistic_regression", {"lr": 0.1})
    assert a != G.derive_seed(43, "moons", "logistic_regression", {"lr": 0.1})
    assert a != G.derive_seed(42, "moons", "logistic_regression", {"lr": 0.2})
    assert 0 <= a < 2**32


def test_sweeps_pair_each_model_with_datasets_of_its_task():
    config = {"datasets": {"a": {"task": "regression"}, "b": {"task": "classification"},
                           "c": {"task": "classification"}},
              "models": {"linear_regression": {}, "logistic_regression": {}}}
    assert G.sweeps(config) == [("a", "linear_regression"), ("b", "logistic_regression"),
                                ("c", "logistic_regression")]


def test_a_model_sweeps_only_the_datasets_it_names():
    config = {"datasets": {"a": {"task": "classification"}, "b": {"task": "classification"},
                           "c": {"task": "classification"}},
              "models": {"logistic_regression": {},
                         "mlp_classifier": {"datasets": ["c", "a"]}}}
    assert G.sweeps(config) == [
        ("a", "logistic_regression"), ("b", "logistic_regression"),
        ("c", "logistic_regression"), ("a", "mlp_classifier"), ("c", "mlp_classifier")]


def test_sweeps_give_k_class_datasets_to_multiclass_models_only():
    blobs = {"task": "classification", "source": "synthetic", "generator": "blobs"}
    config = {"datasets": {
        "two": {**blobs}, "three": {**blobs, "n_classes": 3},
        "iris": {"task": "classification", "source": "sklearn", "name": "iris"},
        "bc": {"task": "classification", "source": "sklearn", "name": "breast_cancer"},
        "csv4": {"task": "classification", "source": "csv", "n_classes": 4},
        "line": {"task": "regression", "source": "synthetic", "generator": "linear"}},
        "models": dict.fromkeys(["logistic_regression", "softmax_regression",
                                 "mlp_regressor"], {})}
    assert G.sweeps(config) == [
        ("bc", "logistic_regression"), ("two", "logistic_regression"),
        ("line", "mlp_regressor"),
        ("bc", "softmax_regression"), ("csv4", "softmax_regression"),
        ("iris", "softmax_regression"), ("three", "softmax_regression"),
        ("two", "softmax_regression")]
