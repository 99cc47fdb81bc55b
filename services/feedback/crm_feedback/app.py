"""Assembly of the feedback service: store, outbox, relay, inbox, servicer, scheduler."""

from __future__ import annotations

import base64
from pathlib import Path

import grpc

from crm.events.v1 import event_pb2_grpc
from crm.feedback.v1 import feedback_service_pb2_grpc
from crm_feedback.config import FeedbackSettings
from crm_feedback.context import FeedbackContext
from crm_feedback.domain.kpi import KPI_WEIGHTS, check_weights
from crm_feedback.events import handlers
from crm_feedback.scheduler import Scheduler
from crm_feedback.servicer import FeedbackServicer
from crm_runtime.db import Database
from crm_runtime.inbox import EventSink
from crm_runtime.migrations import upgrade_head
from crm_runtime.outbox import Outbox
from crm_runtime.outbox_relay import Relay
from crm_runtime.pagination import PageTokens
from crm_runtime.server import ServiceDefinition, build_signer

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
SERVICE_NAMES = ("crm.feedback.v1.FeedbackService", "crm.events.v1.EventSinkService")


def migrate(settings: FeedbackSettings) -> None:
    """Bring the store to the newest schema."""
    Database(settings.database_url)  # Creates the SQLite folder when needed.
    upgrade_head(MIGRATIONS, settings.database_url)


def _kpi_weights(settings: FeedbackSettings) -> dict[str, float] | None:
    """Return configured KPI weights (validated), or None for a built-in version."""
    weights = settings.custom_kpi_weights()
    if weights is None:
        if settings.kpi_weights_version not in KPI_WEIGHTS:
            raise ValueError(f"KPI_WEIGHTS_VERSION {settings.kpi_weights_version!r} is unknown")
        return None
    if settings.kpi_weights_version in KPI_WEIGHTS:
        # A built-in label must always mean the built-in weights, or frozen snapshots lie.
        raise ValueError("custom KPI_WEIGHTS need their own KPI_WEIGHTS_VERSION label")
    check_weights(weights)
    return weights


async def build(settings: FeedbackSettings) -> tuple[ServiceDefinition, FeedbackContext]:
    """Return the service definition and its context (tests use the context's clock)."""
    database = Database(settings.database_url)
    subscribers = settings.subscribers()
    outbox = Outbox("feedback", subscribers)
    signer = build_signer(settings)
    ctx = FeedbackContext(
        db=database,
        outbox=outbox,
        tokens=PageTokens(
            base64.b64decode(settings.page_token_key) if settings.page_token_key else None
        ),
        answer_secret=settings.answer_secret(),
        client_addr=settings.client_addr,
        signer=signer,
        answer_window_days=settings.answer_window_days,
        kpi_version=settings.kpi_weights_version,
        kpi_weights=_kpi_weights(settings),
    )
    relay = Relay(
        database=database,
        outbox=outbox,
        addresses=subscribers,
        signer=signer,
        interval=settings.relay_interval_seconds,
        batch_size=settings.relay_batch_size,
    )
    scheduler = Scheduler(ctx, settings.scheduler_interval_seconds)

    def register(server: grpc.aio.Server) -> None:
        feedback_service_pb2_grpc.add_FeedbackServiceServicer_to_server(
            FeedbackServicer(ctx), server
        )
        event_pb2_grpc.add_EventSinkServiceServicer_to_server(
            EventSink(database, handlers(ctx)), server
        )

    async def stop_background() -> None:
        await scheduler.stop()
        await relay.stop()
        await relay.deliver_once()
        await relay.close()

    definition = ServiceDefinition(
        name="feedback",
        settings=settings,
        database=database,
        service_names=SERVICE_NAMES,
        register=register,
        background=[relay.run, scheduler.run] if settings.scheduler_interval_seconds > 0
        else [relay.run],
        on_stop=[stop_background],
    )
    return definition, ctx
