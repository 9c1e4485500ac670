"""Every job's cost (gdlab.costs): Snakemake's benchmark records merged into one table."""

import csv
import io

from gdlab import costs

HEADER = "s\th:m:s\tmax_rss\tmax_vms\tmax_uss\tmax_pss\tio_in\tio_out\tmean_load\tcpu_time"


def record(path, seconds, rss):
    """A record as Snakemake's benchmark writes it (a header, one row a repeat)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"{HEADER}\n{seconds}\t0:00:01\t{rss}\t1\t1\t1\t0\t0\t50\t1\n")


def test_records_become_one_row_a_job_and_sums_by_rule(tmp_path):
    record(tmp_path / "train" / "moons" / "logistic_regression" / "0.tsv", "1.50", "80.25")
    record(tmp_path / "train" / "moons" / "logistic_regression" / "1.tsv", "2.25", "95.00")
    record(tmp_path / "overview.tsv", "0.40", "-")  # a rule without wildcards
    (tmp_path / "plot" / "x.tsv").parent.mkdir()
    (tmp_path / "plot" / "x.tsv").write_text(HEADER + "\n")  # being written: left out
    rows = costs.read_records(tmp_path)
    assert [(r["rule"], r["job"], r["seconds"], r["max_rss_mb"]) for r in rows] == [
        ("overview", "", 0.4, None),
        ("train", "moons/logistic_regression/0", 1.5, 80.25),
        ("train", "moons/logistic_regression/1", 2.25, 95.0)]
    table = list(csv.DictReader(io.StringIO(costs.to_csv(rows))))
    assert list(table[0]) == list(costs.COLUMNS)
    assert table[0]["max_rss_mb"] == "" and table[1]["seconds"] == "1.5"
    assert table[1]["measured_utc"].endswith("Z")
    summed = costs.by_rule(rows)
    assert summed["train"] == {"jobs": 2, "seconds": 3.75, "max_rss_mb": 95.0}
    assert summed["overview"] == {"jobs": 1, "seconds": 0.4, "max_rss_mb": None}


def test_a_jobs_benchmark_path_follows_its_wildcards():
    assert costs.benchmark_path("train", "{dataset}", "{model}", "{shard}") == \
        "logs/benchmark/train/{dataset}/{model}/{shard}.tsv"
    assert costs.benchmark_path("overview") == "logs/benchmark/overview.tsv"
