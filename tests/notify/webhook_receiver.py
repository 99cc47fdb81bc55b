"""A tiny HTTP/1.1 webhook receiver for tests: verifies signatures, dedupes, misbehaves on cue.

It plays a provider: every request's Standard-Webhooks signature is checked, deliveries are
stored once per `webhook-id`, and it can be told to fail the next N requests, to accept a
request but "lose" the answer, or to answer slowly.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from crm_notify.channels.webhook import verify_signature

_REASONS = {200: "OK", 302: "Found", 401: "Unauthorized", 413: "Payload Too Large"}
_MAX_BODY = 1024 * 1024


@dataclass
class WebhookReceiver:
    """Start with `await start()`, which returns the URL; stop with `await close()`."""

    secret: str
    fail_times: int = 0
    fail_status: int = 503
    fail_headers: list[str] = field(default_factory=list)
    lose_answer_times: int = 0
    delay_s: float = 0.0
    delay_times: int = 0
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    deliveries: dict[str, dict] = field(default_factory=dict)
    attempts: list[str] = field(default_factory=list)
    duplicates: int = 0
    bad_signatures: int = 0
    _server: asyncio.Server | None = None

    async def start(self) -> str:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        port = self._server.sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}/hooks/sms"

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            status, payload, extra = await self._handle(reader)
            body = json.dumps(payload).encode()
            head = [f"HTTP/1.1 {status} {_REASONS.get(status, 'Status')}",
                    "Content-Type: application/json", f"Content-Length: {len(body)}",
                    "Connection: close", *extra]
            writer.write(("\r\n".join(head) + "\r\n\r\n").encode() + body)
            await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    async def _handle(self, reader: asyncio.StreamReader) -> tuple[int, dict, list[str]]:
        raw_head = await reader.readuntil(b"\r\n\r\n")
        lines = raw_head.decode("latin-1").split("\r\n")
        headers: dict[str, str] = {}
        for line in lines[1:]:
            if ":" in line:
                name, value = line.split(":", 1)
                headers[name.strip().lower()] = value.strip()
        length = int(headers.get("content-length", "0"))
        if length > _MAX_BODY:
            return 413, {"error": "too large"}, []
        body = await reader.readexactly(length)
        webhook_id = headers.get("webhook-id", "")
        self.attempts.append(webhook_id)
        if not verify_signature(self.secret, headers, body, now=self.clock()):
            self.bad_signatures += 1
            return 401, {"error": "bad signature"}, []
        if self.fail_times > 0:
            self.fail_times -= 1
            return self.fail_status, {"error": "try again"}, list(self.fail_headers)
        duplicate = webhook_id in self.deliveries
        if duplicate:
            self.duplicates += 1
        else:
            self.deliveries[webhook_id] = json.loads(body)
        if self.delay_times > 0:
            self.delay_times -= 1
            await asyncio.sleep(self.delay_s)
        if self.lose_answer_times > 0:
            # Processed, but the caller sees a failure: the classic at-least-once duplicate.
            self.lose_answer_times -= 1
            return 503, {"error": "gateway lost the answer"}, []
        provider_id = f"prov-{list(self.deliveries).index(webhook_id) + 1}"
        return 200, {"id": provider_id, "duplicate": duplicate}, []
