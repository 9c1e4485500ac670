"""A job's code version: it follows the job's gdlab imports, ignores comments, and comes
from the digest cache exactly as from the sources."""

import ast
import hashlib
import json
import shutil

import pytest

from gdlab import codeversion as CV


@pytest.fixture
def package_copy(tmp_path, monkeypatch):
    pkg = tmp_path / "gdlab"
    shutil.copytree(CV.PACKAGE_DIR, pkg, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(CV, "PACKAGE_DIR", pkg)
    CV.code_version.cache_clear()
    yield pkg
    CV.code_version.cache_clear()


def test_code_version_follows_imports_and_ignores_comments(package_copy):
    # a train job's code: the training code and its model's module (imported lazily)
    job = ("gdlab.train", "gdlab.models.linear_regression")
    files = {p.relative_to(package_copy).as_posix() for p in CV.module_files(*job)}
    assert {"train.py", "models/training.py", "losses.py", "optimizers.py",
            "metrics/__init__.py", "metrics/checks.py", "metrics/regression.py",
            "metrics/binary.py", "metrics/multiclass.py", "data/core.py", "io.py",
            "runfiles.py", "models/linear_regression.py"} <= files
    # not the CSV reader, another model, or the summary
    assert not files & {"data/csv_file.py", "data/synthetic.py", "models/mlp.py",
                        "models/softmax_regression.py", "models/logistic_regression.py",
                        "summary.py"}
    train, summary = CV.code_version(*job), CV.code_version("gdlab.summary")

    losses = package_copy / "losses.py"
    losses.write_text(losses.read_text() + "\n# a comment changes nothing\n")
    CV.code_version.cache_clear()
    assert CV.code_version(*job) == train

    losses.write_text(losses.read_text().replace("0.5 * (z - y) ** 2", "0.5 * (y - z) ** 2"))
    CV.code_version.cache_clear()
    assert CV.code_version(*job) != train  # training code changed
    assert CV.code_version("gdlab.summary") == summary  # summary does not import losses


def _forget_parses():
    for cached in (CV.code_version, CV._parse, CV._digests):
        cached.cache_clear()


def test_code_versions_come_from_the_digest_cache_as_from_the_sources(package_copy,
                                                                      monkeypatch):
    job = ("gdlab.train", "gdlab.models.linear_regression")
    _forget_parses()
    version = CV.code_version(*job)
    # the definition: the files' names and syntax-tree dumps, hashed in order
    h = hashlib.sha256()
    for path in CV.module_files(*job):
        h.update(path.name.encode() + b"\0" + ast.dump(ast.parse(path.read_text())).encode()
                 + b"\0")
    assert version == h.hexdigest()[:16]
    cache = package_copy / "__pycache__" / "gdlab-source-digests.json"
    assert version in json.loads(cache.read_text()).values()

    # a new process (caches forgotten): the cache answers, no source is parsed
    _forget_parses()
    with monkeypatch.context() as m:
        m.setattr(CV.ast, "parse", lambda *a, **k: pytest.fail("a source was parsed"))
        assert CV.code_version(*job) == version

    # a damaged cache: parsed again, the same version, the cache made good
    cache.write_text("{not json")
    _forget_parses()
    assert CV.code_version(*job) == version
    assert version in json.loads(cache.read_text()).values()

    # an edit is parsed afresh, not read from an entry of the old source
    losses = package_copy / "losses.py"
    losses.write_text(losses.read_text().replace("0.5 * (z - y) ** 2", "0.5 * (y - z) ** 2"))
    _forget_parses()
    assert CV.code_version(*job) != version


def test_module_files_resolve_packages_and_their_submodules(package_copy):
    def files(module):
        return {p.relative_to(package_copy).as_posix() for p in CV.module_files(module)}

    assert "data/__init__.py" in files("gdlab.data")  # a package is its __init__
    assert "data/__init__.py" not in files("gdlab.data.core")  # a submodule is not
    (package_copy / "user.py").write_text("from gdlab.models import registry\n")
    assert {"models/__init__.py", "models/registry.py"} <= files("gdlab.user")
