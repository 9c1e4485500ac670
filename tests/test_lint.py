"""The workflow stays as the Snakemake catalog expects it: snakefmt-formatted, lint-free."""

import shutil
import subprocess
import sys

import pytest
from conftest import REPO, Project


def test_rules_are_snakefmt_formatted():
    # REPO holds the settings ([tool.snakefmt] in pyproject.toml) and the .gitignore
    proc = subprocess.run([sys.executable, "-m", "snakefmt", "--check", "--diff", "."],
                          cwd=REPO, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, f"run `snakefmt .`:\n{proc.stdout[-3000:]}{proc.stderr[-3000:]}"


@pytest.mark.workflow
def test_snakemake_lint_finds_nothing(tmp_path):
    # in a copy, so that linting leaves no .snakemake/ in the checkout
    project = Project(tmp_path / "project")
    shutil.copy2(REPO / "config" / "config.yaml", project.root / "config" / "config.yaml")
    proc = project.snakemake("--lint", check=False)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "Congratulations" in proc.stdout + proc.stderr
