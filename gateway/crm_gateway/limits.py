"""Per-principal limits: token buckets for call rates and counters for calls in flight.

Each principal has its own bucket, so one caller over its rate is refused at once while every
other caller keeps its full rate. Buckets are plain floats in a dict: a check costs well under
a microsecond, far less than the call it guards.

The Gate reads buckets through `BucketStore`, so the same checks run against this process's
memory (`LocalBuckets`, one replica's own counts) or against Redis shared by every replica
(`crm_gateway.shared_limits`). Calls in flight stay per process: they measure this replica's
load, not the caller's rate.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Protocol


class TokenBuckets:
    """Token buckets keyed by caller: `rate` tokens per second up to `burst`."""

    def __init__(
        self,
        rate: float,
        burst: float,
        *,
        max_keys: int = 100_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError("rate must be positive and burst at least 1")
        self.rate = rate
        self.burst = burst
        self._max_keys = max_keys
        self._clock = clock
        # key → [tokens, time of last refill]
        self._buckets: dict[str, list[float]] = {}

    def _refill(self, key: str, now: float) -> list[float]:
        bucket = self._buckets.get(key)
        if bucket is None:
            if len(self._buckets) >= self._max_keys:
                self._forget_full(now)
            bucket = self._buckets[key] = [self.burst, now]
            return bucket
        bucket[0] = min(self.burst, bucket[0] + (now - bucket[1]) * self.rate)
        bucket[1] = now
        return bucket

    def take(self, key: str, cost: float = 1.0) -> float:
        """Take `cost` tokens; return 0 if allowed, else the seconds until they will be there."""
        bucket = self._refill(key, self._clock())
        if bucket[0] >= cost:
            bucket[0] -= cost
            return 0.0
        return (cost - bucket[0]) / self.rate

    def wait_needed(self, key: str, cost: float = 1.0) -> float:
        """Return the seconds until `cost` tokens are available, without taking them."""
        bucket = self._buckets.get(key)
        if bucket is None:
            return 0.0
        bucket = self._refill(key, self._clock())
        return 0.0 if bucket[0] >= cost else (cost - bucket[0]) / self.rate

    def _forget_full(self, now: float) -> None:
        """Drop buckets that have refilled completely: they hold no state worth keeping."""
        full_after = self.burst / self.rate
        for key in [k for k, (_, last) in self._buckets.items() if now - last >= full_after]:
            del self._buckets[key]
        if len(self._buckets) >= self._max_keys:  # Still full: an attack; start afresh.
            self._buckets.clear()


class BucketStore(Protocol):
    """Token buckets the Gate checks: in memory or shared by every gateway replica."""

    async def take(self, *keys: str) -> list[float]:
        """Take one token from each key's bucket; per key 0 if allowed, else the seconds to
        wait (a refused key loses nothing)."""
        ...

    async def peek(self, *keys: str) -> list[float]:
        """Return per key the seconds until one token is there, taking nothing."""
        ...


class LocalBuckets:
    """`TokenBuckets` of this process as a BucketStore: limits count per replica."""

    def __init__(self, buckets: TokenBuckets) -> None:
        self.buckets = buckets

    async def take(self, *keys: str) -> list[float]:
        """Take a token from each key's bucket (see BucketStore)."""
        return [self.buckets.take(key) for key in keys]

    async def peek(self, *keys: str) -> list[float]:
        """Return each key's wait for a token (see BucketStore)."""
        return [self.buckets.wait_needed(key) for key in keys]


class InFlight:
    """Counts calls in flight per caller and refuses those beyond `limit`."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._counts: dict[str, int] = {}

    def acquire(self, key: str) -> bool:
        """Count one more call for `key`; return False (and count nothing) when at the limit."""
        count = self._counts.get(key, 0)
        if count >= self.limit:
            return False
        self._counts[key] = count + 1
        return True

    def release(self, key: str) -> None:
        """Count one call of `key` as finished."""
        count = self._counts.get(key, 0) - 1
        if count <= 0:
            self._counts.pop(key, None)
        else:
            self._counts[key] = count

    def current(self, key: str) -> int:
        """Return the calls of `key` in flight."""
        return self._counts.get(key, 0)
