"""Email channel end to end: the service hands staff mail to a real SMTP server (aiosmtpd)."""

from __future__ import annotations

import asyncio
import uuid
from email import message_from_bytes
from email import policy as email_policy

from aiosmtpd.smtp import SMTP
from notify_harness import RM_A, notify_service

from crm.notify.v1 import common_pb2, message_pb2, notify_service_pb2
from crm_notify.channels.smtp import IDEMPOTENCY_HEADER, message_id_for


class FlakyHandler:
    """Accepts mail, after refusing the first `refuse` DATA commands with 451."""

    def __init__(self, refuse: int = 0) -> None:
        self.refuse = refuse
        self.envelopes: list = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd hook name.
        if self.refuse > 0:
            self.refuse -= 1
            return "451 4.3.0 try again later"
        self.envelopes.append(envelope)
        return f"250 2.0.0 Ok: queued as Q{len(self.envelopes)}"


async def _smtp_server(handler: FlakyHandler) -> tuple[asyncio.Server, int]:
    server = await asyncio.get_running_loop().create_server(
        lambda: SMTP(handler, hostname="mx.test"), "127.0.0.1", 0
    )
    return server, server.sockets[0].getsockname()[1]


class TestEmail:
    async def test_staff_email_is_sent_with_its_idempotency_key(self, sqlite_url, identity):
        """A 451 is retried; the accepted mail carries the message id as its dedupe key."""
        handler = FlakyHandler(refuse=1)
        server, port = await _smtp_server(handler)
        try:
            async with notify_service(
                sqlite_url, identity, smtp_host="127.0.0.1", smtp_port=port, smtp_starttls=False
            ) as h:
                await h.template("notice")
                reply = await h.stub.SendMessage(
                    notify_service_pb2.SendMessageRequest(
                        recipient=RM_A,
                        template="templates/notice",
                        variables={"client_name": "华东机械"},
                        channels=[common_pb2.CHANNEL_EMAIL],
                        request_id=str(uuid.uuid4()),
                    ),
                    metadata=h.system(),
                )
                name = reply.messages[0].name
                async with asyncio.timeout(10):
                    while True:
                        message = await h.stub.GetMessage(
                            notify_service_pb2.GetMessageRequest(name=name), metadata=h.system()
                        )
                        if message.state == message_pb2.DELIVERY_STATE_SENT:
                            break
                        await asyncio.sleep(0.05)
                attempts = await h.stub.ListDeliveryAttempts(
                    notify_service_pb2.ListDeliveryAttemptsRequest(parent=name),
                    metadata=h.system(),
                )
        finally:
            server.close()
            await server.wait_closed()
        assert [a.state for a in attempts.attempts] == [
            message_pb2.DELIVERY_STATE_FAILED,
            message_pb2.DELIVERY_STATE_SENT,
        ]
        assert "451" in attempts.attempts[0].error
        assert message.provider_message_id == "Q1"
        (envelope,) = handler.envelopes
        assert envelope.rcpt_tos == ["rm-a@bank.example"]
        mail = message_from_bytes(envelope.original_content, policy=email_policy.default)
        key = name.removeprefix("messages/")
        assert mail[IDEMPOTENCY_HEADER] == key
        assert mail["Message-ID"] == message_id_for(key, "bank.example")
        assert str(mail["Subject"]) == "通知：华东机械"
        assert "华东机械" in mail.get_content()
