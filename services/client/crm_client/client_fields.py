"""How the fields of a Client message reach a client row, and the size class they imply."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

from google.type import money_pb2

from crm.client.v1 import client_pb2
from crm.events.v1 import client_events_pb2
from crm_client.domain.industry import miit_sector_of
from crm_client.domain.size_class import SizeResult, classify_size, yuan_to_wan
from crm_client.mapping import OWNERSHIP
from crm_client.models import ClientRow
from crm_client.validation import to_date
from crm_runtime.errors import InvalidArgument
from crm_runtime.wire import money_to_decimal

CREATE_FIELDS = (
    "display_name",
    "credit_code",
    "industry_code",
    "region_code",
    "ownership_type",
    "founding_date",
    "registered_capital",
    "employee_count",
    "annual_revenue",
    "total_assets",
    "previous_annual_revenue",
    "group",
)
_CREATE_PATHS = set(CREATE_FIELDS)
MUTABLE_FIELDS = frozenset({*CREATE_FIELDS, "project_finance"} - {"credit_code"})
_MONEY_FIELDS = frozenset(
    {"registered_capital", "annual_revenue", "total_assets", "previous_annual_revenue"}
)
# Top-level fields that hold messages, so copying them needs CopyFrom.
_MESSAGE_FIELDS = _MONEY_FIELDS | {"founding_date"}
_MEASURE_FIELDS = {
    "employees": "client.employee_count",
    "revenue_wan": "client.annual_revenue",
    "assets_wan": "client.total_assets",
}


def _wan(money: money_pb2.Money) -> Decimal | None:
    """Return an amount in 万 yuan, or None when the field is unset."""
    amount = money_to_decimal(money)
    return None if amount == 0 and not money.currency_code else yuan_to_wan(amount)


def size_of(client: client_pb2.Client) -> SizeResult:
    """Derive the size class, naming the missing measure's field when it cannot."""
    try:
        return classify_size(
            sector=miit_sector_of(client.industry_code),
            employees=client.employee_count,
            revenue_wan=_wan(client.annual_revenue),
            assets_wan=_wan(client.total_assets),
        )
    except ValueError as exc:
        text = str(exc)
        field = next((f for m, f in _MEASURE_FIELDS.items() if m in text), "client.industry_code")
        raise InvalidArgument.of(field, text, reason="SIZE_CLASS_UNDETERMINED") from exc


def field_values(client: client_pb2.Client, paths: set[str]) -> dict[str, Any]:
    """Return the row columns the named fields of a message set, by column name."""
    values: dict[str, Any] = {}
    for path in paths:
        if path in _MONEY_FIELDS:
            money = getattr(client, path)
            empty = not money.currency_code and money.units == 0 and money.nanos == 0
            values[path] = None if empty else money_to_decimal(money)
        elif path == "ownership_type":
            values["ownership_type"] = OWNERSHIP[client.ownership_type]
        elif path == "founding_date":
            founded = to_date(client.founding_date)
            assert founded is not None
            values["founding_date"] = founded
        elif path == "group":
            values["group_name"] = client.group
        else:
            values[path] = getattr(client, path)
    return values


def apply_fields(row: ClientRow, client: client_pb2.Client, paths: set[str]) -> None:
    """Copy the named fields from a message onto a row."""
    for column, value in field_values(client, paths).items():
        setattr(row, column, value)


def apply_size(row: ClientRow, size: SizeResult) -> None:
    """Record a derived size class and why it was chosen."""
    row.size_class, row.size_standard_version = size.size_class, size.version
    row.size_class_reason = size.reason


def new_client_values(
    client: client_pb2.Client,
    size: SizeResult,
    *,
    relationship_manager: str,
    team: str,
    now: datetime,
) -> dict[str, Any]:
    """Return the columns of a validated new client of the given size class.

    The bulk import inserts these as they are; CreateClient wraps them in a ClientRow.
    """
    return {
        "id": uuid.uuid4().hex,
        "size_class": size.size_class,
        "size_standard_version": size.version,
        "size_class_reason": size.reason,
        "project_finance": client.project_finance,
        "relationship_manager": relationship_manager,
        "team": team,
        "create_time": now,
        "update_time": now,
        **field_values(client, _CREATE_PATHS),
    }


def new_client_row(
    client: client_pb2.Client,
    size: SizeResult,
    *,
    relationship_manager: str,
    team: str,
    now: datetime,
) -> ClientRow:
    """Return the row of a validated new client of the given size class."""
    return ClientRow(
        **new_client_values(
            client, size, relationship_manager=relationship_manager, team=team, now=now
        )
    )


def merge(target: client_pb2.Client, source: client_pb2.Client, paths: set[str]) -> None:
    """Copy the named top-level fields between Client messages."""
    for path in paths:
        if path in _MESSAGE_FIELDS:
            getattr(target, path).CopyFrom(getattr(source, path))
        else:
            setattr(target, path, getattr(source, path))


def client_created_event(row: ClientRow | SimpleNamespace) -> client_events_pb2.ClientCreated:
    """Return the event announcing a new client (CreateClient and the bulk import)."""
    return client_events_pb2.ClientCreated(
        client=f"clients/{row.id}",
        display_name=row.display_name,
        credit_code=row.credit_code,
        industry_code=row.industry_code,
        region_code=row.region_code,
        size_class=row.size_class,
        group=row.group_name,
        relationship_manager=row.relationship_manager,
        team=row.team,
        project_finance=row.project_finance,
    )
