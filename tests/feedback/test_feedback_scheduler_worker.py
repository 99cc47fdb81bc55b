"""The scheduler as the kit's worker: on only with an interval, passes until the stop hook."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

import pytest

from crm_feedback import app
from crm_feedback import scheduler as scheduler_module
from crm_feedback.scheduler import PassResult, scheduler


@pytest.mark.parametrize(("interval", "workers"), [(0, 0), (30.0, 1)])
def test_scheduler_is_a_worker_only_with_an_interval(interval, workers):
    parts = SimpleNamespace(settings=SimpleNamespace(scheduler_interval_seconds=interval))
    assert len(app.SPEC.workers(SimpleNamespace(), parts)) == workers


async def test_passes_repeat_survive_a_failure_and_end_at_the_stop_hook(monkeypatch):
    ctx = SimpleNamespace(stopping=asyncio.Event())
    passes = 0

    async def one_pass(_ctx: object) -> PassResult:
        nonlocal passes
        passes += 1
        if passes == 1:
            raise RuntimeError("store unavailable")  # A bad pass must not end the loop.
        return PassResult(sent=0, expired=0, flagged=0)

    monkeypatch.setattr(scheduler_module, "run_once", one_pass)
    task = asyncio.create_task(scheduler(ctx, 0.01)())
    for _ in range(200):
        if passes >= 3:
            break
        await asyncio.sleep(0.01)
    for hook in app.SPEC.on_stop(ctx):
        await hook()
    await asyncio.wait_for(task, timeout=1)
    assert passes >= 3
    assert task.done() and task.exception() is None
