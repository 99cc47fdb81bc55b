"""Chooses how a service's events travel (EVENT_TRANSPORT): gRPC push or NATS JetStream.

grpc (the one-machine default): the outbox holds one row per subscriber named in
EVENT_SUBSCRIBERS and the relay pushes each to that subscriber's EventSinkService.
nats: the outbox holds one row per event, the JetStream relay publishes it, and a consuming
service reads its events with a durable consumer; producers do not know their consumers.
Either way the event is committed with the change and applied once through the inbox.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from crm_runtime.auth import TokenSigner
from crm_runtime.config import BaseServiceSettings
from crm_runtime.db import Database
from crm_runtime.inbox import EventSink
from crm_runtime.jetstream import JETSTREAM_SUBSCRIBER, BrokerLink
from crm_runtime.jetstream_consumer import JetStreamConsumer
from crm_runtime.jetstream_relay import JetStreamRelay
from crm_runtime.logging import get_logger
from crm_runtime.outbox import Outbox
from crm_runtime.outbox_relay import Relay
from crm_runtime.server import BackgroundTask

log = get_logger("event-transport")


class EventRelay(Protocol):
    """What the kit and the janitor need of a relay, whichever the transport."""

    delivered: int

    async def run(self) -> None:
        """Deliver until stopped."""

    async def stop(self) -> None:
        """Ask run() to finish after a last pass."""

    async def deliver_once(self) -> int:
        """Deliver one batch; return how many rows were marked delivered."""

    async def close(self) -> None:
        """Release connections of its own."""

    async def purge_delivered(self, *, now: datetime | None = None) -> int:
        """Delete rows delivered longer ago than the retention."""


@dataclass
class Transport:
    """A service's outbox, its relay and, on JetStream, the broker link and consumer."""

    outbox: Outbox
    relay: EventRelay
    # Outbox rows per event, by subscriber name (the outbox gauges sample these).
    queues: tuple[str, ...]
    link: BrokerLink | None = None
    consumer: JetStreamConsumer | None = None

    def background(self) -> list[BackgroundTask]:
        """Return the tasks that move events: the relay, and the consumer if any."""
        tasks: list[BackgroundTask] = [self.relay.run]
        if self.consumer is not None:
            tasks.append(self.consumer.run)
        return tasks

    def consume(self, service: str, sink: EventSink) -> None:
        """Read this service's events from JetStream into `sink` (no-op on gRPC, where the
        producers push to the service's EventSinkService instead)."""
        if self.link is not None and sink.handled_types:
            self.consumer = JetStreamConsumer(service=service, sink=sink, link=self.link)

    async def stop(self) -> None:
        """Stop consuming, publish what is left once more, and close connections."""
        if self.consumer is not None:
            await self.consumer.stop()
        await self.relay.stop()
        if self.link is None:
            await self.relay.deliver_once()
        else:
            # The broker may be down at shutdown: the rows stay pending for the next start.
            try:
                await self.relay.deliver_once()
            except Exception as exc:
                log.warning("final publish pass failed", error=f"{type(exc).__name__}: {exc}")
        await self.relay.close()
        if self.link is not None:
            with contextlib.suppress(Exception):
                await self.link.close()


def build_transport(
    service: str, settings: BaseServiceSettings, database: Database, signer: TokenSigner | None
) -> Transport:
    """Return the outbox and relay of the configured transport."""
    if settings.event_transport == "nats":
        outbox = Outbox(service, [JETSTREAM_SUBSCRIBER])
        link = BrokerLink(settings)
        relay: EventRelay = JetStreamRelay(
            database=database, outbox=outbox, link=link,
            interval=settings.relay_interval_seconds, batch_size=settings.relay_batch_size,
        )
        return Transport(outbox, relay, (JETSTREAM_SUBSCRIBER,), link)
    subscribers = settings.subscribers()
    outbox = Outbox(service, subscribers)
    relay = Relay(
        database=database, outbox=outbox, addresses=subscribers, signer=signer,
        interval=settings.relay_interval_seconds, batch_size=settings.relay_batch_size,
    )
    return Transport(outbox, relay, tuple(subscribers))
