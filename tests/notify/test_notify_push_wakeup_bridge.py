"""The push wake-up bridge on its own: two hubs joined through a real nats-server, and a hub
whose broker is unreachable (issue 18)."""

from __future__ import annotations

import asyncio

from own_nats import own_nats_server

from crm_notify.hub import PushHub
from crm_notify.push_wakeups import PushWakeupBridge
from crm_runtime.testing import free_port


async def _until(condition, timeout: float = 20.0) -> None:
    async with asyncio.timeout(timeout):
        while not condition():  # noqa: ASYNC110 - the bridges expose plain flags and counters
            await asyncio.sleep(0.02)


class TestBridge:
    async def test_news_on_one_hub_marks_the_other_hubs_streams(self, tmp_path):
        """A's notify wakes its own stream locally and B's stream through NATS; B does not
        echo it back, and A ignores its own announcement."""
        async with own_nats_server(tmp_path) as url:
            hubs = [PushHub(), PushHub()]
            bridges = [PushWakeupBridge(h, url, name=f"test-{i}") for i, h in enumerate(hubs)]
            for hub, bridge in zip(hubs, bridges, strict=True):
                hub.forward = bridge.announce
            tasks = [asyncio.create_task(b.run()) for b in bridges]
            try:
                await _until(lambda: all(b._connected for b in bridges))
                waiter_a = hubs[0].subscribe(["staff/rm-1"], dirty=())
                waiter_b = hubs[1].subscribe(["staff/rm-1", "staff/rm-2"], dirty=())
                hubs[0].notify(["staff/rm-1"])
                assert waiter_a.take_dirty() == ["staff/rm-1"]  # at once, locally
                async with asyncio.timeout(20):
                    await waiter_b.event.wait()
                assert waiter_b.take_dirty() == ["staff/rm-1"]
                await asyncio.sleep(0.3)  # An echo, if there were one, would arrive by now.
                assert bridges[0].applied == 0
                assert bridges[1].applied == 1
                assert bridges[0].published == 1 and bridges[1].published == 0
                assert not waiter_a.dirty
            finally:
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)

    async def test_an_unreachable_broker_leaves_the_local_wake_up_working(self):
        """No broker: the bridge keeps retrying in the background, announcements are dropped
        (the heartbeat covers other replicas) and local streams are woken as before."""
        hub = PushHub()
        bridge = PushWakeupBridge(hub, f"nats://127.0.0.1:{free_port()}", name="test-alone")
        hub.forward = bridge.announce
        task = asyncio.create_task(bridge.run())
        try:
            waiter = hub.subscribe(["staff/rm-1"], dirty=())
            await asyncio.sleep(0.5)  # A failed connection attempt or two.
            hub.notify(["staff/rm-1"])
            assert waiter.take_dirty() == ["staff/rm-1"]
            assert not task.done(), "the bridge gave up instead of retrying"
            assert bridge.published == 0
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
