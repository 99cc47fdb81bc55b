"""The feedback service as the kit sees it: its context, servicer, event handlers, scheduler."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from crm.feedback.v1 import feedback_service_pb2_grpc
from crm_feedback.config import FeedbackSettings
from crm_feedback.context import FeedbackContext
from crm_feedback.domain.kpi import KPI_WEIGHTS, check_weights
from crm_feedback.events import handlers
from crm_feedback.scheduler import scheduler
from crm_feedback.servicer import FeedbackServicer
from crm_runtime import kit
from crm_runtime.server import BackgroundTask, ServiceDefinition

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


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


async def _context(parts: kit.Parts[FeedbackSettings]) -> FeedbackContext:
    settings = parts.settings
    return FeedbackContext(
        db=parts.database,
        outbox=parts.outbox,
        tokens=parts.tokens,
        answer_secret=settings.answer_secret(),
        client_addr=settings.client_addr,
        signer=parts.signer,
        answer_window_days=settings.answer_window_days,
        kpi_version=settings.kpi_weights_version,
        kpi_weights=_kpi_weights(settings),
    )


def _workers(
    ctx: FeedbackContext, parts: kit.Parts[FeedbackSettings]
) -> Sequence[BackgroundTask]:
    # An interval of 0 turns the scheduler off: tests drive `run_once` themselves.
    interval = parts.settings.scheduler_interval_seconds
    return [scheduler(ctx, interval)] if interval > 0 else []


def _stop(ctx: FeedbackContext) -> Sequence[kit.StopHook]:
    async def stop_scheduler() -> None:
        ctx.stopping.set()

    return [stop_scheduler]


SPEC = kit.ServiceSpec(
    name="feedback",
    settings=FeedbackSettings,
    migrations=MIGRATIONS,
    service="crm.feedback.v1.FeedbackService",
    context=_context,
    servicers=[
        kit.Servicer(
            feedback_service_pb2_grpc.add_FeedbackServiceServicer_to_server, FeedbackServicer
        )
    ],
    event_handlers=handlers,
    workers=_workers,
    on_stop=_stop,
)


def migrate(settings: FeedbackSettings) -> None:
    """Bring the store to the newest schema."""
    kit.migrate(SPEC, settings)


async def build(settings: FeedbackSettings) -> tuple[ServiceDefinition, FeedbackContext]:
    """Return the service definition and its context (tests use the context's clock)."""
    return await kit.build(SPEC, settings)
