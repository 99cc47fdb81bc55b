"""Creating a client never tells a caller that a company it may not see banks here (issue 11,
defect 9)."""

from __future__ import annotations

import grpc
import pytest
from client_harness import client_service, create_request
from contract_support import details


async def _create_error(h, metadata) -> grpc.aio.AioRpcError:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await h.stub.CreateClient(create_request(), metadata=metadata)
    return caught.value


class TestDuplicateCreditCode:
    async def test_unseen_duplicate_answers_like_a_forbidden_create(self, store_url, identity):
        """Another RM's client: the same PERMISSION_DENIED as creating for someone else."""
        async with client_service(store_url, identity) as h:
            await h.stub.CreateClient(create_request(), metadata=h.rm("staff/rm-a"))
            duplicate = await _create_error(h, h.rm("staff/rm-b"))
            forbidden = create_request(relationship_manager="staff/rm-a")
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await h.stub.CreateClient(forbidden, metadata=h.rm("staff/rm-b"))
            assert duplicate.code() == caught.value.code() == grpc.StatusCode.PERMISSION_DENIED
            assert details(duplicate)[0] == details(caught.value)[0]
            assert duplicate.details() == caught.value.details()

    async def test_visible_duplicate_is_still_already_exists(self, store_url, identity):
        """The caller's own client (or one it may see): ALREADY_EXISTS tells it nothing new."""
        async with client_service(store_url, identity) as h:
            await h.stub.CreateClient(create_request(), metadata=h.rm("staff/rm-a"))
            error = await _create_error(h, h.rm("staff/rm-a"))
            assert error.code() == grpc.StatusCode.ALREADY_EXISTS
