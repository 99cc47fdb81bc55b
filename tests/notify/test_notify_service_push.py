"""Push channel: per-recipient sequences, streaming, resumption, acknowledgements, backpressure."""

from __future__ import annotations

import asyncio

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from notify_harness import RM_A, notify_service

from crm.notify.v1 import message_pb2, notify_service_pb2, notify_service_pb2_grpc
from crm_notify.enqueue import Outgoing, write_notifications
from crm_runtime.auth import Role


def _ack(recipient: str, sequence: int) -> notify_service_pb2.AcknowledgeMessagesRequest:
    return notify_service_pb2.AcknowledgeMessagesRequest(
        acknowledgements=[message_pb2.PushAcknowledgement(recipient=recipient, sequence=sequence)]
    )


class TestHealth:
    async def test_service_health_uses_the_grpc_service_name(self, sqlite_url, identity):
        """Readiness probes ask for crm.notify.v1.NotificationService and get SERVING."""
        async with notify_service(sqlite_url, identity) as h:
            stub = health_pb2_grpc.HealthStub(h.channel)
            for _ in range(50):
                reply = await stub.Check(
                    health_pb2.HealthCheckRequest(service="crm.notify.v1.NotificationService")
                )
                if reply.status == health_pb2.HealthCheckResponse.SERVING:
                    break
                await asyncio.sleep(0.05)
            assert reply.status == health_pb2.HealthCheckResponse.SERVING


class TestSequencesAndStream:
    async def test_messages_stream_in_sequence_and_ack_marks_delivered(self, store_url, identity):
        """Three sends get sequences 1-3, stream in order, and acked ones become delivered."""
        async with notify_service(store_url, identity) as h:
            await h.template("rate-notice")
            sent = [
                await h.send(RM_A, "templates/rate-notice", client_name=f"C{i}") for i in range(3)
            ]
            assert [s.messages[0].sequence for s in sent] == [1, 2, 3]
            got = await h.read_stream(RM_A, 3)
            assert [m.sequence for m in got] == [1, 2, 3]
            assert [m.message for m in got] == [s.messages[0].name for s in sent]
            reply = await h.stub.AcknowledgeMessages(_ack(RM_A, 2), metadata=h.system())
            assert reply.acknowledged[0].sequence == 2
            states = [
                (
                    await h.stub.GetMessage(
                        notify_service_pb2.GetMessageRequest(name=s.messages[0].name),
                        metadata=h.system(),
                    )
                ).state
                for s in sent
            ]
            assert states == [
                message_pb2.DELIVERY_STATE_DELIVERED,
                message_pb2.DELIVERY_STATE_DELIVERED,
                message_pb2.DELIVERY_STATE_QUEUED,
            ]

    async def test_resume_without_cursor_starts_after_last_ack(self, sqlite_url, identity):
        """A stream opened without after_sequence starts after the acknowledged position."""
        async with notify_service(sqlite_url, identity) as h:
            await h.template("rate-notice")
            for i in range(4):
                await h.send(RM_A, "templates/rate-notice", client_name=f"C{i}")
            await h.stub.AcknowledgeMessages(_ack(RM_A, 2), metadata=h.system())
            got = await h.read_stream(RM_A, 2)
            assert [m.sequence for m in got] == [3, 4]
            replay = await h.read_stream(RM_A, 4, after=0)
            assert [m.sequence for m in replay] == [1, 2, 3, 4]

    async def test_live_messages_reach_an_open_stream(self, sqlite_url, identity):
        """A message sent while the stream waits arrives without polling delay."""
        async with notify_service(sqlite_url, identity) as h:
            await h.template("rate-notice")
            reader = asyncio.create_task(h.read_stream(RM_A, 2, timeout=3))
            await asyncio.sleep(0.2)
            await h.send(RM_A, "templates/rate-notice", client_name="甲")
            await h.send(RM_A, "templates/rate-notice", client_name="乙")
            got = await reader
            assert [m.sequence for m in got] == [1, 2]
            assert "甲" in got[0].body

    async def test_one_stream_carries_many_recipients(self, sqlite_url, identity):
        """An app stream for several recipients gets each one's messages in its own order."""
        async with notify_service(sqlite_url, identity) as h:
            await h.template("rate-notice")
            people = [f"staff/app-user-{i}" for i in range(5)]
            for round_ in range(3):
                for person in people:
                    await h.send(person, "templates/rate-notice", client_name=str(round_))
            call = h.stub.StreamMessages(
                notify_service_pb2.StreamMessagesRequest(
                    cursors=[message_pb2.PushCursor(recipient=p) for p in people], page_size=4
                ),
                metadata=h.system(),
            )
            seen: dict[str, list[int]] = {p: [] for p in people}
            async with asyncio.timeout(5):
                async for page in call:
                    assert len(page.messages) <= 4
                    for m in page.messages:
                        seen[m.recipient].append(m.sequence)
                    if sum(map(len, seen.values())) == 15:
                        break
            call.cancel()
            assert all(seqs == [1, 2, 3] for seqs in seen.values())


class TestErrors:
    async def test_cursor_ahead_and_ack_out_of_range_are_rejected(self, sqlite_url, identity):
        """A cursor past the last sequence is FAILED_PRECONDITION; an ack beyond it INVALID."""
        async with notify_service(sqlite_url, identity) as h:
            await h.template("rate-notice")
            await h.send(RM_A, "templates/rate-notice", client_name="x")
            with pytest.raises(grpc.aio.AioRpcError) as ahead:
                await h.read_stream(RM_A, 1, after=5)
            assert ahead.value.code() == grpc.StatusCode.FAILED_PRECONDITION
            with pytest.raises(grpc.aio.AioRpcError) as beyond:
                await h.stub.AcknowledgeMessages(_ack(RM_A, 9), metadata=h.system())
            assert beyond.value.code() == grpc.StatusCode.INVALID_ARGUMENT

    async def test_staff_may_stream_only_their_own_messages(self, sqlite_url, identity):
        """An RM streaming another RM's inbox gets PERMISSION_DENIED."""
        async with notify_service(sqlite_url, identity) as h:
            call = h.stub.StreamMessages(
                notify_service_pb2.StreamMessagesRequest(
                    cursors=[message_pb2.PushCursor(recipient="staff/rm-b")]
                ),
                metadata=h.as_(RM_A, Role.RELATIONSHIP_MANAGER),
            )
            with pytest.raises(grpc.aio.AioRpcError) as denied:
                async for _ in call:
                    pass
            assert denied.value.code() == grpc.StatusCode.PERMISSION_DENIED


class TestSlowReader:
    async def test_slow_reader_is_held_back_not_buffered(self, sqlite_url, identity):
        """A reader that stalls stops the server reading ahead; later it gets everything."""
        total, body = 1500, "长" * 2000  # ~6 KB per message, ~9 MB in all.
        async with notify_service(sqlite_url, identity) as h:
            now = h.ctx.clock()
            async with h.ctx.db.write() as session:  # The fan-out path campaigns use.
                await write_notifications(
                    session,
                    [
                        Outgoing(RM_A, "service", "normal", "zh-CN", f"#{i}", body, "t", ["push"])
                        for i in range(total)
                    ],
                    now=now,
                    ttl=h.ctx.message_ttl,
                )
            # An app backend that keeps HTTP/2's default 64 KB window (no BDP growth).
            async with grpc.aio.insecure_channel(
                h.running.address, options=[("grpc.http2.bdp_probe", 0)]
            ) as channel:
                stub = notify_service_pb2_grpc.NotificationServiceStub(channel)
                call = stub.StreamMessages(
                    notify_service_pb2.StreamMessagesRequest(
                        cursors=[message_pb2.PushCursor(recipient=RM_A)], page_size=20
                    ),
                    metadata=h.system(),
                )
                first = await call.read()
                await asyncio.sleep(1.0)  # The app stalls; flow control must stop the server.
                held_at = h.ctx.push_sent
                sequences = [m.sequence for m in first.messages]
                async with asyncio.timeout(30):
                    while len(sequences) < total:
                        page = await call.read()
                        sequences.extend(m.sequence for m in page.messages)
                call.cancel()
        print(f"\nSLOW READER: server had written {held_at} of {total} messages while stalled")
        assert held_at <= 200, held_at
        assert sequences == list(range(1, total + 1))
