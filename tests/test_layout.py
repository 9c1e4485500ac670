"""A fresh clone has data/ and results/, each saying what belongs there; generated files stay
out of git, the user's CSVs in data/raw/ don't."""

import subprocess

import pytest
from conftest import REPO


@pytest.mark.parametrize("readme", ["data/README.md", "data/raw/README.md", "results/README.md"])
def test_the_folders_a_user_looks_for_are_there(readme):
    assert (REPO / readme).is_file()
    assert not _ignored(readme)


def test_data_readme_says_where_a_users_csv_goes():
    assert "path: data/raw/" in (REPO / "data" / "README.md").read_text()


@pytest.mark.parametrize("path, ignored", [
    ("data/raw/mydata.csv", False),
    ("data/moons/full.npz", True),
    ("data/moons/split.npz", True),
    ("data/raw/full.npz", True),  # a dataset named "raw"
    ("results/summary.csv", True),
    ("results/moons/logistic_regression/plots/heatmap.png", True),
    ("mlflow.db", True),
])
def test_generated_files_stay_out_of_git(path, ignored):
    assert _ignored(path) == ignored


def _ignored(path: str) -> bool:
    # --no-index: decided by .gitignore alone, whether or not the path is tracked
    proc = subprocess.run(["git", "check-ignore", "--no-index", "-q", path], cwd=REPO)
    assert proc.returncode in (0, 1), f"git check-ignore failed on {path}"
    return proc.returncode == 0
