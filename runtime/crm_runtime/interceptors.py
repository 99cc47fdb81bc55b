"""Server interceptor: tracing, request context, caller identity, error mapping, one log line.

One interceptor does all of it, in the order STYLE §4.7 gives (tracing outermost), because
every extra grpc.aio interceptor layer costs a coroutine hop on every call. The server span
follows OpenTelemetry's RPC conventions and continues the caller's W3C trace context, so the
log line carries the RPC's trace and span ids. Wrapped handlers are built once per method.
"""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import grpc
from grpc_status import rpc_status
from opentelemetry import propagate, trace
from opentelemetry.trace import SpanKind, Status, StatusCode

from crm_runtime import requestctx
from crm_runtime.admission import Admission
from crm_runtime.auth import IDENTITY_METADATA_KEY, TokenVerifier, set_current_principal
from crm_runtime.db import cancel_outside_writes
from crm_runtime.errors import (
    DeadlineExceeded,
    DomainError,
    InvalidArgument,
    Unauthenticated,
    internal_status,
    retry_pushback,
    to_status,
)
from crm_runtime.logging import get_logger
from crm_runtime.metrics import rpc_attributes, server_duration
from crm_runtime.storefailure import store_failure
from crm_runtime.telemetry import IdsOnlySpan, spans_recorded

log = get_logger("rpc")
_tracer = trace.get_tracer("crm_runtime.rpc")

# Infrastructure services answer without a caller identity (probes, grpcurl).
PUBLIC_SERVICES = ("/grpc.health.v1.Health/", "/grpc.reflection.")
_STATUS_BY_NUMBER = {code.value[0]: code for code in grpc.StatusCode}
Deserializer = Callable[[bytes], Any] | None


async def to_completion(call: Awaitable[Any]) -> Any:
    """Await a unary handler; if the RPC is cancelled (deadline, the caller gone), the handler
    is cancelled too, but only once it is out of any write transaction (cancel_outside_writes):
    a resend with the same request_id then finds the committed answer."""
    task = asyncio.ensure_future(call)
    try:
        return await asyncio.shield(task)
    except asyncio.CancelledError:
        cancel_outside_writes(task)
        task.add_done_callback(lambda done: done.cancelled() or done.exception())
        raise


def decode(deserializer: Deserializer, raw: Any) -> Any:
    """Decode request bytes; bytes that are no valid message are INVALID_ARGUMENT (whose
    text says nothing of the parser's, which would help an attacker more than a caller)."""
    if deserializer is None:
        return raw
    try:
        return deserializer(raw)
    except Exception as exc:
        raise InvalidArgument(
            "the request is not a valid message of this method", reason="MALFORMED_REQUEST"
        ) from exc


async def _decode_each(deserializer: Deserializer, raws: AsyncIterator[Any]) -> AsyncIterator[Any]:
    async for raw in raws:
        yield decode(deserializer, raw)


class _RpcState:
    __slots__ = ("admitted", "code", "method", "peer", "principal", "span", "started", "stream")

    def __init__(
        self,
        method: str,
        span: trace.Span,
        context: grpc.aio.ServicerContext,
        *,
        stream: bool = False,
    ) -> None:
        self.method = method
        self.stream = stream
        self.admitted = False
        self.span = span
        self.started = time.perf_counter()
        self.code = grpc.StatusCode.OK
        self.principal = ""
        # Read while the call is live: gRPC's core crashes on the peer of a cancelled call.
        self.peer = context.peer()


@functools.cache
def _span_attributes(method: str) -> dict[str, str]:
    service, _, name = method.lstrip("/").partition("/")
    return {"rpc.system": "grpc", "rpc.service": service, "rpc.method": name}


class ServerInterceptor(grpc.aio.ServerInterceptor):
    """Traces, binds request context and identity, maps errors, writes the canonical log line."""

    def __init__(
        self,
        *,
        domain: str,
        verifier: TokenVerifier | None,
        admission: Admission | None = None,
    ) -> None:
        self._domain = domain
        self._verifier = verifier
        self._admission = admission
        self._wrapped: dict[str, grpc.RpcMethodHandler] = {}

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        method = handler_call_details.method
        cached = self._wrapped.get(method)
        if cached is not None:
            return cached
        handler = await continuation(handler_call_details)
        if handler is None or method.startswith(PUBLIC_SERVICES):
            return handler
        wrapped = self._wrap(handler, method)
        self._wrapped[method] = wrapped
        return wrapped

    def _wrap(self, handler: grpc.RpcMethodHandler, method: str) -> grpc.RpcMethodHandler:
        # gRPC hands the wrapper raw bytes (no request_deserializer): the wrapper decodes them
        # after admission and identity, so an anonymous caller's bytes are never parsed and
        # malformed ones answer INVALID_ARGUMENT instead of gRPC's UNKNOWN with parser text.
        decoder = handler.request_deserializer
        kwargs = {"response_serializer": handler.response_serializer}
        if handler.unary_unary:
            return grpc.unary_unary_rpc_method_handler(
                self._wrap_unary(handler.unary_unary, method, decoder, streaming_in=False),
                **kwargs,
            )
        if handler.stream_unary:
            return grpc.stream_unary_rpc_method_handler(
                self._wrap_unary(handler.stream_unary, method, decoder, streaming_in=True),
                **kwargs,
            )
        if handler.unary_stream:
            return grpc.unary_stream_rpc_method_handler(
                self._wrap_stream(handler.unary_stream, method, decoder, streaming_in=False),
                **kwargs,
            )
        return grpc.stream_stream_rpc_method_handler(
            self._wrap_stream(handler.stream_stream, method, decoder, streaming_in=True),
            **kwargs,
        )

    def _start_span(self, metadata: dict[str, Any], method: str) -> Any:
        if not spans_recorded():  # nothing would see the span: ids for the log line only
            return IdsOnlySpan(metadata, method)
        return _tracer.start_as_current_span(
            method,
            context=propagate.extract(metadata),
            kind=SpanKind.SERVER,
            attributes=_span_attributes(method),
            record_exception=False,
            set_status_on_exception=False,
        )

    def _begin(
        self, context: grpc.aio.ServicerContext, state: _RpcState, metadata: dict[str, Any]
    ) -> None:
        if self._admission is not None:
            self._admission.enter(state.method, stream=state.stream)
            state.admitted = True
        request_id = str(metadata.get(requestctx.REQUEST_ID_METADATA_KEY) or "")[:64]
        requestctx.bind(request_id or requestctx.new_request_id(), context.time_remaining())
        if self._verifier is None:
            set_current_principal(None)
            return
        token = metadata.get(IDENTITY_METADATA_KEY)
        if not token:
            raise Unauthenticated("caller identity is missing", reason="IDENTITY_MISSING")
        principal = self._verifier.verify(str(token))
        set_current_principal(principal)
        state.principal = principal.subject

    async def _fail(
        self, context: grpc.aio.ServicerContext, state: _RpcState, exc: BaseException
    ) -> None:
        expired = grpc.StatusCode.DEADLINE_EXCEEDED
        if isinstance(exc, grpc.aio.AioRpcError) and exc.code() is expired:
            # A downstream call ran out of the budget this call passed on: the caller's
            # deadline is what expired, so say that rather than INTERNAL.
            exc = DeadlineExceeded("the deadline expired in a downstream call")
        if not isinstance(exc, DomainError) and (lost := store_failure(exc)) is not None:
            # The store went away (a PostgreSQL restart): retryable, not a bug.
            log.warning("store unreachable", rpc_method=state.method, reason=lost.reason,
                        error=str(exc)[:300])
            exc = lost
        if isinstance(exc, DomainError):
            status = to_status(exc, domain=self._domain)
        else:
            log.error("unhandled exception", rpc_method=state.method, exc_info=exc)
            status = internal_status(domain=self._domain)
        state.code = _STATUS_BY_NUMBER.get(status.code, grpc.StatusCode.UNKNOWN)
        state.span.set_status(Status(StatusCode.ERROR, state.code.name))
        grpc_status = rpc_status.to_status(status)
        await context.abort(
            grpc_status.code,
            grpc_status.details,
            (*grpc_status.trailing_metadata, *retry_pushback(status)),
        )

    def _finish(self, context: grpc.aio.ServicerContext, state: _RpcState) -> None:
        if state.admitted and self._admission is not None:
            self._admission.leave(stream=state.stream)
        elapsed_ms = (time.perf_counter() - state.started) * 1000
        code = state.code
        if code is grpc.StatusCode.OK and context.cancelled():
            code = grpc.StatusCode.CANCELLED
        status_code = code.value[0]
        state.span.set_attribute("rpc.grpc.status_code", status_code)
        server_duration.record(elapsed_ms, rpc_attributes(state.method, status_code))
        log.info(
            "rpc",
            rpc_method=state.method,
            code=code.name,
            duration_ms=round(elapsed_ms, 3),
            request_id=requestctx.current_request_id(),
            principal=state.principal,
            peer=state.peer,
        )

    def _wrap_unary(
        self,
        behavior: Callable[..., Any],
        method: str,
        decoder: Deserializer,
        *,
        streaming_in: bool,
    ) -> Callable[..., Any]:
        async def wrapper(request: Any, context: grpc.aio.ServicerContext) -> Any:
            metadata = dict(context.invocation_metadata() or ())
            with self._start_span(metadata, method) as span:
                state = _RpcState(method, span, context)
                try:
                    self._begin(context, state, metadata)
                    if streaming_in:
                        return await behavior(_decode_each(decoder, request), context)
                    return await to_completion(behavior(decode(decoder, request), context))
                except Exception as exc:
                    if isinstance(exc, grpc.aio.AbortError):
                        state.code = context.code() or grpc.StatusCode.UNKNOWN
                        raise
                    await self._fail(context, state, exc)
                finally:
                    self._finish(context, state)
            return None  # Unreachable: _fail always aborts.

        return wrapper

    def _wrap_stream(
        self,
        behavior: Callable[..., Any],
        method: str,
        decoder: Deserializer,
        *,
        streaming_in: bool,
    ) -> Callable[..., Any]:
        async def wrapper(request: Any, context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
            metadata = dict(context.invocation_metadata() or ())
            with self._start_span(metadata, method) as span:
                state = _RpcState(method, span, context, stream=True)
                try:
                    self._begin(context, state, metadata)
                    decoded = (
                        _decode_each(decoder, request)
                        if streaming_in
                        else decode(decoder, request)
                    )
                    async for item in behavior(decoded, context):
                        yield item
                except Exception as exc:
                    if isinstance(exc, grpc.aio.AbortError):
                        state.code = context.code() or grpc.StatusCode.UNKNOWN
                        raise
                    await self._fail(context, state, exc)
                finally:
                    self._finish(context, state)

        return wrapper
