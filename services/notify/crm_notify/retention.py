"""Retention of delivered messages: the janitor's notify purge (issue 11, defect 11).

Messages that reached an end (delivered, expired, dead-lettered, or push messages at or below
the recipient's acknowledged sequence) are kept `message_retention_days` after their last
change, then deleted with their attempts. Messages still on their way are never touched. Each
pass deletes a bounded batch, so a first run over a large backlog is many short transactions.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from crm_notify.domain.retry import TERMINAL_STATUSES
from crm_notify.enqueue import MESSAGE_TABLE, STATE_TABLE
from crm_notify.models import AttemptRow
from crm_notify.push_state import ACKNOWLEDGED
from crm_runtime.janitor import Purge

ATTEMPT_TABLE = AttemptRow.__table__  # type: ignore[attr-defined]
_M, _S = MESSAGE_TABLE.c, STATE_TABLE.c
BATCH = 5_000


def delivered_message_purge(retention_days: float) -> Purge:
    """Return the janitor purge of finished messages older than `retention_days`."""
    retention = timedelta(days=retention_days)

    async def purge(session: AsyncSession, now: datetime) -> int:
        finished = or_(_M.state.in_([str(s) for s in TERMINAL_STATUSES]), ACKNOWLEDGED)
        chosen = (
            select(_M.seq)
            .select_from(MESSAGE_TABLE.outerjoin(STATE_TABLE, _S.recipient == _M.recipient))
            .where(finished, _M.update_time < now - retention)
            .limit(BATCH)
        )
        seqs = [row[0] for row in (await session.execute(chosen)).all()]
        if seqs:
            await session.execute(
                delete(ATTEMPT_TABLE).where(ATTEMPT_TABLE.c.message_seq.in_(seqs))
            )
            await session.execute(delete(MESSAGE_TABLE).where(_M.seq.in_(seqs)))
        return len(seqs)

    return purge
