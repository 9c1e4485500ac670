# The input and params functions of halving's rules (halving.smk includes this file first):
# Snakemake's lint keeps functions apart from rules.


def _halving(w):
    return config["models"][w.model]["search"]


def _rung_runs(dataset, model, rung):
    """The run names rung ``rung`` trains: every candidate at rung 0, then the ones the
    previous rung's promotion names (read once that checkpoint is done)."""
    if rung == 0:
        return sorted(PLAN.runs[(dataset, model)])
    done = checkpoints.promote.get(dataset=dataset, model=model, rung=str(rung - 1))
    with open(done.output[0], encoding="utf-8") as f:
        return json.load(f)["promoted"]


def _rung_shards(dataset, model, rung):
    """Shard id -> run names of a rung (as any sweep's shards)."""
    names = _rung_runs(dataset, model, rung)
    return M_HALVING.rung_shards(names, config["train"]["shard_size"])


def rung_shard_spec(w):
    """A rung job's whole specification: its runs' specs at the rung's budget."""
    rung = int(w.rung)
    names = _rung_shards(w.dataset, w.model, rung).get(w.shard)
    if names is None:
        raise WorkflowError(f"rung {rung} of {w.dataset}/{w.model} has no shard {w.shard}")
    return M_HALVING.rung_shard_spec(
        w.dataset,
        w.model,
        rung,
        w.shard,
        names,
        PLAN.runs[(w.dataset, w.model)],
        _halving(w)["budgets"],
    )


def rung_manifests(w):
    return [
        f"results/{w.dataset}/{w.model}/rungs/{w.rung}/shards/{k}.json"
        for k in _rung_shards(w.dataset, w.model, int(w.rung))
    ]


def previous_rung_dir(w):
    """The directory of the rung before the wildcards' rung ("" for rung 0)."""
    # arithmetic outside the f-string: snakefmt on Python 3.12+ (PEP 701) reformats it inside
    previous = int(w.rung) - 1
    return f"results/{w.dataset}/{w.model}/rungs/{previous}" if previous >= 0 else ""


def previous_promotion(w):
    """The promotion record that chose the wildcards' rung's runs (none for rung 0)."""
    previous = previous_rung_dir(w)
    return [f"{previous}/promoted.json"] if previous else []


def rung_records(w):
    """Every rung's promotion record of the wildcards' sweep, rung 0 first."""
    budgets = _halving(w)["budgets"]
    return [f"results/{w.dataset}/{w.model}/rungs/{r}/promoted.json" for r in range(len(budgets))]
