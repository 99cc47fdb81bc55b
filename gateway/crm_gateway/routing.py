"""Where a method goes: an upstream service chosen by package prefix, or the gateway itself.

Upstream calls use identity serializers: request and response bytes pass through untouched,
so the gateway never decodes or re-encodes a forwarded message.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
from google.protobuf import message

from crm_gateway.descriptors import MethodInfo
from crm_gateway.servicer import LocalMethod
from crm_runtime.channels import CHANNEL_OPTIONS
from crm_runtime.interceptors import decode
from crm_runtime.metrics import client_duration, rpc_attributes, status_number

Metadata = Sequence[tuple[str, str]]


class UpstreamTarget:
    """Raw-bytes calls of one method on an upstream channel."""

    def __init__(self, channel: grpc.aio.Channel, path: str) -> None:
        self._channel = channel
        self._path = path
        self._unary = channel.unary_unary(path)

    async def unary(self, request: bytes, seconds: float, metadata: Metadata) -> bytes:
        """Forward one request and return the upstream's response bytes."""
        started = time.perf_counter()
        status = 0
        try:
            response: bytes = await self._unary(request, timeout=seconds, metadata=metadata)
        except grpc.aio.AioRpcError as error:
            status = error.code().value[0]
            raise
        except asyncio.CancelledError:
            status = 1
            raise
        finally:
            elapsed_ms = (time.perf_counter() - started) * 1000
            client_duration.record(elapsed_ms, rpc_attributes(self._path, status))
        return response

    def record_stream(self, started: float, outcome: str) -> None:
        """Record a finished streaming call (the proxy drives streams, so it knows the end)."""
        elapsed_ms = (time.perf_counter() - started) * 1000
        client_duration.record(elapsed_ms, rpc_attributes(self._path, status_number(outcome)))

    def unary_stream(self, request: bytes, timeout: float, metadata: Metadata) -> Any:
        """Return the upstream server-streaming call."""
        return self._channel.unary_stream(self._path)(request, timeout=timeout, metadata=metadata)

    async def stream_unary(
        self,
        requests: AsyncIterator[bytes],
        timeout: float,  # noqa: ASYNC109 - gRPC's own deadline, passed on as is.
        metadata: Metadata,
    ) -> bytes:
        """Forward a client stream and return the upstream's response bytes."""
        call = self._channel.stream_unary(self._path)
        started = time.perf_counter()
        outcome = "OK"
        try:
            response: bytes = await call(requests, timeout=timeout, metadata=metadata)
        except grpc.aio.AioRpcError as error:
            outcome = error.code().name
            raise
        except asyncio.CancelledError:
            outcome = "CANCELLED"
            raise
        finally:
            self.record_stream(started, outcome)
        return response

    def stream_stream(
        self, requests: AsyncIterator[bytes], timeout: float, metadata: Metadata
    ) -> Any:
        """Return the upstream bidirectional call."""
        return self._channel.stream_stream(self._path)(requests, timeout=timeout, metadata=metadata)


class LocalTarget:
    """A unary method the gateway serves itself (GatewayService)."""

    def __init__(self, method: LocalMethod, request_class: type[message.Message]) -> None:
        self._method = method
        self._request_class = request_class

    async def unary(self, request: bytes, seconds: float, metadata: Metadata) -> bytes:
        """Decode, run and encode (local calls are rare: auditors only).

        Malformed bytes are INVALID_ARGUMENT (crm_runtime.interceptors.decode), as at services.
        """
        response = await self._method(decode(self._request_class.FromString, request))
        return response.SerializeToString()


@dataclass(frozen=True, slots=True)
class Route:
    """A resolved method: what it is, if known, and where it goes."""

    path: str
    info: MethodInfo | None
    target: UpstreamTarget | LocalTarget
    client_streaming: bool
    server_streaming: bool


@dataclass(frozen=True, slots=True)
class UpstreamTls:
    """mTLS material for upstream channels."""

    ca_file: Path
    cert_file: Path | None
    key_file: Path | None
    server_name: str = ""

    def credentials(self) -> grpc.ChannelCredentials:
        """Return channel credentials (client certificate when both files are given)."""
        return grpc.ssl_channel_credentials(
            root_certificates=self.ca_file.read_bytes(),
            private_key=self.key_file.read_bytes() if self.key_file else None,
            certificate_chain=self.cert_file.read_bytes() if self.cert_file else None,
        )


class Upstreams:
    """One channel per upstream address, opened on first use and closed at shutdown."""

    def __init__(
        self,
        prefixes: Mapping[str, str],
        *,
        tls: UpstreamTls | None = None,
        max_message_bytes: int = 4 * 1024 * 1024,
    ) -> None:
        self._prefixes = dict(prefixes)
        self._tls = tls
        self._options: list[tuple[str, Any]] = [
            *CHANNEL_OPTIONS,
            ("grpc.max_receive_message_length", max_message_bytes),
            ("grpc.max_send_message_length", max_message_bytes),
        ]
        if tls is not None and tls.server_name:
            self._options.append(("grpc.ssl_target_name_override", tls.server_name))
        self._channels: dict[str, grpc.aio.Channel] = {}

    def address_for(self, service: str) -> str | None:
        """Return the upstream address of a fully qualified service, or None."""
        for prefix, address in self._prefixes.items():
            if service.startswith(prefix):
                return address
        return None

    def channel_for(self, service: str) -> grpc.aio.Channel | None:
        """Return the channel to the service's upstream, or None if no upstream owns it."""
        address = self.address_for(service)
        if address is None:
            return None
        channel = self._channels.get(address)
        if channel is None:
            if self._tls is not None:
                channel = grpc.aio.secure_channel(
                    address, self._tls.credentials(), options=self._options
                )
            else:
                channel = grpc.aio.insecure_channel(address, options=self._options)
            self._channels[address] = channel
        return channel

    async def close(self) -> None:
        """Close every channel."""
        for channel in self._channels.values():
            await channel.close()
        self._channels.clear()


class Routes:
    """Resolves full method paths to routes; results are cached per method.

    Only methods in the descriptor set are routed: any other name is UNIMPLEMENTED at the
    gateway. Proxying unknown names as two-way streams raced the upstream's early answer
    (INTERNAL in 5-16% of calls) and let callers choose keys of per-method state. A method
    added to a service reaches callers once the gateway is built with its descriptors.
    """

    def __init__(
        self,
        methods: Mapping[str, MethodInfo],
        upstreams: Upstreams,
        local: Mapping[str, LocalMethod],
    ) -> None:
        self.methods = methods
        self._upstreams = upstreams
        self._local = local
        self._cache: dict[str, Route] = {}

    def resolve(self, path: str) -> Route | None:
        """Return the route of a method, or None when nothing serves it."""
        route = self._cache.get(path)
        if route is not None:
            return route
        info = self.methods.get(path)
        if info is None:  # Unknown names are not cached: callers choose them freely.
            return None
        local = self._local.get(path)
        if local is not None:
            route = Route(path, info, LocalTarget(local, info.request_class()), False, False)
        else:
            service = path[1:].partition("/")[0]
            channel = self._upstreams.channel_for(service)
            if channel is None:
                return None
            streaming = (info.client_streaming, info.server_streaming)
            route = Route(path, info, UpstreamTarget(channel, path), *streaming)
        self._cache[path] = route
        return route
