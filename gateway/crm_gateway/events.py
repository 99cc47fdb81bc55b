"""Push for HTTP-only clients: notify's push stream as server-sent events (SSE).

`GET /v1/messages:events?recipient=<name>` opens `StreamMessages` upstream with the caller's
identity and writes each pushed message as an SSE event (`event: message`, the PushMessage in
canonical JSON, `id:` the stream position), with comment lines as heartbeats. The call passes
the same Gate as every other (authentication, method rules, rate and stream limits, audit);
notify applies the object-level rule (whose messages). Errors found before the first byte are
answered as on the rest of the HTTP face (google.rpc.Status JSON, 401/403/429...), so a
browser's EventSource stops instead of reconnecting forever.

A browser's EventSource cannot send headers, so `POST /v1/messages:eventsTicket` (with the
usual bearer token or API key) returns a short-lived ticket for the `ticket` query parameter:
a URL may be logged, and a ticket is worth less there than the caller's own token (it expires
in a minute, is accepted only by this route, and services never trust its key id).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Callable, Mapping
from typing import Any

import grpc
from cryptography.hazmat.primitives import serialization
from google.protobuf import json_format
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from crm.notify.v1 import message_pb2, notify_service_pb2
from crm_gateway.errors import status_json, status_of_rpc_error
from crm_runtime.auth import Principal, TokenSigner, TokenVerifier
from crm_runtime.errors import InvalidArgument, Unauthenticated

STREAM_METHOD = "/crm.notify.v1.NotificationService/StreamMessages"
EVENTS_PATH = "/v1/messages:events"
TICKET_PATH = "/v1/messages:eventsTicket"
# Key id of tickets: no service trusts it, so a ticket never passes for an identity token.
TICKET_KID = "gateway-events-ticket"
# How long to wait for the upstream's first answer before committing a 200: refusals (whose
# messages, unknown recipient) arrive at once, a healthy idle stream says nothing for a while.
SETTLE_SECONDS = 0.5
_MAX_EVENT_ID = 8192


class EventTickets:
    """Short-lived tickets naming a caller, signed with the gateway's own identity key.

    Every replica holds that key, so a ticket issued by one is accepted by all.
    """

    def __init__(self, private_pem: bytes, ttl_seconds: int) -> None:
        self.ttl_seconds = ttl_seconds
        self._signer = TokenSigner(private_pem, TICKET_KID, ttl_seconds=ttl_seconds)
        key = serialization.load_pem_private_key(private_pem, password=None)
        public = key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        self._verifier = TokenVerifier(
            {TICKET_KID: public}, human_issuers=frozenset({TICKET_KID})
        )

    def issue(self, principal: Principal) -> str:
        """Return a ticket for `principal`."""
        return self._signer.mint(principal.subject, principal.roles, teams=principal.teams)

    def verify(self, ticket: str) -> Principal:
        """Return the caller a ticket names, or raise UNAUTHENTICATED (reason TICKET_EXPIRED:
        fetch a new one; TICKET_INVALID: not a ticket of this platform)."""
        try:
            return self._verifier.verify(ticket)
        except Unauthenticated as error:
            if error.reason == "IDENTITY_EXPIRED":
                raise Unauthenticated("events ticket expired", reason="TICKET_EXPIRED") from None
            raise Unauthenticated("events ticket rejected", reason="TICKET_INVALID") from None


def parse_event_id(event_id: str) -> dict[str, int]:
    """Return recipient → last sequence seen from an event id (`name=seq,name=seq`)."""
    positions: dict[str, int] = {}
    if len(event_id) > _MAX_EVENT_ID:
        raise InvalidArgument.of("lastEventId", "is too long")
    for part in filter(None, event_id.split(",")):
        recipient, _, sequence = part.rpartition("=")
        if not recipient or not sequence.isdigit():
            raise InvalidArgument.of("lastEventId", "is not an event id of this stream")
        positions[recipient] = int(sequence)
    return positions


def format_event_id(positions: Mapping[str, int]) -> str:
    """Return the event id that resumes after `positions`."""
    return ",".join(f"{recipient}={sequence}" for recipient, sequence in positions.items())


def stream_request(request: Request) -> notify_service_pb2.StreamMessagesRequest:
    """Return the upstream request: recipients from the query, resuming after the last event
    id (the Last-Event-ID header EventSource sends on reconnect, or `lastEventId`)."""
    recipients = request.query_params.getlist("recipient")
    if not recipients:
        raise InvalidArgument.of("recipient", "at least one recipient is required")
    last = request.headers.get("last-event-id") or request.query_params.get("lastEventId", "")
    positions = parse_event_id(last)
    page = request.query_params.get("pageSize", "0")
    if not page.isdigit():
        raise InvalidArgument.of("pageSize", "must be a whole number")
    cursors = [
        message_pb2.PushCursor(recipient=r, after_sequence=positions[r])
        if r in positions
        else message_pb2.PushCursor(recipient=r)
        for r in recipients
    ]
    return notify_service_pb2.StreamMessagesRequest(cursors=cursors, page_size=int(page))


def render_page(
    page: notify_service_pb2.StreamMessagesResponse, positions: dict[str, int]
) -> bytes:
    """Return one page as SSE: an event per message, or a heartbeat comment when it carries
    only progress (notify's idle notice). `positions` advances as messages are written."""
    for bookmark in page.bookmarks:
        positions.setdefault(bookmark.recipient, bookmark.sequence)
    if not page.messages:
        for bookmark in page.bookmarks:
            positions[bookmark.recipient] = bookmark.sequence
        return b": heartbeat\n\n"
    out = []
    for pushed in page.messages:
        positions[pushed.recipient] = pushed.sequence
        data = json.dumps(json_format.MessageToDict(pushed), separators=(",", ":"))
        out.append(f"id: {format_event_id(positions)}\nevent: message\ndata: {data}\n\n")
    return "".join(out).encode()


class EventStream(Response):
    """The open SSE response: pumps upstream pages until either side goes away."""

    def __init__(
        self,
        call: Any,
        first: asyncio.Future[Any],
        close: Callable[[str], None],
        *,
        heartbeat: float,
        request_id: str,
        stopping: asyncio.Event,
    ) -> None:
        super().__init__(status_code=200, media_type="text/event-stream")
        self._call, self._first, self._close = call, first, close
        self._stopping = stopping
        self._started = False
        self._heartbeat = heartbeat
        self.headers["cache-control"] = "no-store"
        self.headers["x-accel-buffering"] = "no"  # nginx: pass each event on at once.
        self.headers["x-request-id"] = request_id
        # Response sets Content-Length: 0 for a response built without a body; this one streams.
        self.raw_headers = [(k, v) for k, v in self.raw_headers if k != b"content-length"]
        self.outcome = "CANCELLED"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Write events; stop when the upstream ends, the client disconnects or the gateway
        stops (the client then reconnects, to another replica, after its last event id)."""
        writer = asyncio.ensure_future(self._write(send))
        gone = asyncio.ensure_future(_until_disconnect(receive))
        stop = asyncio.ensure_future(self._stopping.wait())
        tasks = (writer, gone, stop)
        try:
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            ended_by_stop = stop.done() and not writer.done() and not gone.done()
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
            if ended_by_stop and self._started:
                self.outcome = "UNAVAILABLE"
                with contextlib.suppress(Exception):
                    await send({"type": "http.response.body", "body": b"", "more_body": False})
            self._close(self.outcome)

    async def _write(self, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": self.raw_headers})
        self._started = True
        await _body(send, b"retry: 2000\n: connected\n\n")
        positions: dict[str, int] = {}
        pending = self._first
        try:
            while True:
                done, _ = await asyncio.wait({pending}, timeout=self._heartbeat)
                if not done:  # Keeps proxies from closing an idle connection.
                    await _body(send, b": heartbeat\n\n")
                    continue
                item = pending.result()
                if item is grpc.aio.EOF:
                    break
                page = notify_service_pb2.StreamMessagesResponse.FromString(item)
                await _body(send, render_page(page, positions))
                pending = asyncio.ensure_future(self._call.read())
        except grpc.aio.AioRpcError as error:
            self.outcome = error.code().name
            data = json.dumps(status_json(status_of_rpc_error(error)), separators=(",", ":"))
            await _body(send, f"event: error\ndata: {data}\n\n".encode())
        else:
            self.outcome = "OK"
        finally:
            if not pending.done():
                pending.cancel()
        await send({"type": "http.response.body", "body": b"", "more_body": False})


async def _body(send: Send, chunk: bytes) -> None:
    await send({"type": "http.response.body", "body": chunk, "more_body": True})


async def _until_disconnect(receive: Receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass
