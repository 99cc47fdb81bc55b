"""The HTTP routes of push for HTTP-only clients (see events.py for the stream itself).

`GET /v1/messages:events` opens the stream; `POST /v1/messages:eventsTicket` gives a browser's
EventSource, which cannot send headers, a short-lived ticket to open it with.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import grpc
from opentelemetry import propagate, trace
from opentelemetry.trace import SpanKind
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from crm_gateway.errors import status_of_domain_error, status_of_rpc_error
from crm_gateway.events import (
    EVENTS_PATH,
    SETTLE_SECONDS,
    STREAM_METHOD,
    TICKET_PATH,
    EventStream,
    EventTickets,
    stream_request,
)
from crm_gateway.gate import CallScope, Gate
from crm_gateway.http_app import error_response, request_id_of, request_origin
from crm_gateway.openapi_contract import error_response_refs
from crm_gateway.origins import ClientAddresses
from crm_gateway.routing import Routes
from crm_runtime.admission import Admission
from crm_runtime.auth import IDENTITY_METADATA_KEY
from crm_runtime.errors import (
    DomainError,
    NotFound,
    Unauthenticated,
    Unavailable,
    internal_status,
)
from crm_runtime.logging import get_logger
from crm_runtime.requestctx import REQUEST_ID_METADATA_KEY

log = get_logger("events")
_tracer = trace.get_tracer("crm_gateway.events")


class PushEvents:
    """Server-sent events over notify's push stream, through the gateway's Gate."""

    def __init__(
        self,
        gate: Gate,
        routes: Routes,
        tickets: EventTickets,
        *,
        addresses: ClientAddresses,
        admission: Admission | None,
        stream_deadline: float,
        heartbeat_seconds: float,
    ) -> None:
        self._gate = gate
        self._routes = routes
        self._tickets = tickets
        self._addresses = addresses
        self._admission = admission
        self._deadline = stream_deadline
        self._heartbeat = heartbeat_seconds
        # Set when the gateway stops: open streams end at once instead of holding the HTTP
        # server's shutdown for its whole grace period.
        self._stopping = asyncio.Event()

    def close_streams(self) -> None:
        """End every open event stream (graceful stop); new ones are no longer accepted."""
        self._stopping.set()

    def routes(self) -> list[BaseRoute]:
        """Return the Starlette routes (placed before the REST catch-all)."""
        return [
            Route(EVENTS_PATH, self._events, methods=["GET"]),
            Route(TICKET_PATH, self._ticket, methods=["POST"]),
        ]

    def openapi_paths(self) -> dict[str, Any]:
        """Return the OpenAPI entries of both routes (an event stream is described, not typed:
        OpenAPI 3.0 has no schema for one)."""
        recipient = {"name": "recipient", "in": "query", "required": True,
                     "schema": {"type": "array", "items": {"type": "string"}},
                     "style": "form", "explode": True}
        optional = [
            {"name": n, "in": "query", "required": False, "schema": {"type": "string"},
             "description": d}
            for n, d in (
                ("lastEventId", "Resume after this event id (or send Last-Event-ID)."),
                ("ticket", "From POST /v1/messages:eventsTicket, for EventSource."),
                ("pageSize", "Messages per upstream page, 1 to 500."),
            )
        ]
        stream = {
            "operationId": "NotificationService_StreamMessagesEvents",
            "tags": ["NotificationService"],
            "summary": "Push messages as server-sent events (docs/GATEWAY.md)",
            "x-grpc-method": STREAM_METHOD,
            "parameters": [recipient, *optional],
            "responses": {
                "200": {"description": "event: message, data: crm.notify.v1.PushMessage JSON",
                        "content": {"text/event-stream": {"schema": {"type": "string"}}}},
                **error_response_refs(),
            },
        }
        ticket = {
            "operationId": "NotificationService_IssueEventsTicket",
            "tags": ["NotificationService"],
            "summary": "A one-minute ticket for opening the event stream from EventSource",
            "x-grpc-method": STREAM_METHOD,
            "responses": {
                "200": {"description": "The ticket and its lifetime in seconds.",
                        "content": {"application/json": {"schema": {
                            "type": "object",
                            "properties": {"ticket": {"type": "string"},
                                           "expiresIn": {"type": "integer"}}}}}},
                **error_response_refs(),
            },
        }
        return {EVENTS_PATH: {"get": stream}, TICKET_PATH: {"post": ticket}}

    def _scope(self, request: Request, transport: str) -> CallScope:
        route = self._routes.resolve(STREAM_METHOD)
        scope = CallScope(
            self._gate,
            STREAM_METHOD,
            route.info if route is not None else None,
            transport=transport,
            origin=request_origin(self._addresses, request),
            request_id=request_id_of(request),
        )
        scope.span = _tracer.start_span(
            f"{transport} {request.url.path}",
            context=propagate.extract(dict(request.headers)),
            kind=SpanKind.SERVER,
        )
        return scope

    @staticmethod
    async def _admit_headers(request: Request, scope: CallScope) -> str:
        authorizations = request.headers.getlist("authorization")
        keys = request.headers.getlist("x-api-key")
        return await scope.admit(
            authorizations[0] if authorizations else "",
            keys[0] if keys else "",
            ambiguous=len(authorizations) > 1 or len(keys) > 1,
        )

    async def _admit_caller(self, request: Request, scope: CallScope) -> str:
        """Admit the caller of a stream by its headers or, for EventSource, its ticket."""
        ticket = request.query_params.get("ticket", "")
        if not ticket:
            return await self._admit_headers(request, scope)
        if "authorization" in request.headers or "x-api-key" in request.headers:
            # Two credentials would mean two callers; neither is guessed (as on other routes).
            raise Unauthenticated(
                "more than one credential was presented", reason="CREDENTIALS_AMBIGUOUS"
            )
        caller = await self._gate.authenticate_ticket(ticket, scope.origin, self._tickets.verify)
        return await scope.admit_principal(caller)

    async def _ticket(self, request: Request) -> Response:
        scope = self._scope(request, "ticket")
        scope.info = None  # A unary call: it takes an in-flight slot, not one of the streams.
        try:
            await self._admit_headers(request, scope)
            assert scope.caller is not None  # Set by a successful admit.
            ticket = self._tickets.issue(scope.caller)
            scope.outcome = "OK"
            return JSONResponse(
                {"ticket": ticket, "expiresIn": self._tickets.ttl_seconds},
                headers={"cache-control": "no-store", "x-request-id": scope.request_id},
            )
        except DomainError as error:
            scope.failed(error)
            return error_response(status_of_domain_error(error), scope.request_id)
        except Exception as exc:
            log.error("unhandled exception", rpc_method=TICKET_PATH, exc_info=exc)
            scope.outcome = "INTERNAL"
            return error_response(internal_status(domain="gateway"), scope.request_id)
        finally:
            scope.finish()

    async def _events(self, request: Request) -> Response:
        scope = self._scope(request, "sse")
        entered, handed_over = False, False
        call: Any = None
        first: asyncio.Future[Any] | None = None
        try:
            if self._stopping.is_set():
                raise Unavailable("the gateway is stopping", reason="SERVER_STOPPING")
            if self._admission is not None:
                self._admission.enter(STREAM_METHOD, stream=True)
                entered = True
            token = await self._admit_caller(request, scope)
            call_request = stream_request(request)
            # The audit record names whose messages were streamed.
            scope.resource = ",".join(c.recipient for c in call_request.cursors)[:256]
            call = self._open(request, scope, token, call_request.SerializeToString())
            first = asyncio.ensure_future(call.read())
            await asyncio.wait({first}, timeout=SETTLE_SECONDS)
            if first.done():
                first.result()  # Raises the upstream's refusal, answered below.
            stream = EventStream(
                call,
                first,
                self._closer(scope, call, entered),
                heartbeat=self._heartbeat,
                request_id=scope.request_id,
                stopping=self._stopping,
            )
            handed_over = True  # The stream owns the call, the slots and the audit now.
            return stream
        except DomainError as error:
            scope.failed(error)
            return error_response(status_of_domain_error(error), scope.request_id)
        except grpc.aio.AioRpcError as error:
            scope.outcome = error.code().name
            return error_response(status_of_rpc_error(error), scope.request_id)
        except Exception as exc:
            log.error("unhandled exception", rpc_method=STREAM_METHOD, exc_info=exc)
            scope.outcome = "INTERNAL"
            return error_response(internal_status(domain="gateway"), scope.request_id)
        finally:
            if not handed_over:
                if first is not None and not first.done():
                    first.cancel()
                outcome = scope.outcome if scope.outcome != "UNKNOWN" else "CANCELLED"
                self._closer(scope, call, entered)(outcome)

    def _open(self, request: Request, scope: CallScope, token: str, payload: bytes) -> Any:
        route = self._routes.resolve(STREAM_METHOD)
        if route is None or route.info is None:
            raise NotFound("push is not routed by this gateway", reason="ROUTE_NOT_FOUND")
        metadata = [(IDENTITY_METADATA_KEY, token), (REQUEST_ID_METADATA_KEY, scope.request_id)]
        language = request.headers.get("accept-language")
        if language:
            metadata.append(("accept-language", language))
        carrier: dict[str, str] = {}
        span = scope.span or trace.get_current_span()
        propagate.inject(carrier, context=trace.set_span_in_context(span))
        metadata.extend(carrier.items())
        target: Any = route.target
        return target.unary_stream(payload, self._deadline, metadata)

    def _closer(self, scope: CallScope, call: Any, entered: bool) -> Any:
        """Return the stream's one-time end: cancel upstream, free the slots, audit."""
        closed = False

        def close(outcome: str) -> None:
            nonlocal closed
            if closed:
                return
            closed = True
            if call is not None and not call.done():
                call.cancel()
            if entered and self._admission is not None:
                self._admission.leave(stream=True)
            scope.outcome = outcome
            with contextlib.suppress(Exception):
                scope.finish()

        return close
