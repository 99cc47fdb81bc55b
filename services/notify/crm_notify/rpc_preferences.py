"""Preference RPCs: per-recipient channels, consents, quiet hours and frequency caps."""

from __future__ import annotations

import json
from datetime import time
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import grpc
from google.type import timeofday_pb2
from sqlalchemy.ext.asyncio import AsyncSession

from crm.notify.v1 import notify_service_pb2, preference_pb2
from crm_notify import access
from crm_notify.context import NotifyContext
from crm_notify.mapping import (
    CATEGORY_ENUMS,
    CATEGORY_NAMES,
    CHANNEL_ENUMS,
    CHANNEL_NAMES,
    etag,
)
from crm_notify.models import PreferenceRow
from crm_notify.names import PREFERENCES_SUFFIX, Violations, is_staff, require_recipient
from crm_notify.rpc_messages import checked_locale
from crm_runtime import idempotency
from crm_runtime.auth import current_principal
from crm_runtime.errors import Aborted, InvalidArgument
from crm_runtime.fieldmask import resolve_mask

MUTABLE = frozenset(
    {"locale", "time_zone", "quiet_hours", "category_channels", "consents", "frequency_caps"}
)
_METHOD = "crm.notify.v1.NotificationService/UpdatePreferences"


def recipient_of(name: str, field: str) -> str:
    """Return the recipient of a preferences name, or raise INVALID_ARGUMENT."""
    if not name.endswith(PREFERENCES_SUFFIX):
        raise InvalidArgument.of(field, "must be {recipient}/preferences")
    recipient = name.removesuffix(PREFERENCES_SUFFIX)
    require_recipient(field, recipient)
    return recipient


def _clock(value: timeofday_pb2.TimeOfDay) -> time:
    return time(value.hours, value.minutes)


def preferences_message(recipient: str, row: PreferenceRow | None) -> preference_pb2.Preferences:
    """Return the Preferences of a recipient (empty defaults without a row)."""
    message = preference_pb2.Preferences(name=recipient + PREFERENCES_SUFFIX)
    if row is None:
        message.etag = etag("preferences", recipient, 0)
        return message
    message.locale, message.time_zone = row.locale, row.time_zone
    if row.quiet_start and row.quiet_end:
        start, end = time.fromisoformat(row.quiet_start), time.fromisoformat(row.quiet_end)
        message.quiet_hours.start.CopyFrom(
            timeofday_pb2.TimeOfDay(hours=start.hour, minutes=start.minute)
        )
        message.quiet_hours.end.CopyFrom(
            timeofday_pb2.TimeOfDay(hours=end.hour, minutes=end.minute)
        )
    for category, channels in sorted(json.loads(row.channels_json).items()):
        message.category_channels.add(
            category=CATEGORY_ENUMS[category], channels=[CHANNEL_ENUMS[c] for c in channels]
        )
    for category, granted in sorted(json.loads(row.consents_json).items()):
        message.consents.add(category=CATEGORY_ENUMS[category], granted=granted)
    for category, cap in sorted(json.loads(row.caps_json).items()):
        added = message.frequency_caps.add(
            category=CATEGORY_ENUMS[category], max_count=cap["max_count"]
        )
        added.period.FromSeconds(int(cap["period_s"]))
    message.etag = etag("preferences", recipient, row.version)
    message.update_time.FromDatetime(row.update_time)
    return message


def _apply(
    v: Violations,
    row: PreferenceRow,
    prefs: preference_pb2.Preferences,
    paths: set[str],
    staff: bool,
) -> None:
    """Validate and copy the named fields onto the row."""
    f = "preferences"
    if "locale" in paths:
        row.locale = checked_locale(v, f"{f}.locale", prefs.locale)
    if "time_zone" in paths:
        row.time_zone = prefs.time_zone
        if prefs.time_zone:
            try:
                ZoneInfo(prefs.time_zone)
            except (ZoneInfoNotFoundError, ValueError):
                v.add(f"{f}.time_zone", "is not an IANA time zone")
    if "quiet_hours" in paths:
        row.quiet_start = row.quiet_end = ""
        if prefs.HasField("quiet_hours"):
            q = prefs.quiet_hours
            for part, value in (("start", q.start), ("end", q.end)):
                if (
                    not (0 <= value.hours <= 23 and 0 <= value.minutes <= 59)
                    or value.seconds
                    or value.nanos
                ):
                    v.add(
                        f"{f}.quiet_hours.{part}", "must be a whole minute between 00:00 and 23:59"
                    )
            if (q.start.hours, q.start.minutes) == (q.end.hours, q.end.minutes):
                v.add(f"{f}.quiet_hours", "start and end must differ")
            elif not v.items:
                row.quiet_start = _clock(q.start).strftime("%H:%M")
                row.quiet_end = _clock(q.end).strftime("%H:%M")
    _apply_categories(v, row, prefs, paths, staff)


def _apply_categories(
    v: Violations,
    row: PreferenceRow,
    prefs: preference_pb2.Preferences,
    paths: set[str],
    staff: bool,
) -> None:
    """Validate and copy per-category channels, consents and caps onto the row."""
    f = "preferences"
    if "category_channels" in paths:
        channels: dict[str, list[str]] = {}
        for i, item in enumerate(prefs.category_channels):
            category = CATEGORY_NAMES.get(item.category)
            names = [CHANNEL_NAMES.get(c) for c in item.channels]
            if category is None or category in channels:
                v.add(f"{f}.category_channels[{i}].category", "unknown or repeated category")
                continue
            if None in names:
                v.add(f"{f}.category_channels[{i}].channels", "contains an unknown channel")
                continue
            if staff and category == "risk_alert" and not names:
                v.add(
                    f"{f}.category_channels[{i}].channels",
                    "risk alerts to staff cannot be switched off",
                )
            if not staff and "task" in names:
                v.add(f"{f}.category_channels[{i}].channels", "the task inbox is for staff only")
            channels[category] = [n for n in names if n is not None]
        row.channels_json = json.dumps(channels, sort_keys=True)
    if "consents" in paths:
        consents: dict[str, bool] = {}
        for i, consent in enumerate(prefs.consents):
            category = CATEGORY_NAMES.get(consent.category)
            if category is None or category in consents:
                v.add(f"{f}.consents[{i}].category", "unknown or repeated category")
                continue
            consents[category] = consent.granted
        row.consents_json = json.dumps(consents, sort_keys=True)
    if "frequency_caps" in paths:
        caps: dict[str, dict[str, float]] = {}
        for i, cap in enumerate(prefs.frequency_caps):
            category = CATEGORY_NAMES.get(cap.category)
            period = cap.period.ToSeconds()
            if category is None or category in caps:
                v.add(f"{f}.frequency_caps[{i}].category", "unknown or repeated category")
            elif cap.max_count < 1:
                v.add(f"{f}.frequency_caps[{i}].max_count", "must be at least 1")
            elif period <= 0:
                v.add(f"{f}.frequency_caps[{i}].period", "must be positive")
            else:
                caps[category] = {"max_count": cap.max_count, "period_s": period}
        row.caps_json = json.dumps(caps, sort_keys=True)


class PreferencesRpc:
    """GetPreferences and UpdatePreferences."""

    ctx: NotifyContext

    async def GetPreferences(  # noqa: N802
        self, request: notify_service_pb2.GetPreferencesRequest, context: grpc.aio.ServicerContext
    ) -> preference_pb2.Preferences:
        """Return a recipient's preferences."""
        principal = current_principal()
        recipient = recipient_of(request.name, "name")
        if not access.may_read(principal, recipient):
            raise access.recipient_denied()
        async with self.ctx.db.read() as session:
            row = await session.get(PreferenceRow, recipient)
        return preferences_message(recipient, row)

    async def UpdatePreferences(  # noqa: N802
        self,
        request: notify_service_pb2.UpdatePreferencesRequest,
        context: grpc.aio.ServicerContext,
    ) -> preference_pb2.Preferences:
        """Change the fields in the mask, creating the preferences when missing."""
        principal = current_principal()
        recipient = recipient_of(request.preferences.name, "preferences.name")
        access.require_act_for(principal, recipient)
        paths = resolve_mask(
            request.update_mask,
            mutable=MUTABLE,
            protected=(),
            resource=preference_pb2.Preferences.DESCRIPTOR,
        )
        staff = is_staff(recipient)

        async def work(session: AsyncSession) -> preference_pb2.Preferences:
            row = await session.get(PreferenceRow, recipient)
            version = row.version if row is not None else 0
            if request.preferences.etag and request.preferences.etag != etag(
                "preferences", recipient, version
            ):
                raise Aborted(
                    "the preferences changed since they were read", reason="ETAG_MISMATCH"
                )
            if row is None:
                row = PreferenceRow(recipient=recipient, version=0, update_time=self.ctx.clock())
            v = Violations()
            _apply(v, row, request.preferences, paths, staff)
            v.raise_if_any()
            row.version += 1
            row.update_time = self.ctx.clock()
            session.add(row)
            return preferences_message(recipient, row)

        return await idempotency.mutation(
            self.ctx.db,
            request,
            method=_METHOD,
            subject=principal.subject,
            response_type=preference_pb2.Preferences,
            work=work,
        )
