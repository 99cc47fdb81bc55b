"""In-process wake-ups for push streams: which recipients got new messages since last look.

A stream registers a waiter for its recipients; after a transaction that created or released
push messages commits, the writer calls `notify`. The waiter remembers which recipients are
"dirty" so the stream reads only those. With several replicas a write on one replica reaches
streams held on the others through `forward` (push_wakeups.py, NATS core pub/sub), which calls
their `wake_local`; streams also re-read every recipient on a heartbeat, the fallback when no
broker is configured or it is unreachable.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable


class StreamWaiter:
    """What one stream waits on: a wake-up event and the recipients that changed."""

    def __init__(self, recipients: Iterable[str], dirty: Iterable[str] | None = None) -> None:
        self.recipients = frozenset(recipients)
        self.dirty: set[str] = set(self.recipients if dirty is None else dirty)
        self.event = asyncio.Event()

    def mark(self, recipient: str) -> None:
        """Note that `recipient` may have new messages and wake the stream."""
        self.dirty.add(recipient)
        self.event.set()

    def take_dirty(self) -> list[str]:
        """Return and clear the recipients to read, in a stable order."""
        dirty = sorted(self.dirty)
        self.dirty.clear()
        self.event.clear()
        return dirty


class PushHub:
    """Registry of open streams by recipient."""

    def __init__(self) -> None:
        self._waiters: dict[str, set[StreamWaiter]] = {}
        # Tells the other replicas about recipients with news; None on a lone replica.
        self.forward: Callable[[list[str]], None] | None = None

    def subscribe(
        self, recipients: Iterable[str], *, dirty: Iterable[str] | None = None
    ) -> StreamWaiter:
        """Register a stream for `recipients`, `dirty` of them (default all) to be read."""
        waiter = StreamWaiter(recipients, dirty)
        for recipient in waiter.recipients:
            self._waiters.setdefault(recipient, set()).add(waiter)
        return waiter

    def unsubscribe(self, waiter: StreamWaiter) -> None:
        """Forget a stream that ended."""
        for recipient in waiter.recipients:
            waiters = self._waiters.get(recipient)
            if waiters is not None:
                waiters.discard(waiter)
                if not waiters:
                    del self._waiters[recipient]

    def notify(self, recipients: Iterable[str]) -> None:
        """Wake every stream, here and on other replicas, that carries one of `recipients`
        (call after commit)."""
        names = list(recipients)
        self.wake_local(names)
        if self.forward is not None and names:
            self.forward(names)

    def wake_local(self, recipients: Iterable[str]) -> None:
        """Wake this process's streams that carry one of `recipients`."""
        for recipient in recipients:
            for waiter in self._waiters.get(recipient, ()):
                waiter.mark(recipient)

    @property
    def open_streams(self) -> int:
        """Return how many distinct streams are registered."""
        return len({w for ws in self._waiters.values() for w in ws})
