"""results/overview.csv and `gdlab overview`: a short table people read, which cannot
misalign (results/summary.csv keeps every column for tools)."""

import csv
import io
import re
import subprocess
import sys
from pathlib import Path

from gdlab import summary as S
from gdlab.cli import NUMERIC, main, overview_table

SRC = Path(__file__).resolve().parents[1] / "src"

#: a best.json as summarize writes it, with an estimator whose name holds commas
BEST = {"dataset": "moons", "model": "mlp_classifier", "selection_metric": "val_log_loss",
        "higher_is_better": False, "run_name": "activation~tanh/lr~0.05",
        "run_key": "k", "hyperparameters": {"lr": 0.05}, "n_epochs": 500,
        "metrics": {p: {"log_loss": 0.0061734567891234, "accuracy": 1.0}
                    for p in ("train", "val", "test")},
        "final_objective": 0.01,
        "optimum": {"objective": None, "objective_gap": None,
                    "no_optimum": "the objective is not convex (local minima and plateaus)"},
        "sklearn_default": {"estimator": "MLPClassifier(hidden_layer_sizes=(16,), "
                                         "activation='tanh', random_state=0)",
                            "converged": False,
                            "metrics": {"test": {"log_loss": 0.343219876, "accuracy": 0.825}}}}
REGRESSION = {**BEST, "dataset": "line_1d", "model": "linear_regression",
              "selection_metric": "val_mse", "run_name": "epochs~100/l2~0.0/lr~0.5",
              "metrics": {p: {"mse": 0.28474512345, "r2": 0.53} for p in ("train", "val",
                                                                          "test")},
              "optimum": {"objective": 0.1, "objective_gap": -1.3877787807814457e-17,
                          "no_optimum": None},
              "sklearn_default": {"estimator": "LinearRegression()", "converged": True,
                                  "metrics": {"test": {"mse": 0.2847451, "r2": 0.53}}}}


def _short_rows():
    full = [S.overview_row(BEST, 2, 0, 1), S.overview_row(REGRESSION, 24, 2, 0)]
    return full, [S.short_row(r) for r in full]


def test_the_overview_has_a_few_columns_that_say_what_they_are_rounded():
    full, short = _short_rows()
    assert len(S.to_csv(full).splitlines()[0].split(",")) > 20  # the full table, for tools
    assert list(short[0]) == ["sweep", "test_metric", "better", "gdlab_best",
                              "sklearn_default", "sklearn_converged", "objective_gap",
                              "no_optimum", "runs", "diverged", "oscillating", "best_run"]
    mlp, line = short
    assert (mlp["sweep"], mlp["test_metric"], mlp["better"]) == ("moons/mlp_classifier",
                                                                 "log_loss", "lower")
    assert (mlp["gdlab_best"], mlp["sklearn_default"]) == (0.006173, 0.3432)  # 4 digits
    assert (mlp["sklearn_converged"], mlp["no_optimum"], mlp["objective_gap"]) == (
        False, "non-convex", None)
    assert (mlp["runs"], mlp["diverged"], mlp["oscillating"]) == (2, 0, 1)
    assert line["objective_gap"] == -1.4e-17 and line["no_optimum"] is None
    text = S.to_csv(short)
    # no cell holds a comma: every line splits into as many cells as the header
    assert {len(x.split(",")) for x in text.splitlines()} == {len(short[0])}


def test_gdlab_overview_prints_an_aligned_table_whatever_the_cells(tmp_path):
    _, short = _short_rows()
    short[0]["best_run"] = "a, name with commas"  # as a hand-edited file might hold
    (tmp_path / "overview.csv").write_text(S.to_csv(short))
    lines = overview_table(tmp_path / "overview.csv")
    header, body = lines[0], lines[1:]
    rows = list(csv.DictReader(io.StringIO((tmp_path / "overview.csv").read_text())))
    names = header.split()
    assert names == list(short[0])
    for line, row in zip(body, rows, strict=True):
        for name in names:
            start = header.index(name)
            if name in NUMERIC:  # right-aligned: the cell ends where its heading ends
                end = start + len(name)
                cell = line[:end].rsplit("  ", 1)[-1].strip()
                assert line[end:end + 1] in ("", " "), (name, line)
            else:  # left-aligned: the cell starts where its heading starts
                cell = re.split(r"\s{2,}", line[start:])[0].strip()
                assert line[start - 1:start] in ("", " "), (name, line)
            assert cell == row[name], (name, line)


def test_the_command_runs_as_python_m_gdlab(tmp_path):
    _, short = _short_rows()
    (tmp_path / "overview.csv").write_text(S.to_csv(short))
    out = subprocess.run([sys.executable, "-m", "gdlab", "overview", str(tmp_path)],
                         capture_output=True, text=True, env={"PYTHONPATH": str(SRC)},
                         check=True).stdout
    assert out.splitlines() == overview_table(tmp_path / "overview.csv")


def test_a_missing_or_damaged_overview_is_named(tmp_path, capsys):
    assert main(["overview", str(tmp_path)]) == 1
    assert f"no {tmp_path / 'overview.csv'}: run `snakemake --cores 2` first" in \
        capsys.readouterr().err
    (tmp_path / "overview.csv").write_text("sweep,runs\nmoons/mlp,2,extra\n")
    assert main(["overview", str(tmp_path)]) == 1
    assert "overview.csv, line 2: 3 cells under 2 columns" in capsys.readouterr().err


def test_the_reports_overview_is_an_html_table_of_the_same_cells():
    """The report shows results/overview.html in place (a CSV there is a data: link
    Chromium does not follow); its cells are overview.csv's, escaped."""
    from html.parser import HTMLParser

    from gdlab.console import html_table

    _, short = _short_rows()
    short[0]["best_run"] = "<a & b>"
    header = list(short[0])
    rows = [[S.cell(r[k]) for k in header] for r in short]
    page = html_table(header, rows, "Overview")

    class Cells(HTMLParser):
        def __init__(self):
            super().__init__()
            self.rows, self.cell = [], None

        def handle_starttag(self, tag, attrs):
            if tag == "tr":
                self.rows.append([])
            elif tag in ("td", "th"):
                self.cell = ""

        def handle_endtag(self, tag):
            if tag in ("td", "th"):
                self.rows[-1].append(self.cell)
                self.cell = None

        def handle_data(self, data):
            if self.cell is not None:
                self.cell += data

    parser = Cells()
    parser.feed(page)
    assert parser.rows == [header, *rows]
    assert "<a & b>" not in page  # escaped
    expect = list(csv.reader(io.StringIO(S.to_csv(short))))
    assert parser.rows == expect


def test_check_config_names_an_overlays_bad_line_and_a_bad_value(tmp_path, capsys,
                                                                 monkeypatch):
    """Snakemake reads a --configfile overlay before gdlab runs and names neither file
    nor line; `gdlab check-config` does, and runs the config check on the merge."""
    repo = Path(__file__).resolve().parents[1]
    monkeypatch.chdir(repo)
    bad = tmp_path / "bad.yaml"
    bad.write_text("models:\n  linear_regression:\n    grid:\n      lr: [0.1, 0.2\n"
                   "      l2: [0.0]\n")
    assert main(["check-config", str(bad)]) == 1
    err = capsys.readouterr().err
    assert f"{bad}, line 5, column " in err and "not valid YAML" in err
    nan = tmp_path / "nan.yaml"
    nan.write_text("models:\n  linear_regression:\n    grid:\n      lr: [.nan, 0.1]\n")
    assert main(["check-config", str(nan)]) == 1
    assert "models.linear_regression.grid.lr[0]: must be a finite number" in \
        capsys.readouterr().err
    assert main(["check-config", "config/lesson.yaml"]) == 0
    assert "the config is valid" in capsys.readouterr().out
