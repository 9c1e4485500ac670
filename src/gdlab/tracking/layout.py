"""What gdlab writes into MLflow, and nothing else: names, tags, params, metrics and
descriptions of the experiment, each sweep's parent run and each run's child. Pure: no
store is touched here, so every value is tested without MLflow.

One experiment holds, per sweep (dataset x model) of a project:

* a **parent run** named ``<dataset>/<model>``, kept for the sweep's life. Params
  ``dataset`` and ``model`` only (MLflow params cannot change); what changes with the grid
  or the results is in tags and metrics: a few numbers to compare sweeps by
  (:func:`parent_metrics`), a description (:func:`parent_description`) that says what the
  sweep is, links its best run and compares it with scikit-learn's two references, and
  the sweep's tables and figures as artifacts.
* a **child run** per run, named by what varies in its sweep (:func:`gdlab.names.
  short_names`): hyperparameters and seed as params; the per-epoch curves under
  ``curves/`` (``train_objective``, and ``val_log_loss``/``val_accuracy`` or
  ``val_mse``/``val_r2``: one measure for every run whatever loss it trains; step =
  epoch), and single values under ``summary/`` (each validation curve's last point as
  ``final_val_*``, the test metrics, ``objective_gap`` when its problem has an optimum):
  MLflow's chart view puts sections in that order, curves first; status ``FAILED`` and a
  red colour when it diverged, so a scan of the table or a chart sees it; its files as
  artifacts.

The parent carries its best run's curves and summary under the same names, so the chart
view of the sweeps alone shows one learning curve per sweep. The parents and each
sweep's :data:`TOP` best children carry ``gdlab.top=1``: the experiment's saved view
(:func:`overview_view`) filters on it, so its first screen shows every sweep.

Every value gdlab makes fits MLflow's limits on any store (:func:`fit_tag`): a grid axis
of thousands of values becomes a count and a range (``grid.lr``), the full grid an
artifact (``grid.json``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from gdlab import grid as G
from gdlab.methods import METHODS, stage_fields
from gdlab.metrics import higher_is_better, metric_name
from gdlab.runfiles import Run
from gdlab.runnames import short_value
from gdlab.settling import TAIL, oscillating
from gdlab.tracking.charts import (  # noqa: F401 - DIVERGED_COLOR etc.: layout's names too
    CURVE_POINTS_TAG,
    DIVERGED_CAP,
    DIVERGED_COLOR,
    MAX_CURVE_POINTS,
    PALETTE,
    capped,
    curve_indices,
    curve_points_tag,
    parent_colors,
    run_color,
)

#: identity tags: which project, sweep and run a gdlab run is, and what it holds
PROJECT_TAG = "gdlab.project"
SWEEP_TAG = "gdlab.sweep"
ROLE_TAG = "gdlab.role"
ROLE_SWEEP, ROLE_RUN = "sweep", "run"
RUN_TAG = "gdlab.run"
CONTENT_TAG = "gdlab.content_key"
SWEEP_KEY_TAG = "gdlab.sweep_key"
#: the name gdlab gave a child: a name renamed in the UI differs, and is left as it is
NAME_TAG = "gdlab.name"
#: the content key of the run whose curves a parent holds (MLflow cannot take them back)
CURVES_TAG = "gdlab.curves"
#: written last: a run without it was cut off mid-sync
COMPLETE_TAG = "gdlab.complete"
PARENT_TAG = "mlflow.parentRunId"
NOTE_TAG = "mlflow.note.content"
RUN_NAME_TAG = "mlflow.runName"

#: what a child holds and how it is named, as a version: a child written by an older layout
#: is replaced (its results unchanged, its record not). Bump it when a run's record changes
LAYOUT = "2"
LAYOUT_TAG = "gdlab.layout"


def child_key(content_key: str | None) -> str:
    """A child's identity (tag ``gdlab.content_key``): its run's results and the layout."""
    return f"{content_key}:{LAYOUT}"


#: MLflow's limits (mlflow.utils.validation): longer keys and params are refused, longer
#: tag values truncated. A tag gdlab writes never comes near: :func:`fit_tag` shortens it
MAX_KEY, MAX_PARAM_VALUE, MAX_TAG_VALUE = 250, 6000, 8000
#: a grid axis whose list of values is longer than this is described by count and range
MAX_AXIS_TAG = 500
#: the three parts of a split, as MLflow names a dataset input's context
CONTEXTS = {"train": "training", "val": "validation", "test": "testing"}
#: metric sections: per-epoch curves, then single values (MLflow sorts sections by name)
CURVES, SUMMARY = "curves/", "summary/"
#: the parents and each sweep's best few children (the overview view's filter)
TOP_TAG, TOP = "gdlab.top", 3
#: the experiment's saved view of its sweeps (experiment tag mlflow.sharedViewState.<key>)
VIEW_KEY = "gdlab-sweeps"


def fit_tag(value: str, limit: int = MAX_TAG_VALUE) -> str:
    """``value`` within MLflow's tag limit (cut with a mark saying so): gdlab's tags are
    made to fit, this is the guard that no store ever truncates or refuses one."""
    return value if len(value) <= limit else value[:limit - 40] + " … (cut: see the artifacts)"


#: the UI's "Model training" side (its default is GenAI, which hides training runs)
TRAINING = "workflowType=machine_learning"


def run_url(experiment_id: str, run_id: str) -> str:
    """The UI's address of a run, relative to the UI's root (a markdown link target)."""
    return f"#/experiments/{experiment_id}/runs/{run_id}?{TRAINING}"


def overview_url(experiment_id: str) -> str:
    """The UI's address of the experiment's sweeps overview (the saved view)."""
    return f"#/experiments/{experiment_id}/runs?{TRAINING}&viewStateShareKey={VIEW_KEY}"


# --------------------------------------------------------------------------------------
# A child run
# --------------------------------------------------------------------------------------


@dataclass
class ChildRecord:
    """Everything one child run holds, ready to write to any store."""

    run: str  # the run's directory name (its identity)
    name: str  # the short name people read
    start: int
    end: int
    status: str  # FINISHED, or FAILED when it diverged
    tags: dict[str, str]
    params: dict[str, str]
    metrics: list[tuple[str, float, int, int]]  # key, value, timestamp (ms), step
    files: list[Path]


def identity_tags(project: str, dataset: str, model: str, role: str) -> dict[str, str]:
    return {PROJECT_TAG: project, SWEEP_TAG: f"{dataset}/{model}", ROLE_TAG: role,
            "dataset": dataset, "model": model}


def code_tags(run: Run, commit: str) -> dict[str, str]:
    """Tags that name the code, not the results: updated on a kept child."""
    tags = {"run_key": run.run_key, "code_version": str(run.result.get("code_version", "")),
            "git_commit": commit}
    if commit != "unknown":
        tags["mlflow.source.git.commit"] = commit
    return tags


def _value(v) -> float:
    return float("nan") if v is None else float(v)


def run_metrics(run: Run, optimum: float | None) -> list[tuple[str, float, int, int]]:
    """A run's metrics (key, value, timestamp, step): its curves (step = epoch; at most
    :data:`MAX_CURVE_POINTS` points, :func:`curve_indices`) and its summary (step 0);
    ``optimum``: the objective's optimum of its problem, if any."""
    end = int(run.timing["end_time_ms"])
    history = run.history
    rows = curve_indices(history)
    metrics = []
    for col, values in history.items():
        if col != "epoch":
            key = f"{CURVES}{col}"
            epochs = np.asarray(history["epoch"])[rows]
            kept = np.asarray(values, dtype=np.float64)[rows]
            if run.diverged:  # its blow-up would flatten every other curve
                ok = capped(kept)
                epochs, kept = epochs[ok], kept[ok]
            # Python numbers at C speed (a sweep's track job makes ~300,000 of them)
            metrics += [(key, v, end, s) for s, v in zip(epochs.tolist(), kept.tolist(),
                                                         strict=True)]
            if col.startswith("val_") and len(values):
                metrics.append((f"{SUMMARY}final_{col}", float(values[-1]), end, 0))
    metrics += [(f"{SUMMARY}test_{k}", _value(v), end, 0) for k, v in run.metrics["test"].items()]
    final = run.result.get("final_objective")
    if optimum is not None and final is not None:
        metrics.append((f"{SUMMARY}objective_gap", float(final) - optimum, end, 0))
    return metrics


def child_description(run: Run, name: str, top: bool = False, best: bool = False) -> str:
    """A child's description (markdown, ``mlflow.note.content``): what run it is, its
    validation loss where it ends (the tail's mean, how the best run is chosen) and last
    epoch, whether it oscillates or diverged, its test value, and its rank."""
    tail = run.result.get("tail") or {}
    loss = next((m for m in ("log_loss", "mse") if m in (tail.get("val") or {})), None)
    lines = []
    if best:
        lines.append(f"**The best run of {run.dataset} / {run.model}**, chosen on "
                     f"{CHOSEN.format(name='metric')}; its model is the one registered.")
    elif top:
        lines.append(f"One of the {TOP} best runs of {run.dataset} / {run.model}.")
    what = f"**{name}** (gdlab run `{run.name}`), {run.n_epochs} epochs"
    if run.diverged:
        what += ": **diverged** (status FAILED; its curves stop before the blow-up)"
    lines.append(what + ".")
    if loss is not None and not run.diverged:
        last = (run.metrics.get("val") or {}).get(loss)
        lines.append(f"Validation {loss} over its last {tail.get('epochs')} epochs: "
                     f"{_fmt(tail['val'][loss])} on average (last epoch {_fmt(last)})"
                     + ("; it still swings there (oscillating), so it ranks after the runs "
                        "that settled." if tail.get("oscillating") else "; settled."))
    test = {k: v for k, v in (run.metrics.get("test") or {}).items() if k in ("log_loss", "mse",
                                                                        "accuracy", "r2")}
    if test:
        lines.append("Test: " + ", ".join(f"{k} {_fmt(v)}" for k, v in test.items()) + ".")
    return fit_tag("\n\n".join(lines))


def child_record(run: Run, name: str, parent_id: str, project: str, commit: str,
                 optimum: float | None, top: bool, best: bool = False) -> ChildRecord:
    """The child of ``run`` named ``name`` under the parent ``parent_id``; ``optimum``: the
    objective's optimum of its problem, if it has one; ``top``: one of its sweep's best;
    ``best``: the sweep's best run (its description says so)."""
    res = run.result
    tags = {**identity_tags(project, run.dataset, run.model, ROLE_RUN), **code_tags(run, commit),
            RUN_TAG: run.name, NAME_TAG: name, PARENT_TAG: parent_id,
            CONTENT_TAG: child_key(run.content_key), TOP_TAG: "1" if top else "0",
            "task": run.task, "diverged": str(run.diverged).lower(),
            # its validation loss still swings at the end: it ranks after settled runs
            "oscillating": str(oscillating(res)).lower(),
            "n_epochs": str(run.n_epochs)}
    tags["mlflow.runColor"] = run_color(run)
    tags[NOTE_TAG] = child_description(run, name, top, best)
    thinned = curve_points_tag(run.history)
    if thinned:
        tags[CURVE_POINTS_TAG] = thinned
    for key in ("config", "repeat", *stage_fields()):  # repeats, a stage (rung, round)
        if key in res:
            tags[key] = str(res[key])
    for key, value in res.get("solver_stats", {}).items():  # newton, lbfgs: the work done
        tags[f"solver.{key}"] = str(value)
    params = {k: fit_tag(G.format_value(v), MAX_PARAM_VALUE)
              for k, v in sorted(run.hyperparameters.items())}
    params["seed"] = str(run.seed)
    start, end = int(run.timing["start_time_ms"]), int(run.timing["end_time_ms"])
    return ChildRecord(run.name, name, start, end, "FAILED" if run.diverged else "FINISHED",
                       tags, params, run_metrics(run, optimum), run.files)


# --------------------------------------------------------------------------------------
# A sweep's parent run
# --------------------------------------------------------------------------------------


def _json_sort_key(s: str):
    v = json.loads(s)
    return (0, v, "") if isinstance(v, int | float) and not isinstance(v, bool) else (1, 0, s)


def grid_values(runs: list[Run]) -> dict[str, list]:
    """Every hyperparameter's distinct values over the sweep's runs, sorted (``grid.json``)."""
    hps = [r.hyperparameters for r in runs]
    keys = sorted({k for hp in hps for k in hp})
    return {k: [json.loads(s) for s in sorted({json.dumps(hp.get(k)) for hp in hps},
                                               key=_json_sort_key)] for k in keys}


def axis_tag(values: list) -> str:
    """A grid axis as a tag: its JSON list, or when longer than :data:`MAX_AXIS_TAG`, its
    count and range (``1000 values, 0.001 … 100``; the list is in ``grid.json``)."""
    text = json.dumps(values)
    if len(text) <= MAX_AXIS_TAG:
        return text
    numbers = [v for v in values if isinstance(v, int | float) and not isinstance(v, bool)]
    span = f", {short_value(min(numbers))} … {short_value(max(numbers))}" if numbers else ""
    return f"{len(values)} values{span} (all in grid.json)"


def parent_tags(runs: list[Run], best: dict, method: str, search: dict | None,
                color: str | None = None) -> dict:
    """The parent's description as tags: the grid's values (``grid.<axis>``) or the
    search's settings (``search.*``), counts, the selection metric, the best run's values;
    ``color``: its colour in the charts (:func:`gdlab.tracking.charts.parent_colors`, one
    per sweep of the experiment)."""
    tags = {"sweep.method": method, "n_runs": str(len(runs)),
            "n_configs": str(len({r.config for r in runs})),
            "n_diverged": str(sum(r.diverged for r in runs)),
            "n_oscillating": str(sum(oscillating(r.result) for r in runs)), TOP_TAG: "1",
            "selection_metric": str(best.get("selection_metric"))}
    if search is None:
        tags.update({f"grid.{k}": axis_tag(v) for k, v in grid_values(runs).items()})
    else:
        tags.update({f"search.{k}": fit_tag(str(search[k]))
                     for k in METHODS[method].tag_keys if k in search})
        tags.update({f"search.{part}.{axis}": fit_tag(json.dumps(dist, sort_keys=True))
                     for part in ("space", "grid")
                     for axis, dist in sorted(search.get(part, {}).items())})
    if color is not None:
        tags["mlflow.runColor"] = color
    if len({r.config for r in runs}) < len(runs):
        tags["repeats"] = str(max(r.repeat for r in runs) + 1)
    if best.get("run_name") is not None:
        tags.update({f"best.{k}": fit_tag(G.format_value(v))
                     for k, v in sorted(best["hyperparameters"].items())})
        if "config" in best:
            tags["best.config"] = best["config"]["name"]
    return tags


def parent_metrics(best_run: Run | None, best: dict,
                   optimum: float | None) -> list[tuple[str, float, int, int]]:
    """The sweep's numbers: its best run's curves and summary, under the same names (one
    learning curve per sweep in the chart view), scikit-learn's default estimator's test
    value of the selection metric, and with repeats the best configuration's mean and
    95 % interval."""
    if best_run is None:
        return []
    metrics = run_metrics(best_run, optimum)
    end = int(best_run.timing["end_time_ms"])
    name = metric_name(best["selection_metric"])
    metrics.append((f"{SUMMARY}sklearn_default_test_{name}",
                    _value(best["sklearn_default"]["metrics"]["test"][name]), end, 0))
    if "config" in best:
        for part in ("val", "test"):
            agg = best["config"]["metrics"][part][name]
            metrics += [(f"{SUMMARY}config_{part}_{name}_{stat}", _value(agg[stat]), end, 0)
                        for stat in ("mean", "ci_low", "ci_high")]
    return metrics


def _better(name: str) -> str:
    return "higher is better" if higher_is_better(name) else "lower is better"


#: how the best run is chosen, in the words of a description
CHOSEN = f"its validation {{name}} averaged over the last {TAIL:.0%} of its epochs"


def _describe_axes(runs: list[Run], method: str, search: dict | None) -> str:
    """What the sweep is: its method's words (:meth:`gdlab.methods.base.Method.describe`),
    else the values its runs vary (a grid)."""
    said = METHODS[method].describe(search)
    if said is not None:
        return said
    varying = [(k, v) for k, v in grid_values(runs).items() if len(v) > 1]
    if not varying:
        return "one configuration"
    return "a grid over " + ", ".join(f"{k} ({len(v)})" for k, v in varying)


def parent_description(runs: list[Run], best: dict, method: str, search: dict | None,
                       experiment_id: str, best_run_id: str | None, best_name: str | None,
                       figures: list[str]) -> str:
    """The parent's description (markdown, shown on its page, its first lines before
    "Show more"): the best run first (a link to its child) with its scores beside
    scikit-learn's default estimator's, then what the sweep is and the proof, each
    comparison named for what it is."""
    dataset, model = runs[0].dataset, runs[0].model
    n_div = sum(r.diverged for r in runs)
    sweep = (f"**{dataset} / {model}**: {len(runs)} runs of "
             f"{_describe_axes(runs, method, search)}"
             + (f"; {n_div} diverged (status FAILED)." if n_div else "."))
    if best.get("run_name") is None:
        return f"No run qualifies as best: every run diverged or has no finite metric.\n\n{sweep}"
    name = metric_name(best["selection_metric"])
    link = f"[{best_name}]({run_url(experiment_id, best_run_id)})" if best_run_id else best_name
    val, test = best["metrics"]["val"][name], best["metrics"]["test"][name]
    default = best["sklearn_default"]
    theirs = default["metrics"]["test"][name]
    held = (best.get("score") or {}).get("value", val)
    lines = [
        f"**Best run**: {link}, chosen on {CHOSEN.format(name=name)} ({_better(name)}): "
        f"{_fmt(held)} (last epoch {_fmt(val)}), test {_fmt(test)}; scikit-learn's "
        f"`{default['estimator']}`: test {_fmt(theirs)}."
        + (" Its validation loss still swings at the end: no settled run qualified."
           if (best.get("score") or {}).get("oscillating") else ""), "", sweep, "",
        f"**What scikit-learn's two lines give**: `{default['estimator']}` fitted on the same "
        f"training split scores test {name} {_fmt(theirs)}"
        + ("" if default.get("converged", True) else " (its solver did not converge)") + ".",
        "",
    ]
    gap, why = best["optimum"]["objective_gap"], best["optimum"]["no_optimum"]
    if gap is not None:
        lines.append(f"**The proof**: the best run's training objective is {_fmt(gap)} above "
                     "the optimum of the same objective (scikit-learn's exact solver): "
                     + ("gradient descent reached it." if abs(gap) <= 1e-6 else
                        "gradient descent had not reached it when training stopped."))
    else:
        lines.append(f"**The proof**: no objective gap for this run: {why}.")
    lines += ["", "Every run's numbers: `summary.csv`; every configuration's: `configs.csv`; "
                  "the whole grid: `grid.json`. Figures: " + ", ".join(f"`plots/{f}`"
                                                                       for f in figures) + "."]
    return fit_tag("\n".join(lines))


def _fmt(v) -> str:
    return "n/a" if v is None else f"{float(v):.4g}"


def experiment_description(experiment: str, experiment_id: str) -> str:
    """The experiment's description (markdown; the UI shows its first line, a link to the
    sweeps overview): what it holds and how to read it."""
    return (
        f"[Every sweep, its best runs and learning curves]({overview_url(experiment_id)})"
        f" — **{experiment}**: models trained by gradient descent in NumPy (gdlab).\n\n"
        "Each sweep (dataset / model) is a parent run holding its best run's curves; its "
        "child runs are the sweep's runs, named by what varies in it. The link above opens "
        f"the view *{VIEW_KEY}* (under Views): the sweeps and their {TOP} best runs each "
        f"(`tags.{TOP_TAG} = '1'`). A run that diverged has status FAILED and is drawn red. "
        "Each parent's description links its best run and compares it with scikit-learn.")


def overview_view(now: int) -> str:
    """The experiment's saved view of its sweeps (the value of the experiment tag
    ``mlflow.sharedViewState.<VIEW_KEY>``, as MLflow's UI writes it): the parents and
    their best children (:data:`TOP_TAG`), the columns that compare them, and the chart
    view opening on the learning curves."""
    metric_cols = [f"metrics.`{SUMMARY}final_val_{m}`" for m in ("log_loss", "mse")] + \
        [f"metrics.`{SUMMARY}test_{m}`" for m in ("log_loss", "accuracy", "mse")]
    params = [f"params.`{k}`" for k in ("lr", "optimizer", "l2", "epochs")]
    columns = ["attributes.`Run Name`", "runDateAndNestInfo", *metric_cols, *params,
               "attributes.`Models`", "attributes.`Dataset`"]
    section = {"uuid": "gdlab-curves", "name": "Learning curves (per epoch)", "display": True,
               "isReordered": False, "deleted": False, "isGenerated": False}
    charts = [{"uuid": f"gdlab-{key}", "type": "LINE", "metricKey": f"{CURVES}{key}",
               "metricSectionId": "gdlab-curves", "runsCountToCompare": 10, "deleted": False,
               "isGenerated": False, "lineSmoothness": 0, "xAxisKey": "step",
               "scaleType": "log", "xAxisScaleType": "linear", "selectedXAxisMetricKey": "",
               "yAxisKey": "metric", "yAxisExpressions": [], "ignoreOutliers": False,
               "range": {}, "useGlobalXaxisKey": True, "useGlobalLineSmoothing": True}
              for key in ("val_log_loss", "val_mse", "train_objective", "val_accuracy",
                          "val_r2")]
    state = {"searchFilter": f"tags.`{TOP_TAG}` = '1'", "orderByKey": "attributes.start_time",
             "orderByAsc": False, "startTime": "ALL", "lifecycleFilter": "Active",
             "datasetsFilter": [], "modelVersionFilter": "All Runs",
             "selectedColumns": columns, "columnOrder": columns,
             "columnWidths": {"attributes.`Run Name`": 300}, "runsHiddenMode": "SHOW_ALL",
             "hideEmptyCharts": True, "isAccordionReordered": True,
             "compareRunSections": [section], "compareRunCharts": charts}
    return json.dumps({"name": "gdlab: every sweep and its best runs", "createdAt": now,
                       "updatedAt": now, "state": json.dumps(state)})


def model_version_description(best: dict, dataset: str, model: str, best_name: str) -> str:
    """A registered model version's description: which run it is, chosen how, scores."""
    name = metric_name(best["selection_metric"])
    default = best["sklearn_default"]
    return fit_tag(
        f"Best run of the sweep {dataset} / {model}: {best_name} (gdlab run "
        f"`{best['run_name']}`), chosen on {CHOSEN.format(name=name)}: "
        f"{_fmt((best.get('score') or {}).get('value', best['metrics']['val'][name]))} "
        f"({_better(name)}). Test {name} "
        f"{_fmt(best['metrics']['test'][name])}; scikit-learn's `{default['estimator']}` on "
        f"the same split: {_fmt(default['metrics']['test'][name])}. Predicts on raw "
        "features: class probabilities (n, K) for classification, targets (n,) for "
        "regression.")
