"""The store side of partition ownership: members, leases, epochs and the fence.

Times are seconds since the Unix epoch on the database's clock (PostgreSQL's
``clock_timestamp()``), so replicas on hosts whose clocks disagree still agree on when a lease
ends. SQLite serves one process, whose own clock is the database's.

A claim bumps the partition's epoch; every write the owner makes to a partition's log goes
with ``advance``, a compare-and-set on (owner, epoch, last applied position) that holds the
partition row's lock until the transaction ends. A replica that was paused past its lease and
resumes therefore fails its next write (``Fenced``) instead of applying postings the new owner
applies too.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Table, delete, func, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from crm_risk.models_monitoring import MonitorBatchRow, MonitorMemberRow, MonitorPartitionRow
from crm_runtime.db import Database

PARTITION: Table = MonitorPartitionRow.__table__  # type: ignore[attr-defined]
MEMBER: Table = MonitorMemberRow.__table__  # type: ignore[attr-defined]
BATCH: Table = MonitorBatchRow.__table__  # type: ignore[attr-defined]


class Fenced(Exception):
    """This replica no longer owns a partition it tried to write to."""

    def __init__(self, partition: str) -> None:
        super().__init__(f"monitoring partition {partition} is owned by another replica")
        self.partition = partition


@dataclass
class Lease:
    """A partition this replica owns: the epoch of its claim and the last applied position."""

    epoch: int
    applied: int


async def db_now(session: AsyncSession) -> float:
    """Return the database's current time in seconds since the Unix epoch."""
    if session.bind is not None and session.bind.dialect.name == "postgresql":
        return float((await session.execute(
            text("SELECT extract(epoch FROM clock_timestamp())"))).scalar_one())
    return time.time()


async def ensure_partitions(database: Database, names: Sequence[str]) -> None:
    """Create the partition rows once; refuse a store partitioned another way."""
    async with database.write() as session:
        existing = set((await session.execute(select(PARTITION.c.name))).scalars())
        foreign = existing - set(names)
        if foreign:
            msg = (f"the store's monitoring partitions ({len(existing)}) differ from "
                   f"MONITORING_PARTITIONS ({len(names)}); the count is fixed for a store")
            raise RuntimeError(msg)
        for name in names:
            if name in existing:
                continue
            applied = (await session.execute(
                select(func.max(BATCH.c.applied_seq)).where(BATCH.c.partition == name)
            )).scalar_one()
            # Replicas starting together race here: the first insert wins, the rest agree.
            dialect = sqlite if database.is_sqlite else postgresql
            await session.execute(dialect.insert(PARTITION).values(
                name=name, owner="", epoch=0, lease_expires=0.0, applied_through=applied or 0,
            ).on_conflict_do_nothing())


async def heartbeat(database: Database, member: str, ttl: float) -> tuple[float, list[str]]:
    """Renew ``member``'s membership; return the time and the live members."""
    async with database.write() as session:
        now = await db_now(session)
        renewed = await session.execute(
            update(MEMBER).where(MEMBER.c.member_id == member).values(expires=now + ttl))
        if not renewed.rowcount:  # type: ignore[attr-defined]
            await session.execute(MEMBER.insert().values(member_id=member, expires=now + ttl))
        live = sorted((await session.execute(
            select(MEMBER.c.member_id).where(MEMBER.c.expires > now))).scalars())
    return now, live


async def claim(database: Database, name: str, member: str, ttl: float, *,
                force: bool = False) -> Lease | None:
    """Take ``name`` if it is free or its lease ran out (any lease with ``force``)."""
    async with database.write() as session:
        now = await db_now(session)
        free = (PARTITION.c.owner == "") | (PARTITION.c.lease_expires < now) | (
            PARTITION.c.owner == member)
        conditions = [PARTITION.c.name == name] + ([] if force else [free])
        statement = (update(PARTITION)
                     .where(*conditions)
                     .values(owner=member, epoch=PARTITION.c.epoch + 1,
                             lease_expires=now + ttl)
                     .returning(PARTITION.c.epoch, PARTITION.c.applied_through))
        row = (await session.execute(statement)).first()
    return Lease(epoch=int(row[0]), applied=int(row[1])) if row is not None else None


async def renew(database: Database, member: str, ttl: float) -> dict[str, int]:
    """Extend every lease ``member`` holds; return partition → epoch of what it still owns."""
    async with database.write() as session:
        now = await db_now(session)
        rows = (await session.execute(
            update(PARTITION).where(PARTITION.c.owner == member)
            .values(lease_expires=now + ttl)
            .returning(PARTITION.c.name, PARTITION.c.epoch))).all()
    return {str(name): int(epoch) for name, epoch in rows}


async def release(database: Database, name: str, member: str, epoch: int) -> None:
    """Give ``name`` up at once (the next owner need not wait for the lease to run out)."""
    async with database.write() as session:
        await session.execute(
            update(PARTITION)
            .where(PARTITION.c.name == name, PARTITION.c.owner == member,
                   PARTITION.c.epoch == epoch)
            .values(owner="", lease_expires=0.0))


async def leave(database: Database, member: str) -> None:
    """Remove ``member`` from the live replicas (a graceful stop)."""
    async with database.write() as session:
        await session.execute(delete(MEMBER).where(MEMBER.c.member_id == member))


async def advance(session: AsyncSession, name: str, member: str, lease: Lease,
                  through: int) -> None:
    """Record that ``name`` is applied through ``through``, or raise ``Fenced``.

    Holds the partition row's lock until the transaction ends, so a claim by another replica
    waits for it, and a claim that came first makes it fail.
    """
    result = await session.execute(
        update(PARTITION)
        .where(PARTITION.c.name == name, PARTITION.c.owner == member,
               PARTITION.c.epoch == lease.epoch, PARTITION.c.applied_through == lease.applied)
        .values(applied_through=through))
    if result.rowcount != 1:  # type: ignore[attr-defined]
        raise Fenced(name)
