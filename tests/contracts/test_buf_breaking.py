"""tools/buf_breaking.py on a throwaway git repository holding this repository's protos.

A field renamed on a branch fails against main; a field added passes; a single-commit main
is skipped, saying so. On main, a breaking last commit fails against the previous one (marker
"contracts", `./run.sh contracts`, to keep the default suite short).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CLIENT_PROTO = Path("protos/crm/client/v1/client.proto")
FIELD = "  string display_name = 2 [(google.api.field_behavior) = REQUIRED];"
_GIT_ENV = {
    "GIT_AUTHOR_NAME": "t",
    "GIT_AUTHOR_EMAIL": "t@example.invalid",
    "GIT_COMMITTER_NAME": "t",
    "GIT_COMMITTER_EMAIL": "t@example.invalid",
}


def _git(repo: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-C", str(repo), *args],
        check=True,
        capture_output=True,
        env={**os.environ, **_GIT_ENV},
    )


def _check(repo: Path) -> tuple[int, str]:
    done = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "buf_breaking.py"), "--repo", str(repo)],
        check=False,
        capture_output=True,
        text=True,
        timeout=120,
    )
    return done.returncode, done.stdout + done.stderr


def _edit(repo: Path, old: str, new: str) -> None:
    path = repo / CLIENT_PROTO
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A git repository whose main has one commit: buf.yaml and the client service's protos as
    they are here (one service keeps each buf run short)."""
    shutil.copytree(ROOT / "protos/crm/client", tmp_path / "protos/crm/client")
    shutil.copy2(ROOT / "buf.yaml", tmp_path / "buf.yaml")
    shutil.copytree(ROOT / "gen" / "third_party", tmp_path / "gen" / "third_party")
    (tmp_path / ".gitignore").write_text("gen/\n")
    _git(tmp_path, "init", "-q", "-b", "main")
    _git(tmp_path, "add", "-A")
    _git(tmp_path, "commit", "-q", "-m", "protos")
    return tmp_path


def test_branch_rename_fails_and_added_field_passes(repo: Path) -> None:
    status, output = _check(repo)
    assert status == 0 and "skipped" in output and "only commit" in output, output

    _git(repo, "checkout", "-q", "-b", "feature")
    _edit(repo, FIELD, FIELD.replace("display_name", "legal_name"))
    status, output = _check(repo)
    assert status != 0, output
    assert "display_name" in output and "legal_name" in output, output

    _edit(repo, FIELD.replace("display_name", "legal_name"), FIELD)
    _edit(repo, FIELD, FIELD + "\n  // Added field: compatible.\n  string nickname = 90;")
    _git(repo, "commit", "-q", "-am", "add a field")
    status, output = _check(repo)
    assert status == 0 and "where this branch left main" in output, output


@pytest.mark.contracts
def test_breaking_last_commit_on_main_fails(repo: Path) -> None:
    _edit(repo, FIELD, FIELD.replace("= 2", "= 91"))
    _git(repo, "commit", "-q", "-am", "renumber a field")
    status, output = _check(repo)
    assert status != 0 and "previous commit" in output, output
