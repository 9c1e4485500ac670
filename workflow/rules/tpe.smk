# TPE in rounds (models.<m>.search.method: tpe): the checkpoint ask writes round r's trials,
# asked from Optuna's TPE sampler rebuilt from the results of rounds 0..r-1 (gdlab.tpe; the
# only job that imports Optuna); train_round trains them in shards, straight into the
# sweep's runs/<run>/; collect_round makes the round the sweep's shard r (its manifest
# shards/<r>.json), which the next round's ask reads, and from which summarize, plot,
# track_shard and track see a sweep like any other (one MLflow child per run, tag round).


def tpe_round_shards(dataset, model, r):
    """Shard id -> run names of round ``r`` (gdlab.grid.shard_of, as any sweep's shards)."""
    names = sorted(tpe_round_specs(dataset, model, r))
    n = G.shard_count(len(names), config["train"]["shard_size"])
    shards = {}
    for name in names:
        shards.setdefault(str(G.shard_of(name, n)), []).append(name)
    return shards


def tpe_round_shard_spec(w):
    """A train_round job's whole specification: its runs' specs."""
    r = int(w.round)
    names = tpe_round_shards(w.dataset, w.model, r).get(w.shard)
    if names is None:
        raise WorkflowError(f"round {r} of {w.dataset}/{w.model} has no shard {w.shard}")
    table = tpe_round_specs(w.dataset, w.model, r)
    return canonical_json(
        {
            "dataset": w.dataset,
            "model": w.model,
            "round": r,
            "shard": w.shard,
            "runs": [table[name] for name in names],
        }
    )


def tpe_round_manifests(w):
    """The train_round manifests of round ``shard`` (known once its trials are asked)."""
    return [
        f"results/{w.dataset}/{w.model}/rounds/{w.shard}/shards/{k}.json"
        for k in tpe_round_shards(w.dataset, w.model, int(w.shard))
    ]


def tpe_earlier(pattern):
    """Input function: ``pattern`` (with ``{r}``) for every round before the wildcards'."""
    return lambda w: [
        pattern.format(dataset=w.dataset, model=w.model, r=r) for r in range(int(w.round))
    ]


def tpe_ask_spec(w):
    """What round ``round``'s trials depend on: the search but n_trials (raising it keeps
    the earlier rounds), the round's size, the selection metric, gdlab.tpe and Optuna."""
    search = dict(TPE[(w.dataset, w.model)])
    r = int(w.round)
    sizes = TPE_ROUNDS.round_sizes(search.pop("n_trials"), search["batch"])
    if r >= len(sizes):
        raise WorkflowError(f"{w.dataset}/{w.model} has {len(sizes)} rounds, not {r + 1}")
    search["seed"] = search.get("seed", config["seed"])
    return canonical_json(
        {
            "model": w.model,
            "round": r,
            "size": sizes[r],
            "search": search,
            "metric": config["selection"][config["datasets"][w.dataset]["task"]],
            "code": G.code_version("gdlab.tpe"),
            "optuna": TPE_ROUNDS.optuna_version(),
        }
    )


checkpoint ask:
    input:
        # the rounds before: their trials and, through their manifests, their results
        trials=tpe_earlier("results/{dataset}/{model}/rounds/{r}/trials.json"),
        manifests=tpe_earlier("results/{dataset}/{model}/shards/{r}.json"),
    output:
        "results/{dataset}/{model}/rounds/{round}/trials.json",
    log:
        "logs/ask/{dataset}/{model}/{round}.log",
    wildcard_constraints:
        model=models_regex("tpe"),
    # the rounds are the chain every other job of the sweep waits for
    priority: 1
    conda:
        ENV
    params:
        spec=tpe_ask_spec,
    script:
        "../scripts/ask.py"


rule train_round:
    input:
        split="data/{dataset}/split.npz",
        trials="results/{dataset}/{model}/rounds/{round}/trials.json",
    output:
        "results/{dataset}/{model}/rounds/{round}/shards/{shard}.json",
    log:
        "logs/train_round/{dataset}/{model}/{round}/{shard}.log",
    wildcard_constraints:
        model=models_regex("tpe"),
    priority: 1
    conda:
        ENV
    params:
        spec=tpe_round_shard_spec,
        sweep_dir="results/{dataset}/{model}",
    script:
        "../scripts/train.py"


rule collect_round:
    input:
        trials="results/{dataset}/{model}/rounds/{shard}/trials.json",
        manifests=tpe_round_manifests,
    output:
        "results/{dataset}/{model}/shards/{shard}.json",
    log:
        "logs/collect_round/{dataset}/{model}/{shard}.log",
    wildcard_constraints:
        model=models_regex("tpe"),
    priority: 1
    conda:
        ENV
    params:
        spec=lambda w: canonical_json(
            {
                "dataset": w.dataset,
                "model": w.model,
                "round": int(w.shard),
                "code": G.code_version("gdlab.runfiles", "gdlab.io"),
            }
        ),
    script:
        "../scripts/collect_round.py"
