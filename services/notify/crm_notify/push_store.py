"""Stored push state for streams: pages of messages after each cursor, counters, acks.

Push messages keep a per-recipient sequence; a recipient's counter row holds the last sequence
written and the last acknowledged, and each acknowledgement logs the range it covered
(push_state.py turns that into the state readers see).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Integer, Row, Select, and_, bindparam, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from crm_notify.enqueue import MESSAGE_TABLE, STATE_TABLE
from crm_notify.push_state import ACK_TABLE

# Recipients per page query: one OR branch per recipient's cursor.
OR_CHUNK = 100
_PUSH_COLUMNS = [
    MESSAGE_TABLE.c[name]
    for name in (
        "id",
        "recipient",
        "sequence",
        "category",
        "urgency",
        "subject",
        "body",
        "locale",
        "create_time",
        "campaign",
        "alert",
    )
]


def _page_statements() -> tuple[Select[Any], Select[Any]]:
    """Build the two page queries once; executions then only bind values (cached compile)."""
    seq = MESSAGE_TABLE.c.sequence
    recipient = MESSAGE_TABLE.c.recipient
    condition = or_(
        *(and_(recipient == bindparam(f"r{i}"), seq > bindparam(f"p{i}")) for i in range(OR_CHUNK))
    )
    choose = (
        select(MESSAGE_TABLE.c.seq)
        .where(condition)
        .order_by(recipient, seq)
        .limit(bindparam("n", type_=Integer))
    )
    read = (
        select(*_PUSH_COLUMNS)
        .where(MESSAGE_TABLE.c.seq.in_(bindparam("ids", expanding=True)))
        .order_by(recipient, seq)
    )
    return choose, read


_CHOOSE_PAGE, _READ_PAGE = _page_statements()


async def fetch_page(
    session: AsyncSession, cursors: Sequence[tuple[str, int]], limit: int
) -> list[Row[Any]]:
    """Return up to `limit` rows after each cursor, ordered by recipient then sequence.

    Two steps: choose the page from the (recipient, sequence) index alone, then read only
    those rows. Reading whole rows for every pending message of every recipient in the chunk
    and sorting them would cost a multiple of the page. Unused cursor slots name no recipient.
    """
    params: dict[str, object] = {"n": limit}
    for i in range(OR_CHUNK):
        name, position = cursors[i] if i < len(cursors) else ("", 0)
        params[f"r{i}"], params[f"p{i}"] = name, position
    chosen = list((await session.execute(_CHOOSE_PAGE, params)).scalars())
    if not chosen:
        return []
    return list((await session.execute(_READ_PAGE, {"ids": chosen})).all())


async def counters(session: AsyncSession, recipients: Sequence[str]) -> dict[str, tuple[int, int]]:
    """Return recipient → (last sequence, acknowledged sequence)."""
    rows = await session.execute(
        select(STATE_TABLE.c.recipient, STATE_TABLE.c.last_sequence, STATE_TABLE.c.acked_sequence)
        .where(STATE_TABLE.c.recipient.in_(list(recipients)))
        .order_by(STATE_TABLE.c.recipient)
    )
    return {r: (int(last), int(acked)) for r, last, acked in rows.all()}


async def record_acknowledgements(
    session: AsyncSession, moves: Sequence[tuple[str, int, int]], now: datetime
) -> None:
    """Move each recipient's acknowledged sequence from `lo` to `hi` and log the range.

    One small row per recipient, however many messages the acknowledgement covers.
    """
    await session.execute(
        update(STATE_TABLE)
        .where(STATE_TABLE.c.recipient == bindparam("b_r"))
        .values(acked_sequence=bindparam("b_hi")),
        [{"b_r": r, "b_hi": hi} for r, _, hi in moves],
    )
    await session.execute(
        insert(ACK_TABLE),
        [
            {"recipient": r, "from_sequence": lo, "to_sequence": hi, "ack_time": now}
            for r, lo, hi in moves
        ],
    )
