"""Runs any service in-process on port 0 for tests, with real interceptors.

Every per-service harness (`client_harness`, `risk_harness`, ...) is this module plus what is
its own: its settings overrides, its stub, its helpers for calling it as different people and
its request builders. The ceremony (settings every test service needs, migrate, build, start,
channel, stop) lives here once, so the four copies cannot drift apart.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from types import ModuleType
from typing import Any, ClassVar, Generic, TypeVar

import grpc

from crm.events.v1 import event_pb2, event_pb2_grpc
from crm_runtime.auth import Role
from crm_runtime.config import BaseServiceSettings
from crm_runtime.outbox import make_envelope
from crm_runtime.server import RunningService, ServiceDefinition, start_service
from crm_runtime.testing import IdentityKit, pii_env

RM_A = "staff/rm-a"
RM_B = "staff/rm-b"
Metadata = tuple[tuple[str, str], ...]

C = TypeVar("C")
S = TypeVar("S", bound=BaseServiceSettings)
StubT = TypeVar("StubT")
HarnessT = TypeVar("HarnessT", bound="ServiceHarness[Any, Any, Any]")


@dataclass
class FakeClock:
    """A clock tests move by hand; services read time through their context's `clock`."""

    now: datetime = field(default_factory=lambda: datetime(2026, 3, 2, 2, 0, tzinfo=UTC))

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        """Move the clock forward; return the new time."""
        self.now += timedelta(**delta)
        return self.now

    def set(self, value: datetime) -> None:
        """Put the clock at `value`."""
        self.now = value


@dataclass
class ServiceHarness(Generic[C, S, StubT]):
    """A running service and ways to call it as different people."""

    # The generated stub class of the service's API (set by each service's harness).
    stub_type: ClassVar[Callable[[grpc.aio.Channel], Any]]
    running: RunningService
    ctx: C
    channel: grpc.aio.Channel
    stub: StubT
    identity: IdentityKit
    settings: S

    @property
    def sink(self) -> event_pb2_grpc.EventSinkServiceStub:
        """Return a stub for the service's inbox (the services that consume events have one)."""
        return event_pb2_grpc.EventSinkServiceStub(self.channel)

    def as_(self, subject: str, *roles: Role, teams: Iterable[str] = ()) -> Metadata:
        """Return metadata for a caller."""
        return self.identity.metadata(subject, *roles, teams=teams)

    def rm(self, subject: str = RM_A, teams: Iterable[str] = ()) -> Metadata:
        """Return metadata for a relationship manager."""
        return self.as_(subject, Role.RELATIONSHIP_MANAGER, teams=teams)

    def system(self, name: str = "systems/core-banking") -> Metadata:
        """Return metadata for a bank system."""
        return self.identity.metadata(name, Role.SYSTEM)

    def ops(self) -> Metadata:
        """Return metadata for an operations user."""
        return self.identity.metadata("staff/ops-1", Role.OPS)

    async def deliver_events(
        self, payloads: Iterable[Any], *, source: str, metadata: Metadata | None = None
    ) -> event_pb2.DeliverEventsResponse:
        """Deliver events to the inbox as `source`'s relay would (signed with its own key)."""
        request = event_pb2.DeliverEventsRequest(
            events=[make_envelope(p, source=source, subject="") for p in payloads]
        )
        if metadata is None:
            metadata = self.identity.metadata(f"systems/{source}-relay", Role.SYSTEM, kid=source)
        return await self.sink.DeliverEvents(request, metadata=metadata)


def test_settings(
    service: str, store_url: str, identity: IdentityKit, *, pii: bool = False, **values: object
) -> dict[str, object]:
    """Return the settings of an in-process test service, as keyword arguments.

    Port 0 (the OS picks one), the service's own signing key, fast health checks and a short
    grace period; with `pii`, fresh personal-data keys; then the service's own `values`.
    """
    shared: dict[str, object] = {
        "database_url": store_url,
        "grpc_port": 0,
        "identity_trusted_keys_dir": identity.directory,
        "identity_signing_key_file": identity.private_files[service],
        "identity_signing_kid": service,
        "health_check_interval_seconds": 0.2,
        "grace_seconds": 1,
    }
    if pii:
        shared.update({k.lower(): v for k, v in pii_env().items()})
    return {**shared, **values}


# Not a test, whatever its name says.
test_settings.__test__ = False  # type: ignore[attr-defined]


@asynccontextmanager
async def start_harness(
    harness: type[HarnessT],
    app: ModuleType,
    settings: BaseServiceSettings,
    identity: IdentityKit,
    *,
    prepare: Callable[[ServiceDefinition, Any], None] = lambda definition, ctx: None,
    **build_options: object,
) -> AsyncIterator[HarnessT]:
    """Start a service from its `crm_<service>.app` module: `migrate(settings)`, then
    `build(settings, **build_options)`; yield a `harness` on it and stop it afterwards.

    `prepare` may adjust the definition or context before the service starts (drop the
    background workers, install a clock).
    """
    app.migrate(settings)
    definition, ctx = await app.build(settings, **build_options)
    prepare(definition, ctx)
    running = await start_service(definition)
    channel = grpc.aio.insecure_channel(running.address)
    try:
        yield harness(running, ctx, channel, harness.stub_type(channel), identity, settings)
    finally:
        await channel.close()
        await running.stop(drain_seconds=0)
