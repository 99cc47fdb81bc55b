"""An event subscriber that records every event it receives on the wire, before any inbox.

Counting here, not in an inbox, is what shows whether a relay sent an event once or twice.
Run as a script (`python wire_sink.py PORT`) it is a real process a test can SIGSTOP.
"""

from __future__ import annotations

import asyncio
import sys
from collections import Counter
from dataclasses import dataclass, field

import grpc

from crm.events.v1 import event_pb2, event_pb2_grpc


@dataclass
class WireSink(event_pb2_grpc.EventSinkServiceServicer):
    """Answers every DeliverEvents call and keeps the event ids in arrival order."""

    received: list[str] = field(default_factory=list)
    calls: int = 0
    arrived: asyncio.Event = field(default_factory=asyncio.Event)

    async def DeliverEvents(  # noqa: N802
        self, request: event_pb2.DeliverEventsRequest, context: grpc.aio.ServicerContext
    ) -> event_pb2.DeliverEventsResponse:
        """Record the batch and confirm it."""
        ids = [envelope.event_id for envelope in request.events]
        self.calls += 1
        self.received.extend(ids)
        self.arrived.set()
        return event_pb2.DeliverEventsResponse(applied_event_ids=ids)

    def counts(self) -> Counter[str]:
        """Return how many times each event id arrived."""
        return Counter(self.received)

    async def wait_for(self, wanted: set[str], timeout: float) -> None:
        """Wait until every id in `wanted` has arrived (TimeoutError after `timeout`)."""
        async with asyncio.timeout(timeout):
            while not wanted <= set(self.received):
                self.arrived.clear()
                await self.arrived.wait()


async def start_sink(port: int = 0) -> tuple[grpc.aio.Server, WireSink, int]:
    """Start a sink on 127.0.0.1; return the server, the sink and its port."""
    server = grpc.aio.server()
    sink = WireSink()
    event_pb2_grpc.add_EventSinkServiceServicer_to_server(sink, server)
    bound = server.add_insecure_port(f"127.0.0.1:{port}")
    await server.start()
    return server, sink, bound


async def _serve(port: int) -> None:
    server, _, bound = await start_sink(port)
    print(f"ready {bound}", flush=True)
    await server.wait_for_termination()


if __name__ == "__main__":
    asyncio.run(_serve(int(sys.argv[1])))
