"""Authentication under attack at the gateway: lockout fairness behind an ingress, ambiguous
credentials, token lifetime (issue 11, defects 8 and 12)."""

from __future__ import annotations

import grpc
import pytest
from gateway_harness import gateway_service

from crm_runtime.auth import Role

GATEWAY = "/crm.gateway.v1.GatewayService"


@pytest.fixture
async def gw(identity, tmp_path):
    async with gateway_service(tmp_path, identity) as harness:
        yield harness


@pytest.fixture
async def proxied(identity, tmp_path):
    """A gateway behind an ingress at 127.0.0.1 that names the client in X-Forwarded-For."""
    async with gateway_service(
        tmp_path, identity, auth_failures_per_minute=5,
        trusted_proxy_header="x-forwarded-for", trusted_proxies="127.0.0.1/32",
    ) as harness:
        yield harness


async def _http_list(gw, token: str, client_ip: str) -> int:
    reply = await gw.http.get(
        "/v1/auditRecords",
        headers={"authorization": f"Bearer {token}", "x-forwarded-for": client_ip})
    return reply.status_code


async def _grpc_list(gw, token: str, client_ip: str) -> grpc.StatusCode:
    call = gw.channel.unary_unary(f"{GATEWAY}/ListAuditRecords")
    try:
        await call(b"", metadata=(("authorization", f"Bearer {token}"),
                                  ("x-forwarded-for", client_ip)))
    except grpc.aio.AioRpcError as error:
        return error.code()
    return grpc.StatusCode.OK


class TestBruteForceFairness:
    async def test_noisy_client_does_not_lock_out_others_behind_the_ingress(self, proxied):
        """Defect 8: failures count per client address (from the trusted proxy header), so a
        caller at another address is never refused for them (gRPC face: all callers came
        from the ingress's one address and shared one count)."""
        gw = proxied
        attacker = [await _grpc_list(gw, f"forged-{i}", "203.0.113.9") for i in range(10)]
        assert attacker[:5] == [grpc.StatusCode.UNAUTHENTICATED] * 5
        assert set(attacker[5:]) == {grpc.StatusCode.RESOURCE_EXHAUSTED}
        valid = gw.sso.token("aud-1", Role.AUDITOR)
        assert await _grpc_list(gw, valid, "198.51.100.7") is grpc.StatusCode.OK
        assert await _http_list(gw, valid, "198.51.100.7") == 200

    async def test_known_good_credential_survives_a_neighbours_failures(self, proxied):
        """Defect 8: a credential that authenticated before is not locked out by failures of
        others at its own address (NAT), and neither is a valid newcomer there; the forgeries
        from that address stay refused as exhausted."""
        gw = proxied
        valid = gw.sso.token("aud-1", Role.AUDITOR)
        assert await _http_list(gw, valid, "203.0.113.9") == 200
        for i in range(10):
            await _http_list(gw, f"forged-{i}", "203.0.113.9")
        assert await _http_list(gw, valid, "203.0.113.9") == 200
        newcomer = gw.sso.token("aud-2", Role.AUDITOR)
        assert await _http_list(gw, newcomer, "203.0.113.9") == 200
        assert await _http_list(gw, "forged-new", "203.0.113.9") == 429

    async def test_grpc_and_http_count_the_same_address_together(self, proxied):
        """Defect 8: gRPC and HTTP calls from one client address share one failure count."""
        gw = proxied
        call = gw.channel.unary_unary(f"{GATEWAY}/ListAuditRecords")
        for i in range(3):
            with pytest.raises(grpc.aio.AioRpcError):
                await call(b"", metadata=(("authorization", f"Bearer forged-{i}"),
                                          ("x-forwarded-for", "203.0.113.9")))
        codes = [await _http_list(gw, f"forged-h{i}", "203.0.113.9") for i in range(3)]
        assert codes == [401, 401, 429]

    async def test_untrusted_peer_cannot_choose_its_address(self, identity, tmp_path):
        """Defect 8: the header is believed only from a configured proxy address."""
        async with gateway_service(
            tmp_path, identity, auth_failures_per_minute=5,
            trusted_proxy_header="x-forwarded-for", trusted_proxies="10.9.9.9/32",
        ) as gw:
            codes = [await _http_list(gw, f"forged-{i}", f"198.51.100.{i}") for i in range(7)]
            assert codes[5:] == [429, 429]


class TestAmbiguousCredentials:
    async def test_two_authorization_headers_are_refused_on_both_faces(self, gw):
        """Defect 12: two Authorization values are UNAUTHENTICATED on gRPC and HTTP alike
        (gRPC read the last one and HTTP the first)."""
        valid = gw.sso.token("aud-1", Role.AUDITOR)
        call = gw.channel.unary_unary(f"{GATEWAY}/ListAuditRecords")
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await call(b"", metadata=(("authorization", "Bearer forged"),
                                      ("authorization", f"Bearer {valid}")))
        assert caught.value.code() is grpc.StatusCode.UNAUTHENTICATED
        reply = await gw.http.get("/v1/auditRecords", headers=[
            ("authorization", f"Bearer {valid}"), ("authorization", "Bearer forged")])
        assert reply.status_code == 401


class TestTokenLifetime:
    @pytest.mark.parametrize(
        "exp", [str(2_000_000_000), 2**63, 2_000_000_000.5 * 100, True],
        ids=["string", "2^63", "far-future", "bool"])
    async def test_everlasting_or_odd_expiry_is_refused(self, gw, exp):
        """Defect 12: exp must be a number within the maximum lifetime."""
        token = gw.sso.token("aud-1", Role.AUDITOR, exp=exp)
        assert await _grpc_list(gw, token, "") is grpc.StatusCode.UNAUTHENTICATED

    async def test_normal_token_still_works(self, gw):
        assert await _grpc_list(gw, gw.sso.token("aud-1", Role.AUDITOR), "") \
            is grpc.StatusCode.OK
