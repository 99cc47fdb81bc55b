"""The monitoring stream's store: the batch log (replay, history) and unit state checkpoints.

A batch's new postings are stored as one row (its serialized request), so the log costs one
INSERT per batch whatever its size; checkpoints are one Core upsert (``executemany``). The log
is kept for the history window (back-tests replay it) and at least until every unit's
checkpoint covers it; a watermark row per partition records the first position some unit's
checkpoint does not cover, so a restart replays only from there.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from datetime import datetime

from sqlalchemy import Table, delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from crm_risk.models_monitoring import MonitorBatchRow, MonitorStateRow
from crm_runtime.db import Database

BATCH: Table = MonitorBatchRow.__table__  # type: ignore[attr-defined]
STATE: Table = MonitorStateRow.__table__  # type: ignore[attr-defined]
REPLAY_CHUNK = 20
WATERMARK = "~watermark:"  # state rows of this prefix hold a partition's replay watermark


async def append(
    session: AsyncSession, *, partition: str, batch_id: str, count: int, body: bytes,
    now: datetime,
) -> int:
    """Store one batch's new postings; return its log position."""
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
    partition: str,
    watermark: int,
) -> None:
    """Upsert unit state blobs as of log position ``through_seq`` and the partition's
    watermark (the first log position some unit's checkpoint does not cover)."""
    dialect = session.bind.dialect.name if session.bind is not None else "sqlite"
    insert = postgresql.insert(STATE) if dialect == "postgresql" else sqlite.insert(STATE)
    statement = insert.on_conflict_do_update(
        index_elements=[STATE.c.unit_id],
        set_={
            "state": insert.excluded.state,
            "through_seq": insert.excluded.through_seq,
            "ruleset_label": insert.excluded.ruleset_label,
            "update_time": insert.excluded.update_time,
        },
    )
    rows = [
        {"unit_id": uid, "state": blob, "through_seq": through_seq, "ruleset_label": label,
         "update_time": now}
        for uid, blob in states.items()
    ]
    rows.append({"unit_id": WATERMARK + partition, "state": b"", "through_seq": watermark,
                 "ruleset_label": label, "update_time": now})
    await session.execute(statement, rows)


async def load_states(
    database: Database, partition: str,
) -> tuple[list[tuple[str, bytes, int]], int]:
    """Return every checkpointed unit state with its log position, and the partition's
    replay watermark (0 when none was written)."""
    async with database.read() as session:
        rows = list(await session.execute(
            select(STATE.c.unit_id, STATE.c.state, STATE.c.through_seq)
        ))
    mark = 0
    states = []
    for unit_id, blob, seq in rows:
        if unit_id == WATERMARK + partition:
            mark = int(seq)
        elif not unit_id.startswith(WATERMARK):
            states.append((unit_id, blob, int(seq)))
    return states, mark


async def batches_after(
    database: Database, partition: str, after: int
) -> AsyncIterator[list[tuple[int, bytes]]]:
    """Yield the partition's batches after log position ``after``, in order, in chunks."""
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


async def purge(
    session: AsyncSession, *, partition: str, below_seq: int, older_than: datetime,
) -> int:
    """Delete the partition's batches below ``below_seq`` received before ``older_than``."""
    result = await session.execute(
        delete(BATCH).where(BATCH.c.partition == partition, BATCH.c.seq < below_seq,
                            BATCH.c.receive_time < older_than)
    )
    return int(getattr(result, "rowcount", 0) or 0)
