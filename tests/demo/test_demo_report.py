"""The demo day's HTML report shows what the services' APIs return, and works offline.

The demo day runs on a small portfolio against real service processes (SQLite stores, the
demo's own SMTP server and SMS gateway). Afterwards, with everything still running, this
test reads the APIs again with its own calls (not the report's collector) and holds every
figure of the page's tables (cells marked `data-key` / `data-value`) and of its JSON data
island against them. It also checks that the page embeds plotly.js once and loads nothing
from the network, that the providers received what notify says it handed them, and that
the terminal summary covers every area of the day.
"""

from __future__ import annotations

import html
import json
import re
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import grpc
import pytest
from plotly.offline import get_plotlyjs

from crm.client.v1 import client_service_pb2, client_service_pb2_grpc
from crm.feedback.v1 import (
    approval_pb2,
    feedback_service_pb2,
    feedback_service_pb2_grpc,
    kpi_pb2,
    survey_pb2,
)
from crm.notify.v1 import common_pb2, message_pb2, notify_service_pb2, notify_service_pb2_grpc
from crm.risk.v1 import portfolio_pb2, risk_service_pb2, risk_service_pb2_grpc, warning_pb2
from crm_demo.day import Scale, run_day, service_settings, write_outputs
from crm_demo.launcher import Platform, new_platform
from crm_demo.providers import SmsGateway, SmtpServer
from crm_runtime.auth import Role

# A whole platform (five processes) runs a small day: 36 s on the 2-core machine at load
# average 5, 147-171 s at load average 30-35 when shared, hence more than the suite's 300 s.
pytestmark = [pytest.mark.process, pytest.mark.timeout(900)]
TEST_SCALE = Scale(clients=60, monitored=20, rated=20, approval_cases=40, surveyed=12)
CELL = re.compile(r'data-key="([^"]+)" data-value="([^"]*)"')
ISLAND = re.compile(r'<script type="application/json" id="demo-data">(.*?)</script>', re.S)
AREAS = ("segments", "grades", "warnings", "monitoring", "alerts", "notifications",
         "providers", "campaigns", "surveys", "follow-ups", "KPIs", "concentration",
         "five-category", "override", "approvals")


def _short(enum: Any, value: int, prefix: str) -> str:
    return str(enum.Name(value)).removeprefix(prefix).lower()


async def _all(call: Any, request: Any, field: str) -> list[Any]:
    items: list[Any] = []
    while True:
        page = await call(request)
        items.extend(getattr(page, field))
        if not page.next_page_token:
            return items
        request.page_token = page.next_page_token


def _money(value: Any) -> float:
    return value.units + value.nanos / 1e9


async def _client_and_risk(platform: Platform, expected: dict[str, tuple[float | str, float]]
                           ) -> None:
    ops = platform.identity.metadata("staff/auditor-test", Role.OPS)
    officer = platform.identity.metadata("staff/ro-test", Role.RISK_OFFICER)
    async with grpc.aio.insecure_channel(platform.services["client"].address) as channel:
        stub = client_service_pb2_grpc.ClientServiceStub(channel)
        for s in await _all(lambda r: stub.ListSegments(r, metadata=ops),
                            client_service_pb2.ListSegmentsRequest(page_size=500), "segments"):
            expected[f"segment:{s.name.removeprefix('segments/')}"] = (s.member_count, 0)
        clients = await _all(lambda r: stub.ListClients(r, metadata=ops),
                             client_service_pb2.ListClientsRequest(page_size=500), "clients")
    for grade, n in Counter(c.credit_grade or "unrated" for c in clients).items():
        expected[f"grade:{grade}"] = (n, 0)
    async with grpc.aio.insecure_channel(platform.services["risk"].address) as channel:
        risk = risk_service_pb2_grpc.RiskServiceStub(channel)
        warnings = await _all(lambda r: risk.ListWarnings(r, metadata=officer),
                              risk_service_pb2.ListWarningsRequest(page_size=500), "warnings")
        moves: Counter[str] = Counter()
        for c in (c for c in clients if c.credit_grade):
            history = (await risk.ListRatings(risk_service_pb2.ListRatingsRequest(
                parent=c.name, page_size=500), metadata=officer)).ratings
            moves[f"migration:{history[-1].grade}->{history[0].grade}"] += 1
        report = await risk.GetConcentrationReport(
            risk_service_pb2.GetConcentrationReportRequest(top_n=50), metadata=officer)
    expected.update({k: (n, 0) for k, n in moves.items()})
    for key, n in Counter(_short(warning_pb2.WarningLevel, w.level, "WARNING_LEVEL_")
                          for w in warnings).items():
        expected[f"warning-level:{key}"] = (n, 0)
    for key, n in Counter(w.rule for w in warnings).items():
        expected[f"warning-rule:{key}"] = (n, 0)
    expected["hhi"] = (report.client_hhi, 1e-6)
    expected["top10"] = (report.top10_share, 1e-6)
    expected["exposure"] = (_money(report.total_exposure), 1)
    expected["net-capital"] = (_money(report.net_capital), 1)
    industry = portfolio_pb2.CONCENTRATION_DIMENSION_INDUSTRY
    for e in (e for e in report.exposures if e.dimension == industry):
        expected[f"industry-amount:{e.key}"] = (_money(e.amount), 1)
        expected[f"industry-share:{e.key}"] = (e.share_of_total, 1e-6)
    for u in (u for u in report.limits if u.dimension == industry):
        expected[f"industry-used:{u.key}"] = (u.used_share, 1e-6)
        expected[f"industry-headroom:{u.key}"] = (_money(u.headroom), 1)


async def _notify_and_feedback(platform: Platform, period: str,
                               expected: dict[str, tuple[float | str, float]]) -> Counter[str]:
    ops = platform.identity.metadata("staff/ops-test", Role.OPS)
    async with grpc.aio.insecure_channel(platform.services["notify"].address) as channel:
        notify = notify_service_pb2_grpc.NotificationServiceStub(channel)
        messages = await _all(lambda r: notify.ListMessages(r, metadata=ops),
                              notify_service_pb2.ListMessagesRequest(page_size=500), "messages")
        campaigns = await _all(lambda r: notify.ListCampaigns(r, metadata=ops),
                               notify_service_pb2.ListCampaignsRequest(page_size=500),
                               "campaigns")
        for c in campaigns:
            got = await notify.GetCampaign(
                notify_service_pb2.GetCampaignRequest(name=c.name), metadata=ops)
            for field in ("recipients", "messages", "delivered", "sent", "queued", "failed"):
                expected[f"campaign:{c.name}:{field}"] = (getattr(got.stats, field), 0)
    by_channel_state = Counter(
        f"notification:{_short(common_pb2.Channel, m.channel, 'CHANNEL_')}:"
        f"{_short(message_pb2.DeliveryState, m.state, 'DELIVERY_STATE_')}" for m in messages)
    expected.update({k: (n, 0) for k, n in by_channel_state.items()})
    async with grpc.aio.insecure_channel(platform.services["feedback"].address) as channel:
        feedback = feedback_service_pb2_grpc.FeedbackServiceStub(channel)
        results = await feedback.GetSurveyResults(feedback_service_pb2.GetSurveyResultsRequest(
            survey="surveys/post_disbursement",
            group_by=[survey_pb2.RESULT_DIMENSION_SEGMENT]), metadata=ops)
        ranking = await feedback.RankScorecards(feedback_service_pb2.RankScorecardsRequest(
            period=period, scope=kpi_pb2.KPI_SCOPE_RELATIONSHIP_MANAGER), metadata=ops)
        bottlenecks = await feedback.ListBottlenecks(feedback_service_pb2.ListBottlenecksRequest(
            group_by=[approval_pb2.APPROVAL_DIMENSION_BRANCH], top=1), metadata=ops)
    for g in results.groups:
        segment = g.segment.removeprefix("segments/")
        expected[f"answered:{segment}"] = (g.answered_count, 0)
        expected[f"nps:{segment}"] = (g.nps.score if g.nps.HasField("score") else "", 0.05)
        expected[f"csat:{segment}"] = (
            g.csat.satisfied_share if g.csat.HasField("satisfied_share") else "", 1e-4)
    for e in ranking.entries:
        expected[f"kpi:{e.subject}"] = (e.total_score if e.HasField("total_score") else "",
                                        0.005)
    for b in bottlenecks.bottlenecks:
        expected[f"bottleneck-stage:{b.branch}"] = (
            _short(approval_pb2.ApprovalStage, b.stage, "APPROVAL_STAGE_"), 0)
        expected[f"bottleneck-p90:{b.branch}"] = (
            b.total_p90.ToTimedelta().total_seconds() / 3600, 0.05)
    return Counter(f"{_short(common_pb2.Channel, m.channel, 'CHANNEL_')}:"
                   f"{_short(message_pb2.DeliveryState, m.state, 'DELIVERY_STATE_')}"
                   for m in messages)


def _matches(shown: str, want: float | str, tolerance: float) -> bool:
    if isinstance(want, str) or shown == "":
        return shown == str(want)
    return abs(float(shown) - float(want)) <= tolerance


class TestDemoDayReport:
    async def test_every_figure_in_the_report_equals_the_apis(self, tmp_path: Path, capsys):
        """Run the day small; every table cell and the data island match fresh API reads."""
        platform = new_platform(tmp_path / "demo")
        sms, smtp = SmsGateway(), SmtpServer()
        await sms.start()
        smtp.start()
        try:
            platform.start_all(settings=service_settings(sms, smtp))
            await platform.wait_ready()
            data = await run_day(platform, TEST_SCALE, seed=20261128,
                                 as_of=datetime.now(UTC).date(), sms=sms, smtp=smtp)
            page = write_outputs(data, tmp_path / "demo").read_text(encoding="utf-8")
            expected: dict[str, tuple[float | str, float]] = {}
            await _client_and_risk(platform, expected)
            messages = await _notify_and_feedback(platform, data["kpi"]["period"], expected)
        finally:
            platform.stop()
            smtp.stop()
            await sms.close()
        out = capsys.readouterr().out
        cells = {html.unescape(k): html.unescape(v) for k, v in CELL.findall(page)}
        shown_keys = {k for k in cells if not k.startswith("migration:")}
        wrong = {k: (cells[k], expected.get(k)) for k in cells
                 if k not in expected or not _matches(cells[k], *expected[k])}
        print(f"{len(cells)} figures in the page; {len(wrong)} differ from the APIs; "
              f"{len(messages)} channel/state pairs; mails {smtp.mailbox.count()}, "
              f"SMS {len(sms.received)}")
        assert wrong == {}
        # Every figure the APIs give appears in the page (migrations: only real moves shown).
        assert {k for k in expected if not k.startswith("migration:")} == shown_keys
        island = json.loads(ISLAND.search(page).group(1))  # type: ignore[union-attr]
        assert island["segments"] == data["segments"]
        assert {f"segment:{s['name']}": s["members"] for s in island["segments"]} == {
            k: int(v) for k, v in cells.items() if k.startswith("segment:")}
        # Self-contained: plotly.js once, nothing fetched from elsewhere.
        assert page.count(get_plotlyjs()[:500]) == 1
        assert not re.search(r'<(script|link)[^>]+(src|href)="(https?:)?//', page)
        # The providers got what notify says it handed them.
        assert smtp.mailbox.count() == messages["email:sent"] > 0
        assert len(sms.received) == messages["sms:delivered"] > 0
        assert all(f"  {area}" in out for area in AREAS), out[-3000:]
