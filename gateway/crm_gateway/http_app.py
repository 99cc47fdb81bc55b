"""The HTTP/JSON face (Starlette): REST routes from the protos, transcoded to the same upstreams.

Each request passes the same Gate as a gRPC call; errors come back as google.rpc.Status JSON
with the HTTP status google.rpc.Code maps them to. GET /openapi.json serves the document.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any

import grpc
from google.protobuf import message
from google.rpc import code_pb2, status_pb2
from opentelemetry import propagate, trace
from opentelemetry.trace import SpanKind
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute
from starlette.routing import Route as StarletteRoute

from crm_gateway.errors import (
    error_reason,
    http_status,
    retry_after_seconds,
    status_json,
    status_of_domain_error,
    status_of_rpc_error,
)
from crm_gateway.gate import CallScope, Gate
from crm_gateway.origins import ClientAddresses
from crm_gateway.routing import Routes
from crm_gateway.transcode import HttpRouter, build_request, response_json
from crm_runtime import requestctx
from crm_runtime.admission import Admission
from crm_runtime.auth import IDENTITY_METADATA_KEY
from crm_runtime.errors import (
    DomainError,
    InvalidArgument,
    NotFound,
    ResourceExhausted,
    internal_status,
)
from crm_runtime.logging import get_logger

log = get_logger("http")
_tracer = trace.get_tracer("crm_gateway.http")
_REQUEST_ID_RE = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")
_VERBS = ["GET", "POST", "PUT", "PATCH", "DELETE"]


class HttpFace:
    """Builds the Starlette application of the gateway."""

    def __init__(
        self,
        gate: Gate,
        routes: Routes,
        router: HttpRouter,
        openapi: dict[str, Any],
        *,
        default_deadline: float,
        max_body_bytes: int,
        admission: Admission | None = None,
        addresses: ClientAddresses | None = None,
        extra_routes: Sequence[BaseRoute] = (),
    ) -> None:
        self._extra_routes = list(extra_routes)
        self._admission = admission
        self._addresses = addresses or ClientAddresses()
        self._gate = gate
        self._routes = routes
        self._router = router
        self._openapi = openapi
        self._deadline = default_deadline
        self._max_body = max_body_bytes

    def app(self) -> Starlette:
        """Return the ASGI application."""
        return Starlette(
            routes=[
                StarletteRoute("/openapi.json", self._openapi_document, methods=["GET"]),
                *self._extra_routes,  # Push to HTTP-only clients (events.py).
                StarletteRoute("/{path:path}", self._dispatch, methods=_VERBS),
            ]
        )

    def api_app(self) -> Starlette:
        """Return the API routes alone: the console calls them in-process with a person's
        token, through the same dispatch (gate, rate limits, audit) as any other caller."""
        return Starlette(routes=[StarletteRoute("/{path:path}", self._dispatch, methods=_VERBS)])

    async def _openapi_document(self, _: Request) -> Response:
        return JSONResponse(self._openapi)

    async def _dispatch(self, request: Request) -> Response:
        request_id = request_id_of(request)
        requestctx.bind(request_id, self._deadline)
        raw_path = request.scope.get("raw_path") or request.url.path.encode()
        path = raw_path.decode("latin-1").partition("?")[0]
        found = self._router.match(request.method, path)
        method = found[0].info.path if found else f"HTTP {request.method}"
        scope = CallScope(
            self._gate,
            method,
            found[0].info if found else None,
            transport="http",
            origin=self._origin(request),
            request_id=request_id,
        )
        entered = False
        with _tracer.start_as_current_span(
            method, context=propagate.extract(dict(request.headers)), kind=SpanKind.SERVER
        ):
            try:
                if self._admission is not None:
                    self._admission.enter(method, stream=False)
                    entered = True
                if found is None:
                    scope.resource = path[:256]
                    raise NotFound("no API route matches this path", reason="ROUTE_NOT_FOUND")
                return await self._forward(request, scope, *found)
            except DomainError as error:
                scope.failed(error)
                return self._error(status_of_domain_error(error), request_id)
            except grpc.aio.AioRpcError as error:
                scope.outcome = error.code().name
                return self._error(status_of_rpc_error(error), request_id)
            except Exception as exc:
                log.error("unhandled exception", rpc_method=method, exc_info=exc)
                scope.outcome = "INTERNAL"
                return self._error(internal_status(domain="gateway"), request_id)
            finally:
                if entered and self._admission is not None:
                    self._admission.leave(stream=False)
                scope.finish()

    async def _forward(
        self, request: Request, scope: CallScope, route: Any, variables: dict[str, str]
    ) -> Response:
        scope.resource = next(iter(variables.values()), "")[:256]
        headers = request.headers
        authorizations, keys = headers.getlist("authorization"), headers.getlist("x-api-key")
        token = await scope.admit(
            authorizations[0] if authorizations else "",
            keys[0] if keys else "",
            ambiguous=len(authorizations) > 1 or len(keys) > 1,
        )
        body = None
        if route.binding.body:
            body = await self._read_json(request, whole=route.binding.body == "*")
        call: message.Message = build_request(
            route, variables, body, request.query_params.multi_items()
        )
        scope.payload = call
        resolved = self._routes.resolve(route.info.path)
        if resolved is None:
            raise NotFound("no service serves this route", reason="ROUTE_NOT_FOUND")
        metadata = [
            (IDENTITY_METADATA_KEY, token),
            (requestctx.REQUEST_ID_METADATA_KEY, scope.request_id),
        ]
        language = request.headers.get("accept-language")
        if language:
            metadata.append(("accept-language", language))
        carrier: dict[str, str] = {}
        propagate.inject(carrier)
        metadata.extend(carrier.items())
        raw = await resolved.target.unary(call.SerializeToString(), self._deadline, metadata)
        reply = route.info.response_class().FromString(raw)
        scope.outcome = "OK"
        return JSONResponse(response_json(route, reply), headers={"x-request-id": scope.request_id})

    def _origin(self, request: Request) -> str:
        """Return the client address (uvicorn's own proxy-header handling is off)."""
        return request_origin(self._addresses, request)

    async def _read_json(self, request: Request, *, whole: bool) -> Any:
        """Return the parsed body; with `whole` (body "*") it must be a JSON object.

        Parser failures of every kind are INVALID_ARGUMENT with a fixed message: deep nesting
        raised RecursionError and a non-object TypeError, both answered 500 before.
        """
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self._max_body:
            raise _too_large()
        data = bytearray()
        async for chunk in request.stream():
            data += chunk
            if len(data) > self._max_body:
                raise _too_large()
        if not data:
            return None
        try:
            parsed = json.loads(data)
        except (ValueError, RecursionError) as exc:
            raise InvalidArgument.of("body", "is not valid JSON", reason="MALFORMED_JSON") from exc
        if whole and not isinstance(parsed, dict):
            raise InvalidArgument.of("body", "must be a JSON object", reason="MALFORMED_REQUEST")
        return parsed

    @staticmethod
    def _error(status: status_pb2.Status, request_id: str) -> Response:
        return error_response(status, request_id)


def error_response(status: status_pb2.Status, request_id: str) -> Response:
    """Return a google.rpc.Status as JSON with its HTTP status, Retry-After and WWW-Authenticate."""
    headers = {"x-request-id": request_id}
    retry = retry_after_seconds(status)
    if retry is not None:
        headers["retry-after"] = str(retry)
    code = http_status(status.code)
    if status.code == code_pb2.UNAUTHENTICATED:
        headers["www-authenticate"] = "Bearer"
    if error_reason(status) == "MESSAGE_TOO_LARGE":
        code = 413
    return JSONResponse(status_json(status), status_code=code, headers=headers)


def request_origin(addresses: ClientAddresses, request: Request) -> str:
    """Return the client address of an HTTP request (uvicorn's proxy-header handling is off)."""
    peer = request.client.host if request.client else ""
    header = addresses.header
    return addresses.resolve(peer, request.headers.get(header, "") if header else "")


def request_id_of(request: Request) -> str:
    """Return the caller's x-request-id when well-formed, else a new one."""
    supplied = request.headers.get("x-request-id", "")
    return supplied if _REQUEST_ID_RE.match(supplied) else requestctx.new_request_id()


def _too_large() -> ResourceExhausted:
    return ResourceExhausted("request body is too large", reason="MESSAGE_TOO_LARGE")
