"""The search methods' registry (gdlab.methods): every method found, the config schema and
the records built from it, the one shard split, and no method named outside its room."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from conftest import REPO

from gdlab import grid as G
from gdlab import runfiles
from gdlab.config import load_schema
from gdlab.methods import METHODS, SEARCHES, method_of
from gdlab.methods.base import Method


def test_every_method_module_is_registered_under_its_name():
    modules = {p.stem for p in (REPO / "src/gdlab/methods").glob("*.py")} - {"__init__", "base"}
    assert set(METHODS) == modules
    assert all(isinstance(m, Method) and m.module == f"gdlab.methods.{name}"
               for name, m in METHODS.items())
    assert list(METHODS)[0] == "grid" and "grid" not in SEARCHES
    assert method_of({"grid": {"lr": [1]}}) is METHODS["grid"]
    with pytest.raises(ValueError, match="unknown search method 'nope'"):
        method_of({"search": {"method": "nope"}})


def test_the_config_schema_offers_every_search_and_its_own_form():
    search = load_schema(REPO / "config/schema.yaml")["properties"]["models"]["properties"][
        "logistic_regression"]["properties"]["search"]
    assert search["properties"]["method"]["enum"] == list(SEARCHES)
    assert [form["properties"]["method"]["const"] for form in search["oneOf"]] == list(SEARCHES)


def test_the_stage_folders_come_from_the_methods():
    # a stage's shard: its runs live where its method says
    for method in (m for m in METHODS.values() if m.stage_folder):
        manifest = Path("r", "moons", "m", method.stage_folder, "0", "shards", "1.json")
        owner = manifest.parent.parent if method.stage_owns_runs else Path("r", "moons", "m")
        assert runfiles.runs_folder(manifest) == owner / "runs"


def test_one_shard_split_for_every_sweep_rung_and_round():
    names = [f"lr~{i}" for i in range(50)]
    given = names[::-1]
    shards = G.split_shards(given, 7)
    n = G.shard_count(50, 7)
    assert sorted(name for members in shards.values() for name in members) == sorted(names)
    assert list(shards) == sorted(shards, key=int)
    for k, members in shards.items():
        assert all(G.shard_of(name, n) == int(k) for name in members)
        assert members == sorted(members, key=given.index)  # the order given
    assert G.split_shards([], 7) == {}


def test_no_rule_runfiles_or_tracking_dispatches_on_a_method_name():
    """Rules, runfiles and tracking ask the registry; only a method's own module and rules
    file (Method.rules) name it. (``grid`` is also a config key, so only searches.)"""
    own = {m.rules for m in METHODS.values() if m.rules}
    files = [p for p in (REPO / "workflow/rules").glob("*.smk") if p.name not in own]
    files += [REPO / "Snakefile", REPO / "src/gdlab/runfiles.py", REPO / "src/gdlab/jobs.py",
              *(REPO / "src/gdlab/tracking").glob("*.py")]
    for path in files:
        code = "\n".join(line.split("#")[0] for line in path.read_text().splitlines())
        for name in SEARCHES:
            assert not re.search(rf"""["']{name}["']""", code), (path.name, name)
