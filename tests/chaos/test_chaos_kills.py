"""Chaos: SIGKILL and restart each service and the gateway under mixed traffic, on SQLite and
on PostgreSQL (plus a PostgreSQL crash-restart), then reconcile every store.

One platform per store; one phase per target process. In a phase the load runs while the
target is SIGKILLed at random moments and started again; then the load stops, the outboxes
drain, and the stores are reconciled against what callers were told. The figures are
cumulative, so a duplicate or a loss shows up in the phase that caused it and stays.
Run with `./run.sh chaos`; the table is printed (use -s to see it) and written to
var/chaos/<store>.md.
"""

from __future__ import annotations

import asyncio
import os
import random
import time
from pathlib import Path

import pytest
from chaos_platform import PROCESS_NAMES, Platform, build_platform, until
from chaos_postgres import ChaosCluster, available, create_cluster
from chaos_reconcile import Row, Stores, difference, events, mutations, summary, table_lines
from chaos_workload import Caller, Ledger, run_load

# Each run takes minutes on a loaded 2-core machine; the suite's 300 s default would cut it.
pytestmark = [pytest.mark.process, pytest.mark.chaos, pytest.mark.timeout(720)]

ROOT = Path(__file__).resolve().parents[2]
KILLS_PER_PHASE = int(os.environ.get("CHAOS_KILLS_PER_PHASE", "3"))
SEED = int(os.environ.get("CHAOS_SEED", str(int(time.time()))))
TARGETS = ("client", "risk", "notify", "feedback", "gateway")


async def _phase(platform: Platform, caller: Caller, target: str, rng: random.Random, *,
                 serial: int, cluster: ChaosCluster | None) -> tuple[int, int]:
    """Run load while killing `target` (or restarting PostgreSQL); return (kills, next serial)."""
    stop = asyncio.Event()
    load = asyncio.create_task(run_load(caller, stop, serial))
    kills = 0
    try:
        for _ in range(KILLS_PER_PHASE):
            await asyncio.sleep(rng.uniform(1.5, 4.0))
            if target == "postgres":
                assert cluster is not None
                await asyncio.to_thread(cluster.restart)
            else:
                platform.kill(target)
                await asyncio.sleep(rng.uniform(0.0, 1.0))
                platform.start(target)
                await platform.wait_serving(target)
            kills += 1
        await asyncio.sleep(rng.uniform(1.0, 2.0))
    finally:
        stop.set()
        next_serial = await load
    return kills, next_serial


async def _settle(platform: Platform, stores: Stores) -> None:
    """Wait until every process serves and every outbox row is delivered (twice in a row)."""
    for name in PROCESS_NAMES:
        await platform.wait_serving(name)
    quiet = 0

    async def drained() -> bool:
        nonlocal quiet
        quiet = quiet + 1 if await stores.undelivered() == 0 else 0
        return quiet >= 2

    await until(drained, timeout=120, what="outboxes drained and campaigns dispatched")


def _problems(rows: dict[str, Row]) -> list[str]:
    return [f"{k}: duplicated={r.duplicated} lost={r.lost}"
            for k, r in rows.items() if (r.duplicated or 0) or r.lost]


async def _run(folder: Path, store_urls: dict[str, str], title: str,
               cluster: ChaosCluster | None) -> list[str]:
    rng = random.Random(SEED)
    platform = build_platform(folder, store_urls)
    ledger = Ledger()
    stores = Stores(store_urls)
    caller: Caller | None = None
    phases: list[tuple[str, int, dict[str, Row]]] = []
    try:
        await platform.start_all()
        caller = Caller(platform, ledger)
        await caller.prepare()
        before: dict[str, Row] = {}
        serial = 1
        targets = TARGETS + (("postgres",) if cluster is not None else ())
        for target in targets:
            kills, serial = await _phase(platform, caller, target, rng, serial=serial,
                                         cluster=cluster)
            await _settle(platform, stores)
            per_batch = (ledger.warnings_per_batch.most_common(1) or [(1, 0)])[0][0]
            now = {**await mutations(stores, ledger, per_batch), **await events(stores)}
            phases.append((target, kills, difference(now, before)))
            before = now
            problems = _problems(now)
            assert not problems, f"after killing {target}: {problems}"
        assert not ledger.failed, ledger.failed
    finally:
        if caller is not None:
            await caller.close()
        platform.stop_all()
        await stores.dispose()
        folded = [(killed, kills, summary(rows)) for killed, kills, rows in phases]
        lines = table_lines(f"{title}: per event type", folded)
        lines += ["", *table_lines(f"{title}: per event type and consumer", phases)]
        lines += ["", f"Seed {SEED}; statuses answered before success (resent): "
                  + ", ".join(f"{k} ×{n}" for k, n in sorted(ledger.resent.items()))]
        print("\n" + "\n".join(lines))
    return lines


def _write(name: str, lines: list[str]) -> None:
    out = ROOT / "var" / "chaos"
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{name}.md").write_text("\n".join(lines) + "\n")


class TestChaos:
    async def test_kills_on_sqlite(self, tmp_path: Path) -> None:
        """Every process killed under load on SQLite: nothing lost, nothing applied twice."""
        urls = {name: f"sqlite+aiosqlite:///{tmp_path}/{name}.db" for name in PROCESS_NAMES}
        _write("sqlite", await _run(tmp_path / "platform", urls, "SQLite", None))

    async def test_kills_and_restart_on_postgres(self, tmp_path: Path) -> None:
        """The same on PostgreSQL (a private cluster), plus crash-restarts of the server."""
        if not available():
            pytest.skip("no PostgreSQL server binaries to make a private cluster")
        cluster = create_cluster()
        try:
            urls = {name: await cluster.create_database() for name in PROCESS_NAMES}
            _write("postgres", await _run(tmp_path / "platform", urls, "PostgreSQL", cluster))
        finally:
            cluster.stop()
