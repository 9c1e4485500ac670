"""The config is checked against config/schema.yaml before any job runs; messages name the key."""

from __future__ import annotations

import copy
import os

import pytest
import yaml
from conftest import REPO, tiny_config

from gdlab.config import ConfigError, load_schema, validate_config

SCHEMA = load_schema(REPO / "config" / "schema.yaml")


def problems(config: dict, base_dir=REPO) -> list[str]:
    """The lines of the ConfigError that ``config`` must raise, one per problem."""
    with pytest.raises(ConfigError) as info:
        validate_config(config, SCHEMA, base_dir=base_dir)
    head, *lines = str(info.value).splitlines()
    assert head == "invalid config:"
    return [line.strip() for line in lines]


def assert_names(config: dict, key: str, *fragments: str) -> list[str]:
    """``config`` is rejected with a problem line that starts with ``key:``."""
    found = problems(config)
    hits = [line for line in found if line.startswith(f"{key}: ")]
    assert hits, f"no problem names {key!r}; got {found}"
    for fragment in fragments:
        assert any(fragment in line for line in hits), (fragment, hits)
    return found


def grid(config: dict, model: str = "linear_regression") -> dict:
    return config["models"][model]["grid"]


# ------------------------------------------------------------------------------------------
# Valid configs
# ------------------------------------------------------------------------------------------


def test_the_shipped_default_config_is_valid():
    with open(REPO / "config" / "config.yaml", encoding="utf-8") as f:
        config = yaml.safe_load(f)
    validate_config(config, SCHEMA, base_dir=REPO)


@pytest.mark.parametrize("overlay", ["lesson.yaml", "search.yaml", "halving.yaml", "tpe.yaml"])
def test_the_shipped_overlays_are_valid(overlay):
    from snakemake.utils import update_config

    with open(REPO / "config" / "config.yaml", encoding="utf-8") as f:
        config = yaml.safe_load(f)
    with open(REPO / "config" / overlay, encoding="utf-8") as f:
        update_config(config, yaml.safe_load(f))  # as --configfile merges it
    validate_config(config, SCHEMA, base_dir=REPO)


def test_defaults_are_filled_in_place():
    config = tiny_config()
    del config["split"]["stratify"], config["split"]["standardize"], config["mlflow"]
    config["selection"] = {}
    out = validate_config(config, SCHEMA)
    # the Snakefile ignores the return value: the config it passed in must carry the defaults
    assert out is config
    assert config["split"]["stratify"] is True and config["split"]["standardize"] is True
    assert config["mlflow"] == {"register_models": True}
    assert config["selection"] == {"classification": "log_loss", "regression": "mse"}


def test_yaml_1e_minus_3_is_read_as_the_number_where_the_schema_wants_one():
    text = """
    experiment: 1e3
    lr: [1e-3, 2.5E-1, .5]
    test_size: 2e-1
    """
    raw = yaml.safe_load(text)
    assert raw["lr"][0] == "1e-3" and raw["test_size"] == "2e-1"  # PyYAML's YAML 1.1 reading
    config = tiny_config()
    config["experiment"] = raw["experiment"]
    grid(config)["lr"] = raw["lr"]
    config["split"]["test_size"] = raw["test_size"]
    validate_config(config, SCHEMA)
    assert grid(config)["lr"] == [0.001, 0.25, 0.5]
    assert all(type(v) is float for v in grid(config)["lr"])
    assert config["split"]["test_size"] == 0.2
    assert config["experiment"] == "1e3"  # a string where the schema wants a string


@pytest.mark.parametrize("value", ["abc", "1e-3x", "", "1e", "nan", "inf", "0x10"])
def test_a_string_that_is_not_a_number_is_rejected_where_a_number_belongs(value):
    config = tiny_config()
    grid(config)["lr"] = [0.1, value]
    assert_names(config, "models.linear_regression.grid.lr[1]", "is not of type 'number'")


def test_1e3_is_not_an_integer():
    config = tiny_config()
    grid(config)["epochs"] = ["1e3"]
    assert_names(config, "models.linear_regression.grid.epochs[0]", "'integer'")


def test_1e_minus_3_and_0_001_are_the_same_grid_value():
    config = tiny_config()
    grid(config)["lr"] = ["1e-3", 0.001]
    assert_names(config, "models.linear_regression.grid.lr", "repeated value")


def test_whole_number_floats_become_ints_where_an_integer_is_wanted():
    # JSON Schema counts 42.0 as an integer; the jobs must then receive 42, not 42.0
    config = tiny_config()
    config["seed"], config["split"]["seed"] = 42.0, 7.0
    grid(config)["epochs"] = [15.0]
    validate_config(config, SCHEMA)
    assert type(config["seed"]) is int and type(config["split"]["seed"]) is int
    assert grid(config)["epochs"] == [15] and type(grid(config)["epochs"][0]) is int
    grid(config)["epochs"] = [15.5]
    assert_names(config, "models.linear_regression.grid.epochs[0]", "'integer'")


@pytest.mark.parametrize("values", [[1, 1.0], [0.0, -0.0]])
def test_values_that_make_the_same_run_are_repeated_values(values):
    config = tiny_config()
    grid(config)["l2"] = values
    assert_names(config, "models.linear_regression.grid.l2", "repeated value")


def test_selection_may_be_left_out():
    config = tiny_config()
    del config["selection"]
    validate_config(config, SCHEMA)
    assert config["selection"] == {"classification": "log_loss", "regression": "mse"}


def test_fit_intercept_is_not_a_grid_key():
    # the scikit-learn baseline always fits an intercept; a run without one would be
    # measured against the optimum of another problem
    config = tiny_config()
    grid(config)["fit_intercept"] = [False]
    assert_names(config, "models.linear_regression.grid.fit_intercept", "unknown key")


def test_the_schemas_models_and_axes_are_the_registrys():
    from gdlab.models.registry import REGISTRY

    models = SCHEMA["properties"]["models"]
    assert models["propertyNames"]["enum"] == list(REGISTRY)
    for name, info in REGISTRY.items():
        axes = models["properties"][name]["properties"]["grid"]["properties"]
        assert {k: v["items"] for k, v in axes.items()} == info.axes
        # a model's default grid is a valid grid of it
        config = tiny_config()
        config["models"] = {name: {"grid": {k: list(v) for k, v in
                                            {"lr": [0.1], "epochs": [1],
                                             **info.default_grid}.items()}}}
        config["datasets"]["k3"] = {"task": "classification", "source": "sklearn",
                                    "name": "iris"}
        validate_config(config, SCHEMA, base_dir=REPO)


def test_k_class_datasets_and_the_new_models_axes_are_accepted():
    config = tiny_config()
    config["datasets"]["blobs3"] = {"task": "classification", "source": "synthetic",
                                    "generator": "blobs", "n_samples": 90, "n_features": 2,
                                    "noise": 0.5, "n_classes": 3}
    config["models"]["mlp_classifier"] = {"grid": {
        "lr": [0.05], "epochs": [5], "hidden_layer_sizes": [[16], [8, 4]],
        "activation": ["tanh", "relu"]}}
    grid(config, "logistic_regression").update(loss=["log_loss", "squared"],
                                                init=["zeros", "normal"], init_scale=["2"])
    validate_config(config, SCHEMA, base_dir=REPO)
    assert grid(config, "logistic_regression")["init_scale"] == [2.0]  # coerced


def test_a_random_search_and_repeats_are_accepted_and_numbers_coerced():
    config = tiny_config()
    _search()(config)
    config["models"]["logistic_regression"]["search"]["space"]["lr"] = {
        "loguniform": ["1e-3", "1e1"]}  # YAML 1.1's strings
    config["models"]["logistic_regression"]["search"]["space"]["epochs"] = {"int": [5.0, 15]}
    config["repeats"] = 3
    config["models"]["linear_regression"]["repeats"] = 1
    validate_config(config, SCHEMA)
    space = config["models"]["logistic_regression"]["search"]["space"]
    assert space["lr"] == {"loguniform": [0.001, 10.0]}
    assert space["epochs"] == {"int": [5, 15]} and type(space["epochs"]["int"][0]) is int


def test_an_overlay_replaces_a_grid_by_a_search_with_grid_null(tmp_path):
    from snakemake.utils import update_config

    config = tiny_config()
    overlay = {"models": {"logistic_regression": {"grid": None, "search": SEARCH}}}
    update_config(config, copy.deepcopy(overlay))  # how --configfile merges an overlay
    assert config["models"]["logistic_regression"]["grid"] is None
    validate_config(config, SCHEMA)
    assert config["models"]["logistic_regression"] == {"search": SEARCH}


def test_the_search_space_of_every_axis_is_the_registrys():
    from gdlab.methods import SEARCHES
    from gdlab.models.registry import REGISTRY

    models = SCHEMA["properties"]["models"]
    for name, info in REGISTRY.items():
        # one space per search method (gdlab.methods): each axis, same forms
        forms_of = models["properties"][name]["properties"]["search"]["oneOf"]
        assert len(forms_of) == len(SEARCHES)
        for space in (form["properties"]["space"] for form in forms_of):
            assert set(space["properties"]) == set(info.axes)
        for axis, schema in info.axes.items():
            forms = space["properties"][axis]["properties"]
            assert forms["choice"]["items"] == schema  # a choice is checked as a grid value
            types = schema.get("type", [])
            numbers = "number" in ([types] if isinstance(types, str) else types)
            assert ("loguniform" in forms) == ("uniform" in forms) == numbers


# ------------------------------------------------------------------------------------------
# Invalid configs: one problem each, named by its key
# ------------------------------------------------------------------------------------------


def _set(path, value):
    """A mutation that sets config[path[0]][path[1]]... = value."""
    def mutate(config):
        node = config
        for part in path[:-1]:
            node = node[part]
        node[path[-1]] = value
    return mutate


def _delete(*path):
    def mutate(config):
        node = config
        for part in path[:-1]:
            node = node[part]
        del node[path[-1]]
    return mutate


def _add_dataset(name, spec):
    return _set(("datasets", name), spec)


def _only_regression(config):
    del config["datasets"]["moons"]


def _roc_auc_with_iris(config):
    config["datasets"]["iris"] = {"task": "classification", "source": "sklearn", "name": "iris"}
    config["selection"]["classification"] = "roc_auc"


CSV = {"task": "classification", "source": "csv", "path": "pyproject.toml", "target": "y"}

SEARCH = {"method": "random", "n_trials": 8, "seed": 3,
          "space": {"lr": {"loguniform": [1.0e-3, 10.0]}, "l2": {"uniform": [0.0, 0.1]},
                    "epochs": {"int": [5, 15]}, "batch_size": {"choice": [None, 16]},
                    "optimizer": {"choice": ["gd", "adam"]}}}


def _search(grid=False, method=None, n_trials=None, **axes):
    """logistic_regression searched (with its grid too if ``grid``); ``axes`` replace
    the space's (None removes one)."""
    def mutate(config):
        spec = config["models"]["logistic_regression"]
        search = spec["search"] = copy.deepcopy(SEARCH)
        if not grid:
            del spec["grid"]
        if method is not None:
            search["method"] = method
        if n_trials is not None:
            search["n_trials"] = n_trials
        for axis, dist in axes.items():
            if dist is None:
                del search["space"][axis]
            else:
                search["space"][axis] = dist
    return mutate

INVALID = {
    "unknown top-level key": (
        _set(("epochs",), 10), "epochs", ["unknown key", "experiment"]),
    "unknown key inside a dataset": (
        _set(("datasets", "line", "colour"), "red"), "datasets.line.colour",
        ["unknown key", "n_samples"]),
    "negative lr": (
        _set(("models", "linear_regression", "grid", "lr"), [0.1, -0.1]),
        "models.linear_regression.grid.lr[1]", ["-0.1", "minimum of 0"]),
    "zero lr": (
        _set(("models", "logistic_regression", "grid", "lr"), [0]),
        "models.logistic_regression.grid.lr[0]", ["minimum of 0"]),
    "empty grid list": (
        _set(("models", "linear_regression", "grid", "l2"), []),
        "models.linear_regression.grid.l2", ["non-empty"]),
    "grid without lr": (
        _delete("models", "linear_regression", "grid", "lr"),
        "models.linear_regression.grid", ["'lr' is a required property"]),
    "unknown grid key": (
        _set(("models", "linear_regression", "grid", "momentum"), [0.9]),
        "models.linear_regression.grid.momentum", ["unknown key"]),
    "unknown optimizer": (
        _set(("models", "linear_regression", "grid", "optimizer"), ["sgd"]),
        "models.linear_regression.grid.optimizer[0]", ["'sgd'"]),
    "test_size 1": (_set(("split", "test_size"), 1), "split.test_size", ["maximum of 1"]),
    "test_size 1.5": (_set(("split", "test_size"), 1.5), "split.test_size", ["maximum of 1"]),
    "val_size 0": (_set(("split", "val_size"), 0), "split.val_size", ["minimum of 0"]),
    "test_size + val_size = 1": (
        _set(("split", "val_size"), 0.75), "split", ["test_size + val_size must be < 1"]),
    "model that fits no dataset": (
        _only_regression, "models.logistic_regression", ["classification"]),
    "string for lr": (
        _set(("models", "linear_regression", "grid", "lr"), ["abc"]),
        "models.linear_regression.grid.lr[0]", ["'abc'", "number"]),
    "dataset name with a slash": (
        _add_dataset("a/b", {"task": "regression", "source": "sklearn", "name": "diabetes"}),
        "datasets.a/b", ["invalid name", "[A-Za-z0-9_-]"]),
    "dataset name with a space": (
        _add_dataset("my data", {"task": "regression", "source": "sklearn", "name": "diabetes"}),
        "datasets.my data", ["invalid name"]),
    "unknown model": (
        _set(("models", "svm"), {"grid": {"lr": [0.1], "epochs": [1]}}),
        "models.svm", ["invalid name", "linear_regression"]),
    "generator of the wrong task": (
        _set(("datasets", "line", "generator"), "blobs"), "datasets.line.generator",
        ["'blobs' makes classification data, not regression"]),
    "2-D generator with 3 features": (
        _set(("datasets", "moons", "n_features"), 3), "datasets.moons.n_features", ["2-D"]),
    "sklearn dataset of the wrong task": (
        _add_dataset("diab", {"task": "classification", "source": "sklearn",
                              "name": "diabetes"}),
        "datasets.diab.name", ["regression"]),
    "missing csv file": (
        _add_dataset("mine", {**CSV, "path": "no/such.csv"}), "datasets.mine.path",
        ["no such file 'no/such.csv'"]),
    "unknown selection metric": (
        _set(("selection", "regression"), "accuracy"), "selection.regression", ["'accuracy'"]),
    "negative seed": (_set(("seed",), -1), "seed", ["minimum of 0"]),
    "missing experiment": (_delete("experiment"), "<top level>", ["'experiment'"]),
    "no datasets": (_set(("datasets",), {}), "datasets", ["non-empty"]),
    # oneOf (a dataset's form depends on its source): the message must come from that form
    "synthetic: n_samples a string": (
        _set(("datasets", "line", "n_samples"), "many"), "datasets.line.n_samples",
        ["'many' is not of type 'integer'"]),
    "synthetic: negative noise": (
        _set(("datasets", "line", "noise"), -0.1), "datasets.line.noise", ["minimum of 0"]),
    "synthetic: missing n_features": (
        _delete("datasets", "line", "n_features"), "datasets.line",
        ["'n_features' is a required property"]),
    "synthetic: unknown generator": (
        _set(("datasets", "line", "generator"), "spiral"), "datasets.line.generator",
        ["'spiral'"]),
    "sklearn: unknown name": (
        _add_dataset("x", {"task": "regression", "source": "sklearn", "name": "mnist"}),
        "datasets.x.name", ["'mnist' is not one of"]),
    "sklearn: a synthetic key": (
        _add_dataset("x", {"task": "regression", "source": "sklearn", "name": "diabetes",
                           "noise": 0.1}),
        "datasets.x.noise", ["unknown key", "name"]),
    "csv: missing target": (
        _add_dataset("x", {k: v for k, v in CSV.items() if k != "target"}), "datasets.x",
        ["'target' is a required property"]),
    "csv: empty path": (
        _add_dataset("x", {**CSV, "path": ""}), "datasets.x.path", ["non-empty"]),
    "unknown source": (
        _set(("datasets", "line", "source"), "web"), "datasets.line.source", ["'web'"]),
    "missing source": (
        _delete("datasets", "line", "source"), "datasets.line",
        ["'source' is a required property"]),
    "unknown task": (
        _set(("datasets", "line", "task"), "clustering"), "datasets.line.task",
        ["'clustering'"]),
    "an axis of another model": (
        _set(("models", "logistic_regression", "grid", "hidden_layer_sizes"), [[16]]),
        "models.logistic_regression.grid.hidden_layer_sizes", ["unknown key", "loss"]),
    "a loss logistic regression does not have": (
        _set(("models", "logistic_regression", "grid", "loss"), ["hinge"]),
        "models.logistic_regression.grid.loss[0]", ["'hinge'"]),
    "an empty architecture": (
        _set(("models", "mlp_classifier"), {"grid": {"lr": [0.1], "epochs": [1],
                                                     "hidden_layer_sizes": [[]]}}),
        "models.mlp_classifier.grid.hidden_layer_sizes[0]", ["should be non-empty"]),
    "n_classes of xor": (
        _add_dataset("xor3", {"task": "classification", "source": "synthetic",
                              "generator": "xor", "n_samples": 90, "n_features": 2,
                              "noise": 0.1, "n_classes": 3}),
        "datasets.xor3.n_classes", ["only 'blobs'"]),
    "n_classes of a regression set": (
        _set(("datasets", "line", "n_classes"), 2), "datasets.line.n_classes",
        ["regression"]),
    "binary model, only K-class data": (
        _set(("datasets", "moons"), {"task": "classification", "source": "sklearn",
                                     "name": "wine"}),
        "models.logistic_regression", ["binary (two-class) classification"]),
    "binary-only selection metric with K classes": (
        _roc_auc_with_iris, "selection.classification", ["binary only", "iris"]),
    "a model naming a dataset that does not exist": (
        _set(("models", "logistic_regression", "datasets"), ["moon"]),
        "models.logistic_regression.datasets", ["no dataset 'moon'", "'line', 'moons'"]),
    "a model naming a dataset of the other task": (
        _set(("models", "logistic_regression", "datasets"), ["line"]),
        "models.logistic_regression.datasets", ["does not fit 'line'", "binary"]),
    "a model naming a dataset twice": (
        _set(("models", "logistic_regression", "datasets"), ["moons", "moons"]),
        "models.logistic_regression.datasets", ["non-unique"]),
    "dataset not a mapping": (
        _set(("datasets", "line"), 5), "datasets.line", ["not of type 'object'"]),
    # random search and repeats
    "grid and search together": (
        _search(grid=True), "models.logistic_regression",
        ["both 'grid' and 'search'", "models.logistic_regression.grid",
         "models.logistic_regression.search"]),
    "neither grid nor search": (
        _delete("models", "logistic_regression", "grid"), "models.logistic_regression",
        ["needs 'grid'", "or 'search'"]),
    "search: log-uniform from 0": (
        _search(lr={"loguniform": [0.0, 1.0]}),
        "models.logistic_regression.search.space.lr.loguniform[0]", ["minimum of 0"]),
    "search: log-uniform from a negative l2": (
        _search(l2={"loguniform": [-1.0, 1.0]}),
        "models.logistic_regression.search.space.l2.loguniform[0]", ["-1.0"]),
    "search: bounds the wrong way round": (
        _search(lr={"loguniform": [1.0, 0.1]}),
        "models.logistic_regression.search.space.lr.loguniform",
        ["lower bound must be below the upper bound", "[1.0, 0.1]"]),
    "search: equal bounds": (
        _search(l2={"uniform": [0.1, 0.1]}),
        "models.logistic_regression.search.space.l2.uniform", ["{choice: [0.1]}"]),
    "search: one bound": (
        _search(lr={"uniform": [0.1]}),
        "models.logistic_regression.search.space.lr.uniform", ["too short"]),
    "search: int bounds not integers": (
        _search(epochs={"int": [10, 20.5]}),
        "models.logistic_regression.search.space.epochs.int[1]", ["'integer'"]),
    "search: int of a number axis": (
        _search(lr={"int": [1, 3]}),
        "models.logistic_regression.search.space.lr.int", ["unknown key", "loguniform"]),
    "search: uniform of a categorical axis": (
        _search(optimizer={"uniform": [0, 1]}),
        "models.logistic_regression.search.space.optimizer.uniform",
        ["unknown key", "choice"]),
    "search: a choice the axis does not have": (
        _search(optimizer={"choice": ["gd", "sgd"]}),
        "models.logistic_regression.search.space.optimizer.choice[1]", ["'sgd'"]),
    "search: a repeated choice": (
        _search(batch_size={"choice": [32, 32.0]}),
        "models.logistic_regression.search.space.batch_size.choice", ["repeated value"]),
    "search: two distributions for one axis": (
        _search(l2={"uniform": [0.0, 0.1], "choice": [0.0]}),
        "models.logistic_regression.search.space.l2", ["exactly one of"]),
    "search: no distribution": (
        _search(l2={}), "models.logistic_regression.search.space.l2", ["exactly one of"]),
    "search: an axis of another model": (
        _search(hidden_layer_sizes={"choice": [[16]]}),
        "models.logistic_regression.search.space.hidden_layer_sizes", ["unknown key"]),
    "search: lr missing": (
        _search(lr=None), "models.logistic_regression.search.space",
        ["'lr' is a required property"]),
    "search: unknown method": (
        _search(method="bayes"), "models.logistic_regression.search.method", ["'bayes'"]),
    "search: no trials": (
        _search(n_trials=0), "models.logistic_regression.search.n_trials", ["minimum of 1"]),
    "repeats 0": (_set(("repeats",), 0), "repeats", ["minimum of 1"]),
    "a model's repeats not an integer": (
        _set(("models", "linear_regression", "repeats"), 2.5),
        "models.linear_regression.repeats", ["'integer'"]),
}


@pytest.mark.parametrize("mutate, key, fragments", INVALID.values(), ids=INVALID.keys())
def test_an_invalid_config_is_rejected_naming_the_key(mutate, key, fragments):
    config = tiny_config()
    mutate(config)
    found = assert_names(config, key, *fragments)
    # one mistake, one message: no noise from the schema's other branches
    assert len(found) == 1, found


def test_dataset_messages_come_from_the_form_its_source_selects():
    config = tiny_config()
    config["datasets"]["x"] = {k: v for k, v in CSV.items() if k != "target"}
    config["datasets"]["line"]["noise"] = "loud"
    found = problems(config)
    assert found == [
        "datasets.line.noise: 'loud' is not of type 'number'",
        "datasets.x: 'target' is a required property",
    ]
    text = "\n".join(found)
    # nothing about the forms the user did not choose, and no dumped schema
    for noise in ("generator", "'name'", "valid under", "oneOf", "{"):
        assert noise not in text


def test_every_problem_is_reported_at_once():
    config = tiny_config()
    config["bogus"] = 1
    grid(config)["lr"] = [-1.0]
    config["datasets"]["line"]["noise"] = -1
    config["split"]["test_size"] = 2
    keys = [line.split(": ", 1)[0] for line in problems(config)]
    assert keys == ["bogus", "datasets.line.noise", "models.linear_regression.grid.lr[0]",
                    "split.test_size"]


def test_rejecting_writes_nothing(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    config = tiny_config()
    grid(config)["lr"] = [-1.0]
    problems(config, base_dir=tmp_path)
    assert os.listdir(tmp_path) == []


# ------------------------------------------------------------------------------------------
# Through Snakemake: rejected before any job, nothing left behind
# ------------------------------------------------------------------------------------------

GENERATED = ("data", "results", "logs", "mlflow.db", "mlruns", "report.html")


@pytest.mark.workflow
@pytest.mark.parametrize("args, mutate, key", [
    (["-n"], _set(("models", "linear_regression", "grid", "lr"), [0.1, -3.0]),
     "models.linear_regression.grid.lr[1]"),
    (["--cores", "1"], _set(("datasets", "moons", "colour"), "red"), "datasets.moons.colour"),
], ids=["dry-run", "run"])
def test_snakemake_rejects_an_invalid_config_before_any_job(project, args, mutate, key):
    config = tiny_config()
    mutate(config)
    project.write_config(config)
    proc = project.snakemake(*args, check=False)
    assert proc.returncode != 0
    # a real run reports on stderr; Snakemake prints a dry run's whole output on stdout
    shown = proc.stderr if "-n" not in args else proc.stdout + proc.stderr
    assert f"{key}: " in shown, shown[-3000:]
    assert "invalid config" in shown
    assert "Job stats" not in shown and "localrule" not in shown
    left = [name for name in GENERATED if (project.root / name).exists()]
    assert left == [], f"an invalid config left {left} behind"


def test_the_default_configs_comment_on_lr_2_5_holds():
    """config/config.yaml says lr 2.5 diverges with plain gd on the linear datasets and not
    with momentum: trained here on those datasets and the default split."""
    from gdlab.data import make_synthetic, split_dataset
    from gdlab.grid import derive_seed
    from gdlab.models.linear_regression import LinearRegression

    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    assert 2.5 in config["models"]["linear_regression"]["grid"]["lr"]
    for name in ("line_1d", "linear_8d"):
        ds_cfg, split_cfg = config["datasets"][name], config["split"]
        ds = make_synthetic(ds_cfg["generator"], ds_cfg["n_samples"], ds_cfg["n_features"],
                            ds_cfg["noise"], derive_seed(config["seed"], "dataset", name))
        split = split_dataset(ds, split_cfg["test_size"], split_cfg["val_size"],
                              seed=config["seed"], stratify=False, standardize=True)
        for optimizer, diverges in (("gd", True), ("momentum", False)):
            for l2 in config["models"]["linear_regression"]["grid"]["l2"]:
                model = LinearRegression(lr=2.5, optimizer=optimizer, l2=l2, epochs=100)
                model.fit(split.X_train, split.y_train)
                assert model.diverged_ is diverges, (name, optimizer, l2)


@pytest.mark.parametrize("value", [".nan", ".inf", "-.inf"])
def test_a_non_finite_number_is_refused_naming_its_key(value):
    """``lr: [.nan, 0.1]`` passed the schema (NaN compares false with every bound) and
    failed later in a train job; now the config check names the key."""
    config = tiny_config()
    config["models"]["linear_regression"]["grid"]["lr"] = [yaml.safe_load(value), 0.1]
    with pytest.raises(ConfigError, match=r"models\.linear_regression\.grid\.lr\[0\]: must "
                                          r"be a finite number"):
        validate_config(config, SCHEMA)


def test_a_config_that_is_not_yaml_is_named_with_its_line(tmp_path):
    from gdlab.config import read_yaml_config

    path = tmp_path / "c.yaml"
    path.write_text("experiment: e\nmodels:\n  m:\n    grid:\n      lr: [0.1, 0.2\n"
                    "      l2: [0.0]\n")
    with pytest.raises(ConfigError) as err:
        read_yaml_config(path)
    assert str(err.value).startswith(f"{path}, line 6, column ")
    assert "not valid YAML" in str(err.value) and "starts at line 5" in str(err.value)
    path.write_text("- a list\n- not a mapping\n")
    with pytest.raises(ConfigError, match="a config is a mapping of keys"):
        read_yaml_config(path)
    path.write_text("experiment: e\n")
    assert read_yaml_config(path) == {"experiment": "e"}
