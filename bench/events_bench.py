"""Event delivery on JetStream vs the gRPC push transport, in one run, on PostgreSQL.

Per transport, the same layout: the producer (outbox + relay of the transport, built by
`build_transport` as the kit builds it) runs in this process on the load CPU, the consumer
(bench/events_consumer.py) in its own process pinned to the server CPU, each with its own
PostgreSQL database; JetStream is a private nats-server (file storage) on a free port.

- burst: BURST events committed in transactions of BATCH as fast as one writer can; events/s
  from the first commit to the last event applied at the consumer.
- paced: PACED events at half the burst rate of the same transport; end-to-end latency from
  the producer's commit to the consumer's inbox row (its received_time), p50 and p99.

The consumer process is not pinned: on the shared machine CPU 0, where the other benchmarks
pin their servers, was so contended that both transports measured the queue, not delivery.

Wall-clock figures: on a shared machine they are "loaded"; compare the two transports within
one run, not across runs.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine
from sqlmodel import SQLModel

from bench.tools import LOAD_CPU, ROOT, percentile, wait_ready
from crm.events.v1 import client_events_pb2
from crm_runtime.config import BaseServiceSettings
from crm_runtime.db import Database
from crm_runtime.event_transport import Transport, build_transport
from crm_runtime.tables import OutboxMessage
from crm_runtime.testing import (
    IdentityKit,
    create_postgres_database,
    drop_postgres_database,
    free_port,
    start_nats_server,
)

TRANSPORTS = ("grpc", "nats")
BURST = int(os.environ.get("EVENTS_BENCH_BURST", "1000"))
BATCH = 50
PACED = int(os.environ.get("EVENTS_BENCH_PACED", "200"))
# Paced at half the rate the transport sustained in its burst (at least PACE_MS apart): a
# latency measured above capacity would be the queue's growth, not the transport.
PACE_MS = 10.0
PACE_LOAD = 0.5
RELAY_INTERVAL = 0.2  # The services' default.
# Events per relay pass (both relays; the default is 200). On the shared machine a gRPC push of
# 200 events to a consumer applying each in its own PostgreSQL transaction overran the relay's
# 5 s deadline again and again (the call is cancelled, the batch resent): 50 keeps each call
# well inside it, and the same figure is used for JetStream so the two compare.
RELAY_BATCH = 50


async def _emit(database: Database, transport: Transport, count: int,
                commits: dict[str, float]) -> None:
    async with database.write() as session:
        ids = [transport.outbox.emit(session, client_events_pb2.ClientCreated(
            client=f"clients/{len(commits) + i}"), subject=f"clients/{len(commits) + i}")
            for i in range(count)]
    now = time.time()
    commits.update(dict.fromkeys(ids, now))


async def _applied(consumer_url: str) -> dict[str, float]:
    engine = create_async_engine(consumer_url)
    try:
        async with engine.connect() as conn:
            rows = (await conn.execute(text(
                "SELECT event_id, received_time FROM inbox_message"))).all()
    finally:
        await engine.dispose()
    return {str(e): t.timestamp() for e, t in rows if isinstance(t, datetime)}


async def _wait_applied(consumer_url: str, expected: int, timeout: float = 900) -> None:
    engine = create_async_engine(consumer_url)
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            async with engine.connect() as conn:
                count = (await conn.execute(text("SELECT count(*) FROM inbox_message"))).scalar()
            if int(count or 0) >= expected:
                return
            await asyncio.sleep(0.05)
    finally:
        await engine.dispose()
    raise TimeoutError(f"{expected} events not applied within {timeout} s")


def _latencies(commits: dict[str, float], applied: dict[str, float]) -> list[float]:
    return [(applied[e] - c) * 1000 for e, c in commits.items() if e in applied]


async def _measure(name: str, tmp: Path, identity: IdentityKit, nats_url: str) -> dict[str, Any]:
    producer_url, producer_db = await create_postgres_database()
    consumer_url, consumer_db = await create_postgres_database()
    port = free_port()
    with (tmp / f"consumer-{name}.log").open("ab") as log:
        consumer = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bench.events_consumer", cwd=ROOT,
            stdout=log, stderr=subprocess.STDOUT, env={
                **os.environ, "DATABASE_URL": consumer_url, "GRPC_PORT": str(port),
                "EVENT_TRANSPORT": name, "NATS_URL": nats_url, "LOG_LEVEL": "warning",
                "IDENTITY_TRUSTED_KEYS_DIR": str(identity.directory),
            })
    database = Database(producer_url)
    try:
        await wait_ready(f"127.0.0.1:{port}", "crm.events.v1.EventSinkService")
        async with database.write_engine.begin() as conn:
            await conn.run_sync(SQLModel.metadata.create_all,
                                tables=[SQLModel.metadata.tables[OutboxMessage.__tablename__]])
        settings = BaseServiceSettings(
            service_name="bench-producer", event_transport=name, nats_url=nats_url,
            event_subscribers=f"bench-consumer=127.0.0.1:{port}",
            relay_interval_seconds=RELAY_INTERVAL, relay_batch_size=RELAY_BATCH,
        )
        transport = build_transport("bench-producer", settings, database,
                                    identity.signers["client"])
        relay = asyncio.create_task(transport.relay.run())
        burst: dict[str, float] = {}
        started = time.time()
        for _ in range(BURST // BATCH):
            await _emit(database, transport, BATCH, burst)
        await _wait_applied(consumer_url, len(burst))
        applied = await _applied(consumer_url)
        burst_seconds = max(applied[e] for e in burst) - started
        paced: dict[str, float] = {}
        pace_s = max(PACE_MS / 1000, 1 / (PACE_LOAD * len(burst) / burst_seconds))
        for _ in range(PACED):
            await _emit(database, transport, 1, paced)
            await asyncio.sleep(pace_s)
        await _wait_applied(consumer_url, len(burst) + len(paced))
        latencies = _latencies(paced, await _applied(consumer_url))
        await transport.stop()
        await relay
        return {
            "burst_events": len(burst),
            "burst_events_per_s": round(len(burst) / burst_seconds, 1),
            "burst_p99_ms": round(percentile(_latencies(burst, applied), 99), 1),
            "paced_events": len(latencies),
            "paced_per_s": round(1 / pace_s, 1),
            "paced_p50_ms": round(percentile(latencies, 50), 1),
            "paced_p99_ms": round(percentile(latencies, 99), 1),
            "paced_max_ms": round(max(latencies), 1),
        }
    finally:
        consumer.terminate()
        await asyncio.wait_for(consumer.wait(), 30)
        await database.dispose()
        await drop_postgres_database(producer_db)
        await drop_postgres_database(consumer_db)


async def run() -> dict[str, Any]:
    """Measure both transports, one after the other, in this run."""
    os.sched_setaffinity(0, {LOAD_CPU})
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        identity = IdentityKit.create(tmp / "identity")
        nats = start_nats_server(tmp / "nats")
        try:
            results = {name: await _measure(name, tmp, identity, nats.url)
                       for name in TRANSPORTS}
        finally:
            nats.stop()
    results["settings"] = {"burst": BURST, "batch": BATCH, "paced": PACED,
                           "pace_ms": PACE_MS, "relay_interval_s": RELAY_INTERVAL,
                           "relay_batch": RELAY_BATCH,
                           "store": "PostgreSQL",
                           "load_average": [round(x, 2) for x in os.getloadavg()]}
    return results


def write_results(results: dict[str, Any]) -> Path:
    """Write bench/results/events.json and .md; return the Markdown path."""
    folder = ROOT / "bench" / "results"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "events.json").write_text(json.dumps(results, indent=2) + "\n")
    lines = ["| transport | burst events/s | paced events/s | paced p50 ms | paced p99 ms "
             "| paced max ms |", "|---|---:|---:|---:|---:|---:|"]
    for name in TRANSPORTS:
        r = results[name]
        lines.append(f"| {name} | {r['burst_events_per_s']} | {r['paced_per_s']} "
                     f"| {r['paced_p50_ms']} | {r['paced_p99_ms']} | {r['paced_max_ms']} |")
    s = results["settings"]
    lines.append(f"\n{s['burst']} events in transactions of {s['batch']} (burst), then "
                 f"{s['paced']} events one at a time at half the burst rate (paced), on "
                 f"{s['store']}; relay interval {s['relay_interval_s']} s, batch "
                 f"{s['relay_batch']}; load average {s['load_average']} when it ended.")
    path = folder / "events.md"
    path.write_text("\n".join(lines) + "\n")
    return path


if __name__ == "__main__":
    print(write_results(asyncio.run(run())).read_text())
