"""Tests for SmtpSender against real in-process SMTP servers (aiosmtpd and raw sockets)."""

from __future__ import annotations

import asyncio
import socket
from email import message_from_bytes
from email import policy as email_policy

import pytest
from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword

from crm_notify.channels.smtp import IDEMPOTENCY_HEADER, SmtpSender, message_id_for

FROM = "CRM Notices <notices@bank.example>"


class RecordingHandler:
    """aiosmtpd handler that stores accepted envelopes or answers with a fixed error."""

    def __init__(self, *, rcpt_reply: str | None = None, data_reply: str | None = None):
        self.rcpt_reply = rcpt_reply
        self.data_reply = data_reply
        self.envelopes = []

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802
        if self.rcpt_reply:
            return self.rcpt_reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        if self.data_reply:
            return self.data_reply
        self.envelopes.append(envelope)
        return f"250 2.0.0 Ok: queued as Q{len(self.envelopes)}"


def _authenticator(server, session, envelope, mechanism, auth_data):
    ok = isinstance(auth_data, LoginPassword) and auth_data == LoginPassword(b"rm-bot", b"s3cret")
    # handled=False makes aiosmtpd answer 535 itself.
    return AuthResult(success=ok, handled=False, auth_data=auth_data)


@pytest.fixture
async def start_server():
    """Start servers on 127.0.0.1:0 in the test's own loop; close them afterwards."""
    servers = []

    async def start(factory):
        server = await asyncio.get_running_loop().create_server(factory, "127.0.0.1", 0)
        servers.append(server)
        return server.sockets[0].getsockname()[1]

    yield start
    for server in servers:
        server.close()
        await server.wait_closed()


async def _smtp(start_server, handler, **kwargs):
    return await start_server(lambda: SMTP(handler, hostname="mx.test", **kwargs))


def _sender(port, **kwargs):
    return SmtpSender("127.0.0.1", port, from_addr=FROM, timeout=5.0, helo_name="crm.test",
                      **kwargs)


def _parse(envelope):
    raw = envelope.original_content or envelope.content
    return message_from_bytes(raw, policy=email_policy.default)


class TestDelivery:
    async def test_message_headers_and_bodies_arrive(self, start_server):
        """The server receives our headers, the Chinese subject and both body parts."""
        handler = RecordingHandler()
        port = await _smtp(start_server, handler)
        result = await _sender(port).send(
            to="王经理 <wang@client.example>", subject="利率调整通知 / Rate change",
            text="您好，利率调整为3.65%。", html="<p>您好</p>", idempotency_key="msg-42:email",
        )
        assert result.accepted and not result.retryable and result.error is None
        assert result.provider_message_id == "Q1"
        [envelope] = handler.envelopes
        assert envelope.mail_from == "notices@bank.example"
        assert envelope.rcpt_tos == ["wang@client.example"]
        message = _parse(envelope)
        assert message["Subject"] == "利率调整通知 / Rate change"
        assert message["From"] == FROM
        assert message["Message-ID"] == message_id_for("msg-42:email", "bank.example")
        assert message[IDEMPOTENCY_HEADER] == "msg-42:email"
        assert message["Auto-Submitted"] == "auto-generated"
        assert message.get_body(("plain",)).get_content().strip() == "您好，利率调整为3.65%。"
        assert message.get_body(("html",)).get_content().strip() == "<p>您好</p>"

    async def test_retry_carries_the_same_message_id(self, start_server):
        """Two sends with one idempotency key carry one Message-ID; different keys differ."""
        handler = RecordingHandler()
        port = await _smtp(start_server, handler)
        sender = _sender(port)
        for key in ("k-1", "k-1", "k-2"):
            result = await sender.send(to="a@b.example", subject="s", text="t", html=None,
                                       idempotency_key=key)
            assert result.accepted
        ids = [_parse(e)["Message-ID"] for e in handler.envelopes]
        assert ids[0] == ids[1] != ids[2]
        assert [_parse(e).get_content_type() for e in handler.envelopes] == ["text/plain"] * 3

    @pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
    async def test_login_with_credentials(self, start_server):
        """AUTH succeeds with the right password and is a permanent failure otherwise."""
        handler = RecordingHandler()
        port = await _smtp(start_server, handler, authenticator=_authenticator,
                           auth_required=True, auth_require_tls=False)
        good = _sender(port, username="rm-bot", password="s3cret", allow_plaintext_auth=True)
        bad = _sender(port, username="rm-bot", password="nope", allow_plaintext_auth=True)
        assert (await good.send(to="a@b.example", subject="s", text="t", html=None,
                                idempotency_key="k")).accepted
        result = await bad.send(to="a@b.example", subject="s", text="t", html=None,
                                idempotency_key="k")
        assert not result.accepted and not result.retryable
        assert result.error is not None and result.error.startswith("535")
        assert len(handler.envelopes) == 1


class TestFailureClassification:
    async def test_451_is_retryable(self, start_server):
        """A 4xx reply (greylisting, 451) is transient."""
        handler = RecordingHandler(rcpt_reply="451 4.7.1 Greylisted, try later")
        port = await _smtp(start_server, handler)
        result = await _sender(port).send(to="a@b.example", subject="s", text="t", html=None,
                                          idempotency_key="k")
        assert not result.accepted and result.retryable
        assert result.error == "451 4.7.1 Greylisted, try later"

    async def test_550_is_permanent(self, start_server):
        """A 5xx reply (550 rejected) is not retried."""
        port = await _smtp(start_server, RecordingHandler(data_reply="550 5.7.1 Message rejected"))
        result = await _sender(port).send(to="a@b.example", subject="s", text="t", html=None,
                                          idempotency_key="k")
        assert not result.accepted and not result.retryable
        assert result.error == "550 5.7.1 Message rejected"

    async def test_connection_refused_is_retryable(self):
        """Nobody listening on the port is a transient network failure."""
        probe = socket.socket()
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
        probe.close()
        result = await _sender(port).send(to="a@b.example", subject="s", text="t", html=None,
                                          idempotency_key="k")
        assert not result.accepted and result.retryable
        assert result.error is not None and result.error.startswith("network")

    @pytest.mark.parametrize(("greeting", "retryable"), [(b"421 busy\r\n", True),
                                                         (b"554 go away\r\n", False)])
    async def test_greeting_refusal(self, greeting, retryable):
        """A server refusing at the greeting is classified by its reply code."""
        async def serve(reader, writer):
            writer.write(greeting)
            await writer.drain()
            await reader.read(1024)
            writer.close()

        server = await asyncio.start_server(serve, "127.0.0.1", 0)
        async with server:
            result = await _sender(server.sockets[0].getsockname()[1]).send(
                to="a@b.example", subject="s", text="t", html=None, idempotency_key="k")
        assert (result.accepted, result.retryable) == (False, retryable)

    async def test_disconnect_mid_session_is_retryable(self):
        """A server that drops the connection after EHLO is a transient failure."""
        async def serve(reader, writer):
            writer.write(b"220 mx.test ESMTP\r\n")
            await writer.drain()
            await reader.readline()
            writer.close()

        server = await asyncio.start_server(serve, "127.0.0.1", 0)
        async with server:
            result = await _sender(server.sockets[0].getsockname()[1]).send(
                to="a@b.example", subject="s", text="t", html=None, idempotency_key="k")
        assert not result.accepted and result.retryable

    async def test_silent_server_times_out_retryably(self):
        """A server that never greets trips the socket timeout, which is retryable."""
        async def serve(reader, writer):
            await reader.read(1024)
            writer.close()

        server = await asyncio.start_server(serve, "127.0.0.1", 0)
        async with server:
            sender = SmtpSender("127.0.0.1", server.sockets[0].getsockname()[1], from_addr=FROM,
                                timeout=0.3, helo_name="crm.test")
            result = await sender.send(to="a@b.example", subject="s", text="t", html=None,
                                       idempotency_key="k")
        assert not result.accepted and result.retryable

    async def test_starttls_not_offered_is_permanent(self, start_server):
        """Requiring STARTTLS from a server that lacks it is a configuration error."""
        port = await _smtp(start_server, RecordingHandler())
        result = await _sender(port, starttls=True).send(
            to="a@b.example", subject="s", text="t", html=None, idempotency_key="k")
        assert not result.accepted and not result.retryable
        assert result.error is not None and "STARTTLS" in result.error


class TestInputSafety:
    async def test_header_injection_is_refused_before_sending(self, start_server):
        """Line breaks, several or non-ASCII recipients are rejected and nothing is sent."""
        handler = RecordingHandler()
        port = await _smtp(start_server, handler)
        sender = _sender(port)
        for to, subject in (("a@b.example", "hi\r\nBcc: evil@x.example"),
                            ("a@b.example\r\nBcc: evil@x.example", "hi"),
                            ("not-an-address", "hi"),
                            ("a@b.example, c@d.example", "hi"),
                            ("用户@例子.公司", "hi")):
            result = await sender.send(to=to, subject=subject, text="t", html=None,
                                       idempotency_key="k")
            assert not result.accepted and not result.retryable
            assert result.error is not None and result.error.startswith("invalid message")
        assert handler.envelopes == []

    def test_constructor_guards(self):
        """No plaintext login, a password needs a user, the sender must be an address."""
        with pytest.raises(ValueError, match="STARTTLS"):
            SmtpSender("mx", 25, from_addr=FROM, username="u", password="p")
        with pytest.raises(ValueError, match="ASCII"):
            SmtpSender("mx", 25, from_addr=FROM, username="u", password="密码", starttls=True)
        with pytest.raises(ValueError, match="without username"):
            SmtpSender("mx", 25, from_addr=FROM, password="p")
        with pytest.raises(ValueError, match="not an ASCII email address"):
            SmtpSender("mx", 25, from_addr="nobody")

    async def test_idempotency_key_must_be_header_safe(self):
        """Keys with spaces, line breaks or non-ASCII are a caller bug and raise."""
        sender = SmtpSender("mx", 25, from_addr=FROM)
        for key in ("", "a b", "a\nb", "键"):
            with pytest.raises(ValueError, match="idempotency key"):
                await sender.send(to="a@b.example", subject="s", text="t", html=None,
                                  idempotency_key=key)
