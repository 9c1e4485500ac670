"""The MLflow UI as a user meets it, in a real browser (Debian's Chromium), and a store that
stays sound while the UI is open: ``mlflow ui`` started by the test as README says, on
127.0.0.1, stopped by PID."""

from __future__ import annotations

import re
import sqlite3
import threading

import _services
import pytest
from conftest import Project, tiny_config
from test_mlflow_record import assert_sound

from gdlab.io import read_json

pytestmark = [pytest.mark.service, pytest.mark.mlflow, pytest.mark.workflow]

ENV = {"MLFLOW_DISABLE_TELEMETRY": "true"}
SWEEPS = ("line/linear_regression", "moons/logistic_regression")


def printed_urls(stdout: str, port: int) -> dict[str, str]:
    """The MLflow pages the end of a run printed (the overview, each sweep's parent),
    pointed at the test's UI."""
    urls = {}
    for line in stdout.splitlines():
        found = re.fullmatch(r"(.+?)\s+(http://127\.0\.0\.1:5000/\S+)", line.strip())
        if found:
            key = "overview" if found[1].startswith("every sweep") else found[1]
            urls[key] = found[2].replace(":5000", f":{port}")
    return urls


def test_the_printed_pages_show_every_sweep_its_curves_and_its_best_run(finished_project):
    """The run's last lines lead a user, in two clicks at most, to: every sweep on the
    first screen, their learning curves in the chart view, each sweep's parent with its
    description, the best run from the parent's link, and from the registered model."""
    with _services.mlflow_ui(finished_project.root) as url, _services.browser() as page:
        port = int(url.rsplit(":", 1)[1])
        urls = printed_urls(finished_project.first_run.stdout, port)
        overview = urls["overview"]
        assert "viewStateShareKey=gdlab-sweeps" in overview
        page.goto(overview)
        for sweep in SWEEPS:  # the parents, on the first screen, no "Load more"
            page.get_by_text(sweep, exact=True).first.wait_for(timeout=60_000)
        assert page.get_by_text("Model training").first.is_visible()
        page.goto(overview + "&compareRunsMode=CHART")
        page.get_by_text("curves/val_log_loss").first.wait_for(timeout=60_000)
        assert page.get_by_text("Learning curves (per epoch)").first.is_visible()

        for sweep in SWEEPS:
            dataset, model = sweep.split("/")
            record = read_json(finished_project.root / "results" / dataset / model /
                               "mlflow.json")
            page.goto(urls[sweep])  # the parent
            page.get_by_text("What scikit-learn's two lines give").first.wait_for(
                timeout=60_000)
            best = read_json(finished_project.root / "results" / dataset / model /
                             "best.json")
            link = page.locator(f"a[href*='{record['best_run_id']}']").first
            name = link.inner_text()
            with page.context.expect_page() as opened:  # the UI opens links in a new tab
                link.click()
            child = opened.value
            child.wait_for_load_state()
            assert record["best_run_id"] in child.url
            child.get_by_text(record["registered_model"]["name"]).first.wait_for(
                timeout=60_000)
            child.close()
            # and from the registered model's version to the run that trained it
            version = record["registered_model"]
            page.goto(f"{url}/#/models/{version['name']}/versions/{version['version']}")
            page.get_by_text(name).first.wait_for(timeout=60_000)
            assert best["run_name"] not in name  # its short name, not its directory


def _search_through(url: str) -> int:
    """What the UI's runs table asks the UI server for: every run of the experiments."""
    import json
    import urllib.request

    body = json.dumps({"experiment_ids": ["1"], "max_results": 1000}).encode()
    req = urllib.request.Request(f"{url}/ajax-api/2.0/mlflow/runs/search", data=body,
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as resp:
        return len(json.loads(resp.read()).get("runs", []))


def _ui_call(url: str, path: str, payload: dict) -> None:
    """A write the UI makes when a user deletes or renames a run."""
    import json
    import urllib.request

    req = urllib.request.Request(f"{url}/ajax-api/2.0/mlflow/{path}",
                                 data=json.dumps(payload).encode(),
                                 headers={"Content-Type": "application/json"})
    urllib.request.urlopen(req, timeout=30).close()


def test_the_store_stays_sound_while_the_ui_reads_and_writes(tmp_path):
    """With ``mlflow ui`` open: a run; a new grid value; runs deleted and renamed in the
    UI; two runs one after the other while the UI keeps reading; ``rm mlflow.db`` (its
    journal files with it, or left behind) and a run: a sound store every time, and after
    a restart the UI shows every run."""
    proj = Project(tmp_path / "project")
    proj.write_config(tiny_config())
    proj.snakemake("--cores", "2", env=ENV)
    ids = assert_sound(proj)
    with _services.mlflow_ui(proj.root) as url:
        assert _search_through(url) == 2 + sum(len(c) for c in ids.values())
        config = tiny_config()
        config["models"]["linear_regression"]["grid"]["lr"].append(0.2)
        proj.write_config(config)
        proj.snakemake("--cores", "2", env=ENV)
        ids = assert_sound(proj)

        # a user deletes one child and renames another in the UI
        victim, renamed = list(ids["moons/logistic_regression"].values())[:2]
        _ui_call(url, "runs/delete", {"run_id": victim})
        _ui_call(url, "runs/update", {"run_id": renamed, "run_name": "my favourite"})
        proj.snakemake("--cores", "2", env=ENV)
        after = assert_sound(proj)
        from mlflow import MlflowClient

        client = MlflowClient(f"sqlite:///{proj.root / 'mlflow.db'}")
        assert client.get_run(renamed).info.run_name == "my favourite"  # a user's name stays

        # two runs one after the other while the UI keeps reading
        errors, stop = [], threading.Event()

        def read():
            while not stop.is_set():
                try:
                    _search_through(url)
                except Exception as err:  # noqa: BLE001 - any failure is the finding
                    errors.append(err)

        reader = threading.Thread(target=read)
        reader.start()
        try:
            for _ in range(2):
                proj.snakemake("--cores", "2", "--forcerun", "track", env=ENV)
        finally:
            stop.set()
            reader.join()
        assert errors == [] and assert_sound(proj) == after

        # rm mlflow.db with the UI open (and its journal files, as `rm mlflow.db*` does)
        for path in proj.root.glob("mlflow.db*"):
            path.unlink()
        out = proj.snakemake("--cores", "2", env=ENV)
        assert "names an experiment the tracking store lacks" in out.stderr
        assert "if it shows the old runs, restart it" in \
            (proj.root / "logs/mlflow_setup.log").read_text()
        fresh = assert_sound(proj)
        con = sqlite3.connect(proj.root / "mlflow.db")
        assert con.execute("PRAGMA journal_mode").fetchone()[0] == "delete"  # MLflow's own
        con.close()
    with _services.mlflow_ui(proj.root) as url:  # restarted, as the run's log says to
        assert _search_through(url) == 2 + sum(len(c) for c in fresh.values())
