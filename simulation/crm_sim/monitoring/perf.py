"""Throughput of the pure monitoring engine with every rule and fund tracing on.

Run: ``python -m crm_sim.monitoring.perf [--clients 400] [--seed 7] [--repeats 3]``.
The stream is generated once (not timed); each repeat runs a fresh engine over it and reports
transactions per second of wall time and of process CPU time. The CPU figure is the one to
compare on shared machines, where other processes steal wall time. Median of the repeats.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass

from crm_risk.monitoring.engine.core import MonitoringEngine
from crm_risk.monitoring.engine.ruleset import load_ruleset
from crm_sim.monitoring.world import World, generate


@dataclass(frozen=True)
class Run:
    """One timed pass of the engine over the stream."""

    transactions: int
    alerts: int
    wall_seconds: float
    cpu_seconds: float

    @property
    def wall_rate(self) -> float:
        """Return transactions per wall-clock second."""
        return self.transactions / self.wall_seconds

    @property
    def cpu_rate(self) -> float:
        """Return transactions per CPU second of this process."""
        return self.transactions / self.cpu_seconds


def timed_run(data: World) -> Run:
    """Process ``data`` once with a fresh engine and every rule of the default ruleset."""
    ruleset = load_ruleset()
    engine = MonitoringEngine(ruleset, clients=data.clients, facilities=data.facilities)
    wall, cpu = time.perf_counter(), time.process_time()
    alerts = engine.process_batch(data.transactions)
    return Run(
        transactions=len(data.transactions),
        alerts=len(alerts),
        wall_seconds=time.perf_counter() - wall,
        cpu_seconds=time.process_time() - cpu,
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Generate a stream, time the engine over it and print transactions per second."""
    parser = argparse.ArgumentParser(
        prog="python -m crm_sim.monitoring.perf", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--clients", type=int, default=400)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    started = time.perf_counter()
    data = generate(n_clients=args.clients, seed=args.seed)
    out = sys.stdout
    out.write(
        f"stream: {len(data.transactions):,} transactions, {args.clients} clients "
        f"(generated in {time.perf_counter() - started:.1f} s)\n"
    )
    runs = []
    for index in range(max(1, args.repeats)):
        run = timed_run(data)
        runs.append(run)
        out.write(
            f"run {index + 1}: {run.wall_rate:,.0f} tx/s wall, {run.cpu_rate:,.0f} tx/s cpu, "
            f"{run.alerts} alerts\n"
        )
    out.write(
        f"median: {statistics.median(r.wall_rate for r in runs):,.0f} tx/s wall, "
        f"{statistics.median(r.cpu_rate for r in runs):,.0f} tx/s cpu\n"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
