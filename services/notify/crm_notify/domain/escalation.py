"""Escalation ladders for warnings nobody acknowledged in time.

Each warning level has a ladder of rungs; a rung fires `after` the previous one (the first rung
counts from when the warning was raised) and notifies a role. Policies are versioned so that a
warning raised under one policy keeps its ladder when the policy changes: store the version
with the warning and pass it back here.
"""

from __future__ import annotations

from collections.abc import Mapping, Set
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final, Literal

WarningLevel = Literal["red", "orange", "yellow", "blue"]
WARNING_LEVELS: Final[tuple[str, ...]] = ("red", "orange", "yellow", "blue")


@dataclass(frozen=True)
class Rung:
    """One escalation: after `after` more time without acknowledgement, notify the role."""

    after: timedelta
    target_role: str


@dataclass(frozen=True)
class EscalationPolicy:
    """A versioned set of ladders, one per warning level."""

    version: str
    ladders: Mapping[str, tuple[Rung, ...]]


@dataclass(frozen=True)
class Step:
    """A concrete escalation of one warning: when, to whom, and its 1-based number."""

    at: datetime
    target_role: str
    step_no: int


CURRENT_POLICY_VERSION: Final = "ESC-2026.1"
ESCALATION_POLICIES: Final[Mapping[str, EscalationPolicy]] = {
    "ESC-2026.1": EscalationPolicy(
        version="ESC-2026.1",
        ladders={
            "red": (
                Rung(timedelta(hours=2), "team_lead"),
                Rung(timedelta(hours=2), "risk_officer"),
            ),
            "orange": (
                Rung(timedelta(hours=8), "team_lead"),
                Rung(timedelta(hours=8), "risk_officer"),
            ),
            "yellow": (Rung(timedelta(hours=24), "team_lead"),),
            # Blue signals are minor or unconfirmed; the business unit handles them unescalated.
            "blue": (),
        },
    ),
}


def escalation_steps(
    *, level: str, raised_at: datetime, policy_version: str = CURRENT_POLICY_VERSION
) -> list[Step]:
    """Return every escalation step of a warning raised at `raised_at`, in time order."""
    if raised_at.tzinfo is None:
        raise ValueError("raised_at must be timezone-aware")
    policy = ESCALATION_POLICIES.get(policy_version)
    if policy is None:
        raise ValueError(f"unknown escalation policy {policy_version!r}")
    ladder = policy.ladders.get(level)
    if ladder is None:
        raise ValueError(f"unknown warning level {level!r}")
    steps: list[Step] = []
    at = raised_at
    for number, rung in enumerate(ladder, start=1):
        at += rung.after
        steps.append(Step(at=at, target_role=rung.target_role, step_no=number))
    return steps


def due_steps(
    *,
    level: str,
    raised_at: datetime,
    acknowledged_at: datetime | None,
    now: datetime,
    already_done: Set[int],
    policy_version: str = CURRENT_POLICY_VERSION,
) -> list[Step]:
    """Return the steps to fire now: reached, not yet done, and not acknowledged in time.

    An acknowledgement at or before a step's time cancels that step and every later one; one
    that came after a step's time does not undo a step that was already due then, so a worker
    that was down still fires it (the warning really was late).
    """
    if now.tzinfo is None or (acknowledged_at is not None and acknowledged_at.tzinfo is None):
        raise ValueError("now and acknowledged_at must be timezone-aware")
    steps = escalation_steps(level=level, raised_at=raised_at, policy_version=policy_version)
    return [
        step
        for step in steps
        if step.at <= now
        and step.step_no not in already_done
        and (acknowledged_at is None or acknowledged_at > step.at)
    ]
