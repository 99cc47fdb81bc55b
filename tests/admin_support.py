"""Runs the operator CLI (`python -m crm_admin`) as a subprocess, as an operator would."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# Settings the parent test process may carry that must not leak into the operator's shell.
_SCRUBBED = ("DATABASE_URL", "PII_KEYRING", "PII_ACTIVE_KEY_ID", "PII_ENCRYPTION_KEY",
             "PII_INDEX_KEY", "API_KEYS_FILE", "AUDIT_CHAIN_KEY", "DEPLOYMENT_ENVIRONMENT")


def cli(
    *args: str, env: dict[str, str] | None = None, cwd: Path = ROOT
) -> subprocess.CompletedProcess[str]:
    """Run `python -m crm_admin <args>` with `env` added to a clean environment."""
    base = {k: v for k, v in os.environ.items() if k not in _SCRUBBED}
    return subprocess.run(
        [sys.executable, "-m", "crm_admin", *args], env={**base, **(env or {})}, cwd=cwd,
        capture_output=True, text=True, timeout=120, check=False,
    )
