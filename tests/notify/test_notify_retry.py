"""Tests for full-jitter backoff, the retry policy and delivery status transitions."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crm_notify.domain.retry import (
    DeliveryStatus,
    RetryPolicy,
    can_transition,
    next_attempt_delay,
)

T0 = datetime(2026, 11, 28, 2, 0, tzinfo=UTC)
POLICY = RetryPolicy(max_attempts=5, base=1.0, cap=60.0, ttl=timedelta(hours=1))


class TestNextAttemptDelay:
    @settings(max_examples=200, deadline=None)
    @given(attempt=st.integers(1, 5000), seed=st.integers(0, 2**32))
    def test_delay_within_full_jitter_bounds(self, attempt, seed):
        """The delay lies in [0, min(cap, base * factor^(attempt-1))], even for huge attempts."""
        rng = random.Random(seed)
        delay = next_attempt_delay(attempt, base=0.5, factor=3.0, cap=120.0, rng=rng)
        ceiling = 120.0 if attempt > 10 else min(120.0, 0.5 * 3.0 ** (attempt - 1))
        assert 0.0 <= delay <= ceiling

    def test_seeded_rng_is_reproducible(self):
        """The same seed gives the same delays."""
        first = [next_attempt_delay(n, rng=random.Random(7)) for n in range(1, 8)]
        again = [next_attempt_delay(n, rng=random.Random(7)) for n in range(1, 8)]
        assert first == again

    def test_delays_spread_up_to_the_ceiling(self):
        """Jitter uses the whole range: for attempt 4 (ceiling 8 s) delays span most of [0, 8]."""
        rng = random.Random(1)
        delays = [next_attempt_delay(4, rng=rng) for _ in range(500)]
        assert max(delays) <= 8.0
        assert min(delays) < 0.5 and max(delays) > 7.5

    def test_rejects_bad_arguments(self):
        """Attempt numbers start at 1 and the shape must be sane."""
        with pytest.raises(ValueError):
            next_attempt_delay(0, rng=random.Random(0))
        with pytest.raises(ValueError):
            next_attempt_delay(1, factor=0.5, rng=random.Random(0))


class TestRetryPolicy:
    def test_retryable_failure_is_retried_later(self):
        """A transient failure schedules a retry no later than the backoff ceiling."""
        now = T0 + timedelta(seconds=10)
        outcome = POLICY.after_failure(attempt=3, now=now, created=T0, retryable=True,
                                       rng=random.Random(3))
        assert outcome.kind == "retry"
        assert outcome.at is not None and now <= outcome.at <= now + timedelta(seconds=4)

    def test_permanent_failure_dead_letters_at_once(self):
        """A non-retryable failure goes to the dead-letter queue on the first attempt."""
        outcome = POLICY.after_failure(attempt=1, now=T0, created=T0, retryable=False,
                                       rng=random.Random(0))
        assert (outcome.kind, outcome.reason) == ("dead_letter", "permanent failure")

    def test_exhausted_attempts_dead_letter(self):
        """The max_attempts-th failure is the last."""
        outcome = POLICY.after_failure(attempt=5, now=T0 + timedelta(minutes=1), created=T0,
                                       retryable=True, rng=random.Random(0))
        assert (outcome.kind, outcome.reason) == ("dead_letter", "gave up after 5 attempts")

    def test_past_ttl_expires(self):
        """A failure after the TTL expires the message."""
        outcome = POLICY.after_failure(attempt=1, now=T0 + timedelta(hours=1), created=T0,
                                       retryable=True, rng=random.Random(0))
        assert outcome.kind == "expired"

    def test_retry_that_would_pass_ttl_expires(self):
        """If the next attempt would land after the TTL, expire now instead of waiting."""
        policy = RetryPolicy(max_attempts=10, base=600.0, cap=600.0, ttl=timedelta(hours=1))
        now = T0 + timedelta(minutes=59, seconds=59)
        rng = random.Random(5)  # Any draw above 1 s lands past the deadline.
        outcome = policy.after_failure(attempt=2, now=now, created=T0, retryable=True, rng=rng)
        assert outcome.kind == "expired"
        assert outcome.reason is not None and "ttl" in outcome.reason

    def test_simulated_outage_reaches_a_terminal_state(self):
        """Retrying a provider that never recovers ends in dead_letter within max_attempts."""
        rng = random.Random(11)
        now, attempt = T0, 1
        while True:
            outcome = POLICY.after_failure(attempt=attempt, now=now, created=T0, retryable=True,
                                           rng=rng)
            if outcome.kind != "retry":
                break
            assert outcome.at is not None and outcome.at >= now
            now, attempt = outcome.at, attempt + 1
        assert (outcome.kind, attempt) == ("dead_letter", 5)

    def test_invalid_policies(self):
        """Policies that could never deliver are rejected."""
        with pytest.raises(ValueError):
            RetryPolicy(max_attempts=0, base=1, cap=1, ttl=timedelta(hours=1))
        with pytest.raises(ValueError):
            RetryPolicy(max_attempts=3, base=10, cap=1, ttl=timedelta(hours=1))
        with pytest.raises(ValueError):
            RetryPolicy(max_attempts=3, base=1, cap=10, ttl=timedelta(0))


class TestDeliveryStatus:
    def test_values(self):
        """Statuses are the stored strings."""
        assert [s.value for s in DeliveryStatus] == [
            "queued", "sent", "delivered", "failed", "expired", "dead_letter"]
        assert DeliveryStatus("dead_letter") is DeliveryStatus.DEAD_LETTER

    def test_transitions(self):
        """Retries go failed → queued; terminal states never change."""
        assert can_transition(DeliveryStatus.QUEUED, DeliveryStatus.SENT)
        assert can_transition(DeliveryStatus.FAILED, DeliveryStatus.QUEUED)
        assert can_transition(DeliveryStatus.SENT, DeliveryStatus.FAILED)
        assert not can_transition(DeliveryStatus.DELIVERED, DeliveryStatus.FAILED)
        assert not can_transition(DeliveryStatus.DEAD_LETTER, DeliveryStatus.QUEUED)
        assert not can_transition(DeliveryStatus.EXPIRED, DeliveryStatus.SENT)
