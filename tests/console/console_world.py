"""The real platform for the browser tests: every service and the gateway as processes.

A 10,000-client book goes in through `ImportClients` (the bulk path of docs/IMPORT.md), as
core banking would. The first rows belong to the two RMs the tests sign in as, so the other
services learn about them from the first relayed events; they are still absorbing the rest of
the book's events (about 50 a second each on a loaded machine) while the tests run. Then a
statement, a rating, a facility and a litigation signal give the first client the parts its
page shows. Logins go through the demo SSO's token endpoint, as in the demo.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import grpc
from risk_harness import a_facility, a_statement

from crm.client.v1 import client_import_pb2, client_service_pb2, client_service_pb2_grpc
from crm.risk.v1 import risk_service_pb2, risk_service_pb2_grpc, warning_pb2
from crm_demo.launcher import Platform, new_platform
from crm_demo.sso_endpoint import Staff, TokenEndpoint
from crm_import.rows import row_message
from crm_runtime.auth import Role
from crm_sim.book.generate import book

BOOK_SIZE = 10_000
CHUNK_ROWS = 5_000
RM_A, RM_B = "console-rm-a", "console-rm-b"
TEAM_A, TEAM_B = "teams/console-a", "teams/console-b"
RISK_1, RISK_2 = "console-risk-1", "console-risk-2"
CLIENTS_OF = {RM_A: 5, RM_B: 3}
DIRECTORY = {
    RM_A: Staff(("relationship_manager",), (TEAM_A,)),
    RM_B: Staff(("relationship_manager",), (TEAM_B,)),
    RISK_1: Staff(("risk_officer", "credit_approver")),
    RISK_2: Staff(("risk_officer", "credit_approver")),
    "console-manager": Staff(("team_lead", "ops"), (TEAM_A,)),
}


@dataclass
class World:
    """The running platform and what the seed created."""

    platform: Platform
    endpoint: TokenEndpoint
    base_url: str
    clients_a: list[str]
    clients_b: list[str]
    warning: str
    second_warning: str
    rating_grade: str
    loaded_rows: int

    def stop(self) -> None:
        """Stop every process and the token endpoint."""
        self.platform.stop()
        self.endpoint.stop()


def start_world(folder: Path) -> World:
    """Start the platform with the console's SSO and load the seed."""
    platform = new_platform(folder)
    endpoint = TokenEndpoint(platform.sso, DIRECTORY).start()
    platform.sso.token_url = endpoint.url
    try:
        platform.start_all()
        return asyncio.run(_seed(platform, endpoint))
    except BaseException:
        platform.stop()
        endpoint.stop()
        raise


async def _seed(platform: Platform, endpoint: TokenEndpoint) -> World:
    await platform.wait_ready(timeout=300)  # Startup on a loaded 2-core machine is slow.
    client = platform.services["client"]
    risk = platform.services["risk"]
    loaded = await _import_book(client.address, platform)
    async with grpc.aio.insecure_channel(client.address) as channel:
        stub = client_service_pb2_grpc.ClientServiceStub(channel)
        mine = {rm: await _clients_of(stub, platform, rm, team) for rm, team in
                ((RM_A, TEAM_A), (RM_B, TEAM_B))}
    async with grpc.aio.insecure_channel(risk.address) as channel:
        stub_r = risk_service_pb2_grpc.RiskServiceStub(channel)
        first = mine[RM_A][0]
        warning = await _signal(stub_r, platform, first,
                                warning_pb2.EXTERNAL_SIGNAL_TYPE_LITIGATION,
                                "Supplier sued the client for 3.2 million yuan (court notice)")
        second = await _signal(stub_r, platform, mine[RM_A][1],
                               warning_pb2.EXTERNAL_SIGNAL_TYPE_TAX_ARREARS,
                               "Tax bureau notice: VAT arrears of 410,000 yuan")
        officer = platform.identity.metadata(f"staff/{RISK_1}", Role.RISK_OFFICER)
        await stub_r.CreateFinancialStatement(risk_service_pb2.CreateFinancialStatementRequest(
            parent=first, statement=a_statement(2025), request_id=str(uuid.uuid4())),
            metadata=officer, timeout=30)
        rating = await stub_r.RateClient(risk_service_pb2.RateClientRequest(
            client=first, request_id=str(uuid.uuid4())), metadata=officer, timeout=30)
        await stub_r.CreateFacility(risk_service_pb2.CreateFacilityRequest(
            parent=first, facility=a_facility(), request_id=str(uuid.uuid4())),
            metadata=officer, timeout=30)
    gateway = platform.services["gateway"]
    return World(platform, endpoint, f"http://127.0.0.1:{gateway.http_port}", mine[RM_A],
                 mine[RM_B], warning, second, rating.grade, loaded)


async def _import_book(address: str, platform: Platform) -> int:
    """Stream the book in chunks as core banking; the RMs' own clients come first."""
    rows = [values for values, _ in book(BOOK_SIZE, seed=1307)]
    position = 0
    for rm, count in CLIENTS_OF.items():
        for values in rows[position:position + count]:
            values["relationship_manager"] = f"staff/{rm}"
            values["team"] = DIRECTORY[rm].teams[0]
        position += count
    system = platform.identity.metadata("systems/core-banking", Role.SYSTEM)

    async def chunks() -> AsyncIterator[client_import_pb2.ImportClientsRequest]:
        for sequence, start in enumerate(range(0, BOOK_SIZE, CHUNK_ROWS), start=1):
            yield client_import_pb2.ImportClientsRequest(
                import_id="console-book", chunk_sequence=sequence, source="console tests",
                rows=[row_message(start + i + 1, values)
                      for i, values in enumerate(rows[start:start + CHUNK_ROWS])],
            )

    async with grpc.aio.insecure_channel(
        address, options=[("grpc.max_send_message_length", 16 * 1024 * 1024)]
    ) as channel:
        stub = client_service_pb2_grpc.ClientServiceStub(channel)
        call = stub.ImportClients(chunks(), metadata=system, timeout=240)
        loaded = 0
        async for reply in call:
            assert not reply.row_errors, reply.row_errors[:3]
            loaded += reply.loaded_row_count
    return loaded


async def _clients_of(
    stub: client_service_pb2_grpc.ClientServiceStub, platform: Platform, rm: str, team: str
) -> list[str]:
    who = platform.identity.metadata(f"staff/{rm}", Role.RELATIONSHIP_MANAGER, teams=(team,))
    found = await stub.ListClients(
        client_service_pb2.ListClientsRequest(relationship_manager=f"staff/{rm}"),
        metadata=who, timeout=30)
    names = sorted(c.name for c in found.clients)
    assert len(names) == CLIENTS_OF[rm], names
    return names


async def _signal(
    stub: risk_service_pb2_grpc.RiskServiceStub,
    platform: Platform,
    client: str,
    kind: warning_pb2.ExternalSignalType.ValueType,
    summary: str,
) -> str:
    """Record an external signal as the client's RM, once risk knows the client is theirs."""
    rm = platform.identity.metadata(f"staff/{RM_A}", Role.RELATIONSHIP_MANAGER, teams=(TEAM_A,))
    request = risk_service_pb2.RecordExternalSignalRequest(
        client=client,
        signal=warning_pb2.ExternalSignal(signal_type=kind, summary=summary,
                                          source_system="court-records"),
        request_id=str(uuid.uuid4()),
    )
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 180
    while True:
        try:
            warning = await stub.RecordExternalSignal(request, metadata=rm, timeout=30)
            return str(warning.name)
        except grpc.aio.AioRpcError as error:
            # Until ClientCreated reaches risk, the client is not the RM's there.
            if error.code() != grpc.StatusCode.PERMISSION_DENIED or loop.time() > deadline:
                raise
            await asyncio.sleep(0.5)
