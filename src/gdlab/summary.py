"""Tables of a sweep's runs, the choice of its best run, and the table across sweeps.

The best run is chosen on the **validation** metric named in the config's ``selection``;
its test metrics are what gets reported. Test data never take part in the choice.
"""

from __future__ import annotations

import csv
import io
import math

from gdlab.grid import reference_key
from gdlab.metrics import HIGHER_IS_BETTER

PARTS = ("train", "val", "test")


def _cell(v) -> str:
    if v is None:
        return ""
    if isinstance(v, bool):
        return str(v).lower()
    if isinstance(v, float):
        return repr(v)  # round-trips exactly; nan and inf read back as float("nan"/"inf")
    return str(v)


def to_csv(rows: list[dict]) -> str:
    buf = io.StringIO()
    columns = list(dict.fromkeys(k for row in rows for k in row))  # union, in first-seen order
    writer = csv.DictWriter(buf, fieldnames=columns, lineterminator="\n", restval="")
    writer.writeheader()
    writer.writerows({k: _cell(v) for k, v in row.items()} for row in rows)
    return buf.getvalue()


def _metric(run: dict, part: str, name: str) -> float:
    v = run["metrics"][part].get(name)
    return float("nan") if v is None else float(v)


def rank_runs(runs: list[dict], metric: str) -> list[dict]:
    """Runs that did not diverge and have a finite validation ``metric``, best first.

    Ties go to the first run name, so the order depends on results only.
    """
    candidates = [r for r in runs
                  if not r["diverged"] and math.isfinite(_metric(r, "val", metric))]
    sign = -1.0 if HIGHER_IS_BETTER[metric] else 1.0
    return sorted(candidates, key=lambda r: (sign * _metric(r, "val", metric), r["run_name"]))


def select_best(runs: list[dict], metric: str) -> dict | None:
    """The first of :func:`rank_runs`, or None when no run qualifies."""
    ranked = rank_runs(runs, metric)
    return ranked[0] if ranked else None


def sweep_table(runs: list[dict], baseline: dict, best: dict | None) -> list[dict]:
    rows = []
    for r in sorted(runs, key=lambda r: r["run_name"]):
        ref = baseline["references"][reference_key(r["hyperparameters"])]
        row = {"dataset": r["dataset"], "model": r["model"], "run_name": r["run_name"],
               "run_key": r["run_key"]}
        row.update(r["hyperparameters"])
        final = r["final_objective"]
        row.update({
            "seed": r["seed"], "n_epochs": r["n_epochs"], "diverged": r["diverged"],
            "converged": r["converged"], "final_objective": final,
            "sklearn_objective": ref["objective"],
            "objective_gap": (final - ref["objective"]) if final is not None else None,
            "best": best is not None and r["run_key"] == best["run_key"],
        })
        for part in PARTS:
            for name, v in r["metrics"][part].items():
                row[f"{part}_{name}"] = v
        rows.append(row)
    return rows


def best_record(best: dict | None, baseline: dict, metric: str, dataset: str, model: str) -> dict:
    rec = {"dataset": dataset, "model": model, "selection_metric": f"val_{metric}"}
    if best is None:
        return {**rec, "run_name": None, "note": "every run diverged or has no finite metric"}
    ref = baseline["references"][reference_key(best["hyperparameters"])]
    return {**rec, "run_name": best["run_name"], "run_key": best["run_key"],
            "hyperparameters": best["hyperparameters"], "n_epochs": best["n_epochs"],
            "metrics": best["metrics"], "final_objective": best["final_objective"],
            "sklearn": {"objective": ref["objective"], "metrics": ref["metrics"]}}


def overview_row(best: dict, n_runs: int, n_diverged: int) -> dict:
    """One line of ``results/summary.csv``: a sweep's best run against scikit-learn."""
    metric = best["selection_metric"].removeprefix("val_")
    row = {"dataset": best["dataset"], "model": best["model"], "runs": n_runs,
           "diverged": n_diverged, "best_run": best["run_name"],
           "selection": best["selection_metric"]}
    if best["run_name"] is None:
        return row
    m, ref = best["metrics"], best["sklearn"]
    row[f"val_{metric}"] = m["val"][metric]
    for name, v in m["test"].items():
        row[f"test_{name}"] = v
        row[f"sklearn_test_{name}"] = ref["metrics"]["test"][name]
    row["objective_gap"] = best["final_objective"] - ref["objective"]
    return row
