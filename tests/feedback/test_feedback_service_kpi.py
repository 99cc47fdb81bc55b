"""RM KPI scorecards through the service, reconciled with the raw events that produced them."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

import grpc
import pytest
from feedback_harness import (
    RM_A,
    RM_B,
    TEAM_1,
    details,
    feedback_service,
    new_request_id,
    nps_csat_survey,
    stamp,
    utc,
)
from google.type import date_pb2

from crm.events.v1 import client_events_pb2, risk_events_pb2
from crm.feedback.v1 import feedback_service_pb2, followup_pb2, kpi_pb2

SENT_AT = utc(2026, 8, 10, 9)
NOW = utc(2026, 10, 5, 12)
Q3_START, Q3_END = utc(2026, 7, 1), utc(2026, 10, 1)
CLIENT_RM = {"clients/c1": RM_A, "clients/c2": RM_A, "clients/c3": RM_B}


@dataclass(frozen=True)
class Warning:
    """A warning as the test delivers it: level, raise time, SLA, acknowledgement, resolution."""

    warning: str
    client: str
    level: str
    raised: datetime
    ack_sla: timedelta
    acked: datetime | None
    resolved: datetime | None


WARNINGS = [
    Warning("warnings/w1", "clients/c1", "red", utc(2026, 7, 1), timedelta(hours=4),
            utc(2026, 7, 1, 2), utc(2026, 7, 3)),
    Warning("warnings/w2", "clients/c2", "orange", utc(2026, 8, 1), timedelta(hours=24),
            utc(2026, 8, 2, 6), utc(2026, 8, 7)),
    Warning("warnings/w3", "clients/c1", "yellow", utc(2026, 9, 20), timedelta(hours=72),
            None, None),
    Warning("warnings/w4", "clients/c3", "yellow", utc(2026, 7, 10), timedelta(hours=72),
            utc(2026, 7, 11), utc(2026, 7, 15)),
    Warning("warnings/w5", "clients/c1", "red", utc(2026, 6, 15), timedelta(hours=4),
            utc(2026, 6, 15, 1), None),
]
RESOLVE_SLA = {"red": timedelta(days=3), "orange": timedelta(days=5), "yellow": timedelta(days=10)}
# (client, previous grade, grade, effective time)
RATINGS = [
    ("clients/c1", "BBB", "A-", utc(2026, 7, 15)),
    ("clients/c2", "A", "BBB+", utc(2026, 8, 15)),
    ("clients/c2", "", "A", utc(2026, 7, 2)),
    ("clients/c3", "BB", "BBB-", utc(2026, 9, 1)),
]
SCALE = ["AAA", "AA+", "AA", "AA-", "A+", "A", "A-", "BBB+", "BBB", "BBB-", "BB", "B"]
# (client, NPS, CSAT) answered on SENT_AT.
ANSWERS = [("clients/c1", 10, 5), ("clients/c2", 6, 3), ("clients/c3", 9, 4)]
# (facility, type, tier, disbursed, maturity, amount in yuan, completed)
FACILITIES = [
    ("clients/c1/facilities/f0", followup_pb2.FACILITY_TYPE_WORKING_CAPITAL, utc(2025, 12, 1),
     utc(2026, 12, 1), 4_000_000, utc(2026, 9, 1)),
    ("clients/c1/facilities/f1", followup_pb2.FACILITY_TYPE_WORKING_CAPITAL, utc(2026, 2, 1),
     utc(2027, 2, 1), 10_000_000, None),
    ("clients/c2/facilities/f2", followup_pb2.FACILITY_TYPE_FIXED_ASSET, utc(2026, 5, 15),
     utc(2028, 5, 15), 20_000_000, None),
    ("clients/c1/facilities/f3", followup_pb2.FACILITY_TYPE_WORKING_CAPITAL, utc(2026, 8, 20),
     utc(2027, 8, 20), 5_000_000, None),
]
# One visit: f1's routine check due 2026-08-01, done 2026-08-05 (on time within 14 days).
VISITS = [("clients/c1/facilities/f1", utc(2026, 8, 5))]
WEIGHTS = {"nps": 0.20, "csat": 0.10, "warning_ack": 0.15, "warning_resolve": 0.15,
           "followup_on_time": 0.15, "portfolio_growth": 0.10, "grade_migration": 0.05,
           "npl": 0.10}


def date_of(moment: datetime) -> date_pb2.Date:
    return date_pb2.Date(year=moment.year, month=moment.month, day=moment.day)


def expected_components(rm: str) -> dict[str, float]:
    """Recompute an RM's Q3 component scores from the raw events above, by the rule table."""
    mine = {c for c, owner in CLIENT_RM.items() if owner == rm}
    scores: dict[str, float] = {}
    nps = [n for c, n, _ in ANSWERS if c in mine]
    if nps:
        promoters = sum(n >= 9 for n in nps)
        detractors = sum(n <= 6 for n in nps)
        scores["nps"] = (100 * (promoters - detractors) / len(nps) + 100) / 2
        scores["csat"] = 100 * sum(s >= 4 for c, _, s in ANSWERS if c in mine) / len(nps)
    ack_ok = ack_n = res_ok = res_n = 0
    for w in WARNINGS:
        if w.client not in mine or not Q3_START <= w.raised < Q3_END:
            continue
        if w.acked is not None or w.raised + w.ack_sla <= NOW:
            ack_n += 1
            ack_ok += w.acked is not None and w.acked - w.raised <= w.ack_sla
        if w.resolved is not None or w.raised + RESOLVE_SLA[w.level] <= NOW:
            res_n += 1
            res_ok += w.resolved is not None and w.resolved - w.raised <= RESOLVE_SLA[w.level]
    if ack_n:
        scores["warning_ack"] = 100 * ack_ok / ack_n
    if res_n:
        scores["warning_resolve"] = 100 * res_ok / res_n
    if rm == RM_A:
        # Due in Q3: f1 on 2026-08-01 (visited 08-05) and f2 on 2026-08-15 (never visited).
        scores["followup_on_time"] = 100 * 1 / 2
    start = sum(a for f, _, d, _, a, done in FACILITIES
                if f.split("/facilities/")[0] in mine and d < Q3_START
                and (done is None or done >= Q3_START))
    end = sum(a for f, _, d, _, a, done in FACILITIES
              if f.split("/facilities/")[0] in mine and d < Q3_END
              and (done is None or done >= Q3_END))
    if start:
        scores["portfolio_growth"] = min(100, max(0, 50 + 50 * ((end - start) / start) / 0.20))
    ups = downs = 0
    for client, before, after, when in RATINGS:
        if client in mine and before and Q3_START <= when < Q3_END:
            ups += SCALE.index(after) < SCALE.index(before)
            downs += SCALE.index(after) > SCALE.index(before)
    if ups + downs:
        scores["grade_migration"] = 50 * (1 + (ups - downs) / (ups + downs))
    return scores


async def deliver_history(h) -> None:
    """Deliver client and risk events and drive surveys, loans and visits through the RPCs."""
    await h.deliver(
        *[client_events_pb2.ClientCreated(client=c, relationship_manager=rm, team=TEAM_1)
          for c, rm in CLIENT_RM.items()],
        source="client",
    )
    events = []
    for w in WARNINGS:
        events.append(risk_events_pb2.WarningRaised(
            warning=w.warning, client=w.client, level=w.level, raise_time=stamp(w.raised),
            sla_due_time=stamp(w.raised + w.ack_sla),
        ))
        for state, moment in (("acknowledged", w.acked), ("resolved", w.resolved)):
            if moment is not None:
                events.append(risk_events_pb2.WarningStatusChanged(
                    warning=w.warning, client=w.client, state=state, level=w.level,
                    change_time=stamp(moment),
                ))
    events.extend(
        risk_events_pb2.RatingChanged(client=c, previous_grade=before, grade=after,
                                      effective_time=stamp(when))
        for c, before, after, when in RATINGS
    )
    await h.deliver(*events)
    loan_events = []
    for facility, kind, disbursed, maturity, amount, completed in FACILITIES:
        loan_events.append(followup_pb2.LoanEvent(
            event_id=f"disb-{facility}", kind=followup_pb2.LOAN_EVENT_KIND_DISBURSED,
            facility=facility, occur_time=stamp(disbursed),
            plan=followup_pb2.FollowupPlan(
                facility_type=kind,
                risk_tier=followup_pb2.RISK_TIER_MEDIUM, disbursement_date=date_of(disbursed),
                maturity_date=date_of(maturity),
                amount={"currency_code": "CNY", "units": amount},
            ),
        ))
        if completed is not None:
            loan_events.append(followup_pb2.LoanEvent(
                event_id=f"done-{facility}", kind=followup_pb2.LOAN_EVENT_KIND_COMPLETED,
                facility=facility, occur_time=stamp(completed),
            ))
    await h.stub.RecordLoanEvents(
        feedback_service_pb2.RecordLoanEventsRequest(events=loan_events), metadata=h.system()
    )
    for facility, visited in VISITS:
        await h.stub.RecordVisit(
            feedback_service_pb2.RecordVisitRequest(
                parent=facility, request_id=new_request_id(),
                visit=followup_pb2.Visit(visit_date=date_of(visited),
                                         kind=followup_pb2.VISIT_KIND_PROGRESS_CHECK),
            ),
            metadata=h.ops(),
        )
    survey = await h.stub.CreateSurvey(
        feedback_service_pb2.CreateSurveyRequest(survey=nps_csat_survey(), survey_id="quarterly"),
        metadata=h.ops(),
    )
    sent = await h.stub.SendSurvey(
        feedback_service_pb2.SendSurveyRequest(survey=survey.name,
                                               clients=[c for c, _, _ in ANSWERS]),
        metadata=h.ops(),
    )
    tokens = await h.dispatch_tokens()
    for dispatch, (_, nps, csat) in zip(sent.dispatches, ANSWERS, strict=True):
        request = feedback_service_pb2.AnswerSurveyRequest(
            dispatch=dispatch, answer_token=tokens[dispatch]
        )
        request.answers.add(question_id="nps", score=nps)
        request.answers.add(question_id="csat", score=csat)
        await h.stub.AnswerSurvey(request, metadata=h.system())


async def scorecard(h, subject: str, metadata=None) -> kpi_pb2.Scorecard:
    return await h.stub.GetScorecard(
        feedback_service_pb2.GetScorecardRequest(subject=subject, period="2026-Q3"),
        metadata=metadata or h.ops(),
    )


def components(card: kpi_pb2.Scorecard) -> dict[str, float]:
    return {c.component: c.score for c in card.components if c.HasField("score")}


class TestReconciliation:
    async def test_scorecards_reconcile_with_the_delivered_events(self, store_url, identity):
        """Each component and the total equal an independent recomputation from the raw events."""
        async with feedback_service(store_url, identity, now=SENT_AT) as h:
            await deliver_history(h)
            h.ctx.clock.now = NOW
            cards = {rm: await scorecard(h, rm) for rm in (RM_A, RM_B)}
            ranking = await h.stub.RankScorecards(
                feedback_service_pb2.RankScorecardsRequest(period="2026-Q3"), metadata=h.ops()
            )
        for rm, card in cards.items():
            expected = expected_components(rm)
            assert components(card) == pytest.approx(expected), rm
            total = sum(expected[c] * WEIGHTS[c] for c in expected) / sum(
                WEIGHTS[c] for c in expected
            )
            assert card.total_score == pytest.approx(total), rm
            print(f"\n{rm}: total {card.total_score:.3f} components "
                  + ", ".join(f"{k}={v:.2f}" for k, v in sorted(components(card).items())))
        figures = cards[RM_A].figures
        assert (figures.warning_count, figures.ack_measured_count,
                figures.acked_within_sla_count) == (3, 3, 1)
        assert (figures.followups_due_count, figures.followups_on_time_count) == (2, 1)
        assert (figures.exposure_start.units, figures.exposure_end.units) == (
            34_000_000, 35_000_000
        )
        assert (figures.grade_upgrade_count, figures.grade_downgrade_count) == (1, 1)
        assert [(e.rank, e.subject) for e in ranking.entries] == [(1, RM_B), (2, RM_A)]
        assert not ranking.frozen


class TestSnapshots:
    async def test_snapshot_freezes_a_finished_period(self, store_url, identity):
        """After SnapshotKpiPeriod late events change nothing; a second snapshot is refused."""
        async with feedback_service(store_url, identity, now=SENT_AT) as h:
            await deliver_history(h)
            h.ctx.clock.now = NOW
            before = await scorecard(h, RM_A)
            with pytest.raises(grpc.aio.AioRpcError) as early:
                await h.stub.SnapshotKpiPeriod(
                    feedback_service_pb2.SnapshotKpiPeriodRequest(period="2026-Q4"),
                    metadata=h.ops(),
                )
            snapshot = await h.stub.SnapshotKpiPeriod(
                feedback_service_pb2.SnapshotKpiPeriodRequest(period="2026-Q3"), metadata=h.ops()
            )
            # Late news about Q3: w3 acknowledged in time after all, a new red warning.
            await h.deliver(
                risk_events_pb2.WarningStatusChanged(
                    warning="warnings/w3", client="clients/c1", state="acknowledged",
                    change_time=stamp(utc(2026, 9, 21)),
                ),
                risk_events_pb2.WarningRaised(
                    warning="warnings/w9", client="clients/c1", level="red",
                    raise_time=stamp(utc(2026, 9, 29)), sla_due_time=stamp(utc(2026, 9, 29, 4)),
                ),
            )
            h.ctx.clock.advance(days=30)
            after = await scorecard(h, RM_A)
            ranking = await h.stub.RankScorecards(
                feedback_service_pb2.RankScorecardsRequest(period="2026-Q3"), metadata=h.ops()
            )
            with pytest.raises(grpc.aio.AioRpcError) as again:
                await h.stub.SnapshotKpiPeriod(
                    feedback_service_pb2.SnapshotKpiPeriodRequest(period="2026-Q3"),
                    metadata=h.ops(),
                )
        assert early.value.code() == grpc.StatusCode.FAILED_PRECONDITION
        assert details(early.value)[0] == "PERIOD_NOT_ENDED"
        assert snapshot.scorecard_count == 3  # Two RMs and their team.
        assert after.frozen and not before.frozen
        after.frozen = False
        assert after == before
        assert ranking.frozen and [e.subject for e in ranking.entries] == [RM_B, RM_A]
        assert again.value.code() == grpc.StatusCode.ALREADY_EXISTS


class TestAccessAndWeights:
    async def test_rm_sees_only_own_scorecard_and_cannot_rank(self, sqlite_url, identity):
        """An RM reads their own scorecard; another RM's and rankings are PERMISSION_DENIED."""
        async with feedback_service(sqlite_url, identity, now=NOW) as h:
            own = await scorecard(h, RM_A, h.rm(RM_A))
            assert own.subject == RM_A
            for call in (
                h.stub.GetScorecard(
                    feedback_service_pb2.GetScorecardRequest(subject=RM_B, period="2026-Q3"),
                    metadata=h.rm(RM_A),
                ),
                h.stub.RankScorecards(
                    feedback_service_pb2.RankScorecardsRequest(period="2026-Q3"),
                    metadata=h.rm(RM_A),
                ),
            ):
                with pytest.raises(grpc.aio.AioRpcError) as caught:
                    await call
                assert caught.value.code() == grpc.StatusCode.PERMISSION_DENIED

    async def test_configured_weights_apply(self, sqlite_url, identity):
        """With KPI_WEIGHTS giving NPS all the weight, the total is the NPS score."""
        weights = "nps=1,csat=0,warning_ack=0,warning_resolve=0,followup_on_time=0," \
                  "portfolio_growth=0,grade_migration=0,npl=0"
        async with feedback_service(sqlite_url, identity, now=SENT_AT,
                                    kpi_weights_version="bank-2026", kpi_weights=weights) as h:
            await deliver_history(h)
            h.ctx.clock.now = NOW
            card = await scorecard(h, RM_A)
        assert card.weights_version == "bank-2026"
        assert math.isclose(card.total_score, components(card)["nps"])
