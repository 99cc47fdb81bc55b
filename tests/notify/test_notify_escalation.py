"""Tests for the versioned escalation ladders of unacknowledged warnings."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from crm_notify.domain.escalation import (
    CURRENT_POLICY_VERSION,
    ESCALATION_POLICIES,
    Step,
    due_steps,
    escalation_steps,
)

RAISED = datetime(2026, 11, 28, 1, 0, tzinfo=UTC)
H = timedelta(hours=1)


class TestEscalationSteps:
    def test_red_ladder(self):
        """Red escalates to the team lead after 2 h and the risk officer 2 h later."""
        assert escalation_steps(level="red", raised_at=RAISED) == [
            Step(RAISED + 2 * H, "team_lead", 1),
            Step(RAISED + 4 * H, "risk_officer", 2),
        ]

    def test_orange_yellow_blue(self):
        """Orange is 8 h / 8 h, yellow 24 h to the team lead only, blue never escalates."""
        orange = escalation_steps(level="orange", raised_at=RAISED)
        assert [(s.at - RAISED, s.target_role) for s in orange] == [
            (8 * H, "team_lead"), (16 * H, "risk_officer")]
        assert escalation_steps(level="yellow", raised_at=RAISED) == [
            Step(RAISED + 24 * H, "team_lead", 1)]
        assert escalation_steps(level="blue", raised_at=RAISED) == []

    def test_policy_is_versioned(self):
        """The current policy is ESC-2026.1 and can be named explicitly."""
        assert CURRENT_POLICY_VERSION == "ESC-2026.1"
        assert "ESC-2026.1" in ESCALATION_POLICIES
        explicit = escalation_steps(level="red", raised_at=RAISED, policy_version="ESC-2026.1")
        assert explicit == escalation_steps(level="red", raised_at=RAISED)

    def test_unknown_inputs(self):
        """Unknown levels, policies and naive times are rejected."""
        with pytest.raises(ValueError, match="level"):
            escalation_steps(level="purple", raised_at=RAISED)
        with pytest.raises(ValueError, match="policy"):
            escalation_steps(level="red", raised_at=RAISED, policy_version="ESC-1999.1")
        with pytest.raises(ValueError, match="aware"):
            escalation_steps(level="red", raised_at=datetime(2026, 1, 1))


class TestDueSteps:
    def _due(self, *, now, acknowledged_at=None, already_done=frozenset(), level="red"):
        return [s.step_no for s in due_steps(level=level, raised_at=RAISED,
                                             acknowledged_at=acknowledged_at, now=now,
                                             already_done=set(already_done))]

    def test_nothing_due_before_the_sla(self):
        """Before 2 h a red warning has no due step."""
        assert self._due(now=RAISED + 2 * H - timedelta(seconds=1)) == []

    def test_steps_fall_due_in_turn(self):
        """At 2 h step 1 is due; at 4 h both, minus what was already done."""
        assert self._due(now=RAISED + 2 * H) == [1]
        assert self._due(now=RAISED + 4 * H) == [1, 2]
        assert self._due(now=RAISED + 4 * H, already_done={1}) == [2]
        assert self._due(now=RAISED + 5 * H, already_done={1, 2}) == []

    def test_acknowledged_in_time_stops_everything(self):
        """An acknowledgement before (or at) a step's time cancels it and all later steps."""
        assert self._due(now=RAISED + 10 * H, acknowledged_at=RAISED + H) == []
        assert self._due(now=RAISED + 10 * H, acknowledged_at=RAISED + 2 * H) == []

    def test_late_acknowledgement_keeps_earlier_steps(self):
        """Acknowledged at 3 h: step 1 (due at 2 h) still stands, step 2 (4 h) is cancelled."""
        assert self._due(now=RAISED + 10 * H, acknowledged_at=RAISED + 3 * H) == [1]

    def test_blue_never_due(self):
        """Blue warnings never produce escalation steps."""
        assert self._due(level="blue", now=RAISED + 1000 * H) == []
