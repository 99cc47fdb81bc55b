"""The load and security suites have their own commands and stay out of the default suite."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_load_and_security_have_commands_and_are_left_out_of_the_default_suite():
    script = (ROOT / "run.sh").read_text()
    default = re.search(r'^DEFAULT_SUITE="([^"]+)"', script, re.M)
    assert default is not None
    assert "not load" in default[1] and "not security" in default[1]
    assert "load) setup; run_pytest -m load" in script
    assert "security) setup; run_pytest -m security" in script
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    markers = {m.split(":")[0] for m in pyproject["tool"]["pytest"]["ini_options"]["markers"]}
    assert {"load", "security"} <= markers
