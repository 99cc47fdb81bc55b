"""The notification service's background workers, built from its context.

The workers hold no state that matters between passes (only counters for logs and a
concurrency limit): what they act on lives in the store and the context. So the app builds
one set to run in the background, and a test that moves the clock by hand builds its own to
run single passes (`Workers.of(ctx).delivery.run_once()`).
"""

from __future__ import annotations

from dataclasses import dataclass

from crm_notify.campaigns import CampaignDispatcher
from crm_notify.context import NotifyContext
from crm_notify.delivery import DeliveryWorker
from crm_notify.escalation_worker import Escalator
from crm_runtime.server import BackgroundTask


@dataclass(frozen=True)
class Workers:
    """Delivery, campaign fan-out and escalation."""

    delivery: DeliveryWorker
    campaigns: CampaignDispatcher
    escalator: Escalator

    @classmethod
    def of(cls, ctx: NotifyContext) -> Workers:
        """Return a fresh set of workers over `ctx`."""
        return cls(DeliveryWorker(ctx, ctx.senders), CampaignDispatcher(ctx), Escalator(ctx))

    def tasks(self) -> list[BackgroundTask]:
        """Return the loops to run in the background until the service stops."""
        return [self.delivery.run, self.campaigns.run, self.escalator.run]
