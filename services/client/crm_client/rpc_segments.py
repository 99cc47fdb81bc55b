"""Segment RPCs: definitions (versioned, editable), members, a client's segments, moves."""

from __future__ import annotations

import grpc
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from crm.client.v1 import client_pb2, client_service_pb2
from crm_client import access
from crm_client.context import ClientContext, load_client
from crm_client.mapping import (
    SEGMENT_KIND,
    etag,
    membership_message,
    move_message,
    segment_message,
)
from crm_client.models import (
    ClientRow,
    MembershipRow,
    SegmentMoveRow,
    SegmentRow,
    SegmentVersionRow,
)
from crm_client.segmentation.engine import CompiledSegment
from crm_client.segmentation.expr import CompiledExpression, ExpressionError, compile_expression
from crm_client.segmentation.features import KNOWN_FEATURES
from crm_client.segments import recompute
from crm_client.validation import SEGMENT_ID_RE, SEGMENT_NAME_RE, Violations, parse_name
from crm_runtime import idempotency
from crm_runtime.auth import Principal, current_principal, require_roles
from crm_runtime.errors import Aborted, AlreadyExists, InvalidArgument, NotFound
from crm_runtime.fieldmask import resolve_mask
from crm_runtime.pagination import page_size

SEGMENT_MUTABLE = frozenset({"display_name", "display_name_zh", "description", "expression"})
RECOMPUTE_BATCH = 500


def _compile(expression: str, field: str) -> CompiledExpression:
    try:
        return compile_expression(expression, known_features=KNOWN_FEATURES)
    except ExpressionError as exc:
        raise InvalidArgument.of(field, str(exc), reason="INVALID_SEGMENT_EXPRESSION") from exc


async def _member_count(session: AsyncSession, segment_id: str) -> int:
    return int(
        (
            await session.execute(
                select(func.count())
                .select_from(MembershipRow)
                .where(col(MembershipRow.segment_id) == segment_id)
            )
        ).scalar_one()
    )


async def _recompute_all(
    ctx: ClientContext, session: AsyncSession, segment: SegmentRow, principal: Principal, cause: str
) -> None:
    compiled = CompiledSegment(
        segment.segment_id, segment.version, _compile(segment.expression, "segment.expression")
    )
    after = 0
    while True:
        rows = list(
            (
                await session.execute(
                    select(ClientRow)
                    .where(col(ClientRow.seq) > after)
                    .order_by(col(ClientRow.seq))
                    .limit(RECOMPUTE_BATCH)
                )
            ).scalars()
        )
        for row in rows:
            await recompute(
                session,
                row,
                catalog=ctx.catalog,
                cipher=ctx.cipher,
                outbox=ctx.outbox,
                cause=cause,
                actor=principal.subject,
                only=[compiled],
            )
        if len(rows) < RECOMPUTE_BATCH:
            return
        after = rows[-1].seq or after


class SegmentsRpc:
    """Segment definitions and memberships."""

    ctx: ClientContext

    async def GetSegment(  # noqa: N802
        self, request: client_service_pb2.GetSegmentRequest, context: grpc.aio.ServicerContext
    ) -> client_pb2.Segment:
        """Return one segment definition."""
        current_principal()
        segment_id = parse_name(request.name, SEGMENT_NAME_RE, "name")
        async with self.ctx.db.read() as session:
            row = await session.get(SegmentRow, segment_id)
            if row is None:
                raise NotFound(f"{request.name} does not exist", reason="SEGMENT_NOT_FOUND")
            return segment_message(row, member_count=await _member_count(session, segment_id))

    async def ListSegments(  # noqa: N802
        self, request: client_service_pb2.ListSegmentsRequest, context: grpc.aio.ServicerContext
    ) -> client_service_pb2.ListSegmentsResponse:
        """Return segment definitions ordered by id, with member counts."""
        current_principal()
        size = page_size(request.page_size)
        if request.kind and request.kind not in SEGMENT_KIND:
            raise InvalidArgument.of("kind", "is not a known segment kind")
        query = {"m": "ListSegments", "k": request.kind}
        after = str(self.ctx.tokens.decode(request.page_token, query=query) or "")
        statement = select(SegmentRow).where(col(SegmentRow.segment_id) > after)
        if request.kind:
            statement = statement.where(col(SegmentRow.kind) == SEGMENT_KIND[request.kind])
        async with self.ctx.db.read() as session:
            rows = list(
                (
                    await session.execute(
                        statement.order_by(col(SegmentRow.segment_id)).limit(size + 1)
                    )
                ).scalars()
            )
            counts = dict(
                (
                    await session.execute(
                        select(col(MembershipRow.segment_id), func.count()).group_by(
                            col(MembershipRow.segment_id)
                        )
                    )
                ).all()
            )
        response = client_service_pb2.ListSegmentsResponse(
            segments=[
                segment_message(r, member_count=int(counts.get(r.segment_id, 0)))
                for r in rows[:size]
            ]
        )
        if len(rows) > size:
            response.next_page_token = self.ctx.tokens.encode(
                rows[size - 1].segment_id, query=query
            )
        return response

    async def CreateSegment(  # noqa: N802
        self, request: client_service_pb2.CreateSegmentRequest, context: grpc.aio.ServicerContext
    ) -> client_pb2.Segment:
        """Create a definition and compute its members."""
        principal = require_roles(*access.SEGMENT_ADMIN_ROLES)
        idempotency.check_request_id(request.request_id)
        segment = request.segment
        v = Violations()
        if not SEGMENT_ID_RE.match(request.segment_id) or not 3 <= len(request.segment_id) <= 63:
            v.add("segment_id", "must be 3-63 lower-case letters, digits and hyphens")
        if not segment.display_name.strip():
            v.add("segment.display_name", "is required")
        if segment.kind not in SEGMENT_KIND:
            v.add("segment.kind", "is required")
        v.raise_if_any()
        _compile(segment.expression, "segment.expression")
        now = self.ctx.clock()
        method = "crm.client.v1.ClientService/CreateSegment"
        async with self.ctx.db.write() as session:
            replay = await idempotency.replay(
                session,
                method=method,
                request=request,
                subject=principal.subject,
                response_type=client_pb2.Segment,
            )
            if replay is not None:
                return replay
            if await session.get(SegmentRow, request.segment_id) is not None:
                raise AlreadyExists("a segment with this id exists", reason="SEGMENT_EXISTS")
            row = SegmentRow(
                segment_id=request.segment_id,
                display_name=segment.display_name,
                display_name_zh=segment.display_name_zh,
                kind=SEGMENT_KIND[segment.kind],
                description=segment.description,
                expression=segment.expression,
                version=1,
                update_time=now,
            )
            session.add(row)
            session.add(
                SegmentVersionRow(
                    segment_id=row.segment_id,
                    version=1,
                    expression=row.expression,
                    changed_by=principal.subject,
                    change_time=now,
                )
            )
            await session.flush()
            await _recompute_all(self.ctx, session, row, principal, "segment_created")
            response = segment_message(
                row, member_count=await _member_count(session, row.segment_id)
            )
            await idempotency.remember(
                session,
                method=method,
                request=request,
                subject=principal.subject,
                response=response,
            )
            return response

    async def UpdateSegment(  # noqa: N802
        self, request: client_service_pb2.UpdateSegmentRequest, context: grpc.aio.ServicerContext
    ) -> client_pb2.Segment:
        """Change a definition; a new expression is a new version and members are recomputed."""
        principal = require_roles(*access.SEGMENT_ADMIN_ROLES)
        idempotency.check_request_id(request.request_id)
        segment_id = parse_name(request.segment.name, SEGMENT_NAME_RE, "segment.name")
        paths = resolve_mask(
            request.update_mask,
            mutable=SEGMENT_MUTABLE,
            protected=(),
            resource=client_pb2.Segment.DESCRIPTOR,
        )
        if "expression" in paths:
            _compile(request.segment.expression, "segment.expression")
        if "display_name" in paths and not request.segment.display_name.strip():
            raise InvalidArgument.of("segment.display_name", "is required")
        now = self.ctx.clock()
        method = "crm.client.v1.ClientService/UpdateSegment"
        async with self.ctx.db.write() as session:
            replay = await idempotency.replay(
                session,
                method=method,
                request=request,
                subject=principal.subject,
                response_type=client_pb2.Segment,
            )
            if replay is not None:
                return replay
            row = await session.get(SegmentRow, segment_id)
            if row is None:
                raise NotFound(f"{request.segment.name} does not exist", reason="SEGMENT_NOT_FOUND")
            if request.segment.etag and request.segment.etag != etag(row.segment_id, row.version):
                raise Aborted("the segment changed since it was read", reason="ETAG_MISMATCH")
            new_expression = "expression" in paths and request.segment.expression != row.expression
            for path in paths:
                setattr(row, path, getattr(request.segment, path))
            row.update_time = now
            if new_expression:
                row.version += 1
                session.add(
                    SegmentVersionRow(
                        segment_id=row.segment_id,
                        version=row.version,
                        expression=row.expression,
                        changed_by=principal.subject,
                        change_time=now,
                    )
                )
            session.add(row)
            await session.flush()
            if new_expression:
                await _recompute_all(self.ctx, session, row, principal, "segment_changed")
            response = segment_message(row, member_count=await _member_count(session, segment_id))
            await idempotency.remember(
                session,
                method=method,
                request=request,
                subject=principal.subject,
                response=response,
            )
            return response

    async def ListSegmentMembers(  # noqa: N802
        self,
        request: client_service_pb2.ListSegmentMembersRequest,
        context: grpc.aio.ServicerContext,
    ) -> client_service_pb2.ListSegmentMembersResponse:
        """Return the segment's members that the caller may see, by client."""
        principal = current_principal()
        segment_id = parse_name(request.segment, SEGMENT_NAME_RE, "segment")
        size = page_size(request.page_size)
        query = {"m": "ListSegmentMembers", "s": segment_id, "p": principal.subject}
        after = self.ctx.tokens.decode(request.page_token, query=query) or 0
        statement = (
            select(MembershipRow, col(ClientRow.id))
            .join(ClientRow, col(ClientRow.seq) == col(MembershipRow.client_seq))
            .where(
                col(MembershipRow.segment_id) == segment_id, col(MembershipRow.client_seq) > after
            )
        )
        clause = access.visible_clause(principal)
        if clause is not None:
            statement = statement.where(clause)
        async with self.ctx.db.read() as session:
            segment = await session.get(SegmentRow, segment_id)
            if segment is None:
                raise NotFound(f"{request.segment} does not exist", reason="SEGMENT_NOT_FOUND")
            rows = (
                await session.execute(
                    statement.order_by(col(MembershipRow.client_seq)).limit(size + 1)
                )
            ).all()
        response = client_service_pb2.ListSegmentMembersResponse(
            memberships=[membership_message(m, cid, segment.kind) for m, cid in rows[:size]]
        )
        if len(rows) > size:
            response.next_page_token = self.ctx.tokens.encode(
                rows[size - 1][0].client_seq, query=query
            )
        return response

    async def ListClientSegments(  # noqa: N802
        self,
        request: client_service_pb2.ListClientSegmentsRequest,
        context: grpc.aio.ServicerContext,
    ) -> client_service_pb2.ListClientSegmentsResponse:
        """Return the segments the client is in."""
        principal = current_principal()
        size = page_size(request.page_size)
        query = {"m": "ListClientSegments", "c": request.client}
        after = str(self.ctx.tokens.decode(request.page_token, query=query) or "")
        async with self.ctx.db.read() as session:
            client = await load_client(session, request.client, principal, field_name="client")
            rows = (
                await session.execute(
                    select(MembershipRow, col(SegmentRow.kind))
                    .join(SegmentRow, col(SegmentRow.segment_id) == col(MembershipRow.segment_id))
                    .where(
                        col(MembershipRow.client_seq) == client.seq,
                        col(MembershipRow.segment_id) > after,
                    )
                    .order_by(col(MembershipRow.segment_id))
                    .limit(size + 1)
                )
            ).all()
        response = client_service_pb2.ListClientSegmentsResponse(
            memberships=[membership_message(m, client.id, kind) for m, kind in rows[:size]]
        )
        if len(rows) > size:
            response.next_page_token = self.ctx.tokens.encode(
                rows[size - 1][0].segment_id, query=query
            )
        return response

    async def ListSegmentMoves(  # noqa: N802
        self,
        request: client_service_pb2.ListSegmentMovesRequest,
        context: grpc.aio.ServicerContext,
    ) -> client_service_pb2.ListSegmentMovesResponse:
        """Return the client's segment moves, newest first."""
        principal = current_principal()
        size = page_size(request.page_size)
        query = {"m": "ListSegmentMoves", "c": request.client}
        before = self.ctx.tokens.decode(request.page_token, query=query)
        async with self.ctx.db.read() as session:
            client = await load_client(session, request.client, principal, field_name="client")
            statement = select(SegmentMoveRow).where(col(SegmentMoveRow.client_seq) == client.seq)
            if before is not None:
                statement = statement.where(col(SegmentMoveRow.seq) < before)
            rows = list(
                (
                    await session.execute(
                        statement.order_by(col(SegmentMoveRow.seq).desc()).limit(size + 1)
                    )
                ).scalars()
            )
        response = client_service_pb2.ListSegmentMovesResponse(
            moves=[move_message(r, client.id) for r in rows[:size]]
        )
        if len(rows) > size:
            response.next_page_token = self.ctx.tokens.encode(rows[size - 1].seq, query=query)
        return response
