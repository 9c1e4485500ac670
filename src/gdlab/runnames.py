"""The short names people read runs by: what varies within a sweep, in a fixed order of
hyperparameters (tables, chart legends, MLflow's run names)."""

from __future__ import annotations

import math

from gdlab.models.registry import COMMON_AXES, REGISTRY

#: the order hyperparameters are named in: the common axes (lr first), then each model's
ORDER = tuple(dict.fromkeys([*COMMON_AXES, "fit_intercept",
                             *(k for info in REGISTRY.values() for k in info.own_axes)]))


#: hyperparameters named by their value alone (the value says what it is)
_BARE = ("optimizer", "loss", "activation")


def short_value(value) -> str:
    """A value as a person reads it: ``0.001``, ``1e-05``, ``16x16``, ``none``."""
    if value is None:
        return "none"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        return f"{value:.3g}" if math.isfinite(value) else str(value)
    if isinstance(value, list | tuple):
        return "x".join(short_value(v) for v in value)
    return str(value)


def varying(hyperparameters: list[dict]) -> list[str]:
    """The hyperparameters whose value differs between runs, in :data:`ORDER`."""
    keys = {k for hp in hyperparameters for k in hp}
    keys = sorted(keys, key=lambda k: (ORDER.index(k) if k in ORDER else len(ORDER), k))
    return [k for k in keys if len({repr(hp.get(k)) for hp in hyperparameters}) > 1]


def short_name(hp: dict, axes: list[str], *, trial: int | None = None,
               repeat: int | None = None) -> str:
    """``lr=0.1 momentum l2=0.05``: the values of ``axes`` (what varies in the sweep;
    constants are params, not name parts), named values bare; a search's trial number
    first, a repeat last. Short enough for a chart's legend."""
    parts = [f"#{trial}"] if trial is not None else []
    for k in axes:
        value = short_value(hp.get(k))
        parts.append(value if k in _BARE else f"{k}={value}")
    if repeat is not None:
        parts.append(f"r{repeat}")
    return " ".join(parts) or "the only run"


def short_names(results: list[dict]) -> dict[str, str]:
    """Run name -> :func:`short_name` for a sweep's runs (their ``metrics.json`` or specs):
    the axes that vary across the sweep, a search's trial number first, the repeat last.
    Unique, since two configurations differ in a varying axis or their trial."""
    axes = varying([r["hyperparameters"] for r in results])
    repeats = any("repeat" in r for r in results)
    return {r["run_name"]: short_name(r["hyperparameters"], axes, trial=_trial(r["run_name"]),
                                      repeat=int(r["repeat"]) if repeats else None)
            for r in results}


def _trial(run_name: str) -> int | None:
    """The trial number of a search's run (``trial~0007/...``), else None."""
    first = run_name.split("/", 1)[0]
    return int(first.removeprefix("trial~")) if first.startswith("trial~") else None
