"""The push stream and its acknowledgements.

Guarantees (after etcd's watch): per recipient the stream is ordered, gap-free, without
repeats within one stream, and resumable from any sequence the client names. Each page is read
from the store only after the previous page was written to the transport, so a slow reader
holds the stream back through HTTP/2 flow control; the server never queues more than one page
per stream. Messages stay in the store until acknowledged, so a cut stream loses nothing.
"""

from __future__ import annotations

import asyncio
import functools
from collections import deque
from collections.abc import AsyncIterator, Sequence

import grpc

from crm.notify.v1 import message_pb2, notify_service_pb2
from crm_notify import access
from crm_notify.context import NotifyContext
from crm_notify.domain.sequence import GapError, ReplayWindow
from crm_notify.mapping import push_message
from crm_notify.names import Violations, check_recipient
from crm_notify.push_counters import PushCounterReader
from crm_notify.push_store import OR_CHUNK, counters, fetch_page, record_acknowledgements
from crm_runtime.auth import Principal, current_principal
from crm_runtime.errors import FailedPrecondition, InvalidArgument

MAX_STREAM_RECIPIENTS = 1000
DEFAULT_PAGE = 100
MAX_PAGE = 500


def _bookmarks(positions: dict[str, int]) -> list[message_pb2.PushAcknowledgement]:
    return [message_pb2.PushAcknowledgement(recipient=r, sequence=s) for r, s in positions.items()]


def _checked_recipients(
    principal: Principal, names: Sequence[str], field: str, *, limit: int = MAX_STREAM_RECIPIENTS
) -> None:
    v = Violations()
    if not names:
        v.add(field, "needs at least one recipient")
    if len(names) > limit:
        v.add(field, f"at most {limit} recipients")
    seen: set[str] = set()
    for i, name in enumerate(names):
        check_recipient(v, f"{field}[{i}].recipient", name)
        if name in seen:
            v.add(f"{field}[{i}].recipient", "appears twice")
        seen.add(name)
    v.raise_if_any()
    for name in names:
        access.require_act_for(principal, name)


class PushRpc:
    """StreamMessages and AcknowledgeMessages."""

    ctx: NotifyContext

    @functools.cached_property
    def push_counters(self) -> PushCounterReader:
        """Return the process's one reader of push counters (one query for many streams)."""
        return PushCounterReader(self.ctx.db)

    async def StreamMessages(  # noqa: N802
        self, request: notify_service_pb2.StreamMessagesRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[notify_service_pb2.StreamMessagesResponse]:
        """Stream each recipient's messages after its cursor until the client goes away."""
        principal = current_principal()
        names = [c.recipient for c in request.cursors]
        _checked_recipients(principal, names, "cursors")
        size = request.page_size or DEFAULT_PAGE
        if not 1 <= size <= MAX_PAGE:
            raise InvalidArgument.of("page_size", f"must be between 1 and {MAX_PAGE}")
        window = ReplayWindow(size)
        # Registered before the counters are read, so a message committed in between still
        # marks its recipient; only recipients with something to read are read at once
        # (10,000 streams opening together must not each query the store).
        waiter = self.ctx.hub.subscribe(names, dirty=())
        heartbeat = self.ctx.settings.stream_heartbeat_seconds
        try:
            positions, behind = await self._start_positions(request.cursors)
            for recipient in behind:
                waiter.mark(recipient)
            while True:
                dirty = waiter.take_dirty()
                if dirty:
                    async for page in self._drain(dirty, positions, size, window):
                        yield page
                    continue
                try:
                    # asyncio.timeout, not wait_for: no extra task per wait (10,000 streams).
                    async with asyncio.timeout(heartbeat):
                        await waiter.event.wait()
                except TimeoutError:
                    # Other replicas' writes cannot wake us: look at the counters, and tell the
                    # client how far it is (a progress notice that also proves the stream lives).
                    await self._mark_behind(waiter.dirty, positions)
                    yield notify_service_pb2.StreamMessagesResponse(bookmarks=_bookmarks(positions))
        finally:
            self.ctx.hub.unsubscribe(waiter)

    async def _start_positions(
        self, cursors: Sequence[message_pb2.PushCursor]
    ) -> tuple[dict[str, int], list[str]]:
        """Return each recipient's start position, and the recipients with messages past it."""
        states = await self.push_counters.read([c.recipient for c in cursors])
        positions: dict[str, int] = {}
        for i, cursor in enumerate(cursors):
            last, acked = states.get(cursor.recipient, (0, 0))
            if not cursor.HasField("after_sequence"):
                positions[cursor.recipient] = acked
                continue
            if cursor.after_sequence < 0:
                raise InvalidArgument.of(f"cursors[{i}].after_sequence", "must not be negative")
            if cursor.after_sequence > last:
                raise FailedPrecondition(
                    f"{cursor.recipient}: cursor {cursor.after_sequence} is ahead of the last "
                    f"sequence {last}",
                    reason="CURSOR_AHEAD",
                    metadata={"recipient": cursor.recipient, "last_sequence": str(last)},
                )
            positions[cursor.recipient] = cursor.after_sequence
        behind = [r for r, p in positions.items() if states.get(r, (0, 0))[0] > p]
        return positions, behind

    async def _mark_behind(self, dirty: set[str], positions: dict[str, int]) -> None:
        states = await self.push_counters.read(list(positions))
        dirty.update(r for r, (last, _) in states.items() if last > positions[r])

    async def _drain(
        self, dirty: list[str], positions: dict[str, int], size: int, window: ReplayWindow
    ) -> AsyncIterator[notify_service_pb2.StreamMessagesResponse]:
        """Yield pages until every dirty recipient is caught up; one page in memory at a time."""
        pending = deque(dirty)
        while pending:
            chunk = [pending.popleft() for _ in range(min(OR_CHUNK, len(pending)))]
            async with self.ctx.db.read() as session:
                rows = await fetch_page(session, [(r, positions[r]) for r in chunk], size)
            by_recipient: dict[str, list[int]] = {}
            for row in rows:
                by_recipient.setdefault(row.recipient, []).append(int(row.sequence))
            for recipient, sequences in by_recipient.items():
                try:
                    window.pending_after(positions[recipient], sequences)
                except GapError as exc:
                    raise FailedPrecondition(
                        f"{recipient}: {exc}; resynchronise from ListMessages",
                        reason="SEQUENCE_GAP",
                        metadata={"recipient": recipient, "expected": str(exc.expected)},
                    ) from exc
                positions[recipient] = sequences[-1]
            if len(rows) == size:
                # The page was full: its last recipient, and any it did not reach, may have
                # more. (Decided without comparing names: database collations differ.)
                finished = set(by_recipient) - {rows[-1].recipient}
                pending.extendleft(reversed([r for r in chunk if r not in finished]))
            if rows:
                self.ctx.push_sent += len(rows)
                yield notify_service_pb2.StreamMessagesResponse(
                    messages=[push_message(row) for row in rows]
                )

    async def AcknowledgeMessages(  # noqa: N802
        self,
        request: notify_service_pb2.AcknowledgeMessagesRequest,
        context: grpc.aio.ServicerContext,
    ) -> notify_service_pb2.AcknowledgeMessagesResponse:
        """Record that each recipient received everything up to its sequence (delivered)."""
        principal = current_principal()
        names = [a.recipient for a in request.acknowledgements]
        _checked_recipients(principal, names, "acknowledgements")
        now = self.ctx.clock()
        async with self.ctx.db.write() as session:
            states = await counters(session, names)
            v = Violations()
            for i, ack in enumerate(request.acknowledgements):
                last, _ = states.get(ack.recipient, (0, 0))
                if ack.sequence < 0 or ack.sequence > last:
                    v.add(
                        f"acknowledgements[{i}].sequence",
                        f"must be between 0 and the last sequence sent ({last})",
                    )
            v.raise_if_any(reason="ACK_OUT_OF_RANGE")
            response = notify_service_pb2.AcknowledgeMessagesResponse()
            moves: list[tuple[str, int, int]] = []
            for ack in request.acknowledgements:
                _, acked = states.get(ack.recipient, (0, 0))
                if ack.sequence > acked:
                    moves.append((ack.recipient, acked, ack.sequence))
                response.acknowledged.add(
                    recipient=ack.recipient, sequence=max(acked, ack.sequence)
                )
            if moves:
                await record_acknowledgements(session, moves, now)
        return response
