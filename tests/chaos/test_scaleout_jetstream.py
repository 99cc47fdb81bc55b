"""Scale-out proof: three replicas of every service on PostgreSQL, events on JetStream, a
mixed workload through the gateway while replicas are SIGKILLed and the NATS server is
restarted. At the end, per event kind and consumer: every committed event applied exactly
once, none lost, one stream message per event. Run with `./run.sh scaleout`; the table is
printed (-s) and written to var/scaleout/jetstream.md.
"""

from __future__ import annotations

import asyncio
import os
import random
import time
from pathlib import Path

import pytest
from chaos_platform import SERVICES, Platform, until
from chaos_reconcile import Stores, mutations
from chaos_workload import Caller, Ledger, run_load
from scaleout_platform import (
    REPLICAS,
    STARTUP_SECONDS,
    build_scaleout,
    replica,
    start_scaleout,
)
from scaleout_reconcile import event_table, problems, table_lines

from crm_runtime.broker import EVENT_STREAM
from crm_runtime.config import BaseServiceSettings
from crm_runtime.jetstream import BrokerLink
from crm_runtime.jetstream_consumer import durable_name
from crm_runtime.testing import NatsServer, create_postgres_database, drop_postgres_database

pytestmark = [pytest.mark.process, pytest.mark.scaleout, pytest.mark.timeout(1200)]

ROOT = Path(__file__).resolve().parents[2]
SEED = int(os.environ.get("SCALEOUT_SEED", str(int(time.time()))))
# The disruptions, one after another under load: a replica of each service, and the broker.
DISRUPTIONS = ("client", "nats", "risk", "notify", "nats", "feedback", "client", "risk")


async def _disrupt(platform: Platform, nats: NatsServer, target: str,
                   rng: random.Random) -> str:
    """SIGKILL one replica of `target` and start it again (or restart the broker)."""
    if target == "nats":
        await asyncio.to_thread(nats.restart)
        return "nats-server restarted"
    name = replica(target, rng.randrange(REPLICAS))
    platform.kill(name)
    await asyncio.sleep(rng.uniform(0.2, 1.0))
    platform.start(name)
    await platform.wait_serving(name, timeout=STARTUP_SECONDS)
    return f"{name} SIGKILLed"


async def _settle(platform: Platform, stores: Stores, link: BrokerLink) -> None:
    """Wait until every process serves, every outbox row is published and every durable
    consumer has nothing pending or unacknowledged (twice in a row)."""
    for name in platform.processes:
        await platform.wait_serving(name, timeout=STARTUP_SECONDS)
    js = await link.jetstream()
    quiet = 0

    async def drained() -> bool:
        nonlocal quiet
        idle = await stores.undelivered() == 0
        for service in SERVICES:
            info = await js.consumer_info(EVENT_STREAM, durable_name(service))
            idle = idle and info.num_pending == 0 and info.num_ack_pending == 0
        quiet = quiet + 1 if idle else 0
        return quiet >= 2

    await until(drained, timeout=240, what="outboxes published and consumers caught up")


class TestScaleOut:
    async def test_replicas_and_broker_restarts_apply_each_event_once(
        self, tmp_path: Path
    ) -> None:
        """3 replicas per service on PostgreSQL, JetStream events, kills and broker restarts:
        committed = applied per kind and consumer, 0 applied twice, 0 lost, 1 message/event."""
        rng = random.Random(SEED)
        nats = NatsServer(tmp_path / "nats")
        nats.start()
        databases = {name: await create_postgres_database() for name in SERVICES}
        urls = {name: url for name, (url, _) in databases.items()}
        urls["gateway"] = f"sqlite+aiosqlite:///{tmp_path}/gateway.db"
        platform = build_scaleout(tmp_path / "platform", urls, nats.url)
        stores = Stores(urls)
        link = BrokerLink(BaseServiceSettings(service_name="scaleout-check", nats_url=nats.url))
        ledger = Ledger()
        caller: Caller | None = None
        done: list[str] = []
        lines: list[str] = []
        try:
            await start_scaleout(platform)
            caller = Caller(platform, ledger)
            await caller.prepare()
            stop = asyncio.Event()
            load = asyncio.create_task(run_load(caller, stop, 1))
            try:
                for target in DISRUPTIONS:
                    await asyncio.sleep(rng.uniform(1.5, 3.5))
                    done.append(await _disrupt(platform, nats, target, rng))
                await asyncio.sleep(2.0)
            finally:
                stop.set()
                await load
            await _settle(platform, stores, link)
            table = await event_table(stores, await link.jetstream())
            per_batch = (ledger.warnings_per_batch.most_common(1) or [(1, 0)])[0][0]
            calls = await mutations(stores, ledger, per_batch)
            lines = table_lines(f"JetStream, {REPLICAS} replicas per service, PostgreSQL", table)
            lines += ["", "Calls acknowledged / stored: " + ", ".join(
                f"{k} {r.acknowledged}/{r.stored}" for k, r in calls.items()),
                "", "Disruptions: " + "; ".join(done), f"Seed {SEED}."]
            assert not ledger.failed, ledger.failed
            assert not problems(table), problems(table)
            assert not [k for k, r in calls.items() if r.lost or r.duplicated], calls
            assert sum(r.committed for r in table.values()) > 0
        finally:
            if caller is not None:
                await caller.close()
            platform.stop_all()
            await stores.dispose()
            await link.close()
            nats.stop()
            for _, name in databases.values():
                await drop_postgres_database(name)
            print("\n" + "\n".join(lines))
            out = ROOT / "var" / "scaleout"
            out.mkdir(parents=True, exist_ok=True)
            (out / "jetstream.md").write_text("\n".join(lines) + "\n")
