"""The monitoring stream's store: the batch log (replay) and client state checkpoints.

A batch's new transactions are stored as one row (its serialized request), so the log costs
one INSERT per batch whatever its size; checkpoints are one Core upsert (`executemany`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from datetime import datetime

from sqlalchemy import Table, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from crm_risk.models_monitoring import MonitorBatchRow, MonitorStateRow
from crm_runtime.db import Database

BATCH: Table = MonitorBatchRow.__table__  # type: ignore[attr-defined]
STATE: Table = MonitorStateRow.__table__  # type: ignore[attr-defined]
REPLAY_CHUNK = 20


async def append(
    session: AsyncSession, *, partition: str, batch_id: str, count: int, body: bytes,
    now: datetime,
) -> int:
    """Store one batch's new transactions; return its log position."""
    result = await session.execute(
        BATCH.insert().returning(BATCH.c.seq),
        {"partition": partition, "batch_id": batch_id[:64], "transaction_count": count,
         "body": body, "receive_time": now},
    )
    return int(result.scalar_one())


async def save_states(
    session: AsyncSession,
    states: Mapping[str, bytes],
    *,
    through_seq: int,
    label: str,
    now: datetime,
) -> None:
    """Upsert client state blobs as of log position `through_seq`."""
    if not states:
        return
    dialect = session.bind.dialect.name if session.bind is not None else "sqlite"
    insert = postgresql.insert(STATE) if dialect == "postgresql" else sqlite.insert(STATE)
    statement = insert.on_conflict_do_update(
        index_elements=[STATE.c.client_id],
        set_={
            "state": insert.excluded.state,
            "through_seq": insert.excluded.through_seq,
            "ruleset_label": insert.excluded.ruleset_label,
            "update_time": insert.excluded.update_time,
        },
    )
    await session.execute(statement, [
        {"client_id": cid, "state": blob, "through_seq": through_seq, "ruleset_label": label,
         "update_time": now}
        for cid, blob in states.items()
    ])


async def load_states(database: Database) -> list[tuple[str, bytes, int]]:
    """Return every checkpointed client state with its log position."""
    async with database.read() as session:
        rows = await session.execute(
            select(STATE.c.client_id, STATE.c.state, STATE.c.through_seq)
        )
        return [(r[0], r[1], int(r[2])) for r in rows]


async def batches_after(
    database: Database, partition: str, after: int
) -> AsyncIterator[list[tuple[int, bytes]]]:
    """Yield the partition's batches after log position `after`, in order, in chunks."""
    while True:
        async with database.read() as session:
            rows = (await session.execute(
                select(BATCH.c.seq, BATCH.c.body)
                .where(BATCH.c.partition == partition, BATCH.c.seq > after)
                .order_by(BATCH.c.seq)
                .limit(REPLAY_CHUNK)
            )).all()
        if not rows:
            return
        after = int(rows[-1][0])
        yield [(int(r[0]), r[1]) for r in rows]
