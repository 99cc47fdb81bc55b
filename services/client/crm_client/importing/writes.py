"""Storing a checked chunk with multi-row inserts: clients, assignments, persons, segments, events.

The rows are the ones the single-item path writes (new_client_values, person_values), inserted
as one executemany per table instead of one ORM object per row; segment memberships of a new
client are evaluated in memory from the row and its key persons, since nothing else about it
is stored yet.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from types import SimpleNamespace
from typing import Any, cast

from google.protobuf.message import Message
from sqlalchemy import Table, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from crm.client.v1 import client_pb2
from crm_client.client_fields import client_created_event, new_client_values
from crm_client.context import ClientContext
from crm_client.importing.rows import GoodRow
from crm_client.mapping import EDUCATION, INCOME, ROLE
from crm_client.models import (
    AssignmentRow,
    ClientRow,
    KeyPersonRow,
    MembershipRow,
    SegmentMoveRow,
)
from crm_client.people import person_values
from crm_client.segmentation.engine import CompiledSegment, evaluate_memberships
from crm_client.segmentation.features import OwnerFacts
from crm_client.segments import membership_event
from crm_client.store.facts import OWNER_ROLES, ClientColumns, features_of, owner_facts

CAUSE = "client_imported"
# Columns of a new client that neither the file nor new_client_values sets.
NEW_CLIENT_DEFAULTS = {
    "state": "prospect",
    "credit_grade": "",
    "credit_pd": None,
    "potential_risk": False,
    "warning_level": "",
}


def _table(model: type[object]) -> Table:
    table: Table = model.__table__  # type: ignore[attr-defined]
    return table


CLIENT, ASSIGNMENT, PERSON = _table(ClientRow), _table(AssignmentRow), _table(KeyPersonRow)
MEMBERSHIP, MOVE = _table(MembershipRow), _table(SegmentMoveRow)


async def credit_codes_taken(session: AsyncSession, codes: Sequence[str]) -> set[str]:
    """Return which of these credit codes stored clients hold (one query per 500)."""
    taken: set[str] = set()
    for start in range(0, len(codes), 500):
        part = codes[start : start + 500]
        found = await session.execute(
            select(CLIENT.c.credit_code).where(CLIENT.c.credit_code.in_(part))
        )
        taken.update(found.scalars())
    return taken


def _owner(
    people: Sequence[client_pb2.KeyPerson], values: list[dict[str, Any]]
) -> OwnerFacts | None:
    """The owner the stored path would pick: legal representative first, then in row order."""
    owners = [i for i, person in enumerate(people) if ROLE[person.role] in OWNER_ROLES]
    if not owners:
        return None
    index = min(owners, key=lambda i: (ROLE[people[i].role] != "legal_representative", i))
    person, stored = people[index], values[index]
    birth = stored["birth_date"]
    return owner_facts(
        birth_date=birth,
        gender=str(stored["gender"]),
        education=EDUCATION.get(person.education, ""),
        occupation=person.occupation,
        income_band=INCOME[person.income_band] if person.income_band else None,
    )


async def store_chunk(
    session: AsyncSession,
    ctx: ClientContext,
    good: Sequence[GoodRow],
    *,
    actor: str,
    now: datetime,
) -> int:
    """Insert the checked rows of one chunk in the caller's transaction; return how many."""
    if not good:
        return 0
    clients = [
        new_client_values(
            g.row.client,
            g.size,
            relationship_manager=g.row.relationship_manager,
            team=g.row.team,
            now=now,
        )
        for g in good
    ]
    inserted = await session.execute(
        insert(CLIENT).returning(CLIENT.c.seq, sort_by_parameter_order=True), clients
    )
    seqs: list[int] = list(inserted.scalars())
    assignments = []
    people: list[dict[str, Any]] = []
    owners: list[OwnerFacts | None] = []
    for g, values, seq in zip(good, clients, seqs, strict=True):
        values["seq"] = seq
        assignments.append(
            {
                "client_seq": seq,
                "relationship_manager": g.row.relationship_manager,
                "team": g.row.team,
                "reason": "initial assignment (import)",
                "assigned_by": actor,
                "start_time": now,
                "end_time": None,
            }
        )
        persons = [
            person_values(p, client_seq=seq, cipher=ctx.cipher, now=now) for p in g.row.key_persons
        ]
        owners.append(_owner(list(g.row.key_persons), persons))
        people.extend(persons)
    await session.execute(insert(ASSIGNMENT), assignments)
    if people:
        await session.execute(insert(PERSON), people)
    definitions = await ctx.catalog.load(session)
    events = await _segment(session, clients, owners, definitions, actor=actor, now=now)
    await ctx.outbox.emit_many(session, events, occurred=now)
    return len(good)


async def _segment(
    session: AsyncSession,
    clients: Sequence[dict[str, Any]],
    owners: Sequence[OwnerFacts | None],
    definitions: Sequence[CompiledSegment],
    *,
    actor: str,
    now: datetime,
) -> list[tuple[Message, str]]:
    """Record the segments each new client joins; return its events (created, then joined)."""
    versions = {d.segment_id: d.version for d in definitions}
    memberships: list[dict[str, Any]] = []
    moves: list[dict[str, Any]] = []
    events: list[tuple[Message, str]] = []
    today = now.date()
    for values, owner in zip(clients, owners, strict=True):
        # The columns as attributes, without an ORM object (its instrumentation costs more
        # than the rest of the row's segment work); unset columns take the table's defaults.
        row = SimpleNamespace(**NEW_CLIENT_DEFAULTS, **values)
        subject = f"clients/{row.id}"
        events.append((client_created_event(row), subject))
        joined = evaluate_memberships(
            definitions,
            features_of(cast(ClientColumns, row), owner=owner, activity=None, today=today),
        )
        for segment_id in sorted(joined):
            memberships.append(
                {
                    "client_seq": row.seq,
                    "segment_id": segment_id,
                    "segment_version": versions[segment_id],
                    "join_time": now,
                }
            )
            moves.append(
                {
                    "client_seq": row.seq,
                    "segment_id": segment_id,
                    "direction": "joined",
                    "segment_version": versions[segment_id],
                    "cause": CAUSE,
                    "actor": actor,
                    "move_time": now,
                }
            )
        if joined:
            events.append(
                (membership_event(row.id, joined, set(), cause=CAUSE, moment=now), subject)
            )
    if memberships:
        await session.execute(insert(MEMBERSHIP), memberships)
        await session.execute(insert(MOVE), moves)
    return events
