"""Reads events from JetStream with a durable pull consumer and applies them through the inbox.

One durable consumer per service (durable name = service name), so the replicas of a service
share it: each event goes to one replica (work-queue semantics) and is acknowledged only after
the inbox transaction that applied it committed. A replica killed between commit and ack
leaves the event unacknowledged; after ack_wait JetStream offers it again, to any replica, and
the inbox's primary key turns that second offer into a no-op. Servers from 2.10 filter the
consumer to the subjects of the kinds the service handles; older servers (2.9) take one filter
subject only, so the consumer reads `crm.events.>` and acknowledges other kinds unread.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterable

from nats.aio.msg import Msg
from nats.errors import TimeoutError as NatsTimeoutError
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.errors import APIError

from crm.events.v1 import event_pb2
from crm_runtime.broker import EVENT_STREAM, EVENT_SUBJECT_PREFIX
from crm_runtime.errors import InvalidArgument
from crm_runtime.inbox import EventSink
from crm_runtime.jetstream import BrokerLink, subject_for
from crm_runtime.logging import get_logger
from crm_runtime.outbox_relay import MAX_BACKOFF_SECONDS

log = get_logger("jetstream-consumer")

FETCH_WAIT_SECONDS = 1.0
# A handler that failed (store down) gets its event back after this delay, not at once.
NAK_DELAY_SECONDS = 1.0


def durable_name(service: str) -> str:
    """Return the durable consumer name of a service (names may not contain dots)."""
    return service.replace(".", "_")


def consumer_config(
    service: str, event_types: Iterable[str], *, ack_wait: float, multi_filter: bool
) -> ConsumerConfig:
    """Return the durable consumer of a service for the event types it handles."""
    subjects = sorted({subject_for(t) for t in event_types})
    config = ConsumerConfig(
        durable_name=durable_name(service),
        deliver_policy=DeliverPolicy.ALL,
        ack_policy=AckPolicy.EXPLICIT,
        ack_wait=ack_wait,
        max_deliver=-1,  # Never give up on an event: the inbox makes every retry safe.
        max_ack_pending=10_000,
    )
    if multi_filter and len(subjects) > 1:
        config.filter_subjects = subjects
    elif len(subjects) == 1:
        config.filter_subject = subjects[0]
    else:
        config.filter_subject = EVENT_SUBJECT_PREFIX + ">"
    return config


class JetStreamConsumer:
    """Background task that fetches this service's events and applies them once each."""

    def __init__(self, *, service: str, sink: EventSink, link: BrokerLink) -> None:
        self._service = service
        self._sink = sink
        self._link = link
        self._types = frozenset(sink.handled_types)
        self._stopping = asyncio.Event()
        # Events of kinds this service does not handle, acknowledged unread (servers before
        # 2.10 only); applied and duplicate offers are counted by the sink.
        self.skipped = 0

    async def _subscribe(self) -> JetStreamContext.PullSubscription:
        js = await self._link.jetstream()
        settings = self._link.settings
        client = self._link.client
        version = client.connected_server_version if client is not None else None
        multi = version is not None and (version.major, version.minor) >= (2, 10)
        config = consumer_config(
            self._service, self._types, ack_wait=settings.jetstream_ack_wait_seconds,
            multi_filter=multi,
        )
        try:
            await js.add_consumer(EVENT_STREAM, config)
        except APIError as exc:
            # The durable exists with other settings (an older release's filter, another
            # ack wait) and the server refused to change it: consume from it as it is.
            log.warning("durable consumer kept as it is", durable=config.durable_name,
                        detail=str(exc)[:200])
        return await js.pull_subscribe_bind(
            durable=config.durable_name or "", stream=EVENT_STREAM
        )

    async def run(self) -> None:
        """Fetch and apply until stop() is called; reconnect with backoff on broker errors."""
        failures = 0
        subscription: JetStreamContext.PullSubscription | None = None
        while not self._stopping.is_set():
            try:
                if subscription is None:
                    subscription = await self._subscribe()
                await self.consume_once(subscription)
                failures = 0
            except Exception as exc:
                failures += 1
                self._link.recheck_stream()
                if subscription is not None:
                    # Its inbox goes: what the server delivered there and we did not handle
                    # comes back after ack_wait, to this or another replica.
                    with contextlib.suppress(Exception):
                        await subscription.unsubscribe()
                subscription = None
                delay = min(MAX_BACKOFF_SECONDS, 0.2 * 2**failures)
                log.warning("consume pass failed", failures=failures, retry_in_s=round(delay, 2),
                            error=f"{type(exc).__name__}: {exc}"[:200])
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), timeout=delay)

    async def consume_once(self, subscription: JetStreamContext.PullSubscription) -> int:
        """Fetch one batch (waiting up to a second for it); return how many were handled."""
        try:
            messages = await subscription.fetch(
                self._link.settings.jetstream_fetch_batch, timeout=FETCH_WAIT_SECONDS
            )
        except NatsTimeoutError:
            return 0
        for message in messages:
            if self._stopping.is_set():
                break  # Unacknowledged: offered again after ack_wait.
            await self._handle(message)
        return len(messages)

    async def _handle(self, message: Msg) -> None:
        envelope = event_pb2.EventEnvelope()
        try:
            envelope.ParseFromString(message.data)
        except Exception:
            log.error("undecodable event dropped", subject=message.subject)
            await message.term()
            return
        if envelope.event_type not in self._types:
            self.skipped += 1
            await message.ack()
            return
        try:
            await self._sink.record(envelope)
        except InvalidArgument as exc:
            # A payload that is not its type will never apply: keep it out of the way.
            log.error("event rejected", event_id=envelope.event_id, error=str(exc)[:200])
            await message.term()
            return
        except Exception as exc:
            log.warning("event not applied; offered again", event_id=envelope.event_id,
                        error=f"{type(exc).__name__}: {exc}"[:200])
            await message.nak(delay=NAK_DELAY_SECONDS)
            return
        # Only now, after the inbox transaction committed: a crash before this line means the
        # event is offered again and found in the inbox.
        await message.ack()

    async def stop(self) -> None:
        """Ask the loop to finish after the event in hand."""
        self._stopping.set()
