"""Pure parts of the gateway: templates, OpenAPI paths, access rules, JWKS, chain hashes."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
import uvicorn
from gateway_harness import AUDIENCE, ISSUER, Sso
from hypothesis import given, settings
from hypothesis import strategies as st
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route

from crm_gateway.access import AccessRules, Rule, Unimplemented, parse_rules
from crm_gateway.app import EmbeddedHttpServer
from crm_gateway.audit_chain import genesis_hash, record_hash
from crm_gateway.descriptors import discover
from crm_gateway.jwks import JwksSource, JwtVerifier, parse_jwks
from crm_gateway.openapi import openapi_path
from crm_gateway.transcode import HttpRouter, build_request
from crm_runtime.auth import Principal, Role
from crm_runtime.errors import InvalidArgument, PermissionDenied, Unauthenticated
from crm_runtime.testing import free_port

METHODS = discover()
ROUTER = HttpRouter(METHODS.values())
BINDINGS = [(info, b) for info in METHODS.values() if info.unary for b in info.bindings]
SEGMENT = st.text("abcdefghijklmnopqrstuvwxyz0123456789-", min_size=1, max_size=12)


class TestTemplates:
    @settings(max_examples=200, deadline=None)
    @given(st.sampled_from(BINDINGS), st.lists(SEGMENT, min_size=4, max_size=4))
    def test_openapi_paths_route_back_to_their_method(self, bound, ids):
        """Any URL built from a document path reaches that path's method, and the path
        variables rebuild the resource name from the same ids."""
        info, binding = bound
        path, parameters = openapi_path(binding.template)
        values = dict(zip([name for name, _, _ in parameters], ids, strict=False))
        url = path.format(**values)
        matched = ROUTER.match(binding.verb, url)
        assert matched is not None, url
        route, variables = matched
        assert route.info.path == info.path
        for name, field, pattern in parameters:
            assert values[name] in variables[field]
            assert variables[field].count("/") == pattern.count("/")

    def test_every_binding_has_unique_path_and_verb(self):
        """No two methods share an OpenAPI path and verb."""
        seen = {}
        for info, binding in BINDINGS:
            key = (openapi_path(binding.template)[0], binding.verb)
            assert seen.setdefault(key, info.path) == info.path, key

    def test_query_parameters_typed_from_descriptors(self):
        """Query strings fill integers, enums and strings; unknown names are refused."""
        route, variables = ROUTER.match("GET", "/v1/clients")
        request = build_request(route, variables, None, [("pageSize", "7"), ("page_token", "t")])
        assert (request.page_size, request.page_token) == (7, "t")
        with pytest.raises(InvalidArgument):
            build_request(route, variables, None, [("nope", "1")])
        with pytest.raises(InvalidArgument):
            build_request(route, variables, None, [("pageSize", "seven")])

    def test_path_variable_overrides_body(self):
        """With body "client", the name in the path wins over a name in the body."""
        route, variables = ROUTER.match("PATCH", "/v1/clients/abc")
        request = build_request(
            route,
            variables,
            {"name": "clients/evil", "employeeCount": 3},
            [("updateMask", "employeeCount")],
        )
        assert request.client.name == "clients/abc"
        assert list(request.update_mask.paths) == ["employee_count"]


class TestAccessRules:
    def test_first_matching_rule_decides(self):
        """Specific rules above the catch-all win; the catch-all needs some role."""
        rules = AccessRules.from_file()
        rm = Principal("staff/a", frozenset({Role.RELATIONSHIP_MANAGER}))
        officer = Principal("staff/b", frozenset({Role.RISK_OFFICER}))
        nobody = Principal("staff/c", frozenset())
        rules.check("/crm.risk.v1.RiskService/DismissWarning", officer)
        with pytest.raises(PermissionDenied):
            rules.check("/crm.risk.v1.RiskService/DismissWarning", rm)
        rules.check("/crm.risk.v1.RiskService/GetWarning", rm)
        with pytest.raises(PermissionDenied):
            rules.check("/crm.risk.v1.RiskService/GetWarning", nobody)
        with pytest.raises(Unimplemented):
            rules.check("/crm.events.v1.EventSinkService/DeliverEvents", officer)

    def test_unmatched_method_denied(self):
        """A method no rule covers is refused."""
        rules = AccessRules([Rule("/crm.client.*", None)])
        with pytest.raises(PermissionDenied):
            rules.check("/other.Service/Do", Principal("systems/x", frozenset({Role.SYSTEM})))

    def test_bad_tables_refused(self):
        """Unknown roles and patterns without a leading slash fail at load."""
        with pytest.raises(ValueError):
            parse_rules({"rule": [{"methods": "/crm.*", "roles": ["superuser"]}]})
        with pytest.raises(ValueError):
            parse_rules({"rule": [{"methods": "crm.*", "roles": ["*"]}]})

    def test_every_discovered_method_has_a_decision(self):
        """The packaged table decides every method the protos define (none falls to deny-all)."""
        rules = AccessRules.from_file()
        assert all(rules.rule_for(path).pattern for path in METHODS)


class TestJwks:
    def test_only_pinned_asymmetric_keys_kept(self):
        """oct (HMAC) keys, keys for other algorithms and encryption keys are skipped."""
        sso = Sso()
        document = sso.jwks()
        document["keys"] += [
            {"kty": "oct", "kid": "shared", "k": "c2VjcmV0", "alg": "HS256"},
            {**document["keys"][0], "kid": "rs512", "alg": "RS512"},
            {**document["keys"][0], "kid": "enc", "use": "enc"},
        ]
        keys = parse_jwks(document, ["RS256", "ES256", "HS256"])
        assert sorted(keys) == [sso.ec_kid, sso.rsa_kid]
        assert keys[sso.rsa_kid].algorithm == "RS256"

    def test_teams_and_roles_from_claims(self):
        """Roles map to CRM roles (system dropped), teams gain their teams/ prefix."""
        sso = Sso()
        verifier = JwtVerifier(issuer=ISSUER, audience=AUDIENCE, algorithms=["RS256"])
        verifier.set_jwks(sso.jwks())
        token = sso.token("lee", "team_lead", "system", "janitor", teams=("east", "teams/west"))
        principal = verifier.verify(token)
        assert principal.subject == "staff/lee"
        assert principal.roles == {Role.TEAM_LEAD}
        assert principal.teams == {"teams/east", "teams/west"}
        with pytest.raises(Unauthenticated):
            verifier.verify(sso.token("../admin", "ops"))

    async def test_url_source_refreshes_after_rotation(self):
        """A JWKS served over HTTP is loaded; after the SSO rotates its keys a token from
        the new key fails once, triggers a refresh, and then passes."""
        old, new = Sso(), Sso(rsa_kid="sso-rsa-2")
        served = {"document": old.jwks()}
        app = Starlette(routes=[Route("/jwks", lambda _: JSONResponse(served["document"]))])
        port = free_port()
        server = EmbeddedHttpServer(uvicorn.Config(app, port=port, log_config=None, lifespan="off"))
        task = asyncio.create_task(server.serve())
        for _ in range(500):
            if server.started:
                break
            await asyncio.sleep(0.01)
        verifier = JwtVerifier(issuer=ISSUER, audience=AUDIENCE, algorithms=["RS256"])
        source = JwksSource(
            verifier, file=None, url=f"http://127.0.0.1:{port}/jwks", refresh_seconds=0.1
        )
        try:
            await source.load()
            assert verifier.verify(old.token("a", "ops")).subject == "staff/a"
            served["document"] = new.jwks()
            refresher = asyncio.create_task(source.run())
            with pytest.raises(Unauthenticated):
                verifier.verify(new.token("b", "ops"))
            for _ in range(100):
                await asyncio.sleep(0.05)
                try:
                    assert verifier.verify(new.token("b", "ops")).subject == "staff/b"
                    break
                except Unauthenticated:
                    continue
            else:
                pytest.fail("rotated key never accepted")
            refresher.cancel()
        finally:
            server.should_exit = True
            await task


ROW = {
    "previous_hash": "p" * 64,
    "chain": "gw-1",
    "seq": 3,
    "principal": "staff/a",
    "method": "/crm.client.v1.ClientService/GetClient",
    "resource": "clients/1",
    "outcome": "OK",
    "transport": "grpc",
    "request_id": "r1",
    "origin": "ipv4:10.0.0.1",
    "trace_id": "",
    "call_time": datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC),
    "duration_micros": 1234,
}


class TestChainHash:
    @settings(max_examples=200, deadline=None)
    @given(
        st.sampled_from(sorted(set(ROW) - {"call_time", "seq", "duration_micros"})),
        st.text(max_size=20),
    )
    def test_any_field_change_changes_the_hash(self, field, value):
        """Changing any text field to any other value changes the record hash."""
        changed = {**ROW, field: value}
        assert (record_hash(b"k", changed) == record_hash(b"k", ROW)) == (value == ROW[field])

    def test_naive_and_aware_times_hash_alike(self):
        """A store that drops the zone (SQLite) yields the same hash for the same instant."""
        naive = {**ROW, "call_time": ROW["call_time"].replace(tzinfo=None)}
        assert record_hash(b"k", naive) == record_hash(b"k", ROW)

    def test_key_and_chain_matter(self):
        """Another key or another chain gives other hashes (records cannot move between)."""
        assert record_hash(b"k", ROW) != record_hash(b"other", ROW)
        assert genesis_hash(b"k", "a") != genesis_hash(b"k", "b")

    def test_field_boundaries_are_unambiguous(self):
        """Moving characters between neighbouring fields changes the hash."""
        shifted = {**ROW, "principal": "staff/a/", "method": ROW["method"][1:]}
        assert record_hash(b"k", shifted) != record_hash(b"k", ROW)
