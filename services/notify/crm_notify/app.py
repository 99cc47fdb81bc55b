"""Assembly of the notification service: store, outbox, servicers, inbox, workers."""

from __future__ import annotations

import base64
from pathlib import Path

import grpc

from crm.events.v1 import event_pb2_grpc
from crm.notify.v1 import notify_service_pb2_grpc
from crm_notify.builtin import seed_builtin_templates
from crm_notify.campaigns import CampaignDispatcher
from crm_notify.config import NotifySettings
from crm_notify.context import NotifyContext
from crm_notify.delivery import DeliveryWorker
from crm_notify.directory import ClientDirectory
from crm_notify.escalation_worker import Escalator
from crm_notify.events import handlers
from crm_notify.senders import ChannelSenders
from crm_notify.servicer import NotifyServicer
from crm_runtime.db import Database
from crm_runtime.inbox import EventSink
from crm_runtime.janitor import janitor
from crm_runtime.migrations import upgrade_head
from crm_runtime.outbox import Outbox
from crm_runtime.outbox_relay import Relay
from crm_runtime.pagination import PageTokens
from crm_runtime.server import ServiceDefinition, build_signer

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
SERVICE_NAMES = ("crm.notify.v1.NotificationService", "crm.events.v1.EventSinkService")


def migrate(settings: NotifySettings) -> None:
    """Bring the store to the newest schema."""
    Database(settings.database_url)  # Creates the SQLite folder when needed.
    upgrade_head(MIGRATIONS, settings.database_url)


async def build(settings: NotifySettings) -> tuple[ServiceDefinition, NotifyContext]:
    """Return the service definition and its context (tests use its clock and workers)."""
    database = Database(settings.database_url)
    subscribers = settings.subscribers()
    outbox = Outbox("notify", subscribers)
    signer = build_signer(settings)
    directory = ClientDirectory(settings.client_addr, signer)
    senders = ChannelSenders(settings, directory)
    tokens = PageTokens(
        base64.b64decode(settings.page_token_key) if settings.page_token_key else None
    )
    ctx = NotifyContext(
        settings=settings,
        db=database,
        outbox=outbox,
        tokens=tokens,
        directory=directory,
        channels_available=senders.available,
    )
    ctx.delivery = DeliveryWorker(ctx, senders)
    ctx.campaigns = CampaignDispatcher(ctx)
    ctx.escalator = Escalator(ctx)
    async with database.write() as session:
        await seed_builtin_templates(session, now=ctx.clock())
    relay = Relay(
        database=database,
        outbox=outbox,
        addresses=subscribers,
        signer=signer,
        interval=settings.relay_interval_seconds,
        batch_size=settings.relay_batch_size,
    )

    def register(server: grpc.aio.Server) -> None:
        notify_service_pb2_grpc.add_NotificationServiceServicer_to_server(
            NotifyServicer(ctx), server
        )
        event_pb2_grpc.add_EventSinkServiceServicer_to_server(
            EventSink(database, handlers(ctx)), server
        )

    async def stop() -> None:
        await relay.stop()
        await relay.deliver_once()
        await relay.close()
        await senders.close()
        await directory.close()

    definition = ServiceDefinition(
        name="notify",
        settings=settings,
        database=database,
        service_names=SERVICE_NAMES,
        register=register,
        background=[
            relay.run,
            ctx.delivery.run,
            ctx.campaigns.run,
            ctx.escalator.run,
            janitor(database, relay),
        ],
        on_stop=[stop],
    )
    return definition, ctx
