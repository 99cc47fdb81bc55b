"""Partitioned monitoring across risk replicas (docs/MONITORING.md, "Partitions"), as OS
processes on one PostgreSQL database: a replica SIGKILLed mid-stream and one joining change
nothing in what is found, and every posting is applied to the windows exactly once.

Run: ``./run.sh chaos tests/risk/test_risk_monitoring_partitions_chaos.py`` (about 2 min).
"""

from __future__ import annotations

import asyncio
import statistics
import time
from pathlib import Path

import pytest
from partition_support import (
    SERVICE,
    START_SECONDS,
    Sender,
    batches,
    findings,
    log_figures,
    migrate,
    owners,
    register_book,
    replica_env,
    start,
    stop_all,
)
from process_harness import ServiceProcess

from crm_runtime import testing
from crm_runtime.testing import IdentityKit, pii_env
from crm_sim.monitoring.world import generate

pytestmark = [pytest.mark.chaos, pytest.mark.postgres, pytest.mark.process,
              pytest.mark.timeout(900)]

PARTITIONS = 16
BATCH = 250
CLIENTS, SEED, DAYS = 60, 11, 45


async def _database() -> tuple[str, str]:
    if not await testing.postgres_available():
        pytest.skip("PostgreSQL not available")
    return await testing.create_postgres_database()


async def _takeover_seconds(url: str, dead: str, killed_at: float) -> float:
    """Return how long after the kill no partition is owned by the dead replica."""
    while True:
        if dead not in (await owners(url)).values():
            return time.monotonic() - killed_at
        await asyncio.sleep(0.1)


class TestReplicaKilledMidStream:
    async def test_same_warnings_as_one_replica_and_each_posting_applied_once(
        self, identity: IdentityKit, tmp_path: Path
    ):
        """A labelled book with injected misuse (60 firms, 45 days, a fifth in groups) goes
        once through one replica and once through three replicas on 16 partitions, batches
        spread round-robin. A fourth replica joins a third of the way through; at two
        thirds one replica is SIGKILLed while a batch is in flight to it (the batch is sent
        again to the next one). The set of warning signals is the same; the log's applied
        postings add up to the book exactly, nothing waits, and every partition's positions
        run 1..n without a gap or a repeat."""
        world = generate(n_clients=CLIENTS, seed=SEED, days=DAYS)
        keys = pii_env()
        solo_url, solo_db = await _database()
        multi_url, multi_db = await _database()
        replicas: list[ServiceProcess] = []
        try:
            solo_env = replica_env(identity, keys, solo_url, "solo", 1)
            migrate(solo_env)
            solo = start(solo_env, tmp_path / "solo.log")
            replicas.append(solo)
            await solo.wait_serving(SERVICE, START_SECONDS)
            names = await register_book(solo, world, identity)
            requests = batches(world, names, BATCH)
            sender = Sender(identity)
            sender.add(solo)
            started = time.monotonic()
            for turn, request in enumerate(requests):
                await sender.send(request, turn)
            solo_seconds = time.monotonic() - started
            solo_ms = statistics.median(ack.receipt_to_commit_ms for ack in sender.acks)
            await sender.close()
            expected = await findings(solo, names, identity)
            stop_all([solo])

            envs = [replica_env(identity, keys, multi_url, f"replica-{i}", PARTITIONS)
                    for i in range(4)]
            migrate(envs[0])
            group = [start(envs[i], tmp_path / f"replica-{i}.log") for i in range(3)]
            replicas += group
            for replica in group:
                await replica.wait_serving(SERVICE, START_SECONDS)
            names = await register_book(group[0], world, identity)
            requests = batches(world, names, BATCH)
            sender = Sender(identity)
            for replica in group:
                sender.add(replica)
            join_at, kill_at = len(requests) // 3, 2 * len(requests) // 3
            victim = group[1]
            takeover: asyncio.Task[float] | None = None

            def kill_in_flight(replica: ServiceProcess) -> None:
                nonlocal takeover
                if replica is victim and takeover is None:
                    victim.kill()
                    takeover = asyncio.ensure_future(
                        _takeover_seconds(multi_url, "replica-1", time.monotonic()))

            started = time.monotonic()
            joining = 0.0  # the newcomer's start, during which nothing is sent
            for turn, request in enumerate(requests):
                if turn == join_at:
                    join_started = time.monotonic()
                    newcomer = start(envs[3], tmp_path / "replica-3.log")
                    replicas.append(newcomer)
                    await newcomer.wait_serving(SERVICE, START_SECONDS)
                    sender.add(newcomer)
                    joining = time.monotonic() - join_started
                await sender.send(request, turn,
                                  kill_in_flight if turn >= kill_at else lambda _: None)
            multi_seconds = time.monotonic() - started - joining
            multi_ms = statistics.median(ack.receipt_to_commit_ms for ack in sender.acks)
            await sender.close()
            assert takeover is not None
            takeover_seconds = await takeover
            got = await findings(group[0], names, identity)
            figures = await log_figures(multi_url)
            owned = await owners(multi_url)
        finally:
            stop_all(replicas)
            await testing.drop_postgres_database(solo_db)
            await testing.drop_postgres_database(multi_db)

        postings = len(world.transactions)
        print(f"\n{postings} postings, {len(requests)} batches; one replica "
              f"{postings / solo_seconds:,.0f} postings/s; 3-4 replicas "
              f"{postings / multi_seconds:,.0f} postings/s in all, takeover wait included "
              f"(one acknowledged batch at a time; loaded machine); receipt to acknowledgement "
              f"p50 {solo_ms:.0f} ms alone, {multi_ms:.0f} ms across replicas; "
              f"resent {sender.resent}; "
              f"takeover {takeover_seconds:.1f} s after SIGKILL; warnings {len(expected)}; "
              f"log {figures}; partitions per owner "
              f"{ {m: list(owned.values()).count(m) for m in sorted(set(owned.values()))} }")
        assert sender.resent == 1
        assert len(expected) > 10  # the book's misuse was found at all
        assert got == expected
        assert figures["pending"] == 0
        assert figures["partitions_with_gaps"] == 0
        assert figures["accepted"] == postings
        assert set(owned.values()) == {"replica-0", "replica-2", "replica-3"}
