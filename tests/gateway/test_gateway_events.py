"""Push for HTTP-only clients (issue 12, item 2): notify's push stream as server-sent events.

A plain HTTP client (httpx streaming, no gRPC) opens `GET /v1/messages:events` on a gateway in
front of a real notify service and receives a message sent after it connected; heartbeats
arrive as comments; EventSource's way in (a ticket, resuming after Last-Event-ID) works; the
Gate applies as on gRPC (401 without credentials, notify's 403 for another RM's messages,
the per-caller stream limit); and when the client goes away the upstream stream ends, the
caller's stream slot is freed and the call is audited.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

from gateway_harness import gateway_service
from notify_harness import RM_A, notify_service
from openapi_spec_validator import validate
from sqlalchemy import select

from crm_gateway.models import AuditRow
from crm_runtime.auth import Role

EVENTS = "/v1/messages:events"


async def _events(lines: AsyncIterator[str]) -> AsyncIterator[dict[str, str]]:
    """Yield SSE events (fields by name) and comments (as {"comment": text})."""
    event: dict[str, str] = {}
    async for line in lines:
        if line.startswith(":"):
            yield {"comment": line[1:].strip()}
        elif line:
            name, _, value = line.partition(":")
            event[name] = value.removeprefix(" ")
        elif event:
            yield event
            event = {}


async def _next_message(events: AsyncIterator[dict[str, str]]) -> tuple[dict[str, str], list]:
    """Return the next `message` event and the comments seen before it."""
    comments = []
    async with asyncio.timeout(10):
        async for event in events:
            if event.get("event") == "message":
                return event, comments
            comments.append(event.get("comment"))
    raise AssertionError("the event stream ended")


async def test_http_client_receives_pushes_as_server_sent_events(identity, tmp_path):
    """An RM's plain HTTP client gets a message written after it connected, as an SSE event
    with the PushMessage in canonical JSON; then a ticket stream resumes after the event id."""
    store = f"sqlite+aiosqlite:///{tmp_path}/notify.db"
    async with notify_service(store, identity) as notify, gateway_service(
        tmp_path, identity, notify_addr=notify.running.address, events_heartbeat_seconds=0.3
    ) as gw:
        await notify.template("edge-notice")
        headers = gw.person_headers("rm-a", Role.RELATIONSHIP_MANAGER)
        async with gw.http.stream(
            "GET", EVENTS, params={"recipient": RM_A}, headers=headers
        ) as response:
            assert response.status_code == 200
            assert response.headers["content-type"].startswith("text/event-stream")
            assert response.headers["x-accel-buffering"] == "no"
            events = _events(response.aiter_lines())
            await asyncio.sleep(0.4)  # Idle: heartbeats only (every 0.3 s here).
            sent = await notify.send(RM_A, "templates/edge-notice", client_name="华东精密")
            event, comments = await _next_message(events)
        pushed = json.loads(event["data"])
        assert pushed["message"] == sent.messages[0].name
        assert (pushed["recipient"], pushed["sequence"]) == (RM_A, "1")
        assert "华东精密" in pushed["body"]
        assert event["id"] == f"{RM_A}=1"
        assert "heartbeat" in comments

        # EventSource: a ticket instead of a header; Last-Event-ID resumes after message 1.
        second = await notify.send(RM_A, "templates/edge-notice", client_name="第二家")
        ticket = await gw.http.post("/v1/messages:eventsTicket", headers=headers)
        assert ticket.status_code == 200 and ticket.json()["expiresIn"] == 60
        params = {"recipient": RM_A, "ticket": ticket.json()["ticket"]}
        async with gw.http.stream(
            "GET", EVENTS, params=params, headers={"last-event-id": event["id"]}
        ) as response:
            assert response.status_code == 200
            event, _ = await _next_message(_events(response.aiter_lines()))
        assert json.loads(event["data"])["message"] == second.messages[0].name
        assert event["id"] == f"{RM_A}=2"

        # The gateway stops: open streams end at once (clients resume elsewhere), new ones
        # are refused, rather than holding the HTTP server's shutdown for its grace period.
        async with gw.http.stream(
            "GET", EVENTS, params={"recipient": RM_A}, headers=headers
        ) as response:
            lines = response.aiter_lines()
            await anext(lines)
            gw.running.gateway.events.close_streams()
            async with asyncio.timeout(2):  # The response ends: iteration finishes.
                rest = [line async for line in lines]
        assert rest[-1] == ""  # The last event was written whole.
        refused = await gw.http.get(EVENTS, params={"recipient": RM_A}, headers=headers)
        assert refused.status_code == 503


async def test_events_pass_the_gate_and_end_when_the_client_goes_away(identity, tmp_path):
    """Refusals come as HTTP errors before any event (EventSource then stops); the stream limit
    counts SSE streams; a client that leaves ends the upstream stream, frees its slot, and
    the calls are audited with transport sse."""
    store = f"sqlite+aiosqlite:///{tmp_path}/notify.db"
    async with notify_service(store, identity) as notify, gateway_service(
        tmp_path, identity, notify_addr=notify.running.address, max_streams_per_principal=1
    ) as gw:
        rm_a = gw.person_headers("rm-a", Role.RELATIONSHIP_MANAGER)
        document = (await gw.http.get("/openapi.json")).json()
        validate(document)
        assert document["paths"][EVENTS]["get"]["x-grpc-method"].endswith("/StreamMessages")
        assert (await gw.http.get(EVENTS, params={"recipient": RM_A})).status_code == 401
        forged = await gw.http.get(EVENTS, params={"recipient": RM_A, "ticket": "x.y.z"})
        assert forged.json()["details"][0]["reason"] == "TICKET_INVALID"
        both = await gw.http.get(
            EVENTS, params={"recipient": RM_A, "ticket": "x.y.z"}, headers=rm_a
        )
        assert both.json()["details"][0]["reason"] == "CREDENTIALS_AMBIGUOUS"
        other = gw.person_headers("rm-b", Role.RELATIONSHIP_MANAGER)
        denied = await gw.http.get(EVENTS, params={"recipient": RM_A}, headers=other)
        assert denied.status_code == 403
        assert denied.json()["details"][0]["reason"] == "RECIPIENT_ACCESS_DENIED"
        async with gw.http.stream(
            "GET", EVENTS, params={"recipient": RM_A}, headers=rm_a
        ) as response:
            assert response.status_code == 200
            await anext(response.aiter_lines())
            assert gw.running.gateway.gate.streams.current(RM_A) == 1
            assert len(notify.ctx.hub._waiters.get(RM_A, ())) == 1
            second = await gw.http.get(EVENTS, params={"recipient": RM_A}, headers=rm_a)
            assert second.status_code == 429
            # A ticket is a unary call: the open stream does not hold it back.
            ticket = await gw.http.post("/v1/messages:eventsTicket", headers=rm_a)
            assert ticket.status_code == 200
        for _ in range(100):  # The client left: upstream stream and slot end soon after.
            if not (gw.running.gateway.gate.streams.current(RM_A) or notify.ctx.hub._waiters):
                break
            await asyncio.sleep(0.05)
        assert gw.running.gateway.gate.streams.current(RM_A) == 0
        assert not notify.ctx.hub._waiters
        await gw.flush_audit()
        async with gw.running.gateway.definition.database.read() as session:
            rows = (
                await session.execute(
                    select(AuditRow.principal, AuditRow.outcome, AuditRow.resource).where(
                        AuditRow.transport == "sse"
                    )
                )
            ).all()
        assert sorted(rows) == sorted(
            [
                ("anonymous", "UNAUTHENTICATED", ""),
                ("anonymous", "UNAUTHENTICATED", ""),
                ("anonymous", "UNAUTHENTICATED", ""),
                ("staff/rm-b", "PERMISSION_DENIED", RM_A),
                (RM_A, "CANCELLED", RM_A),
                (RM_A, "RESOURCE_EXHAUSTED", ""),
            ]
        )
