"""A notify process holds far more push streams than unary slots (issue 11, defect 7).

gRPC's single `maximum_concurrent_rpcs` (256) counted streams and unary calls together: the
257th push stream waited with no heartbeat and no error, and open streams starved unary calls.
Streams now have their own process limit (crm_runtime.admission, MAX_CONCURRENT_STREAMS).
The 10,000-stream figure belongs to the `load` suite; this is its fast representative.
"""

from __future__ import annotations

import asyncio

from notify_harness import notify_service

from crm.notify.v1 import message_pb2, notify_service_pb2

STREAMS = 300  # Above the 256 unary slots.


async def test_more_push_streams_than_unary_slots_all_get_heartbeats(sqlite_url, identity):
    async with notify_service(sqlite_url, identity, stream_heartbeat_seconds=0.5) as h:
        calls = [
            h.stub.StreamMessages(
                notify_service_pb2.StreamMessagesRequest(
                    cursors=[message_pb2.PushCursor(recipient=f"staff/app-user-{i}")]
                ),
                metadata=h.system(),
            )
            for i in range(STREAMS)
        ]
        try:
            async with asyncio.timeout(20):
                firsts = await asyncio.gather(*(call.read() for call in calls))
            assert all(page.bookmarks for page in firsts)  # Each got its heartbeat bookmark.
            await h.template("rate-notice")  # A unary call while every stream is open.
            async with asyncio.timeout(10):
                seconds = await asyncio.gather(*(call.read() for call in calls))
            assert len(seconds) == STREAMS
        finally:
            for call in calls:
                call.cancel()
