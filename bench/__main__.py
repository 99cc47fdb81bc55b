"""Run every benchmark: `python -m bench` (or `./run.sh bench`)."""

from __future__ import annotations

import asyncio

from bench import client_bench

if __name__ == "__main__":
    results = asyncio.run(client_bench.run())
    print(client_bench.write_results(results).read_text())
