"""Demo step: surveys after disbursement, follow-up visits (one signals risk), RM KPIs.

Core banking reports loans disbursed five weeks ago, each with its follow-up plan; feedback's
`loan_disbursed` trigger schedules the `post_disbursement` survey 30 days after the loan, so
its scheduler sends them at once, and notify carries each invitation (with its one-time answer
link) to the client's app. The clients answer through the answering app, which reads the
token out of the link they received: nothing here mints a token. Scores depend on how the
firm is doing (a declining firm is less pleased), so segments differ. RMs then record visits;
one finds the project behind schedule, which feedback turns into a risk signal and risk into
a warning. Finally the RMs' scorecards for the quarter are ranked.
"""

from __future__ import annotations

import asyncio
import random
import uuid
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta

import grpc
from google.protobuf import timestamp_pb2
from google.type import date_pb2, money_pb2

from crm.feedback.v1 import feedback_service_pb2 as fsvc
from crm.feedback.v1 import feedback_service_pb2_grpc, followup_pb2, kpi_pb2, survey_pb2
from crm.notify.v1 import notify_service_pb2, notify_service_pb2_grpc
from crm.risk.v1 import risk_service_pb2, risk_service_pb2_grpc, warning_pb2
from crm_demo.launcher import Platform
from crm_demo.loader import LoadResult
from crm_demo.portfolio import PortfolioClient
from crm_demo.progress import bar
from crm_runtime.auth import Role
from crm_runtime.testing import IdentityKit

SURVEY = "surveys/post_disbursement"
ANSWER_MARKER = "/answer/"
SEED = 13
Metadata = tuple[tuple[str, str], ...]
# NPS and CSAT score ranges by how the firm is doing: (promoter odds, detractor odds).
_MOOD = {"declining": (0.15, 0.45), "collapsing": (0.1, 0.6), "growth": (0.6, 0.1),
         "high_value": (0.7, 0.05)}
SURVEYED = 120  # clients whose loans were disbursed five weeks ago
VISITS = 6


def quarter(moment: datetime) -> str:
    """Return the KPI period of `moment`, e.g. 2026-Q4."""
    return f"{moment.year}-Q{(moment.month - 1) // 3 + 1}"


def _date(value: date) -> date_pb2.Date:
    return date_pb2.Date(year=value.year, month=value.month, day=value.day)


def _text(zh: str, en: str) -> survey_pb2.LocalizedText:
    return survey_pb2.LocalizedText(zh_cn=zh, en=en)


def _survey() -> survey_pb2.Survey:
    return survey_pb2.Survey(title=_text("放款后满意度调查", "After your loan"), questions=[
        survey_pb2.Question(question_id="nps", kind=survey_pb2.QUESTION_KIND_NPS, required=True,
                            title=_text("您向同行推荐我行的可能性有多大？", "Recommend us?")),
        survey_pb2.Question(question_id="csat", kind=survey_pb2.QUESTION_KIND_CSAT,
                            title=_text("您对放款服务满意吗？", "How satisfied are you?")),
    ])


def _disbursement(p: PortfolioClient, name: str, when: datetime) -> followup_pb2.LoanEvent:
    stamp = timestamp_pb2.Timestamp()
    stamp.FromDatetime(when)
    project = p.create.client.project_finance
    return followup_pb2.LoanEvent(
        event_id=f"disb-{p.index}", kind=followup_pb2.LOAN_EVENT_KIND_DISBURSED,
        facility=f"{name}/facilities/loan-{p.index}", occur_time=stamp,
        plan=followup_pb2.FollowupPlan(
            facility_type=followup_pb2.FACILITY_TYPE_PROJECT_FINANCE if project
            else followup_pb2.FACILITY_TYPE_WORKING_CAPITAL,
            risk_tier=followup_pb2.RISK_TIER_MEDIUM, disbursement_date=_date(when.date()),
            maturity_date=_date(when.date() + timedelta(days=730)),
            product="project_loan" if project else "working_capital_loan",
            amount=money_pb2.Money(currency_code="CNY", units=20_000_000)))


async def _tokens(notify: notify_service_pb2_grpc.NotificationServiceStub, ops: Metadata,
                  clients: Sequence[str]) -> dict[str, str]:
    """Wait for the survey invitations in the clients' apps; return client → answer token."""
    found: dict[str, str] = {}

    async def look(client: str) -> None:
        reply = await notify.ListMessages(
            notify_service_pb2.ListMessagesRequest(recipient=client, page_size=50), metadata=ops)
        links = [m.body for m in reply.messages if ANSWER_MARKER in m.body]
        if links:
            found[client] = links[0].split(ANSWER_MARKER, 1)[1].split()[0]

    with bar("survey invitations reaching the clients", len(clients)) as advance:
        for _ in range(120):
            before = len(found)
            await asyncio.gather(*(look(c) for c in clients if c not in found))
            advance(len(found) - before)
            if len(found) == len(clients):
                break
            await asyncio.sleep(0.5)
    return found


def _answer(
    rng: random.Random, behaviour: str, dispatch: str, token: str
) -> fsvc.AnswerSurveyRequest:
    promoter, detractor = _MOOD.get(behaviour, (0.45, 0.15))
    draw = rng.random()
    nps = rng.choice((9, 10)) if draw < promoter else (
        rng.randint(0, 6) if draw < promoter + detractor else rng.choice((7, 8)))
    csat = 5 if nps >= 9 else (rng.randint(1, 3) if nps <= 6 else 4)
    return fsvc.AnswerSurveyRequest(
        dispatch=dispatch, answer_token=token, request_id=str(uuid.uuid4()),
        answers=[survey_pb2.QuestionAnswer(question_id="nps", score=nps),
                 survey_pb2.QuestionAnswer(question_id="csat", score=csat)])


async def _dispatches(stub: feedback_service_pb2_grpc.FeedbackServiceStub,
                      ops: Metadata) -> dict[str, str]:
    """Return client → dispatch name of the sent post-disbursement surveys."""
    found: dict[str, str] = {}
    token = ""
    while True:
        page = await stub.ListSurveyDispatches(fsvc.ListSurveyDispatchesRequest(
            parent=SURVEY, page_size=500, page_token=token), metadata=ops)
        found.update((d.client, d.name) for d in page.dispatches
                     if d.state == survey_pb2.DISPATCH_STATE_SENT)
        token = page.next_page_token
        if not token:
            return found


async def _surveys(stub: feedback_service_pb2_grpc.FeedbackServiceStub,
                   notify: notify_service_pb2_grpc.NotificationServiceStub, ops: Metadata,
                   app: Metadata, chosen: dict[str, PortfolioClient]) -> tuple[int, int]:
    """Wait for the scheduled sends, answer most of them; return (sent, answered)."""
    dispatches: dict[str, str] = {}
    for _ in range(120):
        dispatches = await _dispatches(stub, ops)
        if len(dispatches) >= len(chosen):
            break
        await asyncio.sleep(0.5)
    tokens = await _tokens(notify, ops, sorted(dispatches))
    rng = random.Random(SEED)  # noqa: S311 - reproducible synthetic answers, nothing secret
    # Drawn in a fixed order (reproducible), sent together; some clients never answer.
    answers = [_answer(rng, chosen[client].behaviour, dispatches[client], token)
               for client, token in sorted(tokens.items()) if rng.random() >= 0.2]
    with bar("clients answering", len(answers)) as advance:

        async def send(answer: fsvc.AnswerSurveyRequest) -> None:
            await stub.AnswerSurvey(answer, metadata=app)
            advance(1)

        await asyncio.gather(*(send(a) for a in answers))
    return len(dispatches), len(answers)


def _visit(p: PortfolioClient, today: date, *, signals_risk: bool) -> followup_pb2.Visit:
    if signals_risk:
        return followup_pb2.Visit(
            visit_date=_date(today), kind=followup_pb2.VISIT_KIND_SITE_VISIT,
            progress_percent=20, planned_progress_percent=45,
            issue_codes=[followup_pb2.VISIT_ISSUE_PROJECT_DELAYED],
            issues=["项目延期：主体结构施工滞后约两个月 / structure two months behind"],
            next_steps="要求借款人提交赶工计划 / ask for a recovery plan")
    return followup_pb2.Visit(
        visit_date=_date(today), kind=followup_pb2.VISIT_KIND_SITE_VISIT,
        notes="经营正常，资金按约定用途使用 / business as usual, funds used as agreed")


async def _visits(stub: feedback_service_pb2_grpc.FeedbackServiceStub, identity: IdentityKit,
                  chosen: Sequence[tuple[str, PortfolioClient]], today: date) -> list[str]:
    """RMs record site visits; the last one finds the project delayed. Return signal codes."""
    codes: list[str] = []
    for number, (name, p) in enumerate(chosen):
        rm = identity.metadata(p.create.relationship_manager, Role.RELATIONSHIP_MANAGER,
                               teams=(p.create.team,))
        visit = await stub.RecordVisit(fsvc.RecordVisitRequest(
            parent=f"{name}/facilities/loan-{p.index}", request_id=str(uuid.uuid4()),
            visit=_visit(p, today, signals_risk=number == len(chosen) - 1)), metadata=rm)
        codes.extend(s.code for s in visit.risk_signals)
    return codes


async def _risk_warning(risk_address: str, officer: Metadata, client: str) -> str:
    """Wait until risk raised the visit's warning; return its level (or "none")."""
    async with grpc.aio.insecure_channel(risk_address) as channel:
        stub = risk_service_pb2_grpc.RiskServiceStub(channel)
        for _ in range(60):
            reply = await stub.ListWarnings(
                risk_service_pb2.ListWarningsRequest(client=client, page_size=100),
                metadata=officer)
            found = [w for w in reply.warnings if w.rule.startswith("feedback_")]
            if found:
                return str(warning_pb2.WarningLevel.Name(found[0].level)).removeprefix(
                    "WARNING_LEVEL_").lower()
            await asyncio.sleep(0.5)
    return "none"


def _to_visit(chosen: dict[str, PortfolioClient]) -> list[tuple[str, PortfolioClient]]:
    """Return the facilities RMs visit: a few ordinary ones, last a project (if any)."""
    items = list(chosen.items())
    risky = next(((n, p) for n, p in items[VISITS:] if p.create.client.project_finance),
                 items[-1])
    return [*items[: VISITS - 1], risky]


async def run(platform: Platform, portfolio: Sequence[PortfolioClient],
              loaded: LoadResult, *, surveyed: int = SURVEYED) -> dict[str, object]:
    """Disburse, survey, answer, visit and rank; print and return the figures."""
    now = datetime.now(UTC)
    identity = platform.identity
    feedback_address = platform.services["feedback"].address
    notify_address = platform.services["notify"].address
    risk_address = platform.services["risk"].address
    ops = identity.metadata("staff/ops-demo", Role.OPS)
    core = identity.metadata("systems/core-banking", Role.SYSTEM)
    app = identity.metadata("systems/client-app", Role.SYSTEM)
    officer = identity.metadata("staff/risk-officer-demo", Role.RISK_OFFICER)
    step = max(1, len(portfolio) // surveyed)
    chosen = {loaded.names[p.index]: p for p in portfolio[::step][:surveyed]}
    async with (grpc.aio.insecure_channel(feedback_address) as channel,
                grpc.aio.insecure_channel(notify_address) as notify_channel):
        stub = feedback_service_pb2_grpc.FeedbackServiceStub(channel)
        notify = notify_service_pb2_grpc.NotificationServiceStub(notify_channel)
        await stub.CreateSurvey(fsvc.CreateSurveyRequest(
            survey=_survey(), survey_id=SURVEY.removeprefix("surveys/")), metadata=ops)
        events = [_disbursement(p, n, now - timedelta(days=35)) for n, p in chosen.items()]
        recorded = await stub.RecordLoanEvents(fsvc.RecordLoanEventsRequest(
            events=events, request_id=str(uuid.uuid4())), metadata=core)
        sent, answered = await _surveys(stub, notify, ops, app, chosen)
        visited = _to_visit(chosen)
        codes = await _visits(stub, identity, visited, now.date())
        overdue = await stub.ListOverdueFollowups(
            fsvc.ListOverdueFollowupsRequest(page_size=500), metadata=ops)
        ranking = await stub.RankScorecards(fsvc.RankScorecardsRequest(
            period=quarter(now), scope=kpi_pb2.KPI_SCOPE_RELATIONSHIP_MANAGER), metadata=ops)
    level = await _risk_warning(risk_address, officer, visited[-1][0])
    print(f"\nFeedback: {recorded.recorded_count} loans disbursed five weeks ago "
          f"({recorded.scheduled_survey_count} post-disbursement surveys scheduled, "
          f"{recorded.planned_visit_count} follow-up visits planned); {sent} surveys sent "
          f"through notify to the clients' apps, {answered} answered with the link's one-time "
          "token.")
    print(f"  {len(visited)} site visits recorded; the last found the project delayed "
          f"(signals: {', '.join(codes) or 'none'}) and risk raised a {level} warning "
          f"for {visited[-1][0]}; {len(overdue.overdue_followups)} planned visits are overdue.")
    scored = [e for e in ranking.entries if e.HasField("total_score")]
    print(f"  KPI scorecards {quarter(now)} ({ranking.weights_version}): {len(scored)} RMs "
          "scored; best " + ", ".join(f"{e.subject} {e.total_score:.1f}" for e in scored[:3])
          + "; lowest " + ", ".join(f"{e.subject} {e.total_score:.1f}" for e in scored[-2:]))
    return {"surveys_sent": sent, "answered": answered, "visits": len(visited),
            "visit_signals": codes, "visit_warning_level": level,
            "overdue_followups": len(overdue.overdue_followups), "period": quarter(now)}
