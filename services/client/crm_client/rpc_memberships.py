"""Membership RPCs: a segment's members, a client's segments and its segment moves."""

from __future__ import annotations

import grpc
from sqlmodel import col

from crm.client.v1 import client_service_pb2
from crm_client.context import ClientContext, load_client
from crm_client.mapping import membership_message, move_message
from crm_client.models import MembershipRow, SegmentMoveRow, SegmentRow
from crm_client.store.segments import (
    client_ids,
    memberships_of,
    moves_of,
    segment_kinds,
    visible_members,
)
from crm_runtime import names
from crm_runtime.auth import current_principal
from crm_runtime.errors import NotFound
from crm_runtime.pagination import keyset_page, page_size


class MembershipsRpc:
    """Who is in which segment, and how they got there."""

    ctx: ClientContext

    async def ListSegmentMembers(  # noqa: N802
        self,
        request: client_service_pb2.ListSegmentMembersRequest,
        context: grpc.aio.ServicerContext,
    ) -> client_service_pb2.ListSegmentMembersResponse:
        """Return the segment's members that the caller may see, by client."""
        principal = current_principal()
        segment_id = names.parse(request, "segment")["segment"]
        size = page_size(request.page_size)
        async with self.ctx.db.read() as session:
            segment = await session.get(SegmentRow, segment_id)
            if segment is None:
                raise NotFound(f"{request.segment} does not exist", reason="SEGMENT_NOT_FOUND")
            page = await keyset_page(
                session,
                visible_members(segment_id, principal),
                key=col(MembershipRow.client_seq),
                tokens=self.ctx.tokens,
                page_token=request.page_token,
                size=size,
                query={"m": "ListSegmentMembers", "s": segment_id, "p": principal.subject},
            )
            ids = await client_ids(session, (m.client_seq for m in page.rows))
        return client_service_pb2.ListSegmentMembersResponse(
            memberships=[membership_message(m, ids[m.client_seq], segment.kind) for m in page.rows],
            next_page_token=page.next_page_token,
        )

    async def ListClientSegments(  # noqa: N802
        self,
        request: client_service_pb2.ListClientSegmentsRequest,
        context: grpc.aio.ServicerContext,
    ) -> client_service_pb2.ListClientSegmentsResponse:
        """Return the segments the client is in."""
        principal = current_principal()
        client_id = names.parse(request, "client")["client"]
        size = page_size(request.page_size)
        async with self.ctx.db.read() as session:
            client = await load_client(session, client_id, principal)
            page = await keyset_page(
                session,
                memberships_of(client.seq),
                key=col(MembershipRow.segment_id),
                tokens=self.ctx.tokens,
                page_token=request.page_token,
                size=size,
                query={"m": "ListClientSegments", "c": request.client},
            )
            kinds = await segment_kinds(session, (m.segment_id for m in page.rows))
        return client_service_pb2.ListClientSegmentsResponse(
            memberships=[membership_message(m, client.id, kinds[m.segment_id]) for m in page.rows],
            next_page_token=page.next_page_token,
        )

    async def ListSegmentMoves(  # noqa: N802
        self,
        request: client_service_pb2.ListSegmentMovesRequest,
        context: grpc.aio.ServicerContext,
    ) -> client_service_pb2.ListSegmentMovesResponse:
        """Return the client's segment moves, newest first."""
        principal = current_principal()
        client_id = names.parse(request, "client")["client"]
        size = page_size(request.page_size)
        async with self.ctx.db.read() as session:
            client = await load_client(session, client_id, principal)
            page = await keyset_page(
                session,
                moves_of(client.seq),
                key=col(SegmentMoveRow.seq),
                tokens=self.ctx.tokens,
                page_token=request.page_token,
                size=size,
                query={"m": "ListSegmentMoves", "c": request.client},
                descending=True,
            )
        return client_service_pb2.ListSegmentMovesResponse(
            moves=[move_message(r, client.id) for r in page.rows],
            next_page_token=page.next_page_token,
        )
