"""Run the benchmarks: `python -m bench [name ...]` (or `./run.sh bench`).

Each benchmark module has `run()` (a coroutine returning its results) and `write_results()`
(which writes bench/results/<name>.json and .md and returns the .md path). Benchmarks run one
after another, so that each has the machine to itself.
"""

from __future__ import annotations

import asyncio
import importlib
import sys

BENCHMARKS = (
    "client", "risk", "notify", "gateway", "gateway_limits", "risk_scale", "capacity",
    "alert_latency", "events", "callcost", "memory",
)


def main(argv: list[str]) -> int:
    """Run the named benchmarks (all by default) and print their result tables."""
    names = argv or list(BENCHMARKS)
    for name in names:
        try:
            module = importlib.import_module(f"bench.{name}_bench")
        except ModuleNotFoundError:
            print(f"## {name}: no benchmark yet")
            continue
        print(f"## {name}")
        results = asyncio.run(module.run())
        print(module.write_results(results).read_text())
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
