"""Server interceptor: request context, caller identity, error mapping and one log line per RPC.

It wraps every handler kind (unary and streaming). The OpenTelemetry interceptor runs outside
it, so the log line carries the RPC's trace and span ids.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import grpc
from grpc_status import rpc_status
from opentelemetry import metrics

from crm_runtime import requestctx
from crm_runtime.auth import IDENTITY_METADATA_KEY, TokenVerifier, set_current_principal
from crm_runtime.errors import DomainError, Unauthenticated, internal_status, to_status
from crm_runtime.logging import get_logger

log = get_logger("rpc")
_meter = metrics.get_meter("crm_runtime.rpc")
_duration = _meter.create_histogram(
    "crm.rpc.server.duration", unit="ms", description="Server-side RPC duration"
)

# Infrastructure services answer without a caller identity (probes, grpcurl).
PUBLIC_SERVICES = ("/grpc.health.v1.Health/", "/grpc.reflection.")


class _RpcState:
    __slots__ = ("code", "method", "principal", "started")

    def __init__(self, method: str) -> None:
        self.method = method
        self.started = time.perf_counter()
        self.code = grpc.StatusCode.OK
        self.principal = ""


class ServerInterceptor(grpc.aio.ServerInterceptor):
    """Binds request context and identity, maps errors and writes the canonical log line."""

    def __init__(self, *, domain: str, verifier: TokenVerifier | None) -> None:
        self._domain = domain
        self._verifier = verifier

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(handler_call_details)
        method = handler_call_details.method
        if handler is None or method.startswith(PUBLIC_SERVICES):
            return handler
        if handler.unary_unary:
            return grpc.unary_unary_rpc_method_handler(
                self._wrap_unary(handler.unary_unary, method),
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
        if handler.stream_unary:
            return grpc.stream_unary_rpc_method_handler(
                self._wrap_unary(handler.stream_unary, method),
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
        if handler.unary_stream:
            return grpc.unary_stream_rpc_method_handler(
                self._wrap_stream(handler.unary_stream, method),
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
        return grpc.stream_stream_rpc_method_handler(
            self._wrap_stream(handler.stream_stream, method),
            request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer,
        )

    def _begin(self, context: grpc.aio.ServicerContext, state: _RpcState) -> None:
        metadata = dict(context.invocation_metadata() or ())
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
        if isinstance(exc, DomainError):
            status = to_status(exc, domain=self._domain)
        else:
            log.error("unhandled exception", rpc_method=state.method, exc_info=exc)
            status = internal_status(domain=self._domain)
        state.code = _STATUS_BY_NUMBER.get(status.code, grpc.StatusCode.UNKNOWN)
        await context.abort_with_status(rpc_status.to_status(status))

    def _finish(self, context: grpc.aio.ServicerContext, state: _RpcState) -> None:
        elapsed_ms = (time.perf_counter() - state.started) * 1000
        code = state.code
        if code is grpc.StatusCode.OK and context.cancelled():
            code = grpc.StatusCode.CANCELLED
        _duration.record(elapsed_ms, {"rpc.method": state.method, "rpc.code": code.name})
        log.info(
            "rpc",
            rpc_method=state.method,
            code=code.name,
            duration_ms=round(elapsed_ms, 3),
            request_id=requestctx.current_request_id(),
            principal=state.principal,
            peer=context.peer(),
        )

    def _wrap_unary(self, behavior: Callable[..., Any], method: str) -> Callable[..., Any]:
        async def wrapper(request: Any, context: grpc.aio.ServicerContext) -> Any:
            state = _RpcState(method)
            try:
                self._begin(context, state)
                return await behavior(request, context)
            except Exception as exc:
                if isinstance(exc, grpc.aio.AbortError):
                    state.code = context.code() or grpc.StatusCode.UNKNOWN
                    raise
                await self._fail(context, state, exc)
            finally:
                self._finish(context, state)
            return None  # Unreachable: _fail always aborts.

        return wrapper

    def _wrap_stream(self, behavior: Callable[..., Any], method: str) -> Callable[..., Any]:
        async def wrapper(request: Any, context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
            state = _RpcState(method)
            try:
                self._begin(context, state)
                async for item in behavior(request, context):
                    yield item
            except Exception as exc:
                if isinstance(exc, grpc.aio.AbortError):
                    state.code = context.code() or grpc.StatusCode.UNKNOWN
                    raise
                await self._fail(context, state, exc)
            finally:
                self._finish(context, state)

        return wrapper


_STATUS_BY_NUMBER = {code.value[0]: code for code in grpc.StatusCode}
