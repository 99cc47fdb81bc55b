"""The relationship manager's pages: my clients, a client, my warnings and tasks, my visits."""

from __future__ import annotations

import uuid
from typing import Any

from starlette.responses import Response

from crm_console.pages import Page, answer, then
from crm_console.upstream import Refusal

MAX_LIST = 500
# Secondary reads of a client page (messages per key person, visits per facility) are capped
# so one page stays a bounded number of API calls.
MAX_FANOUT = 4


def _request_id() -> str:
    return str(uuid.uuid4())


async def clients(page: Page) -> Response:
    """My clients, filtered by a search text and a segment."""
    search = page.request.query_params.get("q", "").strip().lower()
    segment = page.request.query_params.get("segment", "")
    found = await page.gather({
        "clients": ("/v1/clients", {"relationshipManager": page.person.staff,
                                    "pageSize": MAX_LIST}),
        "segments": ("/v1/segments", {"pageSize": MAX_LIST}),
    })
    rows = answer(found["clients"], "clients")
    if segment:
        members = await page.get(f"/v1/{segment}/members", {"pageSize": MAX_LIST})
        inside = {m.get("client") for m in members.get("memberships", [])}
        rows = [r for r in rows if r.get("name") in inside]
    if search:
        rows = [r for r in rows
                if search in str(r.get("displayName", "")).lower()
                or search in str(r.get("creditCode", "")).lower()]
    return page.render("clients.html", clients=rows, segments=answer(found["segments"],
                       "segments"), q=search, segment=segment)


async def client(page: Page) -> Response:
    """One client: profile, people, segments, rating, facilities, warnings, contact history."""
    name = f"clients/{page.request.path_params['client_id']}"
    found = await page.gather({
        "client": (f"/v1/{name}", None),
        "people": (f"/v1/{name}/keyPersons", None),
        "segments": (f"/v1/{name}/segments", None),
        "moves": (f"/v1/{name}/segmentMoves", None),
        "actions": (f"/v1/{name}/recommendations", None),
        "ratings": (f"/v1/{name}/ratings", None),
        "facilities": (f"/v1/{name}/facilities", None),
        "warnings": ("/v1/warnings", {"client": name}),
        "surveys": ("/v1/surveys", {"pageSize": MAX_FANOUT}),
    })
    profile = found["client"]
    if isinstance(profile, Refusal):
        raise profile
    people = answer(found["people"], "keyPersons")
    facilities = answer(found["facilities"], "facilities")
    # Dispatches are listed per survey (a survey's child), so the page asks each live survey.
    more = await page.gather({
        **{f"m{i}": ("/v1/messages", {"recipient": p["name"]})
           for i, p in enumerate(people[:MAX_FANOUT])},
        **{f"v{i}": (f"/v1/{f['name']}/visits", None)
           for i, f in enumerate(facilities[:MAX_FANOUT])},
        **{f"s{i}": (f"/v1/{s['name']}/dispatches", {"client": name})
           for i, s in enumerate(answer(found["surveys"], "surveys")[:MAX_FANOUT])},
    })
    messages = [m for k, v in more.items() if k.startswith("m") for m in answer(v, "messages")]
    visits = [v for k, r in more.items() if k.startswith("v") for v in answer(r, "visits")]
    surveys = [d for k, r in more.items() if k.startswith("s") for d in answer(r, "dispatches")]
    ratings = answer(found["ratings"], "ratings")
    return page.render(
        "client.html", client=profile, people=people, facilities=facilities,
        segments=answer(found["segments"], "memberships"),
        moves=answer(found["moves"], "moves"), ratings=ratings,
        rating=ratings[0] if ratings else None,
        actions=answer(found["actions"], "recommendations"),
        warnings=answer(found["warnings"], "warnings"),
        surveys=surveys, messages=messages, visits=visits,
        proposed=page.request.query_params.get("proposed", ""),
    )


async def work(page: Page) -> Response:
    """My warnings (newest first) and my tasks."""
    staff = page.person.staff
    found = await page.gather({
        "warnings": ("/v1/warnings", {"pageSize": MAX_LIST}),
        "tasks": ("/v1/tasks", {"assignee": staff, "pageSize": MAX_LIST}),
    })
    mine = [w for w in answer(found["warnings"], "warnings")
            if w.get("owner") == staff or not page.person.has("relationship_manager")]
    return page.render("work.html", warnings=mine, tasks=answer(found["tasks"], "tasks"))


async def warning_action(page: Page) -> Response:
    """Acknowledge or resolve a warning, then back to the page it was worked from."""
    form = await page.form()
    name = f"warnings/{page.request.path_params['warning_id']}"
    action = page.request.path_params["action"]
    body: dict[str, Any] = {"requestId": _request_id(), "etag": form.get("etag", "")}
    if action == "acknowledge":
        body["comment"] = form.get("comment", "")
    elif action == "resolve":
        body.update(reason=form.get("reason", ""), confirmed=form.get("confirmed") == "on")
    elif action == "dismiss":
        body["reason"] = form.get("reason", "")
    else:
        raise Refusal(404, "UNKNOWN_ACTION", "no such warning action")
    await page.post(f"/v1/{name}:{action}", body)
    return then(_back(form, "/console/work"))


async def complete_task(page: Page) -> Response:
    """Complete one of my tasks."""
    form = await page.form()
    name = f"tasks/{page.request.path_params['task_id']}"
    await page.post(f"/v1/{name}:complete",
                    {"resolution": form.get("resolution", ""), "requestId": _request_id()})
    return then("/console/work")


async def visits(page: Page) -> Response:
    """My overdue follow-up visits, each with a form to record it."""
    found = await page.get("/v1/overdueFollowups",
                           {"relationshipManager": page.person.staff, "pageSize": MAX_LIST})
    return page.render("visits.html", overdue=found.get("overdueFollowups", []),
                       recorded=page.request.query_params.get("recorded", ""))


async def record_visit(page: Page) -> Response:
    """Record a follow-up visit to a facility."""
    form = await page.form()
    facility = form.get("facility", "")
    if not facility.startswith("clients/"):
        raise Refusal(400, "BAD_FACILITY", "facility must be clients/{c}/facilities/{f}")
    year, month, day = (int(x) for x in form.get("visit_date", "1970-01-01").split("-"))
    visit = {
        "visitDate": {"year": year, "month": month, "day": day},
        "kind": form.get("kind", "VISIT_KIND_ROUTINE"),
        "notes": form.get("notes", ""),
        "nextSteps": form.get("next_steps", ""),
    }
    # The binding's body is the visit itself; the request id travels as a query parameter.
    created = await page.post(f"/v1/{facility}/visits", visit, {"requestId": _request_id()})
    return then(f"/console/visits?recorded={created.get('name', '')}")


def _back(form: dict[str, str], default: str) -> str:
    target = form.get("back", "")
    return target if target.startswith("/console/") and "//" not in target else default
