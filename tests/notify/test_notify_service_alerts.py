"""Events in: warnings alert the RM (and risk officers), escalate on time, stop when acked."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

import grpc
import pytest
from google.protobuf import timestamp_pb2
from notify_harness import RISK_OFFICER, RM_A, FakeClock, notify_service

from crm.events.v1 import (
    client_events_pb2,
    event_pb2,
    event_pb2_grpc,
    feedback_events_pb2,
    risk_events_pb2,
)
from crm.notify.v1 import alert_pb2, common_pb2, message_pb2, notify_service_pb2, task_pb2
from crm_runtime.auth import Role
from crm_runtime.outbox import make_envelope

CLIENT = "clients/" + "c" * 32
TEAM_LEAD_EAST = "staff/tl-east"


def _stamp(value: datetime) -> timestamp_pb2.Timestamp:
    stamp = timestamp_pb2.Timestamp()
    stamp.FromDatetime(value)
    return stamp


async def _deliver(h, *payloads, source: str = "risk") -> event_pb2.DeliverEventsResponse:
    envelopes = [make_envelope(p, source=source, subject=CLIENT) for p in payloads]
    return await _deliver_envelopes(h, envelopes)


async def _deliver_envelopes(h, envelopes) -> event_pb2.DeliverEventsResponse:
    stub = event_pb2_grpc.EventSinkServiceStub(h.channel)
    return await stub.DeliverEvents(
        event_pb2.DeliverEventsRequest(events=envelopes),
        metadata=h.identity.metadata("systems/risk-relay", Role.SYSTEM, kid="risk"),
    )


def _warning(level: str, raised: datetime, warning: str = "warnings/w-1"):
    return risk_events_pb2.WarningRaised(
        warning=warning,
        client=CLIENT,
        level=level,
        rule="LOAN_PURPOSE_DIVERSION",
        summary="loan proceeds moved to a real-estate account",
        owner=RM_A,
        raise_time=_stamp(raised),
        sla_due_time=_stamp(raised + timedelta(hours=2)),
    )


async def _messages(h, recipient: str) -> list[message_pb2.Message]:
    reply = await h.stub.ListMessages(
        notify_service_pb2.ListMessagesRequest(recipient=recipient), metadata=h.system()
    )
    return list(reply.messages)


async def _alert(h, name: str) -> alert_pb2.Alert:
    return await h.stub.GetAlert(
        notify_service_pb2.GetAlertRequest(name=name),
        metadata=h.as_(RM_A, Role.RELATIONSHIP_MANAGER),
    )


async def _escalate(h) -> int:
    return await h.workers.escalator.run_once()


async def _setup(h, clock: FakeClock) -> None:
    h.use_clock(clock)
    await _deliver(
        h,
        client_events_pb2.ClientCreated(
            client=CLIENT,
            display_name="华东精密机械有限公司",
            relationship_manager=RM_A,
            team="teams/east",
        ),
        source="client",
    )


class TestWarningRaised:
    async def test_red_warning_reaches_rm_and_risk_officer(self, store_url, identity):
        """A red warning files an RM task due at the SLA and pushes to the RM and risk officer."""
        clock = FakeClock()
        async with notify_service(store_url, identity, workers=False) as h:
            await _setup(h, clock)
            await _deliver(h, _warning("red", clock.now))
            rm = await _messages(h, RM_A)
            officer = await _messages(h, RISK_OFFICER)
            tasks = await h.stub.ListTasks(
                notify_service_pb2.ListTasksRequest(state=task_pb2.TASK_STATE_OPEN),
                metadata=h.as_(RM_A, Role.RELATIONSHIP_MANAGER),
            )
        warning_msgs = [m for m in rm if m.category == common_pb2.CATEGORY_RISK_ALERT]
        assert {m.channel for m in warning_msgs} == {
            common_pb2.CHANNEL_TASK,
            common_pb2.CHANNEL_PUSH,
        }
        assert all(m.urgency == common_pb2.URGENCY_URGENT for m in warning_msgs)
        assert "华东精密机械有限公司" in warning_msgs[0].subject
        assert {m.category for m in officer} == {common_pb2.CATEGORY_RISK_ALERT}
        due = {t.alert: t.due_time.ToDatetime() for t in tasks.tasks if t.alert}
        assert list(due.values()) == [(clock.now + timedelta(hours=2)).replace(tzinfo=None)]
        # The new-client task from ClientCreated is there too.
        assert any("新客户" in t.title for t in tasks.tasks)

    async def test_yellow_warning_goes_to_the_rm_only(self, sqlite_url, identity):
        """Yellow and blue warnings do not involve the risk officer."""
        clock = FakeClock()
        async with notify_service(sqlite_url, identity, workers=False) as h:
            await _setup(h, clock)
            await _deliver(h, _warning("yellow", clock.now))
            assert await _messages(h, RISK_OFFICER) == []
            assert any(
                m.category == common_pb2.CATEGORY_RISK_ALERT for m in await _messages(h, RM_A)
            )

    async def test_redelivered_event_changes_nothing(self, sqlite_url, identity):
        """The same WarningRaised delivered twice is applied once (inbox dedupe)."""
        clock = FakeClock()
        async with notify_service(sqlite_url, identity, workers=False) as h:
            await _setup(h, clock)
            envelope = make_envelope(_warning("red", clock.now), source="risk", subject=CLIENT)
            first = await _deliver_envelopes(h, [envelope])
            second = await _deliver_envelopes(h, [envelope])
            count = len(await _messages(h, RM_A))
        assert list(first.applied_event_ids) == [envelope.event_id]
        assert list(second.duplicate_event_ids) == [envelope.event_id]
        assert count == 4  # Welcome task + push, warning task + push.


class TestEscalation:
    async def test_unacknowledged_red_escalates_on_time_then_stops_on_ack(
        self, store_url, identity
    ):
        """Nothing before 2 h; the team lead at 2 h; acknowledged at 2.5 h; no risk-officer step."""
        clock = FakeClock()
        raised = clock.now
        async with notify_service(
            store_url, identity, workers=False, team_leads=f"teams/east={TEAM_LEAD_EAST}"
        ) as h:
            await _setup(h, clock)
            await _deliver(h, _warning("red", raised))
            alerts = await h.stub.ListAlerts(
                notify_service_pb2.ListAlertsRequest(),
                metadata=h.as_(RM_A, Role.RELATIONSHIP_MANAGER),
            )
            name = alerts.alerts[0].name
            clock.set(raised + timedelta(hours=1, minutes=59))
            assert await _escalate(h) == 0
            clock.set(raised + timedelta(hours=2))
            assert await _escalate(h) == 1
            assert await _escalate(h) == 0  # Fired once, not again.
            lead = await _messages(h, TEAM_LEAD_EAST)
            assert lead and all(m.alert == name for m in lead)
            assert "升级 1" in lead[0].subject
            clock.set(raised + timedelta(hours=2, minutes=30))
            acked = await h.stub.AcknowledgeAlert(
                notify_service_pb2.AcknowledgeAlertRequest(
                    name=name, note="calling the client", request_id=str(uuid.uuid4())
                ),
                metadata=h.as_(RM_A, Role.RELATIONSHIP_MANAGER),
            )
            assert acked.state == alert_pb2.ALERT_STATE_ACKNOWLEDGED
            clock.set(raised + timedelta(hours=6))
            assert await _escalate(h) == 0
            final = await _alert(h, name)
            assert not any("升级" in m.subject for m in await _messages(h, RISK_OFFICER))
            open_tasks = await h.stub.ListTasks(
                notify_service_pb2.ListTasksRequest(state=task_pb2.TASK_STATE_OPEN),
                metadata=h.as_(RM_A, Role.RELATIONSHIP_MANAGER),
            )
        assert [(e.step_number, e.target_role, list(e.recipients)) for e in final.escalations] == [
            (1, "team_lead", [TEAM_LEAD_EAST])
        ]
        assert final.escalations[0].due_time.ToDatetime() == (raised + timedelta(hours=2)).replace(
            tzinfo=None
        )
        assert (final.acknowledged_by, final.state) == (RM_A, alert_pb2.ALERT_STATE_ACKNOWLEDGED)
        assert all(not t.alert for t in open_tasks.tasks)  # The warning task was closed.

    async def test_full_ladder_and_late_escalator(self, sqlite_url, identity):
        """Never acknowledged: team lead then risk officer; a worker that was down catches up."""
        clock = FakeClock()
        raised = clock.now
        async with notify_service(sqlite_url, identity, workers=False) as h:
            await _setup(h, clock)
            await _deliver(h, _warning("red", raised))
            clock.set(raised + timedelta(hours=5))
            assert await _escalate(h) == 2
            alert = (
                await h.stub.ListAlerts(notify_service_pb2.ListAlertsRequest(), metadata=h.ops())
            ).alerts[0]
        assert [(e.step_number, e.target_role) for e in alert.escalations] == [
            (1, "team_lead"),
            (2, "risk_officer"),
        ]
        assert [list(e.recipients) for e in alert.escalations] == [["staff/tl-1"], [RISK_OFFICER]]

    async def test_acknowledgement_from_the_risk_service_stops_escalation(
        self, sqlite_url, identity
    ):
        """WarningStatusChanged(acknowledged) has the same effect as AcknowledgeAlert."""
        clock = FakeClock()
        raised = clock.now
        async with notify_service(sqlite_url, identity, workers=False) as h:
            await _setup(h, clock)
            await _deliver(h, _warning("orange", raised))
            clock.advance(hours=1)
            await _deliver(
                h,
                risk_events_pb2.WarningStatusChanged(
                    warning="warnings/w-1",
                    client=CLIENT,
                    state="acknowledged",
                    actor=RM_A,
                    change_time=_stamp(clock.now),
                ),
            )
            clock.set(raised + timedelta(days=1))
            assert await _escalate(h) == 0

    async def test_other_rms_cannot_see_or_acknowledge(self, sqlite_url, identity):
        """Another RM gets PERMISSION_DENIED on someone else's alert."""
        clock = FakeClock()
        async with notify_service(sqlite_url, identity, workers=False) as h:
            await _setup(h, clock)
            await _deliver(h, _warning("red", clock.now))
            name = (
                (await h.stub.ListAlerts(notify_service_pb2.ListAlertsRequest(), metadata=h.ops()))
                .alerts[0]
                .name
            )
            with pytest.raises(grpc.aio.AioRpcError) as denied:
                await h.stub.AcknowledgeAlert(
                    notify_service_pb2.AcknowledgeAlertRequest(name=name),
                    metadata=h.as_("staff/rm-b", Role.RELATIONSHIP_MANAGER),
                )
        assert denied.value.code() == grpc.StatusCode.PERMISSION_DENIED


class TestOtherEvents:
    async def test_survey_dispatch_and_rating_change(self, sqlite_url, identity):
        """A survey reaches its contact with the answer link; a rating change reaches the RM."""
        clock = FakeClock()
        contact = CLIENT + "/keyPersons/" + "d" * 32
        async with notify_service(sqlite_url, identity, workers=False) as h:
            await _setup(h, clock)
            await _deliver(
                h,
                feedback_events_pb2.SurveyDispatched(
                    dispatch="surveys/s1/dispatches/d1",
                    survey="surveys/s1",
                    client=CLIENT,
                    recipient=contact,
                    locale="zh-CN",
                    answer_token="tok-123",
                    due_time=_stamp(clock.now + timedelta(days=7)),
                    channel_hint="in_app",
                ),
                source="feedback",
            )
            await _deliver(
                h,
                risk_events_pb2.RatingChanged(
                    client=CLIENT, grade="BBB", previous_grade="A", probability_of_default=0.0123
                ),
            )
            survey = await _messages(h, contact)
            rating = [
                m for m in await _messages(h, RM_A) if m.template == "templates/rating-changed"
            ]
        assert [m.channel for m in survey] == [common_pb2.CHANNEL_PUSH]
        assert "https://feedback.bank.example/answer/tok-123" in survey[0].body
        assert "2026年3月9日" in survey[0].body
        assert "由 A 调整为 BBB" in rating[0].body and "1.23%" in rating[0].body
