"""Run a service module under a profiler that the benchmark switches on and off by signal.

`python -m bench.profiled crm_client` runs `crm_client` as `python -m crm_client` would.
SIGUSR1 starts a cProfile session timed by process CPU time (so other work on a shared
machine does not inflate it); SIGUSR2 stops it and writes the stats to $PROFILE_OUT. Startup
and seeding stay outside the profile: only the calls the benchmark drives in between count.
"""

from __future__ import annotations

import cProfile
import os
import runpy
import signal
import sys
import time
from pathlib import Path
from types import FrameType

_profile = cProfile.Profile(time.process_time)


def _start(_signum: int, _frame: FrameType | None) -> None:
    _profile.enable()


def _stop(_signum: int, _frame: FrameType | None) -> None:
    _profile.disable()
    target = Path(os.environ["PROFILE_OUT"])
    _profile.dump_stats(target.with_suffix(".part"))
    target.with_suffix(".part").replace(target)  # the benchmark reads it once it exists
    _profile.clear()


def main(module: str) -> None:
    """Install the signal switches and run `module` as __main__."""
    signal.signal(signal.SIGUSR1, _start)
    signal.signal(signal.SIGUSR2, _stop)
    runpy.run_module(module, run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main(sys.argv[1])
