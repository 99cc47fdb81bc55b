"""Preferences in the running service: quiet hours, consent and frequency caps, on a moved clock."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import grpc
import pytest
from google.protobuf import duration_pb2, field_mask_pb2
from google.type import timeofday_pb2
from notify_harness import RM_A, FakeClock, details, notify_service

from crm.notify.v1 import common_pb2, notify_service_pb2, preference_pb2
from crm_runtime.auth import Role

CONTACT = "clients/" + "a" * 32 + "/keyPersons/" + "b" * 32
SEND = notify_service_pb2.DELIVERY_DECISION_SEND
DEFER = notify_service_pb2.DELIVERY_DECISION_DEFER
SUPPRESS = notify_service_pb2.DELIVERY_DECISION_SUPPRESS


async def _prefs(h, recipient: str, paths: list[str], **fields) -> preference_pb2.Preferences:
    return await h.stub.UpdatePreferences(
        notify_service_pb2.UpdatePreferencesRequest(
            preferences=preference_pb2.Preferences(name=f"{recipient}/preferences", **fields),
            update_mask=field_mask_pb2.FieldMask(paths=paths),
            request_id=str(uuid.uuid4()),
        ),
        metadata=h.system(),
    )


async def _send(h, recipient: str, template: str, urgent: bool = False, **variables: str):
    return await h.stub.SendMessage(
        notify_service_pb2.SendMessageRequest(
            recipient=recipient,
            template=template,
            variables=variables or {"client_name": "甲"},
            urgency=common_pb2.URGENCY_URGENT if urgent else common_pb2.URGENCY_NORMAL,
            request_id=str(uuid.uuid4()),
        ),
        metadata=h.system(),
    )


def _quiet(start: int, end: int) -> preference_pb2.QuietHours:
    return preference_pb2.QuietHours(
        start=timeofday_pb2.TimeOfDay(hours=start), end=timeofday_pb2.TimeOfDay(hours=end)
    )


class TestQuietHours:
    async def test_normal_message_waits_for_local_morning_urgent_does_not(
        self, store_url, identity
    ):
        """At 23:00 Shanghai a normal notice defers to 07:00 local; an urgent one goes now."""
        clock = FakeClock(datetime(2026, 3, 2, 15, 0, tzinfo=UTC))  # 23:00 in Shanghai.
        async with notify_service(store_url, identity, workers=False) as h:
            h.use_clock(clock)
            await h.template("notice")
            await _prefs(
                h,
                RM_A,
                ["time_zone", "quiet_hours"],
                time_zone="Asia/Shanghai",
                quiet_hours=_quiet(22, 7),
            )
            deferred = await _send(h, RM_A, "templates/notice")
            assert deferred.decision == DEFER and deferred.reason == "quiet hours"
            assert deferred.not_before.ToDatetime(tzinfo=UTC) == datetime(
                2026, 3, 2, 23, 0, tzinfo=UTC
            )
            assert deferred.messages[0].sequence == 0  # No number until it is released.
            urgent = await _send(h, RM_A, "templates/notice", urgent=True)
            assert urgent.decision == SEND and urgent.messages[0].sequence == 1
            clock.set(datetime(2026, 3, 2, 22, 59, tzinfo=UTC))
            await h.deliver()
            assert [m.sequence for m in await h.read_stream(RM_A, 1)] == [1]
            clock.set(datetime(2026, 3, 2, 23, 0, tzinfo=UTC))
            await h.deliver()
            got = await h.read_stream(RM_A, 2)
        assert [(m.sequence, m.message) for m in got] == [
            (1, urgent.messages[0].name),
            (2, deferred.messages[0].name),
        ]


class TestConsent:
    async def test_marketing_needs_consent(self, sqlite_url, identity):
        """Marketing to a contact without consent is suppressed; after consent it is sent."""
        clock = FakeClock()
        async with notify_service(sqlite_url, identity, workers=False) as h:
            h.use_clock(clock)
            await h.template("offer", category=common_pb2.CATEGORY_MARKETING)
            refused = await _send(h, CONTACT, "templates/offer")
            assert (refused.decision, refused.reason) == (SUPPRESS, "no marketing consent")
            assert not refused.messages
            await _prefs(
                h,
                CONTACT,
                ["consents"],
                consents=[
                    preference_pb2.Consent(category=common_pb2.CATEGORY_MARKETING, granted=True)
                ],
            )
            accepted = await _send(h, CONTACT, "templates/offer")
            assert accepted.decision == SEND
            assert [m.channel for m in accepted.messages] == [common_pb2.CHANNEL_PUSH]

    async def test_staff_risk_alerts_cannot_be_switched_off(self, sqlite_url, identity):
        """Turning off risk alerts for staff is refused; a risk alert always reaches task + push."""
        async with notify_service(sqlite_url, identity) as h:
            await h.template("alert", category=common_pb2.CATEGORY_RISK_ALERT)
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await _prefs(
                    h,
                    RM_A,
                    ["category_channels"],
                    category_channels=[
                        preference_pb2.CategoryChannels(category=common_pb2.CATEGORY_RISK_ALERT)
                    ],
                )
            assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
            assert "cannot be switched off" in caught.value.details()
            await _prefs(
                h,
                RM_A,
                ["category_channels"],
                category_channels=[
                    preference_pb2.CategoryChannels(
                        category=common_pb2.CATEGORY_SERVICE, channels=[]
                    )
                ],
            )
            sent = await _send(h, RM_A, "templates/alert")
            assert sent.reason == "mandatory"
            assert {m.channel for m in sent.messages} == {
                common_pb2.CHANNEL_TASK,
                common_pb2.CHANNEL_PUSH,
            }
            tasks = await h.stub.ListTasks(
                notify_service_pb2.ListTasksRequest(),
                metadata=h.as_(RM_A, Role.RELATIONSHIP_MANAGER),
            )
            assert [t.title for t in tasks.tasks] == [sent.messages[0].subject]


class TestFrequencyCaps:
    async def test_third_marketing_message_in_a_day_waits(self, sqlite_url, identity):
        """With a cap of 2 per day the third send defers until the first leaves the window."""
        clock = FakeClock()
        start = clock.now
        async with notify_service(sqlite_url, identity, workers=False) as h:
            h.use_clock(clock)
            await h.template("offer", category=common_pb2.CATEGORY_MARKETING)
            await _prefs(
                h,
                CONTACT,
                ["consents", "frequency_caps"],
                consents=[
                    preference_pb2.Consent(category=common_pb2.CATEGORY_MARKETING, granted=True)
                ],
                frequency_caps=[
                    preference_pb2.FrequencyCap(
                        category=common_pb2.CATEGORY_MARKETING,
                        max_count=2,
                        period=duration_pb2.Duration(seconds=86_400),
                    )
                ],
            )
            first = await _send(h, CONTACT, "templates/offer")
            clock.advance(hours=1)
            second = await _send(h, CONTACT, "templates/offer")
            clock.advance(hours=1)
            third = await _send(h, CONTACT, "templates/offer")
            assert [r.decision for r in (first, second, third)] == [SEND, SEND, DEFER]
            assert third.reason == "frequency cap reached"
            assert third.not_before.ToDatetime(tzinfo=UTC) == start.replace(day=start.day + 1)
            clock.set(start.replace(day=start.day + 1))
            await h.deliver()
            got = await h.read_stream(CONTACT, 3)
        assert [m.message for m in got] == [
            first.messages[0].name,
            second.messages[0].name,
            third.messages[0].name,
        ]

    async def test_capped_survey_is_dropped(self, sqlite_url, identity):
        """A survey over its cap is suppressed rather than sent late."""
        async with notify_service(sqlite_url, identity, workers=False) as h:
            await h.template("survey", category=common_pb2.CATEGORY_SURVEY)
            await _prefs(
                h,
                CONTACT,
                ["frequency_caps"],
                frequency_caps=[
                    preference_pb2.FrequencyCap(
                        category=common_pb2.CATEGORY_SURVEY,
                        max_count=1,
                        period=duration_pb2.Duration(seconds=7 * 86_400),
                    )
                ],
            )
            decisions = [(await _send(h, CONTACT, "templates/survey")).decision for _ in range(2)]
        assert decisions == [SEND, SUPPRESS]


class TestValidation:
    async def test_bad_preferences_name_every_bad_field(self, sqlite_url, identity):
        """Unknown zone, equal quiet-hour bounds and a zero cap are reported together."""
        async with notify_service(sqlite_url, identity) as h:
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await _prefs(
                    h,
                    CONTACT,
                    ["time_zone", "quiet_hours", "frequency_caps"],
                    time_zone="Mars/Olympus",
                    quiet_hours=_quiet(8, 8),
                    frequency_caps=[
                        preference_pb2.FrequencyCap(
                            category=common_pb2.CATEGORY_MARKETING,
                            max_count=0,
                            period=duration_pb2.Duration(seconds=60),
                        )
                    ],
                )
            assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
            assert details(caught.value)[1] == [
                "preferences.time_zone",
                "preferences.quiet_hours",
                "preferences.frequency_caps[0].max_count",
            ]

    async def test_people_edit_only_their_own_preferences(self, sqlite_url, identity):
        """An RM may change their own preferences but not a colleague's."""
        async with notify_service(sqlite_url, identity) as h:
            mine = await h.stub.UpdatePreferences(
                notify_service_pb2.UpdatePreferencesRequest(
                    preferences=preference_pb2.Preferences(name=f"{RM_A}/preferences", locale="en"),
                    update_mask=field_mask_pb2.FieldMask(paths=["locale"]),
                ),
                metadata=h.as_(RM_A, Role.RELATIONSHIP_MANAGER),
            )
            assert mine.locale == "en"
            with pytest.raises(grpc.aio.AioRpcError) as denied:
                await h.stub.GetPreferences(
                    notify_service_pb2.GetPreferencesRequest(name="staff/rm-b/preferences"),
                    metadata=h.as_(RM_A, Role.RELATIONSHIP_MANAGER),
                )
            assert denied.value.code() == grpc.StatusCode.PERMISSION_DENIED
