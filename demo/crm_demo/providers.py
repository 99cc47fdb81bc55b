"""The demo's own providers: a local SMTP server and an SMS gateway, both on 127.0.0.1.

Notify sends email over SMTP and SMS as signed webhooks to whatever its settings name; in the
demo those are these two small servers, so what the report says was "sent" can be set against
what actually arrived. The SMTP server is aiosmtpd (it runs its own thread and loop); the SMS
gateway checks each webhook's Standard-Webhooks signature with notify's own verifier and
counts each `webhook-id` once, as a real provider dedupes.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email import message_from_bytes
from typing import Any

from aiosmtpd.controller import Controller

from crm_notify.channels.webhook import verify_signature
from crm_runtime.testing import free_port

_MAX_BODY = 1024 * 1024


@dataclass
class Mailbox:
    """What the SMTP server received: one entry per mail, with its recipients and subject."""

    mails: list[tuple[tuple[str, ...], str]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_DATA(self, _server: Any, _session: Any, envelope: Any) -> str:  # noqa: N802
        """aiosmtpd hook: keep the mail's recipients and subject."""
        message = message_from_bytes(envelope.content)
        with self._lock:
            self.mails.append((tuple(envelope.rcpt_tos), str(message.get("Subject", ""))))
        return "250 Message accepted"

    def count(self) -> int:
        """Return how many mails arrived."""
        with self._lock:
            return len(self.mails)


class SmtpServer:
    """A local SMTP server (no TLS, no login) that notify's email channel is pointed at."""

    def __init__(self) -> None:
        self.mailbox = Mailbox()
        self.port = free_port()
        self._controller = Controller(self.mailbox, hostname="127.0.0.1", port=self.port)

    def start(self) -> None:
        """Start the server thread."""
        self._controller.start()

    def stop(self) -> None:
        """Stop the server thread."""
        self._controller.stop()

    def notify_env(self) -> dict[str, str]:
        """Return notify's settings for this server."""
        return {"SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(self.port), "SMTP_STARTTLS": "false"}


def _new_secret() -> str:
    return "whsec_" + base64.b64encode(os.urandom(24)).decode()


@dataclass
class SmsGateway:
    """A signed-webhook SMS provider: verifies, dedupes by webhook-id, answers 200."""

    secret: str = field(default_factory=_new_secret)
    received: dict[str, dict[str, Any]] = field(default_factory=dict)
    rejected: int = 0
    port: int = 0
    _server: asyncio.Server | None = None

    async def start(self) -> None:
        """Listen on a free local port."""
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def close(self) -> None:
        """Stop listening."""
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._server.wait_closed(), 2)

    def notify_env(self) -> dict[str, str]:
        """Return notify's settings for this gateway (private addresses allowed: it is local)."""
        return {
            "SMS_WEBHOOK_URL": f"http://127.0.0.1:{self.port}/sms",
            "SMS_WEBHOOK_SECRET": self.secret,
            "WEBHOOK_ALLOW_PRIVATE": "true",
        }

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            status = await self._handle(reader)
            body = json.dumps({"ok": status == 200}).encode()
            writer.write(
                f"HTTP/1.1 {status} {'OK' if status == 200 else 'Rejected'}\r\n"
                f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
                "Connection: close\r\n\r\n".encode()
                + body
            )
            await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            pass
        finally:
            writer.close()

    async def _handle(self, reader: asyncio.StreamReader) -> int:
        head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
        headers = {
            name.strip().lower(): value.strip()
            for name, _, value in (line.partition(":") for line in head[1:] if ":" in line)
        }
        length = int(headers.get("content-length", "0"))
        if length > _MAX_BODY:
            return 413
        body = await reader.readexactly(length)
        if not verify_signature(self.secret, headers, body, now=datetime.now(UTC)):
            self.rejected += 1
            return 401
        self.received.setdefault(headers.get("webhook-id", ""), json.loads(body))
        return 200
