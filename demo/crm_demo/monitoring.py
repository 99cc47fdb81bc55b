"""Demo step: core banking streams transactions to risk; misuse is found and flows on.

The labelled generator of the risk service makes transaction streams with injected misuse
patterns whose truth is known; here its synthetic clients become real demo clients (those the
client service just created and told risk about), so warnings reach the client service's
potential-risk segment and the RMs' inboxes in notify.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Sequence
from functools import partial

import grpc

from crm.client.v1 import client_service_pb2, client_service_pb2_grpc
from crm.risk.v1 import risk_service_pb2, risk_service_pb2_grpc
from crm_demo.launcher import Service
from crm_demo.loader import LoadResult
from crm_demo.portfolio import PortfolioClient
from crm_demo.risk_ready import once_known
from crm_risk.evaluate_service import format_stats, read_alerts, score, stream_all
from crm_risk.monitoring.evaluate import format_report
from crm_risk.monitoring.synthetic import SyntheticData, generate_stream
from crm_risk.synthetic_registration import facility_of, profile_of
from crm_runtime.auth import Role
from crm_runtime.testing import IdentityKit

MONITORED_CLIENTS = 200


def _remap(data: SyntheticData, ids: dict[str, str]) -> SyntheticData:
    """Return the stream with synthetic client ids replaced by real ones."""
    return dataclasses.replace(
        data,
        clients={ids[k]: dataclasses.replace(v, client_id=ids[k]) for k, v in data.clients.items()},
        facilities={
            k: dataclasses.replace(v, client_id=ids[v.client_id])
            for k, v in data.facilities.items()
        },
        transactions=[
            dataclasses.replace(t, client_id=ids[t.client_id]) for t in data.transactions
        ],
        labels=[dataclasses.replace(x, client_id=ids[x.client_id]) for x in data.labels],
        clean_client_ids=frozenset(ids[c] for c in data.clean_client_ids),
    )


async def _register(
    stub: risk_service_pb2_grpc.RiskServiceStub,
    data: SyntheticData,
    system: tuple[tuple[str, str], ...],
) -> dict[str, str]:
    """Give risk each client's monitoring profile and facilities; return facility names."""
    for context in data.clients.values():
        await once_known(
            partial(
                stub.UpdateMonitoringProfile,
                risk_service_pb2.UpdateMonitoringProfileRequest(profile=profile_of(context)),
                metadata=system,
            )
        )
    names: dict[str, str] = {}
    calls = [
        (
            fid,
            partial(
                stub.CreateFacility,
                risk_service_pb2.CreateFacilityRequest(
                    parent=f"clients/{f.client_id}", facility=facility_of(f)
                ),
                metadata=system,
            ),
        )
        for fid, f in sorted(data.facilities.items())
    ]
    for fid, call in calls:
        names[fid] = (await call()).name
    return names


async def run(
    risk: Service,
    client: Service,
    identity: IdentityKit,
    portfolio: Sequence[PortfolioClient],
    loaded: LoadResult,
) -> dict[str, object]:
    """Stream two months of labelled transactions and print what the platform found."""
    data = generate_stream(n_clients=MONITORED_CLIENTS, seed=11, days=60)
    real = [loaded.names[p.index].removeprefix("clients/") for p in portfolio]
    data = _remap(data, dict(zip(sorted(data.clients), real, strict=False)))
    system = identity.metadata("systems/core-banking", Role.SYSTEM)
    officer = identity.metadata("staff/risk-officer-demo", Role.RISK_OFFICER)
    async with grpc.aio.insecure_channel(risk.address) as channel:
        stub = risk_service_pb2_grpc.RiskServiceStub(channel)
        names = await _register(stub, data, system)
        stats = await stream_all(stub, data, names, batch_size=250, system=system)
        alerts = await read_alerts(stub, names, officer)
    evaluation = score(data, alerts, stats.seconds)
    print(
        f"\nReal-time monitoring: {len(data.clients)} clients, {len(data.facilities)} "
        f"facilities, {len(data.transactions):,} transactions with injected misuse."
    )
    print(
        "  " + format_report(evaluation).replace("engine: ", "streamed in ").replace("\n", "\n  ")
    )
    print("  " + format_stats(stats))
    flagged = await _potential_risk(client, identity)
    print(
        f"  WarningRaised events reached the client service: {flagged} clients are now in "
        "the potential-risk segment (orange and red warnings)."
    )
    return {
        "transactions": len(data.transactions),
        "alerts": len(alerts),
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
