"""Lockout fairness at the gateway (issue 11, `security`): attackers failing authentication
over and over never lock a valid caller out. The gateway sits behind an ingress at 127.0.0.1
that names each client in X-Forwarded-For (TRUSTED_PROXY_HEADER / TRUSTED_PROXIES).

Valid callers share the attackers' client address (a NAT) or have their own; both faces are
used, interleaved. The attackers' own calls are refused, and past the limit refused with
RESOURCE_EXHAUSTED before their credentials are checked (the lockout works); no valid call is
refused. A valid credential never seen before, arriving at an address that is locked, is
checked and served like any other (rule 8 of docs/RELIABILITY.md).

`./run.sh security` runs 10 attackers x 30 forgeries with 40 valid callers; the default suite
runs 3 x 10 with 6 valid callers.
"""

from __future__ import annotations

from collections import Counter

import grpc
import pytest
from gateway_harness import GatewayHarness, gateway_service

from crm_runtime.auth import Role

LIST_AUDIT = "/crm.gateway.v1.GatewayService/ListAuditRecords"
NAT = "203.0.113.9"
FAILURES_PER_MINUTE = 5


async def _grpc(gw: GatewayHarness, headers: list[tuple[str, str]]) -> str:
    try:
        await gw.channel.unary_unary(LIST_AUDIT)(b"", metadata=tuple(headers), timeout=10)
    except grpc.aio.AioRpcError as error:
        return error.code().name
    return "OK"


async def _http(gw: GatewayHarness, headers: list[tuple[str, str]]) -> str:
    status = (await gw.http.get("/v1/auditRecords", headers=headers)).status_code
    return {200: "OK", 401: "UNAUTHENTICATED", 429: "RESOURCE_EXHAUSTED"}.get(status, str(status))


async def run_fairness(gw: GatewayHarness, *, attackers: int, forgeries: int,
                       valid_callers: int) -> dict[str, Counter[str]]:
    """Interleave attackers' failures with valid callers' calls; return answers by group."""
    faces = (_grpc, _http)
    tokens = [gw.sso.token(f"aud-{i}", Role.AUDITOR, expires_in=3600)
              for i in range(valid_callers)]
    # Half the valid callers are at the attackers' address, half each at an address of its own.
    address = [NAT if i % 2 == 0 else f"198.51.100.{i}" for i in range(valid_callers)]
    answers: dict[str, Counter[str]] = {"valid": Counter(), "attack": Counter()}
    for i, token in enumerate(tokens):  # each valid caller signs in once, as in a session
        answers["valid"][await faces[i % 2](gw, [("authorization", f"Bearer {token}"),
                                                  ("x-forwarded-for", address[i])])] += 1
    for round_ in range(forgeries):
        for a in range(attackers):
            forged = gw.sso.token(f"att-{a}", Role.AUDITOR, aud="wrong")[:-4] + f"{round_:04d}"
            origin = NAT if a % 2 == 0 else f"192.0.2.{a}"
            headers = ([("authorization", f"Bearer {forged}")] if round_ % 3
                       else [("x-api-key", f"crmk_att-{a}_{round_:043d}")])
            answers["attack"][await faces[(round_ + a) % 2](
                gw, [*headers, ("x-forwarded-for", origin)])] += 1
        i = round_ % valid_callers
        answers["valid"][await faces[round_ % 2](gw, [("authorization", f"Bearer {tokens[i]}"),
                                                       ("x-forwarded-for", address[i])])] += 1
    newcomer = gw.sso.token("aud-new", Role.AUDITOR)
    answers["newcomer_at_locked_address"] = Counter(
        [await _grpc(gw, [("authorization", f"Bearer {newcomer}"), ("x-forwarded-for", NAT)])])
    answers["newcomer_elsewhere"] = Counter(
        [await _http(gw, [("authorization", f"Bearer {newcomer}"),
                          ("x-forwarded-for", "198.51.100.250")])])
    print(f"\nSECURITY lockout fairness: {attackers} attackers x {forgeries} forgeries, "
          f"{valid_callers} valid callers: " + "; ".join(
              f"{group} {dict(codes)}" for group, codes in answers.items()))
    assert set(answers["valid"]) == {"OK"}, answers  # never locked out
    assert answers["attack"]["RESOURCE_EXHAUSTED"] > 0, answers  # the lockout is on
    assert set(answers["attack"]) <= {"UNAUTHENTICATED", "RESOURCE_EXHAUSTED"}, answers
    assert answers["newcomer_elsewhere"] == Counter(["OK"]), answers
    assert answers["newcomer_at_locked_address"] == Counter(["OK"]), answers
    return answers


@pytest.fixture
async def behind_ingress(identity, tmp_path):
    async with gateway_service(
        tmp_path, identity, auth_failures_per_minute=FAILURES_PER_MINUTE,
        trusted_proxy_header="x-forwarded-for", trusted_proxies="127.0.0.1/32",
        rate_limit_per_second=1e6, rate_limit_burst=1e6,
    ) as gw:
        yield gw


async def test_valid_callers_are_never_locked_out_by_attackers(behind_ingress):
    """Fast representative: 3 attackers x 10 forgeries, 6 valid callers."""
    await run_fairness(behind_ingress, attackers=3, forgeries=10, valid_callers=6)


@pytest.mark.security
async def test_valid_callers_are_never_locked_out_by_many_attackers(behind_ingress):
    """10 attackers x 30 forgeries (300 failures), 40 valid callers, both faces."""
    answers = await run_fairness(behind_ingress, attackers=10, forgeries=30, valid_callers=40)
    assert sum(answers["valid"].values()) == 40 + 30
