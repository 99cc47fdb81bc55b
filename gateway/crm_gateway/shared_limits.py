"""Token buckets in Redis, shared by every gateway replica (REDIS_URL).

In memory, each replica counts its own calls, so a caller spread over three replicas gets three
times its rate and a guesser three times its attempts. Here every replica reads and writes the
same buckets: one Lua script call per check (refill, compare, take, expire, atomically inside
Redis, on Redis's own clock so replicas with skewed clocks agree). Keys expire once a bucket
would have refilled, so idle callers leave nothing behind.

When Redis cannot be reached the limits fall back to this replica's own in-memory buckets for
`retry_seconds` before Redis is tried again. A bank must neither open the door wide (no limit)
nor lock everyone out (refuse all): counting locally keeps every caller under its limit per
replica, so at worst N replicas admit N limits. The switch is logged once each way and every
local decision is counted (`crm.gateway.limits.local_checks`), so an operator sees it.
"""

from __future__ import annotations

import time

from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from crm_gateway.config import GatewaySettings
from crm_gateway.limits import BucketStore, LocalBuckets, TokenBuckets
from crm_runtime.logging import get_logger
from crm_runtime.metrics import counter

log = get_logger("gateway.limits")
_local_checks = counter(
    "crm.gateway.limits.local_checks",
    unit="{check}",
    description="Limit checks decided by this replica alone because Redis was unreachable",
)

# KEYS: the buckets; ARGV: rate per second, burst, 1 to take a token or 0 to peek. Returns one
# wait in seconds per key, as strings (Redis would truncate Lua numbers to integers).
_BUCKETS_LUA = """
local rate, burst, taking = tonumber(ARGV[1]), tonumber(ARGV[2]), ARGV[3] == '1'
local clock = redis.call('TIME')
local now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
local ttl = math.ceil(burst / rate * 1000) + 1000
local waits = {}
for i, key in ipairs(KEYS) do
  local state = redis.call('HMGET', key, 'tokens', 'at')
  local tokens = tonumber(state[1]) or burst
  local at = tonumber(state[2]) or now
  tokens = math.min(burst, tokens + math.max(0, now - at) * rate)
  local wait = 0
  if tokens >= 1 then
    if taking then tokens = tokens - 1 end
  else
    wait = (1 - tokens) / rate
  end
  if taking then
    redis.call('HSET', key, 'tokens', string.format('%.6f', tokens),
               'at', string.format('%.6f', now))
    redis.call('PEXPIRE', key, ttl)
  end
  waits[i] = string.format('%.6f', wait)
end
return waits
"""


class RedisBuckets:
    """Token buckets named `prefix` + key in Redis, with this replica's buckets as fallback."""

    def __init__(
        self,
        client: Redis,
        rate: float,
        burst: float,
        *,
        prefix: str,
        retry_seconds: float = 1.0,
    ) -> None:
        self._client = client
        self._script = client.register_script(_BUCKETS_LUA)
        self._args = (repr(float(rate)), repr(float(burst)))
        self._prefix = prefix
        self._label = {"limit": prefix.rstrip(":").rpartition(":")[2]}
        self.local = LocalBuckets(TokenBuckets(rate, burst))
        self._retry_seconds = retry_seconds
        self._local_until = 0.0  # Monotonic time before which Redis is not tried again.

    async def take(self, *keys: str) -> list[float]:
        """Take a token from each shared bucket (see BucketStore)."""
        waits = await self._run(keys, "1")
        return await self.local.take(*keys) if waits is None else waits

    async def peek(self, *keys: str) -> list[float]:
        """Return each shared bucket's wait for a token (see BucketStore)."""
        waits = await self._run(keys, "0")
        return await self.local.peek(*keys) if waits is None else waits

    async def _run(self, keys: tuple[str, ...], taking: str) -> list[float] | None:
        """Run the script; None when Redis is unreachable (the caller decides locally)."""
        if self._local_until and time.monotonic() < self._local_until:
            _local_checks.add(1, self._label)
            return None
        try:
            waits = await self._script(
                keys=[self._prefix + key for key in keys], args=[*self._args, taking]
            )
        except (RedisError, OSError) as exc:  # TimeoutError is an OSError.
            if not self._local_until:
                log.warning(
                    "redis unreachable: limits counted by this replica alone",
                    limit=self._label["limit"],
                    error=str(exc) or type(exc).__name__,
                )
            self._local_until = time.monotonic() + self._retry_seconds
            _local_checks.add(1, self._label)
            return None
        if self._local_until:
            log.info("redis reachable again: limits shared", limit=self._label["limit"])
            self._local_until = 0.0
        return [float(wait) for wait in waits]


class Limits:
    """The Gate's two bucket stores and the Redis connection behind them, if any."""

    def __init__(self, rates: BucketStore, auth_failures: BucketStore, client: Redis | None):
        self.rates = rates
        self.auth_failures = auth_failures
        self._client = client

    async def close(self) -> None:
        """Close the Redis connection pool."""
        if self._client is not None:
            await self._client.aclose()


def build_limits(settings: GatewaySettings, *, retry_seconds: float = 1.0) -> Limits:
    """Return call-rate and failed-authentication buckets: in Redis when REDIS_URL is set
    (shared by every replica), in this process's memory otherwise."""
    rate, burst = settings.rate_limit_per_second, settings.rate_limit_burst
    failures = (settings.auth_failures_per_minute / 60, settings.auth_failures_per_minute)
    if not settings.redis_url:
        return Limits(
            LocalBuckets(TokenBuckets(rate, burst)), LocalBuckets(TokenBuckets(*failures)), None
        )
    timeout_seconds = settings.redis_timeout_seconds
    # Short timeouts and one immediate retry (a pooled connection that went stale when Redis
    # restarted): redis-py's default of ten retries with back-off would hold calls up for
    # seconds when Redis is gone; past the timeout the call is decided locally instead.
    client = Redis.from_url(
        settings.redis_url,
        socket_timeout=timeout_seconds,
        socket_connect_timeout=timeout_seconds,
        retry=Retry(NoBackoff(), 1),
        decode_responses=True,
    )
    limits = Limits(
        RedisBuckets(client, rate, burst, prefix="crm:gateway:rate:", retry_seconds=retry_seconds),
        RedisBuckets(
            client, *failures, prefix="crm:gateway:auth_failures:", retry_seconds=retry_seconds
        ),
        client,
    )
    log.info("limits shared through redis", timeout_seconds=timeout_seconds)
    return limits
