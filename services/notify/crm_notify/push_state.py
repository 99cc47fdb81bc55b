"""The delivery state of messages as readers see it, push acknowledgements included.

Push messages are stored `queued`; an acknowledgement moves the recipient's counter and logs
the acknowledged range (models.PushAckRow) instead of rewriting every message row. Reads join
both: a push message at or below the acknowledged sequence is delivered, at the time of the
acknowledgement that covered it.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, FromClause, Label, Select, and_, case, func, literal, select

from crm_notify.enqueue import MESSAGE_TABLE, STATE_TABLE
from crm_notify.models import PushAckRow

ACK_TABLE = PushAckRow.__table__  # type: ignore[attr-defined]
_M, _S, _A = MESSAGE_TABLE, STATE_TABLE, ACK_TABLE

ACKNOWLEDGED: ColumnElement[bool] = and_(
    _M.c.channel == "push",
    _M.c.sequence.is_not(None),
    _M.c.sequence <= func.coalesce(_S.c.acked_sequence, 0),
)
STATE: Label[Any] = case((ACKNOWLEDGED, literal("delivered")), else_=_M.c.state).label("state")
DELIVER_TIME: Label[Any] = func.coalesce(_M.c.deliver_time, _A.c.ack_time).label("deliver_time")

# Messages with their recipient's counter and the acknowledgement that covered them.
MESSAGE_VIEW: FromClause = _M.outerjoin(_S, _S.c.recipient == _M.c.recipient).outerjoin(
    _A,
    and_(
        _A.c.recipient == _M.c.recipient,
        _M.c.sequence > _A.c.from_sequence,
        _M.c.sequence <= _A.c.to_sequence,
    ),
)


def select_messages() -> Select[Any]:
    """Return SELECT of every message column with state and deliver_time as readers see them."""
    columns = [c for c in _M.c if c.name not in ("state", "deliver_time")]
    return select(*columns, STATE, DELIVER_TIME).select_from(MESSAGE_VIEW)


def state_counts_query(campaign_id: str) -> Select[Any]:
    """Return SELECT state, count(*) of one campaign's messages, push acks included."""
    view = _M.outerjoin(_S, _S.c.recipient == _M.c.recipient)
    return (
        select(STATE, func.count())
        .select_from(view)
        .where(_M.c.campaign == campaign_id)
        .group_by(STATE)
    )
