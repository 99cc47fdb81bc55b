"""Assembly of the risk service: store, outbox, relay, inbox, monitoring, background tasks."""

from __future__ import annotations

import asyncio
import base64
import gc
from pathlib import Path

import grpc

from crm.events.v1 import event_pb2_grpc
from crm.risk.v1 import risk_service_pb2_grpc
from crm_risk.config import RiskSettings
from crm_risk.context import RiskContext
from crm_risk.events import handlers
from crm_risk.monitor.pipeline import MonitoringPipeline
from crm_risk.monitor.wal import WalCheckpointer
from crm_risk.review import review_loop
from crm_risk.ruleset_config import current_config, ruleset_from
from crm_risk.servicer import RiskServicer
from crm_runtime.crypto import FieldCipher, decode_key
from crm_runtime.db import Database
from crm_runtime.gcsteward import FullCollections
from crm_runtime.inbox import EventSink
from crm_runtime.migrations import upgrade_head
from crm_runtime.outbox import Outbox
from crm_runtime.outbox_relay import Relay
from crm_runtime.pagination import PageTokens
from crm_runtime.server import BackgroundTask, ServiceDefinition, build_signer

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
# RiskService first: Kubernetes readiness probes ask for it by name.
SERVICE_NAMES = ("crm.risk.v1.RiskService", "crm.events.v1.EventSinkService")


def migrate(settings: RiskSettings) -> None:
    """Bring the store to the newest schema."""
    Database(settings.database_url)  # Creates the SQLite folder when needed.
    upgrade_head(MIGRATIONS, settings.database_url)


async def build(
    settings: RiskSettings, *, review: bool = True
) -> tuple[ServiceDefinition, RiskContext]:
    """Return the service definition and its context; `review=False` leaves re-rating to
    explicit calls (tests that need a stable rating)."""
    database = Database(settings.database_url)
    wal = WalCheckpointer(database)
    subscribers = settings.subscribers()
    outbox = Outbox("risk", subscribers)
    ctx = RiskContext(
        db=database,
        outbox=outbox,
        cipher=FieldCipher(
            decode_key(settings.pii_encryption_key, name="PII_ENCRYPTION_KEY"),
            decode_key(settings.pii_index_key, name="PII_INDEX_KEY"),
        ),
        tokens=PageTokens(
            base64.b64decode(settings.page_token_key) if settings.page_token_key else None
        ),
        settings=settings,
    )
    async with database.read() as session:
        ruleset = ruleset_from(await current_config(session), settings.monitoring_ruleset_version)
    pipeline = MonitoringPipeline(
        database=database,
        outbox=outbox,
        cipher=ctx.cipher,
        ruleset=ruleset,
        max_batch=settings.monitoring_max_batch,
        checkpoint_ms=settings.monitoring_checkpoint_ms,
        checkpoint_interval=settings.monitoring_checkpoint_interval_seconds,
        partition=settings.monitoring_partition,
        clock=ctx.clock,
        on_rerate=ctx.review_wakeup.set,
        history_days=settings.monitoring_history_days,
    )
    await pipeline.start()
    ctx.pipeline = pipeline
    # Everything built so far (modules, restored window state) lives as long as the process:
    # keep it out of the garbage collector's full passes, which otherwise stall the stream.
    gc.collect()
    gc.freeze()
    relay = Relay(
        database=database,
        outbox=outbox,
        addresses=subscribers,
        signer=build_signer(settings),
        interval=settings.relay_interval_seconds,
        batch_size=settings.relay_batch_size,
    )

    def register(server: grpc.aio.Server) -> None:
        risk_service_pb2_grpc.add_RiskServiceServicer_to_server(RiskServicer(ctx), server)
        event_pb2_grpc.add_EventSinkServiceServicer_to_server(
            EventSink(database, handlers(ctx)), server
        )

    async def stop() -> None:
        await pipeline.checkpoint_all()
        await relay.stop()
        await relay.deliver_once()
        await relay.close()
        await asyncio.to_thread(wal.close)

    async def reviews() -> None:
        await review_loop(ctx)

    # Full garbage collections at quiet moments (the process defers CPython's own: __main__).
    collections = FullCollections(
        interval=settings.gc_full_interval_seconds, idle=lambda: not pipeline.busy()
    )
    background: list[BackgroundTask] = [
        relay.run, wal.run, pipeline.checkpoint_loop, collections.job(),
    ]
    if review and settings.review_enabled:
        background.append(reviews)
    definition = ServiceDefinition(
        name="risk",
        settings=settings,
        database=database,
        service_names=SERVICE_NAMES,
        register=register,
        background=background,
        on_stop=[stop],
    )
    return definition, ctx
