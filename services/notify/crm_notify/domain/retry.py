"""Delivery statuses and the retry policy for failed delivery attempts.

Backoff is "full jitter" as in gRPC's retry design (gRFC A6): the delay before attempt n+1 is
uniform in [0, min(cap, base * factor^(n-1))], which spreads retries of many failed messages
instead of having them hit a recovering provider together. Randomness comes from the caller's
`random.Random`, so tests seed it and results are reproducible.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Final, Literal


class DeliveryStatus(StrEnum):
    """Lifecycle of one delivery attempt series for one message on one channel."""

    QUEUED = "queued"
    SENT = "sent"
    DELIVERED = "delivered"
    FAILED = "failed"
    EXPIRED = "expired"
    DEAD_LETTER = "dead_letter"


TERMINAL_STATUSES: Final[frozenset[DeliveryStatus]] = frozenset(
    {DeliveryStatus.DELIVERED, DeliveryStatus.EXPIRED, DeliveryStatus.DEAD_LETTER}
)
# FAILED is the resting state between attempts: it goes back to QUEUED for a retry or ends.
# SENT → FAILED covers a provider that accepted and later reported a bounce.
ALLOWED_TRANSITIONS: Final[dict[DeliveryStatus, frozenset[DeliveryStatus]]] = {
    DeliveryStatus.QUEUED: frozenset(
        {DeliveryStatus.SENT, DeliveryStatus.DELIVERED, DeliveryStatus.FAILED,
         DeliveryStatus.EXPIRED, DeliveryStatus.DEAD_LETTER}
    ),
    DeliveryStatus.SENT: frozenset({DeliveryStatus.DELIVERED, DeliveryStatus.FAILED}),
    DeliveryStatus.FAILED: frozenset(
        {DeliveryStatus.QUEUED, DeliveryStatus.EXPIRED, DeliveryStatus.DEAD_LETTER}
    ),
    DeliveryStatus.DELIVERED: frozenset(),
    DeliveryStatus.EXPIRED: frozenset(),
    DeliveryStatus.DEAD_LETTER: frozenset(),
}


def can_transition(current: DeliveryStatus, target: DeliveryStatus) -> bool:
    """Return whether a delivery may move from `current` to `target`."""
    return target in ALLOWED_TRANSITIONS[current]


def next_attempt_delay(
    attempt: int,
    *,
    base: float = 1.0,
    factor: float = 2.0,
    cap: float = 300.0,
    rng: random.Random,
) -> float:
    """Return seconds to wait after failed attempt number `attempt` (1-based), fully jittered."""
    if attempt < 1:
        raise ValueError("attempt numbers start at 1")
    if base <= 0 or cap <= 0 or factor < 1:
        raise ValueError("base and cap must be positive and factor at least 1")
    try:
        ceiling = min(cap, base * factor ** (attempt - 1))
    except OverflowError:
        # A large attempt number overflows float; the cap is the answer long before that.
        ceiling = cap
    return rng.uniform(0.0, ceiling)


@dataclass(frozen=True)
class Outcome:
    """What happens after a failed attempt: retry at `at`, or stop with `reason`."""

    kind: Literal["retry", "dead_letter", "expired"]
    at: datetime | None = None
    reason: str | None = None


@dataclass(frozen=True)
class RetryPolicy:
    """Attempt budget, backoff shape and time-to-live for one channel's deliveries."""

    max_attempts: int
    base: float
    cap: float
    ttl: timedelta
    factor: float = 2.0

    def __post_init__(self) -> None:
        """Reject policies that could never deliver or would retry forever."""
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if self.base <= 0 or self.cap < self.base or self.factor < 1:
            raise ValueError("need 0 < base <= cap and factor >= 1")
        if self.ttl <= timedelta(0):
            raise ValueError("ttl must be positive")

    def after_failure(
        self,
        *,
        attempt: int,
        now: datetime,
        created: datetime,
        retryable: bool,
        rng: random.Random,
    ) -> Outcome:
        """Decide the next step after attempt number `attempt` failed at `now`.

        A permanent failure goes to the dead-letter queue at once; a message past its TTL
        expires (also when the next retry would land past it); an exhausted attempt budget
        dead-letters.
        """
        if attempt < 1:
            raise ValueError("attempt numbers start at 1")
        if not retryable:
            return Outcome("dead_letter", reason="permanent failure")
        deadline = created + self.ttl
        if now >= deadline:
            return Outcome("expired", reason=f"ttl of {self.ttl} elapsed")
        if attempt >= self.max_attempts:
            return Outcome("dead_letter", reason=f"gave up after {attempt} attempts")
        delay = next_attempt_delay(
            attempt, base=self.base, factor=self.factor, cap=self.cap, rng=rng
        )
        at = now + timedelta(seconds=delay)
        if at >= deadline:
            return Outcome("expired", reason=f"next attempt would pass the ttl of {self.ttl}")
        return Outcome("retry", at=at)
