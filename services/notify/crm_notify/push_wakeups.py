"""Push wake-ups across notify replicas: "recipient X has news", over NATS core pub/sub.

A push stream waits on the process's hub, which only that process's writers wake. With several
replicas on one store, a message written on replica A reached a stream held on replica B only
at B's next heartbeat (5 s by default; issue 18). Here each replica publishes the recipients
its committed transactions gave news to, and marks dirty the recipients other replicas
announce. Nothing is lost if a wake-up is: the message is in the store and the heartbeat
still re-reads every stream's recipients, so plain pub/sub (no JetStream, no acks) suffices.

Announcements made while a publish is under way are gathered and sent together: under a
steady write rate the broker sees a few messages per burst, not one per transaction.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Iterable

from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg

from crm_notify.hub import PushHub
from crm_runtime.broker import connect_broker
from crm_runtime.logging import get_logger

log = get_logger("push-wakeups")

SUBJECT = "crm.notify.push-wakeups"
# Recipients per broker message: far below NATS's 1 MB payload limit for any recipient name.
RECIPIENTS_PER_MESSAGE = 1000
MAX_CONNECT_BACKOFF_SECONDS = 30.0


class PushWakeupBridge:
    """Publishes this replica's push news and applies the other replicas' to the hub."""

    def __init__(self, hub: PushHub, url: str, *, name: str) -> None:
        self._hub = hub
        self._url = url
        self._name = name
        # Each replica ignores its own announcements (its streams were woken locally).
        self._origin = os.urandom(8).hex()
        self._outgoing: set[str] = set()
        self._ready = asyncio.Event()
        self._connected = False
        self.published = 0  # broker messages sent
        self.applied = 0  # other replicas' messages applied to the hub

    def announce(self, recipients: Iterable[str]) -> None:
        """Queue `recipients` for the other replicas (called after commit, never blocks)."""
        if not self._connected:
            return  # The heartbeat covers the time without a broker.
        self._outgoing.update(recipients)
        self._ready.set()

    async def run(self) -> None:
        """Connect (retrying while the broker is away), subscribe, publish announcements."""
        client = await self._connect()
        try:
            await client.subscribe(SUBJECT, cb=self._on_message)
            # Once flushed the server holds the subscription: nothing published later is missed.
            await client.flush()
            self._connected = True
            log.info("push wake-ups across replicas on", subject=SUBJECT)
            while True:
                await self._ready.wait()
                self._ready.clear()
                pending, self._outgoing = sorted(self._outgoing), set()
                await self._publish(client, pending)
        finally:
            self._connected = False
            await client.close()

    async def _connect(self) -> NatsClient:
        failures = 0
        while True:
            try:
                return await connect_broker(self._url, name=self._name)
            except Exception as exc:  # Any failure means "not yet": retry.
                failures += 1
                delay = min(MAX_CONNECT_BACKOFF_SECONDS, 0.5 * 2**failures)
                log.warning("push wake-up broker unreachable; heartbeat only",
                            url=self._url, retry_in_s=delay, error=str(exc)[:200])
                await asyncio.sleep(delay)

    async def _publish(self, client: NatsClient, recipients: list[str]) -> None:
        for start in range(0, len(recipients), RECIPIENTS_PER_MESSAGE):
            chunk = recipients[start : start + RECIPIENTS_PER_MESSAGE]
            payload = json.dumps({"origin": self._origin, "recipients": chunk}).encode()
            try:
                await client.publish(SUBJECT, payload)
            except Exception as exc:  # A lost wake-up only waits for a heartbeat.
                log.warning("push wake-up not published", error=str(exc)[:200])
                return
            self.published += 1

    async def _on_message(self, message: Msg) -> None:
        try:
            body = json.loads(message.data)
            origin, recipients = body["origin"], body["recipients"]
        except (ValueError, KeyError, TypeError):
            log.warning("push wake-up unreadable", subject=message.subject)
            return
        if origin == self._origin or not isinstance(recipients, list):
            return
        self.applied += 1
        self._hub.wake_local(str(r) for r in recipients)
