"""Assembly of the client service: store, outbox, relay, servicers, background jobs."""

from __future__ import annotations

import base64
from pathlib import Path

import grpc

from crm.client.v1 import client_service_pb2_grpc
from crm.events.v1 import event_pb2_grpc
from crm_client.config import ClientSettings
from crm_client.context import ClientContext
from crm_client.events import handlers
from crm_client.models import ClientRow
from crm_client.segments import seed_builtin_segments
from crm_client.servicer import ClientServicer
from crm_runtime.crypto import FieldCipher, decode_key
from crm_runtime.db import Database
from crm_runtime.inbox import EventSink
from crm_runtime.janitor import janitor
from crm_runtime.migrations import upgrade_head
from crm_runtime.outbox import Outbox
from crm_runtime.outbox_relay import Relay
from crm_runtime.pagination import PageTokens
from crm_runtime.readcache import ReadCache
from crm_runtime.server import ServiceDefinition, build_signer

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
SERVICE_NAMES = ("crm.client.v1.ClientService", "crm.events.v1.EventSinkService")


def migrate(settings: ClientSettings) -> None:
    """Bring the store to the newest schema."""
    Database(settings.database_url)  # Creates the SQLite folder when needed.
    upgrade_head(MIGRATIONS, settings.database_url)


async def build(settings: ClientSettings) -> tuple[ServiceDefinition, ClientContext]:
    """Return the service definition and its context (tests use the context's clock)."""
    database = Database(settings.database_url)
    subscribers = settings.subscribers()
    outbox = Outbox("client", subscribers)
    cipher = FieldCipher(
        decode_key(settings.pii_encryption_key, name="PII_ENCRYPTION_KEY"),
        decode_key(settings.pii_index_key, name="PII_INDEX_KEY"),
    )
    tokens = PageTokens(
        base64.b64decode(settings.page_token_key) if settings.page_token_key else None
    )
    ctx = ClientContext(
        db=database,
        cipher=cipher,
        outbox=outbox,
        tokens=tokens,
        client_cache=ReadCache(ClientRow, "id", enabled=database.is_sqlite and settings.read_cache),
    )
    async with database.write() as session:
        await seed_builtin_segments(session, now=ctx.clock())
    relay = Relay(
        database=database,
        outbox=outbox,
        addresses=subscribers,
        signer=build_signer(settings),
        interval=settings.relay_interval_seconds,
        batch_size=settings.relay_batch_size,
    )

    def register(server: grpc.aio.Server) -> None:
        client_service_pb2_grpc.add_ClientServiceServicer_to_server(ClientServicer(ctx), server)
        event_pb2_grpc.add_EventSinkServiceServicer_to_server(
            EventSink(database, handlers(ctx)), server
        )

    async def stop_relay() -> None:
        await relay.stop()
        await relay.deliver_once()
        await relay.close()
        if ctx.client_cache is not None:
            ctx.client_cache.close()

    definition = ServiceDefinition(
        name="client",
        settings=settings,
        database=database,
        service_names=SERVICE_NAMES,
        register=register,
        background=[relay.run, janitor(database, relay)],
        on_stop=[stop_relay],
    )
    return definition, ctx
