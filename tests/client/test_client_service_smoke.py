"""Smoke: the client service starts, creates and returns a client."""

from __future__ import annotations

from client_harness import client_service, create_request

from crm.client.v1 import client_pb2, client_service_pb2


class TestSmoke:
    async def test_create_then_get(self, store_url, identity):
        """A created client can be read back with its derived size class."""
        async with client_service(store_url, identity) as h:
            created = await h.stub.CreateClient(create_request(), metadata=h.rm())
            assert created.name.startswith("clients/")
            assert created.size_class == client_pb2.SIZE_CLASS_MEDIUM
            got = await h.stub.GetClient(
                client_service_pb2.GetClientRequest(name=created.name), metadata=h.rm()
            )
            assert got == created
