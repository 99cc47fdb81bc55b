"""Facilities through the service: registration, events, five-category history, concentration."""

from __future__ import annotations

from decimal import Decimal

import grpc
import pytest
from risk_harness import a_facility, cny, request_id, risk_service
from sqlalchemy import select

from crm.risk.v1 import facility_pb2, portfolio_pb2, risk_service_pb2, warning_pb2
from crm_risk.models import GuaranteeRow

CATEGORY = facility_pb2.LoanCategory


async def register(h, client: str, **fields) -> facility_pb2.Facility:
    return await h.stub.CreateFacility(
        risk_service_pb2.CreateFacilityRequest(parent=client, facility=a_facility(**fields),
                                               request_id=request_id()),
        metadata=h.system())


async def event(h, facility: facility_pb2.Facility, kind: int, **fields) -> None:
    await h.stub.RecordFacilityEvent(
        risk_service_pb2.RecordFacilityEventRequest(
            parent=facility.name,
            event=facility_pb2.FacilityEvent(event_type=kind,
                                             effective_date=facility.start_date, **fields)),
        metadata=h.system())


async def get(h, facility: facility_pb2.Facility) -> facility_pb2.Facility:
    return await h.stub.GetFacility(risk_service_pb2.GetFacilityRequest(name=facility.name),
                                    metadata=h.officer())


class TestRegistration:
    async def test_guarantees_collateral_and_masked_individual_guarantor(
        self, store_url, identity
    ):
        """A facility keeps its purpose, entrusted payees, collateral and guarantees; a natural
        person's name is stored encrypted and returned masked, a client guarantor by name."""
        async with risk_service(store_url, identity) as h:
            client = await h.known_client("c-reg")
            loan = await register(
                h, client,
                entrusted_counterparties=[facility_pb2.Counterparty(
                    display_name="无锡宏达设备有限公司", account="6222111122223333")],
                collaterals=[facility_pb2.Collateral(
                    collateral_type=facility_pb2.COLLATERAL_TYPE_REAL_ESTATE,
                    description="苏(2020)不动产权第0001号", value=cny(15_000_000))],
                guarantees=[
                    facility_pb2.Guarantee(
                        guarantor_kind=facility_pb2.GUARANTOR_KIND_INDIVIDUAL,
                        guarantor_display_name="张伟明", amount=cny(5_000_000)),
                    facility_pb2.Guarantee(
                        guarantor_kind=facility_pb2.GUARANTOR_KIND_CORPORATE,
                        guarantor_display_name="苏州母公司集团有限公司",
                        guarantor_client="clients/parent-1", amount=cny(10_000_000)),
                ])
            assert loan.category == CATEGORY.LOAN_CATEGORY_NORMAL
            person, company = loan.guarantees
            assert person.guarantor_display_name == "张**"
            assert company.guarantor_client == "clients/parent-1"
            assert loan.entrusted_counterparties[0].account == "6222111122223333"
            async with h.ctx.db.read() as session:
                stored = list((await session.execute(select(GuaranteeRow))).scalars())
            assert stored[0].name_plain == "" and "张伟明".encode() not in stored[0].name_enc
            assert h.ctx.cipher.decrypt(stored[0].name_enc,
                                        context="risk_guarantee.name") == "张伟明"

    async def test_drawdown_and_repayment_move_the_balances(self, store_url, identity):
        """Drawdowns add to drawn; repayments reduce outstanding; over-repaying is refused."""
        async with risk_service(store_url, identity) as h:
            loan = await register(h, await h.known_client("c-bal"))
            await event(h, loan, facility_pb2.FACILITY_EVENT_TYPE_DRAWDOWN, amount=cny(6e6))
            await event(h, loan, facility_pb2.FACILITY_EVENT_TYPE_REPAYMENT, amount=cny(1e6))
            after = await get(h, loan)
            assert (after.drawn_amount.units, after.outstanding_amount.units) == (6e6, 5e6)
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await event(h, loan, facility_pb2.FACILITY_EVENT_TYPE_REPAYMENT, amount=cny(9e6))
            assert caught.value.code() == grpc.StatusCode.FAILED_PRECONDITION
            assert (await get(h, loan)).outstanding_amount.units == 5e6


class TestFiveCategories:
    @pytest.mark.parametrize(("dpd", "technical", "expected"), [
        (7, True, CATEGORY.LOAN_CATEGORY_NORMAL),
        (8, True, CATEGORY.LOAN_CATEGORY_SPECIAL_MENTION),
        (90, False, CATEGORY.LOAN_CATEGORY_SPECIAL_MENTION),
        (91, False, CATEGORY.LOAN_CATEGORY_SUBSTANDARD),
        (271, False, CATEGORY.LOAN_CATEGORY_DOUBTFUL),
        (361, False, CATEGORY.LOAN_CATEGORY_LOSS),
    ])
    async def test_days_past_due_floors(self, sqlite_url, identity, dpd, technical, expected):
        """DPD boundaries 91 / 271 / 361 and the 7-day technical delay (DOMAIN §4)."""
        async with risk_service(sqlite_url, identity) as h:
            loan = await register(h, await h.known_client("c-dpd"))
            await event(h, loan, facility_pb2.FACILITY_EVENT_TYPE_PAST_DUE, days_past_due=dpd,
                        technical_delay=technical)
            assert (await get(h, loan)).category == expected

    async def test_history_records_each_move_and_npl_is_a_cross_default(
        self, store_url, identity
    ):
        """91 DPD moves one facility to substandard with its trigger in the history; the
        client's other facility becomes special mention (cross-default)."""
        async with risk_service(store_url, identity) as h:
            client = await h.known_client("c-hist")
            late, other = await register(h, client), await register(h, client)
            await event(h, late, facility_pb2.FACILITY_EVENT_TYPE_PAST_DUE, days_past_due=91)
            changes = (await h.stub.ListClassificationChanges(
                risk_service_pb2.ListClassificationChangesRequest(parent=late.name),
                metadata=h.officer())).changes
            assert [c.category for c in changes] == [CATEGORY.LOAN_CATEGORY_SUBSTANDARD,
                                                     CATEGORY.LOAN_CATEGORY_NORMAL]
            assert changes[0].previous_category == CATEGORY.LOAN_CATEGORY_NORMAL
            assert changes[0].triggers[0].code == "DPD_OVER_90"
            assert changes[0].cause == "past_due"
            assert (await get(h, other)).category == CATEGORY.LOAN_CATEGORY_SPECIAL_MENTION

    async def test_judgement_review_sets_the_floor(self, sqlite_url, identity):
        """Credit-impaired with ECL at 60 % is doubtful."""
        async with risk_service(sqlite_url, identity) as h:
            loan = await register(h, await h.known_client("c-ecl"))
            reviewed = await h.stub.ReviewClassification(
                risk_service_pb2.ReviewClassificationRequest(
                    name=loan.name, credit_impaired=True, ecl_ratio=0.6,
                    reason="impairment test Q1"),
                metadata=h.officer())
            assert reviewed.category == CATEGORY.LOAN_CATEGORY_DOUBTFUL


class TestConcentration:
    async def test_near_limit_warns_and_what_if_lists_the_breach(self, sqlite_url, identity):
        """With net capital of 100 million a 9 million facility uses 90 % of the 10 % single-
        client limit (a yellow warning); a further 5 million would breach it."""
        async with risk_service(sqlite_url, identity, net_capital=Decimal(100_000_000)) as h:
            client = await h.known_client("c-conc", group="groups/g1")
            await register(h, client, amount=cny(9_000_000))
            warnings = (await h.stub.ListWarnings(
                risk_service_pb2.ListWarningsRequest(
                    client=client, source=warning_pb2.WARNING_SOURCE_CONCENTRATION),
                metadata=h.officer())).warnings
            assert {w.rule for w in warnings} == {"concentration_client"}
            assert warnings[0].level == warning_pb2.WARNING_LEVEL_YELLOW
            what_if = await h.stub.EvaluateProposedFacility(
                risk_service_pb2.EvaluateProposedFacilityRequest(client=client,
                                                                 amount=cny(5_000_000)),
                metadata=h.officer())
            assert what_if.would_breach
            (breach,) = what_if.breaches
            assert breach.dimension == portfolio_pb2.CONCENTRATION_DIMENSION_CLIENT
            assert breach.used_share == pytest.approx(0.14)
            assert breach.headroom.units == -4_000_000
            group = next(u for u in what_if.limits
                         if u.dimension == portfolio_pb2.CONCENTRATION_DIMENSION_GROUP)
            assert group.key == "groups/g1" and not group.breached

    async def test_report_shares_hhi_and_top10(self, sqlite_url, identity):
        """Two clients at 10 and 30 million: shares 0.25 / 0.75, HHI 0.625, top-10 share 1."""
        async with risk_service(sqlite_url, identity) as h:
            await register(h, await h.known_client("c-a"), amount=cny(10_000_000))
            await register(h, await h.known_client("c-b", industry="K7010", region="440300"),
                           amount=cny(30_000_000))
            report = await h.stub.GetConcentrationReport(
                risk_service_pb2.GetConcentrationReportRequest(), metadata=h.officer())
            assert report.total_exposure.units == 40_000_000
            assert report.client_hhi == pytest.approx(0.625)
            assert report.top10_share == pytest.approx(1.0)
            industries = {e.key for e in report.exposures
                          if e.dimension == portfolio_pb2.CONCENTRATION_DIMENSION_INDUSTRY}
            assert industries == {"C", "K"}
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await h.stub.GetConcentrationReport(
                    risk_service_pb2.GetConcentrationReportRequest(), metadata=h.rm())
            assert caught.value.code() == grpc.StatusCode.PERMISSION_DENIED
