"""Credit-group RPCs: groups with a parent and their members (memberships kept as history)."""

from __future__ import annotations

import uuid

import grpc
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from crm.client.v1 import client_pb2, client_service_pb2
from crm_client import access
from crm_client.context import ClientContext, load_client
from crm_client.groups.mapping import CONTROL, group_message, member_message
from crm_client.groups.validation import check_group, check_member
from crm_client.models_groups import GroupMemberRow, GroupRow
from crm_client.store.groups import (
    add_member,
    create_group,
    end_member,
    member,
    visible_groups,
    visible_members,
)
from crm_client.store.segments import client_ids
from crm_client.validation import to_date
from crm_runtime import idempotency, names
from crm_runtime.auth import Principal, current_principal, require_roles
from crm_runtime.errors import NotFound
from crm_runtime.pagination import keyset_page, page_size


async def _group(session: AsyncSession, group_id: str, principal: Principal) -> GroupRow:
    """Return a group the caller may see (RMs: through a member row of one of their clients)."""
    row: GroupRow | None = (await session.execute(
        visible_groups(principal).where(col(GroupRow.id) == group_id)
    )).scalars().first()
    if row is not None:
        return row
    if principal.sees_whole_portfolio:
        raise NotFound(f"groups/{group_id} does not exist", reason="GROUP_NOT_FOUND")
    raise access.group_denied()


class GroupsRpc:
    """Create, read and list groups; add, list and end memberships."""

    ctx: ClientContext

    async def CreateGroup(  # noqa: N802
        self, request: client_service_pb2.CreateGroupRequest, context: grpc.aio.ServicerContext
    ) -> client_pb2.Group:
        """Store a group whose parent chain does not lead back to it."""
        principal = require_roles(*access.GROUP_ROLES)
        parent_id = check_group(request)
        group_id = request.group_id or uuid.uuid4().hex
        now = self.ctx.clock()

        async def create(session: AsyncSession) -> client_pb2.Group:
            row = await create_group(
                session, self.ctx.outbox, group_id=group_id,
                display_name=request.group.display_name.strip(), parent_id=parent_id,
                actor=principal.subject, now=now,
            )
            return group_message(row)

        return await idempotency.mutation(
            self.ctx.db, request, method="crm.client.v1.ClientService/CreateGroup",
            subject=principal.subject, response_type=client_pb2.Group, work=create,
        )

    async def GetGroup(  # noqa: N802
        self, request: client_service_pb2.GetGroupRequest, context: grpc.aio.ServicerContext
    ) -> client_pb2.Group:
        """Return a group the caller may see."""
        principal = current_principal()
        group_id = names.parse(request, "name")["group"]
        async with self.ctx.db.read() as session:
            return group_message(await _group(session, group_id, principal))

    async def ListGroups(  # noqa: N802
        self, request: client_service_pb2.ListGroupsRequest, context: grpc.aio.ServicerContext
    ) -> client_service_pb2.ListGroupsResponse:
        """Return the groups the caller may see, by id."""
        principal = current_principal()
        size = page_size(request.page_size)
        async with self.ctx.db.read() as session:
            page = await keyset_page(
                session, visible_groups(principal), key=col(GroupRow.id),
                tokens=self.ctx.tokens, page_token=request.page_token, size=size,
                query={"m": "ListGroups", "p": principal.subject},
            )
        return client_service_pb2.ListGroupsResponse(
            groups=[group_message(r) for r in page.rows], next_page_token=page.next_page_token
        )

    async def CreateGroupMember(  # noqa: N802
        self,
        request: client_service_pb2.CreateGroupMemberRequest,
        context: grpc.aio.ServicerContext,
    ) -> client_pb2.GroupMember:
        """Add a client the caller may see to an existing group."""
        principal = require_roles(*access.GROUP_ROLES)
        group_id = names.parse(request, "parent")["group"]
        client_id = check_member(request)
        now = self.ctx.clock()
        m = request.member

        async def create(session: AsyncSession) -> client_pb2.GroupMember:
            client = await load_client(session, client_id, principal)
            # The group need not be visible yet: this may be the caller's first member of it.
            group = await session.get(GroupRow, group_id)
            if group is None:
                raise NotFound(f"{request.parent} does not exist", reason="GROUP_NOT_FOUND")
            row = await add_member(
                session, self.ctx.outbox, group, client,
                control_type=CONTROL[m.control_type], share=m.share_percent,
                valid_from=to_date(m.valid_from) or now.date(), actor=principal.subject,
                now=now,
            )
            return member_message(row, client.id)

        return await idempotency.mutation(
            self.ctx.db, request, method="crm.client.v1.ClientService/CreateGroupMember",
            subject=principal.subject, response_type=client_pb2.GroupMember, work=create,
        )

    async def ListGroupMembers(  # noqa: N802
        self,
        request: client_service_pb2.ListGroupMembersRequest,
        context: grpc.aio.ServicerContext,
    ) -> client_service_pb2.ListGroupMembersResponse:
        """Return the group's member rows the caller may see (ended ones too)."""
        principal = current_principal()
        group_id = names.parse(request, "parent")["group"]
        size = page_size(request.page_size)
        async with self.ctx.db.read() as session:
            await _group(session, group_id, principal)
            page = await keyset_page(
                session, visible_members(group_id, principal), key=col(GroupMemberRow.seq),
                tokens=self.ctx.tokens, page_token=request.page_token, size=size,
                query={"m": "ListGroupMembers", "g": group_id, "p": principal.subject},
            )
            ids = await client_ids(session, (row.client_seq for row in page.rows))
        return client_service_pb2.ListGroupMembersResponse(
            members=[member_message(row, ids[row.client_seq]) for row in page.rows],
            next_page_token=page.next_page_token,
        )

    async def EndGroupMember(  # noqa: N802
        self,
        request: client_service_pb2.EndGroupMemberRequest,
        context: grpc.aio.ServicerContext,
    ) -> client_pb2.GroupMember:
        """End a membership the caller may see; the row stays as history."""
        principal = require_roles(*access.GROUP_ROLES)
        ids = names.parse(request, "name")
        now = self.ctx.clock()
        valid_to = to_date(request.valid_to) or now.date()

        async def end(session: AsyncSession) -> client_pb2.GroupMember:
            found = await member(session, ids["group"], ids["member"], principal)
            if found is None:
                raise access.group_denied()
            row, client_id = found
            await end_member(session, self.ctx.outbox, row, client_id, valid_to=valid_to,
                             now=now)
            return member_message(row, client_id)

        return await idempotency.mutation(
            self.ctx.db, request, method="crm.client.v1.ClientService/EndGroupMember",
            subject=principal.subject, response_type=client_pb2.GroupMember, work=end,
        )
