"""Per-recipient delivery planning: stored preferences → domain decision → usable channels.

The decision itself is `domain.preferences.decide_delivery`; this module loads its inputs in
bulk (one query per batch of recipients) and narrows its channels to those that can reach the
recipient: SMS needs a key person's mobile number, email/chat/task exist only for staff.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import cast

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from crm_notify.domain.preferences import (
    Cap,
    Category,
    Preferences,
    QuietHours,
    RecipientKind,
    Urgency,
    decide_delivery,
)
from crm_notify.models import MessageRow, PreferenceRow
from crm_notify.names import is_key_person, is_staff, recipient_kind

_IN_CHUNK = 500
# A deferred message counts from when it goes out; none is held back longer than this.
MAX_DEFERRAL = timedelta(days=31)
DEFAULT_CHANNELS = ("push",)


@dataclass(frozen=True)
class RecipientPrefs:
    """A recipient's preferences in domain form plus locale and time zone."""

    prefs: Preferences
    locale: str
    time_zone: str


@functools.lru_cache(maxsize=16)
def _default_prefs(time_zone: str) -> RecipientPrefs:
    """Return the shared defaults (one instance, so plans for them can be memoised)."""
    return RecipientPrefs(Preferences(), "", time_zone)


def is_default(prefs: RecipientPrefs) -> bool:
    """Return True for a recipient without stored preferences."""
    return prefs is _default_prefs(prefs.time_zone)


@dataclass(frozen=True)
class Plan:
    """What to send to one recipient: action, channels, when, and in which locale."""

    action: str
    channels: list[str]
    not_before: datetime | None
    reason: str
    locale: str


def prefs_from_row(row: PreferenceRow | None, default_time_zone: str) -> RecipientPrefs:
    """Return domain preferences for a stored row (defaults when there is none)."""
    if row is None:
        return _default_prefs(default_time_zone)
    zone = row.time_zone or default_time_zone
    quiet = None
    if row.quiet_start and row.quiet_end:
        quiet = QuietHours(
            time.fromisoformat(row.quiet_start), time.fromisoformat(row.quiet_end), zone
        )
    caps = {
        category: Cap(int(value["max_count"]), timedelta(seconds=float(value["period_s"])))
        for category, value in json.loads(row.caps_json).items()
    }
    prefs = Preferences(
        channels_by_category=json.loads(row.channels_json),
        consents=json.loads(row.consents_json),
        quiet_hours=quiet,
        frequency_caps=caps,
    )
    return RecipientPrefs(prefs, row.locale, zone)


async def load_preferences(
    session: AsyncSession, recipients: Sequence[str], default_time_zone: str
) -> dict[str, RecipientPrefs]:
    """Return preferences for every recipient (defaults for those without a row)."""
    rows: dict[str, PreferenceRow] = {}
    unique = sorted(set(recipients))
    for start in range(0, len(unique), _IN_CHUNK):
        chunk = unique[start : start + _IN_CHUNK]
        found = await session.execute(
            select(PreferenceRow).where(col(PreferenceRow.recipient).in_(chunk))
        )
        rows.update((r.recipient, r) for r in found.scalars())
    return {r: prefs_from_row(rows.get(r), default_time_zone) for r in unique}


async def load_recent_sends(
    session: AsyncSession,
    recipients: Sequence[str],
    category: str,
    prefs: dict[str, RecipientPrefs],
    now: datetime,
) -> dict[str, list[datetime]]:
    """Return earlier sends of `category` inside each capped recipient's cap window."""
    wanted = set(recipients)
    windows = {
        r: p.prefs.frequency_caps[category].per
        for r, p in prefs.items()
        if r in wanted and category in p.prefs.frequency_caps
    }
    result: dict[str, list[datetime]] = {r: [] for r in recipients}
    if not windows:
        return result
    since = now - max(windows.values())
    capped = sorted(windows)
    sent_at = func.min(func.coalesce(col(MessageRow.not_before), col(MessageRow.create_time)))
    for start in range(0, len(capped), _IN_CHUNK):
        chunk = capped[start : start + _IN_CHUNK]
        # One notification may have several channel messages: count it once.
        rows = await session.execute(
            select(col(MessageRow.recipient), sent_at)
            .where(
                col(MessageRow.recipient).in_(chunk),
                col(MessageRow.category) == category,
                col(MessageRow.create_time) > since - MAX_DEFERRAL,
            )
            .group_by(col(MessageRow.recipient), col(MessageRow.notification))
        )
        for recipient, sent in rows.all():
            if sent > since:
                result[recipient].append(sent)
    return result


def recipient_class(recipient: str) -> str:
    """Return "staff", "key_person" or "client": recipients of a class plan alike."""
    if is_staff(recipient):
        return "staff"
    return "key_person" if is_key_person(recipient) else "client"


def channel_reaches(recipient: str, channel: str) -> bool:
    """Return True if `channel` can reach this kind of recipient."""
    if channel == "sms":
        return is_key_person(recipient)
    if channel in ("email", "chat", "task"):
        return is_staff(recipient)
    return channel == "push"


def plan_delivery(
    *,
    recipient: str,
    category: str,
    urgency: str,
    prefs: RecipientPrefs,
    now: datetime,
    recent_sends: Sequence[datetime],
    default_channels: Sequence[str],
    available: frozenset[str],
    locale_override: str = "",
    default_locale: str = "zh-CN",
) -> Plan:
    """Decide send / defer / suppress and the usable channels for one recipient."""
    decision = decide_delivery(
        recipient_kind=cast(RecipientKind, recipient_kind(recipient)),
        role=None,
        category=cast(Category, category),
        urgency=cast(Urgency, urgency),
        prefs=prefs.prefs,
        now=now,
        recent_sends=recent_sends,
        default_channels=list(default_channels) or list(DEFAULT_CHANNELS),
    )
    locale = locale_override or prefs.locale or default_locale
    if decision.action == "suppress":
        return Plan("suppress", [], None, decision.reason, locale)
    usable = [c for c in decision.channels if c in available and channel_reaches(recipient, c)]
    if not usable:
        return Plan("suppress", [], None, "no configured channel reaches the recipient", locale)
    return Plan(decision.action, usable, decision.not_before, decision.reason, locale)
