"""Resource names from declared patterns, and the one ownership rule."""

from __future__ import annotations

import pytest

from crm_runtime.auth import Principal, Role
from crm_runtime.errors import InvalidArgument
from crm_runtime.names import NamePattern
from crm_runtime.ownership import owns


class TestNamePattern:
    def test_parses_each_variable(self):
        pattern = NamePattern.of("clients/{client}/facilities/{facility}")
        assert pattern.parse("clients/c1/facilities/FAC-2026_01", "name") == {
            "client": "c1", "facility": "FAC-2026_01"}

    @pytest.mark.parametrize("name", [
        "", "clients/c1", "clients//facilities/f", "clients/c1/facilities/f/extra",
        "customers/c1/facilities/f", "clients/c1/facilities/" + "x" * 65,
        "clients/-c1/facilities/f", "clients/c 1/facilities/f", "clients/c1/facilities/f%2F",
    ])
    def test_refuses_what_does_not_fit(self, name):
        pattern = NamePattern.of("clients/{client}/facilities/{facility}")
        with pytest.raises(InvalidArgument) as caught:
            pattern.parse(name, "name")
        assert caught.value.violations[0].field == "name"

    def test_format_and_parent(self):
        pattern = NamePattern.of("clients/{client}/facilities/{facility}")
        assert pattern.format(client="c1", facility="f9") == "clients/c1/facilities/f9"
        assert pattern.parent().parse("clients/c1", "parent") == {"client": "c1"}


def _principal(subject: str, *roles: Role, teams: tuple[str, ...] = ()) -> Principal:
    return Principal(subject=subject, roles=frozenset(roles), teams=frozenset(teams))


class TestOwnership:
    def test_rm_sees_own_client_and_team_lead_the_team(self):
        rm = _principal("staff/rm-a", Role.RELATIONSHIP_MANAGER)
        lead = _principal("staff/lead", Role.TEAM_LEAD, teams=("teams/east",))
        assert owns(rm, "staff/rm-a", "teams/west")
        assert not owns(rm, "staff/rm-b", "teams/west")
        assert owns(lead, "staff/rm-b", "teams/east")
        assert not owns(lead, "staff/rm-b", "")

    def test_portfolio_roles_see_all_and_other_roles_nothing(self):
        assert owns(_principal("staff/risk", Role.RISK_OFFICER), "staff/rm-b", "teams/x")
        assert not owns(_principal("staff/rm-a"), "staff/rm-a", "")


def test_a_file_level_resource_definition_names_a_resource_another_api_owns():
    # risk_service.proto declares client.crm.bank/Client (the client service's) with
    # google.api.resource_definition; request fields reference it like any other resource.
    from crm.risk.v1 import risk_service_pb2
    from crm_runtime import names

    request = risk_service_pb2.RateClientRequest(client="clients/c1")
    assert names.parse(request, "client") == {"client": "c1"}
    with pytest.raises(InvalidArgument):
        names.parse(risk_service_pb2.RateClientRequest(client="customers/c1"), "client")
