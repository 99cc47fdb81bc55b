"""The janitor purges finished notify messages past retention (issue 11, defect 11)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from notify_harness import notify_service
from sqlalchemy import func, select

from crm_notify.app import SPEC
from crm_notify.models import AttemptRow, MessageRow, RecipientStateRow
from crm_runtime.janitor import run_purges

NOW = datetime(2026, 12, 1, tzinfo=UTC)
OLD = NOW - timedelta(days=400)
RECENT = NOW - timedelta(days=3)


def _message(state: str, when: datetime, *, channel: str = "email", sequence: int | None = None,
             recipient: str = "staff/rm-a") -> MessageRow:
    return MessageRow(
        id=uuid.uuid4().hex, notification=uuid.uuid4().hex, recipient=recipient,
        channel=channel, category="system", urgency="normal", sequence=sequence,
        locale="zh-CN", subject="s", body="b", template="t", state=state,
        expire_time=when + timedelta(days=1), create_time=when, update_time=when)


async def _ids(h) -> set[str]:
    async with h.ctx.db.read() as session:
        return set((await session.execute(select(MessageRow.id))).scalars())


async def test_finished_messages_past_retention_are_purged(store_url, identity):
    async with notify_service(store_url, identity, workers=False,
                              message_retention_days=180) as h:
        keep = {
            "recent": _message("delivered", RECENT),
            "in_flight": _message("queued", OLD),
            "failed_retrying": _message("failed", OLD),
            "push_unacked": _message("queued", OLD, channel="push", sequence=2),
        }
        purge = {
            "delivered": _message("delivered", OLD),
            "expired": _message("expired", OLD),
            "dead": _message("dead_letter", OLD),
            "push_acked": _message("queued", OLD, channel="push", sequence=1),
        }
        async with h.ctx.db.write() as session:
            session.add(RecipientStateRow(recipient="staff/rm-a", last_sequence=2,
                                          acked_sequence=1))
            for row in [*keep.values(), *purge.values()]:
                session.add(row)
            await session.flush()
            session.add(AttemptRow(message_seq=purge["delivered"].seq, attempt_number=1,
                                   state="delivered", attempt_time=OLD))
        removed = await run_purges(h.ctx.db, SPEC.purges(h.ctx), now=NOW)
        assert removed == len(purge)
        assert await _ids(h) == {row.id for row in keep.values()}
        async with h.ctx.db.read() as session:
            attempts = (await session.execute(select(func.count()).select_from(AttemptRow)))
            assert attempts.scalar() == 0
        assert await run_purges(h.ctx.db, SPEC.purges(h.ctx), now=NOW) == 0
