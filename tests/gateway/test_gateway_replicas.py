"""Three real gateway processes (`python -m crm_gateway`) sharing a redis-server of the test's
own: a caller over its limit, or a locked-out origin or credential, is refused on every replica
alike; with Redis gone each replica limits on its own, and shares again once Redis is back."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

import grpc
import pytest
from contract_support import details
from gateway_harness import AUDIENCE, ISSUER, Sso
from gateway_redis_harness import RedisServer
from metrics_harness import scrape
from process_harness import ServiceProcess

from crm_runtime.auth import Role
from crm_runtime.testing import IdentityKit, free_port

pytestmark = pytest.mark.process

LIST_AUDIT = "/crm.gateway.v1.GatewayService/ListAuditRecords"  # Served by the gateway itself.
RATE, BURST, FAILURES_PER_MINUTE = 0.2, 30, 6
LOCAL_CHECKS = "crm_gateway_limits_local_checks_total"


@dataclass
class Replicas:
    """The running replicas, their shared Redis and the SSO their callers log in with."""

    gateways: list[ServiceProcess]
    metrics_ports: list[int]
    channels: list[grpc.aio.Channel]
    redis: RedisServer
    sso: Sso

    async def call(self, replica: int, token: str, client_ip: str = "198.51.100.1") -> str:
        """Call ListAuditRecords on one replica from `client_ip` (as the ingress names it);
        return "OK" or the refusal's ErrorInfo reason."""
        call = self.channels[replica].unary_unary(LIST_AUDIT)
        metadata = (("authorization", f"Bearer {token}"), ("x-forwarded-for", client_ip))
        try:
            await call(b"", metadata=metadata, timeout=10)
        except grpc.aio.AioRpcError as error:
            return details(error)[0] or error.code().name
        return "OK"

    async def spend(self, token: str, calls: int) -> list[list[str]]:
        """Make `calls` calls round-robin over the replicas; return each replica's outcomes."""
        outcomes: list[list[str]] = [[] for _ in self.gateways]
        for i in range(calls):
            outcomes[i % len(self.gateways)].append(await self.call(i % len(self.gateways), token))
        return outcomes


@pytest.fixture
async def replicas(identity: IdentityKit, tmp_path) -> AsyncIterator[Replicas]:
    redis = RedisServer(tmp_path / "redis")
    redis.start()
    sso = Sso()
    (tmp_path / "jwks.json").write_text(json.dumps(sso.jwks()))
    metrics_ports = [free_port() for _ in range(3)]
    gateways = [
        ServiceProcess(
            "crm_gateway",
            {
                **identity.env("gateway"),
                "INSTANCE_NAME": f"gateway-{i}",
                "HTTP_PORT": str(free_port()),
                "METRICS_PORT": str(metrics_ports[i]),
                "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/gateway-{i}.db",
                "JWKS_FILE": str(tmp_path / "jwks.json"),
                "JWT_ISSUER": ISSUER,
                "JWT_AUDIENCE": AUDIENCE,
                "REDIS_URL": redis.url,
                "RATE_LIMIT_PER_SECOND": str(RATE),
                "RATE_LIMIT_BURST": str(BURST),
                "AUTH_FAILURES_PER_MINUTE": str(FAILURES_PER_MINUTE),
                "TRUSTED_PROXY_HEADER": "x-forwarded-for",
                "TRUSTED_PROXIES": "127.0.0.1/32",
            },
            tmp_path / f"gateway-{i}.log",
        )
        for i in range(3)
    ]
    for gateway in gateways:
        gateway.start()
    channels: list[grpc.aio.Channel] = []
    try:
        for gateway in gateways:
            await gateway.wait_serving("crm.gateway.v1.GatewayService", timeout=60)
        channels = [grpc.aio.insecure_channel(g.address) for g in gateways]
        yield Replicas(gateways, metrics_ports, channels, redis, sso)
    finally:
        for channel in channels:
            await channel.close()
        for gateway in gateways:
            gateway.terminate()
        redis.stop()


def _admitted(outcomes: list[list[str]]) -> list[int]:
    return [sum(1 for outcome in replica if outcome == "OK") for replica in outcomes]


class TestOneLimitForAllReplicas:
    async def test_caller_over_its_limit_is_refused_on_every_replica(self, replicas):
        """90 calls spread over three replicas admit one burst (30, plus what refills at
        0.2/s meanwhile), not three; afterwards every replica refuses the caller alike. With
        Redis killed each replica limits on its own burst (about 3 x 30 admitted: bounded,
        nobody locked out) and counts those checks in its metrics; once Redis is back, one
        limit again."""
        token = replicas.sso.token("aud-1", Role.AUDITOR)
        started = time.monotonic()
        outcomes = await replicas.spend(token, 3 * BURST)
        refill = RATE * (time.monotonic() - started)
        admitted = _admitted(outcomes)
        print(f"\nshared: admitted per replica {admitted}, total {sum(admitted)} of 90")
        assert BURST <= sum(admitted) <= BURST + refill + 1
        assert {o for replica in outcomes for o in replica} == {"OK", "RATE_LIMITED"}
        assert [await replicas.call(i, token) for i in range(3)] == ["RATE_LIMITED"] * 3

        replicas.redis.stop()
        started = time.monotonic()
        local = _admitted(await replicas.spend(replicas.sso.token("aud-2", Role.AUDITOR), 120))
        refill = RATE * (time.monotonic() - started)
        print(f"redis down: admitted per replica {local}, total {sum(local)} of 120")
        assert all(BURST <= count <= BURST + refill + 1 for count in local)
        for port, gateway in zip(replicas.metrics_ports, replicas.gateways, strict=True):
            assert (await scrape(port)).total(LOCAL_CHECKS) > 0
            assert "limits counted by this replica alone" in gateway.log_path.read_text()

        replicas.redis.start()
        await asyncio.sleep(1.5)  # Past the replicas' retry interval (1 s).
        started = time.monotonic()
        again = _admitted(await replicas.spend(replicas.sso.token("aud-3", Role.AUDITOR), 60))
        refill = RATE * (time.monotonic() - started)
        print(f"redis back: admitted per replica {again}, total {sum(again)} of 60")
        assert BURST <= sum(again) <= BURST + refill + 1


class TestLockoutOnEveryReplica:
    async def test_locked_origin_and_credential_are_locked_everywhere(self, replicas):
        """Six failed logins (the limit per minute) spread over the replicas lock the origin
        on all three: further forged tokens from it are refused as exhausted everywhere, while
        a valid caller from that origin is still served. A forged credential repeated from
        fresh addresses is locked on every replica after its six failures too."""
        attacker = "203.0.113.9"
        forged = [
            await replicas.call(i % 3, f"forged-{i}", client_ip=attacker) for i in range(15)
        ]
        print(f"\norigin attack: {forged}")
        assert forged[:FAILURES_PER_MINUTE] == ["CREDENTIALS_INVALID"] * FAILURES_PER_MINUTE
        assert set(forged[FAILURES_PER_MINUTE:]) == {"AUTHENTICATION_ATTEMPTS_EXHAUSTED"}
        valid = replicas.sso.token("aud-1", Role.AUDITOR)
        assert [await replicas.call(i, valid, client_ip=attacker) for i in range(3)] == ["OK"] * 3

        same = [
            await replicas.call(i % 3, "forged-same", client_ip=f"192.0.2.{i + 1}")
            for i in range(12)
        ]
        print(f"credential attack: {same}")
        assert same[:FAILURES_PER_MINUTE] == ["CREDENTIALS_INVALID"] * FAILURES_PER_MINUTE
        assert set(same[FAILURES_PER_MINUTE:]) == {"AUTHENTICATION_ATTEMPTS_EXHAUSTED"}
