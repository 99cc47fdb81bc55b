"""Reading the audit log: listing records and verifying every chain."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlmodel import col

from crm_gateway.audit_chain import genesis_hash, hashed_values, record_hash
from crm_gateway.models import AuditRow
from crm_runtime.db import Database

_PAGE = 2000


@dataclass(frozen=True, slots=True)
class Break:
    """The first place a chain is not intact."""

    chain: str
    sequence: int
    record_id: int | None
    problem: str


@dataclass
class Verification:
    """Outcome of checking the chains."""

    chain_count: int = 0
    record_count: int = 0
    breaks: list[Break] = field(default_factory=list)

    @property
    def intact(self) -> bool:
        """Return True when no chain is broken."""
        return not self.breaks


async def _chain_rows(db: Database, chain: str) -> AsyncIterator[AuditRow]:
    last = 0
    while True:
        async with db.read() as session:
            statement = (
                select(AuditRow)
                .where(col(AuditRow.chain) == chain, col(AuditRow.seq) > last)
                .order_by(col(AuditRow.seq))
                .limit(_PAGE)
            )
            rows = list((await session.execute(statement)).scalars())
        for row in rows:
            yield row
        if len(rows) < _PAGE:
            return
        last = rows[-1].seq


async def _verify_chain(db: Database, key: bytes, chain: str, result: Verification) -> None:
    expected_seq, previous = 1, genesis_hash(key, chain)
    async for row in _chain_rows(db, chain):
        result.record_count += 1
        problem = ""
        if row.seq != expected_seq:
            problem = f"record {expected_seq} is missing"
        elif row.previous_hash != previous:
            problem = "previous_hash does not match the previous record"
        elif record_hash(key, hashed_values(row)) != row.record_hash:
            problem = "record hash does not match its fields"
        if problem:
            record_id = row.id if row.seq == expected_seq else None
            result.breaks.append(Break(chain, expected_seq, record_id, problem))
            return
        previous = row.record_hash
        expected_seq += 1


async def verify_chains(db: Database, key: bytes, *, chain: str = "") -> Verification:
    """Recompute every record's hash and link; report each chain's first break."""
    async with db.read() as session:
        statement = select(col(AuditRow.chain)).distinct().order_by(col(AuditRow.chain))
        if chain:
            statement = statement.where(col(AuditRow.chain) == chain)
        chains = [str(c) for c in (await session.execute(statement)).scalars()]
    result = Verification(chain_count=len(chains))
    for name in chains:
        await _verify_chain(db, key, name, result)
    return result


async def list_records(
    db: Database, *, after_id: int, limit: int, principal: str = "", method: str = ""
) -> list[AuditRow]:
    """Return up to `limit` records after `after_id`, oldest first, optionally filtered."""
    statement = select(AuditRow).where(col(AuditRow.id) > after_id)
    if principal:
        statement = statement.where(col(AuditRow.principal) == principal)
    if method:
        statement = statement.where(col(AuditRow.method) == method)
    statement = statement.order_by(col(AuditRow.id)).limit(limit)
    async with db.read() as session:
        return list((await session.execute(statement)).scalars())
