"""Client and facility context: lookups the service provides and the engine's cached profile."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Protocol, runtime_checkable

from crm_risk.monitoring.model import ClientContext, FacilityContext

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


@runtime_checkable
class ClientLookup(Protocol):
    """Source of client context, e.g. the service's cache of its client table."""

    def get_client(self, client_id: str) -> ClientContext | None:
        """Return the context of ``client_id``, or None if unknown."""


@runtime_checkable
class FacilityLookup(Protocol):
    """Source of facility context per client."""

    def facilities_for_client(self, client_id: str) -> Sequence[FacilityContext]:
        """Return the facilities of ``client_id`` (empty if none)."""


class MappingFacilityLookup:
    """Index a facility-id -> context mapping by client (rebuilt on ``refresh``)."""

    def __init__(self, facilities: Mapping[str, FacilityContext]) -> None:
        """Index ``facilities``; keep the mapping to re-read it on ``refresh``."""
        self._source = facilities
        self._by_client: dict[str, list[FacilityContext]] = {}
        self.refresh()

    def refresh(self) -> None:
        """Re-read the source mapping."""
        by_client: dict[str, list[FacilityContext]] = {}
        for facility in self._source.values():
            by_client.setdefault(facility.client_id, []).append(facility)
        self._by_client = by_client

    def facilities_for_client(self, client_id: str) -> Sequence[FacilityContext]:
        """Return the facilities of ``client_id``."""
        return self._by_client.get(client_id, ())


@dataclass(frozen=True, slots=True)
class ClientProfile:
    """Context of one client pre-digested into sets for O(1) checks on the hot path."""

    client_id: str
    related_names: frozenset[str]
    related_accounts: frozenset[str]
    own_accounts: frozenset[str]
    facilities: Mapping[str, FacilityContext]

    @classmethod
    def build(
        cls, client_id: str, context: ClientContext | None, facilities: Iterable[FacilityContext]
    ) -> ClientProfile:
        """Return the profile of ``client_id`` from its context and facilities."""
        names: set[str] = set()
        related_accounts: frozenset[str] = frozenset()
        own: frozenset[str] = frozenset()
        if context is not None:
            people = (context.legal_rep_name, context.controller_name)
            for name in (*context.related_party_names, *people):
                if name:
                    names.update((name, normalise_name(name)))
            related_accounts = frozenset(a for a in context.related_party_accounts if a)
            own = frozenset(a for a in context.own_accounts if a)
        by_id = {f.facility_id: f for f in facilities}
        return cls(
            client_id=client_id,
            related_names=frozenset(names),
            related_accounts=related_accounts,
            own_accounts=own,
            facilities=MappingProxyType(by_id),
        )

    def is_related(self, name: str, account: str) -> bool:
        """Return whether a counterparty (``name``, ``account``) is a related party."""
        if account and account in self.related_accounts:
            return True
        names = self.related_names
        return bool(names) and (name in names or normalise_name(name) in names)
