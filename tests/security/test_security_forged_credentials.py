"""Forged credentials at both faces of the gateway (issue 11, `security`): every case of the
catalogue (tests/security/forgeries.py, over 50 kinds) is refused on gRPC and on HTTP; 0
accepted. `./run.sh security` runs all of them; the default suite runs ten.

The brute-force limit is raised for these runs (AUTH_FAILURES_PER_MINUTE 1e6), so that each
case is judged on its own content and not refused because earlier cases failed from the same
address; the lockout itself is proven in test_security_lockout.py.
"""

from __future__ import annotations

import json
from collections import Counter

import grpc
import pytest
from forgeries import PEPPERED_ENTRY, Forger, Headers
from gateway_harness import GatewayHarness, gateway_service

from crm_runtime.auth import Role

LIST_AUDIT = "/crm.gateway.v1.GatewayService/ListAuditRecords"
# A spread of the kinds: algorithm confusion, claims, shape, API keys and smuggling.
FAST_CASES = (
    "alg_none", "hs256_with_rsa_public_key_pem", "expired", "issued_in_the_future",
    "right_kid_stranger_key",
    "roles_tampered_in_signed_payload", "api_key_revoked", "api_key_hashed_with_another_pepper",
    "internal_identity_header_with_rm_token", "two_authorization_headers",
)


@pytest.fixture
async def gw(identity, tmp_path):
    async with gateway_service(
        tmp_path, identity, auth_failures_per_minute=1e6,
        rate_limit_per_second=1e6, rate_limit_burst=1e6,
    ) as harness:
        keys = json.loads(harness.keys_file.read_text())
        keys["keys"].append(PEPPERED_ENTRY.to_json())
        harness.keys_file.write_text(json.dumps(keys))
        yield harness


async def grpc_answer(gw: GatewayHarness, headers: Headers) -> str:
    try:
        await gw.channel.unary_unary(LIST_AUDIT)(b"", metadata=tuple(headers), timeout=10)
    except grpc.aio.AioRpcError as error:
        return error.code().name
    return "OK"


async def http_answer(gw: GatewayHarness, headers: Headers) -> int:
    reply = await gw.http.get("/v1/auditRecords", headers=headers)
    return reply.status_code


async def run_catalogue(gw: GatewayHarness, names: tuple[str, ...] | None = None) -> dict:
    """Send every case (or `names`) over both faces; return the answers per case."""
    valid = [("authorization", "Bearer " + gw.sso.token("aud-1", Role.AUDITOR))]
    # Control: the target answers a genuine auditor, on both faces.
    assert (await grpc_answer(gw, valid), await http_answer(gw, valid)) == ("OK", 200)
    cases = Forger(gw).cases()
    chosen = names or tuple(cases)
    answers = {name: (await grpc_answer(gw, cases[name]()),
                      await http_answer(gw, cases[name]())) for name in chosen}
    accepted = [n for n, (g, h) in answers.items() if g == "OK" or h < 400]
    grpc_codes = Counter(g for g, _ in answers.values())
    http_codes = Counter(h for _, h in answers.values())
    print(f"\nSECURITY forged credentials: {len(answers)} kinds x 2 faces, accepted "
          f"{len(accepted)}; gRPC {dict(grpc_codes)}; HTTP {dict(http_codes)}")
    assert accepted == [], {n: answers[n] for n in accepted}
    # Refusals are clean: never an internal error or an HTTP 5xx.
    assert not {"INTERNAL", "UNKNOWN"} & set(grpc_codes), answers
    assert all(h < 500 for h in http_codes), answers
    return answers


async def test_ten_kinds_of_forged_credentials_are_refused(gw):
    """Fast representative: ten kinds across the catalogue's groups."""
    answers = await run_catalogue(gw, FAST_CASES)
    assert len(answers) == 10


@pytest.mark.security
async def test_every_kind_of_forged_credential_is_refused_on_both_faces(gw):
    """The whole catalogue (at least 50 kinds), gRPC and HTTP: 0 accepted."""
    answers = await run_catalogue(gw)
    assert len(answers) >= 50
    for name, (grpc_code, http_status) in sorted(answers.items()):
        print(f"  {name:45} {grpc_code:20} {http_status}")
