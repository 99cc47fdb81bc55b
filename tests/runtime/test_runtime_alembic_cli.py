"""Alembic's own CLI works on every store: operators can ask which revision a store is at."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CONFIGS = sorted([*ROOT.glob("services/*/alembic.ini"), ROOT / "gateway" / "alembic.ini"])


def _alembic(config: Path, url: str, *args: str) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "alembic", "-c", str(config), *args],
        env={**os.environ, "DATABASE_URL": url}, capture_output=True, text=True, timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout.strip()


@pytest.mark.parametrize("config", CONFIGS, ids=lambda p: p.parent.name)
def test_upgrade_then_current_is_head(config: Path, tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path}/store.db"
    _alembic(config, url, "upgrade", "head")
    current = _alembic(config, url, "current")
    head = _alembic(config, url, "heads")
    assert current and current == head, (current, head)


def test_without_a_store_it_says_which_variable_to_set(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    result = subprocess.run(
        [sys.executable, "-m", "alembic", "-c", str(CONFIGS[0]), "current"],
        env=env, capture_output=True, text=True, timeout=120, check=False,
    )
    assert result.returncode != 0
    assert "DATABASE_URL" in result.stderr
