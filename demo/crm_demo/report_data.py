"""The demo day's figures, read back from the services' APIs into one plain structure.

Both the terminal summary (crm_demo.summary) and the HTML report (crm_demo.html_report)
render this structure and nothing else, and the HTML page embeds it as a JSON data island
that its charts are built from; tests/demo/test_demo_report.py reads the APIs again and
compares. Only `monitoring` (recall and precision against the simulation's planted truth)
and `providers` (what the demo's SMTP server and SMS gateway received, added by
crm_demo.day) are not API reads.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import grpc
from google.protobuf.message import Message

from crm.client.v1 import client_pb2, client_service_pb2, client_service_pb2_grpc
from crm.feedback.v1 import (
    approval_pb2,
    feedback_service_pb2,
    feedback_service_pb2_grpc,
    kpi_pb2,
    survey_pb2,
)
from crm.notify.v1 import common_pb2, message_pb2, notify_service_pb2, notify_service_pb2_grpc
from crm.risk.v1 import portfolio_pb2, risk_service_pb2, risk_service_pb2_grpc, warning_pb2
from crm_demo.feedback_day import SURVEY
from crm_demo.launcher import Platform
from crm_runtime.auth import Role

Data = dict[str, Any]
Metadata = tuple[tuple[str, str], ...]


def enum_name(enum: Any, value: int, prefix: str) -> str:
    """Return a protobuf enum value's short lower-case name, e.g. "sms" for CHANNEL_SMS."""
    return str(enum.Name(value)).removeprefix(prefix).lower()


def hours(duration: Any) -> float:
    """Return a google.protobuf.Duration in hours, rounded to 0.1."""
    return round(float(duration.ToTimedelta().total_seconds()) / 3600, 1)


def yuan(money: Any) -> float:
    """Return a google.type.Money amount in yuan."""
    return float(money.units) + float(money.nanos) / 1e9


async def pages(call: Callable[[Any], Awaitable[Any]], request: Message,
                field: str) -> AsyncIterator[Any]:
    """Yield every item of a paged List call (AIP-158), 500 per page."""
    token = ""
    while True:
        request.page_size, request.page_token = 500, token  # type: ignore[attr-defined]
        page = await call(request)
        for item in getattr(page, field):
            yield item
        token = page.next_page_token
        if not token:
            return


async def client_figures(address: str, ops: Metadata) -> tuple[Data, list[str]]:
    """Segments with their sizes and the credit grades the client service holds; also the
    names of the clients that have a grade."""
    async with grpc.aio.insecure_channel(address) as channel:
        stub = client_service_pb2_grpc.ClientServiceStub(channel)
        segments = [s async for s in pages(lambda r: stub.ListSegments(r, metadata=ops),
                                            client_service_pb2.ListSegmentsRequest(), "segments")]
        grades: Counter[str] = Counter()
        clients = 0
        graded: list[str] = []
        async for c in pages(lambda r: stub.ListClients(r, metadata=ops),
                             client_service_pb2.ListClientsRequest(), "clients"):
            clients += 1
            grades[c.credit_grade or "unrated"] += 1
            if c.credit_grade:
                graded.append(c.name)
    return {
        "clients": clients,
        "segments": [{"name": s.name.removeprefix("segments/"), "display": s.display_name,
                      "kind": enum_name(client_pb2.SegmentKind, s.kind, "SEGMENT_KIND_"),
                      "members": s.member_count}
                     for s in sorted(segments, key=lambda s: (s.kind, -s.member_count, s.name))],
        "grades": dict(sorted(grades.items())),
    }, graded


async def risk_figures(address: str, officer: Metadata, rated: list[str]) -> Data:
    """Warnings by level and rule, rating migrations, concentration by industry."""
    async with grpc.aio.insecure_channel(address) as channel:
        stub = risk_service_pb2_grpc.RiskServiceStub(channel)
        by_level: Counter[str] = Counter()
        by_rule: Counter[str] = Counter()
        async for w in pages(lambda r: stub.ListWarnings(r, metadata=officer),
                             risk_service_pb2.ListWarningsRequest(), "warnings"):
            by_level[enum_name(warning_pb2.WarningLevel, w.level, "WARNING_LEVEL_")] += 1
            by_rule[w.rule] += 1
        migration: Counter[tuple[str, str]] = Counter()
        limit = asyncio.Semaphore(8)

        async def history(client: str) -> list[str]:
            async with limit:
                return [r.grade async for r in pages(
                    lambda r: stub.ListRatings(r, metadata=officer),
                    risk_service_pb2.ListRatingsRequest(parent=client), "ratings")]

        for grades in await asyncio.gather(*(history(c) for c in rated)):
            if grades:
                # Newest first: the migration runs from the first rating to the latest.
                migration[(grades[-1], grades[0])] += 1
        report = await stub.GetConcentrationReport(
            risk_service_pb2.GetConcentrationReportRequest(top_n=50), metadata=officer)
    industry = portfolio_pb2.CONCENTRATION_DIMENSION_INDUSTRY
    return {
        "warnings": {"by_level": dict(sorted(by_level.items())),
                     "by_rule": dict(sorted(by_rule.items(), key=lambda kv: -kv[1]))},
        "migration": [{"from": a, "to": b, "clients": n}
                      for (a, b), n in sorted(migration.items())],
        "concentration": {
            "net_capital": yuan(report.net_capital),
            "total_exposure": yuan(report.total_exposure),
            "client_hhi": round(report.client_hhi, 6),
            "top10_share": round(report.top10_share, 6),
            "industries": [{"key": e.key, "amount": yuan(e.amount),
                            "share": round(e.share_of_total, 6)}
                           for e in report.exposures if e.dimension == industry],
            "industry_limits": [{"key": u.key, "limit_share": round(u.limit_share, 6),
                                 "used_share": round(u.used_share, 6),
                                 "headroom": yuan(u.headroom), "breached": u.breached}
                                for u in report.limits if u.dimension == industry],
        },
    }


async def notify_figures(address: str, ops: Metadata) -> Data:
    """Messages by channel and state; campaigns with their delivery figures."""
    async with grpc.aio.insecure_channel(address) as channel:
        stub = notify_service_pb2_grpc.NotificationServiceStub(channel)
        counts: Counter[tuple[str, str]] = Counter()
        async for m in pages(lambda r: stub.ListMessages(r, metadata=ops),
                             notify_service_pb2.ListMessagesRequest(), "messages"):
            counts[(enum_name(common_pb2.Channel, m.channel, "CHANNEL_"),
                    enum_name(message_pb2.DeliveryState, m.state, "DELIVERY_STATE_"))] += 1
        listed = [c async for c in pages(lambda r: stub.ListCampaigns(r, metadata=ops),
                                          notify_service_pb2.ListCampaignsRequest(),
                                          "campaigns")]
        # The list leaves out the per-state figures; Get counts them.
        campaigns = [await stub.GetCampaign(notify_service_pb2.GetCampaignRequest(name=c.name),
                                            metadata=ops) for c in listed]
    return {
        "notifications": [{"channel": ch, "state": st, "count": n}
                          for (ch, st), n in sorted(counts.items())],
        "campaigns": [{"name": c.name, "display": c.display_name,
                       "recipients": c.stats.recipients, "messages": c.stats.messages,
                       "delivered": c.stats.delivered, "sent": c.stats.sent,
                       "queued": c.stats.queued, "failed": c.stats.failed}
                      for c in sorted(campaigns, key=lambda c: c.name)],
    }


async def feedback_figures(address: str, ops: Metadata, period: str) -> Data:
    """NPS/CSAT by segment, the KPI ranking, approval-stage durations and bottlenecks."""
    async with grpc.aio.insecure_channel(address) as channel:
        stub = feedback_service_pb2_grpc.FeedbackServiceStub(channel)
        results = await stub.GetSurveyResults(feedback_service_pb2.GetSurveyResultsRequest(
            survey=SURVEY, group_by=[survey_pb2.RESULT_DIMENSION_SEGMENT]), metadata=ops)
        ranking = await stub.RankScorecards(feedback_service_pb2.RankScorecardsRequest(
            period=period, scope=kpi_pb2.KPI_SCOPE_RELATIONSHIP_MANAGER), metadata=ops)
        by_branch = [approval_pb2.APPROVAL_DIMENSION_BRANCH]
        stats = [s async for s in pages(
            lambda r: stub.ListStageStatistics(r, metadata=ops),
            feedback_service_pb2.ListStageStatisticsRequest(group_by=by_branch), "statistics")]
        bottlenecks = await stub.ListBottlenecks(feedback_service_pb2.ListBottlenecksRequest(
            group_by=by_branch, top=1), metadata=ops)
    stage = approval_pb2.ApprovalStage
    return {
        "satisfaction": [
            {"segment": g.segment.removeprefix("segments/"), "answered": g.answered_count,
             "nps": round(g.nps.score, 1) if g.nps.HasField("score") else None,
             "csat": round(g.csat.satisfied_share, 4)
             if g.csat.HasField("satisfied_share") else None}
            for g in results.groups],
        "kpi": {"period": period, "weights": ranking.weights_version,
                "ranking": [{"rank": e.rank, "subject": e.subject,
                             "score": round(e.total_score, 2)
                             if e.HasField("total_score") else None}
                            for e in ranking.entries]},
        "approvals": {
            "stages": [{"branch": s.branch,
                        "stage": enum_name(stage, s.stage, "APPROVAL_STAGE_"),
                        "p50_h": hours(s.total_p50), "p90_h": hours(s.total_p90)}
                       for s in stats],
            "bottlenecks": [{"branch": b.branch,
                             "stage": enum_name(stage, b.stage, "APPROVAL_STAGE_"),
                             "p90_h": hours(b.total_p90)} for b in bottlenecks.bottlenecks],
        },
    }


async def collect(platform: Platform, *, period: str, steps: dict[str, Any]) -> Data:
    """Read every figure of the report from the running services."""
    identity = platform.identity
    ops = identity.metadata("staff/ops-demo", Role.OPS)
    officer = identity.metadata("staff/risk-officer-demo", Role.RISK_OFFICER)
    services = platform.services
    gateway = services.get("gateway")
    http = f"http://127.0.0.1:{gateway.http_port}" if gateway else ""
    clients, graded = await client_figures(services["client"].address, ops)
    return {
        "generated": datetime.now(UTC).isoformat(timespec="seconds"),
        "console": f"{http}/console/" if http else "",
        **clients,
        **await risk_figures(services["risk"].address, officer, graded),
        **await notify_figures(services["notify"].address, ops),
        **await feedback_figures(services["feedback"].address, ops, period),
        "monitoring": steps.get("monitoring", {}).get("patterns", []),
        "steps": {k: v for k, v in steps.items() if k != "monitoring"},
    }
