"""Provider delivery through signed webhooks: retries, dedupe keys, dead letters, status history."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

import grpc
import pytest
from notify_harness import RM_A, FakeClock, notify_service
from webhook_receiver import WebhookReceiver

from crm.notify.v1 import common_pb2, message_pb2, notify_service_pb2

SECRET = "whsec_c2VjcmV0LWZvci10ZXN0cw=="
TERMINAL = {
    message_pb2.DELIVERY_STATE_DELIVERED,
    message_pb2.DELIVERY_STATE_DEAD_LETTER,
    message_pb2.DELIVERY_STATE_EXPIRED,
}


async def _receiver(**kwargs) -> tuple[WebhookReceiver, str]:
    receiver = WebhookReceiver(secret=SECRET, **kwargs)
    return receiver, await receiver.start()


async def _send_chat(h, recipient: str = RM_A) -> message_pb2.Message:
    reply = await h.stub.SendMessage(
        notify_service_pb2.SendMessageRequest(
            recipient=recipient,
            template="templates/notice",
            variables={"client_name": "华东机械"},
            channels=[common_pb2.CHANNEL_CHAT],
            request_id=str(uuid.uuid4()),
        ),
        metadata=h.system(),
    )
    assert [m.channel for m in reply.messages] == [common_pb2.CHANNEL_CHAT]
    return reply.messages[0]


async def _settled(h, name: str, timeout: float = 10.0) -> message_pb2.Message:
    async with asyncio.timeout(timeout):
        while True:
            message = await h.stub.GetMessage(
                notify_service_pb2.GetMessageRequest(name=name), metadata=h.system()
            )
            if message.state in TERMINAL:
                return message
            await asyncio.sleep(0.05)


async def _attempts(h, name: str) -> list[message_pb2.DeliveryAttempt]:
    reply = await h.stub.ListDeliveryAttempts(
        notify_service_pb2.ListDeliveryAttemptsRequest(parent=name), metadata=h.system()
    )
    return list(reply.attempts)


class TestWebhookDelivery:
    async def test_transient_failures_are_retried_until_delivered(self, store_url, identity):
        """Two 503s then success: three attempts recorded, delivered once at the receiver."""
        receiver, url = await _receiver(fail_times=2)
        try:
            async with notify_service(
                store_url, identity, chat_webhook_url=url, chat_webhook_secret=SECRET
            ) as h:
                await h.template("notice")
                sent = await _send_chat(h)
                final = await _settled(h, sent.name)
                attempts = await _attempts(h, sent.name)
        finally:
            await receiver.close()
        assert final.state == message_pb2.DELIVERY_STATE_DELIVERED
        assert [a.state for a in attempts] == [
            message_pb2.DELIVERY_STATE_FAILED,
            message_pb2.DELIVERY_STATE_FAILED,
            message_pb2.DELIVERY_STATE_DELIVERED,
        ]
        assert [a.attempt_number for a in attempts] == [1, 2, 3]
        assert "HTTP 503" in attempts[0].error
        message_id = sent.name.removeprefix("messages/")
        assert set(receiver.attempts) == {message_id}  # Same webhook-id on every attempt.
        assert receiver.deliveries[message_id]["to"] == RM_A
        assert receiver.bad_signatures == 0

    async def test_lost_answer_gives_a_duplicate_the_receiver_dedupes(self, sqlite_url, identity):
        """A receiver that processed a request but lost the answer sees the same id again."""
        receiver, url = await _receiver(lose_answer_times=1)
        try:
            async with notify_service(
                sqlite_url, identity, chat_webhook_url=url, chat_webhook_secret=SECRET
            ) as h:
                await h.template("notice")
                sent = await _send_chat(h)
                final = await _settled(h, sent.name)
        finally:
            await receiver.close()
        assert final.state == message_pb2.DELIVERY_STATE_DELIVERED
        assert final.attempt_count == 2
        assert (len(receiver.deliveries), receiver.duplicates) == (1, 1)

    async def test_permanent_rejection_dead_letters_at_once(self, sqlite_url, identity):
        """A 401 from the provider is not retried: one attempt, then dead letter."""
        receiver, url = await _receiver(fail_times=1, fail_status=401)
        try:
            async with notify_service(
                sqlite_url, identity, chat_webhook_url=url, chat_webhook_secret=SECRET
            ) as h:
                await h.template("notice")
                sent = await _send_chat(h)
                final = await _settled(h, sent.name)
        finally:
            await receiver.close()
        assert final.state == message_pb2.DELIVERY_STATE_DEAD_LETTER
        assert final.attempt_count == 1
        assert "permanent" in final.last_error

    async def test_exhausted_attempts_dead_letter(self, sqlite_url, identity):
        """A provider that keeps failing gets exactly RETRY_MAX_ATTEMPTS attempts."""
        receiver, url = await _receiver(fail_times=100)
        try:
            async with notify_service(
                sqlite_url,
                identity,
                chat_webhook_url=url,
                chat_webhook_secret=SECRET,
                retry_max_attempts=3,
            ) as h:
                await h.template("notice")
                sent = await _send_chat(h)
                final = await _settled(h, sent.name)
                attempts = await _attempts(h, sent.name)
        finally:
            await receiver.close()
        assert final.state == message_pb2.DELIVERY_STATE_DEAD_LETTER
        assert len(attempts) == 3 == len(receiver.attempts)
        assert "gave up after 3 attempts" in final.last_error

    async def test_message_past_its_ttl_expires(self, sqlite_url, identity):
        """A message still failing when its time to live runs out ends expired."""
        receiver, url = await _receiver(fail_times=100)
        clock = FakeClock()
        try:
            async with notify_service(
                sqlite_url,
                identity,
                chat_webhook_url=url,
                chat_webhook_secret=SECRET,
                message_ttl_hours=1,
                retry_base_seconds=60,
                retry_cap_seconds=600,
                workers=False,
            ) as h:
                h.use_clock(clock)
                await h.template("notice")
                sent = await _send_chat(h)
                await h.deliver()
                first = await h.stub.GetMessage(
                    notify_service_pb2.GetMessageRequest(name=sent.name), metadata=h.system()
                )
                assert first.state == message_pb2.DELIVERY_STATE_QUEUED
                assert first.attempt_count == 1
                clock.advance(hours=2)
                await h.deliver()
                final = await _settled(h, sent.name)
        finally:
            await receiver.close()
        assert final.state == message_pb2.DELIVERY_STATE_EXPIRED
        assert final.expire_time.ToDatetime() - final.create_time.ToDatetime() == timedelta(hours=1)


class TestStatusApi:
    async def test_list_messages_filters_and_pages(self, sqlite_url, identity):
        """ListMessages pages newest first and filters by recipient; bad sizes are rejected."""
        async with notify_service(sqlite_url, identity) as h:
            await h.template("notice")
            for i in range(5):
                await h.send(RM_A, "templates/notice", client_name=str(i))
            await h.send("staff/rm-b", "templates/notice", client_name="b")
            first = await h.stub.ListMessages(
                notify_service_pb2.ListMessagesRequest(recipient=RM_A, page_size=3),
                metadata=h.system(),
            )
            second = await h.stub.ListMessages(
                notify_service_pb2.ListMessagesRequest(
                    recipient=RM_A, page_size=3, page_token=first.next_page_token
                ),
                metadata=h.system(),
            )
            sequences = [m.sequence for m in (*first.messages, *second.messages)]
            assert sequences == [5, 4, 3, 2, 1]
            assert not second.next_page_token
            with pytest.raises(grpc.aio.AioRpcError) as bad:
                await h.stub.ListMessages(
                    notify_service_pb2.ListMessagesRequest(page_size=-1), metadata=h.system()
                )
            assert bad.value.code() == grpc.StatusCode.INVALID_ARGUMENT
