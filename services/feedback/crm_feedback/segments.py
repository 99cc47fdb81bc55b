"""Segment members from the client service (ListSegmentMembers), called as a system."""

from __future__ import annotations

import grpc

from crm.client.v1 import client_service_pb2, client_service_pb2_grpc
from crm_feedback.context import FeedbackContext
from crm_runtime.auth import IDENTITY_METADATA_KEY, Role
from crm_runtime.channels import open_channel
from crm_runtime.errors import FailedPrecondition, NotFound, Unavailable

MEMBER_PAGE_SIZE = 500
MAX_MEMBERS = 100_000


async def segment_members(ctx: FeedbackContext, segment: str) -> list[str]:
    """Return the client names in a segment, every page of them."""
    if not ctx.client_addr:
        raise FailedPrecondition(
            "segment sends need CLIENT_ADDR to be configured", reason="CLIENT_SERVICE_UNCONFIGURED"
        )
    metadata: tuple[tuple[str, str], ...] = ()
    if ctx.signer is not None:
        token = ctx.signer.mint("systems/feedback", [Role.SYSTEM])
        metadata = ((IDENTITY_METADATA_KEY, token),)
    members: list[str] = []
    channel = open_channel(ctx.client_addr)
    try:
        stub = client_service_pb2_grpc.ClientServiceStub(channel)
        page_token = ""
        while True:
            try:
                reply = await stub.ListSegmentMembers(
                    client_service_pb2.ListSegmentMembersRequest(
                        segment=segment, page_size=MEMBER_PAGE_SIZE, page_token=page_token
                    ),
                    metadata=metadata,
                )
            except grpc.aio.AioRpcError as exc:
                if exc.code() == grpc.StatusCode.NOT_FOUND:
                    raise NotFound(f"{segment} does not exist", reason="SEGMENT_NOT_FOUND") from exc
                if exc.code() == grpc.StatusCode.INVALID_ARGUMENT:
                    raise FailedPrecondition(
                        f"the client service rejected {segment}", reason="SEGMENT_REJECTED"
                    ) from exc
                raise Unavailable(
                    f"client service failed: {exc.code().name}", reason="CLIENT_SERVICE_FAILED"
                ) from exc
            members.extend(m.client for m in reply.memberships)
            if len(members) > MAX_MEMBERS:
                raise FailedPrecondition(
                    f"the segment has more than {MAX_MEMBERS} members", reason="SEGMENT_TOO_LARGE"
                )
            page_token = reply.next_page_token
            if not page_token:
                return members
    finally:
        await channel.close()
