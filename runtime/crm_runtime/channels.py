"""Outbound gRPC channels: retry policy, deadline propagation and request-id forwarding."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

import grpc

from crm_runtime.requestctx import REQUEST_ID_METADATA_KEY, current_request_id, remaining_time

DEFAULT_TIMEOUT_SECONDS = 5.0

# Retry only UNAVAILABLE (the call was not processed); one deadline covers every attempt.
_SERVICE_CONFIG = json.dumps(
    {
        "methodConfig": [
            {
                "name": [{}],
                "retryPolicy": {
                    "maxAttempts": 4,
                    "initialBackoff": "0.05s",
                    "maxBackoff": "1s",
                    "backoffMultiplier": 2,
                    "retryableStatusCodes": ["UNAVAILABLE"],
                },
            }
        ],
        "loadBalancingConfig": [{"round_robin": {}}],
    }
)

CHANNEL_OPTIONS: Sequence[tuple[str, Any]] = (
    ("grpc.service_config", _SERVICE_CONFIG),
    ("grpc.enable_retries", 1),
    ("grpc.keepalive_time_ms", 10_000),
    ("grpc.keepalive_timeout_ms", 5_000),
    ("grpc.keepalive_permit_without_calls", 1),
)


def effective_timeout(requested: float | None) -> float:
    """Return the timeout for a downstream call: never beyond the incoming call's deadline."""
    budget = requested if requested is not None else DEFAULT_TIMEOUT_SECONDS
    remaining = remaining_time()
    if remaining is not None:
        budget = min(budget, max(remaining, 0.001))
    return budget


class _PropagatingInterceptor(
    grpc.aio.UnaryUnaryClientInterceptor, grpc.aio.UnaryStreamClientInterceptor
):
    """Sets a deadline on every call and forwards the request id."""

    def _details(self, details: grpc.aio.ClientCallDetails) -> grpc.aio.ClientCallDetails:
        metadata = grpc.aio.Metadata(*(details.metadata or ()))
        request_id = current_request_id()
        if request_id and REQUEST_ID_METADATA_KEY not in metadata:
            metadata.add(REQUEST_ID_METADATA_KEY, request_id)
        return grpc.aio.ClientCallDetails(
            method=details.method,
            timeout=effective_timeout(details.timeout),
            metadata=metadata,
            credentials=details.credentials,
            wait_for_ready=details.wait_for_ready,
        )

    async def intercept_unary_unary(
        self,
        continuation: Callable[..., Any],
        client_call_details: grpc.aio.ClientCallDetails,
        request: Any,
    ) -> Any:
        return await continuation(self._details(client_call_details), request)

    async def intercept_unary_stream(
        self,
        continuation: Callable[..., Any],
        client_call_details: grpc.aio.ClientCallDetails,
        request: Any,
    ) -> Any:
        return await continuation(self._details(client_call_details), request)


def open_channel(address: str, *, extra_interceptors: Sequence[Any] = ()) -> grpc.aio.Channel:
    """Open an insecure channel (mTLS terminates in the mesh in Kubernetes) to `address`."""
    from opentelemetry.instrumentation.grpc import aio_client_interceptors

    tracing = aio_client_interceptors()  # type: ignore[no-untyped-call]
    interceptors = [*tracing, _PropagatingInterceptor(), *extra_interceptors]
    return grpc.aio.insecure_channel(address, options=CHANNEL_OPTIONS, interceptors=interceptors)
