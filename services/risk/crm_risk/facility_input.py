"""Validation of a Facility in CreateFacility, turned into the values the tables store."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from crm.risk.v1 import facility_pb2
from crm_risk.mapping import COLLATERALS, FACILITY_TYPES, GUARANTORS, PURPOSES
from crm_risk.validation import CLIENT_NAME, Violations, check_date, check_money

MAX_TERM_MONTHS = 360
MAX_LIST = 100
MAX_ACCOUNT = 64
MAX_PURPOSE = 500
INDUSTRY_CODE = re.compile(r"[A-T]?\d{2,4}")
F = "facility"


@dataclass
class GuaranteeInput:
    """One validated guarantee."""

    kind: str
    name: str
    guarantor_client: str
    amount: Decimal


@dataclass
class FacilityInput:
    """A validated facility, ready to store."""

    facility_type: str
    amount: Decimal
    currency: str
    amount_cny: Decimal
    term_months: int
    purpose_category: str
    drawdown_account: str
    loan_account: str
    declared_purpose: str
    entrusted_json: str
    collaterals_json: str
    total_project_investment: Decimal | None
    start_date: date
    guarantees: list[GuaranteeInput] = field(default_factory=list)


def _account(v: Violations, path: str, value: str, *, required: bool) -> None:
    if required and not value.strip():
        v.add(path, "is required")
    elif len(value) > MAX_ACCOUNT or any(ch.isspace() for ch in value):
        v.add(path, f"must be at most {MAX_ACCOUNT} characters without spaces")


def _industry(v: Violations, path: str, code: str) -> None:
    """An industry code, when given, is a GB/T 4754 section letter and/or 2-4 digits."""
    if code and not INDUSTRY_CODE.fullmatch(code.strip().upper()):
        v.add(path, "must be a GB/T 4754-2017 code such as C3411 or 3411")


def _entrusted(v: Violations, facility: facility_pb2.Facility) -> str:
    payees = []
    for i, payee in enumerate(facility.entrusted_counterparties):
        path = f"{F}.entrusted_counterparties[{i}]"
        v.text(f"{path}.display_name", payee.display_name, required=True, limit=200)
        _account(v, f"{path}.account", payee.account, required=False)
        _industry(v, f"{path}.industry_code", payee.industry_code)
        payees.append({"display_name": payee.display_name, "account": payee.account,
                       "industry_code": payee.industry_code.strip().upper()})
    return json.dumps(payees, ensure_ascii=False)


def _collaterals(v: Violations, facility: facility_pb2.Facility, currencies: frozenset[str]) -> str:
    items = []
    for i, collateral in enumerate(facility.collaterals):
        path = f"{F}.collaterals[{i}]"
        if collateral.collateral_type not in COLLATERALS:
            v.add(f"{path}.collateral_type", "is required")
        v.text(f"{path}.description", collateral.description, required=False, limit=500)
        value = check_money(v, f"{path}.value", collateral.value, required=True,
                            currencies=currencies, positive=True)
        if value is not None and collateral.collateral_type in COLLATERALS:
            items.append({
                "type": COLLATERALS[collateral.collateral_type],
                "description": collateral.description,
                "value": str(value),
                "currency": collateral.value.currency_code,
            })
    return json.dumps(items, ensure_ascii=False)


def _guarantees(
    v: Violations, facility: facility_pb2.Facility, currencies: frozenset[str]
) -> list[GuaranteeInput]:
    found = []
    for i, guarantee in enumerate(facility.guarantees):
        path = f"{F}.guarantees[{i}]"
        if guarantee.guarantor_kind not in GUARANTORS:
            v.add(f"{path}.guarantor_kind", "is required")
        v.text(f"{path}.guarantor_display_name", guarantee.guarantor_display_name,
               required=True, limit=200)
        client = guarantee.guarantor_client
        if client and not CLIENT_NAME.regex.fullmatch(client):
            v.add(f"{path}.guarantor_client", "must look like clients/{client}")
        if (guarantee.guarantor_client
                and guarantee.guarantor_kind == facility_pb2.GUARANTOR_KIND_INDIVIDUAL):
            v.add(f"{path}.guarantor_client", "a natural person cannot be a client")
        amount = check_money(v, f"{path}.amount", guarantee.amount, required=True,
                             currencies=currencies, positive=True)
        if amount is not None and guarantee.guarantor_kind in GUARANTORS:
            found.append(GuaranteeInput(
                kind=GUARANTORS[guarantee.guarantor_kind],
                name=guarantee.guarantor_display_name.strip(),
                guarantor_client=guarantee.guarantor_client,
                amount=amount,
            ))
    return found


def parse_facility(
    facility: facility_pb2.Facility, fx_rates: dict[str, Decimal]
) -> FacilityInput:
    """Return the validated facility or raise INVALID_ARGUMENT naming every bad field."""
    v = Violations()
    currencies = frozenset(fx_rates)
    if facility.facility_type not in FACILITY_TYPES:
        v.add(f"{F}.facility_type", "is required")
    amount = check_money(v, f"{F}.amount", facility.amount, required=True,
                         currencies=currencies, positive=True)
    if not 1 <= facility.term_months <= MAX_TERM_MONTHS:
        v.add(f"{F}.term_months", f"must be 1 to {MAX_TERM_MONTHS}")
    if facility.purpose_category not in PURPOSES:
        v.add(f"{F}.purpose_category", "is required")
    _account(v, f"{F}.drawdown_account", facility.drawdown_account, required=True)
    _account(v, f"{F}.loan_account", facility.loan_account, required=False)
    if facility.loan_account and facility.loan_account == facility.drawdown_account:
        v.add(f"{F}.loan_account", "is the loan's own account, not the drawdown account")
    v.text(f"{F}.declared_purpose", facility.declared_purpose, required=False,
           limit=MAX_PURPOSE)
    for name in ("entrusted_counterparties", "collaterals", "guarantees"):
        if len(getattr(facility, name)) > MAX_LIST:
            v.add(f"{F}.{name}", f"at most {MAX_LIST} entries")
    entrusted = _entrusted(v, facility)
    collaterals = _collaterals(v, facility, currencies)
    guarantees = _guarantees(v, facility, currencies)
    investment = check_money(v, f"{F}.total_project_investment",
                             facility.total_project_investment, currencies=currencies,
                             positive=True)
    if investment is not None and amount is not None and investment < amount:
        v.add(f"{F}.total_project_investment", "must be at least the facility amount")
    if (investment is not None
            and facility.total_project_investment.currency_code != facility.amount.currency_code):
        v.add(f"{F}.total_project_investment.currency_code", "must match amount.currency_code")
    start = check_date(v, f"{F}.start_date", facility.start_date, required=True)
    v.raise_if_any()
    assert amount is not None and start is not None
    currency = facility.amount.currency_code
    return FacilityInput(
        facility_type=FACILITY_TYPES[facility.facility_type],
        amount=amount,
        currency=currency,
        amount_cny=(amount * fx_rates[currency]).quantize(Decimal("0.01")),
        term_months=facility.term_months,
        purpose_category=PURPOSES[facility.purpose_category],
        drawdown_account=facility.drawdown_account,
        loan_account=facility.loan_account,
        declared_purpose=facility.declared_purpose.strip(),
        entrusted_json=entrusted,
        collaterals_json=collaterals,
        total_project_investment=investment,
        start_date=start,
        guarantees=guarantees,
    )
