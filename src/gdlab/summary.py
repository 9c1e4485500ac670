"""Tables of a sweep's runs and configurations, the choice of its best run, and the table
across sweeps.

The best run is chosen on the **validation** metric named in the config's ``selection``;
its test metrics are what gets reported. Test data never take part in the choice. A run's
score is what its validation curve holds at the end, not its last epoch: the mean over
the last fifth of its epochs (:func:`gdlab.settling.score`), and a run whose validation
loss still swings there (``oscillating``) ranks after every run that does not. The same
score ranks configurations, halving promotions and TPE's told values.

With repeats (each configuration trained several times, with different seeds), a
configuration's score is the **mean** of its repeats' validation metric, given with a 95 %
Student-t confidence interval (:mod:`gdlab.stats`). The best configuration is the one
with the best mean among those whose every repeat trained without diverging; its best
repeat (on validation) is the sweep's best run, the model that gets registered. Without
repeats a configuration is one run and all of this is the plain choice of the best run.

A successive-halving sweep's runs stopped at different rungs (``rung`` in their spec); the
best comes from the highest rung, and :func:`promote` decides who goes on from each rung.
"""

from __future__ import annotations

import csv
import io
import math

from gdlab.baseline import default_of, optimum_objective
from gdlab.grid import config_of, reference_key
from gdlab.methods import stage_fields
from gdlab.methods.halving import survivors
from gdlab.metrics import HIGHER_IS_BETTER, metric_name
from gdlab.names import short_reason
from gdlab.settling import TAIL, oscillating, score
from gdlab.stats import mean_ci

PARTS = ("train", "val", "test")


def cell(v) -> str:
    """A value as a cell of gdlab's CSV tables."""
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
    writer.writerows({k: cell(v) for k, v in row.items()} for row in rows)
    return buf.getvalue()


def _metric(run: dict, part: str, name: str) -> float:
    v = run["metrics"][part].get(name)
    return float("nan") if v is None else float(v)


def rank_runs(runs: list[dict], metric: str) -> list[dict]:
    """Runs that did not diverge and have a finite validation ``metric``, best first:
    those that do not oscillate first, each part by :func:`gdlab.settling.score` (the
    tail mean of the validation ``metric``).

    Ties go to the first run name, so the order depends on results only.
    """
    candidates = [r for r in runs
                  if not r["diverged"] and math.isfinite(score(r, metric))]
    sign = -1.0 if HIGHER_IS_BETTER[metric] else 1.0
    return sorted(candidates, key=lambda r: (oscillating(r), sign * score(r, metric),
                                             r["run_name"]))


def configurations(runs: list[dict]) -> dict[str, list[dict]]:
    """Configuration name -> its runs (repeat 0 first), configurations sorted by name."""
    groups: dict[str, list[dict]] = {}
    for r in sorted(runs, key=lambda r: config_of(r)[::-1]):
        groups.setdefault(config_of(r)[0], []).append(r)
    return dict(sorted(groups.items()))


def rank_configs(runs: list[dict], metric: str) -> list[tuple[str, list[dict]]]:
    """(name, runs) of the configurations whose every repeat qualifies for
    :func:`rank_runs`, best mean score (:func:`gdlab.settling.score`) first, those with
    an oscillating repeat after the others; ties go to the first name. In a halving
    sweep, configurations that reached a higher rung come first (the best is from the
    top rung: a lower rung's metric is at a smaller budget)."""
    sign = -1.0 if HIGHER_IS_BETTER[metric] else 1.0
    ok = [(name, group) for name, group in configurations(runs).items()
          if len(rank_runs(group, metric)) == len(group)]
    return sorted(ok, key=lambda g: (-g[1][0].get("rung", 0),
                                     any(oscillating(r) for r in g[1]),
                                     sign * mean_ci(score(r, metric) for r in g[1])[0],
                                     g[0]))


def promote(runs: list[dict], metric: str, eta: int, last: bool = False) -> dict:
    """A rung's record (``rungs/<r>/promoted.json``): every run it trained, ranked, and
    the names the next rung trains.

    The ranking is :func:`rank_runs` (the score of the validation ``metric`` at the
    rung's budget, ties by run name), then the runs that diverged or have no finite
    metric, by name; the first
    :func:`gdlab.methods.halving.survivors` of the ranked runs are promoted, never a diverged one
    (none from the ``last`` rung). It depends on results only, so it is the same whatever
    the scheduling.
    """
    ranked = rank_runs(runs, metric)
    names = {r["run_name"] for r in ranked}
    rest = sorted((r for r in runs if r["run_name"] not in names), key=lambda r: r["run_name"])
    return {"metric": f"val_{metric}",
            "ranking": [{"run_name": r["run_name"], "n_epochs": r["n_epochs"],
                         "diverged": r["diverged"], "oscillating": oscillating(r),
                         f"val_{metric}": r["metrics"]["val"][metric],
                         f"score_val_{metric}": _none_if_nan(score(r, metric))}
                        for r in [*ranked, *rest]],
            "promoted": [] if last else [r["run_name"]
                                         for r in ranked[:survivors(len(runs), eta)]]}


def ranked_runs(runs: list[dict], metric: str) -> list[dict]:
    """The best repeat of each configuration of :func:`rank_configs`, in its order.

    Without repeats, exactly :func:`rank_runs`.
    """
    return [rank_runs(group, metric)[0] for _, group in rank_configs(runs, metric)]


def top_names(runs: list[dict], metric: str, k: int) -> list[str]:
    """The names of the ``k`` best runs as :func:`ranked_runs` ranks them (the runs that
    get per-run figures, the children MLflow marks as the sweep's best)."""
    return [r["run_name"] for r in ranked_runs(runs, metric)[:k]]


def select_best(runs: list[dict], metric: str) -> dict | None:
    """The first of :func:`ranked_runs`, or None when no configuration qualifies."""
    ranked = ranked_runs(runs, metric)
    return ranked[0] if ranked else None


def _none_if_nan(v: float) -> float | None:
    return v if math.isfinite(v) else None


def aggregate(runs: list[dict]) -> dict:
    """``{part: {metric: {"mean", "ci_low", "ci_high"}}}`` over the repeats ``runs`` (None
    where there is no number: one repeat has no interval, a diverged one no mean)."""
    out: dict = {}
    for part in PARTS:
        for name in runs[0]["metrics"][part]:
            m, lo, hi = mean_ci(_metric(r, part, name) for r in runs)
            out.setdefault(part, {})[name] = {"mean": _none_if_nan(m),
                                              "ci_low": _none_if_nan(lo),
                                              "ci_high": _none_if_nan(hi)}
    return out


def _gap(final, optimum) -> float | None:
    """A run's objective gap to its problem's optimum (None without one, or NaN final)."""
    if optimum is None or final is None or not math.isfinite(final):
        return None
    return final - optimum


def config_table(runs: list[dict], baseline: dict, best: dict | None) -> list[dict]:
    """One row per configuration: its hyperparameters, how many repeats (and how many
    diverged), the mean objective and its gap to the problem's optimum (empty when the
    problem has none), and the mean and 95 % interval of each metric (``val_mse``,
    ``val_mse_ci_low``, ``val_mse_ci_high``...). ``configs.csv``."""
    best_config = config_of(best)[0] if best is not None else None
    rows = []
    for name, group in configurations(runs).items():
        first = group[0]
        optimum = optimum_objective(baseline, first["hyperparameters"])
        final = _none_if_nan(mean_ci(_value(r["final_objective"]) for r in group)[0])
        row = {"dataset": first["dataset"], "model": first["model"], "config": name,
               **first["hyperparameters"], "repeats": len(group),
               "n_diverged": sum(bool(r["diverged"]) for r in group),
               "diverged": any(r["diverged"] for r in group),
               "n_oscillating": sum(oscillating(r) for r in group),
               "final_objective": final, "optimum_objective": optimum,
               "objective_gap": _gap(final, optimum), "best": name == best_config}
        for part, values in aggregate(group).items():
            for metric, agg in values.items():
                row[f"{part}_{metric}"] = agg["mean"]
                row[f"{part}_{metric}_ci_low"] = agg["ci_low"]
                row[f"{part}_{metric}_ci_high"] = agg["ci_high"]
        rows.append(row)
    return rows


def _value(v) -> float:
    return float("nan") if v is None else float(v)


def sweep_table(runs: list[dict], baseline: dict, best: dict | None) -> list[dict]:
    """One row per run: its hyperparameters, seed, flags, objective and its gap to the
    problem's optimum (empty when the problem has none), every metric. ``summary.csv``."""
    rows = []
    for r in sorted(runs, key=lambda r: r["run_name"]):
        optimum = optimum_objective(baseline, r["hyperparameters"])
        row = {"dataset": r["dataset"], "model": r["model"], "run_name": r["run_name"]}
        if "config" in r:  # a sweep with repeats
            row.update(config=r["config"], repeat=r["repeat"])
        # a staged method's stage (halving: the last rung the run reached; TPE: the round
        # that asked its trial)
        row.update({key: r[key] for key in stage_fields() if key in r})
        row["run_key"] = r["run_key"]
        row.update(r["hyperparameters"])
        row.update({
            "seed": r["seed"], "n_epochs": r["n_epochs"], "diverged": r["diverged"],
            "converged": r["converged"], "oscillating": oscillating(r),
            "final_objective": r["final_objective"],
            "optimum_objective": optimum, "objective_gap": _gap(r["final_objective"], optimum),
            "best": best is not None and r["run_key"] == best["run_key"],
        })
        for part in PARTS:
            for name, v in r["metrics"][part].items():
                row[f"{part}_{name}"] = v
        for name, v in ((r.get("tail") or {}).get("val") or {}).items():
            row[f"tail_val_{name}"] = v  # the mean over the last epochs: what ranks runs
        rows.append(row)
    return rows


def best_record(best: dict | None, baseline: dict, metric: str, dataset: str, model: str,
                runs: list[dict] = ()) -> dict:
    """``best.json``: the best run, its two references (``optimum``: the objective gap to
    the same objective's optimum, or why there is none; ``sklearn_default``: what
    scikit-learn's default estimator scores on the same split), and with repeats
    (``runs`` holds the sweep's runs) its configuration's mean and interval of every
    metric under ``config``."""
    rec = {"dataset": dataset, "model": model, "selection_metric": f"val_{metric}",
           "higher_is_better": HIGHER_IS_BETTER[metric]}
    if best is None:
        return {**rec, "run_name": None, "note": "every run diverged or has no finite metric"}
    hp = best["hyperparameters"]
    entry = baseline["references"][reference_key(hp)]
    optimum = optimum_objective(baseline, hp)
    default = default_of(baseline, hp)
    rec = {**rec, "run_name": best["run_name"], "run_key": best["run_key"],
           "hyperparameters": hp, "n_epochs": best["n_epochs"], "metrics": best["metrics"],
           "score": {"value": _none_if_nan(score(best, metric)),
                     "rule": f"mean validation value over the last {TAIL:.0%} of epochs",
                     "oscillating": oscillating(best)},
           "final_objective": best["final_objective"],
           "optimum": {"objective": optimum, "objective_gap": _gap(best["final_objective"],
                                                                  optimum),
                       "no_optimum": entry.get("no_optimum")},
           "sklearn_default": {"estimator": default["estimator"],
                               "converged": default["converged"],
                               "metrics": default["metrics"]}}
    if "config" in best:
        group = configurations(runs)[best["config"]]
        rec["config"] = {"name": best["config"], "repeats": len(group),
                         "seeds": [r["seed"] for r in group], "metrics": aggregate(group)}
    return rec


def overview_row(best: dict, n_runs: int, n_diverged: int, n_oscillating: int = 0) -> dict:
    """One line of ``results/summary.csv``: a sweep's best run on the test set beside what
    scikit-learn's default estimator scores there, and its objective gap to the optimum of
    the same objective (empty, with the reason, when the problem has none)."""
    metric = metric_name(best["selection_metric"])
    row = {"dataset": best["dataset"], "model": best["model"], "runs": n_runs,
           "diverged": n_diverged, "oscillating": n_oscillating, "best_run": best["run_name"],
           "selection": best["selection_metric"],
           "better": "higher" if best.get("higher_is_better") else "lower"}
    if best["run_name"] is None:
        return row
    m, default = best["metrics"], best["sklearn_default"]
    row[f"val_{metric}"] = m["val"][metric]
    row["sklearn_default"] = default["estimator"]
    row["sklearn_default_converged"] = default["converged"]
    for name, v in m["test"].items():
        row[f"test_{name}"] = v
        row[f"sklearn_default_test_{name}"] = default["metrics"]["test"][name]
    row["objective_gap"] = best["optimum"]["objective_gap"]
    row["no_optimum"] = best["optimum"]["no_optimum"]
    if "config" in best:  # repeats: the best configuration's mean and 95 % interval
        row.update(best_config=best["config"]["name"], repeats=best["config"]["repeats"])
        agg = best["config"]["metrics"]
        for part, name in (("val", metric), ("test", metric)):
            for stat in ("mean", "ci_low", "ci_high"):
                row[f"{part}_{name}_{stat}"] = agg[part][name][stat]
    return row


def _rounded(v, digits: int = 4):
    """``v`` to ``digits`` significant digits (None and non-numbers as they are)."""
    if isinstance(v, float) and math.isfinite(v):
        return float(f"{v:.{digits}g}")
    return v


def short_row(row: dict) -> dict:
    """One line of ``results/overview.csv`` from one of :func:`overview_row`: the few
    columns a person reads, named for what they are, numbers to 4 significant digits, and
    no text with a comma (the full row stays in ``results/summary.csv`` for tools)."""
    metric = metric_name(row["selection"])
    ok = row["best_run"] is not None
    return {
        "sweep": f"{row['dataset']}/{row['model']}",
        "test_metric": metric, "better": row["better"],
        "gdlab_best": _rounded(row.get(f"test_{metric}")) if ok else None,
        "sklearn_default": _rounded(row.get(f"sklearn_default_test_{metric}")) if ok else None,
        "sklearn_converged": row.get("sklearn_default_converged") if ok else None,
        "objective_gap": _rounded(row.get("objective_gap"), 2) if ok else None,
        "no_optimum": short_reason(row.get("no_optimum")) if ok and row.get("no_optimum")
        else None,
        "runs": row["runs"], "diverged": row["diverged"],
        "oscillating": row.get("oscillating", 0), "best_run": row["best_run"],
    }
