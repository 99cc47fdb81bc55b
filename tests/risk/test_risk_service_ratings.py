"""Statements, ratios, ratings, overrides, caps and the review task through the service."""

from __future__ import annotations

from datetime import timedelta
from typing import TypeVar

import grpc
import pytest
from contract_support import details
from google.protobuf.message import Message
from google.type import date_pb2
from risk_harness import a_facility, a_statement, request_id, risk_service
from sqlalchemy import select

from crm.events.v1 import event_pb2, risk_events_pb2
from crm.risk.v1 import facility_pb2, rating_pb2, risk_service_pb2, warning_pb2
from crm_risk.models import ClientFactRow
from crm_risk.rating.model.scale import MASTER_SCALES
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


def weak_statement(year: int = 2025):  # type: ignore[no-untyped-def]
    """Return an illiquid, loss-making, over-levered year (balanced, so it is accepted)."""
    return a_statement(year, total_liabilities=290e6, equity=10e6, current_liabilities=250e6,
                       short_term_debt=150e6, long_term_debt=20e6, cash=2e6,
                       operating_profit=-35e6, ebit=-20e6, interest_expense=15e6,
                       net_profit=-35e6, operating_cash_flow=-30e6)


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
            assert reply.thresholds_version == "RT-2027.2"
            earlier = await h.stub.GetStatementRatios(
                risk_service_pb2.GetStatementRatiosRequest(name=f"{first}/ratios"),
                metadata=h.rm())
            assert not any(r.change_defined for r in earlier.ratios)

    async def test_weak_statement_raises_a_financial_warning(self, sqlite_url, identity):
        """Illiquid, loss-making and over-levered at once: the combined evidence raises a
        statements warning at the level GetStatementRatios reports, naming the signals."""
        async with risk_service(sqlite_url, identity) as h:
            client = await h.known_client("c-weak")
            (name,) = await submit(h, client, weak_statement())
            reply = await h.stub.ListWarnings(
                risk_service_pb2.ListWarningsRequest(
                    client=client, source=warning_pb2.WARNING_SOURCE_STATEMENTS),
                metadata=h.officer())
            (warning,) = reply.warnings
            assert warning.rule == "financial_ratios"
            assert "CURRENT_RATIO_LOW" in warning.summary
            ratios = await h.stub.GetStatementRatios(
                risk_service_pb2.GetStatementRatiosRequest(name=f"{name}/ratios"),
                metadata=h.rm())
            assert ratios.warning_level in {"orange", "red"}
            assert warning_pb2.WarningLevel.Name(warning.level).lower().endswith(
                ratios.warning_level)
            assert ratios.evidence > 0 and all(s.evidence >= 0 for s in ratios.signals)

    async def test_ordinary_statement_raises_no_warning(self, sqlite_url, identity):
        """A typical firm's statement raises no ratio warning (most of a healthy book)."""
        async with risk_service(sqlite_url, identity) as h:
            client = await h.known_client("c-fine")
            await submit(h, client, a_statement())
            reply = await h.stub.ListWarnings(
                risk_service_pb2.ListWarningsRequest(
                    client=client, source=warning_pb2.WARNING_SOURCE_STATEMENTS),
                metadata=h.officer())
            assert list(reply.warnings) == []


    async def test_newer_statement_supersedes_the_older_periods_warning(
        self, store_url, identity
    ):
        """A newer period's statement resolves the older period's ratio warning (with the
        reason, in its trail and as WarningStatusChanged), and the older warning does not
        escalate the new one: it keeps the level its own ratios set."""
        async with risk_service(store_url, identity, subscribers="client=127.0.0.1:1") as h:
            client = await h.known_client("c-periods")
            await submit(h, client, weak_statement(2023))
            (latest,) = await submit(h, client, weak_statement(2024))
            own = (await h.stub.GetStatementRatios(
                risk_service_pb2.GetStatementRatiosRequest(name=f"{latest}/ratios"),
                metadata=h.rm())).warning_level
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
            assert warning_pb2.WarningLevel.Name(new.level) == f"WARNING_LEVEL_{own.upper()}"
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
            band = MASTER_SCALES["MS-2027.1"].band(rating.grade)
            assert band.pd_low <= rating.probability_of_default < band.pd_high
            assert rating.factors and all(f.points <= f.max_points for f in rating.factors)
            overlays = sum(v for k, v in rating.dimension_scores.items()
                           if k in {"behaviour", "signals", "market"})
            assert sum(f.points for f in rating.factors) + overlays == pytest.approx(
                rating.score, abs=1e-3)
            assert (rating.scorecard_version, rating.master_scale_version,
                    rating.ratio_thresholds_version) == ("SC-2027.3", "MS-2027.1", "RT-2027.2")
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
            assert capped.reason_codes[0].code == "WARNING_RED_CAP_B"  # the cap comes first
            assert capped.reason_codes[0].dimension == "cap"
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


class TestCasStatementFields:
    """The statement items added for SC-2027.1, through the real service on both stores."""

    async def test_new_fields_are_stored_and_used(self, store_url, identity):
        """Notes payable, current portion, shareholder loans, restricted cash, capitalised
        interest, impairments, capex, taxes and interest paid and the founding date come back
        as submitted; ratios and the rating read them."""
        async with risk_service(store_url, identity) as h:
            client = await h.known_client("c-cas")
            statement = a_statement(
                current_liabilities=120e6, notes_payable=20e6,
                current_portion_long_term_debt=10e6, total_liabilities=165e6,
                long_term_debt=20e6, shareholder_loans=15e6, restricted_cash=6e6,
                capitalised_interest=4e6, impairment_losses=1e6, capital_expenditure=9e6,
                taxes_paid=5e6, interest_paid=8e6)
            statement.founding_date.CopyFrom(date_pb2.Date(year=2003, month=4, day=18))
            (name,) = await submit(h, client, statement)
            stored = await h.stub.GetFinancialStatement(
                risk_service_pb2.GetFinancialStatementRequest(name=name), metadata=h.rm())
            assert stored.balance_sheet.notes_payable.units == 20_000_000
            assert stored.income_statement.capitalised_interest.units == 4_000_000
            assert stored.cash_flow_statement.interest_paid.units == 8_000_000
            assert (stored.founding_date.year, stored.founding_date.day) == (2003, 18)
            ratios = await h.stub.GetStatementRatios(
                risk_service_pb2.GetStatementRatiosRequest(name=f"{name}/ratios"),
                metadata=h.rm())
            values = {r.ratio: r.value for r in ratios.ratios}
            assert values["interest_cover"] == pytest.approx(24 / 8)  # 4 expensed + 4 capitalised
            assert values["cash_to_short_debt"] == pytest.approx(30 / 70)
            rating = await rate(h, client)
            seen = {f.code: f for f in rating.factors}
            assert float(seen["CV_INTEREST_COVER"].value) == pytest.approx(3.0)
            assert not seen["AG_FIRM_AGE"].bin.startswith("start-up")

    async def test_inconsistent_new_fields_are_invalid_argument(self, store_url, identity):
        """Bills above current liabilities and a founding date after the period end are
        INVALID_ARGUMENT naming both fields; nothing is stored."""
        async with risk_service(store_url, identity) as h:
            client = await h.known_client("c-cas-bad")
            statement = a_statement(notes_payable=95e6)
            statement.founding_date.CopyFrom(date_pb2.Date(year=2026, month=3, day=1))
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await submit(h, client, statement)
            assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
            reason, fields = details(caught.value)
            assert reason == "STATEMENT_INCONSISTENT"
            assert {"statement.balance_sheet.notes_payable", "statement.founding_date"} <= set(
                fields)
            listed = await h.stub.ListFinancialStatements(
                risk_service_pb2.ListFinancialStatementsRequest(parent=client), metadata=h.rm())
            assert list(listed.statements) == []

    async def test_start_up_with_one_statement_is_rated_as_a_start_up(self, store_url, identity):
        """One statement and no founding date: the rating's age factor is in its start-up
        bin and the rating says so."""
        async with risk_service(store_url, identity) as h:
            client = await h.known_client("c-young")
            await submit(h, client, a_statement())
            rating = await rate(h, client)
            age = next(f for f in rating.factors if f.code == "AG_FIRM_AGE")
            assert age.bin.startswith("start-up")
            assert "AG_FIRM_AGE" in {r.code for r in rating.reason_codes}
