"""Events tickets (EventSource's credential) are not identities, and identities are not tickets.

A ticket is signed with the gateway's own identity key but under its own key id, which no
service trusts: a ticket leaked from a URL cannot be replayed at a service, and the internal
identity tokens the gateway mints cannot open an event stream.
"""

from __future__ import annotations

import pytest

from crm_gateway.events import EventTickets
from crm_runtime.auth import Principal, Role, TokenVerifier
from crm_runtime.errors import Unauthenticated

RM = Principal("staff/rm-a", frozenset({Role.RELATIONSHIP_MANAGER}), frozenset({"teams/east"}))


def _tickets(identity) -> EventTickets:
    return EventTickets(identity.private_files["gateway"].read_bytes(), ttl_seconds=60)


def test_a_ticket_names_its_caller(identity) -> None:
    tickets = _tickets(identity)
    caller = tickets.verify(tickets.issue(RM))
    assert (caller.subject, caller.roles, caller.teams) == (RM.subject, RM.roles, RM.teams)


def test_services_refuse_a_ticket(identity) -> None:
    service = TokenVerifier.from_dir(identity.directory, human_issuers=frozenset({"gateway"}))
    with pytest.raises(Unauthenticated):
        service.verify(_tickets(identity).issue(RM))


def test_an_identity_token_or_junk_is_no_ticket(identity) -> None:
    minted = identity.signers["gateway"].mint(RM.subject, RM.roles)
    for not_a_ticket in (minted, "x.y.z", ""):
        with pytest.raises(Unauthenticated) as refused:
            _tickets(identity).verify(not_a_ticket)
        assert refused.value.reason == "TICKET_INVALID"
