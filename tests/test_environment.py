"""requirements.lock, environment.yml and pyproject.toml describe the same environment."""

import re
import tomllib

import yaml
from conftest import REPO
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import Version

PROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]


def _pin(line: str) -> tuple[str, str, str]:
    """``name==version ; marker`` -> (normalised name, version, marker or "")."""
    m = re.fullmatch(r"([A-Za-z0-9_.-]+)==([^;\s]+)\s*(?:;\s*(.*))?", line.strip())
    assert m, f"not an exact pin: {line!r}"
    return canonicalize_name(m.group(1)), m.group(2), (m.group(3) or "").strip()


def _lock() -> list[tuple[str, str, str]]:
    text = (REPO / "requirements.lock").read_text()
    # uv's "# via" notes are comments or indented comment lines
    return [_pin(line) for line in text.splitlines() if line.strip() and line[0] not in " #"]


def _environment() -> dict:
    return yaml.safe_load((REPO / "environment.yml").read_text())


def test_environment_yml_pins_what_the_lock_pins():
    pip_section = next(d["pip"] for d in _environment()["dependencies"] if isinstance(d, dict))
    env, lock = sorted(map(_pin, pip_section)), sorted(_lock())
    assert env == lock, (
        f"only in environment.yml: {sorted(set(env) - set(lock))}; "
        f"only in requirements.lock: {sorted(set(lock) - set(env))}"
    )


def test_lock_pins_each_package_once_per_marker():
    keys = [(name, marker) for name, _, marker in _lock()]
    assert len(keys) == len(set(keys))


def test_pyproject_ranges_admit_the_locked_versions():
    requirements = [Requirement(s) for s in
                    PROJECT["dependencies"] + PROJECT["optional-dependencies"]["test"]]
    locked = {}
    for name, version, _ in _lock():
        locked.setdefault(name, []).append(version)
    for req in requirements:
        versions = locked.get(canonicalize_name(req.name))
        assert versions, f"{req.name} is not in requirements.lock"
        for version in versions:
            assert req.specifier.contains(version, prereleases=True), (
                f"requirements.lock has {req.name}=={version}, outside pyproject's {req}")


def test_environment_python_is_one_the_project_supports():
    python = next(d for d in _environment()["dependencies"]
                  if isinstance(d, str) and d.startswith("python="))
    assert SpecifierSet(PROJECT["requires-python"]).contains(python.removeprefix("python="))
    # README and .ci/run promise 3.11 to 3.13
    for version in ("3.11", "3.12", "3.13"):
        assert Version(version) in SpecifierSet(PROJECT["requires-python"])
