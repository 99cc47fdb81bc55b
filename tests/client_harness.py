"""Starts the client service in-process on port 0 for tests, with real interceptors."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import date

import grpc
from google.type import date_pb2, money_pb2

from crm.client.v1 import client_pb2, client_service_pb2, client_service_pb2_grpc
from crm_client.app import build, migrate
from crm_client.config import ClientSettings
from crm_client.context import ClientContext
from crm_runtime.auth import Role
from crm_runtime.server import RunningService, start_service
from crm_runtime.testing import IdentityKit, pii_env

RM_A = "staff/rm-a"
RM_B = "staff/rm-b"


@dataclass
class ClientHarness:
    """A running client service and ways to call it as different people."""

    running: RunningService
    ctx: ClientContext
    channel: grpc.aio.Channel
    stub: client_service_pb2_grpc.ClientServiceStub
    identity: IdentityKit
    settings: ClientSettings

    def as_(
        self, subject: str, *roles: Role, teams: tuple[str, ...] = ()
    ) -> tuple[tuple[str, str], ...]:
        """Return metadata for a caller."""
        return self.identity.metadata(subject, *roles, teams=teams)

    def rm(self, subject: str = RM_A, teams: tuple[str, ...] = ()) -> tuple[tuple[str, str], ...]:
        """Return metadata for a relationship manager."""
        return self.as_(subject, Role.RELATIONSHIP_MANAGER, teams=teams)

    def system(self) -> tuple[tuple[str, str], ...]:
        """Return metadata for a bank system."""
        return self.identity.metadata("systems/core-banking", Role.SYSTEM)


@asynccontextmanager
async def client_service(
    store_url: str, identity: IdentityKit, *, subscribers: str = "", **overrides: object
) -> AsyncIterator[ClientHarness]:
    """Run a client service against `store_url` for the duration of the block."""
    env = {k.lower(): v for k, v in pii_env().items()}
    settings = ClientSettings(
        database_url=store_url,
        grpc_port=0,
        identity_trusted_keys_dir=identity.directory,
        identity_signing_key_file=identity.private_files["client"],
        identity_signing_kid="client",
        event_subscribers=subscribers,
        health_check_interval_seconds=0.2,
        grace_seconds=1,
        **env,
        **overrides,  # type: ignore[arg-type]
    )
    migrate(settings)
    definition, ctx = await build(settings)
    running = await start_service(definition)
    channel = grpc.aio.insecure_channel(running.address)
    try:
        yield ClientHarness(
            running,
            ctx,
            channel,
            client_service_pb2_grpc.ClientServiceStub(channel),
            identity,
            settings,
        )
    finally:
        await channel.close()
        await running.stop(drain_seconds=0)


def money(yuan: int) -> money_pb2.Money:
    """Return CNY money."""
    return money_pb2.Money(currency_code="CNY", units=yuan)


def a_client(credit_code: str = "91110108MA01B2C344", **fields: object) -> client_pb2.Client:
    """Return a valid manufacturing client message."""
    founded: date = fields.pop("founded", date(2012, 5, 17))  # type: ignore[assignment]
    client = client_pb2.Client(
        display_name="北京精密机械有限公司",
        credit_code=credit_code,
        industry_code="C3411",
        region_code="110108",
        ownership_type=client_pb2.OWNERSHIP_TYPE_PRIVATE,
        founding_date=date_pb2.Date(year=founded.year, month=founded.month, day=founded.day),
        registered_capital=money(50_000_000),
        employee_count=420,
        annual_revenue=money(260_000_000),
        total_assets=money(310_000_000),
    )
    for key, value in fields.items():
        if isinstance(value, money_pb2.Money):
            getattr(client, key).CopyFrom(value)
        else:
            setattr(client, key, value)
    return client


def create_request(
    client: client_pb2.Client | None = None, **kwargs: object
) -> client_service_pb2.CreateClientRequest:
    """Return a CreateClientRequest with a fresh request id."""
    return client_service_pb2.CreateClientRequest(
        client=client or a_client(), request_id=str(uuid.uuid4()), **kwargs
    )  # type: ignore[arg-type]
