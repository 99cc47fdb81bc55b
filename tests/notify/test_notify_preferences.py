"""Tests for delivery decisions: consent, mandatory alerts, channels, caps and quiet hours."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crm_notify.domain.preferences import (
    Cap,
    Preferences,
    QuietHours,
    decide_delivery,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")
NIGHT = QuietHours(start=time(22, 0), end=time(7, 0), tz="Asia/Shanghai")
DEFAULTS = ["push", "email"]


def _shanghai(y, mo, d, h, mi=0):
    """Return the UTC instant of a Shanghai wall-clock time."""
    return datetime(y, mo, d, h, mi, tzinfo=SHANGHAI).astimezone(UTC)


def _decide(*, category="service", urgency="normal", prefs=None, now=None,
            recipient_kind="client_contact", role=None, recent_sends=(), default_channels=DEFAULTS):
    return decide_delivery(
        recipient_kind=recipient_kind, role=role, category=category, urgency=urgency,
        prefs=prefs or Preferences(), now=now or _shanghai(2026, 3, 10, 10),
        recent_sends=list(recent_sends), default_channels=default_channels,
    )


class TestConsent:
    def test_marketing_without_consent_is_suppressed(self):
        """Marketing with no recorded consent is suppressed."""
        decision = _decide(category="marketing")
        assert (decision.action, decision.reason) == ("suppress", "no marketing consent")
        assert decision.channels == [] and decision.not_before is None

    def test_marketing_with_consent_withdrawn_is_suppressed(self):
        """An explicit False consent suppresses marketing."""
        prefs = Preferences(consents={"marketing": False})
        assert _decide(category="marketing", prefs=prefs).action == "suppress"

    def test_marketing_with_consent_is_sent(self):
        """Marketing with explicit consent goes out on the default channels."""
        decision = _decide(category="marketing", prefs=Preferences(consents={"marketing": True}))
        assert (decision.action, decision.channels) == ("send", ["push", "email"])

    def test_survey_is_opt_out(self):
        """Surveys go out by default and stop after an explicit opt-out."""
        assert _decide(category="survey").action == "send"
        out = _decide(category="survey", prefs=Preferences(consents={"survey": False}))
        assert (out.action, out.reason) == ("suppress", "opted out of surveys")


class TestMandatoryStaffRiskAlerts:
    def test_cannot_be_switched_off(self):
        """Disabled channels, withdrawn consent and caps do not stop a staff risk alert."""
        prefs = Preferences(
            channels_by_category={"risk_alert": []},
            consents={"risk_alert": False},
            frequency_caps={"risk_alert": Cap(1, timedelta(days=1))},
        )
        now = _shanghai(2026, 3, 10, 10)
        decision = _decide(category="risk_alert", recipient_kind="staff",
                           role="relationship_manager", prefs=prefs, now=now,
                           recent_sends=[now - timedelta(minutes=5)] * 3)
        assert decision.action == "send"
        assert decision.channels == ["task", "push"]
        assert decision.reason == "mandatory"

    def test_extra_chosen_channels_are_added(self):
        """Channels the staff member chose are added after task and push."""
        prefs = Preferences(channels_by_category={"risk_alert": ["chat", "push"]})
        decision = _decide(category="risk_alert", recipient_kind="staff", prefs=prefs)
        assert decision.channels == ["task", "push", "chat"]

    def test_urgent_alert_ignores_quiet_hours(self):
        """An urgent risk alert at 23:00 local goes out at once."""
        prefs = Preferences(quiet_hours=NIGHT)
        decision = _decide(category="risk_alert", recipient_kind="staff", urgency="urgent",
                           prefs=prefs, now=_shanghai(2026, 3, 10, 23))
        assert decision.action == "send"

    def test_normal_alert_waits_for_quiet_hours_to_end(self):
        """A non-urgent risk alert at 23:00 local waits until 07:00 local."""
        prefs = Preferences(quiet_hours=NIGHT)
        decision = _decide(category="risk_alert", recipient_kind="staff",
                           prefs=prefs, now=_shanghai(2026, 3, 10, 23))
        assert decision.action == "defer"
        assert decision.not_before == _shanghai(2026, 3, 11, 7)
        assert decision.channels == ["task", "push", "email"]  # Mandatory pair plus defaults.


class TestChannels:
    def test_explicitly_empty_category_is_suppressed(self):
        """An empty channel list for a category turns it off."""
        prefs = Preferences(channels_by_category={"service": []})
        decision = _decide(prefs=prefs)
        assert decision.action == "suppress"
        assert decision.reason == "all channels disabled for service"

    def test_recipient_choice_overrides_defaults(self):
        """The recipient's own channel list wins over the defaults, deduplicated in order."""
        prefs = Preferences(channels_by_category={"service": ["sms", "email", "sms"]})
        assert _decide(prefs=prefs).channels == ["sms", "email"]

    def test_task_channel_is_staff_only(self):
        """A client contact never gets the task-inbox channel; with nothing else, suppress."""
        assert _decide(default_channels=["task", "email"]).channels == ["email"]
        decision = _decide(default_channels=["task"])
        assert decision.action == "suppress"
        assert decision.reason == "no usable channel for client_contact"
        staff = _decide(recipient_kind="staff", category="task", default_channels=["task"])
        assert staff.channels == ["task"]

    def test_unknown_names_are_rejected(self):
        """Unknown channels or categories fail loudly instead of being silently skipped."""
        with pytest.raises(ValueError, match="unknown channel"):
            Preferences(channels_by_category={"service": ["fax"]})
        with pytest.raises(ValueError, match="unknown category"):
            Preferences(consents={"newsletter": True})
        with pytest.raises(ValueError, match="unknown category"):
            _decide(category="gossip")
        with pytest.raises(ValueError, match="unknown channel"):
            _decide(default_channels=["pigeon"])

    def test_naive_now_is_rejected(self):
        """now must be timezone-aware."""
        with pytest.raises(ValueError, match="timezone-aware"):
            _decide(now=datetime(2026, 3, 10, 10))


class TestFrequencyCaps:
    def test_marketing_cap_defers_until_oldest_send_expires(self):
        """At the cap, marketing waits until the oldest send in the window leaves it."""
        now = _shanghai(2026, 3, 10, 10)
        prefs = Preferences(consents={"marketing": True},
                            frequency_caps={"marketing": Cap(2, timedelta(days=7))})
        sends = [now - timedelta(days=6), now - timedelta(days=1), now - timedelta(days=9)]
        decision = _decide(category="marketing", prefs=prefs, now=now, recent_sends=sends)
        assert decision.action == "defer"
        assert decision.not_before == now + timedelta(days=1)
        assert decision.reason == "frequency cap reached"

    def test_over_cap_waits_for_enough_sends_to_expire(self):
        """With more sends than the cap in the window, wait until only max_count - 1 remain."""
        now = _shanghai(2026, 3, 10, 10)
        prefs = Preferences(consents={"marketing": True},
                            frequency_caps={"marketing": Cap(2, timedelta(days=7))})
        sends = [now - timedelta(days=d) for d in (5, 3, 1)]
        decision = _decide(category="marketing", prefs=prefs, now=now, recent_sends=sends)
        assert decision.not_before == now - timedelta(days=3) + timedelta(days=7)

    def test_under_cap_sends(self):
        """Below the cap the message goes out now."""
        now = _shanghai(2026, 3, 10, 10)
        prefs = Preferences(consents={"marketing": True},
                            frequency_caps={"marketing": Cap(2, timedelta(days=7))})
        decision = _decide(category="marketing", prefs=prefs, now=now,
                           recent_sends=[now - timedelta(days=2)])
        assert decision.action == "send"

    def test_capped_survey_is_suppressed(self):
        """A survey over its cap is dropped, not deferred."""
        now = _shanghai(2026, 3, 10, 10)
        prefs = Preferences(frequency_caps={"survey": Cap(1, timedelta(days=30))})
        decision = _decide(category="survey", prefs=prefs, now=now,
                           recent_sends=[now - timedelta(days=10)])
        assert (decision.action, decision.reason) == ("suppress", "frequency cap reached")

    def test_cap_release_inside_quiet_hours_waits_for_morning(self):
        """A cap that lifts at 23:00 local is followed by quiet hours until 07:00."""
        now = _shanghai(2026, 3, 10, 10)
        prefs = Preferences(consents={"marketing": True}, quiet_hours=NIGHT,
                            frequency_caps={"marketing": Cap(1, timedelta(days=1))})
        decision = _decide(category="marketing", prefs=prefs, now=now,
                           recent_sends=[_shanghai(2026, 3, 9, 23)])
        assert decision.action == "defer"
        assert decision.not_before == _shanghai(2026, 3, 11, 7)
        assert decision.reason == "frequency cap reached; quiet hours"

    def test_invalid_caps(self):
        """Caps must allow at least one message over a positive window."""
        with pytest.raises(ValueError):
            Cap(0, timedelta(days=1))
        with pytest.raises(ValueError):
            Cap(1, timedelta(0))


class TestQuietHours:
    @pytest.mark.parametrize(
        ("local", "expected_end"),
        [
            ((2026, 3, 10, 22, 0), (2026, 3, 11, 7)),   # start boundary is quiet
            ((2026, 3, 10, 23, 30), (2026, 3, 11, 7)),  # before midnight: ends next morning
            ((2026, 3, 11, 0, 0), (2026, 3, 11, 7)),
            ((2026, 3, 11, 6, 59), (2026, 3, 11, 7)),   # after midnight: ends this morning
        ],
    )
    def test_wrapping_window_defers_to_local_morning(self, local, expected_end):
        """A 22:00–07:00 Shanghai window defers to the next 07:00 Shanghai time."""
        decision = _decide(prefs=Preferences(quiet_hours=NIGHT), now=_shanghai(*local))
        assert (decision.action, decision.reason) == ("defer", "quiet hours")
        assert decision.not_before == _shanghai(*expected_end)
        assert decision.not_before.tzinfo is UTC

    @pytest.mark.parametrize(
        "local", [(2026, 3, 11, 7, 0), (2026, 3, 10, 12, 0), (2026, 3, 10, 21, 59)]
    )
    def test_outside_window_sends(self, local):
        """At 07:00 (end is exclusive) and during the day messages go out."""
        assert _decide(prefs=Preferences(quiet_hours=NIGHT), now=_shanghai(*local)).action == "send"

    def test_window_uses_recipient_zone_not_utc(self):
        """23:00 UTC is 07:00 in Shanghai, so a Shanghai recipient is not in quiet hours."""
        now = datetime(2026, 3, 10, 23, 0, tzinfo=UTC)
        assert _decide(prefs=Preferences(quiet_hours=NIGHT), now=now).action == "send"

    def test_same_day_window_in_half_hour_zone(self):
        """A 12:00–13:30 Kolkata (UTC+5:30) lunch window ends at 08:00 UTC."""
        lunch = QuietHours(start=time(12, 0), end=time(13, 30), tz="Asia/Kolkata")
        now = datetime(2026, 3, 10, 7, 0, tzinfo=UTC)  # 12:30 in Kolkata
        decision = _decide(prefs=Preferences(quiet_hours=lunch), now=now)
        assert decision.not_before == datetime(2026, 3, 10, 8, 0, tzinfo=UTC)

    def test_urgent_service_bypasses_but_urgent_marketing_does_not(self):
        """Urgency skips quiet hours, except for marketing, which is never urgent."""
        now = _shanghai(2026, 3, 10, 23)
        urgent = _decide(urgency="urgent", prefs=Preferences(quiet_hours=NIGHT), now=now)
        assert urgent.action == "send"
        prefs = Preferences(quiet_hours=NIGHT, consents={"marketing": True})
        marketing = _decide(category="marketing", urgency="urgent", prefs=prefs, now=now)
        assert marketing.action == "defer"

    def test_invalid_windows(self):
        """Empty windows and unknown zones are rejected."""
        with pytest.raises(ValueError):
            QuietHours(start=time(8), end=time(8), tz="Asia/Shanghai")
        with pytest.raises(Exception, match="Mars"):
            QuietHours(start=time(8), end=time(9), tz="Mars/Olympus_Mons")

    @settings(max_examples=200, deadline=None)
    @given(
        start=st.times(), end=st.times(),
        now=st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2035, 1, 1),
                         timezones=st.just(UTC)),
    )
    def test_deferral_lands_outside_quiet_hours_within_a_day(self, start, end, now):
        """A quiet-hours deferral ends outside the window, within 24 h, never in the past."""
        if start == end:
            return
        window = QuietHours(start=start, end=end, tz="Asia/Shanghai")
        decision = _decide(prefs=Preferences(quiet_hours=window), now=now)
        if decision.action == "send":
            assert window.end_of_quiet_period(now) is None
            return
        assert decision.not_before is not None
        assert now < decision.not_before <= now + timedelta(days=1)
        assert window.end_of_quiet_period(decision.not_before) is None
