"""Demo step: core banking streams transactions to risk; misuse is found and flows on.

The labelled book of ``crm_sim.monitoring`` (firms living an ordinary, messy life, a third of
them misusing a loan in hard variants) is given the ids of real demo clients (those the client
service just created and told risk about), registered through the public API and streamed over
MonitorTransactions. The warnings risk stores are read back and scored against the book's
ground truth; orange and red ones reach the client service's potential-risk segment and the
RMs' inboxes in notify.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from functools import partial

import grpc

from crm.client.v1 import client_service_pb2, client_service_pb2_grpc
from crm.risk.v1 import risk_service_pb2, risk_service_pb2_grpc
from crm_demo.launcher import Service
from crm_demo.loader import LoadResult
from crm_demo.portfolio import PortfolioClient
from crm_demo.progress import bar
from crm_demo.risk_ready import once_known
from crm_runtime.auth import Role
from crm_runtime.testing import IdentityKit
from crm_sim.monitoring.evaluate import format_report, score
from crm_sim.monitoring.registration import (
    Metadata,
    bounded,
    profile_of,
    register_facilities,
)
from crm_sim.monitoring.relabel import relabel
from crm_sim.monitoring.service import format_stats, read_alerts, stream_all
from crm_sim.monitoring.world import World, generate

MONITORED_CLIENTS = 200
BOOK_SEED = 11  # a tuning seed of the generator; the held-out one is kept for reports
BOOK_DAYS = 90


async def _register(
    stub: risk_service_pb2_grpc.RiskServiceStub, world: World, system: Metadata
) -> dict[str, str]:
    """Give risk each client's monitoring profile and facilities; return facility names."""
    await bounded([
        partial(once_known, partial(
            stub.UpdateMonitoringProfile,
            risk_service_pb2.UpdateMonitoringProfileRequest(profile=profile_of(context)),
            metadata=system,
        ))
        for context in world.clients.values()
    ])
    return await register_facilities(stub, world.facilities.values(), system=system)


async def run(
    risk: Service,
    client: Service,
    identity: IdentityKit,
    portfolio: Sequence[PortfolioClient],
    loaded: LoadResult,
    *,
    clients: int = MONITORED_CLIENTS,
) -> dict[str, object]:
    """Stream a quarter of labelled transactions and print what the platform found."""
    count = min(clients, len(portfolio))
    world = generate(n_clients=count, seed=BOOK_SEED, days=BOOK_DAYS)
    real = [loaded.names[p.index].removeprefix("clients/") for p in portfolio]
    world = relabel(world, dict(zip(sorted(world.clients), real, strict=False)))
    system = identity.metadata("systems/core-banking", Role.SYSTEM)
    officer = identity.metadata("staff/risk-officer-demo", Role.RISK_OFFICER)
    async with grpc.aio.insecure_channel(risk.address) as channel:
        stub = risk_service_pb2_grpc.RiskServiceStub(channel)
        with bar(f"monitoring: registering {count} clients' facilities", None):
            names = await _register(stub, world, system)
        with bar(f"monitoring: streaming {len(world.transactions):,} postings", None):
            stats = await stream_all(stub, world.transactions, names, batch_size=500,
                                     system=system)
        alerts = await read_alerts(stub, names, officer)
    evaluation = score(world, alerts, stats.seconds)
    print(
        f"\nReal-time monitoring: {len(world.clients)} clients, {len(world.facilities)} "
        f"facilities, {len(world.transactions):,} postings over {BOOK_DAYS} days; "
        f"{len(world.labels)} misuse instances injected in hard variants."
    )
    report = format_report(evaluation).replace("s CPU", "s streaming")
    print("  " + report.replace("\n", "\n  "))
    print("  " + format_stats(stats))
    flagged = await _potential_risk(client, identity)
    print(
        f"  WarningRaised events reached the client service: {flagged} clients are now in "
        "the potential-risk segment (orange and red warnings)."
    )
    return {
        "transactions": len(world.transactions),
        "alerts": len(alerts),
        "recall_by_pattern": {p.pattern: round(p.recall, 3) for p in evaluation.patterns},
        "patterns": [
            {"pattern": p.pattern, "injected": p.injected, "detected": p.detected,
             "recall": round(p.recall, 3),
             "precision": None if p.precision is None else round(p.precision, 3)}
            for p in evaluation.patterns
        ],
        "clean_warned_share": round(evaluation.rate("any"), 4),
        "meets_goals": evaluation.meets_goals(),
        "potential_risk_clients": flagged,
    }


async def _potential_risk(client: Service, identity: IdentityKit) -> int:
    """Return the size of the potential-risk segment once the events have settled."""
    ops = identity.metadata("staff/ops-demo", Role.OPS)
    last, stable = -1, 0
    async with grpc.aio.insecure_channel(client.address) as channel:
        stub = client_service_pb2_grpc.ClientServiceStub(channel)
        for _ in range(60):
            reply = await stub.GetSegment(
                client_service_pb2.GetSegmentRequest(name="segments/beh-potential-risk"),
                metadata=ops,
            )
            stable = stable + 1 if reply.member_count == last else 0
            last = reply.member_count
            if stable >= 3:
                break
            await asyncio.sleep(0.5)
    return last
