"""Contract of the risk service: health, and bad input gets a clear error and changes nothing."""

from __future__ import annotations

import asyncio

import grpc
import pytest
from contract_support import details
from google.protobuf import struct_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc
from risk_harness import a_facility, a_statement, cny, request_id, risk_service, round_trip, stream
from sqlalchemy import func, select

from crm.risk.v1 import facility_pb2, monitoring_pb2, rating_pb2, risk_service_pb2
from crm_risk.models import FacilityRow, RatingRow, RulesetConfigRow, StatementRow
from crm_risk.models_monitoring import MonitorBatchRow, WarningRow


async def count(h, table: type) -> int:
    async with h.ctx.db.read() as session:
        return int((await session.execute(select(func.count()).select_from(table))).scalar_one())


async def fails(call) -> grpc.aio.AioRpcError:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await call
    return caught.value


class TestHealth:
    async def test_risk_service_reports_serving(self, sqlite_url, identity):
        """The readiness name crm.risk.v1.RiskService turns SERVING once the store answers."""
        async with risk_service(sqlite_url, identity) as h:
            stub = health_pb2_grpc.HealthStub(h.channel)
            for _ in range(50):
                reply = await stub.Check(
                    health_pb2.HealthCheckRequest(service="crm.risk.v1.RiskService")
                )
                if reply.status == health_pb2.HealthCheckResponse.SERVING:
                    break
                await asyncio.sleep(0.05)
            assert reply.status == health_pb2.HealthCheckResponse.SERVING


class TestBadStatements:
    async def test_inconsistent_statement_names_the_fields_and_stores_nothing(
        self, store_url, identity
    ):
        """Assets ≠ liabilities + equity and cash above current assets: INVALID_ARGUMENT with
        both fields named; no statement and no rating appear."""
        async with risk_service(store_url, identity) as h:
            client = await h.known_client("c-bad")
            statement = a_statement(total_assets=400e6, cash=160e6)
            error = await fails(
                h.stub.CreateFinancialStatement(
                    risk_service_pb2.CreateFinancialStatementRequest(
                        parent=client, statement=statement
                    ),
                    metadata=h.system(),
                )
            )
            assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
            reason, fields = details(error)
            assert reason == "STATEMENT_INCONSISTENT"
            assert "statement.balance_sheet.total_assets" in fields
            assert "statement.balance_sheet.cash" in fields
            assert await count(h, StatementRow) == 0
            assert await count(h, RatingRow) == 0

    async def test_negative_amount_is_rejected(self, store_url, identity):
        """A negative revenue is INVALID_ARGUMENT on that field."""
        async with risk_service(store_url, identity) as h:
            client = await h.known_client("c-neg")
            error = await fails(
                h.stub.CreateFinancialStatement(
                    risk_service_pb2.CreateFinancialStatementRequest(
                        parent=client, statement=a_statement(revenue=-5e6)
                    ),
                    metadata=h.system(),
                )
            )
            assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
            assert "statement.income_statement.revenue" in details(error)[1]
            assert await count(h, StatementRow) == 0


class TestBadFacilities:
    async def test_negative_facility_amount_is_rejected(self, store_url, identity):
        """A negative committed amount is INVALID_ARGUMENT on facility.amount; nothing stored."""
        async with risk_service(store_url, identity) as h:
            client = await h.known_client("c-f")
            error = await fails(
                h.stub.CreateFacility(
                    risk_service_pb2.CreateFacilityRequest(
                        parent=client, facility=a_facility(amount=cny(-1_000_000))
                    ),
                    metadata=h.system(),
                )
            )
            assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
            assert details(error)[1] == ["facility.amount"]
            assert await count(h, FacilityRow) == 0

    async def test_negative_drawdown_changes_nothing(self, store_url, identity):
        """A drawdown of a negative amount is INVALID_ARGUMENT; the drawn amount stays 0."""
        async with risk_service(store_url, identity) as h:
            client = await h.known_client("c-d")
            loan = await h.stub.CreateFacility(
                risk_service_pb2.CreateFacilityRequest(parent=client, facility=a_facility()),
                metadata=h.system(),
            )
            error = await fails(
                h.stub.RecordFacilityEvent(
                    risk_service_pb2.RecordFacilityEventRequest(
                        parent=loan.name,
                        event=facility_pb2.FacilityEvent(
                            event_type=facility_pb2.FACILITY_EVENT_TYPE_DRAWDOWN,
                            amount=cny(-500),
                            effective_date=loan.start_date,
                        ),
                    ),
                    metadata=h.system(),
                )
            )
            assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
            assert details(error)[1] == ["event.amount"]
            after = await h.stub.GetFacility(
                risk_service_pb2.GetFacilityRequest(name=loan.name), metadata=h.system()
            )
            assert after.drawn_amount.units == 0 and after.etag == loan.etag

    async def test_unknown_facility_is_not_found(self, store_url, identity):
        """An event for a facility that does not exist is NOT_FOUND."""
        async with risk_service(store_url, identity) as h:
            client = await h.known_client("c-u")
            error = await fails(
                h.stub.RecordFacilityEvent(
                    risk_service_pb2.RecordFacilityEventRequest(
                        parent=f"{client}/facilities/{'0' * 32}",
                        event=facility_pb2.FacilityEvent(
                            event_type=facility_pb2.FACILITY_EVENT_TYPE_PAST_DUE, days_past_due=3
                        ),
                    ),
                    metadata=h.system(),
                )
            )
            assert error.code() == grpc.StatusCode.NOT_FOUND
            assert details(error)[0] == "FACILITY_NOT_FOUND"

    async def test_stream_refuses_a_posting_with_an_unknown_facility_alone(
        self, store_url, identity
    ):
        """A posting naming an unregistered facility is refused on its own (UNKNOWN_FACILITY
        on its `facility`); the batch's other postings are processed and the stream stays
        open. Without the drawdown there is no loan money to trace, so no warning."""
        async with risk_service(store_url, identity) as h:
            await h.known_client("c-s")
            batch = round_trip("c-s", f"clients/c-s/facilities/{'a' * 32}")
            (ack,) = await stream(h.stub, [batch], h.system())
            assert not ack.HasField("error")
            assert [(r.index, r.field, r.reason) for r in ack.rejected] == [
                (0, "facility", "UNKNOWN_FACILITY")]
            assert ack.rejected[0].transaction_id == batch.transactions[0].transaction_id
            assert (ack.accepted, ack.duplicates) == (3, 0)
            assert await count(h, MonitorBatchRow) == 1
            assert await count(h, WarningRow) == 0


class TestBadRuleParameters:
    async def test_unknown_rule_parameter_is_rejected_and_changes_nothing(
        self, store_url, identity
    ):
        """An override of a parameter the rule set lacks is INVALID_ARGUMENT; the rule set in
        force and the stored configuration stay as they were."""
        async with risk_service(store_url, identity) as h:
            before = h.ctx.monitoring().ruleset.label
            error = await fails(
                h.stub.UpdateMonitoringRuleset(
                    risk_service_pb2.UpdateMonitoringRulesetRequest(
                        ruleset=monitoring_pb2.MonitoringRuleset(
                            version="MON-2027.1",
                            overrides=[
                                monitoring_pb2.RuleParameterOverride(
                                    rule="round_trip",
                                    parameter="return_shares",
                                    value=struct_pb2.Value(number_value=0.6),
                                )
                            ],
                        )
                    ),
                    metadata=h.officer(),
                )
            )
            assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
            assert details(error) == ("UNKNOWN_RULE_PARAMETER", ["ruleset.overrides[0].parameter"])
            assert h.ctx.monitoring().ruleset.label == before
            assert await count(h, RulesetConfigRow) == 0

    async def test_out_of_range_value_is_rejected(self, store_url, identity):
        """A share above 1 is INVALID_ARGUMENT (INVALID_RULE_PARAMETER)."""
        async with risk_service(store_url, identity) as h:
            error = await fails(
                h.stub.UpdateMonitoringRuleset(
                    risk_service_pb2.UpdateMonitoringRulesetRequest(
                        ruleset=monitoring_pb2.MonitoringRuleset(
                            version="MON-2027.1",
                            overrides=[
                                monitoring_pb2.RuleParameterOverride(
                                    rule="round_trip",
                                    parameter="return_share",
                                    value=struct_pb2.Value(number_value=1.5),
                                )
                            ],
                        )
                    ),
                    metadata=h.officer(),
                )
            )
            assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
            assert details(error)[0] == "INVALID_RULE_PARAMETER"


class TestOverrideNeedsASecondApprover:
    async def _rated(self, h) -> tuple[str, risk_service_pb2.RateClientRequest]:
        client = await h.known_client("c-ov")
        await h.stub.CreateFinancialStatement(
            risk_service_pb2.CreateFinancialStatementRequest(
                parent=client, statement=a_statement()
            ),
            metadata=h.system(),
        )
        rating = await h.stub.RateClient(
            risk_service_pb2.RateClientRequest(client=client), metadata=h.officer()
        )
        return client, rating

    async def test_proposer_cannot_approve_and_the_rating_stays(self, store_url, identity):
        """The proposer approving their own override is PERMISSION_DENIED; the proposal stays
        pending and the rating in force does not change."""
        async with risk_service(store_url, identity) as h:
            client, rating = await self._rated(h)
            approver = h.approver("staff/approver-1")
            proposal = await h.stub.ProposeRatingOverride(
                risk_service_pb2.ProposeRatingOverrideRequest(
                    parent=client,
                    rating_override={
                        "rating": rating.name,
                        "to_grade": "BBB",
                        "reason": "parent guarantee not reflected",
                    },
                    request_id=request_id(),
                ),
                metadata=approver,
            )
            error = await fails(
                h.stub.ApproveRatingOverride(
                    risk_service_pb2.ApproveRatingOverrideRequest(name=proposal.name),
                    metadata=approver,
                )
            )
            assert error.code() == grpc.StatusCode.PERMISSION_DENIED
            assert details(error)[0] == "SAME_PERSON_APPROVAL"
            latest = await h.stub.ListRatings(
                risk_service_pb2.ListRatingsRequest(parent=client), metadata=h.officer()
            )
            assert [r.name for r in latest.ratings] == [rating.name]
            still = await h.stub.GetRatingOverride(
                risk_service_pb2.GetRatingOverrideRequest(name=proposal.name), metadata=h.officer()
            )
            assert still.state == rating_pb2.RATING_OVERRIDE_STATE_PROPOSED

    async def test_approval_without_the_approver_role_is_denied(self, store_url, identity):
        """A relationship manager cannot approve (PERMISSION_DENIED); nothing changes."""
        async with risk_service(store_url, identity) as h:
            client, rating = await self._rated(h)
            proposal = await h.stub.ProposeRatingOverride(
                risk_service_pb2.ProposeRatingOverrideRequest(
                    parent=client,
                    rating_override={
                        "rating": rating.name,
                        "to_grade": "BBB",
                        "reason": "parent guarantee not reflected",
                    },
                ),
                metadata=h.officer(),
            )
            error = await fails(
                h.stub.ApproveRatingOverride(
                    risk_service_pb2.ApproveRatingOverrideRequest(name=proposal.name),
                    metadata=h.rm(),
                )
            )
            assert error.code() == grpc.StatusCode.PERMISSION_DENIED
            assert await count(h, RatingRow) == 1
