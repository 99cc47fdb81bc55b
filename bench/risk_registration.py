"""Registration cost of a large book: 100,000 facilities through BatchCreateFacilities.

The clients are told to the service first (ClientCreated events through its inbox, as the
client service's relay delivers them; timed separately), then the facilities are registered
in batches of ``BATCH`` with two calls in flight. What is timed is the facilities alone: the
goal is that registering one costs O(1) in the size of the book, so 100,000 take < 60 s.
The time of the last tenth of the batches against the first tenth shows whether the cost
grows with the book.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import grpc

from crm.events.v1 import event_pb2, event_pb2_grpc
from crm.risk.v1 import risk_service_pb2, risk_service_pb2_grpc
from crm_risk.monitoring.engine.model import ClientContext, FacilityContext
from crm_runtime.auth import Role
from crm_runtime.testing import IdentityKit
from crm_sim.monitoring.registration import client_created, facility_of

FACILITIES = 100_000
PER_CLIENT = 2
BATCH = 1000
IN_FLIGHT = 2
GOAL_SECONDS = 60.0
# A book spread as a city bank's is: no industry or region near its concentration limit
# merely because the benchmark put every client in one place.
INDUSTRIES = ("C1311", "C2614", "C3411", "C3670", "C3824", "C3911", "F5176", "F5264",
              "G5430", "E4813", "I6513", "M7320", "L7211", "A0111", "D4411", "N7721")
REGIONS = ("110000", "310000", "320500", "330100", "440300", "440100", "510100", "420100",
           "370200", "350200", "500000", "610100")


def _facility(n: int, per_client: int = PER_CLIENT) -> FacilityContext:
    client = f"b{n // per_client:06d}"
    return FacilityContext(
        facility_id=f"{client}-F{n % per_client}", client_id=client,
        facility_type="working_capital", amount=1_000_000.0 + 1_000 * (n % 500),
        purpose_category="operating_turnover", drawdown_account=f"62{n:012d}",
        loan_account=f"70{n:012d}", declared_purpose="流动资金周转",
    )


async def _deliver_clients(sink: event_pb2_grpc.EventSinkServiceStub, clients: int,
                           relay: Any) -> float:
    started = time.perf_counter()
    for start in range(0, clients, 500):
        events = [client_created(ClientContext(client_id=f"b{n:06d}"),
                                 industry=INDUSTRIES[n % len(INDUSTRIES)],
                                 region=REGIONS[n % len(REGIONS)])
                  for n in range(start, min(clients, start + 500))]
        await sink.DeliverEvents(event_pb2.DeliverEventsRequest(events=events), metadata=relay)
    return time.perf_counter() - started


async def register_book(address: str, kit: IdentityKit, facilities: int = FACILITIES,
                        per_client: int = PER_CLIENT) -> dict[str, Any]:
    """Register ``facilities`` facilities, ``per_client`` per client, on a fresh service;
    return the timings."""
    relay = kit.metadata("systems/client-relay", Role.SYSTEM, kid="client")
    requests = [
        risk_service_pb2.BatchCreateFacilitiesRequest(parent="clients/-", requests=[
            risk_service_pb2.CreateFacilityRequest(
                parent=f"clients/{(f := _facility(n, per_client)).client_id}",
                facility=facility_of(f))
            for n in range(start, min(facilities, start + BATCH))])
        for start in range(0, facilities, BATCH)
    ]
    async with grpc.aio.insecure_channel(address) as channel:
        print(f"  telling the service about {-(-facilities // per_client):,} clients",
              flush=True)
        clients_seconds = await _deliver_clients(
            event_pb2_grpc.EventSinkServiceStub(channel), -(-facilities // per_client), relay)
        stub = risk_service_pb2_grpc.RiskServiceStub(channel)
        gate = asyncio.Semaphore(IN_FLIGHT)
        durations: list[float] = [0.0] * len(requests)

        async def one(index: int) -> int:
            async with gate:
                began = time.perf_counter()
                # A fresh token per call: on a busy machine the run outlives one token.
                made = await stub.BatchCreateFacilities(
                    requests[index], timeout=120,
                    metadata=kit.metadata("systems/core-banking", Role.SYSTEM))
                durations[index] = time.perf_counter() - began
            if (index + 1) % 10 == 0:
                print(f"  facilities: {(index + 1) * BATCH:,} / {facilities:,}", flush=True)
            return len(made.facilities)

        started = time.perf_counter()
        created = sum(await asyncio.gather(*(one(i) for i in range(len(requests)))))
        seconds = time.perf_counter() - started
    tenth = max(1, len(durations) // 10)
    return {
        "facilities": created,
        "clients": -(-facilities // per_client),
        "clients_seconds": round(clients_seconds, 2),
        "seconds": round(seconds, 2),
        "per_second": round(created / seconds, 1),
        "batch_seconds_first_tenth": round(sum(durations[:tenth]) / tenth, 3),
        "batch_seconds_last_tenth": round(sum(durations[-tenth:]) / tenth, 3),
        "goal_seconds": GOAL_SECONDS,
        "met": created == facilities and seconds < GOAL_SECONDS,
    }
