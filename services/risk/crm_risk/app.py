"""The risk service as the kit sees it: its context (with the monitoring pipeline), servicer,
event handlers and the background work that keeps monitoring fast and ratings fresh."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path

from crm.risk.v1 import risk_service_pb2_grpc
from crm_risk.config import RiskSettings
from crm_risk.context import RiskContext
from crm_risk.events import handlers
from crm_risk.groups.contagion import Contagion
from crm_risk.models import GuaranteeRow, MonitoringProfileRow
from crm_risk.monitoring.store.lookups import RELATED_CONTEXT
from crm_risk.monitoring.store.ownership import Ownership, default_member
from crm_risk.monitoring.store.pipeline import MonitoringPipeline
from crm_risk.monitoring.store.placement import partition_names
from crm_risk.monitoring.store.rulesets import current_config, ruleset_from
from crm_risk.monitoring.store.wal import WalCheckpointer
from crm_risk.review import review_loop
from crm_risk.rpc_facilities import GUARANTOR_NAME_CONTEXT
from crm_risk.servicer import RiskServicer
from crm_runtime import kit
from crm_runtime.gcsteward import FullCollections, defer_full_collections
from crm_runtime.metrics import gauge
from crm_runtime.rekey import EncryptedTable
from crm_runtime.server import BackgroundTask, ServiceDefinition

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
# Every column sealed with the personal-data keyring, with the context it is bound to.
ENCRYPTED = [
    EncryptedTable(GuaranteeRow, "seq", {"name_enc": GUARANTOR_NAME_CONTEXT}),
    EncryptedTable(MonitoringProfileRow, "client_id", {"related_enc": RELATED_CONTEXT}),
]
_queue_depth = gauge(
    "crm.risk.monitoring.queue_depth",
    unit="{batch}",
    description="Transaction batches received and waiting for their group commit",
)


async def _context(parts: kit.Parts[RiskSettings]) -> RiskContext:
    settings, database = parts.settings, parts.database
    # Before the first write connection opens: it must start without automatic checkpoints.
    wal = WalCheckpointer(database)
    ctx = RiskContext(
        db=database, outbox=parts.outbox, cipher=parts.cipher(), tokens=parts.tokens,
        settings=settings, wal=wal,
    )
    async with database.read() as session:
        ruleset = ruleset_from(await current_config(session), settings.monitoring_ruleset_version)
    pipeline = MonitoringPipeline(
        database=database,
        outbox=parts.outbox,
        cipher=ctx.cipher,
        ruleset=ruleset,
        max_batch=settings.monitoring_max_batch,
        checkpoint_ms=settings.monitoring_checkpoint_ms,
        checkpoint_interval=settings.monitoring_checkpoint_interval_seconds,
        partitions=partition_names(settings.monitoring_partition,
                                   settings.monitoring_partitions),
        member=settings.monitoring_member or default_member(),
        clock=ctx.clock,
        on_rerate=ctx.review_wakeup.set,
        history_days=settings.monitoring_history_days,
        contagion=Contagion.of(settings),
        drain_interval=settings.monitoring_drain_interval_seconds,
        result_wait=settings.monitoring_result_wait_seconds,
    )
    ownership = Ownership(pipeline, database, lease_seconds=settings.monitoring_lease_seconds,
                          heartbeat_seconds=settings.monitoring_heartbeat_seconds)
    await ownership.start()
    ctx.ownership = ownership
    _queue_depth.add_value(pipeline, lambda p: len(p.waiting))
    ctx.pipeline = pipeline
    return ctx


def _workers(ctx: RiskContext, parts: kit.Parts[RiskSettings]) -> Sequence[BackgroundTask]:
    settings, pipeline = parts.settings, ctx.monitoring()
    # Full garbage collections at quiet moments (the process defers CPython's own: _prepare).
    collections = FullCollections(
        interval=settings.gc_full_interval_seconds, idle=lambda: not pipeline.busy()
    )
    workers: list[BackgroundTask] = [ctx.wal_checkpointer().run, pipeline.checkpoint_loop,
                                     ctx.partitions().run, collections.job()]
    if not ctx.db.is_sqlite:  # a SQLite store has one process: nobody logs rows for it
        workers.append(pipeline.drain_loop)
    if settings.review_enabled:

        async def reviews() -> None:
            await review_loop(ctx)

        workers.append(reviews)
    return workers


def _stop(ctx: RiskContext) -> Sequence[kit.StopHook]:
    async def checkpoint() -> None:
        # Saves every dirty window state, so a restart replays nothing: before the final drain.
        await ctx.monitoring().checkpoint_all()
        # Then hand the partitions over at once: the next owner need not wait for the lease.
        await ctx.partitions().stop()

    return [checkpoint]


def _close(ctx: RiskContext) -> Sequence[kit.StopHook]:
    async def close_wal() -> None:
        await asyncio.to_thread(ctx.wal_checkpointer().close)

    return [close_wal]


def _prepare(settings: RiskSettings) -> None:
    # CPython's automatic full passes walk the whole monitoring state (30-100 ms) on whatever
    # batch is running; FullCollections runs them at quiet moments instead. Not gc.freeze():
    # see "Lessons written into the code" in docs/ARCHITECTURE.md.
    if settings.gc_defer_full_collections:
        defer_full_collections()


SPEC = kit.ServiceSpec(
    name="risk",
    settings=RiskSettings,
    migrations=MIGRATIONS,
    service="crm.risk.v1.RiskService",
    context=_context,
    servicers=[kit.Servicer(risk_service_pb2_grpc.add_RiskServiceServicer_to_server, RiskServicer)],
    event_handlers=handlers,
    workers=_workers,
    on_stop=_stop,
    on_close=_close,
    prepare_process=_prepare,
    encrypted=ENCRYPTED,
)


def migrate(settings: RiskSettings) -> None:
    """Bring the store to the newest schema."""
    kit.migrate(SPEC, settings)


async def build(
    settings: RiskSettings, *, review: bool = True
) -> tuple[ServiceDefinition, RiskContext]:
    """Return the service definition and its context; `review=False` leaves re-rating to
    explicit calls (tests that need a stable rating)."""
    if not review:
        settings = settings.model_copy(update={"review_enabled": False})
    return await kit.build(SPEC, settings)
