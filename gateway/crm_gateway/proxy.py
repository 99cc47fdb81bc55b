"""The gRPC face: a generic handler that forwards raw bytes to the owning service.

Every `crm.*` method is served by one generic handler with identity serializers, so messages
are never decoded or re-encoded; streams are proxied both ways as they flow. The caller's
deadline is passed on as the remaining time (a default when it set none), the request id is
passed on or created, and the caller's credentials are replaced by the internal identity.

The handler does its own tracing and error mapping instead of the shared server interceptor:
the gateway authenticates callers itself, and its audit record (not a log line) is the
per-call record, which keeps the extra hop cheap.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator
from typing import Any

import grpc
from google.rpc import code_pb2, status_pb2
from grpc_status import rpc_status
from opentelemetry import propagate, trace
from opentelemetry.trace import SpanKind

from crm_gateway.gate import CallScope, Gate
from crm_gateway.origins import ClientAddresses, peer_address
from crm_gateway.routing import Metadata, Route, Routes
from crm_runtime import requestctx
from crm_runtime.admission import Admission
from crm_runtime.auth import IDENTITY_METADATA_KEY
from crm_runtime.errors import DomainError, Unavailable, internal_status, retry_pushback, to_status
from crm_runtime.logging import get_logger
from crm_runtime.telemetry import spans_recorded, unrecorded_span

log = get_logger("proxy")
_tracer = trace.get_tracer("crm_gateway.proxy")
DOMAIN = "gateway"
REQUEST_ID_KEY = requestctx.REQUEST_ID_METADATA_KEY
# Caller metadata forwarded as is; everything else (credentials, any x-crm-identity a caller
# tries to smuggle in) stays at the gateway.
PASSTHROUGH_METADATA = frozenset({"accept-language"})
TRACE_METADATA = frozenset({"traceparent", "tracestate"})
_RELAYED_GRPC_TRAILERS = frozenset({"grpc-status-details-bin", "grpc-retry-pushback-ms"})
_DETAILS_KEY = "grpc-status-details-bin"
_REQUEST_ID_RE = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")


class _Incoming:
    """The parts of a caller's metadata the gateway uses, read in one pass."""

    __slots__ = (
        "ambiguous",
        "api_key",
        "authorization",
        "forwarded",
        "passthrough",
        "request_id",
        "trace",
    )

    def __init__(self, context: grpc.aio.ServicerContext, forwarded_header: str) -> None:
        self.authorization = self.api_key = self.request_id = self.forwarded = ""
        self.ambiguous = False
        self.passthrough: list[tuple[str, str]] = []
        self.trace: dict[str, str] = {}
        for key, value in context.invocation_metadata() or ():
            if key == "authorization":
                self.ambiguous |= bool(self.authorization)
                self.authorization = str(value)
            elif key == "x-api-key":
                self.ambiguous |= bool(self.api_key)
                self.api_key = str(value)
            elif key == forwarded_header:
                self.forwarded = str(value)
            elif key == REQUEST_ID_KEY:
                self.request_id = str(value) if _REQUEST_ID_RE.match(str(value)) else ""
            elif key in TRACE_METADATA:
                self.trace[key] = str(value)
            elif key in PASSTHROUGH_METADATA:
                self.passthrough.append((key, str(value)))


class GrpcProxy(grpc.GenericRpcHandler):
    """Serves every routed method; unknown methods fall through to UNIMPLEMENTED."""

    def __init__(
        self,
        gate: Gate,
        routes: Routes,
        *,
        default_deadline: float,
        default_stream_deadline: float,
        admission: Admission | None = None,
        addresses: ClientAddresses | None = None,
    ) -> None:
        self._addresses = addresses or ClientAddresses()
        # Refuses calls past the process's limits at once (RESOURCE_EXHAUSTED, audited):
        # gRPC's own limit refused them unrecorded, without RetryInfo.
        self._admission = admission
        self._gate = gate
        self._routes = routes
        self._default_deadline = default_deadline
        self._stream_deadline = default_stream_deadline
        self._handlers: dict[str, grpc.RpcMethodHandler] = {}

    def service(self, handler_call_details: grpc.HandlerCallDetails) -> Any:
        """Return the handler of a method (built once per known method)."""
        path = handler_call_details.method
        handler = self._handlers.get(path)
        if handler is not None:
            return handler
        route = self._routes.resolve(path)
        if route is None:
            return None
        handler = self._build(route)
        if route.info is not None:
            self._handlers[path] = handler
        return handler

    def _build(self, route: Route) -> grpc.RpcMethodHandler:
        if route.client_streaming and route.server_streaming:
            return grpc.stream_stream_rpc_method_handler(self._stream_out(route, "stream_stream"))
        if route.server_streaming:
            return grpc.unary_stream_rpc_method_handler(self._stream_out(route, "unary_stream"))
        if route.client_streaming:
            return grpc.stream_unary_rpc_method_handler(self._unary_out(route, streaming_in=True))
        return grpc.unary_unary_rpc_method_handler(self._unary_out(route, streaming_in=False))

    def _open(self, route: Route, context: grpc.aio.ServicerContext) -> tuple[CallScope, _Incoming]:
        """Open the call's scope and server span (the scope ends the span in finish)."""
        incoming = _Incoming(context, self._addresses.header)
        peer = peer_address(context.peer() or "")
        scope = CallScope(
            self._gate,
            route.path,
            route.info,
            transport="grpc",
            origin=self._addresses.resolve(peer, incoming.forwarded),
            request_id=incoming.request_id or requestctx.new_request_id(),
        )
        # Nothing would see a recorded span: one carrying ids (audit, upstream) does.
        scope.span = _tracer.start_span(
            route.path, context=propagate.extract(incoming.trace) if incoming.trace else None,
            kind=SpanKind.SERVER, record_exception=False, set_status_on_exception=False,
        ) if spans_recorded() else unrecorded_span(incoming.trace, route.path)[0]
        return scope, incoming

    async def _outgoing(
        self, scope: CallScope, incoming: _Incoming, context: grpc.aio.ServicerContext, stream: bool
    ) -> tuple[Metadata, float]:
        token = await scope.admit(
            incoming.authorization, incoming.api_key, ambiguous=incoming.ambiguous
        )
        outgoing = [
            (IDENTITY_METADATA_KEY, token),
            (REQUEST_ID_KEY, scope.request_id),
            *incoming.passthrough,
        ]
        carrier: dict[str, str] = {}
        span = scope.span or trace.get_current_span()
        propagate.inject(carrier, context=trace.set_span_in_context(span))
        outgoing.extend(carrier.items())
        remaining = context.time_remaining()
        if remaining is None:
            remaining = self._stream_deadline if stream else self._default_deadline
        return outgoing, max(remaining, 0.001)

    def _enter(self, route: Route, *, stream: bool) -> bool:
        if self._admission is None:
            return False
        self._admission.enter(route.path, stream=stream)
        return True

    def _leave(self, entered: bool, *, stream: bool) -> None:
        if entered and self._admission is not None:
            self._admission.leave(stream=stream)

    def _unary_out(self, route: Route, *, streaming_in: bool) -> Any:
        async def handle(request: Any, context: grpc.aio.ServicerContext) -> bytes:
            scope, incoming = self._open(route, context)
            if not streaming_in:
                scope.payload = request  # Refused attempts name their resource too.
            entered = False
            try:
                entered = self._enter(route, stream=streaming_in)
                metadata, seconds = await self._outgoing(scope, incoming, context, streaming_in)
                if streaming_in:
                    target: Any = route.target
                    response: bytes = await target.stream_unary(request, seconds, metadata)
                else:
                    response = await route.target.unary(request, seconds, metadata)
                scope.outcome = "OK"
                context.set_trailing_metadata(((REQUEST_ID_KEY, scope.request_id),))
                return response
            except Exception as error:
                await fail(context, scope, error)
                raise  # Unreachable: fail always aborts.
            except asyncio.CancelledError:
                scope.outcome = "CANCELLED"
                raise
            finally:
                self._leave(entered, stream=streaming_in)
                scope.finish()

        return handle

    def _stream_out(self, route: Route, kind: str) -> Any:
        async def handle(request: Any, context: grpc.aio.ServicerContext) -> AsyncIterator[bytes]:
            scope, incoming = self._open(route, context)
            if kind == "unary_stream":
                scope.payload = request
            call = None
            entered = False
            try:
                entered = self._enter(route, stream=True)
                metadata, seconds = await self._outgoing(scope, incoming, context, True)
                started = time.perf_counter()
                call = getattr(route.target, kind)(request, seconds, metadata)
                await context.send_initial_metadata(((REQUEST_ID_KEY, scope.request_id),))
                async for item in call:
                    yield item
                scope.outcome = "OK"
            except Exception as error:
                await fail(context, scope, error)
            except (asyncio.CancelledError, GeneratorExit):
                scope.outcome = "CANCELLED"
                raise
            finally:
                if call is not None:
                    route.target.record_stream(started, scope.outcome)  # type: ignore[union-attr]
                    if not call.done():
                        call.cancel()
                self._leave(entered, stream=True)
                scope.finish()

        return handle


async def fail(context: grpc.aio.ServicerContext, scope: CallScope, error: Exception) -> None:
    """Answer a failed call with the right status (never returns)."""
    if isinstance(error, grpc.aio.AbortError):
        raise error
    if isinstance(error, grpc.aio.AioRpcError):
        await relay_error(context, scope, error)
    if isinstance(error, DomainError):
        scope.failed(error)
        status = to_status(error, domain=DOMAIN)
    else:
        log.error("unhandled exception", rpc_method=scope.method, exc_info=error)
        scope.outcome = "INTERNAL"
        status = internal_status(domain=DOMAIN)
    await _abort(context, status, scope.request_id)


async def _abort(
    context: grpc.aio.ServicerContext, status: status_pb2.Status, request_id: str
) -> None:
    grpc_status = rpc_status.to_status(status)
    trailing = (
        *grpc_status.trailing_metadata,
        *retry_pushback(status),
        (REQUEST_ID_KEY, request_id),
    )
    await context.abort(grpc_status.code, grpc_status.details, trailing)


async def relay_error(
    context: grpc.aio.ServicerContext, scope: CallScope, error: grpc.aio.AioRpcError
) -> None:
    """Answer with the upstream's status, message and error details (never returns)."""
    code = error.code()
    scope.outcome = code.name
    trailing = upstream_trailers(error.trailing_metadata())
    if not any(key == _DETAILS_KEY for key, _ in trailing):
        # Raised by the gRPC library (connection refused, deadline), not by the service: its
        # text names internal addresses, so callers get a generic message instead.
        if code == grpc.StatusCode.UNAVAILABLE:
            down = Unavailable("upstream service is unavailable", reason="UPSTREAM_UNAVAILABLE")
            await _abort(context, to_status(down, domain=DOMAIN), scope.request_id)
        message = code_pb2.Code.Name(code.value[0]).replace("_", " ").lower()
        await context.abort(code, message, ((REQUEST_ID_KEY, scope.request_id),))
    trailing.append((REQUEST_ID_KEY, scope.request_id))
    await context.abort(code, error.details() or "", tuple(trailing))


def upstream_trailers(metadata: Any) -> list[tuple[str, Any]]:
    """Return the upstream trailers worth relaying (error details, pushback, custom keys)."""
    relayed: list[tuple[str, Any]] = []
    for key, value in tuple(metadata or ()):
        if key == REQUEST_ID_KEY:
            continue
        if key.startswith("grpc-") and key not in _RELAYED_GRPC_TRAILERS:
            continue
        relayed.append((key, value))
    return relayed
