"""grpc.aio server bootstrap: interceptors, health, reflection, background tasks, graceful stop.

`run` is the process entry point: a service's `python -m crm_<service>` reaches it through
`kit.main(spec)`, and it serves (`run_service`) until SIGTERM or SIGINT. `start_service`
returns a running server for tests (port 0) and for the demo launcher.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from typing import Any

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from crm_runtime import tls
from crm_runtime.admission import Admission
from crm_runtime.auth import TokenSigner, TokenVerifier
from crm_runtime.config import BaseServiceSettings
from crm_runtime.db import Database
from crm_runtime.interceptors import ServerInterceptor
from crm_runtime.logging import get_logger
from crm_runtime.reflection import enable_reflection
from crm_runtime.telemetry import configure_telemetry, shutdown_telemetry, trace_engines

log = get_logger("server")

Registrar = Callable[[grpc.aio.Server], None]
BackgroundTask = Callable[[], Coroutine[Any, Any, None]]


@dataclass
class ServiceDefinition:
    """What a service contributes to the shared bootstrap."""

    name: str
    settings: BaseServiceSettings
    database: Database
    # Fully qualified gRPC service names, e.g. "crm.client.v1.ClientService".
    service_names: Sequence[str]
    register: Registrar
    background: Sequence[BackgroundTask] = ()
    # Called after the server stopped (e.g. the outbox relay's final drain).
    on_stop: Sequence[Callable[[], Awaitable[None]]] = ()
    # Server interceptors; None means the standard ServerInterceptor. A service that does its
    # own admission, tracing and error mapping per call (the gateway) passes its own, or ().
    interceptors: Sequence[grpc.aio.ServerInterceptor] | None = None
    # Services reflection lists besides service_names (and health): what a proxy routes, which
    # it answers for without serving them itself, so tools pointed at it see them.
    reflected_services: Sequence[str] = ()


@dataclass
class RunningService:
    """A started server, its port and its background tasks."""

    definition: ServiceDefinition
    server: grpc.aio.Server
    port: int
    health: health.aio.HealthServicer
    tasks: list[asyncio.Task[None]] = field(default_factory=list)
    _stopped: bool = False

    @property
    def address(self) -> str:
        """Return host:port for clients."""
        return f"{self.definition.settings.grpc_host}:{self.port}"

    async def stop(self, *, drain_seconds: float | None = None) -> None:
        """Stop gracefully: NOT_SERVING, wait for routing to notice, finish calls, drain."""
        if self._stopped:
            return
        self._stopped = True
        settings = self.definition.settings
        await self.health.enter_graceful_shutdown()
        drain = settings.drain_seconds if drain_seconds is None else drain_seconds
        if drain > 0:
            await asyncio.sleep(drain)
        await self.server.stop(settings.grace_seconds)
        # Background writers commit first: cancelling one inside a statement would leave its
        # transaction open behind the stop hooks (see Database.writes_paused).
        async with self.definition.database.writes_paused(settings.grace_seconds):
            for task in self.tasks:
                task.cancel()
            for task in self.tasks:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        for hook in self.definition.on_stop:
            await hook()
        await self.definition.database.dispose()
        shutdown_telemetry()
        log.info("stopped", service=self.definition.name)


def build_admission(settings: BaseServiceSettings) -> Admission:
    """Return the process's call admission (unary and stream limits)."""
    return Admission(
        unary_limit=settings.max_concurrent_rpcs, stream_limit=settings.max_concurrent_streams
    )


def grpc_call_cap(settings: BaseServiceSettings) -> int:
    """Return gRPC's own cap: above ours, so ours refuses first (gRPC's refusal is bare and
    unrecorded), with room for health probes and the refusals themselves."""
    return settings.max_concurrent_rpcs + settings.max_concurrent_streams + 1_000


def build_verifier(settings: BaseServiceSettings) -> TokenVerifier | None:
    """Return the identity verifier, or None when no trusted keys are configured."""
    if settings.identity_trusted_keys_dir is None:
        return None
    return TokenVerifier.from_dir(
        settings.identity_trusted_keys_dir, human_issuers=settings.human_issuers()
    )


def build_signer(settings: BaseServiceSettings) -> TokenSigner | None:
    """Return this service's own token signer, if it has a key."""
    if settings.identity_signing_key_file is None:
        return None
    return TokenSigner.from_file(
        settings.identity_signing_key_file, settings.identity_signing_kid or settings.service_name
    )


async def _watch_store(definition: ServiceDefinition, servicer: health.aio.HealthServicer) -> None:
    """Report the service NOT_SERVING while its store does not answer (readiness)."""
    serving = health_pb2.HealthCheckResponse.SERVING
    not_serving = health_pb2.HealthCheckResponse.NOT_SERVING
    last: int | None = None
    while True:
        status = serving if await definition.database.ping() else not_serving
        if status != last:
            for name in definition.service_names:
                await servicer.set(name, status)
            if last is not None:
                log.warning("readiness changed", serving=status == serving)
            last = status
        await asyncio.sleep(definition.settings.health_check_interval_seconds)


async def start_service(definition: ServiceDefinition) -> RunningService:
    """Build, bind and start the server and its background tasks."""
    settings = definition.settings
    configure_telemetry(
        definition.name, metrics_host=settings.grpc_host, metrics_port=settings.metrics_port
    )
    database = definition.database
    trace_engines((database.write_engine, database.read_engine))
    interceptors = (
        [
            ServerInterceptor(
                domain=definition.name,
                verifier=build_verifier(settings),
                admission=build_admission(settings),
            )
        ]
        if definition.interceptors is None
        else list(definition.interceptors)
    )
    server = grpc.aio.server(
        interceptors=interceptors,
        maximum_concurrent_rpcs=grpc_call_cap(settings),
        options=[
            ("grpc.max_receive_message_length", settings.max_receive_message_bytes),
            ("grpc.max_connection_age_ms", settings.max_connection_age_ms),
            ("grpc.max_connection_age_grace_ms", 30_000),
            ("grpc.keepalive_permit_without_calls", 1),
            ("grpc.http2.min_ping_interval_without_data_ms", 5_000),
            # gRPC's core keeps calls that arrived but that Python has not yet picked up in a
            # backlog, and past 1,000 (soft) / 3,000 (hard) cancels them: the caller sees a
            # bare CANCELLED that no interceptor, log or audit ever saw (the `load` suite:
            # 10,004 of 25,000 calls through the gateway). With the backlog as large as the
            # call cap, every call reaches admission, which answers RESOURCE_EXHAUSTED.
            ("grpc.server.max_pending_requests", grpc_call_cap(settings)),
            ("grpc.server.max_pending_requests_hard_limit", 2 * grpc_call_cap(settings)),
            # ...and cancels, also bare, a call left there for 30 s: 10,000 push streams
            # reconnecting at once took 46 s to pick up and 1,917 were cancelled. A stream
            # waits now; a unary call still ends at its own deadline.
            ("grpc.server_max_unrequested_time_in_server", 300),
        ],
    )
    definition.register(server)
    health_servicer = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    await health_servicer.set(health.OVERALL_HEALTH, health_pb2.HealthCheckResponse.SERVING)
    for name in definition.service_names:
        await health_servicer.set(name, health_pb2.HealthCheckResponse.NOT_SERVING)
    if settings.reflection:
        names = [*definition.service_names, *definition.reflected_services, health.SERVICE_NAME]
        enable_reflection(names, server)
    port = tls.bind(server, settings)  # TLS when GRPC_TLS_* say so.
    await server.start()
    running = RunningService(definition, server, port, health_servicer)
    running.tasks.append(asyncio.create_task(_watch_store(definition, health_servicer)))
    for job in definition.background:
        task = asyncio.create_task(job(), name=getattr(job, "__qualname__", repr(job)))
        task.add_done_callback(_report_dead_task)
        running.tasks.append(task)
    log.info("serving", service=definition.name, port=port)
    return running


def _report_dead_task(task: asyncio.Task[None]) -> None:
    """Log a background task that ended with an exception; it would otherwise die unseen."""
    if not task.cancelled() and task.exception() is not None:
        log.error("background task died", task=task.get_name(),
                  exc_info=task.exception())


async def run_service(definition: ServiceDefinition) -> None:
    """Run until SIGTERM or SIGINT, then stop gracefully."""
    running = await start_service(definition)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    log.info("shutting down", service=definition.name)
    await running.stop()


def run(definition_factory: Callable[[], Awaitable[ServiceDefinition]]) -> None:
    """Entry point for `python -m crm_<service>`: uvloop, then serve."""
    import faulthandler

    import uvloop

    # A crash in native code (grpc, SQLite) then leaves every thread's Python stack in the log.
    faulthandler.enable()

    async def main() -> None:
        await run_service(await definition_factory())

    uvloop.run(main())
