"""Message RPCs: send one templated notification, and read status and attempt history."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import grpc
from sqlalchemy import Row
from sqlalchemy.ext.asyncio import AsyncSession

from crm.notify.v1 import message_pb2, notify_service_pb2
from crm_notify import access
from crm_notify.context import NotifyContext
from crm_notify.dispatch import on_commit
from crm_notify.domain.formatting import normalize_locale
from crm_notify.domain.template_types import RenderError
from crm_notify.enqueue import Outgoing, wake_after_commit, write_notifications
from crm_notify.mapping import (
    CHANNEL_NAMES,
    STATE_NAMES,
    URGENCY_NAMES,
    attempt_message,
    message_message,
    timestamp,
)
from crm_notify.messages_store import attempts_page, message_by_id, messages_page
from crm_notify.names import Violations, check_recipient
from crm_notify.planner import load_preferences, load_recent_sends, plan_delivery
from crm_notify.templates_store import load_template, render_problem
from crm_runtime import idempotency, names
from crm_runtime.auth import Principal, current_principal, require_roles
from crm_runtime.errors import NotFound
from crm_runtime.pagination import page_size

_METHOD = "crm.notify.v1.NotificationService/SendMessage"
_DECISIONS = {
    "send": notify_service_pb2.DELIVERY_DECISION_SEND,
    "defer": notify_service_pb2.DELIVERY_DECISION_DEFER,
    "suppress": notify_service_pb2.DELIVERY_DECISION_SUPPRESS,
}


def requested_channels(v: Violations, field: str, channels: list[int]) -> list[str]:
    """Return channel names, recording unknown values."""
    names: list[str] = []
    for i, value in enumerate(channels):
        name = CHANNEL_NAMES.get(value)
        if name is None:
            v.add(f"{field}[{i}]", "is not a channel")
        else:
            names.append(name)
    return names


def checked_locale(v: Violations, field: str, locale: str) -> str:
    """Return a normalised locale ("" stays ""), recording unsupported ones."""
    if not locale:
        return ""
    try:
        return normalize_locale(locale)
    except ValueError:
        v.add(field, "must be zh-CN or en")
        return ""


@dataclass(frozen=True)
class _Send:
    """A validated SendMessage: who, which template with which values, how."""

    recipient: str
    template: str
    variables: dict[str, str]
    channels: list[str]
    locale: str
    urgency: str


async def _send(
    session: AsyncSession, ctx: NotifyContext, send: _Send
) -> notify_service_pb2.SendMessageResponse:
    """Plan, render and write one notification inside the caller's transaction."""
    now = ctx.clock()
    settings = ctx.settings
    template = await load_template(session, ctx.templates, send.template)
    prefs = await load_preferences(session, [send.recipient], settings.default_time_zone)
    recent = await load_recent_sends(session, [send.recipient], template.category, prefs, now)
    plan = plan_delivery(
        recipient=send.recipient,
        category=template.category,
        urgency=send.urgency,
        prefs=prefs[send.recipient],
        now=now,
        recent_sends=recent[send.recipient],
        default_channels=send.channels,
        available=ctx.channels_available,
        locale_override=send.locale,
        default_locale=settings.default_locale,
    )
    chosen = template.compiled.resolve_locale(plan.locale)
    try:
        rendered = template.compiled.render(send.variables, locale=chosen)
    except RenderError as exc:
        raise render_problem(exc) from exc
    response = notify_service_pb2.SendMessageResponse(
        decision=_DECISIONS[plan.action], reason=plan.reason
    )
    if plan.action == "suppress":
        return response
    outgoing = Outgoing(
        recipient=send.recipient,
        category=template.category,
        urgency=send.urgency,
        locale=chosen,
        subject=rendered.subject,
        body=rendered.body,
        template=template.template_id,
        channels=plan.channels,
        not_before=plan.not_before,
    )
    written = await write_notifications(session, [outgoing], now=now, ttl=ctx.message_ttl)
    on_commit(session, lambda: wake_after_commit(ctx, written))
    response.notification = f"notifications/{written.notifications[0]}"
    response.messages.extend(message_message(_Row(r)) for r in written.rows)
    stamp = timestamp(plan.not_before)
    if stamp is not None:
        response.not_before.CopyFrom(stamp)
    return response


class MessagesRpc:
    """SendMessage, GetMessage, ListMessages and ListDeliveryAttempts."""

    ctx: NotifyContext

    async def SendMessage(  # noqa: N802
        self, request: notify_service_pb2.SendMessageRequest, context: grpc.aio.ServicerContext
    ) -> notify_service_pb2.SendMessageResponse:
        """Plan, render and queue one notification; the reply says what was decided."""
        principal = require_roles(*access.SEND_ROLES)
        v = Violations()
        check_recipient(v, "recipient", request.recipient)
        channels = requested_channels(v, "channels", list(request.channels))
        locale = checked_locale(v, "locale", request.locale)
        if request.urgency not in URGENCY_NAMES:
            v.add("urgency", "is not an urgency")
        v.raise_if_any()
        send = _Send(
            recipient=request.recipient,
            template=request.template,
            variables=dict(request.variables),
            channels=channels,
            locale=locale,
            urgency=URGENCY_NAMES[request.urgency],
        )
        return await idempotency.mutation(
            self.ctx.db,
            request,
            method=_METHOD,
            subject=principal.subject,
            response_type=notify_service_pb2.SendMessageResponse,
            work=lambda session: _send(session, self.ctx, send),
        )

    async def GetMessage(  # noqa: N802
        self, request: notify_service_pb2.GetMessageRequest, context: grpc.aio.ServicerContext
    ) -> message_pb2.Message:
        """Return one message with its current state."""
        principal = current_principal()
        message_id = names.parse(request, "name")["message"]
        async with self.ctx.db.read() as session:
            row = await _visible_message(session, message_id, principal, request.name)
        return message_message(row)

    async def ListMessages(  # noqa: N802
        self, request: notify_service_pb2.ListMessagesRequest, context: grpc.aio.ServicerContext
    ) -> notify_service_pb2.ListMessagesResponse:
        """Return messages newest first, filtered by recipient, campaign and state."""
        principal = current_principal()
        size = page_size(request.page_size)
        v = Violations()
        recipient = request.recipient
        if recipient:
            check_recipient(v, "recipient", recipient)
        elif not principal.has(*access.READ_ALL_ROLES):
            recipient = principal.subject  # A person's view defaults to their own messages.
        campaign = ""
        if request.campaign:
            match = names.field_pattern(request, "campaign").regex.fullmatch(request.campaign)
            if match is None:
                v.add("campaign", "must be campaigns/{campaign}")
            else:
                campaign = match["campaign"]
        if request.state and request.state not in STATE_NAMES:
            v.add("state", "is not a delivery state")
        v.raise_if_any()
        if not access.may_read(principal, recipient):
            raise access.recipient_denied()
        async with self.ctx.db.read() as session:
            page = await messages_page(
                session,
                recipient=recipient,
                campaign=campaign,
                state=STATE_NAMES.get(request.state, ""),
                tokens=self.ctx.tokens,
                page_token=request.page_token,
                size=size,
                query={"m": "ListMessages", "r": recipient, "c": campaign, "s": request.state},
            )
        return notify_service_pb2.ListMessagesResponse(
            messages=[message_message(r) for r in page.rows], next_page_token=page.next_page_token
        )

    async def ListDeliveryAttempts(  # noqa: N802
        self,
        request: notify_service_pb2.ListDeliveryAttemptsRequest,
        context: grpc.aio.ServicerContext,
    ) -> notify_service_pb2.ListDeliveryAttemptsResponse:
        """Return a message's attempts in order."""
        principal = current_principal()
        message_id = names.parse(request, "parent")["message"]
        async with self.ctx.db.read() as session:
            message = await _visible_message(session, message_id, principal, request.parent)
            page = await attempts_page(
                session,
                message.seq,
                tokens=self.ctx.tokens,
                page_token=request.page_token,
                size=page_size(request.page_size),
                query={"m": "ListDeliveryAttempts", "p": request.parent},
            )
        return notify_service_pb2.ListDeliveryAttemptsResponse(
            attempts=[attempt_message(r, message_id) for r in page.rows],
            next_page_token=page.next_page_token,
        )


async def _visible_message(
    session: AsyncSession, message_id: str, principal: Principal, name: str
) -> Row[Any]:
    row = await message_by_id(session, message_id)
    if row is None or not access.may_read(principal, row.recipient):
        if principal.has(*access.READ_ALL_ROLES):
            raise NotFound(f"{name} does not exist", reason="MESSAGE_NOT_FOUND")
        raise access.recipient_denied()
    return row


class _Row:
    """Attribute access over a freshly written row dict, for message_message()."""

    def __init__(self, values: dict[str, object]) -> None:
        self.__dict__.update(values)
