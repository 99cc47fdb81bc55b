"""Campaign fan-out: resolve recipients page by page and write their messages in batches.

Each batch is one transaction that writes the batch's messages *and* moves the campaign's
cursor, so a crash repeats at most the batch in flight, and that batch's recipients are
skipped if their messages already exist (the (campaign, recipient, channel) key also forbids
doubles). Segment members come from the client service; a page token it no longer accepts
(it restarted) makes the fan-out start over, which the skip turns into no-ops.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from crm_notify.campaigns_store import campaign_by_id
from crm_notify.context import NotifyContext
from crm_notify.directory import DirectoryError
from crm_notify.dispatch import Target, dispatch
from crm_notify.models import (
    CampaignRecipientRow,
    CampaignRow,
    ClientDirectoryRow,
    MessageRow,
    SubscriptionRow,
)
from crm_notify.names import client_of
from crm_notify.templates_store import load_template
from crm_runtime.logging import get_logger

log = get_logger("campaigns")

ACTIVE_STATES = ("scheduled", "dispatching")


@dataclass
class Batch:
    """The next recipients of a campaign and the cursor after them."""

    targets: list[Target]
    cursor: str
    done: bool


class CampaignDispatcher:
    """Background task that fans out due campaigns."""

    def __init__(self, ctx: NotifyContext) -> None:
        self.ctx = ctx

    async def run(self) -> None:
        """Dispatch until cancelled."""
        interval = self.ctx.settings.campaign_interval_seconds
        while True:
            try:
                moved = await self.run_once()
            except Exception as exc:  # A bad campaign must not stop the others.
                log.error("campaign pass failed", exc_info=exc)
                moved = 0
            if moved:
                continue
            self.ctx.campaign_wakeup.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.ctx.campaign_wakeup.wait(), timeout=interval)

    async def run_once(self) -> int:
        """Fan out one batch of the oldest due campaign; return 1 if there was one."""
        now = self.ctx.clock()
        async with self.ctx.db.read() as session:
            campaign = (
                (
                    await session.execute(
                        select(CampaignRow)
                        .where(
                            col(CampaignRow.state).in_(ACTIVE_STATES),
                            col(CampaignRow.schedule_time) <= now,
                        )
                        .order_by(col(CampaignRow.schedule_time), col(CampaignRow.seq))
                        .limit(1)
                    )
                )
                .scalars()
                .first()
            )
        if campaign is None:
            return 0
        try:
            if campaign.audience_kind == "segment":
                # Network calls happen outside any transaction.
                batch = await self._segment_batch(campaign)
            else:
                async with self.ctx.db.read() as session:
                    batch = await self._next_batch(session, campaign)
        except DirectoryError as exc:
            if exc.transient:
                log.warning("campaign waits for the client service", campaign=campaign.id)
                return 0
            await self._fail(campaign.id, str(exc))
            return 1
        await self._write_batch(campaign.id, batch)
        return 1

    async def _next_batch(self, session: AsyncSession, campaign: CampaignRow) -> Batch:
        size = self.ctx.settings.campaign_batch_size
        if campaign.audience_kind == "list":
            after = int(campaign.cursor or 0)
            table = CampaignRecipientRow.__table__  # type: ignore[attr-defined]
            rows = (
                await session.execute(
                    select(table.c.position, table.c.recipient, table.c.variables_json)
                    .where(table.c.campaign_seq == campaign.seq, table.c.position > after)
                    .order_by(table.c.position)
                    .limit(size)
                )
            ).all()
            targets = [
                Target(
                    r.recipient, json.loads(r.variables_json) if r.variables_json != "{}" else {}
                )
                for r in rows
            ]
            cursor = str(rows[-1].position) if rows else str(after)
            return Batch(targets, cursor, len(rows) < size)
        if campaign.audience_kind == "topic":
            after = int(campaign.cursor or 0)
            subs = (
                (
                    await session.execute(
                        select(SubscriptionRow)
                        .where(
                            col(SubscriptionRow.topic_id) == campaign.audience,
                            col(SubscriptionRow.seq) > after,
                        )
                        .order_by(col(SubscriptionRow.seq))
                        .limit(size)
                    )
                )
                .scalars()
                .all()
            )
            cursor = str(subs[-1].seq) if subs else str(after)
            return Batch([Target(s.recipient) for s in subs], cursor, len(subs) < size)
        raise ValueError(f"unknown audience kind {campaign.audience_kind!r}")

    async def _segment_batch(self, campaign: CampaignRow) -> Batch:
        """Resolve one page of segment members to their key persons."""
        directory = self.ctx.directory
        size = self.ctx.settings.campaign_segment_page_size
        try:
            page = await directory.segment_members(campaign.audience, campaign.cursor, size)
        except DirectoryError as exc:
            if campaign.cursor and "INVALID_ARGUMENT" in str(exc):
                # The client service restarted and forgot its token key: start over.
                page = await directory.segment_members(campaign.audience, "", size)
            else:
                raise
        targets: list[Target] = []
        for client in page.clients:
            targets.extend(Target(p) for p in await directory.key_persons_of(client))
        return Batch(targets, page.next_page_token, not page.next_page_token)

    async def _write_batch(self, campaign_id: str, batch: Batch) -> None:
        now = self.ctx.clock()
        async with self.ctx.db.write() as session:
            campaign = await campaign_by_id(session, campaign_id)
            assert campaign is not None  # Campaigns are never deleted.
            if campaign.state not in ACTIVE_STATES:
                return  # Cancelled while we resolved recipients.
            targets = await _not_yet_sent(session, campaign.id, batch.targets)
            targets = await _with_client_names(session, targets)
            template = await load_template(
                session, self.ctx.templates, f"templates/{campaign.template}"
            )
            result = await dispatch(
                session,
                self.ctx,
                template=template,
                targets=targets,
                shared=json.loads(campaign.variables_json),
                urgency="normal",
                now=now,
                default_channels=json.loads(campaign.channels_json),
                campaign=campaign.id,
            )
            campaign.recipients += len(targets)
            campaign.suppressed += result.suppressed
            campaign.render_failures += result.render_failures
            campaign.messages += len(result.written.rows)
            campaign.cursor = batch.cursor
            campaign.state = "dispatched" if batch.done else "dispatching"
            campaign.update_time = now
            session.add(campaign)
        if batch.done:
            log.info("campaign dispatched", campaign=campaign_id)

    async def _fail(self, campaign_id: str, error: str) -> None:
        async with self.ctx.db.write() as session:
            campaign = await campaign_by_id(session, campaign_id)
            assert campaign is not None  # Campaigns are never deleted.
            campaign.state, campaign.error = "failed", error[:500]
            campaign.update_time = self.ctx.clock()
            session.add(campaign)
        log.warning("campaign failed", campaign=campaign_id, error=error)


async def _not_yet_sent(
    session: AsyncSession, campaign_id: str, targets: list[Target]
) -> list[Target]:
    """Drop targets that already have this campaign's messages, and repeats within the batch."""
    unique = list({t.recipient: t for t in targets}.values())
    if not unique:
        return []
    done: set[str] = set()
    for start in range(0, len(unique), 500):
        chunk = [t.recipient for t in unique[start : start + 500]]
        rows = await session.execute(
            select(col(MessageRow.recipient))
            .where(col(MessageRow.campaign) == campaign_id, col(MessageRow.recipient).in_(chunk))
            .distinct()
        )
        done.update(rows.scalars())
    return [t for t in unique if t.recipient not in done]


async def _with_client_names(session: AsyncSession, targets: list[Target]) -> list[Target]:
    """Personalise: add client_name for contacts of clients notify has heard of."""
    clients = sorted({client_of(t.recipient) for t in targets} - {""})
    if not clients:
        return targets
    names: dict[str, str] = {}
    for start in range(0, len(clients), 500):
        rows = await session.execute(
            select(col(ClientDirectoryRow.client), col(ClientDirectoryRow.display_name)).where(
                col(ClientDirectoryRow.client).in_(clients[start : start + 500])
            )
        )
        names.update((c, n) for c, n in rows.all() if n)
    return [
        Target(t.recipient, {"client_name": names[client_of(t.recipient)], **t.variables})
        if client_of(t.recipient) in names
        else t
        for t in targets
    ]
