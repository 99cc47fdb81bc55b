"""The notification service as the kit sees it: context, servicer, inbox, seeds, workers."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from crm.notify.v1 import notify_service_pb2_grpc
from crm_notify.builtin import seed_builtin_templates
from crm_notify.config import NotifySettings
from crm_notify.context import NotifyContext
from crm_notify.directory import ClientDirectory
from crm_notify.events import handlers
from crm_notify.push_wakeups import PushWakeupBridge
from crm_notify.queue_metrics import DeliveryQueueGauges
from crm_notify.retention import delivered_message_purge
from crm_notify.senders import ChannelSenders
from crm_notify.servicer import NotifyServicer
from crm_notify.workers import Workers
from crm_runtime import kit
from crm_runtime.server import BackgroundTask, ServiceDefinition

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


async def _context(parts: kit.Parts[NotifySettings]) -> NotifyContext:
    directory = ClientDirectory(parts.settings.client_addr, parts.signer)
    senders = ChannelSenders(parts.settings, directory)
    return NotifyContext(
        settings=parts.settings,
        db=parts.database,
        outbox=parts.outbox,
        tokens=parts.tokens,
        directory=directory,
        senders=senders,
        channels_available=senders.available,
    )


def _workers(ctx: NotifyContext, _: kit.Parts[NotifySettings]) -> Sequence[BackgroundTask]:
    tasks: list[BackgroundTask] = [*Workers.of(ctx).tasks(), DeliveryQueueGauges(ctx).run]
    settings = ctx.settings
    if settings.push_wakeups_enabled:
        bridge = PushWakeupBridge(ctx.hub, settings.nats_url, name=f"{settings.service_name}-push")
        ctx.hub.forward = bridge.announce
        tasks.append(bridge.run)
    return tasks


def _close(ctx: NotifyContext) -> Sequence[kit.StopHook]:
    return [ctx.senders.close, ctx.directory.close]


SPEC = kit.ServiceSpec(
    name="notify",
    settings=NotifySettings,
    migrations=MIGRATIONS,
    service="crm.notify.v1.NotificationService",
    context=_context,
    servicers=[
        kit.Servicer(
            notify_service_pb2_grpc.add_NotificationServiceServicer_to_server, NotifyServicer
        )
    ],
    event_handlers=handlers,
    seeds=[seed_builtin_templates],
    workers=_workers,
    on_close=_close,
    purges=lambda ctx: [delivered_message_purge(ctx.settings.message_retention_days)],
)


def migrate(settings: NotifySettings) -> None:
    """Bring the store to the newest schema."""
    kit.migrate(SPEC, settings)


async def build(settings: NotifySettings) -> tuple[ServiceDefinition, NotifyContext]:
    """Return the service definition and its context (tests use its clock)."""
    return await kit.build(SPEC, settings)
