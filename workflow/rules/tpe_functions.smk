# The input and params functions of tpe's rules (tpe.smk includes this file first):
# Snakemake's lint keeps functions apart from rules.


def _tpe_round_specs(dataset, model, r):
    """Run name -> spec of every run of round ``r`` of a TPE sweep (each trial repeated),
    from the round's record, read once its checkpoint ``ask`` is done."""
    done = checkpoints.ask.get(dataset=dataset, model=model, round=str(r))
    with open(done.output[0], encoding="utf-8") as f:
        record = json.load(f)
    return M_TPE.round_specs(
        config, dataset, model, r, record, J.data_key(config, dataset), J.train_code(model)
    )


def _tpe_round_shards(dataset, model, r):
    """Shard id -> run names of round ``r`` (as any sweep's shards)."""
    names = sorted(_tpe_round_specs(dataset, model, r))
    return G.split_shards(names, config["train"]["shard_size"])


def tpe_round_shard_spec(w):
    """A train_round job's whole specification: its runs' specs."""
    r = int(w.round)
    names = _tpe_round_shards(w.dataset, w.model, r).get(w.shard)
    if names is None:
        raise WorkflowError(f"round {r} of {w.dataset}/{w.model} has no shard {w.shard}")
    table = _tpe_round_specs(w.dataset, w.model, r)
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
        for k in _tpe_round_shards(w.dataset, w.model, int(w.shard))
    ]


def tpe_earlier(pattern):
    """Input function: ``pattern`` (with ``{r}``) for every round before the wildcards'."""
    return lambda w: [
        pattern.format(dataset=w.dataset, model=w.model, r=r) for r in range(int(w.round))
    ]


def tpe_ask_spec(w):
    try:
        return M_TPE.ask_spec(config, w.dataset, w.model, int(w.round))
    except ValueError as err:
        raise WorkflowError(str(err)) from None


def tpe_models():
    return models_regex(lambda method: method is M_TPE.METHOD)
