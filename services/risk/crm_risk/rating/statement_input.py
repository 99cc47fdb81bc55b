"""FinancialStatement messages ↔ the pure rating model's statements and the stored document."""

from __future__ import annotations

import json
from dataclasses import fields
from datetime import date
from decimal import Decimal
from typing import Any

from google.protobuf.message import Message

from crm.risk.v1 import statement_pb2
from crm_risk.models import StatementRow
from crm_risk.rating.model.statements import (
    BalanceSheet,
    CashFlowStatement,
    FinancialStatement,
    IncomeStatement,
)
from crm_risk.validation import Violations, check_date, check_money
from crm_runtime.errors import FieldViolation, InvalidArgument
from crm_runtime.wire import date_message, money_message, timestamp

S = "statement"
OPINIONS: dict[int, str] = {
    statement_pb2.AUDIT_OPINION_UNQUALIFIED: "unqualified",
    statement_pb2.AUDIT_OPINION_QUALIFIED: "qualified",
    statement_pb2.AUDIT_OPINION_ADVERSE: "adverse",
    statement_pb2.AUDIT_OPINION_DISCLAIMER: "disclaimer",
    statement_pb2.AUDIT_OPINION_NONE: "none",
}
OPINION_NUMBERS: dict[str, Any] = {v: k for k, v in OPINIONS.items()}
# (document key, proto field, dataclass) of each statement part.
PARTS: tuple[tuple[str, str, type[Any]], ...] = (
    ("balance", "balance_sheet", BalanceSheet),
    ("income", "income_statement", IncomeStatement),
    ("cash_flow", "cash_flow_statement", CashFlowStatement),
)
OPTIONAL_AMOUNTS = frozenset({"ebitda"})
FIRM_KEY = "firm"


def _part(v: Violations, message: Message, path: str, kind: type[Any]) -> dict[str, Decimal | None]:
    values: dict[str, Decimal | None] = {}
    for item in fields(kind):
        money = getattr(message, item.name)
        amount = check_money(v, f"{path}.{item.name}", money, allow_negative=True)
        values[item.name] = amount if amount is not None or item.name in OPTIONAL_AMOUNTS \
            else Decimal(0)
    return values


def parse_statement(message: statement_pb2.FinancialStatement) -> tuple[FinancialStatement, str]:
    """Return the statement and its stored document, or raise INVALID_ARGUMENT per field.

    Only the shape is checked here; consistency is `statement_violations`' job.
    """
    v = Violations()
    start = check_date(v, f"{S}.period_start", message.period_start, required=True)
    end = check_date(v, f"{S}.period_end", message.period_end, required=True)
    founded = check_date(v, f"{S}.founding_date", message.founding_date, required=False)
    opinion = OPINIONS.get(message.audit_opinion)
    if opinion is None:
        v.add(f"{S}.audit_opinion", "is required")
    document: dict[str, dict[str, Decimal | None]] = {}
    for key, proto_field, kind in PARTS:
        if not message.HasField(proto_field):
            v.add(f"{S}.{proto_field}", "is required")
        document[key] = _part(v, getattr(message, proto_field), f"{S}.{proto_field}", kind)
    v.raise_if_any()
    assert start is not None and end is not None and opinion is not None
    statement = _build(start, end, message.audited, opinion, document, founded=founded)
    stored: dict[str, Any] = {
        k: {n: None if a is None else str(a) for n, a in part.items()}
        for k, part in document.items()
    }
    # The founding date rides in the stored document: it is a fact about the firm that
    # arrives with its statements, and older documents simply lack the key.
    stored[FIRM_KEY] = {"founding_date": founded.isoformat() if founded else None}
    return statement, json.dumps(stored)


def _build(start: date, end: date, audited: bool, opinion: str,
           document: dict[str, dict[str, Decimal | None]], *,
           founded: date | None) -> FinancialStatement:
    parts = {key: kind(**document[key]) for key, _, kind in PARTS}
    return FinancialStatement(
        period_start=start,
        period_end=end,
        balance=parts["balance"],
        income=parts["income"],
        cash_flow=parts["cash_flow"],
        audited=audited,
        audit_opinion=opinion,  # type: ignore[arg-type]
        founding_date=founded,
    )


def _founded(raw: dict[str, Any]) -> date | None:
    text = raw.get(FIRM_KEY, {}).get("founding_date")
    return date.fromisoformat(text) if text else None


def statement_of(row: StatementRow) -> FinancialStatement:
    """Return the pure statement stored in a row."""
    raw = json.loads(row.amounts_json)
    document = {
        key: {n: None if a is None else Decimal(a) for n, a in raw[key].items()}
        for key, _, _ in PARTS
    }
    return _build(row.period_start, row.period_end, row.audited, row.audit_opinion, document,
                  founded=_founded(raw))


def _fill_parts(
    message: statement_pb2.FinancialStatement, amounts: dict[str, dict[str, Any]]
) -> None:
    for key, proto_field, _ in PARTS:
        part = getattr(message, proto_field)
        for name, amount in amounts[key].items():
            if amount is not None:
                getattr(part, name).CopyFrom(money_message(Decimal(amount)))


def to_message(statement: FinancialStatement) -> statement_pb2.FinancialStatement:
    """Return the message that submits a pure statement (loaders, the demo, tests)."""
    message = statement_pb2.FinancialStatement(
        period_start=date_message(statement.period_start),
        period_end=date_message(statement.period_end),
        audited=statement.audited,
        audit_opinion=OPINION_NUMBERS[statement.audit_opinion],
    )
    if statement.founding_date is not None:
        message.founding_date.CopyFrom(date_message(statement.founding_date))
    parts: dict[str, Any] = {"balance": statement.balance, "income": statement.income,
                             "cash_flow": statement.cash_flow}
    _fill_parts(message, {key: {item.name: getattr(part, item.name) for item in fields(part)}
                          for key, part in parts.items()})
    return message


def statement_message(row: StatementRow) -> statement_pb2.FinancialStatement:
    """Return the FinancialStatement message of a row."""
    message = statement_pb2.FinancialStatement(
        name=f"clients/{row.client_id}/statements/{row.id}",
        period_start=date_message(row.period_start),
        period_end=date_message(row.period_end),
        audited=row.audited,
        audit_opinion=OPINION_NUMBERS.get(row.audit_opinion, 0),
        create_time=timestamp(row.create_time),
    )
    raw = json.loads(row.amounts_json)
    founded = _founded(raw)
    if founded is not None:
        message.founding_date.CopyFrom(date_message(founded))
    _fill_parts(message, raw)
    return message


def violations_error(found: list[Any]) -> InvalidArgument:
    """Return INVALID_ARGUMENT for the rating model's statement violations."""
    items = [FieldViolation(f.field, f.description) for f in found]
    return InvalidArgument(
        f"{items[0].field}: {items[0].description}", violations=items,
        reason="STATEMENT_INCONSISTENT",
    )
