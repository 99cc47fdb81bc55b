"""Campaign RPCs: create (validated and scheduled), read with figures, list, cancel."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import datetime

import grpc
from sqlalchemy.ext.asyncio import AsyncSession

from crm.notify.v1 import campaign_pb2, notify_service_pb2, topic_pb2
from crm_notify import access
from crm_notify.campaign_checks import check_audience, check_values
from crm_notify.campaigns_store import (
    campaign_by_id,
    campaigns_page,
    insert_campaign,
    state_counts,
)
from crm_notify.context import NotifyContext
from crm_notify.dispatch import on_commit
from crm_notify.mapping import CHANNEL_ENUMS, from_timestamp, timestamp
from crm_notify.models import CampaignRow
from crm_notify.names import Violations
from crm_notify.rpc_messages import requested_channels
from crm_notify.templates_store import load_template
from crm_notify.topics_store import topic_exists
from crm_runtime import idempotency, names
from crm_runtime.auth import require_roles
from crm_runtime.errors import FailedPrecondition, InvalidArgument, NotFound
from crm_runtime.pagination import page_size

_METHOD = "crm.notify.v1.NotificationService/"
_TOPIC = names.pattern_of(topic_pb2.Topic)
_STATES = {
    "scheduled": campaign_pb2.CAMPAIGN_STATE_SCHEDULED,
    "dispatching": campaign_pb2.CAMPAIGN_STATE_DISPATCHING,
    "dispatched": campaign_pb2.CAMPAIGN_STATE_DISPATCHED,
    "cancelled": campaign_pb2.CAMPAIGN_STATE_CANCELLED,
    "failed": campaign_pb2.CAMPAIGN_STATE_FAILED,
}


def campaign_message(
    row: CampaignRow, counts: dict[str, int] | None = None
) -> campaign_pb2.Campaign:
    """Return the Campaign for a row; `counts` are messages per state when computed."""
    campaign = campaign_pb2.Campaign(
        name=f"campaigns/{row.id}",
        display_name=row.display_name,
        template=f"templates/{row.template}",
        topic=f"topics/{row.topic}" if row.topic else "",
        variables=json.loads(row.variables_json),
        channels=[CHANNEL_ENUMS[c] for c in json.loads(row.channels_json)],
        schedule_time=timestamp(row.schedule_time),
        state=_STATES[row.state],
        error=row.error,
        create_time=timestamp(row.create_time),
        update_time=timestamp(row.update_time),
    )
    if row.audience_kind == "segment":
        campaign.segment = row.audience
    elif row.audience_kind == "topic":
        campaign.topic_subscribers = f"topics/{row.audience}"
    else:
        campaign.recipient_list.SetInParent()  # Listed recipients are not echoed back.
    stats = campaign.stats
    stats.recipients, stats.suppressed = row.recipients, row.suppressed
    stats.render_failures, stats.messages = row.render_failures, row.messages
    for state, count in (counts or {}).items():
        if hasattr(stats, state):
            setattr(stats, state, count)
    return campaign


@dataclass(frozen=True)
class _NewCampaign:
    """A CreateCampaign request checked as far as it can be without the store."""

    campaign: campaign_pb2.Campaign
    audience: str | None
    recipients: list[campaign_pb2.CampaignRecipient]
    channels: list[str]
    topic: str
    subscribers_of: str
    schedule: datetime


async def _create(
    session: AsyncSession, ctx: NotifyContext, new: _NewCampaign, created_by: str
) -> campaign_pb2.Campaign:
    """Check the template, topics and values against the store, then write the campaign."""
    c, audience = new.campaign, new.audience
    template = await load_template(session, ctx.templates, c.template, field="campaign.template")
    for field, topic in (
        ("campaign.topic", new.topic),
        ("campaign.topic_subscribers", new.subscribers_of),
    ):
        if topic and not await topic_exists(session, topic):
            raise InvalidArgument.of(
                field, f"topics/{topic} does not exist", reason="TOPIC_NOT_FOUND"
            )
    shared = dict(c.variables)
    v = Violations()
    check_values(v, template, shared, audience, new.recipients)
    v.raise_if_any(reason="TEMPLATE_RENDER_FAILED")
    now = ctx.clock()
    row = CampaignRow(
        id=uuid.uuid4().hex,
        display_name=c.display_name,
        template=template.template_id,
        topic=new.topic,
        variables_json=json.dumps(shared, ensure_ascii=False, sort_keys=True),
        audience_kind={"segment": "segment", "recipient_list": "list"}.get(audience or "", "topic"),
        audience=c.segment if audience == "segment" else new.subscribers_of,
        channels_json=json.dumps(new.channels),
        schedule_time=new.schedule,
        state="scheduled",
        created_by=created_by,
        create_time=now,
        update_time=now,
    )
    await insert_campaign(session, row, new.recipients)
    on_commit(session, ctx.campaign_wakeup.set)
    return campaign_message(row)


class CampaignsRpc:
    """CreateCampaign, GetCampaign, ListCampaigns, CancelCampaign."""

    ctx: NotifyContext

    async def CreateCampaign(  # noqa: N802
        self, request: notify_service_pb2.CreateCampaignRequest, context: grpc.aio.ServicerContext
    ) -> campaign_pb2.Campaign:
        """Validate the audience and values, store the campaign, and schedule it."""
        principal = require_roles(*access.CAMPAIGN_ROLES)
        c = request.campaign
        v = Violations()
        channels = requested_channels(v, "campaign.channels", list(c.channels))
        audience = c.WhichOneof("audience")
        recipients = list(c.recipient_list.recipients)
        check_audience(v, c, audience, recipients)
        v.raise_if_any()
        topic_id = _TOPIC.parse(c.topic, "campaign.topic")["topic"] if c.topic else ""
        subscribers_of = ""
        if audience == "topic_subscribers":
            subscribers_of = _TOPIC.parse(c.topic_subscribers, "campaign.topic_subscribers")[
                "topic"
            ]
        if audience == "segment" and not await self.ctx.directory.segment_exists(c.segment):
            raise InvalidArgument.of(
                "campaign.segment", f"{c.segment} does not exist", reason="SEGMENT_NOT_FOUND"
            )
        schedule = from_timestamp(c.schedule_time) if c.HasField("schedule_time") else None
        new = _NewCampaign(
            c,
            audience,
            recipients,
            channels,
            topic_id,
            subscribers_of,
            schedule or self.ctx.clock(),
        )
        return await idempotency.mutation(
            self.ctx.db,
            request,
            method=_METHOD + "CreateCampaign",
            subject=principal.subject,
            response_type=campaign_pb2.Campaign,
            work=lambda session: _create(session, self.ctx, new, principal.subject),
        )

    async def GetCampaign(  # noqa: N802
        self, request: notify_service_pb2.GetCampaignRequest, context: grpc.aio.ServicerContext
    ) -> campaign_pb2.Campaign:
        """Return a campaign with messages counted per state."""
        require_roles(*access.READ_ALL_ROLES)
        campaign_id = names.parse(request, "name")["campaign"]
        async with self.ctx.db.read() as session:
            row = await _campaign(session, campaign_id, request.name)
            counts = await state_counts(session, campaign_id)
        return campaign_message(row, counts)

    async def ListCampaigns(  # noqa: N802
        self, request: notify_service_pb2.ListCampaignsRequest, context: grpc.aio.ServicerContext
    ) -> notify_service_pb2.ListCampaignsResponse:
        """Return campaigns newest first."""
        require_roles(*access.READ_ALL_ROLES)
        async with self.ctx.db.read() as session:
            page = await campaigns_page(
                session,
                tokens=self.ctx.tokens,
                page_token=request.page_token,
                size=page_size(request.page_size),
                query={"m": "ListCampaigns"},
            )
        return notify_service_pb2.ListCampaignsResponse(
            campaigns=[campaign_message(r) for r in page.rows],
            next_page_token=page.next_page_token,
        )

    async def CancelCampaign(  # noqa: N802
        self, request: notify_service_pb2.CancelCampaignRequest, context: grpc.aio.ServicerContext
    ) -> campaign_pb2.Campaign:
        """Stop a campaign's fan-out; messages already written still go out."""
        principal = require_roles(*access.CAMPAIGN_ROLES)
        campaign_id = names.parse(request, "name")["campaign"]

        async def work(session: AsyncSession) -> campaign_pb2.Campaign:
            row = await _campaign(session, campaign_id, request.name)
            if row.state not in ("scheduled", "dispatching"):
                raise FailedPrecondition(
                    f"a {row.state} campaign cannot be cancelled", reason="CAMPAIGN_NOT_ACTIVE"
                )
            row.state, row.update_time = "cancelled", self.ctx.clock()
            session.add(row)
            return campaign_message(row, await state_counts(session, campaign_id))

        return await idempotency.mutation(
            self.ctx.db,
            request,
            method=_METHOD + "CancelCampaign",
            subject=principal.subject,
            response_type=campaign_pb2.Campaign,
            work=work,
        )


async def _campaign(session: AsyncSession, campaign_id: str, name: str) -> CampaignRow:
    row = await campaign_by_id(session, campaign_id)
    if row is None:
        raise NotFound(f"{name} does not exist", reason="CAMPAIGN_NOT_FOUND")
    return row
