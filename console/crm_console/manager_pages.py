"""The manager's pages: RM scorecards and ranking, NPS/CSAT, approval bottlenecks, campaigns."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from starlette.responses import Response

from crm_console.pages import Page, answer, then


def _period(page: Page) -> str:
    """Return the period asked for, by default the current month ("2026-12")."""
    asked = page.request.query_params.get("period", "")
    return asked or datetime.now(UTC).strftime("%Y-%m")


async def kpi(page: Page) -> Response:
    """RM ranking of a period (team leads see their own team; the API decides)."""
    period = _period(page)
    found = await page.gather({
        "ranking": ("/v1/scorecards:rank",
                    {"period": period, "scope": "KPI_SCOPE_RELATIONSHIP_MANAGER"}),
        "cards": ("/v1/scorecards", {"period": period, "pageSize": 100}),
    })
    ranking = answer(found["ranking"], "entries")
    bars = [(str(e.get("subject", "")).removeprefix("staff/"), float(e.get("totalScore", 0)))
            for e in ranking[:20]]
    return page.render("kpi.html", period=period, ranking=ranking, bars=bars,
                       cards=answer(found["cards"], "scorecards"),
                       refused=found["ranking"] if not isinstance(found["ranking"], dict)
                       else None)


async def satisfaction(page: Page) -> Response:
    """NPS and CSAT of a survey by segment and by team (branch)."""
    surveys = answer(await page.get_or_refusal("/v1/surveys", {"pageSize": 100}), "surveys")
    chosen = page.request.query_params.get("survey", "") or (
        surveys[0]["name"] if surveys else "")
    groups: dict[str, list[dict[str, Any]]] = {"segment": [], "team": []}
    if chosen:
        found = await page.gather({
            dimension: ("/v1/surveyResults",
                        {"survey": chosen, "groupBy": [f"RESULT_DIMENSION_{dimension.upper()}"]})
            for dimension in groups
        })
        groups = {k: answer(v, "groups") for k, v in found.items()}
    nps_bars = {
        dimension: [(str(g.get(dimension, "")).removeprefix("segments/"),
                     float((g.get("nps") or {}).get("score", 0))) for g in rows]
        for dimension, rows in groups.items()
    }
    return page.render("satisfaction.html", surveys=surveys, chosen=chosen, groups=groups,
                       nps_bars=nps_bars)


async def bottlenecks(page: Page) -> Response:
    """The slowest approval stages (90th percentile), by branch and product."""
    found = await page.get("/v1/bottlenecks", {"top": 10, "pageSize": 50})
    rows = found.get("bottlenecks", [])
    bars = [(f"{r.get('branch', '')} {str(r.get('stage', '')).removeprefix('APPROVAL_STAGE_')}",
             _hours(str(r.get("totalP90", "0s")))) for r in rows]
    return page.render("bottlenecks.html", rows=rows, bars=bars)


async def campaigns(page: Page) -> Response:
    """Campaigns with their delivery counts; a new one for a segment."""
    if page.request.method == "POST":
        form = await page.form()
        campaign = {
            "displayName": form.get("display_name", ""),
            "template": form.get("template", ""),
            "topic": form.get("topic", ""),
            "segment": form.get("segment", ""),
            "channels": [c for c in ("CHANNEL_PUSH", "CHANNEL_EMAIL", "CHANNEL_SMS")
                         if form.get(c) == "on"],
        }
        await page.post("/v1/campaigns", campaign, {"requestId": str(uuid.uuid4())})
        return then("/console/manager/campaigns")
    found = await page.gather({
        "campaigns": ("/v1/campaigns", {"pageSize": 100}),
        "segments": ("/v1/segments", {"pageSize": 500}),
        "templates": ("/v1/templates", {"pageSize": 100}),
        "topics": ("/v1/topics", {"pageSize": 100}),
    })
    return page.render(
        "campaigns.html", campaigns=answer(found["campaigns"], "campaigns"),
        segments=answer(found["segments"], "segments"),
        templates=answer(found["templates"], "templates"),
        topics=answer(found["topics"], "topics"),
    )


def _hours(duration: str) -> float:
    """Return a protobuf Duration in JSON ("5400s") as hours."""
    try:
        return float(duration.rstrip("s")) / 3600
    except ValueError:
        return 0.0
