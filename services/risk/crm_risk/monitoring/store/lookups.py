"""Client and facility context for the engine, loaded from the store per client on demand.

The engine asks synchronously (``get_client``, ``group_members``, ``facilities_for_client``)
on its hot path, so the pipeline calls ``ensure`` with a batch's clients before processing it:
unknown or stale clients, and every client of their groups, are loaded in a few queries. A
client's group is the one its monitoring profile names, else the one the client service
reported.

Writes that change a client's context mark it stale after they commit (``invalidate``); the
next batch reloads it. A load that raced an invalidation is not kept: every invalidation bumps
the client's generation, and a load is stored only if the generation did not move while it
ran, so a slow load can never overwrite what a later write made true. A new facility is
added to the cache in place (``add_facility``), without reloading anything.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence

from sqlalchemy import select
from sqlmodel import col

from crm_risk.models import ClientFactRow, FacilityRow, MonitoringProfileRow
from crm_risk.monitoring.engine.model import (
    PERSON_RELATIONS,
    ClientContext,
    EntrustedPayee,
    FacilityContext,
    RelatedParty,
)
from crm_runtime.crypto import FieldCipher
from crm_runtime.db import Database

RELATED_CONTEXT = "risk_monitoring_profile.related"
CHUNK = 500


def related_parties(cipher: FieldCipher, blob: bytes) -> list[dict[str, object]]:
    """Return the decrypted related-party list of a profile."""
    parties: list[dict[str, object]] = json.loads(cipher.decrypt(blob, context=RELATED_CONTEXT))
    return parties


def client_context(
    client_id: str, profile: MonitoringProfileRow | None, fact: ClientFactRow | None,
    parties: Sequence[dict[str, object]],
) -> ClientContext:
    """Return the engine's view of a client: accounts, group, name and related parties."""
    related = tuple(
        RelatedParty(
            name=str(p.get("display_name", "")), account=str(p.get("account", "")),
            relation=str(p.get("relation", "")),
            natural_person=bool(p.get("natural_person")) or p.get("relation") in PERSON_RELATIONS,
            client_id=str(p.get("client", "")).removeprefix("clients/"),
        )
        for p in parties
    )
    group = (profile.group_name if profile is not None else "") or (
        fact.group_name if fact is not None else "")
    name = (profile.registered_name if profile is not None else "") or (
        fact.display_name if fact is not None else "")
    own = json.loads(profile.own_accounts_json) if profile is not None else []
    return ClientContext(client_id=client_id, own_accounts=frozenset(own),
                         related_parties=related, group=group, display_name=name)


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
        entrusted=tuple(EntrustedPayee(p["display_name"], p["account"],
                                       p.get("industry_code", "")) for p in payees),
        total_project_investment=(
            float(row.total_project_investment) if row.total_project_investment else None
        ),
        loan_account=row.loan_account,
        declared_purpose=row.declared_purpose,
    )


class ContextCache:
    """Per-client context the engine reads; implements ClientLookup and FacilityLookup."""

    def __init__(self, database: Database, cipher: FieldCipher) -> None:
        self._db = database
        self._cipher = cipher
        self._clients: dict[str, ClientContext | None] = {}
        self._facilities: dict[str, list[FacilityContext]] = {}
        self._groups: dict[str, list[str]] = {}
        self._stale: set[str] = set()
        self._generation: dict[str, int] = {}

    def get_client(self, client_id: str) -> ClientContext | None:
        """Return the context of a loaded client."""
        return self._clients.get(client_id)

    def group_members(self, group: str) -> Sequence[str]:
        """Return the loaded clients of ``group``."""
        return self._groups.get(group, ())

    def facilities_for_client(self, client_id: str) -> Sequence[FacilityContext]:
        """Return the facilities of a loaded client."""
        return self._facilities.get(client_id, ())

    def has_facility(self, client_id: str, facility_id: str) -> bool:
        """Return True if the facility is registered for the client."""
        return any(f.facility_id == facility_id for f in self._facilities.get(client_id, ()))

    def invalidate(self, client_id: str) -> None:
        """Mark a client's context stale after a committed change to it."""
        self._stale.add(client_id)
        self._generation[client_id] = self._generation.get(client_id, 0) + 1

    def add_facility(self, facility: FacilityContext) -> None:
        """Put a newly committed facility into a loaded client's context (O(1))."""
        loaded = self._facilities.get(facility.client_id)
        if loaded is not None and not self.has_facility(facility.client_id, facility.facility_id):
            loaded.append(facility)

    async def ensure(self, client_ids: Iterable[str]) -> list[str]:
        """Load clients that are unknown or stale, and their groups; return the ids loaded."""
        wanted = [c for c in dict.fromkeys(client_ids)
                  if c not in self._clients or c in self._stale]
        loaded: list[str] = []
        for start in range(0, len(wanted), CHUNK):
            loaded += await self._load(wanted[start:start + CHUNK])
        groups = {ctx.group for c in loaded if (ctx := self._clients.get(c)) is not None
                  and ctx.group}
        if groups:
            loaded += await self._load_groups(groups)
        return loaded

    async def _load_groups(self, groups: set[str]) -> list[str]:
        """Load every client of ``groups`` (profiles and client facts both name groups)."""
        async with self._db.read() as session:
            named = set((await session.execute(
                select(col(MonitoringProfileRow.client_id))
                .where(col(MonitoringProfileRow.group_name).in_(groups))
            )).scalars())
            named |= set((await session.execute(
                select(col(ClientFactRow.client_id))
                .where(col(ClientFactRow.group_name).in_(groups))
            )).scalars())
        missing = [c for c in sorted(named) if c not in self._clients or c in self._stale]
        loaded = []
        for start in range(0, len(missing), CHUNK):
            loaded += await self._load(missing[start:start + CHUNK])
        members: dict[str, list[str]] = {g: [] for g in groups}
        for client_id in named:
            context = self._clients.get(client_id)
            if context is not None and context.group in members:
                members[context.group].append(client_id)
        for group, clients in members.items():
            self._groups[group] = sorted(clients)
        return loaded

    async def _load(self, client_ids: list[str]) -> list[str]:
        started = {c: self._generation.get(c, 0) for c in client_ids}
        async with self._db.read() as session:
            profiles = {p.client_id: p for p in (await session.execute(
                select(MonitoringProfileRow)
                .where(col(MonitoringProfileRow.client_id).in_(client_ids))
            )).scalars()}
            facts = {f.client_id: f for f in (await session.execute(
                select(ClientFactRow).where(col(ClientFactRow.client_id).in_(client_ids))
            )).scalars()}
            facilities = list((await session.execute(
                select(FacilityRow)
                .where(col(FacilityRow.client_id).in_(client_ids))
                .order_by(col(FacilityRow.seq))
            )).scalars())
        by_client: dict[str, list[FacilityContext]] = {c: [] for c in client_ids}
        for row in facilities:
            by_client[row.client_id].append(facility_context(row))
        stored = []
        for client_id in client_ids:
            if self._generation.get(client_id, 0) != started[client_id]:
                continue  # changed while loading: stay stale, the next batch reloads it
            profile, fact = profiles.get(client_id), facts.get(client_id)
            parties = related_parties(self._cipher, profile.related_enc) if profile else []
            self._clients[client_id] = (
                None if profile is None and fact is None
                else client_context(client_id, profile, fact, parties)
            )
            self._facilities[client_id] = by_client[client_id]
            self._stale.discard(client_id)
            stored.append(client_id)
        return stored
