"""The service kit: a service declares a `ServiceSpec`; the kit does the ceremony.

Every service has the same parts around its domain: a store and its migrations, an outbox and
the relay that delivers it, an inbox for the events it consumes, page tokens, a personal-data
cipher, the janitor that purges expired idempotency records and delivered outbox rows, health,
reflection, a `main()` for `python -m crm_<service>` and a `migrate()` for the initContainer.
The kit builds them from the service's settings, in one order, so the copies cannot drift.

A service supplies what is its own: how to build its context from the shared parts, its
servicers, its event handlers, the rows it seeds, its background workers and their stop hooks.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Generic, Protocol, TypeVar

import grpc
from sqlalchemy.ext.asyncio import AsyncSession

from crm.events.v1 import event_pb2_grpc
from crm_runtime.auth import TokenSigner
from crm_runtime.config import BaseServiceSettings
from crm_runtime.crypto import FieldCipher, decode_key
from crm_runtime.db import Database
from crm_runtime.event_transport import EventRelay, build_transport
from crm_runtime.inbox import EventHandler, EventSink
from crm_runtime.janitor import DEFAULT_INTERVAL_SECONDS, Purge, janitor
from crm_runtime.keyring import KeyringError
from crm_runtime.logging import configure_logging
from crm_runtime.migrations import upgrade_head
from crm_runtime.outbox import Outbox
from crm_runtime.outbox_metrics import OutboxGauges
from crm_runtime.pagination import PageTokens
from crm_runtime.rekey import (
    EncryptedTable,
    RekeyProgress,
    key_status,
    missing_keys_message,
    rekeyer,
)
from crm_runtime.server import BackgroundTask, ServiceDefinition, build_signer, run

S = TypeVar("S", bound=BaseServiceSettings)
C = TypeVar("C")

EVENT_SINK_SERVICE = "crm.events.v1.EventSinkService"
StopHook = Callable[[], Awaitable[None]]


class Seed(Protocol):
    """Writes the rows a fresh store needs (built-in segments, templates); idempotent."""

    def __call__(self, session: AsyncSession, *, now: datetime) -> Awaitable[object]: ...


@dataclass
class Parts(Generic[S]):
    """The shared parts the kit built, handed to the service's context factory."""

    settings: S
    database: Database
    outbox: Outbox
    relay: EventRelay
    tokens: PageTokens
    signer: TokenSigner | None

    def cipher(self) -> FieldCipher:
        """Return the personal-data cipher (services holding personal data require its keys)."""
        ring = self.settings.pii_keys()
        if ring is None:
            raise KeyringError("PII_KEYRING (or PII_ENCRYPTION_KEY) is required")
        return FieldCipher(ring, decode_key(self.settings.pii_index_key, name="PII_INDEX_KEY"))


@dataclass(frozen=True)
class Servicer(Generic[C]):
    """One gRPC servicer: the generated `add_…_to_server` and how to build it from the context."""

    add: Callable[[Any, grpc.aio.Server], None]
    build: Callable[[C], object]


@dataclass(frozen=True)
class ServiceSpec(Generic[S, C]):
    """Everything that makes a service itself; the kit does the rest."""

    name: str
    settings: type[S]
    migrations: Path
    # The fully qualified name of the service's API; readiness probes ask for it by name.
    service: str
    context: Callable[[Parts[S]], Awaitable[C]]
    servicers: Sequence[Servicer[C]]
    # Event type → handler, for the events this service consumes through its inbox.
    event_handlers: Callable[[C], Mapping[str, EventHandler]] | None = None
    seeds: Sequence[Seed] = ()
    workers: Callable[[C, Parts[S]], Sequence[BackgroundTask]] = lambda ctx, parts: ()
    # Run after the server stopped, before the relay's final drain (flush what may emit events).
    on_stop: Callable[[C], Sequence[StopHook]] = lambda ctx: ()
    # Run last, after the drain (close clients, files).
    on_close: Callable[[C], Sequence[StopHook]] = lambda ctx: ()
    janitor_interval_seconds: float = DEFAULT_INTERVAL_SECONDS
    # The service's own housekeeping, run by the janitor with the shared purges.
    purges: Callable[[C], Sequence[Purge]] = lambda ctx: ()
    # Run once by `main()` before serving, for process-wide settings (garbage-collector
    # thresholds) that tests and tools building the service in their own process must not get.
    prepare_process: Callable[[S], None] | None = None
    # Tables holding personal data sealed with the keyring: checked at startup (every key the
    # data names must be in the ring) and re-encrypted onto the active key in the background.
    encrypted: Sequence[EncryptedTable] = ()
    service_names: tuple[str, ...] = field(init=False)

    def __post_init__(self) -> None:
        names = (self.service, EVENT_SINK_SERVICE) if self.event_handlers else (self.service,)
        object.__setattr__(self, "service_names", names)


def migrate(spec: ServiceSpec[S, Any], settings: S) -> None:
    """Bring the service's store to the newest schema."""
    Database(settings.database_url)  # Creates the SQLite folder when needed.
    upgrade_head(spec.migrations, settings.database_url)


async def build(spec: ServiceSpec[S, C], settings: S) -> tuple[ServiceDefinition, C]:
    """Return the service definition and its context (tests use the context's clock)."""
    database = Database(settings.database_url)
    signer = build_signer(settings)
    transport = build_transport(spec.name, settings, database, signer)
    outbox, relay = transport.outbox, transport.relay
    tokens = PageTokens(settings.page_token_keys())
    parts = Parts(settings, database, outbox, relay, tokens, signer)
    ctx = await spec.context(parts)
    # After the context: a service may need to see its store before anyone else opens it.
    rekey = await _rekey_task(spec, parts) if spec.encrypted else None
    if spec.seeds:
        async with database.write() as session:
            for seed in spec.seeds:
                await seed(session, now=datetime.now(UTC))
    handlers = spec.event_handlers(ctx) if spec.event_handlers else None
    # One sink, whichever way events arrive: pushed over gRPC or read from JetStream.
    sink = EventSink(database, handlers) if handlers is not None else None
    if sink is not None:
        transport.consume(spec.name, sink)

    def register(server: grpc.aio.Server) -> None:
        for servicer in spec.servicers:
            servicer.add(servicer.build(ctx), server)
        if sink is not None:
            event_pb2_grpc.add_EventSinkServiceServicer_to_server(sink, server)

    async def stop() -> None:
        for hook in spec.on_stop(ctx):
            await hook()
        await transport.stop()
        for hook in spec.on_close(ctx):
            await hook()

    background: list[BackgroundTask] = [
        *transport.background(),
        janitor(
            database, relay, interval=spec.janitor_interval_seconds, purges=spec.purges(ctx)
        ),
        *spec.workers(ctx, parts),
        *([rekey] if rekey is not None else []),
    ]
    if transport.queues:
        gauges = OutboxGauges(database, spec.name, transport.queues)
        background.append(functools.partial(gauges.run, settings.metrics_sample_seconds))
    definition = ServiceDefinition(
        name=spec.name,
        settings=settings,
        database=database,
        service_names=spec.service_names,
        register=register,
        background=background,
        on_stop=[stop],
    )
    return definition, ctx


async def _rekey_task(spec: ServiceSpec[S, Any], parts: Parts[S]) -> BackgroundTask:
    """Refuse to start when data names a key the ring lacks; return the re-encryption task."""
    cipher = parts.cipher()
    status = await key_status(parts.database, cipher, spec.encrypted)
    if status.unreadable:
        # Serving would answer errors for those rows; stopping here says why, changes nothing.
        raise KeyringError(missing_keys_message(status))
    progress = RekeyProgress(spec.name)
    progress.status = status
    return rekeyer(
        parts.database, cipher, spec.encrypted, progress=progress,
        interval=parts.settings.reencrypt_interval_seconds,
        batch_size=parts.settings.reencrypt_batch_size,
    )


def main(spec: ServiceSpec[S, Any]) -> None:
    """Entry point of `python -m crm_<service>`: migrate (embedded stores), then serve."""
    settings = spec.settings()
    configure_logging(level=settings.log_level, service=settings.service_name)
    # Embedded SQLite has no separate migration step, so the service migrates itself there;
    # in Kubernetes an initContainer runs `python -m crm_<service>.migrate` and sets this to 0.
    if os.environ.get("MIGRATE_ON_START", "1") == "1":
        migrate(spec, settings)
    if spec.prepare_process is not None:
        spec.prepare_process(settings)

    async def definition() -> ServiceDefinition:
        built, _ = await build(spec, settings)
        return built

    run(definition)


def migrate_main(spec: ServiceSpec[S, Any]) -> None:
    """Entry point of `python -m crm_<service>.migrate` (the initContainer)."""
    migrate(spec, spec.settings())
