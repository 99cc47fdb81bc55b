"""The process's connection to NATS (JetStream events, cross-replica wake-ups).

One connection per process, opened by whoever needs it first and closed at shutdown. It
reconnects for ever: a broker restart must pause event flow, never stop a service.
"""

from __future__ import annotations

import nats
from nats.aio.client import Client as NatsClient

from crm_runtime.logging import get_logger

log = get_logger("broker")

# Subjects: events are published as crm.events.<kind> on the CRM_EVENTS stream.
EVENT_STREAM = "CRM_EVENTS"
EVENT_SUBJECT_PREFIX = "crm.events."


def event_subject(kind: str) -> str:
    """Return the JetStream subject an event of this kind is published on."""
    return EVENT_SUBJECT_PREFIX + kind


async def connect_broker(url: str, *, name: str) -> NatsClient:
    """Connect to NATS at url, naming the connection after this process."""

    async def _disconnected() -> None:
        log.warning("broker_disconnected", url=url)

    async def _reconnected() -> None:
        log.info("broker_reconnected", url=url)

    async def _error(exc: Exception) -> None:
        log.warning("broker_error", error=str(exc))

    return await nats.connect(
        servers=[url],
        name=name,
        max_reconnect_attempts=-1,
        reconnect_time_wait=0.5,
        connect_timeout=2,
        disconnected_cb=_disconnected,
        reconnected_cb=_reconnected,
        error_cb=_error,
    )
