"""Starts the client service in-process for tests (see service_harness); client requests.

RM_A and RM_B are re-exported: the client tests import them from here.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import date

from google.type import date_pb2, money_pb2
from service_harness import RM_A, RM_B, ServiceHarness, start_harness, test_settings  # noqa: F401

from crm.client.v1 import client_pb2, client_service_pb2, client_service_pb2_grpc
from crm_client import app
from crm_client.config import ClientSettings
from crm_client.context import ClientContext
from crm_runtime.testing import IdentityKit


@dataclass
class ClientHarness(
    ServiceHarness[ClientContext, ClientSettings, client_service_pb2_grpc.ClientServiceStub]
):
    """A running client service and ways to call it as different people."""

    stub_type = client_service_pb2_grpc.ClientServiceStub


@asynccontextmanager
async def client_service(
    store_url: str, identity: IdentityKit, *, subscribers: str = "", **overrides: object
) -> AsyncIterator[ClientHarness]:
    """Run a client service against `store_url` for the duration of the block."""
    values = test_settings(
        "client", store_url, identity, pii=True, event_subscribers=subscribers, **overrides
    )
    settings = ClientSettings(**values)  # type: ignore[arg-type]
    async with start_harness(ClientHarness, app, settings, identity) as harness:
        yield harness


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
