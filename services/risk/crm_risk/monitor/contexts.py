"""Client and facility context for the engine, loaded from the store per client on demand.

The engine asks synchronously (``get_client`` / ``facilities_for_client``) on its hot path, so
the pipeline calls ``ensure`` with a batch's clients before processing it: unknown or stale
clients are loaded in one query per table. Writes that change a profile or add a facility
mark the client stale; the next batch reloads it and the engine rebuilds its profile.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence

from sqlalchemy import select
from sqlmodel import col

from crm_risk.models import FacilityRow, MonitoringProfileRow
from crm_risk.monitoring.model import ClientContext, FacilityContext
from crm_runtime.crypto import FieldCipher
from crm_runtime.db import Database

RELATED_CONTEXT = "risk_monitoring_profile.related"
CHUNK = 500


def related_parties(cipher: FieldCipher, blob: bytes) -> list[dict[str, str]]:
    """Return the decrypted related-party list of a profile."""
    parties: list[dict[str, str]] = json.loads(cipher.decrypt(blob, context=RELATED_CONTEXT))
    return parties


def client_context(
    client_id: str, own: Iterable[str], parties: Sequence[dict[str, str]]
) -> ClientContext:
    """Return the engine's view of a client's accounts and related parties."""
    names: set[str] = set()
    accounts: set[str] = set()
    legal_rep = controller = ""
    for party in parties:
        relation, name, account = party["relation"], party["display_name"], party["account"]
        if relation == "legal_representative":
            legal_rep = name
        elif relation == "actual_controller":
            controller = name
        elif name:
            names.add(name)
        if account:
            accounts.add(account)
    return ClientContext(
        client_id=client_id,
        related_party_names=frozenset(names),
        related_party_accounts=frozenset(accounts),
        own_accounts=frozenset(own),
        legal_rep_name=legal_rep,
        controller_name=controller,
    )


def facility_context(row: FacilityRow) -> FacilityContext:
    """Return the engine's view of a facility."""
    payees = json.loads(row.entrusted_json)
    return FacilityContext(
        facility_id=row.id,
        client_id=row.client_id,
        facility_type=row.facility_type,  # type: ignore[arg-type]
        amount=float(row.amount_cny),
        purpose_category=row.purpose_category,
        drawdown_account=row.drawdown_account,
        entrusted_counterparties=frozenset(p["account"] for p in payees if p["account"]),
        total_project_investment=(
            float(row.total_project_investment) if row.total_project_investment else None
        ),
    )


class ContextCache:
    """Per-client context the engine reads; implements ClientLookup and FacilityLookup."""

    def __init__(self, database: Database, cipher: FieldCipher) -> None:
        self._db = database
        self._cipher = cipher
        self._clients: dict[str, ClientContext | None] = {}
        self._facilities: dict[str, list[FacilityContext]] = {}
        self._stale: set[str] = set()

    def get_client(self, client_id: str) -> ClientContext | None:
        """Return the context of a loaded client."""
        return self._clients.get(client_id)

    def facilities_for_client(self, client_id: str) -> Sequence[FacilityContext]:
        """Return the facilities of a loaded client."""
        return self._facilities.get(client_id, ())

    def has_facility(self, client_id: str, facility_id: str) -> bool:
        """Return True if the facility is registered for the client."""
        return any(f.facility_id == facility_id for f in self._facilities.get(client_id, ()))

    def invalidate(self, client_id: str) -> None:
        """Mark a client's context stale after its profile or facilities changed."""
        self._stale.add(client_id)

    async def ensure(self, client_ids: Iterable[str]) -> list[str]:
        """Load clients that are unknown or stale; return the ids (re)loaded."""
        wanted = [c for c in dict.fromkeys(client_ids)
                  if c not in self._clients or c in self._stale]
        # Cleared before loading, so an invalidation that races the load is kept.
        self._stale.difference_update(wanted)
        for start in range(0, len(wanted), CHUNK):
            await self._load(wanted[start:start + CHUNK])
        return wanted

    async def _load(self, client_ids: list[str]) -> None:
        async with self._db.read() as session:
            profiles = {
                p.client_id: p
                for p in (await session.execute(
                    select(MonitoringProfileRow)
                    .where(col(MonitoringProfileRow.client_id).in_(client_ids))
                )).scalars()
            }
            facilities = list((await session.execute(
                select(FacilityRow).where(col(FacilityRow.client_id).in_(client_ids))
                .order_by(col(FacilityRow.seq))
            )).scalars())
        by_client: dict[str, list[FacilityContext]] = {c: [] for c in client_ids}
        for row in facilities:
            by_client[row.client_id].append(facility_context(row))
        for client_id in client_ids:
            profile = profiles.get(client_id)
            self._clients[client_id] = None if profile is None else client_context(
                client_id,
                json.loads(profile.own_accounts_json),
                related_parties(self._cipher, profile.related_enc),
            )
            self._facilities[client_id] = by_client[client_id]
