"""The monitoring stream's store: the batch log (replay, history) and unit state checkpoints.

A batch's postings of one partition are stored as one row (their serialized request), so the
log costs one INSERT per batch and partition whatever the size; checkpoints are one Core
upsert (``executemany``). A row's ``applied_seq`` is its position in the partition's
processing order: the owner sets it when it applies the row (in the same insert for postings
it received itself); a row another replica received waits with none (``pending``) until the
owner applies it and writes its result (``mark_applied``), which the receiver reads back
(``results``). The log is kept for the history window (back-tests replay it) and at least
until every unit's checkpoint covers it; a watermark row per partition records the first
position some unit's checkpoint does not cover, so a takeover replays only from there.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable, Collection, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Table, delete, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from crm_risk.models_monitoring import MonitorBatchRow, MonitorStateRow
from crm_risk.monitoring.store.leases import Fenced
from crm_runtime.db import Database

BATCH: Table = MonitorBatchRow.__table__  # type: ignore[attr-defined]
STATE: Table = MonitorStateRow.__table__  # type: ignore[attr-defined]
REPLAY_CHUNK = 20
WATERMARK = "~watermark:"  # state rows of this prefix hold a partition's replay watermark


@dataclass
class Outcome:
    """What applying one log row gave: new postings, duplicates, alerts, warnings named."""

    accepted: int = 0
    duplicates: int = 0
    alerts: int = 0
    warnings: list[str] = field(default_factory=list)

    def columns(self, applied_seq: int) -> dict[str, object]:
        """Return the row's result columns."""
        return {"applied_seq": applied_seq, "accepted": self.accepted,
                "duplicates": self.duplicates, "alert_count": self.alerts,
                "warnings_json": json.dumps(self.warnings)}


async def append(
    session: AsyncSession, *, partition: str, batch_id: str, count: int, body: bytes,
    now: datetime, applied: tuple[int, Outcome] | None = None,
) -> int:
    """Store one batch's postings of one partition; return the row's ``seq``.

    ``applied`` is the position and result when the owner applies the row as it stores it;
    without it the row waits for the partition's owner.
    """
    values: dict[str, object] = {
        "partition": partition, "batch_id": batch_id[:64], "transaction_count": count,
        "body": body, "receive_time": now}
    if applied is not None:
        values.update(applied[1].columns(applied[0]))
    result = await session.execute(BATCH.insert().returning(BATCH.c.seq), values)
    return int(result.scalar_one())


async def pending(database: Database, partitions: Collection[str]) -> list[tuple[int, str, bytes]]:
    """Return the rows of ``partitions`` no owner applied yet, oldest first."""
    if not partitions:
        return []
    async with database.read() as session:
        rows = (await session.execute(
            select(BATCH.c.seq, BATCH.c.partition, BATCH.c.body)
            .where(BATCH.c.applied_seq.is_(None), BATCH.c.partition.in_(partitions))
            .order_by(BATCH.c.seq)
        )).all()
    return [(int(seq), str(partition), body) for seq, partition, body in rows]


async def mark_applied(session: AsyncSession, seq: int, partition: str, applied_seq: int,
                       outcome: Outcome) -> None:
    """Record that a waiting row was applied at ``applied_seq``, or raise ``Fenced``."""
    result = await session.execute(
        update(BATCH).where(BATCH.c.seq == seq, BATCH.c.applied_seq.is_(None))
        .values(**outcome.columns(applied_seq)))
    if result.rowcount != 1:  # type: ignore[attr-defined]
        raise Fenced(partition)


async def results(database: Database, seqs: Collection[int]) -> dict[int, Outcome]:
    """Return the outcome of each of the rows ``seqs`` that was applied."""
    async with database.read() as session:
        rows = (await session.execute(
            select(BATCH.c.seq, BATCH.c.accepted, BATCH.c.duplicates, BATCH.c.alert_count,
                   BATCH.c.warnings_json)
            .where(BATCH.c.seq.in_(list(seqs)), BATCH.c.applied_seq.is_not(None))
        )).all()
    return {int(seq): Outcome(accepted or 0, duplicates or 0, alerts or 0,
                              json.loads(warnings) if warnings else [])
            for seq, accepted, duplicates, alerts, warnings in rows}


async def save_states(
    session: AsyncSession,
    states: Mapping[str, bytes],
    *,
    through: Callable[[str], int],
    partition_of: Callable[[str], str],
    label: str,
    now: datetime,
    watermarks: Mapping[str, int],
) -> None:
    """Upsert unit state blobs (each as of its partition's position ``through(unit)``) and
    partitions' watermarks (the first position some unit's checkpoint does not cover)."""
    dialect = session.bind.dialect.name if session.bind is not None else "sqlite"
    insert = postgresql.insert(STATE) if dialect == "postgresql" else sqlite.insert(STATE)
    statement = insert.on_conflict_do_update(
        index_elements=[STATE.c.unit_id],
        set_={
            "state": insert.excluded.state,
            "through_seq": insert.excluded.through_seq,
            "ruleset_label": insert.excluded.ruleset_label,
            "update_time": insert.excluded.update_time,
            "partition": insert.excluded.partition,
        },
    )
    rows = [
        {"unit_id": uid, "state": blob, "through_seq": through(uid), "ruleset_label": label,
         "update_time": now, "partition": partition_of(uid)}
        for uid, blob in states.items()
    ]
    rows += [{"unit_id": WATERMARK + name, "state": b"", "through_seq": mark,
              "ruleset_label": label, "update_time": now, "partition": name}
             for name, mark in watermarks.items()]
    if rows:
        await session.execute(statement, rows)


async def load_states(
    database: Database, partitions: Collection[str] | None,
) -> tuple[list[tuple[str, bytes, int]], dict[str, int]]:
    """Return the checkpointed unit states of ``partitions`` (every one for None) with their
    log positions, and each partition's replay watermark."""
    query = select(STATE.c.unit_id, STATE.c.state, STATE.c.through_seq)
    if partitions is not None:
        query = query.where(STATE.c.partition.in_(partitions))
    async with database.read() as session:
        rows = list(await session.execute(query))
    marks: dict[str, int] = {}
    states = []
    for unit_id, blob, seq in rows:
        if unit_id.startswith(WATERMARK):
            marks[unit_id.removeprefix(WATERMARK)] = int(seq)
        else:
            states.append((unit_id, blob, int(seq)))
    return states, marks


async def batches_after(
    database: Database, partition: str, after: int
) -> AsyncIterator[list[tuple[int, bytes]]]:
    """Yield the partition's applied rows after position ``after``, in order, in chunks."""
    while True:
        async with database.read() as session:
            rows = (await session.execute(
                select(BATCH.c.applied_seq, BATCH.c.body)
                .where(BATCH.c.partition == partition, BATCH.c.applied_seq > after)
                .order_by(BATCH.c.applied_seq)
                .limit(REPLAY_CHUNK)
            )).all()
        if not rows:
            return
        after = int(rows[-1][0])
        yield [(int(r[0]), r[1]) for r in rows]


async def history(database: Database) -> AsyncIterator[list[tuple[int, bytes]]]:
    """Yield every applied row of every partition in the order it was stored, in chunks."""
    after = 0
    while True:
        async with database.read() as session:
            rows = (await session.execute(
                select(BATCH.c.seq, BATCH.c.body)
                .where(BATCH.c.seq > after, BATCH.c.applied_seq.is_not(None))
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
    """Delete the partition's rows applied below ``below_seq`` received before ``older_than``."""
    result = await session.execute(
        delete(BATCH).where(BATCH.c.partition == partition, BATCH.c.applied_seq < below_seq,
                            BATCH.c.receive_time < older_than)
    )
    return int(getattr(result, "rowcount", 0) or 0)
