"""Client and facility context: lookups the service provides and the engine's unit profile.

A tracing unit is one client, or every client of one group at this bank: loan money moving
between affiliates' accounts is followed as if it moved between one firm's accounts, and money
coming back to any of them counts as coming back. ``UnitProfile`` digests the members' context
into sets and maps for O(1) checks on the hot path.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Protocol, runtime_checkable

from crm_risk.monitoring.engine.model import ClientContext, FacilityContext

# Full-width brackets and spaces are common variants of the same registered company name.
_NAME_FOLD = str.maketrans({"（": "(", "）": ")", "　": "", " ": "", "\t": ""})
_FOLDED: dict[str, str] = {}
_FOLDED_CAP = 200_000  # counterparty names repeat; cache their folded form, bounded


def normalise_name(name: str) -> str:
    """Return ``name`` with bracket widths unified, spaces removed and Latin letters lowered."""
    folded = _FOLDED.get(name)
    if folded is None:
        folded = name.translate(_NAME_FOLD).lower()
        if len(_FOLDED) < _FOLDED_CAP:
            _FOLDED[name] = folded
    return folded


def unit_id_of(client_id: str, context: ClientContext | None) -> str:
    """Return the tracing unit of a client: its group's, or its own."""
    if context is not None and context.group:
        return f"g:{context.group}"
    return f"c:{client_id}"


@runtime_checkable
class ClientLookup(Protocol):
    """Source of client context, e.g. the service's cache of its client tables."""

    def get_client(self, client_id: str) -> ClientContext | None:
        """Return the context of ``client_id``, or None if unknown."""

    def group_members(self, group: str) -> Sequence[str]:
        """Return the clients of ``group`` known here."""


@runtime_checkable
class FacilityLookup(Protocol):
    """Source of facility context per client."""

    def facilities_for_client(self, client_id: str) -> Sequence[FacilityContext]:
        """Return the facilities of ``client_id`` (empty if none)."""


class MappingLookup:
    """Client and facility lookups over plain mappings (tests, evaluation, benchmarks)."""

    def __init__(self, clients: Mapping[str, ClientContext],
                 facilities: Mapping[str, FacilityContext]) -> None:
        """Index ``clients`` by group and ``facilities`` by client."""
        self._clients = clients
        self._facilities = facilities
        self._groups: dict[str, list[str]] = {}
        self._by_client: dict[str, list[FacilityContext]] = {}
        self.refresh()

    def refresh(self) -> None:
        """Re-read the source mappings."""
        groups: dict[str, list[str]] = {}
        for client_id, context in self._clients.items():
            if context.group:
                groups.setdefault(context.group, []).append(client_id)
        by_client: dict[str, list[FacilityContext]] = {}
        for facility in self._facilities.values():
            by_client.setdefault(facility.client_id, []).append(facility)
        self._groups, self._by_client = groups, by_client

    def get_client(self, client_id: str) -> ClientContext | None:
        """Return the context of ``client_id``."""
        return self._clients.get(client_id)

    def group_members(self, group: str) -> Sequence[str]:
        """Return the clients of ``group``."""
        return self._groups.get(group, ())

    def facilities_for_client(self, client_id: str) -> Sequence[FacilityContext]:
        """Return the facilities of ``client_id``."""
        return self._by_client.get(client_id, ())


@dataclass(frozen=True, slots=True)
class UnitProfile:
    """Context of one tracing unit pre-digested for O(1) checks on the hot path."""

    unit_id: str
    clients: frozenset[str]
    own_names: frozenset[str]  # members' registered names, folded
    own_accounts: frozenset[str]
    person_names: Mapping[str, str]  # folded name -> relation, natural persons
    person_accounts: frozenset[str]
    company_names: frozenset[str]  # related companies outside the unit, folded
    company_accounts: frozenset[str]
    away_accounts: frozenset[str]  # members' own accounts at other banks
    facilities: Mapping[str, FacilityContext]
    loan_accounts: Mapping[str, str]  # loan account -> facility id
    drawdown_accounts: Mapping[str, tuple[str, ...]]  # account -> facility ids drawn into it
    entrusted_keys: Mapping[str, frozenset[str]]  # facility id -> payee accounts and names

    @classmethod
    def build(cls, unit_id: str, contexts: Iterable[ClientContext],
              facilities: Iterable[FacilityContext]) -> UnitProfile:
        """Return the profile of a unit from its members' context and facilities."""
        members = list(contexts)
        clients = frozenset(c.client_id for c in members)
        own_names: set[str] = set()
        own: set[str] = set()
        persons: dict[str, str] = {}
        person_accounts: set[str] = set()
        companies: set[str] = set()
        company_accounts: set[str] = set()
        away: set[str] = set()
        for context in members:
            if context.display_name:
                own_names.add(normalise_name(context.display_name))
            own.update(a for a in context.own_accounts if a)
            for party in context.related_parties:
                if party.client_id and party.client_id in clients:
                    continue  # a member of the unit: its accounts are the unit's own
                if party.relation == "own_external_account":
                    if party.account:
                        away.add(party.account)
                elif party.natural_person:
                    if party.name:
                        persons[normalise_name(party.name)] = party.relation
                    if party.account:
                        person_accounts.add(party.account)
                else:
                    if party.name:
                        companies.add(normalise_name(party.name))
                    if party.account:
                        company_accounts.add(party.account)
        by_id = {f.facility_id: f for f in facilities}
        loans = {f.loan_account: f.facility_id for f in by_id.values() if f.loan_account}
        drawn: dict[str, list[str]] = {}
        entrusted: dict[str, frozenset[str]] = {}
        for facility in by_id.values():
            drawn.setdefault(facility.drawdown_account, []).append(facility.facility_id)
            if facility.entrusted:
                keys = {p.account for p in facility.entrusted if p.account}
                keys |= {normalise_name(p.name) for p in facility.entrusted if p.name}
                entrusted[facility.facility_id] = frozenset(keys)
        return cls(
            unit_id=unit_id, clients=clients, own_names=frozenset(own_names),
            own_accounts=frozenset(own - away), person_names=MappingProxyType(persons),
            person_accounts=frozenset(person_accounts), company_names=frozenset(companies),
            company_accounts=frozenset(company_accounts), away_accounts=frozenset(away),
            facilities=MappingProxyType(by_id), loan_accounts=MappingProxyType(loans),
            drawdown_accounts=MappingProxyType({k: tuple(v) for k, v in drawn.items()}),
            entrusted_keys=MappingProxyType(entrusted),
        )

    def person_relation(self, name: str, account: str) -> str | None:
        """Return how a natural-person counterparty is related to the unit, if it is."""
        if account and account in self.person_accounts:
            return "related_person"
        if self.person_names and name:
            return self.person_names.get(normalise_name(name))
        return None

    def is_related_company(self, name: str, account: str) -> bool:
        """Return whether a company counterparty is a related company outside the unit."""
        if account and account in self.company_accounts:
            return True
        return bool(self.company_names) and bool(name) and (
            normalise_name(name) in self.company_names
        )

    def is_entrusted_payee(self, facility_id: str, name: str, account: str) -> bool:
        """Return whether a payee is one of a facility's entrusted-payment payees."""
        keys = self.entrusted_keys.get(facility_id)
        if keys is None:
            return False
        return (bool(account) and account in keys) or (bool(name) and normalise_name(name) in keys)


def lookups(
    clients: Mapping[str, ClientContext] | ClientLookup,
    facilities: Mapping[str, FacilityContext] | FacilityLookup,
) -> tuple[ClientLookup, FacilityLookup, MappingLookup | None]:
    """Return the engine's client and facility lookups, and the mapping lookup that serves
    plain mappings among them (None when both are lookups already)."""
    if not isinstance(clients, Mapping) and not isinstance(facilities, Mapping):
        return clients, facilities, None
    lookup = MappingLookup(
        clients if isinstance(clients, Mapping) else {},
        facilities if isinstance(facilities, Mapping) else {},
    )
    return (lookup if isinstance(clients, Mapping) else clients,
            lookup if isinstance(facilities, Mapping) else facilities, lookup)
