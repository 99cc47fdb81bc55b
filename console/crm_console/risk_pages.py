"""The risk officer's pages: warning queue, unmasking, overrides, concentration, rules."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from starlette.responses import Response

from crm_console.pages import Page, then
from crm_console.upstream import Refusal

_LEVEL_ORDER = {"WARNING_LEVEL_RED": 0, "WARNING_LEVEL_ORANGE": 1, "WARNING_LEVEL_YELLOW": 2,
                "WARNING_LEVEL_BLUE": 3}
_OPEN = ("WARNING_STATE_OPEN", "WARNING_STATE_ACKNOWLEDGED")
BACKTEST_DAYS = 30


def _request_id() -> str:
    return str(uuid.uuid4())


async def warning_queue(page: Page) -> Response:
    """Open warnings by level, then by SLA due time; overdue and escalated ones flagged."""
    level = page.request.query_params.get("level", "")
    found = await page.get("/v1/warnings", {"pageSize": 500})
    now = datetime.now(UTC).isoformat()
    queue = [w for w in found.get("warnings", []) if w.get("state") in _OPEN
             and (not level or w.get("level") == level)]
    queue.sort(key=lambda w: (_LEVEL_ORDER.get(w.get("level", ""), 9), w.get("slaDueTime", "")))
    counts: dict[str, int] = {}
    for warning in queue:
        counts[warning.get("level", "")] = counts.get(warning.get("level", ""), 0) + 1
    return page.render("warning_queue.html", warnings=queue, now=now, level=level,
                       counts=sorted(counts.items(), key=lambda c: _LEVEL_ORDER.get(c[0], 9)))


async def unmask(page: Page) -> Response:
    """Show one key person in full; the API requires the reason and writes the access record."""
    form = await page.form()
    client = page.request.path_params["client_id"]
    person = page.request.path_params["person_id"]
    reason = form.get("reason", "").strip()
    shown = await page.get(f"/v1/clients/{client}/keyPersons/{person}",
                           {"unmask": "true", "accessReason": reason})
    return page.render("unmasked.html", shown=shown, reason=reason, client=client)


async def propose_override(page: Page) -> Response:
    """Propose a new grade for the rating in force (four eyes: someone else approves)."""
    form = await page.form()
    client = page.request.path_params["client_id"]
    proposal = {"rating": form.get("rating", ""), "toGrade": form.get("to_grade", ""),
                "reason": form.get("reason", "")}
    # The binding's body is the override itself; the request id travels as a query parameter.
    created = await page.post(f"/v1/clients/{client}/ratingOverrides", proposal,
                              {"requestId": _request_id()})
    return then(f"/console/overrides/view?name={created.get('name', '')}")


async def overrides(page: Page) -> Response:
    """Open an override by its name (the proposer passes the link on)."""
    return page.render("overrides.html")


async def override(page: Page) -> Response:
    """One override with approve and reject (the API refuses the proposer: four eyes)."""
    name = page.request.query_params.get("name", "")
    if not name.startswith("clients/") or "/ratingOverrides/" not in name:
        raise Refusal(400, "BAD_OVERRIDE_NAME", "clients/{c}/ratingOverrides/{o} expected")
    found = await page.get(f"/v1/{name}")
    return page.render("override.html", override=found)


async def decide_override(page: Page) -> Response:
    """Approve or reject an override."""
    form = await page.form()
    name = form.get("name", "")
    decision = page.request.path_params["decision"]
    if decision not in ("approve", "reject") or not name.startswith("clients/"):
        raise Refusal(400, "BAD_DECISION", "approve or reject an override by its name")
    await page.post(f"/v1/{name}:{decision}",
                    {"comment": form.get("comment", ""), "requestId": _request_id()})
    return then(f"/console/overrides/view?name={name}")


async def concentration(page: Page) -> Response:
    """Concentration by client, group, industry and region, limits with headroom, what-if."""
    report = await page.get("/v1/portfolio:concentration", {"topN": 10})
    verdict: dict[str, Any] | None = None
    proposed: dict[str, str] = {}
    if page.request.method == "POST":
        proposed = await page.form()
        amount = {"currencyCode": "CNY", "units": str(int(float(proposed.get("amount", "0"))))}
        verdict = await page.post("/v1/portfolio:evaluateFacility",
                                  {"client": proposed.get("client", ""), "amount": amount})
    exposure_bars: dict[str, list[tuple[str, float]]] = {}
    for exposure in report.get("exposures", []):
        exposure_bars.setdefault(str(exposure.get("dimension", "")), []).append(
            (str(exposure.get("key", "")), float(exposure.get("shareOfTotal", 0)) * 100))
    # Each limit has its own ceiling, so the chart shows the share of the limit in use
    # (the dashed line is 100 %: the limit itself).
    limit_bars = [(str(limit.get("key", "")),
                   float(limit.get("usedShare", 0)) / float(limit.get("limitShare") or 1) * 100)
                  for limit in report.get("limits", [])]
    return page.render("concentration.html", report=report, verdict=verdict, proposed=proposed,
                       exposure_bars=exposure_bars, limit_bars=limit_bars)


async def rules(page: Page) -> Response:
    """The rule set in force; a parameter change can be back-tested, then activated."""
    ruleset = await page.get("/v1/monitoringRuleset")
    backtest: dict[str, Any] | None = None
    change: dict[str, str] = {}
    if page.request.method == "POST":
        change = await page.form()
        overrides = [*ruleset.get("overrides", []), _override_of(change)]
        if change.get("do") == "activate":
            await page.patch("/v1/monitoringRuleset", {"overrides": overrides},
                             {"requestId": _request_id(), "updateMask": "overrides"})
            return then("/console/risk/rules")
        end = datetime.now(UTC)
        backtest = await page.post("/v1/monitoringRuleset:backtest", {
            "ruleset": {"name": "monitoringRuleset", "version": ruleset.get("version", ""),
                        "overrides": overrides},
            "startTime": (end - timedelta(days=BACKTEST_DAYS)).isoformat(),
            "endTime": end.isoformat(),
        })
    return page.render("rules.html", ruleset=ruleset, backtest=backtest, change=change)


def _override_of(change: dict[str, str]) -> dict[str, Any]:
    """Return a rule parameter override from the form; the value is JSON (number, list...)."""
    try:
        value = json.loads(change.get("value", ""))
    except ValueError:
        value = change.get("value", "")
    return {"rule": change.get("rule", ""), "parameter": change.get("parameter", ""),
            "value": value}

