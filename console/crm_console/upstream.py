"""Calls to the gateway's own HTTP/JSON API on behalf of the signed-in person.

The request is handed to the API's ASGI application in-process (no socket, so HTTP_TLS and
the listening port do not matter), with the person's bearer token and the browser's address
as the peer: the gateway's dispatch authenticates, applies the access rules, rate limits and
object-level checks of the services, and writes the audit record exactly as for a direct call.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx
from starlette.types import ASGIApp

from crm_console.session import Session

Query = Mapping[str, str | int | Sequence[str]]


@dataclass
class Refusal(Exception):
    """The API said no: HTTP status, the google.rpc reason and its message."""

    status: int
    reason: str
    message: str


class GatewayCalls:
    """The API as one person sees it."""

    def __init__(self) -> None:
        self._app: ASGIApp | None = None

    def attach(self, app: ASGIApp) -> None:
        """Set the API application (built after the console's routes)."""
        self._app = app

    async def get(
        self, person: Session, origin: str, path: str, query: Query | None = None,
        *, language: str = "",
    ) -> dict[str, Any]:
        """GET `path` (e.g. "/v1/clients/123") as `person`; raise Refusal on an error status."""
        return await self._call(person, origin, "GET", path, query=query, body=None,
                               language=language)

    async def post(
        self, person: Session, origin: str, path: str, body: Mapping[str, Any],
        *, query: Query | None = None, language: str = "",
    ) -> dict[str, Any]:
        """POST a JSON body to `path` as `person` (fields outside the body in `query`)."""
        return await self._call(person, origin, "POST", path, query=query, body=body,
                               language=language)

    async def patch(
        self, person: Session, origin: str, path: str, body: Mapping[str, Any],
        *, query: Query | None = None, language: str = "",
    ) -> dict[str, Any]:
        """PATCH a JSON body to `path` as `person`."""
        return await self._call(person, origin, "PATCH", path, query=query, body=body,
                               language=language)

    async def get_or_none(
        self, person: Session, origin: str, path: str, query: Query | None = None
    ) -> dict[str, Any] | Refusal:
        """GET, returning the Refusal instead of raising (parts of a page that may be denied)."""
        try:
            return await self.get(person, origin, path, query)
        except Refusal as refusal:
            return refusal

    async def gather(
        self, person: Session, origin: str, calls: Mapping[str, tuple[str, Query | None]]
    ) -> dict[str, dict[str, Any] | Refusal]:
        """Run several GETs at once; each answer or its refusal under its key."""
        keys = list(calls)
        answers = await asyncio.gather(
            *(self.get_or_none(person, origin, *calls[key]) for key in keys)
        )
        return dict(zip(keys, answers, strict=True))

    async def _call(
        self,
        person: Session,
        origin: str,
        method: str,
        path: str,
        *,
        query: Query | None,
        body: Mapping[str, Any] | None,
        language: str,
    ) -> dict[str, Any]:
        if self._app is None:
            raise Refusal(503, "CONSOLE_NOT_READY", "the API is not attached yet")
        headers = {"authorization": f"Bearer {person.token}", "accept": "application/json"}
        if language:
            headers["accept-language"] = language
        content = json.dumps(body).encode() if body is not None else None
        if content is not None:
            headers["content-type"] = "application/json"
        # The peer the gateway sees is the browser's address, so per-address limits and the
        # audit record name the person's machine, not the gateway itself.
        transport = httpx.ASGITransport(app=self._app, client=(origin or "127.0.0.1", 0))
        request = httpx.Request(
            method,
            httpx.URL("http://gateway.internal" + quote(path, safe="/:-_.~=*"), params=query),
            headers=headers,
            content=content,
        )
        response = await transport.handle_async_request(request)
        raw = await response.aread()
        data: dict[str, Any] = json.loads(raw) if raw else {}
        if response.status_code >= 400:
            details = data.get("details") or [{}]
            reason = next((str(d["reason"]) for d in details if "reason" in d), "")
            raise Refusal(response.status_code, reason, str(data.get("message", "")))
        return data
