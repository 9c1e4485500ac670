"""gdlab.console: the texts the Snakefile prints when a run ends."""

import subprocess
import sys

from gdlab import console
from gdlab.summary import to_csv

REGRESSION = {"dataset": "line", "model": "linear_regression", "runs": 4, "diverged": 2,
              "best_run": "epochs~15/l2~0.0/lr~0.1", "selection": "val_mse",
              "val_mse": 0.0719, "test_mse": 0.10844416572387822,
              "sklearn_test_mse": 0.10181794352544686, "test_r2": -0.13, "sklearn_test_r2": -0.06}
CLASSIFICATION = {"dataset": "moons", "model": "logistic_regression", "runs": 4, "diverged": 1,
                  "best_run": "epochs~15/l2~0.0/lr~0.5", "selection": "val_log_loss",
                  "val_log_loss": 0.469, "test_log_loss": 0.2676139576102669,
                  "sklearn_test_log_loss": 0.1751142246718787, "test_accuracy": 0.95,
                  "sklearn_test_accuracy": 1.0}


def _overview(tmp_path, rows):
    path = tmp_path / "summary.csv"
    path.write_text(to_csv(rows))  # written as the overview rule writes it
    return path


def test_success_names_each_sweeps_best_run_against_sklearn(tmp_path):
    path = _overview(tmp_path, [REGRESSION, CLASSIFICATION])
    text = console.success_message(path, "sqlite:///mlflow.db", "gdlab-default")
    lines = text.splitlines()
    line_row = next(x for x in lines if "line/linear_regression" in x)
    assert "mse 0.1084 (scikit-learn 0.1018)" in line_row
    assert "epochs~15/l2~0.0/lr~0.1" in line_row and "4 runs, 2 diverged" in line_row
    moons_row = next(x for x in lines if "moons/logistic_regression" in x)
    assert "log_loss 0.2676 (scikit-learn 0.1751)" in moons_row
    assert f"Whole table: {path}" in lines


def test_with_repeats_the_best_configurations_mean_and_interval_are_shown(tmp_path):
    repeated = dict(CLASSIFICATION, best_config="epochs~15/l2~0.0/lr~0.5", repeats=3,
                    test_log_loss_mean=0.28, test_log_loss_ci_low=0.25,
                    test_log_loss_ci_high=0.31)
    text = console.success_message(_overview(tmp_path, [REGRESSION, repeated]),
                                   "sqlite:///mlflow.db", "e")
    moons_row = next(x for x in text.splitlines() if "moons/logistic_regression" in x)
    assert "log_loss 0.2676 (scikit-learn 0.1751; mean of 3 repeats 0.28 [0.25, 0.31])" \
        in moons_row
    line_row = next(x for x in text.splitlines() if "line/linear_regression" in x)
    assert "repeats" not in line_row  # its cells are empty: no repeats there


def test_success_says_where_the_figures_report_and_runs_are(tmp_path):
    text = console.success_message(_overview(tmp_path, [REGRESSION]), "sqlite:///mlflow.db",
                                   "gdlab-default")
    assert "results/<dataset>/<model>/plots/" in text
    assert "snakemake --report report.html" in text
    assert "mlflow ui --backend-store-uri sqlite:///mlflow.db (experiment gdlab-default)" in text


def test_success_stays_short_however_many_sweeps(tmp_path):
    rows = [dict(REGRESSION, dataset=f"d{i}") for i in range(30)]
    text = console.success_message(_overview(tmp_path, rows), "sqlite:///mlflow.db", "e")
    assert len(text.splitlines()) <= 15
    assert f"... and {30 - console.MAX_SWEEPS} more sweeps" in text
    assert "d7/linear_regression" in text and "d8/linear_regression" not in text


def test_a_sweep_without_a_healthy_run_says_so(tmp_path):
    row = {k: REGRESSION[k] for k in ("dataset", "model", "runs", "selection")}
    row.update(diverged=4, best_run=None)
    text = console.success_message(_overview(tmp_path, [row, CLASSIFICATION]), "sqlite:///m.db",
                                   "e")
    assert "line/linear_regression" in text and "no healthy run (4 runs, 4 diverged)" in text


def test_success_without_an_overview_table_still_says_where_to_look(tmp_path):
    text = console.success_message(tmp_path / "missing.csv", "sqlite:///mlflow.db", "e")
    assert "this run did not make" in text and "mlflow ui" in text


def test_a_tracking_server_is_named_without_its_credentials():
    hint = console.mlflow_hint("https://alice:s3cret@mlflow.example.org/base?token=abc")
    assert hint == "runs are on the tracking server https://mlflow.example.org/base"


def test_a_local_store_gets_a_shell_ready_mlflow_ui_command():
    assert (console.mlflow_hint("sqlite:////tmp/my runs/mlflow.db")
            == "mlflow ui --backend-store-uri 'sqlite:////tmp/my runs/mlflow.db'")


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


def test_error_points_at_each_failed_jobs_log(tmp_path):
    log = tmp_path / "run.snakemake.log"
    log.write_text(SNAKEMAKE_LOG)
    text = console.error_message([log])
    assert "gdlab: 2 jobs failed; their logs say why:" in text
    assert "  make_dataset: logs/make_dataset/bad.log" in text.splitlines()
    assert "  both: logs/b/y.log, logs/b/y.err" in text.splitlines()
    assert "under logs/" in text


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
