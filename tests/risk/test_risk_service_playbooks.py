"""Playbooks that act, through the service: a RED warning freezes the client's undrawn limits
(drawdowns refused until two different risk officers lift it), an ORANGE warning requires a
visit that feedback's VisitRecorded marks done; every step stored with state and actor,
and announced."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import grpc
import pytest
from contract_support import details
from risk_harness import RM_A, a_facility, cny, day, request_id, risk_service
from sqlalchemy import select

from crm.events.v1 import event_pb2, feedback_events_pb2, risk_events_pb2
from crm.risk.v1 import facility_pb2, playbook_pb2, risk_service_pb2, warning_pb2
from crm_runtime.tables import OutboxMessage

P = playbook_pb2


async def client_with_facility(h, client_id: str) -> str:
    """Return the name of a new 10-million facility of a new client of RM A."""
    client = await h.known_client(client_id, rm=RM_A)
    created = await h.stub.CreateFacility(
        risk_service_pb2.CreateFacilityRequest(parent=client, facility=a_facility(),
                                               request_id=request_id()),
        metadata=h.system(),
    )
    return created.name


async def draw(h, facility: str, yuan: int, rid: str = "") -> facility_pb2.FacilityEvent:
    return await h.stub.RecordFacilityEvent(
        risk_service_pb2.RecordFacilityEventRequest(
            parent=facility, request_id=rid or request_id(),
            event=facility_pb2.FacilityEvent(
                event_type=facility_pb2.FACILITY_EVENT_TYPE_DRAWDOWN, amount=cny(yuan),
                effective_date=day(datetime.now(UTC).date()),
            ),
        ),
        metadata=h.system(),
    )


async def signal(h, client: str, kind: int, summary: str) -> warning_pb2.Warning:
    return await h.stub.RecordExternalSignal(
        risk_service_pb2.RecordExternalSignalRequest(
            client=client, request_id=request_id(),
            signal=warning_pb2.ExternalSignal(signal_type=kind, summary=summary),
        ),
        metadata=h.officer(),
    )


async def actions(h, client: str, metadata=None) -> list[P.PlaybookAction]:
    reply = await h.stub.ListPlaybookActions(
        risk_service_pb2.ListPlaybookActionsRequest(parent=client),
        metadata=metadata or h.officer(),
    )
    return list(reply.playbook_actions)


async def action_events(h) -> list[risk_events_pb2.PlaybookActionChanged]:
    async with h.ctx.db.read() as session:
        rows = await session.execute(select(OutboxMessage.envelope).where(
            OutboxMessage.event_type == "crm.events.v1.PlaybookActionChanged"))
        found = []
        for (raw,) in rows:
            event = risk_events_pb2.PlaybookActionChanged()
            assert event_pb2.EventEnvelope.FromString(raw).payload.Unpack(event)
            found.append(event)
    return found


async def test_red_freezes_drawdowns_until_a_second_officer_approves_the_lift(
    store_url, identity
):
    """Must show: a RED warning → the next drawdown refused with LIMIT_FROZEN_BY_WARNING
    naming the warning; the requester cannot approve; a second risk officer's approval →
    the drawdown goes through; every step stored with its state and actor, and announced."""
    async with risk_service(store_url, identity, subscribers="notify=127.0.0.1:1") as h:
        facility = await client_with_facility(h, "c-red")
        client = "clients/c-red"
        await draw(h, facility, 1_000_000)
        red = await signal(h, client, warning_pb2.EXTERNAL_SIGNAL_TYPE_CROSS_DEFAULT,
                           "defaulted on a loan at another bank")
        assert red.level == warning_pb2.WARNING_LEVEL_RED
        (freeze,) = await actions(h, client, metadata=h.rm(RM_A))  # the RM sees it too
        assert freeze.kind == P.PLAYBOOK_ACTION_KIND_FREEZE_LIMITS
        assert freeze.state == P.PLAYBOOK_ACTION_STATE_ACTIVE
        assert freeze.warning == red.name

        retried = request_id()
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await draw(h, facility, 2_000_000, retried)
        assert refused.value.code() == grpc.StatusCode.FAILED_PRECONDITION
        assert details(refused.value)[0] == "LIMIT_FROZEN_BY_WARNING"
        assert red.name in refused.value.details()

        first, second = h.officer("staff/risk-1"), h.officer("staff/risk-2")
        lift = risk_service_pb2.RequestLimitLiftRequest(
            name=freeze.name, reason="cross-default cured: the other bank confirms repayment")
        requested = await h.stub.RequestLimitLift(lift, metadata=first)
        assert requested.state == P.PLAYBOOK_ACTION_STATE_LIFT_REQUESTED
        with pytest.raises(grpc.aio.AioRpcError) as still:
            await draw(h, facility, 2_000_000)  # a requested lift does not lift the freeze
        assert details(still.value)[0] == "LIMIT_FROZEN_BY_WARNING"

        approve = risk_service_pb2.ApproveLimitLiftRequest(name=freeze.name, comment="checked")
        with pytest.raises(grpc.aio.AioRpcError) as same:
            await h.stub.ApproveLimitLift(approve, metadata=first)
        assert same.value.code() == grpc.StatusCode.PERMISSION_DENIED
        assert details(same.value)[0] == "SAME_PERSON_APPROVAL"
        with pytest.raises(grpc.aio.AioRpcError) as rm:
            await h.stub.ApproveLimitLift(approve, metadata=h.rm(RM_A))
        assert rm.value.code() == grpc.StatusCode.PERMISSION_DENIED

        lifted = await h.stub.ApproveLimitLift(approve, metadata=second)
        assert lifted.state == P.PLAYBOOK_ACTION_STATE_LIFTED
        assert (lifted.lift_requested_by, lifted.lift_approved_by) == (
            "staff/risk-1", "staff/risk-2")
        # A refusal is not remembered as the request's answer: its retry now goes through.
        assert (await draw(h, facility, 2_000_000, retried)).amount.units == 2_000_000
        got = await h.stub.GetFacility(risk_service_pb2.GetFacilityRequest(name=facility),
                                       metadata=h.officer())
        assert got.drawn_amount.units == 3_000_000

        listed = await actions(h, client)
        by_kind = {}
        for action in listed:
            by_kind.setdefault(action.kind, []).append(action)
        (freeze,) = by_kind[P.PLAYBOOK_ACTION_KIND_FREEZE_LIMITS]
        assert [(s.step, s.to_state, s.actor) for s in freeze.steps] == [
            ("freeze", P.PLAYBOOK_ACTION_STATE_ACTIVE, "staff/risk-1"),
            ("lift_requested", P.PLAYBOOK_ACTION_STATE_LIFT_REQUESTED, "staff/risk-1"),
            ("lift_approved", P.PLAYBOOK_ACTION_STATE_LIFTED, "staff/risk-2"),
        ]
        refusals = by_kind[P.PLAYBOOK_ACTION_KIND_DRAWDOWN_REFUSED]
        assert len(refusals) == 2
        for refusal in refusals:
            assert refusal.state == P.PLAYBOOK_ACTION_STATE_RECORDED
            assert refusal.warning == red.name and refusal.facility == facility
            assert refusal.amount.units == 2_000_000
            assert refusal.actor == "systems/core-banking"
        steps = [(e.kind, e.step, e.state, e.actor) for e in await action_events(h)]
        assert sorted(steps) == sorted([
            ("freeze_limits", "freeze", "active", "staff/risk-1"),
            ("drawdown_refused", "drawdown_refused", "recorded", "systems/core-banking"),
            ("drawdown_refused", "drawdown_refused", "recorded", "systems/core-banking"),
            ("freeze_limits", "lift_requested", "lift_requested", "staff/risk-1"),
            ("freeze_limits", "lift_approved", "lifted", "staff/risk-2"),
        ])


async def test_lift_is_for_a_freeze_in_force_only(store_url, identity):
    """A lift cannot be approved before it is requested, nor requested twice."""
    async with risk_service(store_url, identity) as h:
        await client_with_facility(h, "c-twice")
        await signal(h, "clients/c-twice", warning_pb2.EXTERNAL_SIGNAL_TYPE_CROSS_DEFAULT,
                     "cross-default")
        (freeze,) = await actions(h, "clients/c-twice")
        with pytest.raises(grpc.aio.AioRpcError) as early:
            await h.stub.ApproveLimitLift(
                risk_service_pb2.ApproveLimitLiftRequest(name=freeze.name),
                metadata=h.officer("staff/risk-2"))
        assert details(early.value)[0] == "NO_LIFT_REQUESTED"
        lift = risk_service_pb2.RequestLimitLiftRequest(name=freeze.name, reason="cured")
        await h.stub.RequestLimitLift(lift, metadata=h.officer())
        with pytest.raises(grpc.aio.AioRpcError) as again:
            await h.stub.RequestLimitLift(lift, metadata=h.officer("staff/risk-3"))
        assert details(again.value)[0] == "FREEZE_NOT_ACTIVE"


async def test_orange_requires_a_visit_that_a_recorded_visit_completes(store_url, identity):
    """An ORANGE warning opens a required visit due by its SLA (no freeze: drawdowns go on);
    feedback's VisitRecorded for the client marks it done, naming the visit."""
    async with risk_service(store_url, identity) as h:
        facility = await client_with_facility(h, "c-orange")
        client = "clients/c-orange"
        orange = await signal(h, client, warning_pb2.EXTERNAL_SIGNAL_TYPE_LITIGATION,
                              "sued by the main supplier")
        assert orange.level == warning_pb2.WARNING_LEVEL_ORANGE
        (visit,) = await actions(h, client)
        assert visit.kind == P.PLAYBOOK_ACTION_KIND_VISIT_REQUIRED
        assert visit.state == P.PLAYBOOK_ACTION_STATE_OPEN
        assert visit.due_time == orange.sla_due_time
        await draw(h, facility, 1_000_000)

        today = datetime.now(UTC).date()
        earlier = feedback_events_pb2.VisitRecorded(
            visit=f"{facility}/visits/v-old", client=client, facility=facility,
            visit_date=(today - timedelta(days=30)).isoformat(), kind="site_visit",
            recorded_by=RM_A)
        await h.deliver_events([earlier], source="feedback")
        assert (await actions(h, client))[0].state == P.PLAYBOOK_ACTION_STATE_OPEN
        made = feedback_events_pb2.VisitRecorded(
            visit=f"{facility}/visits/v-1", client=client, facility=facility,
            visit_date=today.isoformat(), kind="site_visit", recorded_by=RM_A)
        await h.deliver_events([made], source="feedback")
        (visit,) = await actions(h, client)
        assert visit.state == P.PLAYBOOK_ACTION_STATE_DONE
        assert visit.done_by == made.visit
        assert [(s.step, s.actor) for s in visit.steps] == [
            ("visit_required", "staff/risk-1"), ("visit_recorded", RM_A)]
