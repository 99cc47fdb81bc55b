"""Statements, ratios, ratings, overrides, caps and the review task through the service."""

from __future__ import annotations

from datetime import timedelta
from typing import TypeVar

import grpc
import pytest
from google.protobuf.message import Message
from risk_harness import a_facility, a_statement, request_id, risk_service
from sqlalchemy import select

from crm.events.v1 import event_pb2, risk_events_pb2
from crm.risk.v1 import facility_pb2, rating_pb2, risk_service_pb2, warning_pb2
from crm_risk.models import ClientFactRow
from crm_risk.rating.scale import MASTER_SCALES
from crm_risk.review import review_once
from crm_runtime.tables import OutboxMessage

E = TypeVar("E", bound=Message)


async def outbox_events(h, kind: type[E]) -> list[E]:
    """Return the events of one type queued in the risk service's outbox, oldest first."""
    async with h.ctx.db.read() as session:
        rows = await session.execute(
            select(OutboxMessage.envelope)
            .where(OutboxMessage.event_type == kind.DESCRIPTOR.full_name)
            .order_by(OutboxMessage.id))
        events = []
        for (body,) in rows:
            event = kind()
            event_pb2.EventEnvelope.FromString(body).payload.Unpack(event)
            events.append(event)
        return events


async def rating_events(h) -> list[risk_events_pb2.RatingChanged]:
    return await outbox_events(h, risk_events_pb2.RatingChanged)


async def submit(h, client: str, *statements) -> list[str]:
    names = []
    for statement in statements:
        made = await h.stub.CreateFinancialStatement(
            risk_service_pb2.CreateFinancialStatementRequest(parent=client, statement=statement),
            metadata=h.system())
        names.append(made.name)
    return names


async def rate(h, client: str) -> rating_pb2.Rating:
    return await h.stub.RateClient(risk_service_pb2.RateClientRequest(client=client),
                                   metadata=h.officer())


class TestRatios:
    async def test_ratios_and_year_on_year_changes(self, sqlite_url, identity):
        """Debt-to-assets is liabilities / assets; revenue growth compares with the year
        before; a first statement has no changes."""
        async with risk_service(sqlite_url, identity) as h:
            client = await h.known_client("c-ratio")
            first, second = await submit(
                h, client, a_statement(2024), a_statement(2025, revenue=312e6))
            reply = await h.stub.GetStatementRatios(
                risk_service_pb2.GetStatementRatiosRequest(name=f"{second}/ratios"),
                metadata=h.rm())
            ratios = {r.ratio: r for r in reply.ratios}
            assert ratios["debt_to_assets"].value == pytest.approx(165 / 300)
            assert ratios["revenue_growth"].value == pytest.approx(0.2)
            assert ratios["revenue_growth"].defined
            assert reply.previous_statement == first
            assert reply.thresholds_version == "RT-2026.1"
            earlier = await h.stub.GetStatementRatios(
                risk_service_pb2.GetStatementRatiosRequest(name=f"{first}/ratios"),
                metadata=h.rm())
            assert not any(r.change_defined for r in earlier.ratios)

    async def test_weak_statement_raises_a_financial_warning(self, sqlite_url, identity):
        """A statement with a current ratio below 1 raises a statements warning naming it."""
        async with risk_service(sqlite_url, identity) as h:
            client = await h.known_client("c-weak")
            await submit(h, client, a_statement(current_liabilities=160e6,
                                                short_term_debt=100e6, long_term_debt=5e6))
            reply = await h.stub.ListWarnings(
                risk_service_pb2.ListWarningsRequest(
                    client=client, source=warning_pb2.WARNING_SOURCE_STATEMENTS),
                metadata=h.officer())
            (warning,) = reply.warnings
            assert warning.rule == "financial_ratios"
            assert "CURRENT_RATIO_LOW (red)" in warning.summary


    async def test_newer_statement_supersedes_the_older_periods_warning(
        self, store_url, identity
    ):
        """A newer period's statement resolves the older period's ratio warning (with the
        reason, in its trail and as WarningStatusChanged), and the older warning does not
        escalate the new one: a statement with one weak ratio stays yellow."""
        async with risk_service(store_url, identity, subscribers="client=127.0.0.1:1") as h:
            client = await h.known_client("c-periods")
            await submit(h, client, a_statement(2023, current_liabilities=160e6,
                                                short_term_debt=100e6, long_term_debt=5e6))
            await submit(h, client, a_statement(2024, operating_cash_flow=2e6))
            reply = await h.stub.ListWarnings(
                risk_service_pb2.ListWarningsRequest(
                    client=client, source=warning_pb2.WARNING_SOURCE_STATEMENTS),
                metadata=h.officer())
            by_period = {w.summary.split("ending ")[1][:10]: w for w in reply.warnings}
            old, new = by_period["2023-12-31"], by_period["2024-12-31"]
            assert old.state == warning_pb2.WARNING_STATE_RESOLVED
            assert "superseded by the statement for the period ending 2024-12-31" in (
                old.close_reason)
            assert new.state == warning_pb2.WARNING_STATE_OPEN
            assert new.level == warning_pb2.WARNING_LEVEL_YELLOW  # its own level, unescalated
            changed = await outbox_events(h, risk_events_pb2.WarningStatusChanged)
            assert [(e.warning, e.state) for e in changed] == [(old.name, "resolved")]


class TestRating:
    async def test_rating_has_grade_pd_reasons_and_versions(self, sqlite_url, identity):
        """A rating is on the master scale with a PD inside its band, reason codes, the
        versions that produced it, and RatingChanged goes out."""
        async with risk_service(sqlite_url, identity, subscribers="client=127.0.0.1:1") as h:
            client = await h.known_client("c-rate")
            (statement,) = await submit(h, client, a_statement())
            rating = await rate(h, client)
            band = MASTER_SCALES["MS-2026.1"].band(rating.grade)
            assert band.pd_low <= rating.probability_of_default < band.pd_high
            assert rating.reason_codes and rating.reason_codes[0].impact_points > 0
            assert (rating.scorecard_version, rating.master_scale_version,
                    rating.ratio_thresholds_version) == ("SC-2026.1", "MS-2026.1", "RT-2026.1")
            assert rating.trigger == rating_pb2.RATING_TRIGGER_INITIAL
            assert rating.statement == statement
            again = await rate(h, client)
            assert again.trigger == rating_pb2.RATING_TRIGGER_MANUAL
            assert again.previous_grade == rating.grade
            (event,) = await rating_events(h)  # the same grade and PD again is no change
            assert (event.grade, event.trigger) == (rating.grade, "initial")
            assert event.rating == rating.name

    async def test_unknown_client_cannot_be_rated(self, sqlite_url, identity):
        """A client the risk service has not learned of is FAILED_PRECONDITION."""
        async with risk_service(sqlite_url, identity) as h:
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await rate(h, "clients/nobody")
            assert caught.value.code() == grpc.StatusCode.FAILED_PRECONDITION

    async def test_red_warning_caps_and_npl_means_default(self, sqlite_url, identity):
        """A red cross-default signal caps the grade at B; a facility 100 days past due
        (substandard, NPL) makes the grade D."""
        async with risk_service(sqlite_url, identity) as h:
            client = await h.known_client("c-cap")
            await submit(h, client, a_statement())
            await h.stub.RecordExternalSignal(
                risk_service_pb2.RecordExternalSignalRequest(
                    client=client, signal=warning_pb2.ExternalSignal(
                        signal_type=warning_pb2.EXTERNAL_SIGNAL_TYPE_CROSS_DEFAULT,
                        summary="special mention at another bank")),
                metadata=h.officer())
            capped = await rate(h, client)
            assert capped.grade == "B" and "WARNING_RED_CAP_B" in capped.caps_applied
            loan = await h.stub.CreateFacility(
                risk_service_pb2.CreateFacilityRequest(parent=client, facility=a_facility()),
                metadata=h.system())
            await h.stub.RecordFacilityEvent(
                risk_service_pb2.RecordFacilityEventRequest(
                    parent=loan.name, event=facility_pb2.FacilityEvent(
                        event_type=facility_pb2.FACILITY_EVENT_TYPE_PAST_DUE,
                        days_past_due=100, effective_date=loan.start_date)),
                metadata=h.system())
            defaulted = await rate(h, client)
            assert defaulted.grade == "D" and defaulted.probability_of_default == 1.0
            assert "NPL_FACILITY_D" in defaulted.caps_applied


class TestOverrides:
    async def test_second_approver_puts_the_override_in_force(self, sqlite_url, identity):
        """A risk officer proposes, a credit approver approves: a new rating with the
        overridden grade takes effect and RatingChanged says so."""
        async with risk_service(sqlite_url, identity, subscribers="client=127.0.0.1:1") as h:
            client = await h.known_client("c-ov2")
            await submit(h, client, a_statement())
            rating = await rate(h, client)
            target = "BBB" if rating.grade != "BBB" else "BBB-"
            proposal = await h.stub.ProposeRatingOverride(
                risk_service_pb2.ProposeRatingOverrideRequest(
                    parent=client, rating_override=rating_pb2.RatingOverride(
                        rating=rating.name, to_grade=target,
                        reason="parent company guarantee not in the model"),
                    request_id=request_id()),
                metadata=h.officer())
            assert proposal.state == rating_pb2.RATING_OVERRIDE_STATE_PROPOSED
            approved = await h.stub.ApproveRatingOverride(
                risk_service_pb2.ApproveRatingOverrideRequest(name=proposal.name,
                                                              comment="agreed"),
                metadata=h.approver())
            assert approved.state == rating_pb2.RATING_OVERRIDE_STATE_APPROVED
            assert approved.approver == "staff/approver-1"
            current = (await h.stub.ListRatings(
                risk_service_pb2.ListRatingsRequest(parent=client, page_size=1),
                metadata=h.officer())).ratings[0]
            assert current.name == approved.resulting_rating
            assert (current.grade, current.trigger) == (target, rating_pb2.RATING_TRIGGER_OVERRIDE)
            assert current.rating_override == proposal.name
            assert [e.trigger for e in await rating_events(h)] == ["initial", "override"]

    async def test_override_cannot_lift_a_capped_grade(self, sqlite_url, identity):
        """With a red warning open the grade is capped; proposing a better grade is
        FAILED_PRECONDITION (OVERRIDE_EXCEEDS_CAP)."""
        async with risk_service(sqlite_url, identity) as h:
            client = await h.known_client("c-ovcap")
            await submit(h, client, a_statement())
            await h.stub.RecordExternalSignal(
                risk_service_pb2.RecordExternalSignalRequest(
                    client=client, signal=warning_pb2.ExternalSignal(
                        signal_type=warning_pb2.EXTERNAL_SIGNAL_TYPE_CROSS_DEFAULT,
                        summary="NPL at another bank")),
                metadata=h.officer())
            rating = await rate(h, client)
            assert rating.caps_applied
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await h.stub.ProposeRatingOverride(
                    risk_service_pb2.ProposeRatingOverrideRequest(
                        parent=client, rating_override=rating_pb2.RatingOverride(
                            rating=rating.name, to_grade="A", reason="strong group support")),
                    metadata=h.officer())
            assert caught.value.code() == grpc.StatusCode.FAILED_PRECONDITION


class TestReviewTask:
    async def test_new_statement_and_due_review_trigger_re_ratings(self, sqlite_url, identity):
        """A new statement asks for a rating (event); a review date in the past gives a
        periodic one; a client with neither is left alone."""
        async with risk_service(sqlite_url, identity) as h:
            client = await h.known_client("c-rev")
            await h.known_client("c-idle")
            await submit(h, client, a_statement())
            assert await review_once(h.ctx) == 1
            first = (await h.stub.ListRatings(
                risk_service_pb2.ListRatingsRequest(parent=client), metadata=h.officer())).ratings
            assert [r.trigger for r in first] == [rating_pb2.RATING_TRIGGER_INITIAL]
            assert await review_once(h.ctx) == 0
            async with h.ctx.db.write() as session:
                fact = await session.get(ClientFactRow, "c-rev")
                fact.next_review_date = h.ctx.clock().date() - timedelta(days=1)
            assert await review_once(h.ctx) == 1
            latest = (await h.stub.ListRatings(
                risk_service_pb2.ListRatingsRequest(parent=client, page_size=1),
                metadata=h.officer())).ratings[0]
            assert latest.trigger == rating_pb2.RATING_TRIGGER_PERIODIC
            assert latest.next_review_date.year >= h.ctx.clock().year
