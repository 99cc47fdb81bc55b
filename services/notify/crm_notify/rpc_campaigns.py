"""Campaign RPCs: create (validated and scheduled), read with figures, list, cancel."""

from __future__ import annotations

import json
import uuid

import grpc
from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from crm.notify.v1 import notify_pb2, notify_service_pb2
from crm_notify import access
from crm_notify.context import NotifyContext
from crm_notify.dispatch import on_commit
from crm_notify.domain.templates import RenderError
from crm_notify.mapping import CHANNEL_ENUMS, from_timestamp, timestamp
from crm_notify.models import CampaignRecipientRow, CampaignRow, TopicRow
from crm_notify.names import (
    CAMPAIGN_NAME_RE,
    SEGMENT_NAME_RE,
    TOPIC_NAME_RE,
    Violations,
    check_recipient,
    parse_name,
)
from crm_notify.push_state import state_counts_query
from crm_notify.rpc_messages import requested_channels
from crm_notify.templates_store import LoadedTemplate, load_template
from crm_runtime import idempotency
from crm_runtime.auth import require_roles
from crm_runtime.errors import FailedPrecondition, InvalidArgument, NotFound
from crm_runtime.pagination import page_size

MAX_LIST_RECIPIENTS = 100_000
_METHOD = "crm.notify.v1.NotificationService/"
_STATES = {
    "scheduled": notify_pb2.CAMPAIGN_STATE_SCHEDULED,
    "dispatching": notify_pb2.CAMPAIGN_STATE_DISPATCHING,
    "dispatched": notify_pb2.CAMPAIGN_STATE_DISPATCHED,
    "cancelled": notify_pb2.CAMPAIGN_STATE_CANCELLED,
    "failed": notify_pb2.CAMPAIGN_STATE_FAILED,
}
SAMPLE_CLIENT_NAME = "示例客户有限公司"


def campaign_message(row: CampaignRow, counts: dict[str, int] | None = None) -> notify_pb2.Campaign:
    """Return the Campaign for a row; `counts` are messages per state when computed."""
    campaign = notify_pb2.Campaign(
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


async def _state_counts(session: AsyncSession, campaign_id: str) -> dict[str, int]:
    rows = await session.execute(state_counts_query(campaign_id))
    return {state: int(count) for state, count in rows.all()}


def _check_render(
    v: Violations, template: LoadedTemplate, values: dict[str, str], field: str
) -> None:
    """Record a violation when `values` do not render in every locale variant."""
    for locale in template.compiled.variants:
        try:
            template.compiled.render(values, locale=locale)
        except RenderError as exc:
            v.add(f"{field}.{exc.variable}", exc.message)
            return


def _check_audience(
    v: Violations,
    c: notify_pb2.Campaign,
    audience: str | None,
    recipients: list[notify_pb2.CampaignRecipient],
) -> None:
    """Record problems with the campaign's audience (at most ~20 for a huge list)."""
    if audience is None:
        v.add("campaign.audience", "name a segment, a recipient list or a topic")
    if audience == "segment" and not SEGMENT_NAME_RE.match(c.segment):
        v.add("campaign.segment", "must be segments/{segment}")
    if audience != "recipient_list":
        return
    if not 1 <= len(recipients) <= MAX_LIST_RECIPIENTS:
        v.add("campaign.recipient_list.recipients", f"needs 1 to {MAX_LIST_RECIPIENTS}")
    seen: set[str] = set()
    for i, r in enumerate(recipients):
        field = f"campaign.recipient_list.recipients[{i}].recipient"
        check_recipient(v, field, r.recipient)
        if r.recipient in seen:
            v.add(field, "appears twice")
        seen.add(r.recipient)
        if len(v.items) > 20:
            return


def _check_values(
    v: Violations,
    template: LoadedTemplate,
    shared: dict[str, str],
    audience: str | None,
    recipients: list[notify_pb2.CampaignRecipient],
) -> None:
    """Record values that would not render: per listed recipient, or with a sample client."""
    if audience != "recipient_list":
        _check_render(
            v, template, {"client_name": SAMPLE_CLIENT_NAME, **shared}, "campaign.variables"
        )
        return
    checked_shared = False
    for i, r in enumerate(recipients):
        # Recipients without personal values all render alike: check them once.
        if r.variables or not checked_shared:
            field = f"campaign.recipient_list.recipients[{i}].variables"
            _check_render(v, template, {**shared, **r.variables}, field)
            checked_shared = checked_shared or not r.variables
        if v.items:
            return


class CampaignsRpc:
    """CreateCampaign, GetCampaign, ListCampaigns, CancelCampaign."""

    ctx: NotifyContext

    async def CreateCampaign(  # noqa: N802
        self, request: notify_service_pb2.CreateCampaignRequest, context: grpc.aio.ServicerContext
    ) -> notify_pb2.Campaign:
        """Validate the audience and values, store the campaign, and schedule it."""
        principal = require_roles(*access.CAMPAIGN_ROLES)
        idempotency.check_request_id(request.request_id)
        c = request.campaign
        v = Violations()
        channels = requested_channels(v, "campaign.channels", list(c.channels))
        audience = c.WhichOneof("audience")
        recipients = list(c.recipient_list.recipients)
        _check_audience(v, c, audience, recipients)
        v.raise_if_any()
        topic_id = parse_name(c.topic, TOPIC_NAME_RE, "campaign.topic") if c.topic else ""
        subscribers_of = ""
        if audience == "topic_subscribers":
            subscribers_of = parse_name(
                c.topic_subscribers, TOPIC_NAME_RE, "campaign.topic_subscribers"
            )
        if audience == "segment" and not await self.ctx.directory.segment_exists(c.segment):
            raise InvalidArgument.of(
                "campaign.segment", f"{c.segment} does not exist", reason="SEGMENT_NOT_FOUND"
            )
        now = self.ctx.clock()
        schedule = from_timestamp(c.schedule_time) if c.HasField("schedule_time") else now
        method = _METHOD + "CreateCampaign"
        async with self.ctx.db.write() as session:
            replay = await idempotency.replay(
                session,
                method=method,
                request=request,
                subject=principal.subject,
                response_type=notify_pb2.Campaign,
            )
            if replay is not None:
                return replay
            template = await load_template(
                session, self.ctx.templates, c.template, field="campaign.template"
            )
            for field, topic in (
                ("campaign.topic", topic_id),
                ("campaign.topic_subscribers", subscribers_of),
            ):
                if topic and await session.get(TopicRow, topic) is None:
                    raise InvalidArgument.of(
                        field, f"topics/{topic} does not exist", reason="TOPIC_NOT_FOUND"
                    )
            shared = dict(c.variables)
            v = Violations()
            _check_values(v, template, shared, audience, recipients)
            v.raise_if_any(reason="TEMPLATE_RENDER_FAILED")
            row = CampaignRow(
                id=uuid.uuid4().hex,
                display_name=c.display_name,
                template=template.template_id,
                topic=topic_id,
                variables_json=json.dumps(shared, ensure_ascii=False, sort_keys=True),
                audience_kind={"segment": "segment", "recipient_list": "list"}.get(
                    audience or "", "topic"
                ),
                audience=c.segment if audience == "segment" else subscribers_of,
                channels_json=json.dumps(channels),
                schedule_time=schedule,
                state="scheduled",
                created_by=principal.subject,
                create_time=now,
                update_time=now,
            )
            session.add(row)
            await session.flush()
            if recipients:
                await session.execute(
                    insert(CampaignRecipientRow.__table__),  # type: ignore[attr-defined]
                    [
                        {
                            "campaign_seq": row.seq,
                            "position": i + 1,
                            "recipient": r.recipient,
                            "variables_json": json.dumps(dict(r.variables), ensure_ascii=False),
                        }
                        for i, r in enumerate(recipients)
                    ],
                )
            response = campaign_message(row)
            await idempotency.remember(
                session,
                method=method,
                request=request,
                subject=principal.subject,
                response=response,
            )
            on_commit(session, self.ctx.campaign_wakeup.set)
        return response

    async def GetCampaign(  # noqa: N802
        self, request: notify_service_pb2.GetCampaignRequest, context: grpc.aio.ServicerContext
    ) -> notify_pb2.Campaign:
        """Return a campaign with messages counted per state."""
        require_roles(*access.READ_ALL_ROLES)
        campaign_id = parse_name(request.name, CAMPAIGN_NAME_RE, "name")
        async with self.ctx.db.read() as session:
            row = await _campaign(session, campaign_id, request.name)
            counts = await _state_counts(session, campaign_id)
        return campaign_message(row, counts)

    async def ListCampaigns(  # noqa: N802
        self, request: notify_service_pb2.ListCampaignsRequest, context: grpc.aio.ServicerContext
    ) -> notify_service_pb2.ListCampaignsResponse:
        """Return campaigns newest first."""
        require_roles(*access.READ_ALL_ROLES)
        size = page_size(request.page_size)
        query = {"m": "ListCampaigns"}
        before = self.ctx.tokens.decode(request.page_token, query=query)
        statement = select(CampaignRow).order_by(col(CampaignRow.seq).desc()).limit(size + 1)
        if before is not None:
            statement = statement.where(col(CampaignRow.seq) < before)
        async with self.ctx.db.read() as session:
            rows = list((await session.execute(statement)).scalars())
        response = notify_service_pb2.ListCampaignsResponse(
            campaigns=[campaign_message(r) for r in rows[:size]]
        )
        if len(rows) > size:
            response.next_page_token = self.ctx.tokens.encode(rows[size - 1].seq, query=query)
        return response

    async def CancelCampaign(  # noqa: N802
        self, request: notify_service_pb2.CancelCampaignRequest, context: grpc.aio.ServicerContext
    ) -> notify_pb2.Campaign:
        """Stop a campaign's fan-out; messages already written still go out."""
        principal = require_roles(*access.CAMPAIGN_ROLES)
        idempotency.check_request_id(request.request_id)
        campaign_id = parse_name(request.name, CAMPAIGN_NAME_RE, "name")
        method = _METHOD + "CancelCampaign"
        async with self.ctx.db.write() as session:
            replay = await idempotency.replay(
                session,
                method=method,
                request=request,
                subject=principal.subject,
                response_type=notify_pb2.Campaign,
            )
            if replay is not None:
                return replay
            row = await _campaign(session, campaign_id, request.name)
            if row.state not in ("scheduled", "dispatching"):
                raise FailedPrecondition(
                    f"a {row.state} campaign cannot be cancelled", reason="CAMPAIGN_NOT_ACTIVE"
                )
            row.state, row.update_time = "cancelled", self.ctx.clock()
            session.add(row)
            response = campaign_message(row, await _state_counts(session, campaign_id))
            await idempotency.remember(
                session,
                method=method,
                request=request,
                subject=principal.subject,
                response=response,
            )
            return response


async def _campaign(session: AsyncSession, campaign_id: str, name: str) -> CampaignRow:
    row = (
        (await session.execute(select(CampaignRow).where(col(CampaignRow.id) == campaign_id)))
        .scalars()
        .first()
    )
    if row is None:
        raise NotFound(f"{name} does not exist", reason="CAMPAIGN_NOT_FOUND")
    return row
