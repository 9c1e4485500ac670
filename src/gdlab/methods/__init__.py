"""Every search method gdlab can make a sweep by, by name: the one list the config schema,
the planning (``workflow/rules/common.smk``), the records (:mod:`gdlab.runfiles`) and the
MLflow parent's description are driven from.

A method is one module of this package that defines ``METHOD``, an instance of
:class:`gdlab.methods.base.Method`: its config schema and checks, its points, its stages
and their shards, its figures, where its records live and how its parent run is described.
The modules are found here by listing the package, so adding a method is adding its
module (and, if it trains in stages, its rules file ``workflow/rules/<name>.smk``).
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Mapping
from types import MappingProxyType

from gdlab.methods.base import Method


def _discover() -> dict[str, Method]:
    found = {}
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda i: i.name):
        if info.name == "base":
            continue
        method = getattr(importlib.import_module(f"{__name__}.{info.name}"), "METHOD", None)
        if isinstance(method, Method):
            found[method.name] = method
    return found


#: method name -> its :class:`Method`, grid first, then by name
METHODS: Mapping[str, Method] = MappingProxyType(
    dict(sorted(_discover().items(), key=lambda kv: (kv[0] != "grid", kv[0]))))

#: the methods a ``search:`` names (every one but the grid, which is ``grid:``)
SEARCHES: tuple[str, ...] = tuple(
    n for n, m in METHODS.items() if type(m).search_schema is not Method.search_schema)


def method_of(model_spec: dict) -> Method:
    """The method that makes a model's sweep: its search's, else grid."""
    name = model_spec["search"]["method"] if "search" in model_spec else "grid"
    try:
        return METHODS[name]
    except KeyError:
        raise ValueError(f"unknown search method {name!r}; choose one of "
                         f"{sorted(METHODS)}") from None


def models_where(config: dict, test) -> list[str]:
    """The config's models whose method passes ``test`` (a predicate on a :class:`Method`),
    sorted: what a rule's ``model`` wildcard may match."""
    return sorted(m for m, spec in config["models"].items() if test(method_of(spec)))


def stage_fields() -> tuple[str, ...]:
    """The fields of a run's spec that name its stage, one per staged method."""
    return tuple(m.stage_field for m in METHODS.values() if m.stage_field)


def cluster_rules() -> set[str]:
    """The rules whose jobs a cluster runs: every method's training rules."""
    return {r for m in METHODS.values() for r in m.cluster_rules}


def run_specs(config: dict, dataset: str, model: str, data_key: str,
              code: str) -> dict[str, dict]:
    """Run name -> the whole spec of every run of a sweep known at planning time (what its
    train jobs receive; :meth:`Method.run_specs`)."""
    return method_of(config["models"][model]).run_specs(config, dataset, model, data_key, code)
