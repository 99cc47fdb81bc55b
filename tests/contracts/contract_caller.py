"""A caller that has only the crm-contracts wheel: creates a client, reads it back.

Run by tests/contracts with an interpreter that sees the wheel and its dependencies but not
the repository. Arguments: the service address; CRM_CALLER_METADATA holds the call metadata
(JSON pairs). Prints one JSON object: where the modules came from and what the calls returned.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import uuid

import crm_contracts
import grpc
from crm_contracts.service_config import channel_options, method_classes
from google.type import date_pb2, money_pb2

import crm
from crm.client.v1 import client_pb2, client_service_pb2, client_service_pb2_grpc


def _new_client() -> client_pb2.Client:
    return client_pb2.Client(
        display_name="北京精密机械有限公司",
        credit_code="91110108MA01B2C344",
        industry_code="C3411",
        region_code="110108",
        ownership_type=client_pb2.OWNERSHIP_TYPE_PRIVATE,
        founding_date=date_pb2.Date(year=2012, month=5, day=17),
        registered_capital=money_pb2.Money(currency_code="CNY", units=50_000_000),
        employee_count=420,
        annual_revenue=money_pb2.Money(currency_code="CNY", units=260_000_000),
        total_assets=money_pb2.Money(currency_code="CNY", units=310_000_000),
    )


async def main(address: str) -> dict[str, object]:
    metadata = tuple(tuple(pair) for pair in json.loads(os.environ["CRM_CALLER_METADATA"]))
    service = "crm.client.v1.ClientService"
    async with grpc.aio.insecure_channel(address, options=channel_options(service)) as channel:
        stub = client_service_pb2_grpc.ClientServiceStub(channel)
        created = await stub.CreateClient(
            client_service_pb2.CreateClientRequest(
                client=_new_client(), request_id=str(uuid.uuid4())
            ),
            metadata=metadata,
        )
        read = await stub.GetClient(
            client_service_pb2.GetClientRequest(name=created.name), metadata=metadata
        )
    classes = method_classes([service])
    return {
        "crm_paths": [str(p) for p in crm.__path__],
        "contracts_file": crm_contracts.__file__,
        "created": created.name,
        "read": read.name,
        "credit_code": read.credit_code,
        "descriptor_set_bytes": len(crm_contracts.descriptor_set_bytes()),
        "classes": {m: classes[(service, m)] for m in ("GetClient", "CreateClient")},
    }


if __name__ == "__main__":
    print(json.dumps(asyncio.run(main(sys.argv[1]))))
