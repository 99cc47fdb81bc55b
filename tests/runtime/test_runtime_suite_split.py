"""The default suite leaves the soak and kill runs to their own commands (issue 11, defect 13)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SOAK = "tests/notify/test_notify_service_headline.py"
KILLS = "tests/runtime/test_outbox_kill.py"
CHAOS = "tests/chaos/test_chaos_kills.py"


def _collected(marker: str) -> list[str]:
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider",
         "-m", marker, SOAK, KILLS, CHAOS],
        cwd=ROOT, capture_output=True, text=True, timeout=120, check=False,
    )
    assert result.returncode in (0, 5), result.stdout + result.stderr
    return [line for line in result.stdout.splitlines() if "::" in line]


def test_default_selection_leaves_out_the_soak_and_the_kill_runs():
    default = _collected("not soak and not chaos and not fuzz and not metrics")
    assert not any(SOAK in test for test in default)
    assert any("test_events_delivered_after_sigkill_and_restart" in t for t in default)
    assert not any("test_kills_during_delivery" in test for test in default)
    assert not any(CHAOS in test for test in default)


def test_soak_and_chaos_have_their_own_commands():
    assert any(SOAK in test for test in _collected("soak"))
    chaos = _collected("chaos")
    assert any("test_kills_during_delivery" in test for test in chaos)
    assert any("test_kills_on_sqlite" in test for test in chaos)
    assert any("test_kills_and_restart_on_postgres" in test for test in chaos)
    script = (ROOT / "run.sh").read_text()
    assert re.search(r'^  soak\) setup; ensure_postgres;[^\n]* run_pytest -m soak', script, re.M)
    assert re.search(r'^  chaos\) setup; ensure_postgres;[^\n]* run_pytest -m chaos', script, re.M)
    default = re.search(r'^DEFAULT_SUITE="([^"]+)"', script, flags=re.M)
    assert default is not None
    for suite in ("soak", "chaos", "fuzz"):
        assert f"not {suite}" in default.group(1)
    assert "keys) setup; ensure_postgres; run_pytest -m keys" in script
    assert "fuzz) setup; run_pytest -m fuzz" in script
    assert "metrics) setup; run_pytest -m metrics" in script
    assert '"$status" -eq 5' in script  # "No tests ran" fails the command.
