"""Token buckets in Redis (crm_gateway.shared_limits) against a real redis-server of the test's
own: shared between replicas, atomic, expiring, and what happens when Redis goes away."""

from __future__ import annotations

import asyncio

import pytest
from gateway_redis_harness import RedisServer
from redis.asyncio import Redis
from structlog.testing import capture_logs

from crm_gateway.shared_limits import RedisBuckets

PREFIX = "crm:gateway:rate:"


@pytest.fixture
def redis_server(tmp_path):
    server = RedisServer(tmp_path / "redis")
    server.start()
    yield server
    server.stop()


def _replica(server: RedisServer, rate: float, burst: float, **options: float) -> RedisBuckets:
    """Buckets as one gateway replica holds them: its own connection to the shared Redis."""
    client = Redis.from_url(server.url, decode_responses=True, socket_timeout=0.5)
    return RedisBuckets(client, rate, burst, prefix=PREFIX, **options)


class TestSharedBuckets:
    async def test_replicas_spend_one_bucket(self, redis_server):
        """Three replicas alternating takes for one caller admit its burst once in total (5 of
        12), not once each; the refusals name the wait for the next token, at 0.01/s."""
        replicas = [_replica(redis_server, 0.01, 5) for _ in range(3)]
        waits = [(await replicas[i % 3].take("rm-1"))[0] for i in range(12)]
        assert waits[:5] == [0.0] * 5
        assert all(wait == pytest.approx(100.0, abs=1.0) for wait in waits[5:])
        assert (await replicas[0].take("rm-2")) == [0.0]  # Another caller is untouched.

    async def test_concurrent_takes_never_overspend(self, redis_server):
        """200 takes at once from four replicas admit exactly the burst of 50: the Lua script
        refills, compares and takes atomically, so no two replicas spend the same token."""
        replicas = [_replica(redis_server, 0.001, 50) for _ in range(4)]
        results = await asyncio.gather(
            *(replicas[i % 4].take("system/core-banking") for i in range(200))
        )
        assert sum(1 for (wait,) in results if wait == 0.0) == 50

    async def test_peek_takes_nothing_and_keys_expire(self, redis_server):
        """Peeking a fresh key writes nothing; a taken bucket expires once it would have
        refilled (burst / rate = 2 s, plus a second), so idle callers leave no keys."""
        buckets = _replica(redis_server, 2.5, 5)
        keys = redis_server.client()
        assert await buckets.peek("origin-a", "origin-b") == [0.0, 0.0]
        assert keys.exists(PREFIX + "origin-a") == 0
        await buckets.take("origin-a", "origin-b")
        assert 2000 < keys.pttl(PREFIX + "origin-a") <= 3000
        assert float(keys.hget(PREFIX + "origin-b", "tokens")) == pytest.approx(4.0, abs=0.1)


class TestRedisDown:
    async def test_falls_back_to_local_buckets_and_back(self, redis_server):
        """With Redis killed, the replica keeps limiting on its own buckets (burst 3: three
        admitted, the fourth refused — neither wide open nor everyone locked out), logs the
        switch once, and shares the buckets in Redis again once it is back."""
        buckets = _replica(redis_server, 0.01, 3, retry_seconds=0.2)
        assert await buckets.take("rm-1") == [0.0]
        redis_server.stop()
        with capture_logs() as logs:
            waits = [(await buckets.take("rm-1"))[0] for _ in range(4)]
        assert waits[:3] == [0.0] * 3 and waits[3] > 0
        warnings = [e for e in logs if e["log_level"] == "warning"]
        assert [e["event"] for e in warnings] == [
            "redis unreachable: limits counted by this replica alone"
        ]
        redis_server.start()  # Same port, empty: a restarted Redis has lost its buckets.
        await asyncio.sleep(0.3)
        with capture_logs() as logs:
            assert await buckets.take("rm-2") == [0.0]
        assert [e["event"] for e in logs] == ["redis reachable again: limits shared"]
        assert redis_server.client().exists(PREFIX + "rm-2") == 1
