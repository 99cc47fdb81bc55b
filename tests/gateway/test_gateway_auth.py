"""Authentication at the gateway: forged people's tokens, API keys, revocation, brute force,
and services refusing calls that did not come through the gateway."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import time

import grpc
import jwt
import pytest
from client_harness import client_service, create_request
from cryptography.hazmat.primitives.asymmetric import rsa
from gateway_harness import AUDIENCE, ISSUER, gateway_service, write_keys

from crm.client.v1 import client_service_pb2, client_service_pb2_grpc
from crm_gateway.apikeys import ApiKeyEntry, new_api_key
from crm_runtime.auth import IDENTITY_METADATA_KEY, Role, TokenSigner, generate_signing_key

GET_CLIENT = client_service_pb2.GetClientRequest(
    name="clients/00000000-0000-0000-0000-000000000000"
)


@pytest.fixture
async def stack(sqlite_url, identity, tmp_path):
    """The client service behind a gateway."""
    async with (
        client_service(sqlite_url, identity) as clients,
        gateway_service(tmp_path, identity, client_addr=clients.running.address) as gw,
    ):
        yield gw, clients


def forged_tokens(gw) -> dict[str, str]:
    """Return one forged or invalid bearer token per attack, all naming a risk officer."""
    sso, now = gw.sso, int(time.time())
    claims = sso.claims("mallory", ("risk_officer",))
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    valid = sso.token("mallory", Role.RISK_OFFICER)
    head, payload, signature = valid.split(".")
    flipped = signature[:10] + ("A" if signature[10] != "A" else "B") + signature[11:]
    return {
        "alg_none": jwt.encode(claims, None, algorithm="none", headers={"kid": sso.rsa_kid}),
        "hs256_with_rsa_public_key": sso.hmac_token(claims, sso.rsa_public_pem(), sso.rsa_kid),
        "hs256_with_guessable_secret": sso.hmac_token(claims, b"secret", sso.rsa_kid),
        "es256_header_on_rsa_key": jwt.encode(
            claims, sso.ec_key, algorithm="ES256", headers={"kid": sso.rsa_kid}
        ),
        "expired": sso.token("mallory", Role.RISK_OFFICER, exp=now - 120),
        "not_yet_valid": sso.token("mallory", Role.RISK_OFFICER, nbf=now + 600),
        "wrong_audience": sso.token("mallory", Role.RISK_OFFICER, aud="another-app"),
        "wrong_issuer": sso.token("mallory", Role.RISK_OFFICER, iss="https://evil.test"),
        "missing_exp": sso.token("mallory", Role.RISK_OFFICER, exp=None),
        "missing_aud": sso.token("mallory", Role.RISK_OFFICER, aud=None),
        "missing_iss": sso.token("mallory", Role.RISK_OFFICER, iss=None),
        "bad_signature": f"{head}.{payload}.{flipped}",
        "unknown_key": jwt.encode(
            claims, stranger, algorithm="RS256", headers={"kid": "sso-rsa-unknown"}
        ),
        "right_kid_wrong_key": jwt.encode(
            claims, stranger, algorithm="RS256", headers={"kid": sso.rsa_kid}
        ),
        "internal_identity_as_bearer": gw.identity.signers["gateway"].mint(
            "staff/mallory", [Role.RISK_OFFICER]
        ),
        "garbage": "not-a-jwt",
    }


class TestForgedTokens:
    async def test_every_forgery_is_unauthenticated_over_grpc(self, stack):
        """Each forged or invalid token gets UNAUTHENTICATED; none reaches the service."""
        gw, _ = stack
        stub = client_service_pb2_grpc.ClientServiceStub(gw.channel)
        accepted = []
        for name, token in forged_tokens(gw).items():
            try:
                await stub.GetClient(GET_CLIENT, metadata=gw.bearer(token))
                accepted.append(name)
            except grpc.aio.AioRpcError as error:
                if error.code() != grpc.StatusCode.UNAUTHENTICATED:
                    accepted.append(f"{name}: {error.code().name}")
        assert accepted == []

    async def test_every_forgery_is_401_over_http(self, stack):
        """The same forgeries over HTTP/JSON get 401 with a google.rpc.Status body."""
        gw, _ = stack
        statuses = {}
        for name, token in forged_tokens(gw).items():
            reply = await gw.http.get("/v1/clients", headers={"authorization": f"Bearer {token}"})
            statuses[name] = (reply.status_code, reply.json()["code"])
        assert set(statuses.values()) == {(401, 16)}, statuses

    async def test_valid_tokens_of_both_algorithms_pass(self, stack):
        """Control: correctly signed RS256 and ES256 tokens are accepted."""
        gw, _ = stack
        stub = client_service_pb2_grpc.ClientServiceStub(gw.channel)
        for algorithm in ("RS256", "ES256"):
            token = gw.sso.token("ro-1", Role.RISK_OFFICER, algorithm=algorithm)
            reply = await stub.ListClients(
                client_service_pb2.ListClientsRequest(), metadata=gw.bearer(token)
            )
            assert list(reply.clients) == []

    async def test_missing_credentials(self, stack):
        """No credentials: UNAUTHENTICATED over gRPC, 401 with WWW-Authenticate over HTTP."""
        gw, _ = stack
        stub = client_service_pb2_grpc.ClientServiceStub(gw.channel)
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await stub.ListClients(client_service_pb2.ListClientsRequest())
        assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED
        reply = await gw.http.get("/v1/clients")
        assert reply.status_code == 401
        assert reply.headers["www-authenticate"] == "Bearer"


class TestApiKeys:
    async def test_valid_key_works_and_names_the_system(self, stack):
        """A system's key is accepted and the service sees systems/{name}."""
        gw, _ = stack
        stub = client_service_pb2_grpc.ClientServiceStub(gw.channel)
        created = await stub.CreateClient(
            create_request(relationship_manager="staff/rm-a"), metadata=gw.system()
        )
        history = await stub.ListAssignments(
            client_service_pb2.ListAssignmentsRequest(parent=created.name), metadata=gw.system()
        )
        assert history.assignments[0].assigned_by == "systems/core-banking"

    async def test_revoked_key_refused(self, stack):
        """A key marked revoked is UNAUTHENTICATED (and 401 over HTTP)."""
        gw, _ = stack
        stub = client_service_pb2_grpc.ClientServiceStub(gw.channel)
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await stub.ListClients(
                client_service_pb2.ListClientsRequest(), metadata=gw.system("retired-etl")
            )
        assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED
        reply = await gw.http.get("/v1/clients", headers={"x-api-key": gw.api_keys["retired-etl"]})
        assert reply.status_code == 401

    async def test_revocation_takes_effect_without_restart(self, stack):
        """Marking a working key revoked in the keys file stops it on the next call."""
        gw, _ = stack
        stub = client_service_pb2_grpc.ClientServiceStub(gw.channel)
        await stub.ListClients(client_service_pb2.ListClientsRequest(), metadata=gw.system())
        document = json.loads(gw.keys_file.read_text())
        for entry in document["keys"]:
            entry["revoked"] = True
        await asyncio.sleep(0.01)  # A distinct modification time.
        gw.keys_file.write_text(json.dumps(document))
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await stub.ListClients(client_service_pb2.ListClientsRequest(), metadata=gw.system())
        assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED

    async def test_wrong_and_unknown_keys_refused(self, stack):
        """A wrong secret for a known id, and an unknown id, are both UNAUTHENTICATED."""
        gw, _ = stack
        stub = client_service_pb2_grpc.ClientServiceStub(gw.channel)
        good = gw.api_keys["core-banking"]
        for key in (good[:-4] + "AAAA", "crmk_nobody_" + "x" * 43, "plainly-wrong"):
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await stub.ListClients(
                    client_service_pb2.ListClientsRequest(), metadata=(("x-api-key", key),)
                )
            assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED

    async def test_keys_file_holds_no_key(self, stack):
        """The stored file has hashes only: no issued key appears in it."""
        gw, _ = stack
        stored = gw.keys_file.read_text()
        assert all(key not in stored for key in gw.api_keys.values())
        assert all(e["hash"].startswith("sha256:") for e in json.loads(stored)["keys"])


class TestBruteForce:
    async def test_origin_locked_out_after_repeated_failures(self, sqlite_url, identity, tmp_path):
        """After N failed authentications an address gets RESOURCE_EXHAUSTED for any
        credential that has not authenticated recently, until its bucket refills."""
        async with gateway_service(tmp_path, identity, auth_failures_per_minute=5) as gw:
            stub = client_service_pb2_grpc.ClientServiceStub(gw.channel)
            codes = []
            for _ in range(8):
                try:
                    await stub.ListClients(
                        client_service_pb2.ListClientsRequest(), metadata=gw.bearer("forged")
                    )
                except grpc.aio.AioRpcError as error:
                    codes.append(error.code())
            assert codes[:5] == [grpc.StatusCode.UNAUTHENTICATED] * 5
            assert codes[5:] == [grpc.StatusCode.RESOURCE_EXHAUSTED] * 3


class TestDirectCallsRefused:
    async def test_service_refuses_call_without_identity(self, stack):
        """Calling the client service directly with a valid SSO token (no gateway identity)
        is UNAUTHENTICATED: services trust only the internal identity."""
        gw, clients = stack
        direct = client_service_pb2_grpc.ClientServiceStub(clients.channel)
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await direct.ListClients(
                client_service_pb2.ListClientsRequest(),
                metadata=gw.person("ro-1", Role.RISK_OFFICER),
            )
        assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED

    async def test_service_refuses_identity_from_untrusted_key(self, stack):
        """An identity token signed with a key the service does not trust is refused."""
        _, clients = stack
        private_pem, _ = generate_signing_key()
        forger = TokenSigner(private_pem, "gateway")
        direct = client_service_pb2_grpc.ClientServiceStub(clients.channel)
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await direct.ListClients(
                client_service_pb2.ListClientsRequest(),
                metadata=((IDENTITY_METADATA_KEY, forger.mint("staff/x", [Role.AUDITOR])),),
            )
        assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED

    async def test_service_refuses_human_roles_from_a_service_key(self, stack):
        """Another service's key may assert only the system role, not a person's role."""
        _, clients = stack
        direct = client_service_pb2_grpc.ClientServiceStub(clients.channel)
        token = clients.identity.signers["risk"].mint("staff/x", [Role.RISK_OFFICER])
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await direct.ListClients(
                client_service_pb2.ListClientsRequest(),
                metadata=((IDENTITY_METADATA_KEY, token),),
            )
        assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED

    async def test_caller_supplied_identity_is_not_forwarded(self, stack):
        """A caller cannot smuggle its own x-crm-identity through the gateway: the service
        sees the caller's real (RM) identity, so an auditor-signed header does not widen it."""
        gw, _ = stack
        other = await client_service_pb2_grpc.ClientServiceStub(gw.channel).CreateClient(
            create_request(), metadata=gw.person("rm-b", Role.RELATIONSHIP_MANAGER)
        )
        smuggled = gw.identity.signers["gateway"].mint("staff/rm-a", [Role.AUDITOR])
        stub = client_service_pb2_grpc.ClientServiceStub(gw.channel)
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await stub.GetClient(
                client_service_pb2.GetClientRequest(name=other.name),
                metadata=(
                    *gw.person("rm-a", Role.RELATIONSHIP_MANAGER),
                    (IDENTITY_METADATA_KEY, smuggled),
                ),
            )
        assert caught.value.code() == grpc.StatusCode.PERMISSION_DENIED


class TestKeyFileTools:
    def test_new_key_hash_matches_and_round_trips(self, tmp_path):
        """A new key's entry verifies the key and survives a write and reload."""
        from crm_gateway.apikeys import ApiKeyStore

        key, entry = new_api_key("etl-7", "data-warehouse", [Role.SYSTEM], pepper=b"pepper")
        assert entry.digest.startswith("hmac-sha256:")
        path = tmp_path / "keys.json"
        write_keys(path, [entry])
        store = ApiKeyStore(path, pepper=b"pepper")
        assert store.verify(key).subject == "systems/data-warehouse"
        revoked = dataclasses.replace(entry, revoked=True)
        store.replace([revoked])
        with pytest.raises(Exception) as caught:
            store.verify(key)
        assert type(caught.value).__name__ == "Unauthenticated"
        assert isinstance(revoked, ApiKeyEntry)

    def test_issuer_and_audience_constants(self):
        """The harness's SSO matches what the gateway is configured to expect."""
        assert ISSUER.startswith("https://")
        assert AUDIENCE == "crm-gateway"
