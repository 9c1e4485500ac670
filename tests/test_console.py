"""gdlab.console: the texts the Snakefile prints when a run ends."""

import json
import re
import subprocess
import sys
from pathlib import Path

from gdlab import console
from gdlab.summary import to_csv

REGRESSION = {"dataset": "line", "model": "linear_regression", "runs": 4, "diverged": 2,
              "best_run": "epochs~15/l2~0.0/lr~0.1", "selection": "val_mse", "better": "lower",
              "val_mse": 0.0719, "sklearn_default": "LinearRegression()",
              "sklearn_default_converged": True, "test_mse": 0.10844416572387822,
              "sklearn_default_test_mse": 0.10181794352544686, "test_r2": -0.13,
              "sklearn_default_test_r2": -0.06, "objective_gap": 2.5e-07, "no_optimum": None}
CLASSIFICATION = {"dataset": "moons", "model": "logistic_regression", "runs": 4,
                  "diverged": 1, "best_run": "epochs~15/l2~0.0/lr~0.5",
                  "selection": "val_log_loss", "better": "lower", "val_log_loss": 0.469,
                  "sklearn_default": "LogisticRegression()", "sklearn_default_converged": True,
                  "test_log_loss": 0.2676139576102669,
                  "sklearn_default_test_log_loss": 0.1751142246718787, "test_accuracy": 0.95,
                  "sklearn_default_test_accuracy": 1.0, "objective_gap": None,
                  "no_optimum": "the objective is not convex (local minima and plateaus)"}


def _results(tmp_path, rows, records=()):
    """A results/ folder with the overview table (as the overview rule writes it) and the
    track jobs' records."""
    (tmp_path / "summary.csv").write_text(to_csv(rows))
    for sweep, record in records:
        path = tmp_path / sweep / "mlflow.json"
        path.parent.mkdir(parents=True)
        path.write_text(json.dumps(record))
    return tmp_path


def _row(text: str, sweep: str) -> list[str]:
    """The table's lines of ``sweep``: its first and the ones under it."""
    lines = text.splitlines()
    i = next(k for k, x in enumerate(lines) if x.strip().startswith(sweep))
    return [lines[i], lines[i + 1]]


def _table(text: str) -> tuple[str, list[str]]:
    """The header line of the end-of-run table and the lines under it."""
    lines = text.splitlines()
    i = next(k for k, x in enumerate(lines) if x.strip().startswith("sweep "))
    end = next(k for k in range(i + 1, len(lines)) if not lines[k].startswith("  "))
    return lines[i], lines[i + 1:end]


def test_each_sweeps_best_run_stands_beside_sklearns_default_estimator(tmp_path):
    text = console.success_message(_results(tmp_path, [REGRESSION, CLASSIFICATION]),
                                   "sqlite:///mlflow.db", "gdlab-default")
    first, second = _row(text, "line/linear_regression")
    assert first.split()[1:] == ["4", "2", "mse", "↓", "0.1084", "0.1018", "2.5e-07"]
    assert second.split() == ["r2", "↑", "-0.1300", "-0.0600"]  # no run counts under the gap
    first, second = _row(text, "moons/logistic_regression")
    assert first.split()[1:8] == ["4", "1", "log_loss", "↓", "0.2676", "0.1751", "none:"]
    assert first.endswith("none: non-convex")
    assert second.split() == ["accuracy", "↑", "0.9500", "1.0000"]
    assert "↓ lower is better, ↑ higher" in text


def test_the_table_is_aligned_with_the_same_decimals_per_column(tmp_path):
    """Each number sits under its heading (right-aligned columns end where their header
    ends), every metric cell has 4 decimals, and the gap 2 significant digits."""
    rows = [REGRESSION, CLASSIFICATION,
            dict(REGRESSION, dataset="a_much_longer_dataset_name", runs=1000, diverged=123,
                 test_mse=12345.678, sklearn_default_test_mse=0.5, objective_gap=3.0)]
    header, lines = _table(console.success_message(_results(tmp_path, rows), "sqlite:///m.db",
                                                   "e"))
    ends = {n: header.index(n) + len(n) for n in ("runs", "diverged", "gdlab", "scikit-learn")}
    gap_at = header.index("gap to the optimum")
    for line in lines:
        tokens = [(m.group(), m.start(), m.end()) for m in re.finditer(r"\S+", line)]
        arrow = next((k for k, t in enumerate(tokens) if t[0] in "↓↑"), None)
        if arrow is None:
            continue
        ours, theirs = tokens[arrow + 1], tokens[arrow + 2]
        assert (ours[2], theirs[2]) == (ends["gdlab"], ends["scikit-learn"]), line
        assert all(len(t[0].split(".")[1]) == 4 for t in (ours, theirs)), line  # 4 decimals
        if arrow > 2:  # a sweep's first row: its counts, and its gap under its heading
            assert (tokens[1][2], tokens[2][2]) == (ends["runs"], ends["diverged"]), line
            assert tokens[arrow + 3][1] == gap_at, line
        else:  # the second metric's row: nothing under the counts or the gap
            assert len(tokens) == arrow + 3, line
    gaps = [line.split()[-1] for line in lines if "mse ↓" in line]
    assert gaps == ["2.5e-07", "3.0e+00"]
    big = next(line for line in lines if line.strip().startswith("a_much_longer"))
    assert big[:ends["runs"]].endswith("1000") and big[:ends["diverged"]].endswith("123")
    assert big[:ends["gdlab"]].endswith("12345.6780")
    assert big[:ends["scikit-learn"]].endswith("0.5000")


def test_an_estimator_that_did_not_converge_says_so_on_its_sweeps_rows(tmp_path):
    row = dict(CLASSIFICATION, sklearn_default="MLPClassifier(hidden_layer_sizes=(16,))",
               sklearn_default_converged=False, model="mlp_classifier")
    text = console.success_message(_results(tmp_path, [row, REGRESSION]),
                                   "sqlite:///mlflow.db", "e")
    lines = text.splitlines()
    i = next(k for k, x in enumerate(lines) if x.strip().startswith("moons/mlp_classifier"))
    assert lines[i + 2].strip() == ("scikit-learn's MLPClassifier(hidden_layer_sizes=(16,)) "
                                    "stopped before converging (its solver's iteration limit)")
    assert lines[i + 3].strip().startswith("line/linear_regression")  # not in a footer
    assert text.count("stopped before converging") == 1


def test_oscillating_runs_are_counted_under_their_sweep(tmp_path):
    text = console.success_message(_results(tmp_path, [dict(CLASSIFICATION, oscillating=6),
                                                       REGRESSION]), "sqlite:///m.db", "e")
    lines = text.splitlines()
    i = next(k for k, x in enumerate(lines) if x.strip().startswith("moons/"))
    assert lines[i + 2].strip().startswith("6 of its runs still swing at the end")
    assert "still swing" not in text.split("line/linear_regression")[1]


def test_with_repeats_the_best_configurations_mean_and_interval_are_shown(tmp_path):
    repeated = dict(CLASSIFICATION, best_config="epochs~15/l2~0.0/lr~0.5", repeats=3,
                    test_log_loss_mean=0.28, test_log_loss_ci_low=0.25,
                    test_log_loss_ci_high=0.31)
    text = console.success_message(_results(tmp_path, [REGRESSION, repeated]),
                                   "sqlite:///mlflow.db", "e")
    assert "mean of 3 repeats: 0.2800 [0.2500, 0.3100]" in text
    assert text.count("repeats:") == 1  # the regression row has none


def test_success_says_where_the_tables_figures_report_and_runs_are(tmp_path):
    records = [("line/linear_regression", {"experiment_id": "3", "parent_run_id": "abc",
                                           "sweep": "line/linear_regression"})]
    text = console.success_message(_results(tmp_path, [REGRESSION], records),
                                   "sqlite:///mlflow.db", "gdlab-default")
    assert "<dataset>/<model>/plots/" in text and "snakemake --report report.html" in text
    assert "mlflow ui --backend-store-uri sqlite:///mlflow.db" in text
    base = "http://127.0.0.1:5000/#/experiments/3/runs"
    assert f"{base}?workflowType=machine_learning&viewStateShareKey=gdlab-sweeps" in text
    assert f"{base}/abc?workflowType=machine_learning" in text


def test_the_lesson_is_told_in_numbers(tmp_path):
    record = {"saturated_start": True, "shown": 0, "near": 0.1,
              "constant_val_log_loss": 0.6612, "pairs": [{
        "hyperparameters": {"lr": 0.1}, "runs": {
            "log_loss": {"plateau_epochs": 12, "n_epochs": 100, "final_val_log_loss": 0.3},
            "squared": {"plateau_epochs": None, "n_epochs": 100,
                        "final_val_log_loss": 0.69}}}]}
    path = tmp_path / "moons" / "logistic_regression" / "lesson.json"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(record))
    text = console.success_message(_results(tmp_path, [CLASSIFICATION]),
                                   "sqlite:///mlflow.db", "e")
    line = next(x for x in text.splitlines() if x.startswith("The lesson"))
    assert "from one saturated start, lr 0.1" in line
    assert "log_loss off the plateau at epoch 12 (ends at 0.3)" in line
    assert "squared still on it after 100 epochs (ends at 0.69)" in line
    # the claim comes with what it means, on the next line: measured against knowing nothing
    definition = text.splitlines()[text.splitlines().index(line) + 1]
    assert "off the plateau: validation log loss 90% of the way down" in definition
    assert "below 0.6612, what always predicting the training class share scores" in definition


def test_success_stays_short_however_many_sweeps(tmp_path):
    rows = [dict(REGRESSION, dataset=f"d{i}") for i in range(30)]
    text = console.success_message(_results(tmp_path, rows), "sqlite:///mlflow.db", "e")
    assert len(text.splitlines()) <= 30
    assert f"... and {30 - console.MAX_SWEEPS} more sweeps" in text
    assert "d7/linear_regression" in text and "d8/linear_regression" not in text


def test_a_sweep_without_a_healthy_run_says_so(tmp_path):
    row = {k: REGRESSION[k] for k in ("dataset", "model", "runs", "selection")}
    row.update(diverged=4, best_run=None)
    text = console.success_message(_results(tmp_path, [row, CLASSIFICATION]),
                                   "sqlite:///m.db", "e")
    line = next(x for x in text.splitlines() if x.strip().startswith("line/linear_regression"))
    assert line.split() == ["line/linear_regression", "4", "4", "no", "healthy", "run"]


def test_success_without_an_overview_table_still_says_where_to_look(tmp_path):
    text = console.success_message(tmp_path, "sqlite:///mlflow.db", "e")
    assert "this run did not make" in text and "mlflow ui" in text


def test_a_tracking_server_is_named_without_its_credentials(tmp_path):
    lines = console.mlflow_lines("https://alice:s3cret@mlflow.example.org/base?token=abc",
                                 "e", tmp_path)
    assert lines == ["MLflow: the runs are on the tracking server "
                     "https://mlflow.example.org/base"]


def test_a_local_store_gets_a_shell_ready_mlflow_ui_command(tmp_path):
    [line] = console.mlflow_lines("sqlite:////tmp/my runs/mlflow.db", "e", tmp_path)
    assert "mlflow ui --backend-store-uri 'sqlite:////tmp/my runs/mlflow.db'" in line


# Snakemake's log of a --keep-going run in which two jobs failed (trimmed).
SNAKEMAKE_LOG = """\
localrule a:
    output: x
    log: logs/a.log
    jobid: 1
Error in rule make_dataset:
    message: None
    jobid: 1
    output: data/bad/full.npz
    log: logs/make_dataset/bad.log (check log file(s) for error details)
    shell:
        (command exited with non-zero exit code)
RuleException:
Error in rule both:
    jobid: 2
    log: logs/b/y.log, logs/b/y.err (check log file(s) for error details)
Exiting because a job execution failed. Look above for error messages
"""


def test_failed_job_logs_are_read_from_snakemakes_log():
    assert console.failed_job_logs(SNAKEMAKE_LOG) == [
        ("make_dataset", ["logs/make_dataset/bad.log"]),
        ("both", ["logs/b/y.log", "logs/b/y.err"]),
    ]


def test_error_points_at_each_failed_jobs_log(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the project: the logs' paths are relative to it
    for name in ("logs/make_dataset/bad.log", "logs/b/y.log", "logs/b/y.err"):
        Path(name).parent.mkdir(parents=True, exist_ok=True)
        Path(name).write_text("Traceback ...\n")
    log = tmp_path / "run.snakemake.log"
    log.write_text(SNAKEMAKE_LOG)
    text = console.error_message([log])
    assert "gdlab: 2 jobs failed; their logs say why:" in text
    assert "  make_dataset: logs/make_dataset/bad.log" in text.splitlines()
    assert "  both: logs/b/y.log, logs/b/y.err" in text.splitlines()
    assert "under logs/" in text


def test_an_empty_log_is_said_to_be_empty(tmp_path, monkeypatch):
    """A failed job whose log is empty (or missing) is not pointed at as if it said why
    (on a full disk the note names the disk: tests/test_disk.py)."""
    monkeypatch.chdir(tmp_path)
    Path("logs/b").mkdir(parents=True)
    Path("logs/b/y.log").write_text("")
    log = tmp_path / "run.snakemake.log"
    log.write_text(SNAKEMAKE_LOG)
    lines = console.error_message([log]).splitlines()
    assert "  both: logs/b/y.log, logs/b/y.err (empty: the job stopped before writing it; " \
           "Snakemake's own log above says more)" in lines
    assert any(line.startswith("  make_dataset: logs/make_dataset/bad.log (empty")
               for line in lines)


def test_error_without_a_failed_job_points_at_snakemakes_log(tmp_path):
    log = tmp_path / "run.snakemake.log"
    log.write_text("MissingInputException in rule split\n")
    assert console.error_message([log]).strip() == (
        f"gdlab: the run failed; Snakemake's log says why: {log}")


def test_the_console_module_imports_nothing_heavy():
    # the handlers run in Snakemake's process after every run
    code = ("import sys, gdlab.console; "
            "print(sorted(m for m in ('pandas', 'mlflow', 'matplotlib', 'sklearn')"
            " if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "[]"


def test_a_gap_within_rounding_of_the_optimum_reads_as_reached_not_below_it():
    """-1.4e-17 (line_1d's best run in the default experiment) would read as gdlab beating
    scikit-learn's optimum; a real gap keeps its value, a problem without one says why."""
    from gdlab.console import gap_cell

    assert gap_cell({"objective_gap": "-1.4e-17"}) == "0 (reached)"
    assert gap_cell({"objective_gap": "0.0"}) == "0 (reached)"
    assert gap_cell({"objective_gap": "2.5e-07"}) == "2.5e-07"
    assert gap_cell({"objective_gap": "", "no_optimum": "not convex"}).startswith("none: ")
