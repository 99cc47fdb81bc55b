"""Everything the notification RPCs and workers share, built once at startup."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from crm_notify.config import NotifySettings
from crm_notify.directory import ClientDirectory
from crm_notify.domain.retry import RetryPolicy
from crm_notify.hub import PushHub
from crm_notify.senders import ChannelSenders
from crm_notify.templates_store import TemplateCache
from crm_runtime.db import Database
from crm_runtime.outbox import Outbox
from crm_runtime.pagination import PageTokens


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class NotifyContext:
    """Dependencies of the notification service: state only, never the workers that use it.

    `clock` is what every rule (quiet hours, caps, retries, escalation) reads as "now";
    tests replace it to move time. Production never does.
    """

    settings: NotifySettings
    db: Database
    outbox: Outbox
    tokens: PageTokens
    directory: ClientDirectory
    # The provider adapters (SMS, chat, email); the delivery worker sends through them.
    senders: ChannelSenders
    channels_available: frozenset[str]
    hub: PushHub = field(default_factory=PushHub)
    templates: TemplateCache = field(default_factory=TemplateCache)
    clock: Callable[[], datetime] = _utc_now
    rng: random.Random = field(default_factory=random.Random)
    # Set when there may be work, so workers start at once instead of at their next poll.
    delivery_wakeup: asyncio.Event = field(default_factory=asyncio.Event)
    campaign_wakeup: asyncio.Event = field(default_factory=asyncio.Event)
    # Messages written to push streams since start (tests watch it to prove backpressure).
    push_sent: int = 0

    @property
    def retry_policy(self) -> RetryPolicy:
        """Return the retry policy for provider channels."""
        s = self.settings
        return RetryPolicy(
            max_attempts=s.retry_max_attempts,
            base=s.retry_base_seconds,
            cap=max(s.retry_cap_seconds, s.retry_base_seconds),
            ttl=self.message_ttl,
        )

    @property
    def message_ttl(self) -> timedelta:
        """Return how long an undelivered provider message stays worth sending."""
        return timedelta(hours=self.settings.message_ttl_hours)
