"""What the JetStream relay and consumers share: the stream, subjects and the connection.

Events go to the stream CRM_EVENTS on subjects `crm.events.<kind>`, where the kind is the event
type without its package: `crm.events.v1.ClientCreated` has the kind `v1.ClientCreated`, so its
subject reads as its type. The stream is created, or brought to the configured limits, by
whoever connects first (relay or consumer), so services may start in any order.
"""

from __future__ import annotations

import asyncio

from nats.aio.client import Client as NatsClient
from nats.js import JetStreamContext
from nats.js.api import DiscardPolicy, RetentionPolicy, StorageType, StreamConfig
from nats.js.errors import NotFoundError

from crm_runtime.broker import EVENT_STREAM, EVENT_SUBJECT_PREFIX, connect_broker, event_subject
from crm_runtime.config import BaseServiceSettings
from crm_runtime.logging import get_logger

log = get_logger("jetstream")

# The outbox row of an event on the JetStream transport: one per event, whoever consumes it.
JETSTREAM_SUBSCRIBER = "jetstream"
EVENT_TYPE_PACKAGE = "crm.events."
# The header JetStream deduplicates publishes on, within the stream's duplicate window.
MSG_ID_HEADER = "Nats-Msg-Id"


def event_kind(event_type: str) -> str:
    """Return the subject token(s) of an event type: its name without `crm.events.`."""
    return event_type.removeprefix(EVENT_TYPE_PACKAGE)


def subject_for(event_type: str) -> str:
    """Return the subject an event of this type is published on."""
    return event_subject(event_kind(event_type))


def stream_config(settings: BaseServiceSettings) -> StreamConfig:
    """Return the CRM_EVENTS stream as the settings describe it.

    Limits retention: messages stay until they are older than max_age or the stream is larger
    than max_bytes (then the oldest go), whether or not every consumer has read them, so that
    a consumer added later can start from the retained history. File storage survives a
    server restart.
    """
    return StreamConfig(
        name=EVENT_STREAM,
        subjects=[EVENT_SUBJECT_PREFIX + ">"],
        retention=RetentionPolicy.LIMITS,
        storage=StorageType.FILE,
        discard=DiscardPolicy.OLD,
        max_age=settings.jetstream_max_age_hours * 3600.0,
        max_bytes=settings.jetstream_max_bytes,
        duplicate_window=settings.jetstream_duplicate_window_seconds,
        num_replicas=settings.jetstream_replicas,
    )


async def ensure_stream(js: JetStreamContext, settings: BaseServiceSettings) -> None:
    """Create the event stream, or update it to the configured limits when it exists."""
    config = stream_config(settings)
    try:
        await js.stream_info(EVENT_STREAM)
    except NotFoundError:
        await js.add_stream(config)
        log.info("event stream created", stream=EVENT_STREAM)
        return
    await js.update_stream(config)


class BrokerLink:
    """This process's NATS connection, opened on first use and shared by relay and consumer.

    Opening is lazy and retried by the callers' loops: a service starts and serves while the
    broker is down, and its events wait in the outbox (producers) or on the stream
    (consumers) until it is back.
    """

    def __init__(self, settings: BaseServiceSettings) -> None:
        self.settings = settings
        self._client: NatsClient | None = None
        self._stream_ready = False
        self._lock = asyncio.Lock()

    async def jetstream(self) -> JetStreamContext:
        """Return a JetStream context on an open connection with the stream in place."""
        async with self._lock:
            if self._client is None:
                self._client = await connect_broker(
                    self.settings.nats_url, name=self.settings.service_name
                )
            js = self._client.jetstream(timeout=self.settings.jetstream_api_timeout_seconds)
            if not self._stream_ready:
                await ensure_stream(js, self.settings)
                self._stream_ready = True
            return js

    def recheck_stream(self) -> None:
        """Ensure the stream again on next use (after a failure: a broker that came back
        with an empty store has lost it)."""
        self._stream_ready = False

    @property
    def client(self) -> NatsClient | None:
        """Return the connection, or None when it was never opened."""
        return self._client

    async def close(self) -> None:
        """Close the connection (every publish was acknowledged, so nothing is left to flush)."""
        if self._client is not None and not self._client.is_closed:
            await self._client.close()
        self._client = None
