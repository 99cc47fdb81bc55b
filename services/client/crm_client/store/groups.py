"""Stored credit groups, memberships and guarantees, with the events every change emits.

Rows are never deleted: ending a membership or guarantee sets its valid_to, so history stays.
Relationship managers see a group only through the member rows of their own clients.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Select, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from crm.events.v1 import client_events_pb2
from crm_client.access import visible_clause
from crm_client.domain.groups import ancestry_problem, guarantee_problem, share_problem
from crm_client.models import ClientRow
from crm_client.models_groups import GroupMemberRow, GroupRow, GuaranteeRow
from crm_runtime.auth import Principal
from crm_runtime.errors import AlreadyExists, FailedPrecondition, InvalidArgument
from crm_runtime.outbox import Outbox
from crm_runtime.wire import timestamp


def _check_end(valid_from: date, valid_to: date, now: datetime) -> None:
    """An end is recorded once it happened (risk acts on it at once), never before the start."""
    if valid_to > now.date():
        raise InvalidArgument.of("valid_to", "must not be in the future")
    if valid_to < valid_from:
        raise InvalidArgument.of("valid_to", "must not be before valid_from")


def _current(end: Any, today: date) -> Any:
    """Return the clause 'still valid on `today`' for a valid_to column."""
    return or_(end.is_(None), end >= today)


async def group_parents(session: AsyncSession) -> dict[str, str]:
    """Return every group's parent ("" for top-level groups)."""
    rows = await session.execute(select(col(GroupRow.id), col(GroupRow.parent_id)))
    return {str(group_id): str(parent) for group_id, parent in rows.all()}


async def create_group(
    session: AsyncSession, outbox: Outbox, *, group_id: str, display_name: str,
    parent_id: str, actor: str, now: datetime,
) -> GroupRow:
    """Store a group after checking its id is free and its parent chain has no loop."""
    if await session.get(GroupRow, group_id) is not None:
        raise AlreadyExists(f"groups/{group_id} already exists", reason="GROUP_EXISTS")
    problem = ancestry_problem(group_id, parent_id, await group_parents(session))
    if problem:
        raise InvalidArgument.of("group.parent_group", problem)
    row = GroupRow(id=group_id, display_name=display_name, parent_id=parent_id,
                   created_by=actor, create_time=now)
    session.add(row)
    outbox.emit(session, client_events_pb2.GroupRecorded(
        group=f"groups/{group_id}", display_name=display_name,
        parent_group=f"groups/{parent_id}" if parent_id else "",
    ), subject=f"groups/{group_id}", occurred=now)
    await session.flush()
    return row


def visible_groups(principal: Principal) -> Select[Any]:
    """Return the query of groups the caller may see (page it by GroupRow.id)."""
    statement = select(GroupRow)
    clause = visible_clause(principal)
    if clause is None:
        return statement
    through = (select(col(GroupMemberRow.group_id))
               .join(ClientRow, col(ClientRow.seq) == col(GroupMemberRow.client_seq))
               .where(clause))
    return statement.where(col(GroupRow.id).in_(through))


def visible_members(group_id: str, principal: Principal) -> Select[Any]:
    """Return the query of a group's member rows the caller may see (page by
    GroupMemberRow.seq)."""
    statement = (select(GroupMemberRow)
                 .join(ClientRow, col(ClientRow.seq) == col(GroupMemberRow.client_seq))
                 .where(col(GroupMemberRow.group_id) == group_id))
    clause = visible_clause(principal)
    return statement if clause is None else statement.where(clause)


async def member(
    session: AsyncSession, group_id: str, member_id: str, principal: Principal
) -> tuple[GroupMemberRow, str] | None:
    """Return a member row the caller may see with its client's id, or None."""
    statement = visible_members(group_id, principal).where(col(GroupMemberRow.id) == member_id)
    row = (await session.execute(statement)).scalars().first()
    if row is None:
        return None
    client = await session.get(ClientRow, row.client_seq)
    return (row, client.id) if client is not None else None


async def add_member(
    session: AsyncSession, outbox: Outbox, group: GroupRow, client: ClientRow, *,
    control_type: str, share: float, valid_from: date, actor: str, now: datetime,
) -> GroupMemberRow:
    """Store a membership after checking the client is not already a current member and
    its shares across groups stay within 100 %."""
    today = now.date()
    current = list((await session.execute(
        select(GroupMemberRow).where(col(GroupMemberRow.client_seq) == client.seq,
                                     _current(col(GroupMemberRow.valid_to), today))
    )).scalars())
    if any(row.group_id == group.id for row in current):
        raise AlreadyExists("the client is already a member of this group",
                            reason="GROUP_MEMBER_EXISTS")
    problem = share_problem((row.share_percent for row in current), share)
    if problem:
        raise InvalidArgument.of("member.share_percent", problem)
    assert client.seq is not None
    row = GroupMemberRow(id=uuid.uuid4().hex, group_id=group.id, client_seq=client.seq,
                         control_type=control_type, share_percent=share,
                         valid_from=valid_from, created_by=actor, create_time=now)
    session.add(row)
    await session.flush()
    _emit_membership(outbox, session, row, client.id, now=now)
    return row


async def end_member(
    session: AsyncSession, outbox: Outbox, row: GroupMemberRow, client_id: str, *,
    valid_to: date, now: datetime,
) -> GroupMemberRow:
    """End a current membership on `valid_to` (the row stays as history)."""
    if row.valid_to is not None:
        raise FailedPrecondition("the membership has already ended", reason="ALREADY_ENDED")
    _check_end(row.valid_from, valid_to, now)
    row.valid_to = valid_to
    session.add(row)
    _emit_membership(outbox, session, row, client_id, now=now)
    await session.flush()
    return row


def _emit_membership(
    outbox: Outbox, session: AsyncSession, row: GroupMemberRow, client_id: str, *,
    now: datetime,
) -> None:
    outbox.emit(session, client_events_pb2.GroupMembershipChanged(
        group=f"groups/{row.group_id}", member=f"groups/{row.group_id}/members/{row.id}",
        client=f"clients/{client_id}", control_type=row.control_type,
        share_percent=row.share_percent, ended=row.valid_to is not None,
        change_time=timestamp(now),
    ), subject=f"clients/{client_id}", occurred=now)


def guarantees_of(client_seq: int | None) -> Select[Any]:
    """Return the query of guarantees a client gives or receives (page by GuaranteeRow.seq)."""
    return select(GuaranteeRow).where(or_(col(GuaranteeRow.guarantor_seq) == client_seq,
                                          col(GuaranteeRow.beneficiary_seq) == client_seq))


async def guarantee(
    session: AsyncSession, guarantor_seq: int | None, guarantee_id: str
) -> GuaranteeRow | None:
    """Return the guarantee with this id given by this client, or None."""
    statement = select(GuaranteeRow).where(col(GuaranteeRow.id) == guarantee_id,
                                           col(GuaranteeRow.guarantor_seq) == guarantor_seq)
    return (await session.execute(statement)).scalars().first()


async def add_guarantee(
    session: AsyncSession, outbox: Outbox, guarantor: ClientRow, beneficiary: ClientRow, *,
    facility: str, amount: Decimal, guarantee_type: str, valid_from: date, actor: str,
    now: datetime,
) -> GuaranteeRow:
    """Store a guarantee between two different clients and announce it."""
    problem = guarantee_problem(guarantor.id, beneficiary.id)
    if problem:
        raise InvalidArgument.of("guarantee.beneficiary", problem)
    assert guarantor.seq is not None and beneficiary.seq is not None
    row = GuaranteeRow(id=uuid.uuid4().hex, guarantor_seq=guarantor.seq,
                       beneficiary_seq=beneficiary.seq, facility=facility, amount=amount,
                       guarantee_type=guarantee_type, valid_from=valid_from,
                       created_by=actor, create_time=now)
    session.add(row)
    await session.flush()
    outbox.emit(session, client_events_pb2.GuaranteeRecorded(
        guarantee=f"clients/{guarantor.id}/guarantees/{row.id}",
        guarantor=f"clients/{guarantor.id}", beneficiary=f"clients/{beneficiary.id}",
        facility=facility, amount_cny=str(amount), guarantee_type=guarantee_type,
        change_time=timestamp(now),
    ), subject=f"clients/{guarantor.id}", occurred=now)
    return row


async def end_guarantee(
    session: AsyncSession, outbox: Outbox, row: GuaranteeRow, guarantor_id: str,
    beneficiary_id: str, *, valid_to: date, now: datetime,
) -> GuaranteeRow:
    """End a current guarantee on `valid_to` (the row stays as history)."""
    if row.valid_to is not None:
        raise FailedPrecondition("the guarantee has already ended", reason="ALREADY_ENDED")
    _check_end(row.valid_from, valid_to, now)
    row.valid_to = valid_to
    session.add(row)
    outbox.emit(session, client_events_pb2.GuaranteeEnded(
        guarantee=f"clients/{guarantor_id}/guarantees/{row.id}",
        guarantor=f"clients/{guarantor_id}", beneficiary=f"clients/{beneficiary_id}",
        change_time=timestamp(now),
    ), subject=f"clients/{guarantor_id}", occurred=now)
    await session.flush()
    return row
