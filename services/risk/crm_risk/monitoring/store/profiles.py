"""Monitoring profiles: parsing and validating them, and how responses show them.

A profile names a client's own accounts, its group, its registered name and its related
parties. Natural persons among them are personal data: the full list is stored encrypted and
responses carry a masked copy (张*, 622848******1234).
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from google.protobuf import field_mask_pb2
from sqlalchemy.ext.asyncio import AsyncSession

from crm.risk.v1 import monitoring_pb2
from crm_risk.models import MonitoringProfileRow
from crm_risk.monitoring.engine.model import PERSON_RELATIONS
from crm_risk.monitoring.store.lookups import RELATED_CONTEXT
from crm_risk.validation import CLIENT_NAME, Violations
from crm_runtime.crypto import FieldCipher
from crm_runtime.fieldmask import resolve_mask
from crm_runtime.pii import mask_name
from crm_runtime.wire import timestamp

RELATIONS: dict[int, str] = {
    monitoring_pb2.PARTY_RELATION_SHAREHOLDER: "shareholder",
    monitoring_pb2.PARTY_RELATION_AFFILIATE: "affiliate",
    monitoring_pb2.PARTY_RELATION_EXECUTIVE: "executive",
    monitoring_pb2.PARTY_RELATION_RELATIVE: "relative",
    monitoring_pb2.PARTY_RELATION_LEGAL_REPRESENTATIVE: "legal_representative",
    monitoring_pb2.PARTY_RELATION_ACTUAL_CONTROLLER: "actual_controller",
    monitoring_pb2.PARTY_RELATION_OWN_EXTERNAL_ACCOUNT: "own_external_account",
    monitoring_pb2.PARTY_RELATION_GUARANTOR: "guarantor",
}
RELATION_NUMBERS: dict[str, Any] = {v: k for k, v in RELATIONS.items()}
MAX_ENTRIES = 500
MAX_GROUP = 128
P = "profile"
# What UpdateMonitoringProfile may change (update_mask paths).
PROFILE_FIELDS = frozenset({"own_accounts", "related_parties", "group", "registered_name"})


def mask_account(account: str) -> str:
    """Return an account number masked as first 6 + last 4 (personal financial data)."""
    if len(account) <= 10:
        return account[:2] + "*" * max(0, len(account) - 2)
    return account[:6] + "*" * (len(account) - 10) + account[-4:]


def parse_profile(
    profile: monitoring_pb2.MonitoringProfile,
) -> tuple[list[str], list[dict[str, object]]]:
    """Return a profile's own accounts and related parties, or INVALID_ARGUMENT naming every
    bad field."""
    v = Violations()
    if len(profile.own_accounts) > MAX_ENTRIES or len(profile.related_parties) > MAX_ENTRIES:
        v.add(P, f"at most {MAX_ENTRIES} accounts and {MAX_ENTRIES} related parties")
    for i, account in enumerate(profile.own_accounts):
        if not account or len(account) > 64 or any(c.isspace() for c in account):
            v.add(f"{P}.own_accounts[{i}]", "must be 1-64 characters without spaces")
    v.text(f"{P}.group", profile.group, required=False, limit=MAX_GROUP)
    v.text(f"{P}.registered_name", profile.registered_name, required=False, limit=200)
    parties: list[dict[str, object]] = []
    for i, party in enumerate(profile.related_parties):
        path = f"{P}.related_parties[{i}]"
        relation = RELATIONS.get(party.relation)
        if relation is None:
            v.add(f"{path}.relation", "is required")
        if not party.display_name.strip() and not party.account:
            v.add(path, "needs a display_name or an account")
        v.text(f"{path}.display_name", party.display_name, required=False, limit=200)
        if len(party.account) > 64:
            v.add(f"{path}.account", "must be at most 64 characters")
        if party.client and not CLIENT_NAME.regex.fullmatch(party.client):
            v.add(f"{path}.client", "must look like clients/{client}")
        person = party.natural_person or relation in PERSON_RELATIONS
        if person and party.client:
            v.add(f"{path}.client", "a natural person cannot be a client")
        parties.append({"display_name": party.display_name.strip(), "account": party.account,
                        "relation": relation or "", "natural_person": person,
                        "client": party.client})
    v.raise_if_any()
    return list(profile.own_accounts), parties


def masked_parties(parties: list[dict[str, object]]) -> list[dict[str, object]]:
    """Return related parties as responses show them: persons' names and accounts masked."""
    masked = []
    for party in parties:
        person = bool(party.get("natural_person")) or party["relation"] in PERSON_RELATIONS
        name, account = str(party["display_name"]), str(party["account"])
        masked.append({
            "display_name": mask_name(name) if person and name else name,
            "account": mask_account(account) if person else account,
            "relation": party["relation"], "natural_person": person,
            "client": party.get("client", ""),
        })
    return masked


def profile_message(row: MonitoringProfileRow) -> monitoring_pb2.MonitoringProfile:
    """Return the profile with natural persons' names and accounts masked."""
    return monitoring_pb2.MonitoringProfile(
        name=f"clients/{row.client_id}/monitoringProfile",
        own_accounts=json.loads(row.own_accounts_json),
        related_parties=[
            monitoring_pb2.RelatedParty(
                display_name=str(p["display_name"]), account=str(p["account"]),
                relation=RELATION_NUMBERS.get(str(p["relation"]), 0),
                natural_person=bool(p.get("natural_person")), client=str(p.get("client", "")))
            for p in json.loads(row.related_masked_json)
        ],
        update_time=timestamp(row.update_time),
        group=row.group_name,
        registered_name=row.registered_name,
    )


def masked_update(
    profile: monitoring_pb2.MonitoringProfile, mask: field_mask_pb2.FieldMask
) -> tuple[monitoring_pb2.MonitoringProfile, frozenset[str]]:
    """Return the profile with only the fields an update changes, and those fields.

    An empty mask changes every field (a full replace, as before masks existed); fields the
    mask leaves out are cleared here, so they are neither validated nor stored.
    """
    if not mask.paths:
        return profile, PROFILE_FIELDS
    paths = frozenset(resolve_mask(mask, mutable=PROFILE_FIELDS, protected=(),
                                   resource=monitoring_pb2.MonitoringProfile.DESCRIPTOR))
    changed = monitoring_pb2.MonitoringProfile()
    changed.CopyFrom(profile)
    for name in PROFILE_FIELDS - paths:
        changed.ClearField(name)  # type: ignore[arg-type]
    return changed, paths


async def save_profile(
    session: AsyncSession, client_id: str, profile: monitoring_pb2.MonitoringProfile,
    own: list[str], parties: list[dict[str, object]], *, paths: frozenset[str] = PROFILE_FIELDS,
    cipher: FieldCipher, now: datetime,
) -> MonitoringProfileRow:
    """Store a client's validated profile fields in `paths` (persons sealed, a masked copy
    beside); a client without a profile gets one with the other fields empty."""
    row = await session.get(MonitoringProfileRow, client_id)
    if row is None:
        paths = PROFILE_FIELDS
        row = MonitoringProfileRow(client_id=client_id, own_accounts_json="[]", related_enc=b"",
                                   related_masked_json="[]", update_time=now)
    else:
        row.version += 1
    if "own_accounts" in paths:
        row.own_accounts_json = json.dumps(own)
    if "related_parties" in paths:
        row.related_enc = cipher.encrypt(json.dumps(parties, ensure_ascii=False),
                                         context=RELATED_CONTEXT)
        row.related_masked_json = json.dumps(masked_parties(parties), ensure_ascii=False)
    if "group" in paths:
        row.group_name = profile.group.strip()
    if "registered_name" in paths:
        row.registered_name = profile.registered_name.strip()
    row.update_time = now
    session.add(row)
    return row
