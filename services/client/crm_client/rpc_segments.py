"""Segment definition RPCs: Get, List, Create, Update (versioned, members recomputed)."""

from __future__ import annotations

import grpc
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from crm.client.v1 import client_pb2, client_service_pb2
from crm_client import access
from crm_client.context import ClientContext
from crm_client.mapping import SEGMENT_KIND, segment_message
from crm_client.models import SegmentRow
from crm_client.segmentation.engine import CompiledSegment
from crm_client.segmentation.expr import CompiledExpression, ExpressionError, compile_expression
from crm_client.segmentation.features import KNOWN_FEATURES
from crm_client.store.segments import add_version, member_count, member_counts, segments_of_kind
from crm_client.validation import SEGMENT_ID_RE, Violations
from crm_runtime import idempotency, names
from crm_runtime.auth import current_principal, require_roles
from crm_runtime.errors import Aborted, AlreadyExists, InvalidArgument, NotFound
from crm_runtime.fieldmask import resolve_mask
from crm_runtime.pagination import keyset_page, page_size
from crm_runtime.wire import etag

SEGMENT_NAME = names.pattern_of(client_pb2.Segment)
SEGMENT_MUTABLE = frozenset({"display_name", "display_name_zh", "description", "expression"})


def _compile(expression: str, field: str) -> CompiledExpression:
    try:
        return compile_expression(expression, known_features=KNOWN_FEATURES)
    except ExpressionError as exc:
        raise InvalidArgument.of(field, str(exc), reason="INVALID_SEGMENT_EXPRESSION") from exc


def _compiled(row: SegmentRow) -> CompiledSegment:
    return CompiledSegment(
        row.segment_id, row.version, _compile(row.expression, "segment.expression")
    )


def _not_found(name: str) -> NotFound:
    return NotFound(f"{name} does not exist", reason="SEGMENT_NOT_FOUND")


class SegmentsRpc:
    """Segment definitions."""

    ctx: ClientContext

    async def GetSegment(  # noqa: N802
        self, request: client_service_pb2.GetSegmentRequest, context: grpc.aio.ServicerContext
    ) -> client_pb2.Segment:
        """Return one segment definition."""
        current_principal()
        segment_id = names.parse(request, "name")["segment"]
        async with self.ctx.db.read() as session:
            row = await session.get(SegmentRow, segment_id)
            if row is None:
                raise _not_found(request.name)
            return segment_message(row, member_count=await member_count(session, segment_id))

    async def ListSegments(  # noqa: N802
        self, request: client_service_pb2.ListSegmentsRequest, context: grpc.aio.ServicerContext
    ) -> client_service_pb2.ListSegmentsResponse:
        """Return segment definitions ordered by id, with member counts."""
        current_principal()
        size = page_size(request.page_size)
        if request.kind and request.kind not in SEGMENT_KIND:
            raise InvalidArgument.of("kind", "is not a known segment kind")
        async with self.ctx.db.read() as session:
            page = await keyset_page(
                session,
                segments_of_kind(SEGMENT_KIND.get(request.kind, "")),
                key=col(SegmentRow.segment_id),
                tokens=self.ctx.tokens,
                page_token=request.page_token,
                size=size,
                query={"m": "ListSegments", "k": request.kind},
            )
            counts = await member_counts(session)
        return client_service_pb2.ListSegmentsResponse(
            segments=[
                segment_message(r, member_count=counts.get(r.segment_id, 0)) for r in page.rows
            ],
            next_page_token=page.next_page_token,
        )

    async def CreateSegment(  # noqa: N802
        self, request: client_service_pb2.CreateSegmentRequest, context: grpc.aio.ServicerContext
    ) -> client_pb2.Segment:
        """Create a definition and compute its members."""
        principal = require_roles(*access.SEGMENT_ADMIN_ROLES)
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

        async def create(session: AsyncSession) -> client_pb2.Segment:
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
            add_version(session, row, changed_by=principal.subject, now=now)
            await session.flush()
            await self.ctx.resegment_everyone(
                session, _compiled(row), cause="segment_created", actor=principal.subject
            )
            return segment_message(row, member_count=await member_count(session, row.segment_id))

        return await idempotency.mutation(
            self.ctx.db,
            request,
            method="crm.client.v1.ClientService/CreateSegment",
            subject=principal.subject,
            response_type=client_pb2.Segment,
            work=create,
        )

    async def UpdateSegment(  # noqa: N802
        self, request: client_service_pb2.UpdateSegmentRequest, context: grpc.aio.ServicerContext
    ) -> client_pb2.Segment:
        """Change a definition; a new expression is a new version and members are recomputed."""
        principal = require_roles(*access.SEGMENT_ADMIN_ROLES)
        segment_id = SEGMENT_NAME.parse(request.segment.name, "segment.name")["segment"]
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

        async def update(session: AsyncSession) -> client_pb2.Segment:
            row = await session.get(SegmentRow, segment_id)
            if row is None:
                raise _not_found(request.segment.name)
            if request.segment.etag and request.segment.etag != etag(row.segment_id, row.version):
                raise Aborted("the segment changed since it was read", reason="ETAG_MISMATCH")
            new_expression = "expression" in paths and request.segment.expression != row.expression
            for path in paths:
                setattr(row, path, getattr(request.segment, path))
            row.update_time = now
            if new_expression:
                row.version += 1
                add_version(session, row, changed_by=principal.subject, now=now)
            session.add(row)
            await session.flush()
            if new_expression:
                await self.ctx.resegment_everyone(
                    session, _compiled(row), cause="segment_changed", actor=principal.subject
                )
            return segment_message(row, member_count=await member_count(session, segment_id))

        return await idempotency.mutation(
            self.ctx.db,
            request,
            method="crm.client.v1.ClientService/UpdateSegment",
            subject=principal.subject,
            response_type=client_pb2.Segment,
            work=update,
        )
