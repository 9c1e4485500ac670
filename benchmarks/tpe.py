#!/usr/bin/env python
"""TPE in rounds: sample efficiency against random search, Optuna's own parallel run, and
what the round size costs.

Run from the repository root::

    .venv/bin/python benchmarks/tpe.py --quick      # ~6 min on 2 cores
    .venv/bin/python benchmarks/tpe.py              # ~15 min

Every gdlab search runs ``snakemake --cores 2`` from nothing in a fresh copy of the project
(as the tests make them) with one sweep. Three parts:

1. **Sample efficiency.** The best validation log loss after N trials (the minimum over
   trials 0..N-1 that did not diverge), mean and 95 % Student-t interval over ``--seeds``
   search seeds (the search's ``seed``; data and split stay the same), for gdlab's TPE in
   rounds of 8 against gdlab's random search with the same space and n_trials, on two
   problems: the MLP on moons (``config/tpe.yaml``'s space) and logistic regression on
   breast_cancer (lr, l2, optimizer, epochs, batch size).
2. **Against Optuna itself.** The same model (gdlab's MLP, the run's seed derived from its
   hyperparameters as gdlab derives it), space, split and MLflow logging (a fresh SQLite
   store; per trial one run, its per-epoch metrics and params in one ``log_batch``), in
   ``study.optimize(n_jobs=2)`` on resumable storage (an Optuna RDB storage SQLite file)
   with a seeded ``TPESampler``. Wall time and best validation log loss, each side run
   twice from nothing: are Optuna's two runs the same trials (params in trial order)? (A
   control: Optuna with ``n_jobs=1``, twice.)
   gdlab's two runs are compared byte for byte (every results file that depends on
   results: rounds' records, runs, manifests, summaries; not the wall-clock timing.json).
   gdlab's run is the whole pipeline: data, split, rounds, baseline, summaries, figures
   and MLflow.
3. **Round size.** TPE with batch 1, 4, 8 and 16 (same n_trials, seeds of part 1): wall
   time of the whole search (median over seeds) against the best validation log loss
   after n_trials (mean and interval). A round's trials train in parallel, but each round
   costs an ask, a train and a collect job (~0.2 s each) and Snakemake's scheduling.
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
import tempfile
import time
from importlib.metadata import version
from pathlib import Path

import yaml
from _machine import Machine, add_run_args, clean_up, median, print_table, save_results, t_str
from _records import jobs_from_metadata, rule_breakdown
from _workflow import PYTHON, REPO, default_config, make_copy
from _workflow import snakemake as run_snakemake

sys.path.insert(0, str(REPO / "src"))
from gdlab.stats import mean_ci  # noqa: E402

with open(REPO / "config" / "tpe.yaml", encoding="utf-8") as _f:
    MLP_SEARCH = yaml.safe_load(_f)["models"]["mlp_classifier"]["search"]
#: (dataset, model, space) of each problem of part 1
PROBLEMS = {
    "moons/mlp_classifier": MLP_SEARCH["space"],
    "breast_cancer/logistic_regression": {
        "lr": {"loguniform": [1.0e-3, 10.0]}, "l2": {"loguniform": [1.0e-6, 1.0e-1]},
        "optimizer": {"choice": ["gd", "momentum", "adam"]},
        "batch_size": {"choice": [None, 32]}, "epochs": {"int": [20, 300]}},
}
TRAIN_RULES = ("train", "train_round", "ask", "collect_round")


def config(problem: str, method: str, seed: int, n_trials: int, batch: int = 8) -> dict:
    """The default config with one dataset and one model, searched by ``method``."""
    dataset, model = problem.split("/")
    base = default_config()
    base["datasets"] = {dataset: base["datasets"][dataset]}
    search = {"method": method, "n_trials": n_trials, "seed": seed,
              "space": PROBLEMS[problem]}
    if method == "tpe":
        search["batch"] = batch
    base["models"] = {model: {"datasets": [dataset], "search": search}}
    return base


def trial_values(sweep: Path) -> list[float]:
    """Each trial's validation log loss in trial order (NaN: diverged or not finite)."""
    values = {}
    for path in (sweep / "runs").rglob("metrics.json"):
        result = json.loads(path.read_text())
        number = int(result["run_name"].split("/")[0].removeprefix("trial~"))
        v = result["metrics"]["val"]["log_loss"]
        values[number] = math.nan if result["diverged"] or v is None else float(v)
    return [values[i] for i in range(len(values))]


def best_after(values: list[float], n: int) -> float:
    finite = [v for v in values[:n] if math.isfinite(v)]
    return min(finite) if finite else math.nan


def run_search(root: Path, cfg: dict, target: str = "results/summary.csv") -> dict:
    make_copy(root, cfg)
    t0 = time.time()
    out = run_snakemake(root, "--cores", "2", *([target] if target else []))
    jobs = rule_breakdown(jobs_from_metadata(root, since=t0 - 1))
    (dataset, model), = [(d, m) for m in cfg["models"] for d in cfg["models"][m]["datasets"]]
    return {"wall": out["wall"], "values": trial_values(root / "results" / dataset / model),
            "train": sum(jobs[r]["sum"] for r in TRAIN_RULES if r in jobs)}


def fmt_ci(values: list[float]) -> str:
    m, lo, hi = mean_ci(values)
    return f"{m:.4f} [{lo:.4f}, {hi:.4f}]" if math.isfinite(lo) else f"{m:.4f}"


def result_files(root: Path, sweep: str) -> dict[str, bytes]:
    """The files of a sweep whose bytes depend on results only (tests/test_tpe_workflow)."""
    base = root / "results" / sweep
    out = {}
    for path in sorted(base.rglob("*")):
        rel = path.relative_to(base)
        if path.is_file() and path.name != "timing.json" and (
                rel.parts[0] in ("runs", "rounds", "shards") or rel.as_posix() in (
                "summary.csv", "configs.csv", "best.json", "baseline.json")):
            out[rel.as_posix()] = path.read_bytes()
    return out


# -- part 2: Optuna's own parallel study (run as a subprocess: its imports count) ---------
def optuna_worker(directory: Path, split_path: Path, seed: int, n_trials: int,
                  n_jobs: int = 2) -> None:
    """``study.optimize(n_jobs=...)`` of the MLP on moons with per-trial MLflow logging."""
    t0 = time.perf_counter()
    import optuna
    from mlflow import MlflowClient
    from mlflow.entities import Metric, Param

    from gdlab import grid as G
    from gdlab.data.core import load_split
    from gdlab.models.registry import model_info
    from gdlab.train import evaluate

    t_import = time.perf_counter() - t0
    client = MlflowClient(f"sqlite:///{directory / 'mlflow.db'}")  # MLflow migrates it
    experiment = client.create_experiment("optuna-bench")
    t_store = time.perf_counter() - t0 - t_import
    split = load_split(split_path)
    cls = model_info("mlp_classifier").load()
    space = MLP_SEARCH["space"]
    choices = space["hidden_layer_sizes"]["choice"]
    global_seed = default_config()["seed"]

    def objective(trial):
        hp = {"lr": trial.suggest_float("lr", *space["lr"]["loguniform"], log=True),
              "l2": trial.suggest_float("l2", *space["l2"]["loguniform"], log=True),
              "hidden_layer_sizes": choices[trial.suggest_categorical(
                  "hidden_layer_sizes", list(range(len(choices))))],
              "epochs": trial.suggest_int("epochs", *space["epochs"]["int"])}
        hp = G.normalize_hyperparameters(hp, "mlp_classifier")
        seed_ = G.derive_seed(global_seed, "moons", "mlp_classifier", hp)  # as gdlab's run
        start = int(time.time() * 1000)
        model = cls(**hp, seed=seed_).fit(split.X_train, split.y_train, X_val=split.X_val,
                                          y_val=split.y_val)
        val = evaluate(split.task, model, split.X_val, split.y_val)
        end = int(time.time() * 1000)
        run = client.create_run(experiment, start_time=start, run_name=f"trial-{trial.number}")
        steps = model.history_["epoch"]
        metrics = [Metric(k, float(v), end, int(s)) for k, vs in model.history_.items()
                   if k != "epoch" for s, v in zip(steps, vs, strict=True)
                   if math.isfinite(float(v))]
        metrics += [Metric(f"val/{k}", float(v), end, 0) for k, v in val.items()
                    if math.isfinite(float(v))]
        params = [Param(k, json.dumps(v)) for k, v in sorted(hp.items())]
        for i in range(0, max(1, len(metrics)), 1000):  # MLflow's 1000 metrics per call
            client.log_batch(run.info.run_id, metrics=metrics[i:i + 1000],
                             params=params if i == 0 else [])
        client.set_terminated(run.info.run_id, end_time=end)
        return float(val["log_loss"]) if not model.diverged_ else float("nan")

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    storage = optuna.storages.RDBStorage(f"sqlite:///{directory / 'optuna.db'}")
    study = optuna.create_study(study_name="bench", storage=storage, load_if_exists=True,
                                sampler=optuna.samplers.TPESampler(seed=seed))
    t1 = time.perf_counter()
    study.optimize(objective, n_trials=n_trials, n_jobs=n_jobs)
    t_opt = time.perf_counter() - t1
    trials = [{"number": t.number, "params": t.params, "value": t.value,
               "state": t.state.name} for t in study.get_trials(deepcopy=False)]
    (directory / "worker.json").write_text(json.dumps(
        {"import": t_import, "store": t_store, "optimize": t_opt, "trials": trials}))


def run_optuna(directory: Path, split_path: Path, seed: int, n_trials: int,
               n_jobs: int = 2) -> dict:
    directory.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    subprocess.run([PYTHON, __file__, "--optuna-worker", str(directory), str(split_path),
                    str(seed), str(n_trials), str(n_jobs)], check=True, cwd=REPO)
    out = json.loads((directory / "worker.json").read_text())
    out["wall"] = time.perf_counter() - t0
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true",
                    help="32 trials, 5 seeds in part 1, 3 in part 3")
    ap.add_argument("--seeds", type=int, help="search seeds in parts 1 and 3")
    ap.add_argument("--optuna-worker", nargs=5, help=argparse.SUPPRESS)
    add_run_args(ap)
    args = ap.parse_args()
    if args.optuna_worker:
        d, split, seed, n, jobs = args.optuna_worker
        optuna_worker(Path(d), Path(split), int(seed), int(n), int(jobs))
        return
    n_trials = 32 if args.quick else 48
    seeds = list(range(1, 1 + (args.seeds or (5 if args.quick else 10))))
    seeds_3 = seeds[:3] if args.quick else seeds[:5]
    checkpoints = sorted({8, 16, n_trials // 2, n_trials})
    machine = Machine({"optuna": version("optuna")})
    machine.print()
    work = Path(tempfile.mkdtemp(prefix="gdlab-tpe-", dir=args.workdir))
    rows = []
    try:
        # -- 1. sample efficiency -------------------------------------------------------
        part1: dict = {}
        for problem in PROBLEMS:
            for method in ("tpe", "random"):
                for seed in seeds:
                    res = run_search(work / f"p1-{problem.replace('/', '-')}-{method}-{seed}",
                                     config(problem, method, seed, n_trials))
                    part1.setdefault((problem, method), []).append(res)
                    print(f"{problem} {method} seed {seed}: {res['wall']:.1f} s, best "
                          f"{best_after(res['values'], n_trials):.4f}", flush=True)
        sec1 = (f"1. best val log loss after N trials, mean [95 % CI] over {len(seeds)} "
                f"search seeds")
        for problem in PROBLEMS:
            for n in checkpoints:
                cells = {m: [best_after(r["values"], n) for r in part1[(problem, m)]]
                         for m in ("tpe", "random")}
                wins = sum(t < r for t, r in zip(cells["tpe"], cells["random"], strict=True))
                rows.append((sec1, f"{problem}, N = {n}",
                             f"TPE {fmt_ci(cells['tpe'])}",
                             f"random {fmt_ci(cells['random'])}; TPE better for {wins} of "
                             f"{len(seeds)} seeds"))
            walls = {m: median(r["wall"] for r in part1[(problem, m)]) for m in ("tpe",
                                                                                  "random")}
            rows.append((sec1, f"{problem}: wall time to summary.csv", t_str(walls["tpe"]),
                         f"TPE (rounds of 8); random {t_str(walls['random'])} (median)"))

        # -- 2. against Optuna's parallel study ---------------------------------------------
        sec2 = (f"2. MLP on moons, {n_trials} trials, seed 1: gdlab TPE (rounds of 8, whole "
                f"pipeline) vs Optuna study.optimize(n_jobs=2), each run twice")
        gd = []
        for i in range(2):
            root = work / f"p2-gdlab-{i}"
            res = run_search(root, config("moons/mlp_classifier", "tpe", 1, n_trials),
                             target="")
            res["files"] = result_files(root, "moons/mlp_classifier")
            gd.append(res)
        split_path = work / "p2-gdlab-0" / "data" / "moons" / "split.npz"
        opt = [run_optuna(work / f"p2-optuna-{i}", split_path, 1, n_trials) for i in range(2)]
        same_files = gd[0]["files"] == gd[1]["files"]
        for i, (g, o) in enumerate(zip(gd, opt, strict=True)):
            ob = min((t["value"] for t in o["trials"] if t["value"] is not None
                      and math.isfinite(t["value"])), default=math.nan)
            rows.append((sec2, f"run {i + 1}: gdlab wall time, from nothing", t_str(g["wall"]),
                         f"best {best_after(g['values'], n_trials):.4f}; ask/train/collect "
                         f"jobs summed {t_str(g['train'])}"))
            rows.append((sec2, f"run {i + 1}: Optuna wall time, from nothing", t_str(o["wall"]),
                         f"best {ob:.4f}; imports {t_str(o['import'])}, MLflow store "
                         f"{t_str(o['store'])}, optimize {t_str(o['optimize'])}"))
        def same(a: dict, b: dict) -> tuple[bool, int]:
            pa = [(t["number"], t["params"]) for t in a["trials"]]
            pb = [(t["number"], t["params"]) for t in b["trials"]]
            return pa == pb, sum(x == y for x, y in zip(pa, pb, strict=False))

        identical, n_same = same(*opt)
        rows.append((sec2, "Optuna n_jobs=2: same trials in both runs",
                     "yes" if identical else "no",
                     f"{n_same} of {n_trials} trials have the same params at the same number "
                     f"(the workers share the sampler and the study: what a trial draws "
                     f"depends on the other's timing)"))
        # the control: Optuna alone, one worker, twice (its trials then do reproduce)
        seq = [run_optuna(work / f"p2-optuna-seq-{i}", split_path, 1, n_trials, n_jobs=1)
               for i in range(2)]
        identical, n_same = same(*seq)
        rows.append((sec2, "Optuna n_jobs=1: same trials in both runs",
                     "yes" if identical else "no",
                     f"{n_same} of {n_trials} (control); wall {t_str(seq[0]['wall'])}, "
                     f"{t_str(seq[1]['wall'])}, optimize {t_str(seq[0]['optimize'])}"))
        rows.append((sec2, "gdlab: same bytes in both runs", "yes" if same_files else "no",
                     f"{len(gd[0]['files'])} result files compared byte for byte "
                     f"(rounds, runs, manifests, summaries)"))

        # -- 3. round size ------------------------------------------------------------------
        sec3 = (f"3. round size: MLP on moons, {n_trials} trials, {len(seeds_3)} seeds "
                f"(median wall time; best val log loss after {n_trials}, mean [95 % CI])")
        for batch in (1, 4, 8, 16):
            if batch == 8:
                runs = part1[("moons/mlp_classifier", "tpe")][:len(seeds_3)]
            else:
                runs = []
                for seed in seeds_3:
                    res = run_search(work / f"p3-{batch}-{seed}",
                                     config("moons/mlp_classifier", "tpe", seed, n_trials,
                                            batch))
                    runs.append(res)
                    print(f"batch {batch} seed {seed}: {res['wall']:.1f} s", flush=True)
            rows.append((sec3, f"batch {batch} ({-(-n_trials // batch)} rounds)",
                         t_str(median(r["wall"] for r in runs)),
                         f"best {fmt_ci([best_after(r['values'], n_trials) for r in runs])}; "
                         f"walls " + ", ".join(f"{r['wall']:.1f}" for r in runs)))
        machine.finish()
    finally:
        clean_up(work, args.keep)
    print()
    print_table(rows)
    if not args.no_save:
        save_results("tpe.py", rows, machine, quick=args.quick, results=args.results)


if __name__ == "__main__":
    main()
