"""Recipient preferences and the delivery decision: send now, defer, or suppress.

`decide_delivery` is a pure function of its arguments; the caller passes `now`, so tests and
the service's scheduler control the clock. The policy, in the order it is applied:

1. Mandatory: a risk alert to staff can never be switched off. Channel, consent and frequency
   preferences for it are ignored; it always goes to the task inbox and push, plus any extra
   channels the staff member chose.
2. Consent: marketing is opt-in (no explicit `consents["marketing"] is True` → suppress);
   surveys are opt-out (`consents["survey"] is False` → suppress). Service, task and risk
   messages are not consent-based.
3. Channels: the recipient's list for the category, else `default_channels`. An explicitly empty
   list turns the category off (suppress). The "task" channel exists only for staff.
4. Frequency cap, counted over `recent_sends` of the same category inside the cap window:
   a capped survey is suppressed (a late survey annoys and its answers skew the period it was
   meant for); every other capped category is deferred until enough earlier sends leave the
   window, because its content (a rate change, a service notice) is still worth delivering.
5. Quiet hours in the recipient's own time zone defer the message to the end of the quiet
   period. Urgent messages ignore quiet hours, except marketing and surveys, which are never
   treated as urgent so that a campaign cannot wake anyone up by flagging itself urgent.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from typing import Final, Literal
from zoneinfo import ZoneInfo

Category = Literal["service", "marketing", "risk_alert", "survey", "task"]
Channel = Literal["push", "email", "sms", "chat", "task"]
RecipientKind = Literal["client_contact", "staff"]
Urgency = Literal["normal", "urgent"]
Action = Literal["send", "defer", "suppress"]

CATEGORIES: Final[frozenset[str]] = frozenset(
    {"service", "marketing", "risk_alert", "survey", "task"}
)
CHANNELS: Final[frozenset[str]] = frozenset({"push", "email", "sms", "chat", "task"})
RECIPIENT_KINDS: Final[frozenset[str]] = frozenset({"client_contact", "staff"})
MANDATORY_STAFF_CHANNELS: Final[tuple[str, ...]] = ("task", "push")
_NEVER_URGENT: Final[frozenset[str]] = frozenset({"marketing", "survey"})
_SUPPRESS_WHEN_CAPPED: Final[frozenset[str]] = frozenset({"survey"})
_STAFF_ONLY_CHANNELS: Final[frozenset[str]] = frozenset({"task"})


@dataclass(frozen=True)
class QuietHours:
    """A daily local-time window [start, end) in an IANA zone; start > end wraps midnight."""

    start: time
    end: time
    tz: str

    def __post_init__(self) -> None:
        """Reject an empty window, times carrying their own zone, and unknown zones."""
        if self.start == self.end:
            raise ValueError("quiet hours start and end must differ")
        if self.start.tzinfo is not None or self.end.tzinfo is not None:
            raise ValueError("quiet hours are local times; give the zone in tz")
        ZoneInfo(self.tz)  # Raises for an unknown zone name.

    def end_of_quiet_period(self, at: datetime) -> datetime | None:
        """Return when the quiet period containing `at` ends (UTC), or None outside it."""
        zone = ZoneInfo(self.tz)
        local = at.astimezone(zone)
        clock = local.time().replace(tzinfo=None)
        if self.start < self.end:
            if not self.start <= clock < self.end:
                return None
            end_day = local.date()
        elif clock >= self.start:
            end_day = local.date() + timedelta(days=1)
        elif clock < self.end:
            end_day = local.date()
        else:
            return None
        return datetime.combine(end_day, self.end, tzinfo=zone).astimezone(UTC)


@dataclass(frozen=True)
class Cap:
    """At most `max_count` messages of a category per sliding window of length `per`."""

    max_count: int
    per: timedelta

    def __post_init__(self) -> None:
        """Reject caps that could never let a message through."""
        if self.max_count < 1:
            raise ValueError("max_count must be at least 1")
        if self.per <= timedelta(0):
            raise ValueError("per must be a positive duration")


@dataclass(frozen=True)
class Preferences:
    """One recipient's stored preferences."""

    channels_by_category: Mapping[str, Sequence[str]] = field(default_factory=dict)
    consents: Mapping[str, bool] = field(default_factory=dict)
    quiet_hours: QuietHours | None = None
    frequency_caps: Mapping[str, Cap] = field(default_factory=dict)

    def __post_init__(self) -> None:
        """Reject unknown category and channel names so bad stored data fails early."""
        for category, channels in self.channels_by_category.items():
            _check_category(category)
            for channel in channels:
                if channel not in CHANNELS:
                    raise ValueError(f"unknown channel {channel!r}")
        for category in (*self.consents, *self.frequency_caps):
            _check_category(category)


@dataclass(frozen=True)
class Decision:
    """What to do with one message for one recipient."""

    action: Action
    channels: list[str]
    not_before: datetime | None
    reason: str


def decide_delivery(
    *,
    recipient_kind: RecipientKind,
    role: str | None,
    category: Category,
    urgency: Urgency,
    prefs: Preferences,
    now: datetime,
    recent_sends: Sequence[datetime],
    default_channels: Sequence[str],
) -> Decision:
    """Decide whether, when and through which channels to deliver a message.

    `recent_sends` are this recipient's earlier sends of the same category. `role` is the
    staff role (e.g. "relationship_manager"); it is informational here and may be None.
    """
    del role  # Accepted so callers pass one shape; no rule depends on the role yet.
    _check_inputs(
        recipient_kind=recipient_kind,
        category=category,
        urgency=urgency,
        now=now,
        recent_sends=recent_sends,
        default_channels=default_channels,
    )
    chosen = prefs.channels_by_category.get(category, default_channels)
    if recipient_kind == "staff" and category == "risk_alert":
        return _timed(
            channels=_unique([*MANDATORY_STAFF_CHANNELS, *chosen]),
            bypass_quiet=urgency == "urgent",
            quiet_hours=prefs.quiet_hours,
            now=now,
            cap_release=None,
            send_reason="mandatory",
        )
    channels = _unique(
        c for c in chosen if recipient_kind == "staff" or c not in _STAFF_ONLY_CHANNELS
    )
    cap = prefs.frequency_caps.get(category)
    cap_release = _cap_release(cap, now, recent_sends) if cap is not None else None
    reason = _suppression_reason(
        recipient_kind=recipient_kind,
        category=category,
        prefs=prefs,
        chosen=chosen,
        usable=channels,
        capped=cap_release is not None,
    )
    if reason is not None:
        return Decision("suppress", [], None, reason)
    return _timed(
        channels=channels,
        bypass_quiet=urgency == "urgent" and category not in _NEVER_URGENT,
        quiet_hours=prefs.quiet_hours,
        now=now,
        cap_release=cap_release,
        send_reason="ok",
    )


def _suppression_reason(
    *,
    recipient_kind: str,
    category: str,
    prefs: Preferences,
    chosen: Sequence[str],
    usable: Sequence[str],
    capped: bool,
) -> str | None:
    """Return why a non-mandatory message must not go out at all, or None."""
    if category == "marketing" and prefs.consents.get("marketing") is not True:
        return "no marketing consent"
    if category == "survey" and prefs.consents.get("survey") is False:
        return "opted out of surveys"
    if not chosen:
        return f"all channels disabled for {category}"
    if not usable:
        return f"no usable channel for {recipient_kind}"
    if capped and category in _SUPPRESS_WHEN_CAPPED:
        return "frequency cap reached"
    return None


def _timed(
    *,
    channels: list[str],
    bypass_quiet: bool,
    quiet_hours: QuietHours | None,
    now: datetime,
    cap_release: datetime | None,
    send_reason: str,
) -> Decision:
    """Return send, or defer to the first moment past both the cap and quiet hours."""
    reasons: list[str] = []
    earliest = now
    if cap_release is not None and cap_release > now:
        earliest = cap_release
        reasons.append("frequency cap reached")
    if quiet_hours is not None and not bypass_quiet:
        # Checked at `earliest`, so a cap that lifts at 23:00 inside 22:00–07:00 waits till 07:00.
        quiet_end = quiet_hours.end_of_quiet_period(earliest)
        if quiet_end is not None:
            earliest = quiet_end
            reasons.append("quiet hours")
    if earliest == now:
        return Decision("send", channels, None, send_reason)
    return Decision("defer", channels, earliest, "; ".join(reasons))


def _cap_release(cap: Cap, now: datetime, recent_sends: Sequence[datetime]) -> datetime | None:
    """Return when the cap lets one more message through, or None if it already does."""
    # Sends stamped after `now` (clock skew between workers) still count: they happened.
    in_window = sorted(t for t in recent_sends if t > now - cap.per)
    if len(in_window) < cap.max_count:
        return None
    # Once this send leaves the window only max_count - 1 remain, so one more fits.
    return in_window[len(in_window) - cap.max_count] + cap.per


def _check_inputs(
    *,
    recipient_kind: str,
    category: str,
    urgency: str,
    now: datetime,
    recent_sends: Sequence[datetime],
    default_channels: Sequence[str],
) -> None:
    if recipient_kind not in RECIPIENT_KINDS:
        raise ValueError(f"unknown recipient kind {recipient_kind!r}")
    _check_category(category)
    if urgency not in ("normal", "urgent"):
        raise ValueError(f"unknown urgency {urgency!r}")
    if now.tzinfo is None or any(t.tzinfo is None for t in recent_sends):
        raise ValueError("now and recent_sends must be timezone-aware")
    unknown = [c for c in default_channels if c not in CHANNELS]
    if unknown:
        raise ValueError(f"unknown channel {unknown[0]!r}")


def _check_category(category: str) -> None:
    if category not in CATEGORIES:
        raise ValueError(f"unknown category {category!r}")


def _unique(channels: Iterable[str]) -> list[str]:
    """Return channels in first-seen order without repeats."""
    return list(dict.fromkeys(channels))
